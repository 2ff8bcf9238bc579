"""The report's ``performance`` section: predictions joined to delayed labels, both periods.

For the current window, and for the reference when it logs ids and predictions too,
the prediction rows are joined to the label log (model/join.py, partitioned by id
so memory stays bounded) and measured (model/performance.py); the current period is
then compared with the reference period. Labels are read from the start of a side's
window to ``joinWindow`` after its end: a run at time T sees every label logged up
to then, and a prediction whose window is still open without a label is *pending*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from driftwarden.analysis.performance_settings import PerformanceSettings
from driftwarden.analysis.reference import window_bounds
from driftwarden.analysis.settings import SourceConfig
from driftwarden.durations import format_duration
from driftwarden.errors import ConfigError, DataNotFoundError, SchemaError
from driftwarden.model import performance as perf
from driftwarden.model.join import LABEL as JOINED_LABEL
from driftwarden.model.join import JoinColumns, join_labels, partitions_for
from driftwarden.model.keys import common_id_type
from driftwarden.profile import ColumnPlan, DatasetProfile, ProfileOptions, build_profile
from driftwarden.report.text import finding
from driftwarden.storage import DatasetSource, OpenedDataset, StorageOptions, open_dataset, redact


@dataclass
class LabelTarget:
    """spec.model.target read from the label log (the current data does not hold it).

    The true outcome of a period is the label its predictions joined to: the run
    profiles those labels, partition by partition as the join yields them, with the
    profile engine the features use (``kind``: ``categorical`` or ``numerical``), so
    target drift compares the labels of the reference period's predictions with those
    of the current window's. Only labeled rows count: pending ones are in the coverage.
    :func:`performance_section` fills ``reference`` and ``current`` (None: that period
    has no joined labels) and says in ``reason`` why they cannot be compared.
    """

    kind: str
    options: ProfileOptions
    bins: int
    reference: DatasetProfile | None = None
    current: DatasetProfile | None = None
    reason: str | None = None
    _parts: int = field(default=0, repr=False)

    def add(self, side: str, table: pa.Table) -> None:
        """Profile one joined partition's labels into ``side``'s profile."""
        plan = [ColumnPlan(JOINED_LABEL, self.kind)]  # type: ignore[arg-type]
        edges = None
        if side == "current" and self.kind == "numerical" and self.reference is not None:
            # The current histogram counts on the reference's edges, as for features.
            edges = {JOINED_LABEL: self.reference.columns[JOINED_LABEL].quantile_edges(self.bins)}  # type: ignore[union-attr]
        # Each partition is a stream of its own: its rows' sampling keys never collide.
        self._parts += 1
        stream = f"labels-{side}-{self._parts}".encode()
        profile = build_profile(
            table.select([JOINED_LABEL]).to_batches(),
            plan,
            self.options,
            edges=edges,
            stream=stream,
        )
        before = getattr(self, side)
        setattr(self, side, profile if before is None else before.merge(profile))

    def check(self, label_type: pa.DataType, where: str) -> None:
        """ConfigError when the label log's column cannot be a target of ``kind``."""
        if self.kind == "numerical" and not (
            pa.types.is_integer(label_type) or pa.types.is_floating(label_type)
        ):
            raise ConfigError(
                f"{where}.kind: the label log's column has type {label_type}, which a value "
                "target cannot hold",
                hint="use kind: label for classes",
            )


def _missing(dataset: OpenedDataset, names: list[str]) -> list[str]:
    return [name for name in names if name not in dataset.schema.names]


def _open_labels(
    settings: PerformanceSettings,
    source: SourceConfig,
    window_end: datetime,
    storage: StorageOptions,
) -> OpenedDataset | None:
    labels = settings.labels
    bounds = window_bounds(window_end, source.window, source.offset)
    start = end = None
    if bounds is not None and labels.timestamp_column is not None:
        start = bounds[0]
        end = bounds[1] + (labels.join_window or timedelta(0))
    try:
        return open_dataset(
            DatasetSource(
                uri=labels.path,
                format=labels.format,
                partitioning=labels.partitioning,
                timestamp_column=labels.timestamp_column,
                start=start,
                end=end,
                label="label data",
            ),
            storage,
        )
    except DataNotFoundError:
        return None


def _period(
    side: str,
    predictions: OpenedDataset,
    source: SourceConfig,
    settings: PerformanceSettings,
    task: perf.Task,
    classes: perf.ClassIndex,
    window_end: datetime,
    storage: StorageOptions,
    findings: list[dict[str, Any]],
    spill_dir: str | None,
    target: LabelTarget | None = None,
) -> tuple[perf.PeriodAccumulator, int]:
    """Join one side's predictions to the labels and measure them; (period, partitions)."""
    labels = settings.labels
    label_data = _open_labels(settings, source, window_end, storage)
    windowed = labels.join_window is not None and source.timestamp_column is not None
    if labels.join_window is not None and source.timestamp_column is None:
        findings.append(
            finding(
                "warning",
                "PerformanceJoinWithoutWindow",
                None,
                f"the {side} data has no timestampColumn: any label of a prediction's id "
                "counts, whenever it came",
            )
        )
    columns = JoinColumns(
        id=settings.id_column,
        label_id=labels.id_column,
        label=labels.label_column,
        timestamp=source.timestamp_column if windowed else None,
        label_timestamp=labels.timestamp_column if windowed else None,
        window=labels.join_window if windowed else None,
    )
    period = perf.PeriodAccumulator(task, classes)
    if label_data is None:
        findings.append(
            finding("warning", "NoLabels", None, f"no labels in {redact(labels.path)} yet")
        )
    else:
        missing = _missing(
            label_data,
            [labels.id_column, labels.label_column]
            + ([labels.timestamp_column] if windowed and labels.timestamp_column else []),
        )
        if missing:
            raise SchemaError(
                f"label data {redact(labels.path)} has no column(s) {', '.join(map(repr, missing))}",
                hint="check spec.model.labels.idColumn, labelColumn and timestampColumn",
            )
    wanted = [settings.id_column, settings.prediction_column]
    wanted += [settings.score_column] if settings.score_column else []
    wanted += [columns.timestamp] if columns.timestamp else []
    wanted += list(task.segments)
    names = list(dict.fromkeys(wanted))
    id_type = common_id_type(
        predictions.schema.field(settings.id_column).type,
        label_data.schema.field(labels.id_column).type
        if label_data is not None
        else predictions.schema.field(settings.id_column).type,
    )
    size = sum(f.size or 0 for f in predictions.files) + (
        sum(f.size or 0 for f in label_data.files) if label_data is not None else 0
    )
    partitions = partitions_for(size)
    label_batches = (
        iter(())
        if label_data is None
        else label_data.batches(
            list(
                dict.fromkeys(
                    [labels.id_column, labels.label_column]
                    + ([columns.label_timestamp] if columns.label_timestamp else [])
                )
            )
        )
    )
    for part in join_labels(
        predictions.batches(names),
        _tolerant(label_batches),
        columns,
        id_type,
        coverage=period.coverage,
        now=window_end,
        partitions=partitions,
        spill_dir=spill_dir,
    ):
        if target is not None:
            target.add(side, part)
        period.add(part)
    return period, partitions


def _tolerant(batches: Any) -> Any:
    """Label batches; a window holding no label is no error (every prediction is pending)."""
    try:
        yield from batches
    except DataNotFoundError:
        return


def _side_report(period: perf.PeriodAccumulator, metrics: dict[str, Any]) -> dict[str, Any]:
    return {"coverage": period.coverage.as_report(), "rows": period.rows, "metrics": metrics}


def performance_section(
    settings: PerformanceSettings,
    *,
    current: OpenedDataset,
    current_source: SourceConfig,
    reference: OpenedDataset,
    reference_source: SourceConfig,
    window_end: datetime,
    storage: StorageOptions,
    findings: list[dict[str, Any]],
    segments: Sequence[str] = (),
    seed: int = 0,
    spill_dir: str | None = None,
    target: LabelTarget | None = None,
) -> dict[str, Any]:
    """The report's ``performance`` object (docs/report-schema.md).

    ``segments`` are the categorical features: each gets per-value accuracy (MAE for a
    regression), so the root cause can say which segment lost it. ``target`` (the
    target read from the label log) gets both periods' joined labels profiled.
    """
    needed = [settings.id_column, settings.prediction_column]
    needed += [settings.score_column] if settings.score_column else []
    missing = _missing(current, needed)
    if missing:
        raise SchemaError(
            f"current data has no column(s) {', '.join(map(repr, missing))} for the performance",
            hint="check spec.model.idColumn and spec.model.predictions",
        )
    segments = tuple(s for s in segments if s not in needed)[: perf.SEGMENT_COLUMNS]
    needed += list(segments)
    label_type = None
    label_data = _open_labels(settings, current_source, window_end, storage)
    if label_data is not None and settings.labels.label_column in label_data.schema.names:
        label_type = label_data.schema.field(settings.labels.label_column).type
        if target is not None:
            target.check(label_type, "spec.model.target")
    positive = settings.positive_class
    if positive is None and settings.task == perf.CLASSIFICATION and label_type is not None:
        positive = perf.default_positive(label_type)
    task = perf.Task(
        kind=settings.task,
        prediction=settings.prediction_column,
        score=settings.score_column,
        positive=positive,
        id=settings.id_column,
        segments=segments,
        seed=seed,
    )
    if settings.score_column and positive is None:
        findings.append(
            finding(
                "warning",
                "PerformanceNoPositiveClass",
                None,
                "the labels are text, so the score's class is unknown: ROC AUC, log loss and "
                "calibration error are left out (set spec.model.performance.positiveClass)",
            )
        )
    classes = perf.ClassIndex()
    args = (settings, task, classes, window_end, storage, findings, spill_dir)
    # The reference period first: a numerical target's current histogram needs its edges.
    ref: perf.PeriodAccumulator | None = None
    ref_missing = _missing(reference, needed)
    if ref_missing:
        findings.append(
            finding(
                "info",
                "PerformanceReferenceUnavailable",
                None,
                f"the reference data has no {', '.join(map(repr, ref_missing))}: performance "
                "is measured but not compared",
            )
        )
        if target is not None:
            target.reason = (
                "read from the label log, but the reference data has no "
                f"{', '.join(map(repr, ref_missing))} to join its labels by; not compared"
            )
    else:
        ref, _ = _period("reference", reference, reference_source, *args, target)
        if target is not None and target.reference is None:
            target.reason = "read from the label log, which holds no label of the reference period yet; not compared"
    cur, partitions = _period(
        "current",
        current,
        current_source,
        *args,
        None if target is None or target.reason else target,
    )
    if target is not None and target.reason is None and target.current is None:
        target.reason = "read from the label log, which holds no label of the current window's predictions yet; not compared"
    positive_index = perf.binary_positive(cur, ref)
    cur_metrics = perf.period_metrics(cur, positive_index)
    ref_metrics = None if ref is None else perf.period_metrics(ref, positive_index)
    comparison = perf.compare(
        cur_metrics,
        ref_metrics,
        [perf.Threshold(metric, drop) for metric, drop in settings.degradation],
        settings.significance,
    )
    decided = (
        ref is not None
        and cur.rows >= settings.min_labeled_rows
        and ref.rows >= settings.min_labeled_rows
    )
    if ref is not None and not decided:
        findings.append(
            finding(
                "info",
                "TooFewLabels",
                None,
                f"{cur.rows} labeled rows now, {ref.rows} in the reference: at least "
                f"{settings.min_labeled_rows} on each side before performance can degrade "
                "(spec.model.performance.minLabeledRows)",
            )
        )
    degraded = [c["metric"] for c in comparison if c["degraded"]] if decided else []
    for c in comparison:
        c["degraded"] = c["metric"] in degraded
    labels = settings.labels
    return {
        "task": settings.task,
        "positiveClass": None if positive_index is None else positive,
        "idColumn": settings.id_column,
        "predictionColumn": settings.prediction_column,
        "scoreColumn": settings.score_column,
        "labels": {
            "uri": redact(labels.path),
            "format": labels.format,
            "labelColumn": labels.label_column,
            "joinWindow": None
            if labels.join_window is None
            else format_duration(labels.join_window),
            "partitions": partitions,
        },
        "current": _side_report(cur, cur_metrics),
        "reference": None if ref is None else _side_report(ref, ref_metrics or {}),
        "comparison": comparison,
        "decided": decided,
        "degraded": bool(degraded),
        "degradedMetrics": degraded,
        "significance": settings.significance,
        "segments": perf.segment_report(task, cur, ref),
        "confidence": {
            "method": "bootstrap",
            "level": perf.LEVEL,
            "resamples": perf.RESAMPLES,
            "rows": min(cur.rows, perf.BOOTSTRAP_ROWS),
        },
    }
