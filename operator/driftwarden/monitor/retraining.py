"""Whether a finished run starts the monitor's retraining Job.

Retraining starts only when all hold: the run succeeded and found drift (or, with
spec.model, its prediction drift or performance degradation acts on its own),
``spec.retraining`` has a jobTemplate and is enabled, the cooldown since the
last retraining has passed, and this run has not triggered one already (so a
restarted operator re-reading the same Job never retrains twice; the Job name
is deterministic too, as a second guard).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from driftwarden.durations import format_duration
from driftwarden.monitor.job import (
    ANNOTATION_DRIFT_SHARE,
    ANNOTATION_TRIGGER_REASON,
    ANNOTATION_TRIGGERED_AT,
    ANNOTATION_TRIGGERED_BY,
    COMPONENT_RETRAINING,
    LABEL_COMPONENT,
)
from driftwarden.monitor.outcome import (
    FAILED,
    RunOutcome,
    job_state,
    newest_pod,
    pod_problem,
    predictions_text,
)
from driftwarden.monitor.spec import Monitor
from driftwarden.monitor.times import format_time, parse_time, utc
from driftwarden.report.performance_summary import performance_text

START = "DriftDetected"
# Started by prediction or target drift alone (spec.model.retrainOnPredictionDrift).
PREDICTION_START = "PredictionDriftDetected"
# Started by a performance drop alone (spec.model.performance.retrainOnDegradation).
PERFORMANCE_START = "PerformanceDegraded"
STARTS = (START, PREDICTION_START, PERFORMANCE_START)
NOT_CONFIGURED = "NotConfigured"
DISABLED = "Disabled"
RUN_FAILED = "RunFailed"
NOT_DRIFTED = "NotDrifted"
DRIFT_PENDING = "DriftPending"
ALREADY_TRIGGERED = "AlreadyTriggered"
COOLDOWN = "CooldownActive"
REJECTED = "RetrainingRejected"
JOB_FAILED = "RetrainingFailed"
NOT_STARTING = "RetrainingNotStarting"


@dataclass(frozen=True)
class Decision:
    """``start``: create the retraining Job now; ``reason`` CamelCase, ``message`` for people."""

    start: bool
    reason: str
    message: str


@dataclass(frozen=True)
class RetrainingRecord:
    """A retraining Job that was started: ``status.lastRetraining``."""

    job: str
    time: datetime
    reason: str
    message: str
    run: str

    def to_status(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "time": format_time(self.time),
            "reason": self.reason,
            "message": self.message,
            "run": self.run,
        }


def decide_retraining(
    monitor: Monitor,
    outcome: RunOutcome,
    last_retraining: Mapping[str, Any] | None,
    now: datetime,
    unconfirmed: str | None = None,
    predictions_pending: str | None = None,
    performance_pending: str | None = None,
) -> Decision:
    """Decide whether ``outcome`` starts a retraining Job; ``last_retraining`` is ``status.lastRetraining``.

    ``predictions_pending`` says why its prediction drift does not act yet (spec.alerting,
    :func:`~driftwarden.monitor.model_status.prediction_pending`), ``performance_pending``
    why its performance drop does not
    (:func:`~driftwarden.monitor.performance_status.performance_pending`).
    ``unconfirmed`` says why a drifted run does not make the monitor Drifted yet
    (spec.alerting, :func:`~driftwarden.monitor.status.unconfirmed_drift`): no retraining then.
    """
    if monitor.retraining is None:
        return Decision(False, NOT_CONFIGURED, "spec.retraining.jobTemplate is not set")
    if not monitor.retraining.enabled:
        return Decision(False, DISABLED, "spec.retraining.enabled is false")
    if not outcome.succeeded:
        return Decision(False, RUN_FAILED, f"run {outcome.job} failed: nothing to act on")
    prediction_drift = retrains_on_predictions(monitor, outcome) and not predictions_pending
    degraded = retrains_on_performance(monitor, outcome) and not performance_pending
    model_drift = prediction_drift or degraded
    if not outcome.drifted and not model_drift:
        pending = [
            why
            for why, acts in (
                (predictions_pending, retrains_on_predictions(monitor, outcome)),
                (performance_pending, retrains_on_performance(monitor, outcome)),
            )
            if why and acts
        ]
        if pending:
            return Decision(
                False, DRIFT_PENDING, f"run {outcome.job} found drift, but {'; '.join(pending)}"
            )
        return Decision(False, NOT_DRIFTED, f"run {outcome.job} found no drift")
    if unconfirmed and not model_drift:
        return Decision(False, DRIFT_PENDING, f"run {outcome.job} found drift, but {unconfirmed}")
    last = last_retraining or {}
    if last.get("run") == outcome.job:
        return Decision(
            False,
            ALREADY_TRIGGERED,
            f"run {outcome.job} already started retraining Job {last.get('job')}",
        )
    last_time = parse_time(last.get("time"))
    if last_time is not None:
        allowed = last_time + monitor.retraining.cooldown
        if utc(now) < allowed:
            return Decision(
                False,
                COOLDOWN,
                f"drift found, but retraining Job {last.get('job')} started at {format_time(last_time)}; "
                f"the {format_duration(monitor.retraining.cooldown)} cooldown ends at {format_time(allowed)}",
            )
    share = "?" if outcome.drift_share is None else f"{outcome.drift_share:.2f}"
    drifted = "?" if outcome.drifted_features is None else outcome.drifted_features
    total = "?" if outcome.total_features is None else outcome.total_features
    features = f"drift in {drifted} of {total} features (share {share})"
    if outcome.drifted and not unconfirmed:
        return Decision(True, START, f"run {outcome.job} found {features}")
    features += "; " + unconfirmed if outcome.drifted and unconfirmed else ""
    if prediction_drift:
        assert outcome.predictions is not None  # retrains_on_predictions
        return Decision(
            True,
            PREDICTION_START,
            f"run {outcome.job} found {predictions_text(outcome.predictions)} (features: {features})",
        )
    return Decision(
        True,
        PERFORMANCE_START,
        f"run {outcome.job} found {performance_text(outcome.performance)} (features: {features})",
    )


def retrains_on_predictions(monitor: Monitor, outcome: RunOutcome) -> bool:
    """Whether ``outcome``'s prediction or target drift alone may start retraining."""
    model = monitor.run.settings.model
    return (
        model is not None
        and model.retrain_on_prediction_drift
        and outcome.predictions is not None
        and outcome.predictions.drifted
    )


def retrains_on_performance(monitor: Monitor, outcome: RunOutcome) -> bool:
    """Whether ``outcome``'s performance degradation alone may start retraining."""
    model = monitor.run.settings.model
    return (
        model is not None
        and model.performance is not None
        and model.performance.retrain_on_degradation
        and outcome.performance is not None
        and outcome.performance.get("degraded") is True
    )


def retraining_record(
    job: Mapping[str, Any], outcome: RunOutcome, decision: Decision, now: datetime
) -> RetrainingRecord:
    """The record of a retraining Job just created (``job`` as built by :func:`~driftwarden.monitor.job.retraining_job`)."""
    return RetrainingRecord(
        job=str((job.get("metadata") or {}).get("name") or ""),
        time=utc(now),
        reason=decision.reason,
        message=decision.message,
        run=outcome.job,
    )


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def newest_retraining_job(jobs: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The most recently triggered retraining Job among a monitor's Jobs, or None."""
    retraining = [
        j
        for j in jobs
        if (_meta(j).get("labels") or {}).get(LABEL_COMPONENT) == COMPONENT_RETRAINING
    ]

    def order(job: Mapping[str, Any]) -> tuple[str, str]:
        annotations = _meta(job).get("annotations") or {}
        return (
            str(annotations.get(ANNOTATION_TRIGGERED_AT) or ""),
            str(_meta(job).get("creationTimestamp") or ""),
        )

    return max(retraining, key=order) if retraining else None


def unrecorded_retraining(
    job: Mapping[str, Any] | None, last_retraining: Mapping[str, Any] | None, now: datetime
) -> RetrainingRecord | None:
    """The record of a retraining Job the cluster holds but ``status.lastRetraining`` does not name.

    That is the Job just created, or one whose status write failed after the create: it
    is recorded (Event, counter) from the cluster, so nothing is lost to a failed write.
    """
    if job is None:
        return None
    recorded = last_retraining or {}
    annotations = _meta(job).get("annotations") or {}
    name = str(_meta(job).get("name") or "")
    run = str(annotations.get(ANNOTATION_TRIGGERED_BY) or "")
    if name == recorded.get("job") or run == recorded.get("run"):
        return None
    share = annotations.get(ANNOTATION_DRIFT_SHARE) or "?"
    reason = annotations.get(ANNOTATION_TRIGGER_REASON)
    if reason == PREDICTION_START:
        message = f"run {run} found prediction or target drift (spec.model; feature share {share})"
    elif reason == PERFORMANCE_START:
        message = (
            f"run {run} found the model's performance degraded (spec.model; feature share {share})"
        )
    else:
        reason, message = START, f"run {run} found drift (share {share})"
    return RetrainingRecord(
        job=name,
        time=parse_time(annotations.get(ANNOTATION_TRIGGERED_AT))
        or parse_time(_meta(job).get("creationTimestamp"))
        or utc(now),
        reason=str(reason),
        message=message,
        run=run,
    )


def retraining_trouble(
    job: Mapping[str, Any] | None, pods: Iterable[Mapping[str, Any]]
) -> tuple[str, str] | None:
    """``(reason, message)`` when a retraining Job failed or its newest pod cannot run, else None."""
    if job is None:
        return None
    name = str(_meta(job).get("name") or "")
    state = job_state(job)
    if state == FAILED:
        failed: Mapping[str, Any] = next(
            (
                c
                for c in (job.get("status") or {}).get("conditions") or []
                if isinstance(c, Mapping) and c.get("type") == "Failed"
            ),
            {},
        )
        detail = f"{failed.get('reason') or 'Failed'} {failed.get('message') or ''}".rstrip()
        return JOB_FAILED, f"retraining Job {name} failed: {detail}"
    if state is None:
        trouble = pod_problem(newest_pod(pods))
        if trouble is not None:
            return NOT_STARTING, f"retraining Job {name} cannot start: {trouble[1]}"
    return None
