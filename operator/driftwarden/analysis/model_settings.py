"""``spec.model``: the model's view of a monitor, parsed into plain, frozen values.

Pure, like :mod:`driftwarden.analysis.settings` (the operator validates specs with
it and must not load the data stack). Each sub-key has its own parser here, so the
parts of issue 10 grow side by side:

* ``predictions``, ``target``, ``retrainOnPredictionDrift`` — prediction and target
  drift (analysis/model_predictions.py).
* ``idColumn``, ``labels``, ``performance`` — performance with delayed labels
  (analysis/performance_settings.py, analysis/model_performance.py).

The block is optional: a monitor without ``spec.model`` is a plain feature-drift
monitor and its reports carry no model sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftwarden.analysis.performance_settings import PerformanceSettings, parse_performance
from driftwarden.analysis.settings import (
    CATEGORICAL_METHODS,
    DEFAULT_THRESHOLDS,
    NUMERICAL_METHODS,
    MethodSetting,
    as_mapping,
    bounded_text,
    check_keys,
    method_setting,
)
from driftwarden.errors import ConfigError

MAX_COLUMN_NAME_LENGTH = 128
# One column per class probability covers multi-class models of up to 16 classes;
# the CRD holds the same number (tests/monitor/test_crd_bounds.py).
MAX_PREDICTIONS = 16
# What a prediction or target column holds, and so how it is profiled and compared.
LABEL, SCORE, VALUE = "label", "score", "value"
PREDICTION_KINDS = (LABEL, SCORE, VALUE)
TARGET_KINDS = (LABEL, VALUE)
# Every key of spec.model, one line per part so the parts merge without conflict.
MODEL_KEYS = {
    "predictions",  # prediction drift
    "target",  # target drift
    "retrainOnPredictionDrift",  # prediction drift
    "idColumn",  # performance (delayed labels)
    "labels",  # performance
    "performance",  # performance
}


@dataclass(frozen=True)
class ModelColumn:
    """A prediction or target column: its name, what it holds, and its own method and threshold.

    ``kind`` is ``label`` (a class: compared as a categorical column, also when it is
    integer-coded), ``score`` (a probability or score) or ``value`` (a regression
    output); the last two are compared as numbers. Without a ``setting`` the column
    takes spec.detection's method for its kind with that method's default threshold.
    """

    column: str
    kind: str
    setting: MethodSetting | None = None

    @property
    def profile_kind(self) -> str:
        """``categorical`` or ``numerical``: how the engine profiles the column."""
        return "categorical" if self.kind == LABEL else "numerical"


@dataclass(frozen=True)
class ModelSettings:
    """``spec.model``: prediction and target columns and what their drift does."""

    predictions: tuple[ModelColumn, ...] = ()
    target: ModelColumn | None = None
    # Whether prediction or target drift alone may start retraining (spec.retraining).
    retrain_on_prediction_drift: bool = True
    # idColumn, labels, performance (analysis/performance_settings.py); None without them.
    performance: PerformanceSettings | None = None

    @property
    def model_columns(self) -> tuple[ModelColumn, ...]:
        """The prediction columns, then the target: compared apart from the features."""
        return self.predictions + ((self.target,) if self.target is not None else ())


def _column_name(value: Any, where: str) -> str:
    return bounded_text(value, where, MAX_COLUMN_NAME_LENGTH, "a column name")


def parse_model_column(value: Any, where: str, kinds: tuple[str, ...]) -> ModelColumn:
    """One ``{column, kind, method, threshold}`` entry; the method must suit the kind."""
    item = as_mapping(value, where)
    check_keys(item, {"column", "kind", "method", "threshold"}, where)
    column = _column_name(item.get("column"), f"{where}.column")
    kind = item.get("kind")
    if kind not in kinds:
        raise ConfigError(
            f"{where}.kind: expected one of {', '.join(kinds)}, got {kind!r}",
            hint="label: a class (compared by category); score: a probability; value: a regression output",
        )
    profile_kind = "categorical" if kind == LABEL else "numerical"
    method, threshold = item.get("method"), item.get("threshold")
    if method is None and threshold is not None:
        raise ConfigError(
            f"{where}.threshold: a threshold needs its method",
            hint=f"add method (for a {kind}: one of "
            f"{', '.join(CATEGORICAL_METHODS if kind == LABEL else NUMERICAL_METHODS)})",
        )
    setting = (
        None
        if method is None
        else method_setting(method, threshold, kind=profile_kind, where=where)
    )
    return ModelColumn(column=column, kind=kind, setting=setting)


def parse_predictions(value: Any, where: str) -> tuple[ModelColumn, ...]:
    """``spec.model.predictions``: at most MAX_PREDICTIONS distinct columns."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(
            f"{where}: expected a list of {{column, kind}} entries, got {value!r}",
            hint="e.g. predictions: [{column: churn_score, kind: score}]",
        )
    if len(value) > MAX_PREDICTIONS:
        raise ConfigError(
            f"{where}: {len(value)} prediction columns is more than {MAX_PREDICTIONS}",
            hint="list the columns the model's decision rests on (the label, the top scores)",
        )
    columns = tuple(
        parse_model_column(item, f"{where}[{i}]", PREDICTION_KINDS) for i, item in enumerate(value)
    )
    seen: set[str] = set()
    for i, column in enumerate(columns):
        if column.column in seen:
            raise ConfigError(f"{where}[{i}].column: {column.column!r} is listed twice")
        seen.add(column.column)
    return columns


def parse_retrain_flag(value: Any, where: str) -> bool:
    """``spec.model.retrainOnPredictionDrift`` (default true)."""
    if value is None:
        return True
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def parse_model(spec: Any, where: str = "spec.model") -> ModelSettings | None:
    """Parse ``spec.model``; None when the monitor has no model block."""
    if spec is None:
        return None
    section = as_mapping(spec, where)
    check_keys(section, MODEL_KEYS, where)
    predictions = parse_predictions(section.get("predictions"), f"{where}.predictions")
    target = (
        None
        if section.get("target") is None
        else parse_model_column(section["target"], f"{where}.target", TARGET_KINDS)
    )
    if target is not None and target.column in {p.column for p in predictions}:
        raise ConfigError(
            f"{where}.target.column: {target.column!r} is also a prediction column",
            hint="the target is the true outcome; name the column that holds it",
        )
    return ModelSettings(
        predictions=predictions,
        target=target,
        retrain_on_prediction_drift=parse_retrain_flag(
            section.get("retrainOnPredictionDrift"), f"{where}.retrainOnPredictionDrift"
        ),
        performance=parse_performance(section, predictions, where),
    )


def model_setting(
    column: ModelColumn, detection_default: Mapping[str, MethodSetting]
) -> MethodSetting:
    """The method and threshold a model column is compared with.

    Its own when given; else spec.detection's method for its kind, at that method's
    default threshold (a feature threshold tuned for noisy features is not the
    model's).
    """
    if column.setting is not None:
        return column.setting
    method = detection_default[column.profile_kind].method
    return MethodSetting(method, DEFAULT_THRESHOLDS[method])
