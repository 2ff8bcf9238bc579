"""The evidence that a Job made pods, or was refused them (monitor/creation.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from driftwarden.monitor.creation import (
    newest_failed_create,
    owned_pods,
    pods_counted,
    reported_stuck,
)
from driftwarden.monitor.status import cannot_start

JOB = {"metadata": {"name": "run-scan", "namespace": "ml", "uid": "u-1"}, "status": {}}


def _event(reason: str, last: str, *, uid: str = "u-1", message: str = "m") -> dict:
    """A core/v1 Event as the Job controller's recorder posts it."""
    return {
        "reason": reason,
        "message": message,
        "involvedObject": {"kind": "Job", "name": "run-scan", "uid": uid},
        "firstTimestamp": last,
        "lastTimestamp": last,
    }


@pytest.mark.parametrize(
    ("status", "counted"),
    [
        ({}, False),
        ({"active": 0, "succeeded": 0, "uncountedTerminatedPods": {}}, False),
        ({"active": 1}, True),  # a partially admitted Job
        ({"ready": 1}, True),
        ({"succeeded": 2}, True),
        ({"failed": 1}, True),
        ({"terminating": 1}, True),
        ({"uncountedTerminatedPods": {"failed": ["p-uid"]}}, True),
    ],
)
def test_the_jobs_status_counts_the_pods_it_made(status: dict, counted: bool) -> None:
    assert pods_counted({**JOB, "status": status}) is counted


def test_the_newest_refusal_of_this_job_counts_and_only_after_the_newest_pod() -> None:
    events = [
        _event("SuccessfulCreate", "2026-12-06T10:00:00Z"),
        _event("FailedCreate", "2026-12-06T10:00:01Z", message="older"),
        _event("FailedCreate", "2026-12-06T10:00:05Z", message="newest"),
        # A Job of the same name deleted and re-created: its refusals are not this one's.
        _event("FailedCreate", "2026-12-06T10:00:09Z", uid="u-0", message="old job"),
    ]
    assert newest_failed_create(events, JOB)["message"] == "newest"
    pod_made = datetime(2026, 12, 6, 10, 0, 5, tzinfo=UTC)
    # A refusal seen in the second a pod was made may have come before it: not counted.
    assert newest_failed_create(events, JOB, since=pod_made) is None
    assert newest_failed_create(events, JOB, since=pod_made.replace(second=4)) is not None
    assert newest_failed_create(events[:1], JOB) is None


def test_the_newest_refusal_is_found_by_time_across_timestamp_precisions() -> None:
    # An aggregated core/v1 Event (whole seconds) against an events.k8s.io one
    # (eventTime with microseconds, no lastTimestamp): as text "10:00:05Z" sorts after
    # "10:00:05.250000Z", though it is the older of the two.
    seconds = _event("FailedCreate", "2026-12-06T10:00:05Z", message="whole seconds")
    micro = {
        **_event("FailedCreate", "", message="microseconds"),
        "lastTimestamp": None,
        "eventTime": "2026-12-06T10:00:05.250000Z",
    }
    undated = {**_event("FailedCreate", "", message="no time"), "lastTimestamp": None}
    for events in ([seconds, micro, undated], [undated, micro, seconds]):
        assert newest_failed_create(events, JOB)["message"] == "microseconds"
    assert newest_failed_create([undated], JOB)["message"] == "no time"


def test_the_jobs_pods_are_those_it_controls() -> None:
    def pod(uid: str, controller: bool = True) -> dict:
        ref = {"kind": "Job", "name": "run-scan", "uid": uid, "controller": controller}
        return {"metadata": {"name": f"p-{uid}", "ownerReferences": [ref]}}

    assert [p["metadata"]["name"] for p in owned_pods([pod("u-1"), pod("u-0")], JOB)] == ["p-u-1"]
    assert owned_pods([pod("u-1", controller=False)], JOB) == []


def test_a_stuck_run_is_read_back_from_its_ready_condition() -> None:
    def status(reason: str, run: str) -> dict:
        message = cannot_start(run, "the Job controller cannot create its pod: quota")
        return {"conditions": [{"type": "Ready", "status": "False", "reason": reason, "message": message}]}  # fmt: skip

    assert reported_stuck(status("PodCreationFailed", "run"), "run") == (
        "PodCreationFailed",
        "the Job controller cannot create its pod: quota",
    )
    assert reported_stuck(status("PodCreationFailed", "older-run"), "run") is None
    assert reported_stuck(status("Unschedulable", "run"), "run") is None
    assert reported_stuck({}, "run") is None
