from dataclasses import replace
from datetime import UTC, datetime, timedelta

from driftwarden.monitor.outcome import RunOutcome
from driftwarden.monitor.retraining import decide_retraining, retraining_record
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
