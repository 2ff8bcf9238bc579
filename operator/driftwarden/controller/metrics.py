"""Prometheus metrics of every monitor, and their lifecycle.

Gauges describe the latest run of each monitor; counters count events since the
operator started. Series of a deleted monitor, and of features a newer run no longer
reports, are removed so dashboards do not show ghosts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from driftwarden.monitor.outcome import RunOutcome
from driftwarden.monitor.times import parse_time

PREFIX = "driftwarden"
_MONITOR = ("namespace", "monitor")


class Metrics:
    """The operator's metrics, registered in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.feature_score = Gauge(
            f"{PREFIX}_feature_drift_score",
            "Drift score of a feature in the latest successful run",
            [*_MONITOR, "feature", "method"],
            registry=r,
        )
        self.feature_drifted = Gauge(
            f"{PREFIX}_feature_drifted",
            "1 when the feature drifted in the latest successful run",
            [*_MONITOR, "feature", "method"],
            registry=r,
        )
        self.dataset_drifted = Gauge(
            f"{PREFIX}_dataset_drifted",
            "1 when the latest successful run found dataset drift",
            _MONITOR,
            registry=r,
        )
        self.drift_share = Gauge(
            f"{PREFIX}_drift_share",
            "Share of drifted features in the latest successful run",
            _MONITOR,
            registry=r,
        )
        self.drifted_features = Gauge(
            f"{PREFIX}_drifted_features",
            "Drifted features in the latest successful run",
            _MONITOR,
            registry=r,
        )
        self.total_features = Gauge(
            f"{PREFIX}_features",
            "Features compared in the latest successful run",
            _MONITOR,
            registry=r,
        )
        self.rows = Gauge(
            f"{PREFIX}_rows_analyzed",
            "Rows analysed by the latest successful run",
            [*_MONITOR, "side"],
            registry=r,
        )
        self.last_run = Gauge(
            f"{PREFIX}_last_run_timestamp_seconds",
            "Completion time of the latest run (any outcome)",
            _MONITOR,
            registry=r,
        )
        self.last_success = Gauge(
            f"{PREFIX}_last_successful_run_timestamp_seconds",
            "Completion time of the latest successful run",
            _MONITOR,
            registry=r,
        )
        self.last_duration = Gauge(
            f"{PREFIX}_last_run_duration_seconds",
            "Duration of the latest run",
            _MONITOR,
            registry=r,
        )
        self.last_outcome = Gauge(
            f"{PREFIX}_last_run_success",
            "1 when the latest run succeeded, 0 when it failed",
            _MONITOR,
            registry=r,
        )
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
        self.phase = Gauge(
            f"{PREFIX}_monitor_phase",
            "1 for the monitor's current phase",
            [*_MONITOR, "phase"],
            registry=r,
        )
        self.schedule_period = Gauge(
            f"{PREFIX}_schedule_period_seconds",
            "Seconds between two schedule slots (for staleness alerts)",
            _MONITOR,
            registry=r,
        )
        self._features: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._phases: dict[tuple[str, str], str] = {}

    # ---------------------------------------------------------------- updates

    def observe_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Set the gauges from a monitor's status (also after an operator restart)."""
        key = (namespace, name)
        phase = status.get("phase")
        if phase:
            old = self._phases.get(key)
            if old and old != phase:
                self.phase.remove(namespace, name, old)
            self.phase.labels(namespace, name, phase).set(1)
            self._phases[key] = phase
        last = status.get("lastRun") or {}
        completed = parse_time(last.get("completionTime"))
        if completed is not None:
            self.last_run.labels(namespace, name).set(completed.timestamp())
            self.last_outcome.labels(namespace, name).set(
                1 if last.get("outcome") == "Succeeded" else 0
            )
            if last.get("durationSeconds") is not None:
                self.last_duration.labels(namespace, name).set(float(last["durationSeconds"]))
        success = parse_time(status.get("lastSuccessfulRunTime"))
        if success is not None:
            self.last_success.labels(namespace, name).set(success.timestamp())
        if last.get("outcome") == "Succeeded":
            self._observe_verdict(namespace, name, last, status.get("features") or [])

    def _observe_verdict(
        self, namespace: str, name: str, last: Mapping[str, Any], features: list[Mapping[str, Any]]
    ) -> None:
        labels = (namespace, name)
        self.dataset_drifted.labels(*labels).set(1 if last.get("drifted") else 0)
        for gauge, key in (
            (self.drift_share, "driftShare"),
            (self.drifted_features, "driftedFeatures"),
            (self.total_features, "totalFeatures"),
        ):
            if last.get(key) is not None:
                gauge.labels(*labels).set(float(last[key]))
        rows = last.get("rows") or {}
        for side in ("reference", "current"):
            if rows.get(side) is not None:
                self.rows.labels(*labels, side).set(float(rows[side]))
        seen: set[tuple[str, str]] = set()
        for feature in features:
            if feature.get("score") is None:
                continue
            series = (str(feature["name"]), str(feature.get("method")))
            seen.add(series)
            self.feature_score.labels(*labels, *series).set(float(feature["score"]))
            self.feature_drifted.labels(*labels, *series).set(1 if feature.get("drifted") else 0)
        for series in self._features.get(labels, set()) - seen:
            self.feature_score.remove(*labels, *series)
            self.feature_drifted.remove(*labels, *series)
        self._features[labels] = seen

    def observe_outcome(self, namespace: str, name: str, outcome: RunOutcome) -> None:
        """Count a finished run."""
        self.runs.labels(namespace, name, outcome.outcome).inc()
        if not outcome.succeeded:
            self.failures.labels(namespace, name).inc()

    def forget(self, namespace: str, name: str) -> None:
        """Remove every series of a deleted monitor."""
        labels = (namespace, name)
        for series in self._features.pop(labels, set()):
            _drop(self.feature_score, *labels, *series)
            _drop(self.feature_drifted, *labels, *series)
        phase = self._phases.pop(labels, None)
        if phase:
            _drop(self.phase, *labels, phase)
        for metric in (
            self.dataset_drifted, self.drift_share, self.drifted_features, self.total_features, self.last_run,
            self.last_success, self.last_duration, self.last_outcome, self.failures, self.retraining,
            self.jobs_started, self.schedule_period,
        ):  # fmt: skip
            _drop(metric, *labels)
        for side in ("reference", "current"):
            _drop(self.rows, *labels, side)
        for outcome in ("Succeeded", "Failed"):
            _drop(self.runs, *labels, outcome)


def _drop(metric: Gauge | Counter, *labels: str) -> None:
    """Remove one series; a series never set is fine."""
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
