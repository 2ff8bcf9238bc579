from dataclasses import replace
from datetime import UTC, datetime, timedelta

from driftwarden.monitor.outcome import RunOutcome
from driftwarden.monitor.retraining import (
    decide_retraining,
    newest_retraining_job,
    retraining_record,
    retraining_trouble,
    unrecorded_retraining,
)
from driftwarden.monitor.spec import parse_monitor

from .helpers import BASE, manifest, with_retraining

NOW = datetime(2024, 5, 2, 10, 5, tzinfo=UTC)
RUN = RunOutcome(
    job="churn-202405021000-aaaa1111",
    outcome="Succeeded",
    reason="Succeeded",
    message="drift",
    slot=datetime(2024, 5, 2, 10, tzinfo=UTC),
    drifted=True,
    drift_share=0.6,
    drifted_features=3,
    total_features=5,
)
MONITOR = parse_monitor(with_retraining(cooldown="24h"))


def test_drifted_run_starts_retraining():
    decision = decide_retraining(MONITOR, RUN, None, NOW)
    assert decision.start
    assert decision.reason == "DriftDetected"
    assert "3 of 5" in decision.message


def test_no_retraining_without_template_or_when_disabled():
    assert decide_retraining(parse_monitor(BASE), RUN, None, NOW).reason == "NotConfigured"
    disabled = parse_monitor(with_retraining(enabled=False))
    decision = decide_retraining(disabled, RUN, None, NOW)
    assert not decision.start and decision.reason == "Disabled"


def test_no_retraining_when_not_drifted_or_failed():
    assert decide_retraining(MONITOR, replace(RUN, drifted=False), None, NOW).reason == "NotDrifted"
    failed = replace(RUN, outcome="Failed", reason="DataNotFound")
    assert decide_retraining(MONITOR, failed, None, NOW).reason == "RunFailed"


def test_cooldown_blocks_until_it_has_passed():
    last = {
        "job": "churn-retrain-1",
        "time": "2024-05-01T12:00:00Z",
        "reason": "DriftDetected",
        "run": "older",
    }
    decision = decide_retraining(MONITOR, RUN, last, NOW)
    assert not decision.start
    assert decision.reason == "CooldownActive"
    assert "2024-05-02T12:00:00Z" in decision.message
    assert decide_retraining(MONITOR, RUN, last, datetime(2024, 5, 2, 12, 0, tzinfo=UTC)).start


def test_never_twice_for_one_run():
    last = {"job": "churn-retrain-1", "time": "2024-04-01T12:00:00Z", "run": RUN.job}
    decision = decide_retraining(MONITOR, RUN, last, NOW + timedelta(days=30))
    assert not decision.start
    assert decision.reason == "AlreadyTriggered"


def test_unreadable_last_time_does_not_block():
    last = {"job": "x", "time": "yesterday", "run": "older"}
    assert decide_retraining(MONITOR, RUN, last, NOW).start


def test_record_of_a_started_job():
    decision = decide_retraining(MONITOR, RUN, None, NOW)
    record = retraining_record({"metadata": {"name": "churn-retrain-abc"}}, RUN, decision, NOW)
    assert record.to_status() == {
        "job": "churn-retrain-abc",
        "time": "2024-05-02T10:05:00Z",
        "reason": "DriftDetected",
        "message": decision.message,
        "run": RUN.job,
    }
    # and that record blocks a second start for the same run
    assert decide_retraining(MONITOR, RUN, record.to_status(), NOW).reason == "AlreadyTriggered"


def test_monitor_without_retraining_section():
    assert parse_monitor(manifest(retraining=None)).retraining is None


def _retraining_job(name, run, at, conditions=None):
    return {
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/component": "retraining"},
            "annotations": {
                "driftwarden.io/triggered-by-run": run,
                "driftwarden.io/triggered-at": at,
                "driftwarden.io/drift-share": "0.5",
            },
        },
        "status": {"conditions": conditions or []},
    }


def test_a_retraining_job_the_status_does_not_name_is_recorded_from_the_cluster():
    now = datetime(2024, 5, 2, tzinfo=UTC)
    old = _retraining_job("churn-retrain-a", "run-a", "2024-05-01T10:00:00Z")
    new = _retraining_job("churn-retrain-b", "run-b", "2024-05-01T12:00:00Z")
    assert newest_retraining_job([new, old]) is new
    record = unrecorded_retraining(new, {"job": "churn-retrain-a", "run": "run-a"}, now)
    assert (record.job, record.run) == ("churn-retrain-b", "run-b")
    assert record.time == datetime(2024, 5, 1, 12, tzinfo=UTC) and "0.5" in record.message
    assert unrecorded_retraining(new, record.to_status(), now) is None
    assert unrecorded_retraining(None, None, now) is None


def test_retraining_trouble_reports_a_failed_job_or_a_pod_that_cannot_run():
    failed = _retraining_job(
        "churn-retrain-b",
        "run-b",
        "2024-05-01T12:00:00Z",
        [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}],
    )
    assert retraining_trouble(failed, []) == (
        "RetrainingFailed",
        "retraining Job churn-retrain-b failed: BackoffLimitExceeded",
    )
    running = _retraining_job("churn-retrain-c", "run-c", "2024-05-01T13:00:00Z")
    pending = {
        "metadata": {"creationTimestamp": "2024-05-01T13:00:01Z"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "taint",
                }
            ],
        },
    }
    reason, message = retraining_trouble(running, [pending])
    assert reason == "RetrainingNotStarting" and "taint" in message
    assert retraining_trouble(running, []) is None
