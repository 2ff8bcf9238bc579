"""A DriftMonitor's status, computed from what the operator observed.

Pure functions: the controller gathers the previous status, the outcome of a
finished Job, the running Job and any retraining it started, calls one of these
and writes the result. The result is the whole status; keys whose value is
``None`` are to be *removed*, which is what a JSON merge patch (kopf's
``patch.status``) does with them. Only the fields in :data:`STATUS_FIELDS` are
returned: whatever else the status holds (kopf's own bookkeeping) is not touched.
An object field is meant as a whole: the controller's ``status_patch`` also sends
as null each key the stored value has and the computed one lacks.

Conditions follow the Kubernetes API conventions: ``type``, ``status``
(``True``/``False``/``Unknown``), CamelCase ``reason``, ``message``,
``lastTransitionTime`` (changed only when ``status`` flips) and
``observedGeneration``.

=====================  ======================================================
condition              reasons
=====================  ======================================================
Ready                  RunSucceeded (True); InvalidSpec, the failed run's reason
                       (DataNotFound, StorageUnavailable, DeadlineExceeded,
                       InvalidSummary, OutOfMemory, ResultLost …), JobRejected,
                       Unschedulable, PodCreationFailed, JobNotStarting
                       (False); Pending,
                       FirstRunInProgress (Unknown)
Drifted                DriftDetected, RecoveryPending (True); NoDrift, DriftPending
                       (False); NoSuccessfulRun (Unknown) — the debounced verdict of
                       the successful runs (spec.alerting, :mod:`~driftwarden.monitor.debounce`);
                       with the defaults, the verdict of the last *successful* run
PredictionDrifted      PredictionDriftDetected (True); NoPredictionDrift (False);
                       NoSuccessfulRun (Unknown) — only with spec.model columns
                       (:mod:`~driftwarden.monitor.model_status`)
PerformanceDegraded    PerformanceDropped, PerformanceRecoveryPending (True);
                       PerformanceWithinLimits, PerformanceDropPending,
                       PerformanceUndecided (False); NoSuccessfulRun (Unknown) —
                       debounced like PredictionDrifted; only with spec.model labels
                       (:mod:`~driftwarden.monitor.performance_status`)
RetrainingTriggered    RetrainingStarted (True); NotConfigured, Disabled,
                       NotDrifted, DriftPending, RunFailed, CooldownActive, NotTriggered,
                       RetrainingRejected, RetrainingFailed, RetrainingNotStarting
                       (False); RetrainingPending (Unknown)
=====================  ======================================================
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from driftwarden.analysis.settings import P_VALUE_METHODS
from driftwarden.errors import ConfigError
from driftwarden.monitor.backoff import rejection_message, rejection_reason
from driftwarden.monitor.debounce import (
    AlertState,
    Step,
    advance,
    drifting_since,
    pending_message,
    recent_runs,
    runs_text,
    state_from_status,
    unpersistent_message,
)
from driftwarden.monitor.model_status import (
    PREDICTION_DRIFTED,
    model_status,
    prediction_condition,
    prediction_pending,
    predictions_drifted,
)
from driftwarden.monitor.multivariate import multivariate_outcome
from driftwarden.monitor.outcome import SUCCEEDED, FeatureResult, RunOutcome, job_slot
from driftwarden.monitor.performance_status import (
    PERFORMANCE_DEGRADED,
    performance_condition,
    performance_pending,
    performance_state_degraded,
)
from driftwarden.monitor.retraining import (
    ALREADY_TRIGGERED,
    DISABLED,
    NOT_CONFIGURED,
    RetrainingRecord,
    decide_retraining,
)
from driftwarden.monitor.schedule import next_slot
from driftwarden.monitor.shards import run_phase
from driftwarden.monitor.spec import Monitor
from driftwarden.monitor.times import format_time, parse_time, utc

# ``(reason, message)`` of something in the way of a run: CamelCase reason, message for people.
Problem = tuple[str, str]

MAX_FEATURES = 20
MAX_CONDITION_MESSAGE = 1024

READY = "Ready"
DRIFTED = "Drifted"
RETRAINING_TRIGGERED = "RetrainingTriggered"

PENDING = "Pending"
RUNNING = "Running"
HEALTHY = "Healthy"
DRIFTED_PHASE = "Drifted"
FAILED = "Failed"
SUSPENDED = "Suspended"
PHASES = (PENDING, RUNNING, HEALTHY, DRIFTED_PHASE, FAILED, SUSPENDED)
# The status fields computed here; every function returns all of them (None = remove).
STATUS_FIELDS = (
    "observedGeneration",
    "phase",
    "conditions",
    "lastRun",
    "currentRun",
    "features",
    "lastRetraining",
    "lastSuccessfulRunTime",
    "nextRunTime",
    "failures",
    "jobCreation",
    # debounced alerting and the recent runs (monitor/debounce.py)
    "alerting",
    "driftingSince",
    "recentRuns",
    # the model's view (spec.model; monitor/model_status.py)
    "model",
)


# ---------------------------------------------------------------- conditions


def get_condition(
    conditions: Sequence[Mapping[str, Any]] | None, kind: str
) -> Mapping[str, Any] | None:
    """The condition of type ``kind``, or None."""
    for cond in conditions or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def set_condition(
    conditions: Sequence[Mapping[str, Any]] | None,
    type: str,  # named as the condition field
    status: str,
    reason: str,
    message: str,
    now: datetime,
    generation: int,
) -> list[dict[str, Any]]:
    """A new condition list with ``type`` set; other conditions are kept in order.

    ``lastTransitionTime`` is kept when ``status`` is unchanged (even if the reason
    or message change) and set to ``now`` when it flips or the condition is new.
    """
    if status not in ("True", "False", "Unknown"):
        raise ValueError(f"condition status must be True, False or Unknown, not {status!r}")
    message = (
        message
        if len(message) <= MAX_CONDITION_MESSAGE
        else message[: MAX_CONDITION_MESSAGE - 1] + "…"
    )
    out: list[dict[str, Any]] = []
    found = False
    for cond in conditions or []:
        if not isinstance(cond, Mapping):
            continue
        if cond.get("type") != type:
            out.append(copy.deepcopy(dict(cond)))
            continue
        found = True
        transition = cond.get("lastTransitionTime")
        if cond.get("status") != status or not transition:
            transition = format_time(now)
        out.append(_condition(type, status, reason, message, transition, generation))
    if not found:
        out.append(_condition(type, status, reason, message, format_time(now), generation))
    return out


def _condition(
    kind: str, status: str, reason: str, message: str, transition: str, generation: int
) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
        "observedGeneration": generation,
    }


# ---------------------------------------------------------------- pieces


def _severity(feature: FeatureResult) -> float:
    """How far past its threshold a feature is: score/threshold, or threshold/p for p-values."""
    if not feature.threshold:
        return 0.0
    if feature.method in P_VALUE_METHODS:
        # The p-value decides; a summary without one carries the p-value as its score.
        p_value = feature.p_value if feature.p_value is not None else feature.score
        return 0.0 if p_value is None else feature.threshold / max(p_value, 1e-300)
    return 0.0 if feature.score is None else feature.score / feature.threshold


def top_features(
    features: Sequence[FeatureResult], limit: int = MAX_FEATURES
) -> list[dict[str, Any]]:
    """At most ``limit`` features, drifted first, then by how far past the threshold, then by name."""
    ranked = sorted(features, key=lambda f: (not f.drifted, -_severity(f), f.name))
    return [f.to_status() for f in ranked[:limit]]


def last_run_status(outcome: RunOutcome) -> dict[str, Any]:
    """``status.lastRun`` for a finished run; fields a failed run lacks are None (removed)."""
    ok = outcome.succeeded
    rows = None
    if ok and (outcome.rows_reference is not None or outcome.rows_current is not None):
        rows = {"reference": outcome.rows_reference, "current": outcome.rows_current}
    return {
        "job": outcome.job,
        "slot": format_time(outcome.slot) if outcome.slot else None,
        "startTime": format_time(outcome.start_time) if outcome.start_time else None,
        "completionTime": format_time(outcome.completion_time) if outcome.completion_time else None,
        "outcome": outcome.outcome,
        "reason": outcome.reason,
        "drifted": outcome.drifted if ok else None,
        "rows": rows,
        "driftShare": outcome.drift_share if ok else None,
        "driftedFeatures": outcome.drifted_features if ok else None,
        "totalFeatures": outcome.total_features if ok else None,
        "report": outcome.report if ok else None,
        # history.html of the run: the trend of the monitor's last runs (history Job option)
        "history": outcome.history,
        "message": outcome.message,
        "durationSeconds": outcome.duration_seconds,
    }


def current_run_status(job: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """``status.currentRun`` from a running (or just created) analysis Job (a sharded run's
    scan Job under the run's name, or its merge Job): ``phase`` says which."""
    meta = job.get("metadata") or {}
    status = job.get("status") or {}
    slot = job_slot(job)
    start = (
        parse_time(status.get("startTime")) or parse_time(meta.get("creationTimestamp")) or utc(now)
    )
    return {
        "job": str(meta.get("name") or ""),
        "slot": format_time(slot) if slot else None,
        "startTime": format_time(start),
        "phase": run_phase(job),
    }


def last_slot(previous_status: Mapping[str, Any] | None) -> datetime | None:
    """The latest slot already started (``currentRun``) or finished (``lastRun``), for scheduling."""
    status = previous_status or {}
    slots = [
        parse_time((status.get(key) or {}).get("slot"))
        for key in ("currentRun", "lastRun")
        if isinstance(status.get(key), Mapping)
    ]
    known = [s for s in slots if s is not None]
    return max(known) if known else None


def is_new_outcome(previous_status: Mapping[str, Any] | None, outcome: RunOutcome) -> bool:
    """True when ``outcome`` is not recorded yet and not older than ``status.lastRun``.

    The controller acts (status, Events, metrics, retraining) only on new outcomes,
    so a restart that re-reads finished Jobs changes nothing.
    """
    last = (previous_status or {}).get("lastRun")
    if not isinstance(last, Mapping):
        return True
    if last.get("job") == outcome.job:
        return False
    recorded = parse_time(last.get("slot"))
    return recorded is None or outcome.slot is None or outcome.slot >= recorded


def _drift_message(
    last_run: Mapping[str, Any],
    features: Sequence[Mapping[str, Any]] | None,
    model: Mapping[str, Any] | None = None,
) -> str:
    share = last_run.get("driftShare")
    share_text = f"{share:.2f}" if isinstance(share, int | float) else "?"
    text = (
        f"{last_run.get('driftedFeatures', '?')} of {last_run.get('totalFeatures', '?')} features drifted "
        f"(share {share_text}) in run {last_run.get('job')}"
    )
    names = [f["name"] for f in features or [] if isinstance(f, Mapping) and f.get("drifted")]
    if names:
        text += ": " + ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
    joint = multivariate_outcome((model or {}).get("multivariate"))
    if joint is not None and joint.drifted:
        text += f"; {joint.text()}"
    return text


# ---------------------------------------------------------------- debounced verdict


def drift_step(
    monitor: Monitor, previous_status: Mapping[str, Any] | None, outcome: RunOutcome
) -> Step:
    """What ``outcome`` does to the monitor's debounced verdict (spec.alerting), from the
    state ``previous_status`` records: the same answer for the status, retraining and Events."""
    return advance(
        monitor.alerting,
        monitor.run.settings.detection.drift_share,
        state_from_status(previous_status),
        outcome,
    )


def unconfirmed_drift(step: Step) -> str | None:
    """Why a run that found drift may not start retraining yet (None: it may).

    Only asked of a run whose own verdict is drift (a clean run never retrains).
    """
    if step.confirmed:
        return None
    if step.counted:
        return pending_message(step)
    return unpersistent_message(step.settings)


def _recorded_step(monitor: Monitor, previous_status: Mapping[str, Any] | None) -> Step:
    """The step a run already recorded in ``previous_status`` took (it is not counted twice)."""
    state = state_from_status(previous_status) or AlertState()
    return Step(None, state, counted=state.drifted_runs > 0, settings=monitor.alerting)


def _drift_condition(
    state: AlertState | None,
    monitor: Monitor,
    last_run: Mapping[str, Any],
    features: Sequence[Mapping[str, Any]] | None,
    model: Mapping[str, Any] | None = None,
) -> tuple[str, str, str]:
    """The Drifted condition after a successful run: the debounced verdict, and what is pending."""
    text = _drift_message(last_run, features, model)
    raw = bool(last_run.get("drifted"))
    settings = monitor.alerting
    if state is None:  # a status from before debouncing without a Drifted condition
        state = AlertState(state=DRIFTED_PHASE if raw else HEALTHY)
    if state.drifted:
        if state.clean_runs:
            return (
                "True",
                "RecoveryPending",
                f"{runs_text('clean', state.clean_runs, settings.recover_after_runs, 'recoverAfterRuns')}"
                f", the monitor stays Drifted: {text}",
            )
        return ("True", "DriftDetected", text)
    if state.drifted_runs:
        return (
            "False",
            "DriftPending",
            f"{runs_text('drifted', state.drifted_runs, settings.drift_after_runs, 'driftAfterRuns')}"
            f": {text}",
        )
    if raw:
        return ("False", "DriftPending", f"{unpersistent_message(settings)}: {text}")
    return ("False", "NoDrift", text)


# ---------------------------------------------------------------- whole status


def _base(previous_status: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields of the previous status this module owns (others, like kopf's, are left alone)."""
    previous = previous_status or {}
    prev = {key: copy.deepcopy(previous.get(key)) for key in STATUS_FIELDS}
    conditions = prev.get("conditions")
    prev["conditions"] = (
        [dict(c) for c in conditions if isinstance(c, Mapping)]
        if isinstance(conditions, list)
        else []
    )
    return prev


def compute_status(
    monitor: Monitor,
    previous_status: Mapping[str, Any] | None,
    outcome: RunOutcome | None,
    now: datetime,
    current_job: Mapping[str, Any] | None = None,
    retraining: RetrainingRecord | None = None,
    *,
    current_problem: Problem | str | None = None,
    job_creation: Mapping[str, Any] | None = None,
    retraining_problem: Problem | None = None,
) -> dict[str, Any]:
    """The monitor's status after observing ``outcome`` (a run that just finished, or None).

    ``current_job`` is the analysis Job running now (None: none is running),
    ``retraining`` the retraining Job started for ``outcome`` if any, and
    ``current_problem`` why the running Job's pod cannot start, as ``(reason,
    message)`` (see :func:`~driftwarden.monitor.outcome.pod_problem`; a bare message
    is ``JobNotStarting``). ``job_creation`` is a refused create's backoff record
    (:mod:`~driftwarden.monitor.backoff`): Ready is False ``JobRejected`` until a
    create succeeds. ``retraining_problem`` is why retraining did not start or
    failed (``RetrainingRejected``, ``RetrainingFailed`` …): RetrainingTriggered False.
    Calling it again with the same inputs gives the same status: a failure is
    counted once per Job.
    """
    if isinstance(current_problem, str):
        current_problem = ("JobNotStarting", current_problem)
    return _compute(
        monitor,
        previous_status,
        outcome,
        now,
        current_job,
        retraining,
        current_problem,
        keep_current=False,
        job_creation=job_creation,
        retraining_problem=retraining_problem,
    )


def cannot_start(run: str, detail: str) -> str:
    """The Ready message of a run whose pod cannot start (``detail`` says why)."""
    return f"run {run} cannot start: {detail}"


def _compute(
    monitor: Monitor,
    previous_status: Mapping[str, Any] | None,
    outcome: RunOutcome | None,
    now: datetime,
    current_job: Mapping[str, Any] | None,
    retraining: RetrainingRecord | None,
    current_problem: Problem | None,
    *,
    keep_current: bool,
    job_creation: Mapping[str, Any] | None = None,
    retraining_problem: Problem | None = None,
) -> dict[str, Any]:
    prev = _base(previous_status)
    gen = monitor.generation
    conditions: list[dict[str, Any]] = prev["conditions"]
    last_run = prev.get("lastRun") if isinstance(prev.get("lastRun"), Mapping) else None
    features = prev.get("features")
    last_success = prev.get("lastSuccessfulRunTime")
    recorded_failures = prev.get("failures")
    failures: int = recorded_failures if isinstance(recorded_failures, int) else 0
    last_retraining = prev.get("lastRetraining")
    alerting = prev.get("alerting")
    since = prev.get("driftingSince")
    recent = prev.get("recentRuns")
    model = prev.get("model")
    step: Step | None = None

    if outcome is not None and last_run is not None:
        recorded = parse_time(last_run.get("slot"))
        if (
            outcome.job != last_run.get("job")
            and recorded
            and outcome.slot
            and outcome.slot < recorded
        ):
            outcome = None  # an older run finishing late does not replace a newer result
    if outcome is not None:
        same_job = last_run is not None and last_run.get("job") == outcome.job
        last_run = last_run_status(outcome)
        if outcome.succeeded:
            failures = 0
            features = top_features(outcome.features)
            model = model_status(model, outcome, monitor.alerting)
            last_success = format_time(outcome.completion_time or now)
        elif not same_job:
            failures += 1
        if not same_job:  # a run is counted once, whatever re-reads it
            recent = recent_runs(recent, outcome)
            if outcome.succeeded:
                step = drift_step(monitor, previous_status, outcome)
                alerting = step.after.to_status()
                since = drifting_since(step, outcome, since if isinstance(since, Mapping) else None)
    if retraining is not None:
        last_retraining = retraining.to_status()

    if keep_current:
        current_run = prev.get("currentRun")
    elif current_job is not None and (
        outcome is None or (current_job.get("metadata") or {}).get("name") != outcome.job
    ):
        current_run = current_run_status(current_job, now)
    else:
        current_run = None

    # Ready
    if last_run is not None and last_run.get("outcome") == SUCCEEDED:
        ready = (
            "True",
            "RunSucceeded",
            f"run {last_run.get('job')} succeeded: {last_run.get('message')}",
        )
    elif last_run is not None:
        ready = (
            "False",
            str(last_run.get("reason") or "RunFailed"),
            f"run {last_run.get('job')} failed: {last_run.get('message')}",
        )
    elif current_run is not None:
        ready = (
            "Unknown",
            "FirstRunInProgress",
            f"the first run, {current_run['job']}, is in progress",
        )
    else:
        ready = ("Unknown", PENDING, "no run has finished yet")
    if current_run is not None and current_problem:
        reason, detail = current_problem
        ready = ("False", reason, cannot_start(str(current_run["job"]), detail))
    if current_run is None and job_creation is not None:
        ready = ("False", rejection_reason(job_creation), rejection_message(job_creation))
    conditions = set_condition(conditions, READY, *ready, now, gen)

    # Drifted: the debounced verdict of the successful runs (spec.alerting)
    state = state_from_status({"alerting": alerting, "conditions": conditions})
    if last_run is not None and last_run.get("outcome") == SUCCEEDED:
        drift = _drift_condition(
            state, monitor, last_run, features, model if isinstance(model, Mapping) else None
        )
        conditions = set_condition(conditions, DRIFTED, *drift, now, gen)
    elif get_condition(conditions, DRIFTED) is None:
        conditions = set_condition(
            conditions, DRIFTED, "Unknown", "NoSuccessfulRun", "no run has succeeded yet", now, gen
        )

    # PredictionDrifted: the model's columns in the last successful run (spec.model)
    prediction = prediction_condition(monitor, {"model": model, "lastRun": last_run})
    if prediction is not None:
        conditions = set_condition(conditions, PREDICTION_DRIFTED, *prediction, now, gen)
    else:
        conditions = [c for c in conditions if c.get("type") != PREDICTION_DRIFTED]

    # PerformanceDegraded: the model's performance in the last successful run (spec.model)
    measured = performance_condition(monitor, {"model": model, "lastRun": last_run})
    if measured is not None:
        conditions = set_condition(conditions, PERFORMANCE_DEGRADED, *measured, now, gen)
    else:
        conditions = [c for c in conditions if c.get("type") != PERFORMANCE_DEGRADED]

    # RetrainingTriggered: what the last finished run did about retraining
    trigger: tuple[str, str, str] | None = None
    if monitor.retraining is None:
        trigger = ("False", NOT_CONFIGURED, "spec.retraining.jobTemplate is not set")
    elif not monitor.retraining.enabled:
        trigger = ("False", DISABLED, "spec.retraining.enabled is false")
    elif retraining is not None:
        trigger = (
            "True",
            "RetrainingStarted",
            f"run {retraining.run} started retraining Job {retraining.job}: {retraining.message}",
        )
    elif outcome is not None:
        previous_retraining = (previous_status or {}).get("lastRetraining")
        decision = decide_retraining(
            monitor,
            outcome,
            previous_retraining if isinstance(previous_retraining, Mapping) else None,
            now,
            unconfirmed=unconfirmed_drift(step or _recorded_step(monitor, previous_status)),
            predictions_pending=prediction_pending(monitor, previous_status, outcome),
            performance_pending=performance_pending(monitor, previous_status, outcome),
        )
        if decision.start:
            trigger = (
                "Unknown",
                "RetrainingPending",
                f"retraining is due ({decision.message}); its Job is not created yet",
            )
        elif decision.reason != ALREADY_TRIGGERED:
            trigger = ("False", decision.reason, decision.message)
    if retraining_problem is not None and monitor.retraining is not None:
        trigger = ("False", *retraining_problem)
    existing = get_condition(conditions, RETRAINING_TRIGGERED)
    if (
        trigger is None
        and existing is not None
        and existing.get("reason") == "RetrainingNotStarting"
        and isinstance(last_retraining, Mapping)
    ):
        # its pod got going after all
        trigger = (
            "True",
            "RetrainingStarted",
            f"run {last_retraining.get('run')} started retraining Job {last_retraining.get('job')}",
        )
    if trigger is None and (
        existing is None or existing.get("reason") in (NOT_CONFIGURED, DISABLED)
    ):
        trigger = ("False", "NotTriggered", "no run has triggered retraining yet")
    if trigger is not None:
        conditions = set_condition(conditions, RETRAINING_TRIGGERED, *trigger, now, gen)

    if monitor.suspend:
        phase = SUSPENDED
    elif current_run is not None:
        phase = RUNNING
    elif job_creation is not None:
        phase = FAILED
    elif last_run is None:
        phase = PENDING
    elif last_run.get("outcome") != SUCCEEDED:
        phase = FAILED
    elif state is not None:
        phase = DRIFTED_PHASE if state.drifted else HEALTHY
    else:
        phase = DRIFTED_PHASE if last_run.get("drifted") else HEALTHY
    if phase == HEALTHY and prediction is not None and predictions_drifted({"model": model}):
        phase = DRIFTED_PHASE  # the model's outputs moved, whatever the features do
    if phase == HEALTHY and measured is not None and performance_state_degraded({"model": model}):
        phase = DRIFTED_PHASE  # the model got worse (debounced), whatever the features do

    prev.update(
        {
            "observedGeneration": gen,
            "phase": phase,
            "conditions": conditions,
            "lastRun": last_run,
            "currentRun": current_run,
            "features": features if isinstance(features, list) else None,
            "lastRetraining": last_retraining if isinstance(last_retraining, Mapping) else None,
            "lastSuccessfulRunTime": last_success,
            "nextRunTime": None
            if monitor.suspend
            else format_time(next_slot(monitor.schedule, now)),
            "failures": failures,
            "jobCreation": None if current_run is not None else _copy(job_creation),
            "alerting": alerting if isinstance(alerting, Mapping) else None,
            "driftingSince": since if isinstance(since, Mapping) else None,
            "recentRuns": recent if isinstance(recent, list) else None,
            "model": model if isinstance(model, Mapping) and model else None,
        }
    )
    return prev


def _copy(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if record is None else copy.deepcopy(dict(record))


def suspended_status(
    monitor: Monitor, previous_status: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """Status of a monitor with ``spec.suspend: true``: phase Suspended, no next run.

    Results and conditions of earlier runs stay; a run already in progress is
    left to finish (as a suspended CronJob does), so ``currentRun`` is kept.
    """
    return _compute(monitor, previous_status, None, now, None, None, None, keep_current=True)


def invalid_spec_status(
    generation: int,
    previous_status: Mapping[str, Any] | None,
    error: ConfigError | str,
    now: datetime,
) -> dict[str, Any]:
    """Status of a monitor whose spec does not parse: phase Failed, Ready False InvalidSpec.

    ``generation`` is ``metadata.generation`` of the rejected spec. Earlier results
    stay; no next run is planned until the spec is fixed.
    """
    prev = _base(previous_status)
    message = str(error)
    conditions = set_condition(
        prev["conditions"], READY, "False", "InvalidSpec", message, now, generation
    )
    prev.update(
        {
            "observedGeneration": generation,
            "phase": FAILED,
            "conditions": conditions,
            "nextRunTime": None,
        }
    )
    return prev
