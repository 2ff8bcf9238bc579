"""Prediction and target drift through the operator's pure layer: summary → outcome →
status.model, the PredictionDrifted condition, the phase, Events and the retraining decision."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from driftwarden.monitor.model_status import prediction_events, prediction_pending
from driftwarden.monitor.outcome import outcome_from_summary
from driftwarden.monitor.retraining import decide_retraining
from driftwarden.monitor.spec import parse_monitor
from driftwarden.monitor.status import compute_status
from driftwarden.report.document import ReportError
from driftwarden.report.summary import build_summary, dump_summary, parse_summary

from .helpers import RETRAINING, manifest, summary

NOW = datetime(2024, 5, 2, 10, 5, tzinfo=UTC)
MODEL = {
    "predictions": [{"column": "churn_score", "kind": "score"}],
    "target": {"column": "churned", "kind": "label"},
}


def _predictions(drifted: bool, target: bool | None = False) -> dict:
    columns = [
        {
            "name": "churn_score",
            "role": "prediction",
            "kind": "numerical",
            "method": "wasserstein",
            "score": 0.4 if drifted else 0.01,
            "threshold": 0.1,
            "drifted": drifted,
        }
    ]
    if target is not None:
        columns.append(
            {
                "name": "churned",
                "role": "target",
                "kind": "categorical",
                "method": "jensenshannon",
                "score": 0.2 if target else 0.01,
                "threshold": 0.1,
                "drifted": target,
            }
        )
    return {
        "drifted": drifted or bool(target),
        "predictionDrifted": drifted,
        "targetDrifted": target,
        "retrain": True,
        "columns": columns,
        "truncated": 0,
    }


def _clean(predictions: dict) -> dict:
    """A run whose features did not drift, with ``predictions`` in its summary."""
    return summary(
        drifted=False,
        driftShare=0.0,
        driftedFeatures=0,
        features=[{**f, "drifted": False} for f in summary()["features"]],
        predictions=predictions,
    )


def _outcome(doc: dict, job: str = "churn-202405021000-aaaa1111"):
    checked = parse_summary(dump_summary(doc))
    return outcome_from_summary(job, checked, slot=datetime(2024, 5, 2, 10, tzinfo=UTC))


def _condition(status: dict, kind: str) -> dict | None:
    return next((c for c in status["conditions"] if c["type"] == kind), None)


def _monitor(model=MODEL, **retraining):
    return parse_monitor(
        manifest(model=model, retraining={**RETRAINING, **retraining} if retraining else None)
    )


def test_prediction_drift_alone_makes_the_monitor_drifted_with_its_own_condition():
    monitor = _monitor()
    outcome = _outcome(_clean(_predictions(True)))
    assert outcome.predictions is not None and outcome.predictions.drifted_names == ("churn_score",)
    assert outcome.message.endswith("prediction drift: churn_score")
    status = compute_status(monitor, None, outcome, NOW)
    assert status["phase"] == "Drifted"
    assert _condition(status, "Drifted")["status"] == "False"  # the features did not drift
    condition = _condition(status, "PredictionDrifted")
    assert (condition["status"], condition["reason"]) == ("True", "PredictionDriftDetected")
    assert "prediction drift: churn_score (1 of 2 model columns)" in condition["message"]
    assert status["model"]["predictions"] == {
        "drifted": True,
        "predictionDrifted": True,
        "targetDrifted": False,
        "driftedColumns": 1,
        "run": "churn-202405021000-aaaa1111",
        "state": "Drifted",
        "driftedRuns": 1,
        "cleanRuns": 0,
        "columns": [
            {
                "name": "churn_score",
                "role": "prediction",
                "method": "wasserstein",
                "score": 0.4,
                "threshold": 0.1,
                "drifted": True,
            },
            {
                "name": "churned",
                "role": "target",
                "method": "jensenshannon",
                "score": 0.01,
                "threshold": 0.1,
                "drifted": False,
            },
        ],
    }
    # A clean run ends it; a failed run keeps the last verdict.
    clean = compute_status(monitor, status, _outcome(_clean(_predictions(False)), "run-2"), NOW)
    assert clean["phase"] == "Healthy"
    assert _condition(clean, "PredictionDrifted")["reason"] == "NoPredictionDrift"
    failed = outcome_from_summary(
        "run-3", {"v": 1, "error": {"reason": "DataNotFound", "message": "x"}}
    )
    kept = compute_status(monitor, status, failed, NOW)
    assert kept["model"] == status["model"]


def test_a_monitor_without_a_model_block_has_no_model_status_or_condition():
    monitor = parse_monitor(manifest())
    status = compute_status(monitor, None, _outcome(summary()), NOW)
    assert status["model"] is None
    assert _condition(status, "PredictionDrifted") is None
    assert status["phase"] == "Drifted"


def test_target_drift_alone_counts_as_model_drift_and_says_so():
    outcome = _outcome(_clean(_predictions(False, target=True)))
    assert outcome.predictions is not None and outcome.predictions.drifted
    assert outcome.message.endswith("target drift: churned")
    status = compute_status(_monitor(), None, outcome, NOW)
    assert status["phase"] == "Drifted"


def test_prediction_drift_starts_retraining_unless_switched_off():
    outcome = _outcome(_clean(_predictions(True)))
    decision = decide_retraining(_monitor(cooldown="1h"), outcome, None, NOW)
    assert decision.start and decision.reason == "PredictionDriftDetected"
    assert "prediction drift: churn_score" in decision.message
    assert "0 of 4 features" in decision.message
    off = _monitor({**MODEL, "retrainOnPredictionDrift": False}, cooldown="1h")
    assert decide_retraining(off, outcome, None, NOW).reason == "NotDrifted"
    # Feature drift that spec.alerting has not confirmed yet: prediction drift still retrains.
    both = _outcome(summary(predictions=_predictions(True)))
    pending = decide_retraining(_monitor(cooldown="1h"), both, None, NOW, unconfirmed="1 of 3")
    assert pending.start and pending.reason == "PredictionDriftDetected"
    alone = decide_retraining(off, both, None, NOW, unconfirmed="1 of 3")
    assert alone.reason == "DriftPending"
    # The cooldown holds for it like for feature drift.
    last = {"job": "j", "time": "2024-05-02T09:30:00Z", "reason": "DriftDetected", "run": "old"}
    assert decide_retraining(_monitor(cooldown="1h"), outcome, last, NOW).reason == "CooldownActive"


def test_events_warn_on_each_drifted_run_and_tell_when_it_resolves():
    drifted = _outcome(_clean(_predictions(True)))
    (event,) = prediction_events(drifted, None)
    assert event[:2] == ("Warning", "PredictionDriftDetected")
    assert "churn_score" in event[2]
    status = compute_status(_monitor(), None, drifted, NOW)
    clean = _outcome(_clean(_predictions(False)), "run-2")
    assert prediction_events(clean, status) == [
        ("Normal", "PredictionDriftResolved", "run run-2: no prediction drift")
    ]
    assert prediction_events(clean, compute_status(_monitor(), None, clean, NOW)) == []


def test_the_summary_keeps_the_model_columns_within_its_byte_budget():
    many = {
        **_predictions(True),
        "retrainOnDrift": True,
        "columns": [
            {**_predictions(True)["columns"][0], "modelKind": "score", "name": f"c{i}_" + "p" * 200}
            for i in range(17)
        ],
    }
    report = {
        "schemaVersion": "driftwarden.io/report/v1",
        "dataset": {"drifted": False, "driftShare": 0.0, "driftedFeatures": 0, "totalFeatures": 0},
        "features": [],
        "predictions": {**many, "driftedColumns": 17, "totalColumns": 17, "notCompared": []},
        "findings": [],
    }
    built = build_summary(report, "s3://b/r.json")
    part = built["predictions"]
    assert len(json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode()) <= 1024
    assert part["columns"] and part["truncated"] == 17 - len(part["columns"])
    assert parse_summary(dump_summary(built))["predictions"] == part
    small = build_summary(report, "s3://b/r.json", max_bytes=600)
    assert len(dump_summary(small).encode()) <= 600


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"drifted": "yes"}, "predictions.drifted"),
        (
            {
                "columns": [
                    {
                        "name": "p",
                        "kind": "numerical",
                        "method": "psi",
                        "role": "x",
                        "drifted": True,
                    }
                ]
            },
            "role",
        ),
        ({"truncated": -1}, "predictions.truncated"),
    ],
)
def test_a_malformed_predictions_summary_is_refused(change, words):
    doc = summary(predictions={**_predictions(True), **change})
    with pytest.raises(ReportError, match=words):
        parse_summary(dump_summary(doc))


def test_retraining_started_by_predictions_is_recorded_as_such_from_the_job():
    from driftwarden.monitor.job import retraining_job
    from driftwarden.monitor.retraining import unrecorded_retraining

    monitor = _monitor(cooldown="1h")
    outcome = _outcome(_clean(_predictions(True)))
    job = retraining_job(monitor, outcome, NOW, "PredictionDriftDetected")
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DRIFTWARDEN_DRIFTED_PREDICTIONS"] == "churn_score"
    record = unrecorded_retraining(job, None, NOW)
    assert record is not None and record.reason == "PredictionDriftDetected"
    plain = unrecorded_retraining(retraining_job(monitor, outcome, NOW), None, NOW)
    assert plain is not None and plain.reason == "DriftDetected"


def test_prediction_drift_is_debounced_with_spec_alerting():
    """driftAfterRuns 2, recoverAfterRuns 2: one drifted run is pending (no condition True,
    no retraining, a Normal Event), the second acts; one clean run keeps it Drifted."""
    monitor = parse_monitor(
        manifest(
            model=MODEL,
            retraining={**RETRAINING, "cooldown": "1h"},
            alerting={"driftAfterRuns": 2, "recoverAfterRuns": 2},
        )
    )
    first = _outcome(_clean(_predictions(True)), "run-1")
    assert prediction_pending(monitor, None, first) == (
        "predictions drifted in 1 of 2 required runs (spec.alerting.driftAfterRuns)"
    )
    decision = decide_retraining(
        monitor, first, None, NOW, predictions_pending=prediction_pending(monitor, None, first)
    )
    assert not decision.start and decision.reason == "DriftPending"
    ((kind, reason, _),) = prediction_events(first, None, monitor)
    assert (kind, reason) == ("Normal", "PredictionDriftPending")
    status = compute_status(monitor, None, first, NOW)
    assert status["phase"] == "Healthy"
    condition = _condition(status, "PredictionDrifted")
    assert (condition["status"], condition["reason"]) == ("False", "PredictionDriftPending")
    assert condition["message"].startswith("drifted in 1 of 2 required runs")
    # Re-reading the same run does not count it twice.
    assert compute_status(monitor, status, first, NOW)["model"] == status["model"]

    second = _outcome(_clean(_predictions(True)), "run-2")
    assert prediction_pending(monitor, status, second) is None
    decision = decide_retraining(
        monitor, second, None, NOW, predictions_pending=prediction_pending(monitor, status, second)
    )
    assert decision.start and decision.reason == "PredictionDriftDetected"
    assert prediction_events(second, status, monitor)[0][:2] == (
        "Warning",
        "PredictionDriftDetected",
    )
    drifted = compute_status(monitor, status, second, NOW)
    assert drifted["phase"] == "Drifted"
    assert drifted["model"]["predictions"]["state"] == "Drifted"
    assert _condition(drifted, "PredictionDrifted")["reason"] == "PredictionDriftDetected"

    clean = _outcome(_clean(_predictions(False)), "run-3")
    assert prediction_events(clean, drifted, monitor) == []  # recovery pending, no Event yet
    still = compute_status(monitor, drifted, clean, NOW)
    assert still["phase"] == "Drifted"
    assert _condition(still, "PredictionDrifted")["reason"] == "PredictionRecoveryPending"
    again = _outcome(_clean(_predictions(False)), "run-4")
    assert prediction_events(again, still, monitor)[0][1] == "PredictionDriftResolved"
    healthy = compute_status(monitor, still, again, NOW)
    assert healthy["phase"] == "Healthy"
    assert _condition(healthy, "PredictionDrifted")["reason"] == "NoPredictionDrift"
