"""What the operator keeps of the Jobs and pods it watches, and how it finds a monitor's share.

kopf watches Jobs and pods with the server-side label selector
``app.kubernetes.io/managed-by=driftwarden`` (``settings.watching.label_selectors``),
so unrelated Jobs in the cluster never reach the process, and feeds them into kopf
indexes: in-memory maps that kopf fills from the watch (a list, then events) before
any handler runs. A reconciliation reads the indexes instead of listing Jobs and pods
from the API server; only the fields the reconciler reads are kept (a Job's
environment holds the whole monitor spec), which bounds memory at 1,000 monitors.

Everything is keyed by the owning monitor's *uid*: a re-created monitor of the same
name has a new uid and never sees, adopts or counts the Jobs of the old one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftwarden.monitor.job import LABEL_MONITOR_UID
from driftwarden.monitor.spec import KIND

ACTIVE = "active"  # the one key of the index of unfinished analysis Jobs
_KEPT_ANNOTATION_PREFIX = "driftwarden.io/"


def monitor_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the DriftMonitor that owns ``obj``: its label, else its controller ownerReference."""
    meta = obj.get("metadata") or {}
    uid = (meta.get("labels") or {}).get(LABEL_MONITOR_UID)
    if uid:
        return str(uid)
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("kind") == KIND and ref.get("controller"):
            return str(ref.get("uid") or "") or None
    return None


def _slim_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    annotations = meta.get("annotations") or {}
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
        "creationTimestamp": meta.get("creationTimestamp"),
        "deletionTimestamp": meta.get("deletionTimestamp"),
        "labels": dict(meta.get("labels") or {}),
        "annotations": {
            k: v for k, v in annotations.items() if k.startswith(_KEPT_ANNOTATION_PREFIX)
        },
        "finalizers": list(meta.get("finalizers") or []),
    }


def slim_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a Job the reconciler reads: metadata and status, never the pod template."""
    status = job.get("status") or {}
    keep = (
        "conditions",
        "startTime",
        "completionTime",
        "active",
        "succeeded",
        "failed",
        "ready",
        # Pods going, the Job made pods (monitor/creation.py).
        "terminating",
        # Indexed Jobs (a sharded run's scan): the shard progress in the status.
        "completedIndexes",
        "failedIndexes",
    )
    slim = {k: status[k] for k in keep if k in status}
    # Finished pods not counted yet: made pods too. Kept only when it names one (it is
    # {} on nearly every Job).
    uncounted = status.get("uncountedTerminatedPods")
    if isinstance(uncounted, Mapping) and any(uncounted.values()):
        slim["uncountedTerminatedPods"] = {k: v for k, v in uncounted.items() if v}
    return {"metadata": _slim_meta(job.get("metadata") or {}), "status": slim}


def slim_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a pod the reconciler reads: metadata, phase, conditions, container states."""
    status = pod.get("status") or {}
    containers = [
        {k: c.get(k) for k in ("name", "state", "lastState") if k in c}
        for c in status.get("containerStatuses") or []
        if isinstance(c, Mapping)
    ]
    return {
        "metadata": _slim_meta(pod.get("metadata") or {}),
        "status": {
            "phase": status.get("phase"),
            "conditions": list(status.get("conditions") or []),
            "containerStatuses": containers,
        },
    }


def _values(index: Mapping[Any, Collection[Any]] | None, key: Any) -> list[Any]:
    if index is None:
        return []
    try:
        store = index[key]
    except KeyError:
        return []
    return list(store)


@dataclass
class ClusterView:
    """The kopf indexes one handler call sees (plain mappings in tests).

    ``jobs``/``pods``: monitor uid → the slim Jobs/pods it owns; ``active``:
    :data:`ACTIVE` → (namespace, name, pods) of every unfinished analysis Job;
    ``monitors``: monitor uid → the monitor's body.
    """

    jobs: Mapping[Any, Collection[Any]] = field(default_factory=dict)
    pods: Mapping[Any, Collection[Any]] = field(default_factory=dict)
    active: Mapping[Any, Collection[Any]] = field(default_factory=dict)
    monitors: Mapping[Any, Collection[Any]] = field(default_factory=dict)

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> ClusterView:
        """The view from a kopf handler's keyword arguments (indexes are passed by name).

        The view holds kopf's live indexes, never a copy: a pass reads them when it runs,
        which may be long after the view was made (a pass waits for its monitor's lock, a
        tick's sweep takes its turns). An index that is empty is falsy, so ``index or {}``
        would swap it for a dict that stays empty: a view made before the first Job was
        watched then showed no Job to a pass that ran after it, and a run named in
        ``status.currentRun`` looked deleted (``ResultLost``).
        """

        def live(name: str) -> Mapping[Any, Collection[Any]]:
            index = kwargs.get(name)
            return {} if index is None else index

        return cls(
            jobs=live("driftwarden_jobs"),
            pods=live("driftwarden_pods"),
            active=live("unfinished_analysis_jobs"),
            monitors=live("monitors_by_uid"),
        )

    def jobs_of(self, uid: str) -> list[dict[str, Any]]:
        return _values(self.jobs, uid)

    def pods_of(self, uid: str) -> list[dict[str, Any]]:
        return _values(self.pods, uid)

    def unfinished(self) -> dict[tuple[str, str], int]:
        """(namespace, name) of every unfinished analysis Job → the pods it runs at once
        (a sharded run's scan Job: its shards; any other: 1)."""
        found: dict[tuple[str, str], int] = {}
        for value in _values(self.active, ACTIVE):
            namespace, name, *rest = value
            found[(str(namespace), str(name))] = int(rest[0]) if rest else 1
        return found

    def monitor(self, uid: str) -> Mapping[str, Any] | None:
        found = _values(self.monitors, uid)
        return found[0] if found else None
