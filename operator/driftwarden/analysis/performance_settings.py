"""``spec.model.idColumn``, ``labels`` and ``performance``: performance with delayed labels.

Pure (standard library and the pure parsers only), like the rest of the spec: the
operator validates with it. The analysis side is analysis/model_performance.py.
The prediction and score columns are spec.model.predictions' first ``label`` or
``value`` entry and first ``score`` entry: the model is declared once. Segments
are the run's categorical features (analysis/model_performance.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from driftwarden.analysis.settings import (
    _number,
    as_mapping,
    bounded_text,
    check_keys,
    parse_path,
    parse_source,
)
from driftwarden.durations import parse_duration
from driftwarden.errors import ConfigError

if TYPE_CHECKING:
    from driftwarden.analysis.model_settings import ModelColumn

CLASSIFICATION, REGRESSION = "classification", "regression"
TASKS = (CLASSIFICATION, REGRESSION)
METRICS = {
    CLASSIFICATION: ("accuracy", "precision", "recall", "f1", "rocAuc", "logLoss", "ece"),
    REGRESSION: ("mae", "rmse", "mape", "r2"),
}
# Scores needed by these (the positive class's probability).
SCORE_METRICS = ("rocAuc", "logLoss", "ece")
# Without spec.model.performance.degradation: the headline metric of each task may drop
# this much (absolute) before the monitor degrades, if the drop is also significant.
DEFAULT_DEGRADATION = {CLASSIFICATION: (("accuracy", 0.05),), REGRESSION: (("r2", 0.1),)}
MAX_COLUMN = 128  # the CRD holds the same bounds
MAX_CLASS_LENGTH = 64
# The label log's location: shorter than a data path's 1,024, for the spec's size budget.
MAX_LABELS_PATH_LENGTH = 512
LABEL_KEYS = {
    "path",
    "format",
    "partitioning",
    "idColumn",
    "labelColumn",
    "timestampColumn",
    "joinWindow",
}
PERFORMANCE_KEYS = {
    "positiveClass",
    "degradation",
    "significance",
    "minLabeledRows",
    "retrainOnDegradation",
}


@dataclass(frozen=True)
class LabelSource:
    """Where the delayed labels are and how a label meets its prediction."""

    path: str
    label_column: str
    id_column: str
    format: str = "parquet"
    partitioning: str | None = "hive"
    timestamp_column: str | None = None
    join_window: timedelta | None = None


@dataclass(frozen=True)
class PerformanceSettings:
    """How a run measures the model's performance against the reference period."""

    id_column: str
    labels: LabelSource
    task: str
    prediction_column: str
    score_column: str | None = None
    positive_class: str | None = None
    degradation: tuple[tuple[str, float], ...] = ()
    significance: float = 0.05
    min_labeled_rows: int = 100
    # spec.model.performance.retrainOnDegradation: a (debounced) degradation alone
    # starts spec.retraining, as retrainOnPredictionDrift does for the model's outputs.
    retrain_on_degradation: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns of the prediction log this part reads (never features)."""
        score = (self.score_column,) if self.score_column else ()
        return (self.id_column, self.prediction_column, *score)


def _column(value: Any, where: str) -> str:
    return bounded_text(value, where, MAX_COLUMN, "a column name")


def parse_labels(spec: Any, id_column: str, where: str) -> LabelSource:
    """``spec.model.labels``: the delayed label log."""
    section = as_mapping(spec, where)
    check_keys(section, LABEL_KEYS, where)
    # Where the log is and how it is read: exactly as spec.current.
    parse_path(section.get("path"), f"{where}.path", MAX_LABELS_PATH_LENGTH)
    source = parse_source(
        {key: section[key] for key in ("path", "format", "partitioning") if key in section}, where
    )
    timestamp = section.get("timestampColumn")
    window = section.get("joinWindow")
    if (timestamp is None) != (window is None):
        given, missing = ("timestampColumn", "joinWindow")[:: 1 if window is None else -1]
        raise ConfigError(
            f"{where}.{missing}: {where}.{given} needs it",
            hint="a label joins its prediction when its timestamp is within joinWindow "
            "after the prediction's (e.g. timestampColumn: labeled_at, joinWindow: 7d); "
            "leave both out to take any label of the id",
        )
    return LabelSource(
        path=source.path,
        label_column=_column(section.get("labelColumn"), f"{where}.labelColumn"),
        id_column=_column(section.get("idColumn", id_column), f"{where}.idColumn"),
        format=source.format,
        partitioning=source.partitioning,
        timestamp_column=None
        if timestamp is None
        else _column(timestamp, f"{where}.timestampColumn"),
        join_window=None if window is None else parse_duration(window, field=f"{where}.joinWindow"),
    )


def _from_predictions(
    predictions: Sequence[ModelColumn], kinds: tuple[str, ...]
) -> ModelColumn | None:
    return next((p for p in predictions if p.kind in kinds), None)


def parse_performance(
    model: Mapping[str, Any], predictions: Sequence[ModelColumn], where: str = "spec.model"
) -> PerformanceSettings | None:
    """The performance part of ``spec.model``; None when it has no ``performance``.

    ``performance`` needs ``idColumn`` and ``labels``, and the other way round: one
    without the other is an error naming what is missing.
    """
    present = [key for key in ("idColumn", "labels", "performance") if model.get(key) is not None]
    if not present:
        return None
    missing = [key for key in ("idColumn", "labels", "performance") if key not in present]
    if missing:
        raise ConfigError(
            f"{where}.{missing[0]}: {where}.{present[0]} needs it",
            hint="performance with delayed labels needs idColumn (the prediction id), "
            "labels (where the labels are) and performance (the model's columns)",
        )
    id_column = _column(model["idColumn"], f"{where}.idColumn")
    labels = parse_labels(model["labels"], id_column, f"{where}.labels")
    here = f"{where}.performance"
    section = as_mapping(model["performance"], here)
    check_keys(section, PERFORMANCE_KEYS, here)
    # The model's output is declared once, in spec.model.predictions.
    declared = _from_predictions(predictions, ("label", "value"))
    if declared is None:
        raise ConfigError(
            f"{where}.predictions: performance needs the model's output there",
            hint="add the predicted class ({column: ..., kind: label}) or value (kind: value), "
            "and the positive class's probability (kind: score) for ROC AUC, log loss and ECE",
        )
    task = CLASSIFICATION if declared.kind == "label" else REGRESSION
    prediction = declared.column
    scored = _from_predictions(predictions, ("score",)) if task == CLASSIFICATION else None
    score = None if scored is None else scored.column
    positive = section.get("positiveClass")
    if positive is not None:
        if isinstance(positive, bool):
            positive = "true" if positive else "false"
        if isinstance(positive, int):
            positive = str(positive)
        positive = bounded_text(positive, f"{here}.positiveClass", MAX_CLASS_LENGTH, "a class")
        if task == REGRESSION:
            raise ConfigError(f"{here}.positiveClass: a regression has no classes")
    degradation = _degradation(section.get("degradation"), task, score is not None, here)
    significance = 0.05
    if section.get("significance") is not None:
        significance = _number(section["significance"], f"{here}.significance")
        if not 0 < significance < 1:
            raise ConfigError(f"{here}.significance: {significance:g} must be in (0, 1)")
    min_rows = section.get("minLabeledRows", 100)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or not 1 <= min_rows <= 10**9:
        raise ConfigError(f"{here}.minLabeledRows: expected an integer >= 1, got {min_rows!r}")
    retrain = section.get("retrainOnDegradation")
    retrain = True if retrain is None else retrain
    if not isinstance(retrain, bool):
        raise ConfigError(
            f"{here}.retrainOnDegradation: expected true or false, got {retrain!r}",
            hint="true (the default) starts spec.retraining when performance degrades; "
            "false only reports and alerts",
        )
    return PerformanceSettings(
        id_column=id_column,
        labels=labels,
        task=task,
        prediction_column=prediction,
        score_column=score,
        positive_class=positive,
        degradation=degradation,
        significance=significance,
        min_labeled_rows=min_rows,
        retrain_on_degradation=retrain,
    )


def _degradation(value: Any, task: str, scored: bool, where: str) -> tuple[tuple[str, float], ...]:
    if value is None:
        return DEFAULT_DEGRADATION[task]
    if not isinstance(value, list) or len(value) > len(METRICS[task]):
        raise ConfigError(
            f"{where}.degradation: expected a list of {{metric, maxDrop}}, one per metric",
            hint="e.g. degradation: [{metric: accuracy, maxDrop: 0.05}]",
        )
    out: dict[str, float] = {}
    for i, item in enumerate(value):
        item_where = f"{where}.degradation[{i}]"
        item = as_mapping(item, item_where)
        check_keys(item, {"metric", "maxDrop"}, item_where)
        metric = item.get("metric")
        if metric not in METRICS[task]:
            raise ConfigError(
                f"{item_where}.metric: {metric!r} is not a {task} metric",
                hint=f"choose one of {', '.join(METRICS[task])}",
            )
        if metric in SCORE_METRICS and not scored:
            raise ConfigError(
                f"{item_where}.metric: {metric} needs the model's score",
                hint="add the positive class's probability to spec.model.predictions (kind: score)",
            )
        if metric in out:
            raise ConfigError(f"{item_where}.metric: {metric} is listed twice")
        drop = _number(item.get("maxDrop"), f"{item_where}.maxDrop")
        if drop < 0:
            raise ConfigError(f"{item_where}.maxDrop: {drop:g} must be at least 0")
        out[metric] = drop
    return tuple(out.items())
