"""Prometheus metrics of every monitor, and their lifecycle.

Gauges describe the latest run of each monitor; counters count events since the
operator started. Series of a deleted monitor, and of features a newer run no longer
reports, are removed so dashboards do not show ghosts.

The gauges are not ``prometheus_client.Gauge`` children: one labelled child costs
about 0.9 KiB (a lock and a value object each), and a monitor has a dozen of them plus
two per feature — 40 MiB at 1,000 monitors of 25 features. Instead each monitor keeps
one small immutable :class:`MonitorGauges` record, and a custom collector renders the
families when Prometheus scrapes (the ``kube-state-metrics`` pattern). A record is
replaced whole, never mutated, so the scrape thread always sees a consistent one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from driftwarden.monitor.multivariate import multivariate_gauges
from driftwarden.monitor.outcome import RunOutcome
from driftwarden.monitor.performance_status import performance_state_degraded
from driftwarden.monitor.times import parse_time
from driftwarden.report.rootcause_summary import root_cause_gauges

PREFIX = "driftwarden"
_MONITOR = ("namespace", "monitor")


@dataclass(frozen=True, slots=True)
class FeatureGauges:
    """One feature of the latest successful run."""

    name: str
    method: str
    score: float
    drifted: bool


@dataclass(frozen=True, slots=True)
class ModelColumnGauges:
    """One prediction or target column (spec.model) of the latest successful run."""

    name: str
    role: str
    method: str
    score: float
    drifted: bool


@dataclass(frozen=True, slots=True)
class MonitorGauges:
    """Everything the gauges say about one monitor (``None``: series absent)."""

    phase: str | None = None
    schedule_period: float | None = None
    last_run: float | None = None
    last_success_flag: float | None = None
    last_duration: float | None = None
    last_success: float | None = None
    # of the latest successful run
    dataset_drifted: float | None = None
    drift_share: float | None = None
    drifted_features: float | None = None
    total_features: float | None = None
    rows_reference: float | None = None
    rows_current: float | None = None
    features: tuple[FeatureGauges, ...] = ()
    # debounced alerting (spec.alerting): dataset_drifted above is the debounced verdict
    run_drifted: float | None = None
    drifted_runs: float | None = None
    clean_runs: float | None = None
    drifting_since: float | None = None
    # prediction and target drift (spec.model): each run's own verdict
    prediction_drifted: float | None = None
    model_columns: tuple[ModelColumnGauges, ...] = ()
    # performance with delayed labels (spec.model): the headline metric in both periods
    performance_degraded: float | None = None
    label_coverage: float | None = None
    performance_metric: str | None = None
    performance: tuple[tuple[str, float], ...] = ()  # (period, value)
    # spec.model.multivariate of the latest successful run (absent without the detector)
    multivariate_drifted: float | None = None
    multivariate_p_value: float | None = None
    # root cause (status.model.rootCause): (feature, rank, share) of the top causes
    root_causes: tuple[tuple[str, int, float], ...] = ()


# (metric name, help, record field) of the gauges with the monitor's labels only.
_SCALARS = (
    (
        "dataset_drifted",
        "1 while the monitor is Drifted: the debounced verdict of the successful runs "
        "(spec.alerting; by default the latest successful run's verdict)",
        "dataset_drifted",
    ),
    (
        "run_drifted",
        "1 when the latest successful run itself found dataset drift (before debouncing)",
        "run_drifted",
    ),
    (
        "drifted_runs",
        "Consecutive successful runs counted as drifted (towards spec.alerting.driftAfterRuns)",
        "drifted_runs",
    ),
    (
        "clean_runs",
        "Consecutive clean successful runs (towards spec.alerting.recoverAfterRuns)",
        "clean_runs",
    ),
    (
        "drifting_since_timestamp_seconds",
        "When the current Drifted state began (status.driftingSince); absent while Healthy",
        "drifting_since",
    ),
    (
        "prediction_drifted",
        "1 while the monitor's prediction or target columns (spec.model) are Drifted: "
        "debounced like the features (spec.alerting; by default the latest successful run's "
        "verdict); absent for monitors without such columns",
        "prediction_drifted",
    ),
    (
        "model_performance_degraded",
        "1 while the model's performance is Degraded (a metric dropped significantly by more "
        "than its maxDrop; spec.model): debounced like the features (spec.alerting; by default "
        "the latest decided run's verdict); absent without labels",
        "performance_degraded",
    ),
    (
        "label_coverage",
        "Share of the current window's predictions that have their label (spec.model)",
        "label_coverage",
    ),
    ("drift_share", "Share of drifted features in the latest successful run", "drift_share"),
    (
        "multivariate_drifted",
        "1 when the multivariate (joint) detector drifted the latest successful run "
        "(spec.model.multivariate); absent without the detector",
        "multivariate_drifted",
    ),
    (
        "multivariate_p_value",
        "KS p-value of the multivariate detector in the latest successful run",
        "multivariate_p_value",
    ),
    ("drifted_features", "Drifted features in the latest successful run", "drifted_features"),
    ("features", "Features compared in the latest successful run", "total_features"),
    (
        "last_run_timestamp_seconds",
        "Completion time of the latest run (any outcome)",
        "last_run",
    ),
    (
        "last_successful_run_timestamp_seconds",
        "Completion time of the latest successful run",
        "last_success",
    ),
    ("last_run_duration_seconds", "Duration of the latest run", "last_duration"),
    (
        "last_run_success",
        "1 when the latest run succeeded, 0 when it failed",
        "last_success_flag",
    ),
    (
        "schedule_period_seconds",
        "Seconds between two schedule slots (for staleness alerts)",
        "schedule_period",
    ),
)


def _kept(value: Any, old: float | None) -> float | None:
    """``value`` as a float, or ``old`` when the status does not say."""
    return old if value is None else float(value)


def gauges_from_status(
    status: Mapping[str, Any], previous: MonitorGauges | None = None
) -> MonitorGauges:
    """The gauges a monitor's status implies; what the status does not say is kept.

    Pure: the verdict gauges change only with a successful run, so a failed run keeps
    the last verdict on the dashboards.
    """
    record = previous or MonitorGauges()
    changes: dict[str, Any] = {}
    if status.get("phase"):
        changes["phase"] = str(status["phase"])
    last = status.get("lastRun") or {}
    completed = parse_time(last.get("completionTime"))
    if completed is not None:
        changes["last_run"] = completed.timestamp()
        changes["last_success_flag"] = 1.0 if last.get("outcome") == "Succeeded" else 0.0
        if last.get("durationSeconds") is not None:
            changes["last_duration"] = float(last["durationSeconds"])
    success = parse_time(status.get("lastSuccessfulRunTime"))
    if success is not None:
        changes["last_success"] = success.timestamp()
    if last.get("outcome") == "Succeeded":
        rows = last.get("rows") or {}
        changes.update(_debounced(status))
        changes["multivariate_drifted"], changes["multivariate_p_value"] = multivariate_gauges(
            status
        )
        changes.update(
            run_drifted=1.0 if last.get("drifted") else 0.0,
            drift_share=_kept(last.get("driftShare"), record.drift_share),
            drifted_features=_kept(last.get("driftedFeatures"), record.drifted_features),
            total_features=_kept(last.get("totalFeatures"), record.total_features),
            rows_reference=_kept(rows.get("reference"), record.rows_reference),
            rows_current=_kept(rows.get("current"), record.rows_current),
            features=tuple(
                FeatureGauges(
                    str(f["name"]), str(f.get("method")), float(f["score"]), bool(f.get("drifted"))
                )
                for f in status.get("features") or []
                if f.get("score") is not None
            ),
        )
        changes.update(_model(status))
        changes.update(_performance(status))
        changes["root_causes"] = root_cause_gauges(status)
    return replace(record, **changes) if changes else record


def _model(status: Mapping[str, Any]) -> dict[str, Any]:
    """The prediction-drift gauges from ``status.model.predictions`` (absent: no series)."""
    model = status.get("model")
    predictions = model.get("predictions") if isinstance(model, Mapping) else None
    if not isinstance(predictions, Mapping):
        return {"prediction_drifted": None, "model_columns": ()}
    return {
        # the debounced state (spec.alerting), as driftwarden_dataset_drifted is
        "prediction_drifted": 1.0
        if predictions.get("state", "Drifted" if predictions.get("drifted") else "") == "Drifted"
        else 0.0,
        "model_columns": tuple(
            ModelColumnGauges(
                str(c["name"]),
                str(c.get("role")),
                str(c.get("method")),
                float(c["score"]),
                bool(c.get("drifted")),
            )
            for c in predictions.get("columns") or []
            if isinstance(c, Mapping) and c.get("name") and c.get("score") is not None
        ),
    }


def _performance(status: Mapping[str, Any]) -> dict[str, Any]:
    """The performance gauges from ``status.model.performance`` (absent: no series)."""
    model = status.get("model")
    performance = model.get("performance") if isinstance(model, Mapping) else None
    if not isinstance(performance, Mapping):
        return {
            "performance_degraded": None,
            "label_coverage": None,
            "performance_metric": None,
            "performance": (),
        }
    coverage = performance.get("coverage")
    share = coverage.get("share") if isinstance(coverage, Mapping) else None
    metric = performance.get("metric")
    return {
        # the debounced state (spec.alerting), as driftwarden_prediction_drifted is
        "performance_degraded": 1.0 if performance_state_degraded(status) else 0.0,
        "label_coverage": None if share is None else float(share),
        "performance_metric": metric if isinstance(metric, str) else None,
        "performance": tuple(
            (period, float(performance[period]))
            for period in ("current", "reference")
            if isinstance(performance.get(period), int | float)
        ),
    }


def _debounced(status: Mapping[str, Any]) -> dict[str, Any]:
    """The debounced verdict's gauges from ``status.alerting`` (a status without it, written
    before debouncing, has the last run's own verdict)."""
    alerting = status.get("alerting")
    if not isinstance(alerting, Mapping) or alerting.get("state") not in ("Drifted", "Healthy"):
        drifted = bool((status.get("lastRun") or {}).get("drifted"))
        return {"dataset_drifted": 1.0 if drifted else 0.0}
    drifted = alerting["state"] == "Drifted"
    since = status.get("driftingSince") or {}
    began = parse_time(since.get("time") or since.get("slot")) if drifted else None
    return {
        "dataset_drifted": 1.0 if drifted else 0.0,
        "drifted_runs": float(alerting.get("driftedRuns") or 0),
        "clean_runs": float(alerting.get("cleanRuns") or 0),
        "drifting_since": None if began is None else began.timestamp(),
    }


class _GaugeCollector(Collector):
    """Renders every monitor's :class:`MonitorGauges` at scrape time."""

    def __init__(self, records: dict[tuple[str, str], MonitorGauges]) -> None:
        self._records = records

    def describe(self) -> list[GaugeMetricFamily]:
        return list(self._families([]))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # list() copies the items without releasing the GIL: the event loop's thread may
        # add or drop monitors while this (HTTP server) thread renders.
        return self._families(list(self._records.items()))

    @staticmethod
    def _families(
        items: list[tuple[tuple[str, str], MonitorGauges]],
    ) -> Iterator[GaugeMetricFamily]:
        score = GaugeMetricFamily(
            f"{PREFIX}_feature_drift_score",
            "Drift score of a feature in the latest successful run",
            labels=[*_MONITOR, "feature", "method"],
        )
        drifted = GaugeMetricFamily(
            f"{PREFIX}_feature_drifted",
            "1 when the feature drifted in the latest successful run",
            labels=[*_MONITOR, "feature", "method"],
        )
        rows = GaugeMetricFamily(
            f"{PREFIX}_rows_analyzed",
            "Rows analysed by the latest successful run",
            labels=[*_MONITOR, "side"],
        )
        column_score = GaugeMetricFamily(
            f"{PREFIX}_prediction_drift_score",
            "Drift score of a prediction or target column (spec.model) in the latest successful run",
            labels=[*_MONITOR, "column", "role", "method"],
        )
        column_drifted = GaugeMetricFamily(
            f"{PREFIX}_prediction_column_drifted",
            "1 when the prediction or target column drifted in the latest successful run",
            labels=[*_MONITOR, "column", "role", "method"],
        )
        performance = GaugeMetricFamily(
            f"{PREFIX}_model_performance",
            "The headline performance metric (spec.model: the first degraded one, else the "
            "first with a maxDrop) in the current window and the reference period",
            labels=[*_MONITOR, "metric", "period"],
        )
        phase = GaugeMetricFamily(
            f"{PREFIX}_monitor_phase",
            "1 for the monitor's current phase",
            labels=[*_MONITOR, "phase"],
        )
        cause = GaugeMetricFamily(
            f"{PREFIX}_root_cause_share",
            "Share of the importance-weighted drift of the latest successful run's top causes "
            "(spec.model; rank 1 is the top cause)",
            labels=[*_MONITOR, "feature", "rank"],
        )
        scalars = [
            (GaugeMetricFamily(f"{PREFIX}_{name}", text, labels=list(_MONITOR)), field)
            for name, text, field in _SCALARS
        ]
        for (namespace, name), record in items:
            for feature in record.features:
                series = [namespace, name, feature.name, feature.method]
                score.add_metric(series, feature.score)
                drifted.add_metric(series, 1.0 if feature.drifted else 0.0)
            for column in record.model_columns:
                series = [namespace, name, column.name, column.role, column.method]
                column_score.add_metric(series, column.score)
                column_drifted.add_metric(series, 1.0 if column.drifted else 0.0)
            for feature_name, rank, share in record.root_causes:
                cause.add_metric([namespace, name, feature_name, str(rank)], share)
            for side, value in (
                ("reference", record.rows_reference),
                ("current", record.rows_current),
            ):
                if value is not None:
                    rows.add_metric([namespace, name, side], value)
            if record.performance_metric is not None:
                for period, value in record.performance:
                    performance.add_metric(
                        [namespace, name, record.performance_metric, period], value
                    )
            if record.phase:
                phase.add_metric([namespace, name, record.phase], 1.0)
            for family, field in scalars:
                value = getattr(record, field)
                if value is not None:
                    family.add_metric([namespace, name], value)
        yield from (score, drifted, column_score, column_drifted, cause, rows, performance, phase)
        yield from (family for family, _ in scalars)


class Metrics:
    """The operator's metrics, registered in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._gauges: dict[tuple[str, str], MonitorGauges] = {}
        r.register(_GaugeCollector(self._gauges))
        self.runs = Counter(
            f"{PREFIX}_analysis_runs", "Finished analysis runs", [*_MONITOR, "outcome"], registry=r
        )
        self.failures = Counter(
            f"{PREFIX}_analysis_failures", "Failed analysis runs", _MONITOR, registry=r
        )
        self.retraining = Counter(
            f"{PREFIX}_retraining_jobs_started", "Retraining Jobs started", _MONITOR, registry=r
        )
        self.jobs_started = Counter(
            f"{PREFIX}_analysis_jobs_started", "Analysis Jobs created", _MONITOR, registry=r
        )
        self.job_create_failures = Counter(
            f"{PREFIX}_job_create_failures",
            "Job creates the API server refused (admission, quota, invalid template), by the "
            "Status reason (Forbidden, Invalid …)",
            ["component", "reason"],
            registry=r,
        )

    # ---------------------------------------------------------------- updates

    def observe_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Set the gauges from a monitor's status (also after an operator restart)."""
        key = (namespace, name)
        previous = self._gauges.get(key)
        record = gauges_from_status(status, previous)
        if record is not previous:
            self._gauges[key] = record

    def observe_schedule_period(self, namespace: str, name: str, seconds: float) -> None:
        """Seconds between two slots of the monitor's schedule."""
        key = (namespace, name)
        previous = self._gauges.get(key) or MonitorGauges()
        if previous.schedule_period != seconds:
            self._gauges[key] = replace(previous, schedule_period=seconds)

    def observe_outcome(self, namespace: str, name: str, outcome: RunOutcome) -> None:
        """Count a finished run."""
        self.runs.labels(namespace, name, outcome.outcome).inc()
        if not outcome.succeeded:
            self.failures.labels(namespace, name).inc()

    def forget(self, namespace: str, name: str) -> None:
        """Remove every series of a deleted monitor."""
        labels = (namespace, name)
        self._gauges.pop(labels, None)
        for metric in (self.failures, self.retraining, self.jobs_started):
            _drop(metric, *labels)
        for outcome in ("Succeeded", "Failed"):
            _drop(self.runs, *labels, outcome)


def _drop(metric: Counter, *labels: str) -> None:
    """Remove one series; a series never set is fine."""
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
