"""A monitor's analysis runs as the cluster shows them, and when a run's result is safe.

A run is an analysis Job and the pods it made. The Job may be gone while its pods
remain (they carry the ``driftwarden.io/result`` finalizer too), so runs are grouped
from both. Pure functions over the API's JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftwarden.monitor.job import COMPONENT_ANALYSIS, LABEL_COMPONENT
from driftwarden.monitor.outcome import job_slot
from driftwarden.monitor.shards import is_scan, run_of
from driftwarden.monitor.times import parse_time


def metadata_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metadata`` of an API object, empty when absent."""
    return obj.get("metadata") or {}


def name_of(obj: Mapping[str, Any]) -> str:
    """``metadata.name`` of an API object ("" when absent)."""
    return str(metadata_of(obj).get("name") or "")


def component_of(obj: Mapping[str, Any]) -> str | None:
    """The ``app.kubernetes.io/component`` label: analysis or retraining."""
    return (metadata_of(obj).get("labels") or {}).get(LABEL_COMPONENT)


def _job_name_of_pod(pod: Mapping[str, Any]) -> str:
    labels = metadata_of(pod).get("labels") or {}
    return str(labels.get("batch.kubernetes.io/job-name") or labels.get("job-name") or "")


def pods_of_job(pods: Iterable[Mapping[str, Any]], job_name: str) -> list[Mapping[str, Any]]:
    """The pods a Job created (the Job controller labels them with the Job's name)."""
    return [pod for pod in pods if _job_name_of_pod(pod) == job_name]


@dataclass
class Run:
    """One analysis run as the cluster shows it: its Job (None once deleted, or while a
    sharded run still scans) and its pods; a sharded run's scan Job and its shard pods."""

    name: str
    job: dict[str, Any] | None
    slot: datetime | None
    pods: list[dict[str, Any]] = field(default_factory=list)
    scan: dict[str, Any] | None = None
    scan_pods: list[dict[str, Any]] = field(default_factory=list)

    @property
    def scanning(self) -> bool:
        """True while the run is in its scan phase: a scan Job, no analysis (merge) Job yet."""
        return self.scan is not None and self.job is None and not self.pods

    def order(self) -> tuple[datetime, str]:
        created = str(((self.job or {}).get("metadata") or {}).get("creationTimestamp") or "")
        return self.slot or datetime.min.replace(tzinfo=UTC), created


def group_runs(jobs: list[dict[str, Any]], pods: list[dict[str, Any]]) -> dict[str, Run]:
    """Analysis runs by Job name, from the Jobs and the pods (a pod outlives a deleted Job)."""
    runs: dict[str, Run] = {}
    for job in jobs:
        if component_of(job) != COMPONENT_ANALYSIS:
            continue
        # A scan Job belongs to the run its label names, whose own Job comes later.
        name = run_of(job) if is_scan(job) else name_of(job)
        run = runs.setdefault(name, Run(name, None, job_slot(job)))
        if is_scan(job):
            run.scan = job
        else:
            run.job = job
    for pod in pods:
        job_name = _job_name_of_pod(pod)
        if component_of(pod) != COMPONENT_ANALYSIS or not job_name:
            continue
        name = run_of(pod) if is_scan(pod) else job_name
        run = runs.setdefault(name, Run(name, None, job_slot(pod)))
        (run.scan_pods if is_scan(pod) else run.pods).append(pod)
    return runs


def is_settled(name: str, slot: datetime | None, status: Mapping[str, Any]) -> bool:
    """True when a run's outcome is in ``status`` (or a later one is): its finalizers may go."""
    last = status.get("lastRun") if isinstance(status.get("lastRun"), Mapping) else {}
    if not last:
        return False
    if last.get("job") == name:
        return True
    recorded = parse_time(last.get("slot"))
    return slot is not None and recorded is not None and slot < recorded
