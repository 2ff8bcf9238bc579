"""kube-controller-manager's pod garbage collector and TTL-after-finished controller.

Pod GC (pkg/controller/podgc/gc_controller.go,
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-garbage-collection):
- terminated pods (Succeeded/Failed) beyond ``terminated_pod_gc_threshold``
  (``--terminated-pod-gc-threshold``, default 12500) are deleted, oldest first;
- unscheduled pods that are terminating are marked Failed (condition DisruptionTarget,
  reason DeletionByPodGC) and deleted at once;
- ``gc_pod(namespace, name)`` does to one pod what the threshold does (tests need not
  create 12,500 pods). Deletion is forced (grace 0); finalizers still hold the pod.
Pods whose owner is gone are the garbage collector's (``core.py``), not Pod GC's.

TTL after finished (pkg/controller/ttlafterfinished,
https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/): a Job with
``ttlSecondsAfterFinished`` is deleted that long after its Complete/Failed condition, with
``propagationPolicy: Foreground`` and a uid precondition, as the controller does. Time is
the cluster's clock (``server.advance_clock``).
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from .clock import parse_time
from .validation import ApiError

if TYPE_CHECKING:
    from .core import Core

DEFAULT_TERMINATED_POD_GC_THRESHOLD = 12500


def force_delete_pod(core: Core, pod: dict[str, Any]) -> None:
    rt = core.storage_types["/pods"]
    meta = pod["metadata"]
    try:
        core.delete(rt, meta["namespace"], meta["name"], {"gracePeriodSeconds": 0}, system=True)
    except ApiError as e:
        if e.code != 404:
            raise


class PodGC:
    def __init__(self, core: Core, threshold: int = DEFAULT_TERMINATED_POD_GC_THRESHOLD) -> None:
        self.core = core
        self.threshold = threshold
        self.enabled = True
        self.errors: list[str] = []

    def sync(self) -> None:
        if not self.enabled:
            return
        try:
            self._sync()
        except Exception:
            self.errors.append(traceback.format_exc())

    tick = sync

    def _sync(self) -> None:
        pods = list(self.core.objects.get("/pods", {}).values())
        terminated = [
            p
            for p in pods
            if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            and not p["metadata"].get("deletionTimestamp")
        ]
        excess = len(terminated) - self.threshold
        if excess > 0:
            terminated.sort(
                key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"])
            )
            for pod in terminated[:excess]:
                force_delete_pod(self.core, pod)
        for pod in pods:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp") and not pod["spec"].get("nodeName"):
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    self.mark_failed(pod)
                if meta.get("deletionGracePeriodSeconds"):
                    force_delete_pod(self.core, pod)

    def mark_failed(self, pod: dict[str, Any]) -> None:
        now = self.core.clock.rfc3339()

        def mutate(p: dict[str, Any]) -> None:
            status = p.setdefault("status", {})
            status["phase"] = "Failed"
            conds = [
                c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"
            ]
            conds.append({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                          "message": "PodGC: node no longer exists", "lastProbeTime": None,
                          "lastTransitionTime": now})  # fmt: skip
            status["conditions"] = conds

        self.core._system_update(self.core.storage_types["/pods"], pod, mutate)

    def gc_pod(self, namespace: str, name: str) -> None:
        pod = self.core.find_stored("/pods", namespace, name)
        if pod is None:
            raise ApiError(404, f'pods "{name}" not found', details={"name": name, "kind": "pods"})
        force_delete_pod(self.core, pod)


def finished_at(job: dict[str, Any]) -> float | None:
    """When a Job finished: the lastTransitionTime of its Complete/Failed condition."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return parse_time(cond.get("lastTransitionTime")) or parse_time(
                (job.get("status") or {}).get("completionTime")
            )
    return None


class TTLAfterFinished:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.enabled = True
        self.errors: list[str] = []

    def sync(self) -> None:
        if not self.enabled:
            return
        now = self.core.clock.time()
        rt = self.core.storage_types["batch/jobs"]
        for job in list(self.core.objects.get("batch/jobs", {}).values()):
            meta, spec = job["metadata"], job.get("spec") or {}
            ttl = spec.get("ttlSecondsAfterFinished")
            done = finished_at(job)
            if (
                ttl is None
                or done is None
                or meta.get("deletionTimestamp")
                or now < done + int(ttl)
            ):
                continue
            options = {"propagationPolicy": "Foreground", "preconditions": {"uid": meta["uid"]}}
            try:
                self.core.delete(rt, meta["namespace"], meta["name"], options, system=True)
            except ApiError as e:
                if e.code not in (404, 409):
                    self.errors.append(traceback.format_exc())

    tick = sync
