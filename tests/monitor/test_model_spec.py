"""spec.model: prediction and target columns parsed, checked and carried to the analysis."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from driftwarden.analysis.model_settings import ModelColumn, ModelSettings, model_setting
from driftwarden.analysis.settings import DetectionSettings, MethodSetting, parse_run_config
from driftwarden.errors import ConfigError
from driftwarden.monitor.spec import parse_monitor, validate_manifest

from .helpers import BASE


def with_model(model: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(BASE)
    manifest["spec"]["model"] = model
    return manifest


def test_a_monitor_without_a_model_block_has_no_model_settings():
    assert parse_monitor(copy.deepcopy(BASE)).run.settings.model is None


def test_predictions_and_target_are_parsed_with_their_own_settings():
    monitor = parse_monitor(
        with_model(
            {
                "predictions": [
                    {"column": "churn_score", "kind": "score", "method": "psi", "threshold": 0.1},
                    {"column": "churn_label", "kind": "label"},
                ],
                "target": {"column": "churned", "kind": "label"},
            }
        )
    )
    model = monitor.run.settings.model
    assert model == ModelSettings(
        predictions=(
            ModelColumn("churn_score", "score", MethodSetting("psi", 0.1)),
            ModelColumn("churn_label", "label"),
        ),
        target=ModelColumn("churned", "label"),
        retrain_on_prediction_drift=True,
    )
    assert [c.profile_kind for c in model.model_columns] == [
        "numerical",
        "categorical",
        "categorical",
    ]
    # The analysis Job parses the very same settings from the spec it is given.
    assert parse_run_config(monitor.spec).settings.model == model


def test_a_column_without_a_method_takes_the_detection_method_at_its_default_threshold():
    detection = DetectionSettings(numerical=MethodSetting("psi", 0.5))
    defaults = {"numerical": detection.numerical, "categorical": detection.categorical}
    assert model_setting(ModelColumn("s", "score"), defaults) == MethodSetting("psi", 0.2)
    assert model_setting(ModelColumn("l", "label"), defaults) == MethodSetting("jensenshannon", 0.1)


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ({"predictions": [{"column": "p"}]}, "spec.model.predictions[0].kind"),
        ({"predictions": [{"column": "p", "kind": "proba"}]}, "spec.model.predictions[0].kind"),
        (
            {"predictions": [{"column": "p", "kind": "label", "method": "ks"}]},
            "spec.model.predictions[0].method",
        ),
        (
            {"predictions": [{"column": "p", "kind": "score", "method": "chisquare"}]},
            "spec.model.predictions[0].method",
        ),
        (
            {"predictions": [{"column": "p", "kind": "score", "threshold": 0.1}]},
            "spec.model.predictions[0].threshold: a threshold needs its method",
        ),
        (
            {"predictions": [{"column": "p", "kind": "score", "method": "ks", "threshold": 2}]},
            "spec.model.predictions[0].threshold",
        ),
        (
            {"predictions": [{"column": "p", "kind": "score"}, {"column": "p", "kind": "value"}]},
            "spec.model.predictions[1].column: 'p' is listed twice",
        ),
        (
            {"predictions": [{"column": "p\x1b[31m", "kind": "score"}]},
            "spec.model.predictions[0].column",
        ),
        ({"predictions": [{"column": "x", "kind": "score"}] * 17}, "more than 16"),
        ({"target": {"column": "y", "kind": "score"}}, "spec.model.target.kind"),
        (
            {
                "predictions": [{"column": "y", "kind": "label"}],
                "target": {"column": "y", "kind": "label"},
            },
            "spec.model.target.column: 'y' is also a prediction column",
        ),
        ({"retrainOnPredictionDrift": "yes"}, "spec.model.retrainOnPredictionDrift"),
        ({"predictionz": []}, "spec.model: unknown field(s) predictionz"),
        ("all", "spec.model: expected a mapping"),
    ],
)
def test_bad_model_blocks_name_the_field(model, words):
    problems = validate_manifest(with_model(model))
    assert len(problems) == 1, problems
    assert words in problems[0]
    with pytest.raises(ConfigError):
        parse_run_config(with_model(model)["spec"])


def test_retraining_on_prediction_drift_can_be_switched_off():
    monitor = parse_monitor(
        with_model(
            {"predictions": [{"column": "p", "kind": "value"}], "retrainOnPredictionDrift": False}
        )
    )
    assert monitor.run.settings.model is not None
    assert monitor.run.settings.model.retrain_on_prediction_drift is False
