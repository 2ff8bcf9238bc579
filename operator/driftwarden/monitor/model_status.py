"""``status.model``: the model's view of the last successful run, its condition and Events.

Pure, like the rest of ``monitor``. Each part of spec.model owns one key of
``status.model`` (``predictions`` here); a run that succeeded replaces its part, a
failed run keeps the last verdict (as ``status.features`` does).

Prediction and target drift are debounced like the features' verdict, with the same
spec.alerting settings and their own streaks (``status.model.predictions``: ``state``,
``driftedRuns``, ``cleanRuns``, ``run``): the model's columns must drift in
``driftAfterRuns`` consecutive successful runs before the condition, the phase, the
gauge, the Warning Event and retraining act, and stay clean ``recoverAfterRuns`` runs
before they clear. With the defaults (1) each run's own verdict acts at once.

=====================  ======================================================
condition              reasons
=====================  ======================================================
PredictionDrifted      PredictionDriftDetected, PredictionRecoveryPending (True);
                       NoPredictionDrift, PredictionDriftPending (False);
                       NoSuccessfulRun (Unknown). Present only while spec.model
                       names prediction or target columns.
=====================  ======================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftwarden.monitor.debounce import AlertingSettings, runs_text, verdict_streak
from driftwarden.monitor.outcome import (
    PredictionsResult,
    RunOutcome,
    predictions_result,
    predictions_text,
)
from driftwarden.monitor.performance_status import debounced_performance
from driftwarden.monitor.spec import Monitor
from driftwarden.report.rootcause_summary import root_cause_text

PREDICTION_DRIFTED = "PredictionDrifted"
DETECTED = "PredictionDriftDetected"
RESOLVED = "PredictionDriftResolved"
NOT_DRIFTED = "NoPredictionDrift"
PENDING = "PredictionDriftPending"
RECOVERY_PENDING = "PredictionRecoveryPending"
DRIFTED_STATE, HEALTHY_STATE = "Drifted", "Healthy"


def _count(entry: Mapping[str, Any], key: str) -> int:
    value = entry.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def debounced_predictions(
    previous: Mapping[str, Any] | None,
    result: PredictionsResult,
    job: str,
    alerting: AlertingSettings,
) -> dict[str, Any]:
    """``status.model.predictions`` after run ``job``: its verdict and the debounced state
    (:func:`~driftwarden.monitor.debounce.verdict_streak`: ``state``, ``driftedRuns``,
    ``cleanRuns``, ``run``)."""
    streak = verdict_streak(
        previous,
        result.drifted,
        job,
        alerting,
        flagged_state=DRIFTED_STATE,
        runs_key="driftedRuns",
        raw_key="drifted",
    )
    return {**result.to_status(), **streak}


def predictions_after(
    monitor: Monitor, previous_status: Mapping[str, Any] | None, outcome: RunOutcome
) -> dict[str, Any] | None:
    """What ``status.model.predictions`` becomes with ``outcome`` (None: it compared none)."""
    if not outcome.succeeded or outcome.predictions is None:
        return None
    return debounced_predictions(
        recorded_predictions(previous_status), outcome.predictions, outcome.job, monitor.alerting
    )


def prediction_pending(
    monitor: Monitor, previous_status: Mapping[str, Any] | None, outcome: RunOutcome
) -> str | None:
    """Why the run's prediction drift does not act yet (spec.alerting); None when it does
    or when the run found none."""
    after = predictions_after(monitor, previous_status, outcome)
    if after is None or not after["drifted"] or after["state"] == DRIFTED_STATE:
        return None
    return runs_text(
        "predictions drifted",
        after["driftedRuns"],
        monitor.alerting.drift_after_runs,
        "driftAfterRuns",
    )


def watches_predictions(monitor: Monitor) -> bool:
    """Whether the monitor names prediction or target columns (spec.model)."""
    model = monitor.run.settings.model
    return model is not None and bool(model.model_columns)


def model_status(
    previous: Any, outcome: RunOutcome | None, alerting: AlertingSettings | None = None
) -> dict[str, Any] | None:
    """``status.model`` after ``outcome`` (None: no run finished); None when it holds nothing.

    ``alerting`` (spec.alerting) debounces the prediction verdict (:func:`debounced_predictions`).
    """
    model = dict(previous) if isinstance(previous, Mapping) else {}
    if outcome is not None and outcome.succeeded:
        if outcome.predictions is not None:
            before = model.get("predictions")
            model["predictions"] = debounced_predictions(
                before if isinstance(before, Mapping) else None,
                outcome.predictions,
                outcome.job,
                alerting or AlertingSettings(),
            )
        else:
            model.pop("predictions", None)
        if outcome.root_cause is not None:
            model["rootCause"] = dict(outcome.root_cause)
        else:
            model.pop("rootCause", None)
        if outcome.performance is not None:  # debounced like the predictions
            before = model.get("performance")
            model["performance"] = debounced_performance(
                before if isinstance(before, Mapping) else None,
                outcome.performance,
                outcome.job,
                alerting or AlertingSettings(),
            )
        else:
            model.pop("performance", None)
        if outcome.multivariate is not None:  # monitor/multivariate.py
            model["multivariate"] = outcome.multivariate.to_status(outcome.job)
        else:
            model.pop("multivariate", None)
    return model or None


def recorded_predictions(status: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``status.model.predictions`` of a status, when it holds one."""
    model = (status or {}).get("model")
    predictions = model.get("predictions") if isinstance(model, Mapping) else None
    return predictions if isinstance(predictions, Mapping) else None


def predictions_drifted(status: Mapping[str, Any] | None) -> bool:
    """Whether ``status`` records the model's columns as Drifted (the debounced state; a
    status from before debouncing: the last successful run's own verdict)."""
    recorded = recorded_predictions(status)
    if recorded is None:
        return False
    if recorded.get("state") in (DRIFTED_STATE, HEALTHY_STATE):
        return recorded["state"] == DRIFTED_STATE
    return recorded.get("drifted") is True


def _status_text(recorded: Mapping[str, Any], job: Any) -> str:
    result = predictions_result({**recorded, "retrain": False})
    text = predictions_text(result) if result is not None else "no prediction drift"
    columns = recorded.get("columns")
    total = len(columns) if isinstance(columns, list) else 0
    return f"{text} ({recorded.get('driftedColumns', 0)} of {total} model columns) in run {job}"


def prediction_condition(
    monitor: Monitor, status: Mapping[str, Any]
) -> tuple[str, str, str] | None:
    """``(status, reason, message)`` of the PredictionDrifted condition; None: no such condition."""
    if not watches_predictions(monitor):
        return None
    recorded = recorded_predictions(status)
    last_run = status.get("lastRun") if isinstance(status.get("lastRun"), Mapping) else {}
    if recorded is None:
        return ("Unknown", "NoSuccessfulRun", "no successful run has compared the model's columns")
    text = _status_text(recorded, (last_run or {}).get("job"))
    raw = recorded.get("drifted") is True
    settings = monitor.alerting
    if predictions_drifted(status):
        if raw:
            return ("True", DETECTED, text)
        clean = _count(recorded, "cleanRuns")
        return (
            "True",
            RECOVERY_PENDING,
            f"{runs_text('clean', clean, settings.recover_after_runs, 'recoverAfterRuns')}: {text}",
        )
    if raw:
        runs = _count(recorded, "driftedRuns")
        return (
            "False",
            PENDING,
            f"{runs_text('drifted', runs, settings.drift_after_runs, 'driftAfterRuns')}: {text}",
        )
    return ("False", NOT_DRIFTED, text)


def _cause(outcome: RunOutcome) -> str:
    """``; top cause: income (62%)`` when the run's root cause names one (spec.model)."""
    text = root_cause_text(outcome.root_cause)
    return "" if text is None else f"; {text}"


def prediction_events(
    outcome: RunOutcome, previous_status: Mapping[str, Any] | None, monitor: Monitor | None = None
) -> list[tuple[str, str, str]]:
    """``(type, reason, message)`` of the Events a finished run posts about prediction drift.

    A Warning ``PredictionDriftDetected`` for every run that finds it while the model's
    columns are Drifted (as DriftDetected is for features), a Normal
    ``PredictionDriftPending`` while spec.alerting waits for more drifted runs, a Normal
    ``PredictionDriftResolved`` when they are Healthy again.
    """
    result = outcome.predictions
    if not outcome.succeeded or result is None:
        return []
    after = (
        predictions_after(monitor, previous_status, outcome)
        if monitor is not None
        else debounced_predictions(
            recorded_predictions(previous_status), result, outcome.job, AlertingSettings()
        )
    )
    assert after is not None
    confirmed = after["state"] == DRIFTED_STATE
    if result.drifted and not confirmed and monitor is not None:
        pending = prediction_pending(monitor, previous_status, outcome)
        return [("Normal", PENDING, f"run {outcome.job}: {predictions_text(result)}; {pending}")]
    if result.drifted:
        return [
            (
                "Warning",
                DETECTED,
                f"run {outcome.job}: {predictions_text(result)}{_cause(outcome)}; "
                f"report {outcome.report or 'not written'}",
            )
        ]
    if predictions_drifted(previous_status) and not confirmed:
        return [("Normal", RESOLVED, f"run {outcome.job}: {predictions_text(result)}")]
    return []
