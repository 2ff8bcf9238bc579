"""What the Job controller does differently for ``completionMode: Indexed``.

Modelled on pkg/controller/job/indexed_job_utils.go and the Job docs
(https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode,
#backoff-limit-per-index, https://kubernetes.io/docs/tasks/job/pod-failure-policy/):

- each pod carries its index in the annotation ``batch.kubernetes.io/job-completion-index``
  (and, from 1.28 where the PodIndexLabel gate is on by default, the same label), has the
  hostname ``<job>-<index>``, the generateName ``<job>-<index>-`` and, in every container and
  init container, ``JOB_COMPLETION_INDEX`` as a fieldRef to that label (annotation before
  1.28) unless the template already defines that variable;
- with ``backoffLimitPerIndex`` a replacement pod records the index's earlier failures in
  ``batch.kubernetes.io/job-index-failure-count`` (and failures a podFailurePolicy Ignore
  rule ignored in ``...-ignored-failure-count``); an index fails when a counted failure
  happens at a count ≥ the limit, or a FailIndex rule matches. The failed pod whose index
  still needs a replacement keeps its job-tracking finalizer until the replacement exists,
  so its count can be copied (``getPodsWithDelayedDeletionPerIndex``).
"""

from __future__ import annotations

import copy
from typing import Any

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
FAILURE_COUNT_KEY = "batch.kubernetes.io/job-index-failure-count"
IGNORED_FAILURE_COUNT_KEY = "batch.kubernetes.io/job-index-ignored-failure-count"
INDEX_ENV = "JOB_COMPLETION_INDEX"
POD_INDEX_LABEL_SINCE = (1, 28)
MAX_GENERATED_NAME_LENGTH = 58  # names.MaxGeneratedNameLength: 63 minus the 5 random chars


def is_indexed(job: dict[str, Any]) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def has_backoff_limit_per_index(job: dict[str, Any]) -> bool:
    return is_indexed(job) and (job.get("spec") or {}).get("backoffLimitPerIndex") is not None


def completion_index(pod: dict[str, Any]) -> int | None:
    """The pod's index from its annotation (None when absent, not a number or negative)."""
    value = (pod["metadata"].get("annotations") or {}).get(INDEX_KEY)
    try:
        index = int(value) if value is not None else -1
    except ValueError:
        return None
    return index if index >= 0 else None


def _count(pod: dict[str, Any], key: str) -> int:
    """An index failure-count annotation; 0 when absent or garbage, as parseInt32 treats it."""
    try:
        value = int((pod["metadata"].get("annotations") or {}).get(key, "0"))
    except ValueError:
        return 0
    return value if 0 <= value <= 2**31 - 1 else 0


def failure_count(pod: dict[str, Any]) -> int:
    return _count(pod, FAILURE_COUNT_KEY)


def absolute_failure_count(pod: dict[str, Any]) -> int:
    """Counted plus ignored failures of the index before this pod."""
    return _count(pod, FAILURE_COUNT_KEY) + _count(pod, IGNORED_FAILURE_COUNT_KEY)


def index_failed_by(job: dict[str, Any], pod: dict[str, Any], action: str) -> bool:
    """Whether this failed pod (its podFailurePolicy ``action``, "Count" without a rule) fails
    its index (``isIndexFailed``): FailIndex, or a counted failure at the per-index limit."""
    if action == "FailIndex":
        return True
    counted = action != "Ignore"
    return counted and failure_count(pod) >= int(job["spec"]["backoffLimitPerIndex"])


def replacement_counts(pod: dict[str, Any] | None, action: str) -> tuple[int, int]:
    """(failure count, ignored failure count) for the pod replacing failed ``pod``."""
    if pod is None:
        return 0, 0
    counted, ignored = failure_count(pod), _count(pod, IGNORED_FAILURE_COUNT_KEY)
    if action == "Ignore":
        return counted, ignored + 1
    return counted + 1, ignored


def pending_indexes(completions: int, taken: set[int], count: int) -> list[int]:
    """The first ``count`` indexes below ``completions`` not in ``taken`` (firstPendingIndexes)."""
    out: list[int] = []
    candidate = 0
    while candidate < completions and len(out) < count:
        if candidate not in taken:
            out.append(candidate)
        candidate += 1
    return out


def index_pod(
    pod: dict[str, Any],
    job: dict[str, Any],
    index: int,
    version: tuple[int, int],
    counts: tuple[int, int] | None,
) -> dict[str, Any]:
    """``pod`` (from the template) turned into the pod of ``index``, as manageJob does."""
    pod = copy.deepcopy(pod)
    meta, spec = pod["metadata"], pod["spec"]
    name = job["metadata"]["name"]
    labelled = version >= POD_INDEX_LABEL_SINCE
    source = "labels" if labelled else "annotations"
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        env = container.setdefault("env", [])
        if not any(e.get("name") == INDEX_ENV for e in env):
            path = f"metadata.{source}['{INDEX_KEY}']"
            env.append({"name": INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": path}}})
    meta["annotations"][INDEX_KEY] = str(index)
    if labelled:
        meta["labels"][INDEX_KEY] = str(index)
    if counts is not None:
        meta["annotations"][FAILURE_COUNT_KEY] = str(counts[0])
        if counts[1] > 0:
            meta["annotations"][IGNORED_FAILURE_COUNT_KEY] = str(counts[1])
    spec["hostname"] = f"{name}-{index}"
    suffix = f"-{index}-"
    prefix = name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[: MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    meta["generateName"] = prefix
    return pod
