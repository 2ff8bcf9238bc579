from datetime import UTC, datetime, timedelta

from driftwarden.monitor.backoff import (
    BASE,
    CAP,
    POLICY_CAP,
    POLICY_VIOLATION,
    backoff_delay,
    may_attempt,
    record_failure,
    rejection_message,
    rejection_reason,
)

T0 = datetime(2024, 5, 1, 10, tzinfo=UTC)


def _fail(previous, generation=3, now=T0):
    return record_failure(
        previous, job="j", code=422, reason="Invalid", message="bad", generation=generation, now=now
    )


def test_delay_doubles_up_to_the_cap():
    assert backoff_delay(0) == timedelta(0)
    assert [backoff_delay(n) for n in (1, 2, 3)] == [BASE, 2 * BASE, 4 * BASE]
    assert backoff_delay(40) == CAP and backoff_delay(10_000) == CAP


def test_failures_count_up_and_gate_the_next_attempt():
    first = _fail(None)
    assert first["failures"] == 1 and first["nextAttemptTime"] == "2024-05-01T10:00:30Z"
    assert not may_attempt(first, 3, T0 + timedelta(seconds=29))
    assert may_attempt(first, 3, T0 + timedelta(seconds=30))
    second = _fail(first, now=T0 + timedelta(seconds=30))
    assert second["failures"] == 2 and second["nextAttemptTime"] == "2024-05-01T10:01:30Z"
    assert "422 Invalid" in rejection_message(second) and "attempt 2" in rejection_message(second)


def test_a_new_spec_resets_the_backoff():
    first = _fail(_fail(None))
    assert may_attempt(first, 4, T0)  # another generation: try at once
    assert _fail(first, generation=4)["failures"] == 1
    assert may_attempt(None, 3, T0)


def test_a_policy_refusal_backs_off_to_a_shorter_cap_and_keeps_its_reason():
    record = None
    for _ in range(20):
        record = record_failure(
            record,
            job="j",
            code=None,
            reason=POLICY_VIOLATION,
            message="spec.job.image: not allowed",
            generation=1,
            now=T0,
            cap=POLICY_CAP,
        )
    assert record["nextAttemptTime"] == "2024-05-01T10:05:00Z"
    assert rejection_reason(record) == "PolicyViolation"
    message = rejection_message(record)
    assert message.startswith("spec.job.image: not allowed; attempt 20")
    assert "API server" not in message
    assert rejection_reason(_fail(None)) == "JobRejected"
