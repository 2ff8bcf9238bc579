"""The PerformanceDegraded condition and its Events, from ``status.model.performance``.

Pure, like the rest of ``monitor``. The verdict is the analysis Job's (a metric's drop
from the reference period larger than its maxDrop and significant;
analysis/model_performance.py); the operator records it, flips the condition and
posts Events. spec.alerting debounces the feature verdict only.

=====================  ======================================================
condition              reasons
=====================  ======================================================
PerformanceDegraded    PerformanceDropped (True); PerformanceWithinLimits
                       (False); PerformanceUndecided (False: too few labels or
                       no reference period); NoSuccessfulRun (Unknown).
                       Present only while spec.model measures performance.
=====================  ======================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftwarden.monitor.outcome import RunOutcome
from driftwarden.monitor.spec import Monitor
from driftwarden.report.performance_summary import performance_text
from driftwarden.report.rootcause_summary import root_cause_text

PERFORMANCE_DEGRADED = "PerformanceDegraded"
DROPPED = "PerformanceDropped"
WITHIN = "PerformanceWithinLimits"
UNDECIDED = "PerformanceUndecided"
RECOVERED = "PerformanceRecovered"


def watches_performance(monitor: Monitor) -> bool:
    """Whether the monitor measures performance with delayed labels (spec.model)."""
    model = monitor.run.settings.model
    return model is not None and model.performance is not None


def recorded_performance(status: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``status.model.performance`` of a status, when it holds one."""
    model = (status or {}).get("model")
    performance = model.get("performance") if isinstance(model, Mapping) else None
    return performance if isinstance(performance, Mapping) else None


def performance_degraded(status: Mapping[str, Any] | None) -> bool:
    """Whether the last successful run recorded in ``status`` found performance degraded."""
    recorded = recorded_performance(status)
    return recorded is not None and recorded.get("degraded") is True


def performance_condition(
    monitor: Monitor, status: Mapping[str, Any]
) -> tuple[str, str, str] | None:
    """``(status, reason, message)`` of PerformanceDegraded; None: no such condition."""
    if not watches_performance(monitor):
        return None
    recorded = recorded_performance(status)
    if recorded is None:
        return ("Unknown", "NoSuccessfulRun", "no successful run has measured the model yet")
    last_run = status.get("lastRun") if isinstance(status.get("lastRun"), Mapping) else {}
    text = f"{performance_text(recorded)} in run {(last_run or {}).get('job')}"
    if recorded.get("degraded") is True:
        return ("True", DROPPED, text)
    if recorded.get("decided") is not True:
        return ("False", UNDECIDED, text)
    return ("False", WITHIN, text)


def performance_events(
    outcome: RunOutcome, previous_status: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    """``(type, reason, message)`` of the Events a finished run posts about performance.

    A Warning ``PerformanceDegraded`` for every run that finds it (as DriftDetected is
    for features), a Normal ``PerformanceRecovered`` for the first run after that
    decides it is within limits again.
    """
    recorded = outcome.performance
    if not outcome.succeeded or recorded is None:
        return []
    text = performance_text(recorded)
    if recorded.get("degraded") is True:
        report = outcome.report or "not written"
        # The root cause (spec.model) says which features or segment explain it.
        cause = root_cause_text(outcome.root_cause)
        why = "" if cause is None else f"; {cause}"
        return [
            ("Warning", PERFORMANCE_DEGRADED, f"run {outcome.job}: {text}{why}; report {report}")
        ]
    if recorded.get("decided") is True and performance_degraded(previous_status):
        return [("Normal", RECOVERED, f"run {outcome.job}: {text}")]
    return []
