"""When a Job is stuck creating its pods, and what says so.

A Job whose pods the API server refuses (a ResourceQuota's 403 ``exceeded quota``, a missing
service account, Pod Security admission ...) gets no pod: the Job controller posts a Warning
``FailedCreate`` Event on the Job and retries with backoff
(https://kubernetes.io/docs/concepts/workloads/controllers/job/,
https://kubernetes.io/docs/concepts/policy/resource-quotas/). The operator reads those
Events only for a Job it sees without pods, and calls the run stuck (``PodCreationFailed``)
only when nothing says a pod was made:

* the operator's pods (its watch) show none of the Job's;
* the Job's status counts none (:func:`pods_counted`): the Job controller counts every pod
  it made (``active``, ``ready``, ``succeeded``, ``failed``, ``terminating``,
  ``uncountedTerminatedPods``), and a partially admitted Job has one ``active``;
* a FailedCreate of this Job (its uid: a Job of the same name re-created keeps the old
  one's Events for an hour) is there;
* the Job's pods read from the API server *after* those Events are none: a pod is stored
  before the refusal that followed it is posted, while the operator's watches of pods and
  of Jobs, and so the first two points, may lag the Events by any amount. A quota that
  admits shard 0 and refuses shard 1 in the same sync is seen by the Events first, so
  without this read the scan looked stuck while shard 0 was there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from driftwarden.monitor.outcome import POD_CREATION_FAILED
from driftwarden.monitor.status import READY, cannot_start
from driftwarden.monitor.times import parse_time

FAILED_CREATE = "FailedCreate"


def pods_counted(job: Mapping[str, Any]) -> bool:
    """True when the Job's status counts a pod it made (running, ready, finished, terminating,
    or finished and not counted yet): it is not stuck creating its first pod."""
    status = job.get("status") or {}
    counts = [status.get(k) for k in ("active", "ready", "succeeded", "failed", "terminating")]
    uncounted = status.get("uncountedTerminatedPods") or {}
    if isinstance(uncounted, Mapping):
        counts += [len(uncounted.get(k) or []) for k in ("succeeded", "failed")]
    return any(isinstance(n, int) and n > 0 for n in counts)


_NEVER = datetime.min.replace(tzinfo=UTC)  # an Event without a readable time: oldest


def event_time(event: Mapping[str, Any]) -> datetime | None:
    """When an Event was last seen (aggregated Events move ``lastTimestamp``)."""
    return parse_time(event.get("lastTimestamp") or event.get("eventTime"))


def newest_failed_create(
    events: Iterable[Mapping[str, Any]], job: Mapping[str, Any], since: datetime | None = None
) -> Mapping[str, Any] | None:
    """The Job's newest FailedCreate Event, counting only those seen after ``since`` (a refusal
    older than a pod was followed by a create that went through); None if there is none.

    Events of another Job of the same name (an older uid) do not count.
    """
    uid = (job.get("metadata") or {}).get("uid")
    failed = [
        e
        for e in events
        if e.get("reason") == FAILED_CREATE
        and (not uid or (e.get("involvedObject") or {}).get("uid") in (None, uid))
        and (since is None or (event_time(e) or since) > since)
    ]
    if not failed:
        return None
    # By time, not by text: the events.k8s.io API writes eventTime with microseconds,
    # core/v1 lastTimestamp in whole seconds, and "…:05Z" sorts after "…:05.1Z" as text.
    return max(failed, key=lambda e: event_time(e) or _NEVER)


def owned_pods(
    pods: Iterable[Mapping[str, Any]], job: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The pods whose controller is ``job`` (by uid), from a read of the Job's pods."""
    uid = (job.get("metadata") or {}).get("uid")
    return [
        p
        for p in pods
        if any(
            isinstance(ref, Mapping) and ref.get("controller") and ref.get("uid") == uid
            for ref in (p.get("metadata") or {}).get("ownerReferences") or []
        )
    ]


def stuck_creating(refusal: str) -> tuple[str, str]:
    """The ``PodCreationFailed`` problem of a Job that made no pod, with the refusal's message."""
    return POD_CREATION_FAILED, f"the Job controller cannot create its pod: {refusal}"


def reported_stuck(status: Mapping[str, Any], run: str) -> tuple[str, str] | None:
    """The ``PodCreationFailed`` problem the status reports for ``run`` (Ready False), if any:
    between two reads of the Events it stands, so Ready does not flip back and forth."""
    for condition in status.get("conditions") or []:
        if not isinstance(condition, Mapping) or condition.get("type") != READY:
            continue
        message = str(condition.get("message") or "")
        prefix = cannot_start(run, "")
        if condition.get("reason") == POD_CREATION_FAILED and message.startswith(prefix):
            return POD_CREATION_FAILED, message.removeprefix(prefix)
    return None
