"""spec.model.importance: parsed with defaults, bad values refused with the field's path."""

import pytest

from driftwarden.analysis.importance_settings import (
    DEFAULT_SAMPLE_ROWS,
    MAX_WEIGHTS,
    ImportanceSettings,
    parse_importance,
)
from driftwarden.analysis.model_settings import parse_model
from driftwarden.errors import ConfigError


def test_absent_means_estimate_with_defaults():
    settings = parse_model({"predictions": [{"column": "score", "kind": "score"}]})
    assert settings is not None
    assert settings.importance == ImportanceSettings()
    assert not settings.importance.given
    assert settings.importance.sample_rows == DEFAULT_SAMPLE_ROWS


def test_given_weights_and_sample_rows():
    parsed = parse_importance(
        {"weights": [{"feature": "a", "weight": 2}, {"feature": "b", "weight": 0.5}]}
    )
    assert parsed.given and parsed.weights == (("a", 2.0), ("b", 0.5))
    assert parse_importance({"sampleRows": 500}) == ImportanceSettings((), 500)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"weights": []}, "spec.model.importance.weights"),
        ({"weights": [{"feature": "a", "weight": -1}]}, "spec.model.importance.weights[0].weight"),
        (
            {"weights": [{"feature": "a", "weight": True}]},
            "spec.model.importance.weights[0].weight",
        ),
        ({"weights": [{"feature": "a", "weight": 0}]}, "spec.model.importance.weights"),
        (
            {"weights": [{"feature": "a", "weight": 1}, {"feature": "a", "weight": 2}]},
            "spec.model.importance.weights[1].feature",
        ),
        ({"weights": [{"feature": "a"}] * (MAX_WEIGHTS + 1)}, "spec.model.importance.weights"),
        ({"weights": [{"feature": "", "weight": 1}]}, "spec.model.importance.weights[0].feature"),
        (
            {"weights": [{"feature": "f" * 41, "weight": 1}]},
            "spec.model.importance.weights[0].feature",
        ),
        ({"sampleRows": 10}, "spec.model.importance.sampleRows"),
        ({"method": "shap"}, "spec.model.importance"),
        ({"against": "score"}, "spec.model.importance"),
    ],
)
def test_bad_values_name_the_field(value, where):
    with pytest.raises(ConfigError) as error:
        parse_model({"importance": value})
    assert str(error.value).startswith(where + ":") or where + ":" in str(error.value)
