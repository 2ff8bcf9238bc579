"""Performance with delayed labels through the operator's pure layer: report → summary →
outcome → status.model.performance, the PerformanceDegraded condition, Events, gauges."""

from __future__ import annotations

from datetime import UTC, datetime

from driftwarden.controller.metrics import gauges_from_status
from driftwarden.monitor.outcome import outcome_from_summary
from driftwarden.monitor.performance_status import performance_events
from driftwarden.monitor.spec import parse_monitor
from driftwarden.monitor.status import compute_status
from driftwarden.report.performance_summary import summary_performance
from driftwarden.report.summary import dump_summary, parse_summary

from .helpers import manifest, summary

NOW = datetime(2024, 5, 2, 10, 5, tzinfo=UTC)
MODEL = {
    "predictions": [{"column": "churn_predicted", "kind": "label"}],
    "idColumn": "request_id",
    "labels": {"path": "s3://logs/churn/outcomes/", "labelColumn": "churned"},
    "performance": {},
}


def _section(degraded: bool, decided: bool = True) -> dict:
    """A report's performance section (analysis/model_performance.py's shape)."""
    current = 0.78 if degraded else 0.9
    return {
        "task": "classification",
        "current": {
            "coverage": {
                "predictions": 2500,
                "labeled": 2000,
                "pending": 400,
                "unlabeled": 100,
                "withoutId": 0,
                "withoutPrediction": 0,
                "share": 0.8,
            },
            "rows": 2000,
            "metrics": {},
        },
        "comparison": [
            {
                "metric": "precision",
                "current": 0.7,
                "reference": 0.72,
                "drop": 0.02,
                "pValue": 0.3,
                "maxDrop": None,
                "degraded": False,
            },
            {
                "metric": "accuracy",
                "current": current,
                "reference": 0.91,
                "drop": 0.91 - current,
                "pValue": 1e-9,
                "maxDrop": 0.05,
                "degraded": degraded,
            },
        ],
        "decided": decided,
        "degraded": degraded,
        "degradedMetrics": ["accuracy"] if degraded else [],
    }


def _outcome(section: dict, job: str = "churn-202405021000-aaaa1111"):
    doc = summary(performance=summary_performance(section))
    checked = parse_summary(dump_summary(doc))
    return outcome_from_summary(job, checked, slot=datetime(2024, 5, 2, 10, tzinfo=UTC))


def _condition(status: dict) -> dict | None:
    return next((c for c in status["conditions"] if c["type"] == "PerformanceDegraded"), None)


def test_a_degraded_run_sets_the_condition_the_status_and_a_warning_event():
    monitor = parse_monitor(manifest(model=MODEL))
    outcome = _outcome(_section(True))
    assert (
        "accuracy 0.78 (reference 0.91): performance degraded (accuracy); 80% labeled, 400 pending"
        in (outcome.message)
    )
    status = compute_status(monitor, None, outcome, NOW)
    condition = _condition(status)
    assert (condition["status"], condition["reason"]) == ("True", "PerformanceDropped")
    assert status["model"]["performance"] == {
        "degraded": True,
        "decided": True,
        "metric": "accuracy",
        "current": 0.78,
        "reference": 0.91,
        "drop": 0.13,
        "degradedMetrics": ["accuracy"],
        "coverage": {"predictions": 2500, "labeled": 2000, "pending": 400, "share": 0.8},
        "run": "churn-202405021000-aaaa1111",
        "state": "Degraded",
        "degradedRuns": 1,
        "cleanRuns": 0,
    }
    events = performance_events(outcome, None)
    assert [(t, r) for t, r, _ in events] == [("Warning", "PerformanceDegraded")]
    # A clean run recovers (Normal Event), an undecided one does not claim recovery.
    clean = _outcome(_section(False), "run-2")
    assert [(t, r) for t, r, _ in performance_events(clean, status)] == [
        ("Normal", "PerformanceRecovered")
    ]
    undecided = _outcome(_section(False, decided=False), "run-3")
    assert performance_events(undecided, status) == []
    after = compute_status(monitor, status, undecided, NOW)
    # An undecided run counts neither way: the model stays Degraded, as the phase says.
    assert (_condition(after)["status"], _condition(after)["reason"]) == (
        "True",
        "PerformanceRecoveryPending",
    )
    assert after["phase"] == "Drifted"
    first = compute_status(monitor, None, undecided, NOW)
    assert (_condition(first)["status"], _condition(first)["reason"]) == (
        "False",
        "PerformanceUndecided",
    )
    # A failed run keeps the last verdict.
    failed = outcome_from_summary(
        "run-4", {"v": 1, "error": {"reason": "DataNotFound", "message": "x"}}
    )
    assert compute_status(monitor, status, failed, NOW)["model"] == status["model"]


def test_the_gauges_follow_status_model_performance():
    monitor = parse_monitor(manifest(model=MODEL))
    status = compute_status(monitor, None, _outcome(_section(True)), NOW)
    gauges = gauges_from_status(status)
    assert gauges.performance_degraded == 1.0 and gauges.label_coverage == 0.8
    assert gauges.performance_metric == "accuracy"
    assert dict(gauges.performance) == {"current": 0.78, "reference": 0.91}
    plain = compute_status(parse_monitor(manifest()), None, _outcome(_section(True)), NOW)
    assert gauges_from_status({**plain, "model": None}).performance_degraded is None


def test_a_monitor_without_labels_has_no_performance_condition():
    monitor = parse_monitor(manifest())
    status = compute_status(
        monitor, None, outcome_from_summary("j", parse_summary(dump_summary(summary()))), NOW
    )
    assert _condition(status) is None
    waiting = compute_status(parse_monitor(manifest(model=MODEL)), None, None, NOW)
    assert _condition(waiting)["status"] == "Unknown"


def test_the_degraded_event_names_the_root_cause():
    cause = {
        "triggered": True,
        "summary": "no drifted feature explains it; worst segment: plan=pro (accuracy -0.4)",
        "causes": [],
    }
    doc = summary(performance=summary_performance(_section(True)), rootCause=cause)
    outcome = outcome_from_summary("run-1", parse_summary(dump_summary(doc)))
    ((_, _, message),) = performance_events(outcome, None)
    assert "; no drifted feature explains it; worst segment: plan=pro (accuracy -0.4); report" in (
        message
    )
