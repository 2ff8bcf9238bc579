"""The PerformanceDegraded condition and its Events, from ``status.model.performance``.

Pure, like the rest of ``monitor``. The verdict is the analysis Job's (a metric's drop
from the reference period larger than its maxDrop and significant;
analysis/model_performance.py); the operator records it, flips the condition and
posts Events. Everything that acts on it follows the debounced state, kept with the
same spec.alerting settings as prediction drift and its own streaks
(``status.model.performance``: ``state``, ``degradedRuns``, ``cleanRuns``, ``run``):
``driftAfterRuns`` degraded runs in a row make it Degraded, ``recoverAfterRuns`` runs
decided within limits make it Healthy again. The condition, the Warning Event, the
``driftwarden_model_performance_degraded`` gauge (and so the alert), the phase and
retraining (spec.model.performance.retrainOnDegradation) all follow that state, as
they do for prediction drift: one noisy window pages nobody when the owner asked for
three. A run too few labels left undecided counts neither way (it says nothing about
the model). With the defaults (1) each decided run's own verdict acts at once.

=====================  ======================================================
condition              reasons
=====================  ======================================================
PerformanceDegraded    PerformanceDropped, PerformanceRecoveryPending (True);
                       PerformanceWithinLimits, PerformanceDropPending,
                       PerformanceUndecided (False: too few labels or no
                       reference period); NoSuccessfulRun (Unknown).
                       Present only while spec.model measures performance.
=====================  ======================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftwarden.monitor.debounce import AlertingSettings, runs_text, verdict_streak
from driftwarden.monitor.outcome import RunOutcome
from driftwarden.monitor.spec import Monitor
from driftwarden.report.performance_summary import performance_text
from driftwarden.report.rootcause_summary import root_cause_text

PERFORMANCE_DEGRADED = "PerformanceDegraded"
DROPPED = "PerformanceDropped"
WITHIN = "PerformanceWithinLimits"
UNDECIDED = "PerformanceUndecided"
RECOVERED = "PerformanceRecovered"
DROP_PENDING = "PerformanceDropPending"
RECOVERY_PENDING = "PerformanceRecoveryPending"
DEGRADED_STATE, HEALTHY_STATE = "Degraded", "Healthy"


def watches_performance(monitor: Monitor) -> bool:
    """Whether the monitor measures performance with delayed labels (spec.model)."""
    model = monitor.run.settings.model
    return model is not None and model.performance is not None


def recorded_performance(status: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``status.model.performance`` of a status, when it holds one."""
    model = (status or {}).get("model")
    performance = model.get("performance") if isinstance(model, Mapping) else None
    return performance if isinstance(performance, Mapping) else None


def debounced_performance(
    previous: Mapping[str, Any] | None,
    measured: Mapping[str, Any],
    job: str,
    alerting: AlertingSettings,
) -> dict[str, Any]:
    """``status.model.performance`` after run ``job``: its verdict and the debounced state
    (:func:`~driftwarden.monitor.debounce.verdict_streak`: ``state``, ``degradedRuns``,
    ``cleanRuns``, ``run``). A run too few labels left undecided counts neither way."""
    flagged: bool | None = None  # undecided
    if measured.get("degraded") is True:
        flagged = True
    elif measured.get("decided") is True:
        flagged = False
    streak = verdict_streak(
        previous,
        flagged,
        job,
        alerting,
        flagged_state=DEGRADED_STATE,
        runs_key="degradedRuns",
        raw_key="degraded",
    )
    return {**measured, **streak}


def performance_after(
    monitor: Monitor, previous_status: Mapping[str, Any] | None, outcome: RunOutcome
) -> dict[str, Any] | None:
    """What ``status.model.performance`` becomes with ``outcome`` (None: it measured none)."""
    if not outcome.succeeded or outcome.performance is None:
        return None
    return debounced_performance(
        recorded_performance(previous_status), outcome.performance, outcome.job, monitor.alerting
    )


def performance_pending(
    monitor: Monitor, previous_status: Mapping[str, Any] | None, outcome: RunOutcome
) -> str | None:
    """Why the run's performance drop does not act yet (spec.alerting); None when it does
    or when the run found none."""
    after = performance_after(monitor, previous_status, outcome)
    if after is None or after.get("degraded") is not True or after["state"] == DEGRADED_STATE:
        return None
    return runs_text(
        "performance degraded",
        after["degradedRuns"],
        monitor.alerting.drift_after_runs,
        "driftAfterRuns",
    )


def performance_state_degraded(status: Mapping[str, Any] | None) -> bool:
    """Whether ``status`` records the model's performance as Degraded: the debounced state
    the phase follows (a status from before debouncing: the last run's own verdict)."""
    recorded = recorded_performance(status)
    if recorded is None:
        return False
    if recorded.get("state") in (DEGRADED_STATE, HEALTHY_STATE):
        return recorded["state"] == DEGRADED_STATE
    return recorded.get("degraded") is True


def _count(entry: Mapping[str, Any], key: str) -> int:
    value = entry.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def performance_condition(
    monitor: Monitor, status: Mapping[str, Any]
) -> tuple[str, str, str] | None:
    """``(status, reason, message)`` of PerformanceDegraded; None: no such condition.

    True while the debounced state is Degraded (``PerformanceRecoveryPending`` when the
    last run did not find the drop again), False otherwise (``PerformanceDropPending``
    when the last run found a drop that spec.alerting does not count as enough yet)."""
    if not watches_performance(monitor):
        return None
    recorded = recorded_performance(status)
    if recorded is None:
        return ("Unknown", "NoSuccessfulRun", "no successful run has measured the model yet")
    last_run = status.get("lastRun") if isinstance(status.get("lastRun"), Mapping) else {}
    text = f"{performance_text(recorded)} in run {(last_run or {}).get('job')}"
    raw = recorded.get("degraded") is True
    decided = recorded.get("decided") is True
    settings = monitor.alerting
    if performance_state_degraded(status):
        if raw:
            return ("True", DROPPED, text)
        clean = runs_text(
            "clean", _count(recorded, "cleanRuns"), settings.recover_after_runs, "recoverAfterRuns"
        )
        why = clean if decided else f"undecided, which counts neither way; {clean}"
        return ("True", RECOVERY_PENDING, f"{why}: {text}")
    if raw:
        runs = runs_text(
            "performance degraded",
            _count(recorded, "degradedRuns"),
            settings.drift_after_runs,
            "driftAfterRuns",
        )
        return ("False", DROP_PENDING, f"{runs}: {text}")
    if not decided:
        return ("False", UNDECIDED, text)
    return ("False", WITHIN, text)


def performance_events(
    outcome: RunOutcome,
    previous_status: Mapping[str, Any] | None,
    monitor: Monitor | None = None,
) -> list[tuple[str, str, str]]:
    """``(type, reason, message)`` of the Events a finished run posts about performance.

    Debounced with ``monitor``'s spec.alerting (the defaults without it), like the
    prediction-drift Events: a Warning ``PerformanceDegraded`` for every degraded run
    while the state is Degraded (as DriftDetected is for features), a Normal
    ``PerformanceDropPending`` for a degraded run spec.alerting does not count as
    enough yet, a Normal ``PerformanceRecovered`` when the state turns Healthy again.
    """
    recorded = outcome.performance
    if not outcome.succeeded or recorded is None:
        return []
    alerting = monitor.alerting if monitor is not None else AlertingSettings()
    after = debounced_performance(
        recorded_performance(previous_status), recorded, outcome.job, alerting
    )
    confirmed = after["state"] == DEGRADED_STATE
    text = performance_text(recorded)
    if recorded.get("degraded") is True and not confirmed:
        pending = runs_text(
            "performance degraded",
            after["degradedRuns"],
            alerting.drift_after_runs,
            "driftAfterRuns",
        )
        return [("Normal", DROP_PENDING, f"run {outcome.job}: {text}; {pending}")]
    if recorded.get("degraded") is True:
        report = outcome.report or "not written"
        # The root cause (spec.model) says which features or segment explain it.
        cause = root_cause_text(outcome.root_cause)
        why = "" if cause is None else f"; {cause}"
        return [
            ("Warning", PERFORMANCE_DEGRADED, f"run {outcome.job}: {text}{why}; report {report}")
        ]
    if not confirmed and performance_state_degraded(previous_status):
        return [("Normal", RECOVERED, f"run {outcome.job}: {text}")]
    return []
