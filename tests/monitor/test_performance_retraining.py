"""A performance drop acting on its own (spec.model.performance.retrainOnDegradation):
the phase, the debounced state, the retraining decision, the Job's environment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from driftwarden.errors import ConfigError
from driftwarden.monitor.job import retraining_job
from driftwarden.monitor.outcome import outcome_from_summary
from driftwarden.monitor.performance_status import performance_pending
from driftwarden.monitor.retraining import decide_retraining, unrecorded_retraining
from driftwarden.monitor.spec import parse_monitor
from driftwarden.monitor.status import compute_status
from driftwarden.report.performance_summary import summary_performance
from driftwarden.report.summary import dump_summary, parse_summary

from .helpers import RETRAINING, manifest, summary
from .test_performance_status import MODEL, _section

NOW = datetime(2024, 5, 2, 10, 5, tzinfo=UTC)


def _monitor(performance: dict | None = None, alerting: dict | None = None):
    model = {**MODEL, "performance": performance or {}}
    return parse_monitor(
        manifest(model=model, retraining={**RETRAINING, "cooldown": "1h"}, alerting=alerting)
    )


def _outcome(degraded: bool, job: str = "run-1", decided: bool = True):
    """A run whose features did not drift, with its performance verdict."""
    doc = summary(
        drifted=False,
        driftShare=0.0,
        driftedFeatures=0,
        features=[{**f, "drifted": False} for f in summary()["features"]],
        performance=summary_performance(_section(degraded, decided)),
    )
    checked = parse_summary(dump_summary(doc))
    return outcome_from_summary(job, checked, slot=datetime(2024, 5, 2, 10, tzinfo=UTC))


def _decide(monitor, outcome, previous=None):
    return decide_retraining(
        monitor,
        outcome,
        None,
        NOW,
        performance_pending=performance_pending(monitor, previous, outcome),
    )


def test_the_flag_defaults_to_true_and_refuses_a_non_boolean():
    assert _monitor().run.settings.model.performance.retrain_on_degradation is True
    off = _monitor({"retrainOnDegradation": False})
    assert off.run.settings.model.performance.retrain_on_degradation is False
    with pytest.raises(ConfigError, match=r"spec\.model\.performance\.retrainOnDegradation"):
        _monitor({"retrainOnDegradation": "yes"})


def test_a_degradation_alone_makes_the_monitor_drifted_and_starts_retraining():
    monitor = _monitor()
    outcome = _outcome(True)
    assert not outcome.drifted and outcome.predictions is None
    status = compute_status(monitor, None, outcome, NOW)
    assert status["phase"] == "Drifted"
    assert status["model"]["performance"]["state"] == "Degraded"
    decision = _decide(monitor, outcome)
    assert decision.start and decision.reason == "PerformanceDegraded"
    assert "performance degraded (accuracy)" in decision.message
    assert "0 of 4 features" in decision.message
    # A clean run is Healthy and retrains nothing.
    clean = _outcome(False, "run-2")
    assert compute_status(monitor, None, clean, NOW)["phase"] == "Healthy"
    assert _decide(monitor, clean).reason == "NotDrifted"


def test_retrain_on_degradation_false_reports_it_but_never_retrains():
    monitor = _monitor({"retrainOnDegradation": False})
    outcome = _outcome(True)
    assert compute_status(monitor, None, outcome, NOW)["phase"] == "Drifted"
    assert _decide(monitor, outcome).reason == "NotDrifted"
    # Feature drift still retrains, with its own reason.
    drifted = outcome_from_summary(
        "run-2",
        parse_summary(dump_summary(summary(performance=summary_performance(_section(True))))),
    )
    assert _decide(monitor, drifted).reason == "DriftDetected"


def test_a_degradation_is_debounced_with_spec_alerting():
    """driftAfterRuns 2, recoverAfterRuns 2: the first degraded run is pending, an undecided
    run counts neither way, the second degraded run acts; one clean run keeps it Degraded."""
    monitor = _monitor(alerting={"driftAfterRuns": 2, "recoverAfterRuns": 2})
    first = _outcome(True, "run-1")
    assert performance_pending(monitor, None, first) == (
        "performance degraded in 1 of 2 required runs (spec.alerting.driftAfterRuns)"
    )
    decision = _decide(monitor, first)
    assert not decision.start and decision.reason == "DriftPending"
    status = compute_status(monitor, None, first, NOW)
    assert status["phase"] == "Healthy"
    assert compute_status(monitor, status, first, NOW)["model"] == status["model"]  # re-read

    undecided = _outcome(False, "run-2", decided=False)
    status = compute_status(monitor, status, undecided, NOW)
    assert status["model"]["performance"]["degradedRuns"] == 1
    assert status["phase"] == "Healthy"

    second = _outcome(True, "run-3")
    decision = _decide(monitor, second, status)
    assert decision.start and decision.reason == "PerformanceDegraded"
    status = compute_status(monitor, status, second, NOW)
    assert status["phase"] == "Drifted"
    assert status["model"]["performance"]["state"] == "Degraded"

    status = compute_status(monitor, status, _outcome(False, "run-4"), NOW)
    assert status["phase"] == "Drifted"  # recovery pending
    status = compute_status(monitor, status, _outcome(False, "run-5"), NOW)
    assert status["phase"] == "Healthy"
    assert status["model"]["performance"]["cleanRuns"] == 2


def test_the_job_gets_the_degraded_metrics_and_the_record_its_reason():
    monitor = _monitor()
    job = retraining_job(monitor, _outcome(True), NOW, "PerformanceDegraded")
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DRIFTWARDEN_DEGRADED_METRICS"] == "accuracy"
    record = unrecorded_retraining(job, None, NOW)
    assert record is not None and record.reason == "PerformanceDegraded"
    assert "performance degraded" in record.message
    quiet = retraining_job(monitor, _outcome(False), NOW)
    env = {e["name"]: e["value"] for e in quiet["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DRIFTWARDEN_DEGRADED_METRICS"] == ""


def test_the_condition_gauge_and_events_follow_the_debounced_state():
    """With driftAfterRuns 2, recoverAfterRuns 2 the PerformanceDegraded condition, the
    driftwarden_model_performance_degraded gauge (what the alert reads) and the Events
    follow the debounced state, as PredictionDrifted does: one degraded run neither pages
    nor flips the condition, while the phase and retraining also wait for the second."""
    from driftwarden.controller.metrics import gauges_from_status
    from driftwarden.monitor.performance_status import performance_events

    from .test_performance_status import _condition

    monitor = _monitor(alerting={"driftAfterRuns": 2, "recoverAfterRuns": 2})

    def step(previous, outcome):
        events = [(t, r) for t, r, _ in performance_events(outcome, previous, monitor)]
        status = compute_status(monitor, previous, outcome, NOW)
        condition = _condition(status)
        gauge = gauges_from_status(status).performance_degraded
        return status, (condition["status"], condition["reason"]), gauge, events

    status, condition, gauge, events = step(None, _outcome(True, "run-1"))
    assert condition == ("False", "PerformanceDropPending")
    assert "performance degraded in 1 of 2 required runs" in _condition(status)["message"]
    assert gauge == 0.0 and events == [("Normal", "PerformanceDropPending")]

    status, condition, gauge, events = step(status, _outcome(False, "run-2", decided=False))
    assert condition == ("False", "PerformanceUndecided") and gauge == 0.0 and events == []

    status, condition, gauge, events = step(status, _outcome(True, "run-3"))
    assert condition == ("True", "PerformanceDropped")
    assert gauge == 1.0 and events == [("Warning", "PerformanceDegraded")]

    # Still Degraded after one clean run (and after an undecided one): no recovery yet.
    status, condition, gauge, events = step(status, _outcome(False, "run-4"))
    assert condition == ("True", "PerformanceRecoveryPending")
    assert "clean in 1 of 2 required runs" in _condition(status)["message"]
    assert gauge == 1.0 and events == []
    status, condition, gauge, events = step(status, _outcome(False, "run-5", decided=False))
    assert condition == ("True", "PerformanceRecoveryPending") and gauge == 1.0 and events == []

    status, condition, gauge, events = step(status, _outcome(False, "run-6"))
    assert condition == ("False", "PerformanceWithinLimits")
    assert gauge == 0.0 and events == [("Normal", "PerformanceRecovered")]
    assert status["phase"] == "Healthy"
