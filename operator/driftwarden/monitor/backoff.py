"""Exponential backoff for Job creates the API server refuses, kept in ``status.jobCreation``.

A refused create (403 from admission or quota, 422 for an invalid template) will not
succeed by itself on the next tick; retrying every tick floods the API server and the
Events. The failure is recorded in the monitor's status — so a restarted operator
keeps waiting instead of starting over — and the next attempt waits
``BASE * 2**(failures-1)``, at most ``CAP``. A new spec (another ``metadata.generation``)
is a new attempt at once: the user may just have fixed the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from driftwarden.monitor.times import format_time, parse_time, utc

BASE = timedelta(seconds=30)
CAP = timedelta(minutes=30)
# A policy refusal is fixed by an admin (an annotation, a chart value) without a spec change:
# retry it sooner, the retry costs one Namespace read.
POLICY_CAP = timedelta(minutes=5)
JOB_REJECTED = "JobRejected"
# The operator's own Job policy refused the Job (no request reached the API server).
POLICY_VIOLATION = "PolicyViolation"


def backoff_delay(failures: int, base: timedelta = BASE, cap: timedelta = CAP) -> timedelta:
    """How long to wait after the ``failures``-th refusal in a row: doubling, at most ``cap``."""
    if failures <= 0:
        return timedelta(0)
    return min(cap, base * (2 ** min(failures - 1, 32)))


def record_failure(
    previous: Mapping[str, Any] | None,
    *,
    job: str,
    code: int | None,
    reason: str,
    message: str,
    generation: int,
    now: datetime,
    cap: timedelta = CAP,
) -> dict[str, Any]:
    """``status.jobCreation`` after one more refused create of ``job``.

    Failures of an earlier generation do not count: a changed spec starts from one.
    """
    earlier = previous if isinstance(previous, Mapping) else {}
    failures = earlier.get("failures") if earlier.get("generation") == generation else 0
    count = (failures if isinstance(failures, int) else 0) + 1
    return {
        "job": job,
        "code": code,
        "reason": reason,
        "message": message,
        "failures": count,
        "generation": generation,
        "lastFailureTime": format_time(now),
        "nextAttemptTime": format_time(utc(now) + backoff_delay(count, cap=cap)),
    }


def may_attempt(record: Mapping[str, Any] | None, generation: int, now: datetime) -> bool:
    """True when a create may be tried now: no refusal recorded, a new spec, or the wait is over."""
    if not isinstance(record, Mapping) or record.get("generation") != generation:
        return True
    next_attempt = parse_time(record.get("nextAttemptTime"))
    return next_attempt is None or utc(now) >= next_attempt


def rejection_reason(record: Mapping[str, Any]) -> str:
    """The Ready condition's reason for a refused create: ``PolicyViolation`` or ``JobRejected``."""
    return POLICY_VIOLATION if record.get("reason") == POLICY_VIOLATION else JOB_REJECTED


def rejection_message(record: Mapping[str, Any]) -> str:
    """The Ready condition's message for a refused create: what, why, and when it is tried again."""
    if record.get("reason") == POLICY_VIOLATION:
        return (
            f"{record.get('message')}; attempt {record.get('failures')}, next attempt at "
            f"{record.get('nextAttemptTime')} or when the spec changes"
        )
    code = record.get("code")
    status = f"{code} {record.get('reason')}" if code else str(record.get("reason"))
    return (
        f"the API server refused analysis Job {record.get('job')} ({status}): "
        f"{record.get('message')}; attempt {record.get('failures')}, "
        f"next attempt at {record.get('nextAttemptTime')} or when the spec changes"
    )
