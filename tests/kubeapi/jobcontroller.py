"""A stand-in for kube-controller-manager's Job controller (pkg/controller/job/job_controller.go).

What it does, as the real one does (https://kubernetes.io/docs/concepts/workloads/controllers/job/):

- creates Pods from ``spec.template`` as ``GetPodFromTemplate`` does: ``generateName``
  ``<job>-``, the template's labels, annotations and finalizers, the controller
  ownerReference, plus the ``batch.kubernetes.io/job-tracking`` finalizer it removes once the
  pod is counted; creations go through admission, so a refused pod leaves a Warning
  ``FailedCreate`` Event on the Job (``Error creating: pods "NAME-xxxxx" is forbidden: ...``),
  no active pod, and a retry with backoff;
- honours ``parallelism``/``completions`` (NonIndexed), ``suspend`` (active pods deleted,
  condition Suspended), ``backoffLimit`` (failed pods counted, Failed reason
  BackoffLimitExceeded), ``podFailurePolicy`` (onExitCodes/onPodConditions with
  FailJob/Ignore/Count; Failed reason PodFailurePolicy), ``activeDeadlineSeconds`` (Failed
  reason DeadlineExceeded, active pods deleted), the pod failure backoff (10 s doubling, at
  most 10 min, measured on the cluster's clock);
- writes ``status``: active, ready, succeeded, failed, terminating, startTime,
  completionTime, conditions — with ``SuccessCriteriaMet``/``FailureTarget`` before the
  terminal condition from 1.31 on (``versions.py``).

Indexed Jobs (``completionMode: Indexed``, pkg/controller/job/indexed_job_utils.go; details
in ``indexedjobs.py``): one pod per index ``0..completions-1``, at most ``parallelism``
active, lowest pending index first, each carrying its index (annotation, label from 1.28,
hostname ``<job>-<index>``, ``JOB_COMPLETION_INDEX`` fieldRef env, name
``<job>-<index>-xxxxx``); a succeeded index is never rerun; ``status.completedIndexes`` in
the compressed format (``indexes.py``), ``succeeded`` counts indexes; the Job completes when
every index has succeeded. Without ``backoffLimitPerIndex`` a failed index gets a new pod
(same index) under the Job-wide backoff and ``backoffLimit``. With it (served from 1.29,
``versions.py``): failures counted per index (the replacement pod's
``job-index-failure-count`` annotation), an index over its limit, or hit by a podFailurePolicy
``FailIndex`` rule, goes to ``status.failedIndexes`` and is not retried while the others go
on; each index backs off on its own (10 s doubling per failure of that index);
``maxFailedIndexes`` exceeded fails the Job (reason MaxFailedIndexesExceeded), and once every
index has succeeded or failed with some failed, the Job fails with reason FailedIndexes.

``podReplacementPolicy``: with ``Failed`` (the default with a podFailurePolicy) a deleted pod
is replaced once it has terminated; with ``TerminatingOrFailed`` (otherwise; and on servers
without the field) at once, the deleted pod counted as failed.

Not modelled: successPolicy, managedBy, expectations/caches (it reads storage directly).
"""

from __future__ import annotations

import copy
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clock import parse_time
from .indexedjobs import (
    absolute_failure_count,
    completion_index,
    has_backoff_limit_per_index,
    index_failed_by,
    index_pod,
    is_indexed,
    pending_indexes,
    replacement_counts,
)
from .indexes import format_indexes, parse_indexes
from .recorder import record_event
from .validation import ApiError
from .versions import FAILURE_TARGET_FOR_POLICY_SINCE, TARGET_CONDITIONS_SINCE

if TYPE_CHECKING:
    from .core import Core

JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPONENT = "job-controller"
TERMINAL = ("Succeeded", "Failed")


@dataclass
class _JobMemory:
    """What the real controller keeps in memory per Job (its workqueue's rate limiter)."""

    create_failures: int = 0
    next_create: float = 0.0


def is_finished(job: dict[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def controller_uid(obj: dict[str, Any]) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def _terminated_codes(pod: dict[str, Any]) -> list[tuple[str, int]]:
    status = pod.get("status") or {}
    out = []
    # Regular containers first, then init containers, as getMatchingContainerFromList is called.
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        term = (cs.get("state") or {}).get("terminated")
        if term is not None and term.get("exitCode", 0) != 0:
            out.append((cs["name"], int(term["exitCode"])))
    return out


def match_pod_failure_policy(job: dict[str, Any], pod: dict[str, Any]) -> tuple[str, str] | None:
    """The first podFailurePolicy rule a failed pod matches: (action, message), or None."""
    rules = ((job.get("spec") or {}).get("podFailurePolicy") or {}).get("rules") or []
    meta = pod["metadata"]
    where = f"{meta['namespace']}/{meta['name']}"
    for i, rule in enumerate(rules):
        action = rule.get("action", "")
        on_codes = rule.get("onExitCodes")
        if on_codes:
            wanted = set(on_codes.get("values") or [])
            for name, code in _terminated_codes(pod):
                if on_codes.get("containerName") and on_codes["containerName"] != name:
                    continue
                operator = on_codes.get("operator")
                hit = (
                    code in wanted
                    if operator == "In"
                    else operator == "NotIn" and code not in wanted
                )
                if hit:
                    return action, (
                        f"Container {name} for pod {where} failed with exit code {code} "
                        f"matching {action} rule at index {i}"
                    )
            continue  # a rule has onExitCodes or onPodConditions, never both
        for pattern in rule.get("onPodConditions") or []:
            for cond in (pod.get("status") or {}).get("conditions") or []:
                if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get(
                    "status", "True"
                ):
                    return action, (
                        f"Pod {where} has condition {cond['type']} matching {action} rule at index {i}"
                    )
    return None


def _condition(ctype: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    cond = {"type": ctype, "status": status, "lastProbeTime": now, "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _set_condition(conditions: list[dict[str, Any]], new: dict[str, Any]) -> None:
    for i, cond in enumerate(conditions):
        if cond["type"] == new["type"]:
            if cond.get("status") == new["status"]:
                return
            conditions[i] = new
            return
    conditions.append(new)


class JobController:
    """Runs inside the server (loop thread). ``enabled`` switches it on and off."""

    def __init__(
        self,
        core: Core,
        *,
        enabled: bool = False,
        pod_backoff: float = 10.0,
        pod_backoff_cap: float = 600.0,
        create_retry: float = 0.25,
        create_retry_cap: float = 5.0,
    ) -> None:
        self.core = core
        self.enabled = enabled
        self.pod_backoff = pod_backoff  # DefaultJobPodFailureBackOff
        self.pod_backoff_cap = pod_backoff_cap  # MaxJobPodFailureBackOff
        self.create_retry = create_retry  # the workqueue's rate limiter after a failed create
        self.create_retry_cap = create_retry_cap
        self.errors: list[str] = []
        self._memory: dict[str, _JobMemory] = {}

    # -- controller protocol ------------------------------------------------

    def sync(self) -> None:
        if not self.enabled:
            return
        jobs_rt = self.core.storage_types.get("batch/jobs")
        pods = list(self.core.objects.get("/pods", {}).values())
        by_owner: dict[str, list[dict[str, Any]]] = {}
        for pod in pods:
            # A pod orphaned by a Job deleted with propagationPolicy Orphan has no controller;
            # the orphan worker removes its finalizer, like those of pods whose Job is gone.
            by_owner.setdefault(controller_uid(pod) or "", []).append(pod)
        for job in list(self.core.objects.get("batch/jobs", {}).values()):
            try:
                self._sync_job(jobs_rt, job, by_owner.get(job["metadata"]["uid"], []))
            except Exception:  # a fixture bug: surfaced through server.errors
                self.errors.append(traceback.format_exc())
        live = {j["metadata"]["uid"] for j in self.core.objects.get("batch/jobs", {}).values()}
        for uid, orphans in by_owner.items():  # the Job is gone: its pods' finalizers go too
            if uid not in live:
                self._release(orphans, count=True)
        for uid in list(self._memory):
            if uid not in live:
                del self._memory[uid]

    tick = sync

    # -- one Job ---------------------------------------------------------------

    def _sync_job(self, jobs_rt: Any, job: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        core = self.core
        if job["metadata"].get("deletionTimestamp"):
            self._release(pods, count=False)
            return
        spec = job.get("spec") or {}
        status = copy.deepcopy(job.get("status") or {})
        conditions: list[dict[str, Any]] = status.get("conditions") or []
        now_s = core.clock.time()
        now = core.clock.rfc3339()
        if is_finished(job):
            self._release(pods, count=False)
            return

        memory = self._memory.setdefault(job["metadata"]["uid"], _JobMemory())
        succeeded = int(status.get("succeeded") or 0)
        failed = int(status.get("failed") or 0)
        fail_job: str | None = None
        last_failure = 0.0
        policy = spec.get("podFailurePolicy")
        completions = spec.get("completions")
        indexed, per_index = is_indexed(job), has_backoff_limit_per_index(job)
        n = int(completions or 0) if indexed else 0
        done_ix = parse_indexes(status.get("completedIndexes"), n) if indexed else set()
        failed_ix = parse_indexes(status.get("failedIndexes"), n) if per_index else set()
        failures: list[tuple[dict[str, Any], str]] = []  # uncounted failed pods, their action
        # onlyReplaceFailedPods: with podReplacementPolicy Failed or any podFailurePolicy a
        # deleted pod counts (and is replaced) once it has failed; otherwise at once.
        only_failed = bool(policy) or spec.get("podReplacementPolicy") == "Failed"
        for pod in pods:
            if JOB_TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or []):
                continue
            phase = (pod.get("status") or {}).get("phase")
            ix = completion_index(pod)
            if phase == "Succeeded":
                if not indexed:
                    succeeded += 1
                elif ix is not None and ix < n:
                    done_ix.add(ix)
                self._release([pod], count=True)
            elif phase == "Failed" or (
                pod["metadata"].get("deletionTimestamp")
                and phase != "Succeeded"
                and not only_failed
            ):
                matched = match_pod_failure_policy(job, pod) if policy else None
                action = matched[0] if matched else "Count"
                if action == "FailJob" and matched:
                    fail_job = fail_job or matched[1]
                if per_index and ix is not None and ix < n and index_failed_by(job, pod, action):
                    failed_ix.add(ix)
                failures.append((pod, action))

        active = [p for p in pods if not self._gone(p)]
        # With backoffLimitPerIndex, the failed pod of an index still to be retried keeps its
        # finalizer (uncounted) until its replacement exists and carries its failure count.
        held = self._held_per_index(failures, done_ix | failed_ix, active, n) if per_index else {}
        held_uids = {pod["metadata"]["uid"] for pod, _ in held.values()}
        for pod, action in failures:
            if pod["metadata"]["uid"] in held_uids:
                continue
            if action != "Ignore":
                failed += 1
                last_failure = max(last_failure, self._finished_at(pod) or now_s)
            self._release([pod], count=True)
        failed_held = sum(1 for _, action in held.values() if action != "Ignore")
        if indexed:
            active = self._drop_extra_indexed(job, active, n)
            succeeded = len(done_ix)
        terminating = [
            p
            for p in pods
            if p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in TERMINAL
        ]
        ready = sum(
            1
            for p in active
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )
        suspended = bool(spec.get("suspend"))
        start = parse_time(status.get("startTime"))
        parallelism = int(spec.get("parallelism", 1) or 0)
        version = core.version
        target_conditions = version >= TARGET_CONDITIONS_SINCE

        failure: tuple[str, str] | None = None
        if any(c["type"] == "FailureTarget" and c["status"] == "True" for c in conditions):
            target = next(c for c in conditions if c["type"] == "FailureTarget")
            failure = (target.get("reason", ""), target.get("message", ""))
        elif fail_job is not None:
            failure = ("PodFailurePolicy", fail_job)
        elif failed + failed_held > int(spec.get("backoffLimit", 6)):
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif (
            not suspended
            and spec.get("activeDeadlineSeconds") is not None
            and start is not None
            and now_s - start >= int(spec["activeDeadlineSeconds"])
        ):
            failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        elif per_index:
            failure = _failed_indexes_verdict(spec, failed_ix, done_ix, n)

        done = (completions is not None and succeeded >= int(completions)) or (
            completions is None and succeeded > 0 and not active
        )
        if (failure is not None or done) and held:
            # Finishing: no replacement will come, so the held failures are counted now.
            failed += failed_held
            self._release([pod for pod, _ in held.values()], count=True)
        if failure is not None:
            reason, message = failure
            self._delete_pods(job, active)
            if target_conditions or (
                reason == "PodFailurePolicy" and version >= FAILURE_TARGET_FOR_POLICY_SINCE
            ):
                _set_condition(
                    conditions, _condition("FailureTarget", "True", reason, message, now)
                )
            if not target_conditions or not (active or terminating):
                _set_condition(conditions, _condition("Failed", "True", reason, message, now))
                record_event(core, job, "Warning", reason, message, COMPONENT)
            active = []
        elif done:
            self._delete_pods(job, active)
            message = "Reached expected number of succeeded pods"
            if target_conditions:
                _set_condition(conditions, _condition("SuccessCriteriaMet", "True", "CompletionsReached", message, now))  # fmt: skip
            if not target_conditions or not (active or terminating):
                _set_condition(
                    conditions,
                    _condition("Complete", "True", "CompletionsReached" if target_conditions else "", message if target_conditions else "", now),
                )  # fmt: skip
                status["completionTime"] = now
                record_event(core, job, "Normal", "Completed", "Job completed", COMPONENT)
            active = []
        elif suspended:
            self._delete_pods(job, active)
            active = []
            if not any(c["type"] == "Suspended" and c["status"] == "True" for c in conditions):
                _set_condition(
                    conditions,
                    _condition("Suspended", "True", "JobSuspended", "Job suspended", now),
                )
                record_event(core, job, "Normal", "Suspended", "Job suspended", COMPONENT)
                status.pop("startTime", None)
        else:
            if any(c["type"] == "Suspended" and c["status"] == "True" for c in conditions):
                _set_condition(
                    conditions, _condition("Suspended", "False", "JobResumed", "Job resumed", now)
                )
                record_event(core, job, "Normal", "Resumed", "Job resumed", COMPONENT)
                status["startTime"] = now
            status.setdefault("startTime", now)
            want = parallelism
            if completions is not None:
                want = min(parallelism, int(completions) - succeeded)
            elif succeeded > 0:
                want = 0
            holding = terminating if only_failed else []  # they keep their place (and index)
            missing = want - len(active) - len(holding)
            if failed and last_failure and not per_index:  # per index: each index backs off
                delay = min(self.pod_backoff * 2 ** (failed - 1), self.pod_backoff_cap)
                memory.next_create = max(memory.next_create, last_failure + delay)
            if missing > 0 and now_s >= memory.next_create:
                if indexed:
                    taken = done_ix | failed_ix | _indexes(active) | _indexes(holding)
                    manifests = self._indexed_pods(
                        job, pending_indexes(n, taken, missing), held, per_index, now_s
                    )
                else:
                    manifests = [pod_from_template(job) for _ in range(missing)]
                active += self._create_pods(job, manifests, memory, now_s)

        status["conditions"] = conditions
        status.update({"active": len(active), "ready": min(ready, len(active)), "succeeded": succeeded,
                       "failed": failed, "uncountedTerminatedPods": {}})  # fmt: skip
        if version >= (1, 29):
            status["terminating"] = len(terminating)
        if indexed:
            status["completedIndexes"] = format_indexes(done_ix)
        if per_index:  # a pointer in the API: "" (no failed index yet) is served, not omitted
            status["failedIndexes"] = format_indexes(failed_ix)
        for key in ("active", "succeeded", "failed", "conditions", "completedIndexes"):
            if not status.get(key):
                status.pop(key, None)
        if status != (job.get("status") or {}):
            fresh = core.find_stored(
                "batch/jobs", job["metadata"]["namespace"], job["metadata"]["name"]
            )
            if fresh is not None and fresh["metadata"]["uid"] == job["metadata"]["uid"]:
                core._system_update(jobs_rt, fresh, lambda j: j.__setitem__("status", status))

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _gone(pod: dict[str, Any]) -> bool:
        return (
            bool(pod["metadata"].get("deletionTimestamp"))
            or (pod.get("status") or {}).get("phase") in TERMINAL
        )

    @staticmethod
    def _finished_at(pod: dict[str, Any]) -> float | None:
        times = [
            parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
            for cs in (pod.get("status") or {}).get("containerStatuses") or []
        ]
        known = [t for t in times if t is not None]
        return max(known) if known else None

    def _release(self, pods: list[dict[str, Any]], *, count: bool) -> None:
        """Remove the job-tracking finalizer (from finished Jobs' pods: all of them)."""
        rt = self.core.storage_types["/pods"]
        for pod in pods:
            fins = pod["metadata"].get("finalizers") or []
            if JOB_TRACKING_FINALIZER not in fins:
                continue
            if not count and not self._gone(pod):
                continue
            fresh = self.core.find_stored(
                "/pods", pod["metadata"]["namespace"], pod["metadata"]["name"]
            )
            if fresh is None:
                continue
            self.core._system_update(rt, fresh, lambda p: p["metadata"].__setitem__(
                "finalizers", [f for f in p["metadata"].get("finalizers") or [] if f != JOB_TRACKING_FINALIZER]))  # fmt: skip

    def _delete_pods(self, job: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        rt = self.core.storage_types["/pods"]
        for pod in pods:
            if not pod["metadata"].get("deletionTimestamp"):
                self.core._system_delete(rt, pod)
                name = pod["metadata"]["name"]
                record_event(
                    self.core, job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}", COMPONENT
                )

    def _held_per_index(
        self,
        failures: list[tuple[dict[str, Any], str]],
        settled: set[int],
        active: list[dict[str, Any]],
        n: int,
    ) -> dict[int, tuple[dict[str, Any], str]]:
        """Per index still to be retried, its latest failed pod (getPodsWithDelayedDeletionPerIndex)."""
        running = _indexes(active)
        held: dict[int, tuple[dict[str, Any], str]] = {}
        for pod, action in failures:
            ix = completion_index(pod)
            if ix is None or ix >= n or ix in settled or ix in running:
                continue
            prev = held.get(ix)
            if prev is None or (
                absolute_failure_count(prev[0]) <= absolute_failure_count(pod)
                and (self._finished_at(pod) or 0) >= (self._finished_at(prev[0]) or 0)
            ):
                held[ix] = (pod, action)
        return held

    def _drop_extra_indexed(
        self, job: dict[str, Any], active: list[dict[str, Any]], n: int
    ) -> list[dict[str, Any]]:
        """Delete active pods without a valid index, or a second pod of one index
        (appendDuplicatedIndexPodsForRemoval: the Running, older one stays)."""
        keep: dict[int, dict[str, Any]] = {}
        extra = []
        ranked = sorted(active, key=lambda p: ((p.get("status") or {}).get("phase") != "Running",
                                               p["metadata"].get("creationTimestamp") or ""))  # fmt: skip
        for pod in ranked:
            ix = completion_index(pod)
            if ix is None or ix >= n or ix in keep:
                extra.append(pod)
            else:
                keep[ix] = pod
        self._delete_pods(job, extra)
        return [p for p in active if p not in extra]

    def _indexed_pods(
        self,
        job: dict[str, Any],
        indexes: list[int],
        held: dict[int, tuple[dict[str, Any], str]],
        per_index: bool,
        now_s: float,
    ) -> list[dict[str, Any]]:
        """The pods of ``indexes``; with backoffLimitPerIndex, an index whose last failure is
        younger than its backoff (10 s doubling per failure of that index) waits."""
        out = []
        for ix in indexes:
            counts = None
            if per_index:
                pod, action = held.get(ix, (None, "Count"))
                if pod is not None:
                    delay = min(
                        self.pod_backoff * 2 ** absolute_failure_count(pod), self.pod_backoff_cap
                    )
                    if (self._finished_at(pod) or now_s) + delay > now_s:
                        continue
                counts = replacement_counts(pod, action)
            out.append(index_pod(pod_from_template(job), job, ix, self.core.version, counts))
        return out

    def _create_pods(
        self, job: dict[str, Any], manifests: list[dict[str, Any]], memory: _JobMemory, now_s: float
    ) -> list[dict[str, Any]]:
        rt = self.core.storage_types["/pods"]
        created = []
        for manifest in manifests:
            try:
                pod = self.core.create(rt, job["metadata"]["namespace"], manifest)
            except ApiError as e:
                memory.create_failures += 1
                delay = min(
                    self.create_retry * 2 ** (memory.create_failures - 1), self.create_retry_cap
                )
                memory.next_create = now_s + delay
                record_event(
                    self.core,
                    job,
                    "Warning",
                    "FailedCreate",
                    f"Error creating: {e.message}",
                    COMPONENT,
                )
                break
            memory.create_failures = 0
            record_event(self.core, job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", COMPONENT)  # fmt: skip
            created.append(pod)
        return created


def _indexes(pods: list[dict[str, Any]]) -> set[int]:
    return {ix for ix in map(completion_index, pods) if ix is not None}


def _failed_indexes_verdict(
    spec: dict[str, Any], failed_ix: set[int], done_ix: set[int], n: int
) -> tuple[str, str] | None:
    """The Job's failure from its failed indexes (backoffLimitPerIndex), or None."""
    most = spec.get("maxFailedIndexes")
    if most is not None and len(failed_ix) > int(most):
        return (
            "MaxFailedIndexesExceeded",
            "Job has exceeded the specified maximal number of failed indexes",
        )
    if failed_ix and len(failed_ix | done_ix) >= n:
        return ("FailedIndexes", "Job has failed indexes")
    return None


def pod_from_template(job: dict[str, Any]) -> dict[str, Any]:
    """GetPodFromTemplate (pkg/controller/controller_utils.go) plus the job-tracking finalizer."""
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    meta = job["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": meta["name"] + "-",
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": dict(tmeta.get("annotations") or {}),
            "finalizers": [*(tmeta.get("finalizers") or []), JOB_TRACKING_FINALIZER],
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": template.get("spec") or {},
    }
