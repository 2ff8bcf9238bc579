"""``status.model``: the model's view of the last successful run, its condition and Events.

Pure, like the rest of ``monitor``. Each part of spec.model owns one key of
``status.model`` (``predictions`` here); a run that succeeded replaces its part, a
failed run keeps the last verdict (as ``status.features`` does).

Prediction and target drift act on each run's own verdict: spec.alerting debounces the
feature verdict only (its streaks count features against driftShare).

=====================  ======================================================
condition              reasons
=====================  ======================================================
PredictionDrifted      PredictionDriftDetected (True); NoPredictionDrift (False);
                       NoSuccessfulRun (Unknown). Present only while spec.model
                       names prediction or target columns.
=====================  ======================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftwarden.monitor.outcome import RunOutcome, predictions_result, predictions_text
from driftwarden.monitor.spec import Monitor
from driftwarden.report.rootcause_summary import root_cause_text

PREDICTION_DRIFTED = "PredictionDrifted"
DETECTED = "PredictionDriftDetected"
RESOLVED = "PredictionDriftResolved"
NOT_DRIFTED = "NoPredictionDrift"


def watches_predictions(monitor: Monitor) -> bool:
    """Whether the monitor names prediction or target columns (spec.model)."""
    model = monitor.run.settings.model
    return model is not None and bool(model.model_columns)


def model_status(previous: Any, outcome: RunOutcome | None) -> dict[str, Any] | None:
    """``status.model`` after ``outcome`` (None: no run finished); None when it holds nothing."""
    model = dict(previous) if isinstance(previous, Mapping) else {}
    if outcome is not None and outcome.succeeded:
        if outcome.predictions is not None:
            model["predictions"] = outcome.predictions.to_status()
        else:
            model.pop("predictions", None)
        if outcome.root_cause is not None:
            model["rootCause"] = dict(outcome.root_cause)
        else:
            model.pop("rootCause", None)
        if outcome.performance is not None:
            model["performance"] = dict(outcome.performance)
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
    """Whether the last successful run recorded in ``status`` found prediction or target drift."""
    recorded = recorded_predictions(status)
    return recorded is not None and recorded.get("drifted") is True


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
    if recorded.get("drifted") is True:
        return ("True", DETECTED, text)
    return ("False", NOT_DRIFTED, text)


def _cause(outcome: RunOutcome) -> str:
    """``; top cause: income (62%)`` when the run's root cause names one (spec.model)."""
    text = root_cause_text(outcome.root_cause)
    return "" if text is None else f"; {text}"


def prediction_events(
    outcome: RunOutcome, previous_status: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    """``(type, reason, message)`` of the Events a finished run posts about prediction drift.

    A Warning ``PredictionDriftDetected`` for every run that finds it (as DriftDetected
    is for features), a Normal ``PredictionDriftResolved`` for the first clean run after.
    """
    result = outcome.predictions
    if not outcome.succeeded or result is None:
        return []
    if result.drifted:
        return [
            (
                "Warning",
                DETECTED,
                f"run {outcome.job}: {predictions_text(result)}{_cause(outcome)}; "
                f"report {outcome.report or 'not written'}",
            )
        ]
    if predictions_drifted(previous_status):
        return [("Normal", RESOLVED, f"run {outcome.job}: {predictions_text(result)}")]
    return []
