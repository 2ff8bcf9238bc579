"""spec.model.multivariate: defaults, and every bad value a ConfigError naming its field."""

import pytest

from driftwarden.analysis.model_settings import MultivariateSettings, parse_model
from driftwarden.errors import ConfigError


def test_an_empty_block_takes_the_defaults_and_disabled_is_none():
    model = parse_model({"multivariate": {}})
    assert model is not None and model.multivariate == MultivariateSettings()
    assert parse_model({"multivariate": {"enabled": False}}).multivariate is None  # type: ignore[union-attr]
    assert parse_model({}).multivariate is None  # type: ignore[union-attr]
    full = parse_model(
        {
            "multivariate": {
                "features": ["a", "b"],
                "sampleRows": 100,
                "threshold": 1,
                "variance": 0.5,
            }
        }
    )
    assert full.multivariate == MultivariateSettings(True, ("a", "b"), 100, 1.0, 0.5)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"features": ["a"]}, "features"),
        ({"features": [f"c{i}" for i in range(33)]}, "features"),
        ({"features": ["a", "a"]}, "features[1]"),
        ({"features": "a,b"}, "features"),
        ({"features": ["a", "b\x1b"]}, "features[1]"),
        ({"sampleRows": 99}, "sampleRows"),
        ({"sampleRows": 65537}, "sampleRows"),
        ({"sampleRows": True}, "sampleRows"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"variance": "0.9"}, "variance"),
        ({"enabled": "yes"}, "enabled"),
        ({"other": 1}, ""),
    ],
)
def test_bad_values_name_their_field(block, field):
    with pytest.raises(
        ConfigError,
        match=rf"spec\.model\.multivariate\.?{field.replace('[', '.').replace(']', '.')}",
    ):
        parse_model({"multivariate": block})
