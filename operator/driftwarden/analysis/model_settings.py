"""``spec.model``: the model's view of a monitor, parsed into plain, frozen values.

Pure, like :mod:`driftwarden.analysis.settings` (the operator validates specs with
it and must not load the data stack). Each sub-key has its own parser here, so the
parts of issue 10 grow side by side:

* ``predictions``, ``target``, ``retrainOnPredictionDrift`` — prediction and target
  drift (analysis/model_predictions.py).
* ``idColumn``, ``labels``, ``performance`` — performance with delayed labels
  (analysis/performance_settings.py, analysis/model_performance.py).
* ``multivariate`` — joint drift of whole rows (analysis/model_multivariate.py).

The block is optional: a monitor without ``spec.model`` is a plain feature-drift
monitor and its reports carry no model sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftwarden.analysis.importance_settings import ImportanceSettings, parse_importance
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
    "importance",  # root cause
    "multivariate",  # multivariate drift
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


# spec.model.multivariate: the CRD holds the same bounds (tests/monitor/test_crd_bounds.py).
MAX_MULTIVARIATE_FEATURES = 32
MULTIVARIATE_ROWS = (100, 65536)
DEFAULT_MULTIVARIATE_ROWS = 4096
DEFAULT_MULTIVARIATE_THRESHOLD = 0.01
DEFAULT_MULTIVARIATE_VARIANCE = 0.9


@dataclass(frozen=True)
class MultivariateSettings:
    """``spec.model.multivariate``: the PCA reconstruction-error detector (docs/statistics.md).

    ``features`` empty: the run's numerical features, the first 32 in plan order.
    ``threshold`` is a p-value level; ``variance`` the share the components explain.
    """

    enabled: bool = True
    features: tuple[str, ...] = ()
    sample_rows: int = DEFAULT_MULTIVARIATE_ROWS
    threshold: float = DEFAULT_MULTIVARIATE_THRESHOLD
    variance: float = DEFAULT_MULTIVARIATE_VARIANCE


@dataclass(frozen=True)
class ModelSettings:
    """``spec.model``: prediction and target columns and what their drift does."""

    predictions: tuple[ModelColumn, ...] = ()
    target: ModelColumn | None = None
    # Whether prediction or target drift alone may start retraining (spec.retraining).
    retrain_on_prediction_drift: bool = True
    # idColumn, labels, performance (analysis/performance_settings.py); None without them.
    performance: PerformanceSettings | None = None
    # Root cause: how features are weighed (analysis/importance_settings.py).
    importance: ImportanceSettings = field(default_factory=ImportanceSettings)
    # spec.model.multivariate; None when absent or disabled.
    multivariate: MultivariateSettings | None = None

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


def _unit_number(value: Any, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"{where}: expected {what} in (0, 1], got {value!r}")
    return float(value)


def parse_multivariate(value: Any, where: str) -> MultivariateSettings | None:
    """``spec.model.multivariate``; None when absent or ``enabled: false``."""
    if value is None:
        return None
    section = as_mapping(value, where)
    check_keys(section, {"enabled", "features", "sampleRows", "threshold", "variance"}, where)
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.enabled: expected true or false, got {enabled!r}")
    raw = section.get("features")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}.features: expected a list of column names, got {raw!r}")
    if len(raw) > MAX_MULTIVARIATE_FEATURES or len(raw) == 1:
        raise ConfigError(
            f"{where}.features: {len(raw)} columns; the detector takes 2 to "
            f"{MAX_MULTIVARIATE_FEATURES} numerical features",
            hint="name the features whose joint behaviour matters, or leave the list out "
            f"for the first {MAX_MULTIVARIATE_FEATURES} numerical features",
        )
    features = tuple(_column_name(v, f"{where}.features[{i}]") for i, v in enumerate(raw))
    for i, name in enumerate(features):
        if name in features[:i]:
            raise ConfigError(f"{where}.features[{i}]: {name!r} is listed twice")
    settings = MultivariateSettings(enabled=enabled, features=features)
    rows = section.get("sampleRows", settings.sample_rows)
    low, high = MULTIVARIATE_ROWS
    if isinstance(rows, bool) or not isinstance(rows, int) or not low <= rows <= high:
        raise ConfigError(
            f"{where}.sampleRows: expected an integer in [{low}, {high}], got {rows!r}",
            hint="more rows see smaller joint changes; 4096 is the default",
        )
    threshold = _unit_number(
        section.get("threshold", settings.threshold), f"{where}.threshold", "a p-value level"
    )
    variance = _unit_number(
        section.get("variance", settings.variance), f"{where}.variance", "a share of variance"
    )
    if not enabled:
        return None
    return MultivariateSettings(True, features, rows, threshold, variance)


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
        importance=parse_importance(section.get("importance"), f"{where}.importance"),
        multivariate=parse_multivariate(section.get("multivariate"), f"{where}.multivariate"),
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
