"""A sharded run (``spec.job.parallelism``): an Indexed Job of shard pods, then the merge Job.

Each pod of the scan Job (``completionMode: Indexed``) runs ``driftwarden profile
--shards N`` with the run's config and window: its completion index picks its share of
the current window's files, and its profile goes to ``<run output>/shards/shard-I``.
When every index succeeded, the operator starts the run's analysis Job as usual, with
``--current-profiles <run output>/shards/shard-{shard}.dwprofile --shards N`` (one
pattern, which analyze expands to the N profiles): the merge, which writes the report and
the summary, so the result, status, metrics and retraining path stay the one of an
unsharded run. A run is named by its analysis Job (which does not exist yet while it
scans); the scan Job carries that name in its ``driftwarden.io/run`` label.

Pure functions over the API's JSON (docs/sharding.md has the design).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from driftwarden.monitor.job import (
    LABEL_PHASE,
    LABEL_RUN,
    MAX_NAME,
    PHASE_SCAN,
    TERMINATION_LOG,
    _name,
    _short_hash,
    analysis_job,
    analysis_job_name,
    profile_cache,
    run_output,
)
from driftwarden.monitor.outcome import (
    FAILED,
    RunOutcome,
    json_object,
    outcome_from_job,
    pick_pod,
)
from driftwarden.monitor.spec import AUTO, MAX_PARALLELISM, Monitor
from driftwarden.monitor.times import format_time, utc

GIB = 1 << 30
# spec.job.parallelism auto: one shard per this many bytes the last run scanned.
AUTO_BYTES_PER_SHARD = GIB
# The scan Job's shard count, where the reconciler reads it (spec is not kept in the cache).
ANNOTATION_SHARDS = "driftwarden.io/shards"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
SHARD_FILE = "shard-{shard}.dwprofile"
# A scan pod's profile of its shard of the reference, written when the cache missed.
REFERENCE_SHARD_FILE = "reference-{shard}.dwprofile"


def shard_count(
    parallelism: int | str,
    last_bytes: int | None,
    cap: int,
    limit: int = MAX_PARALLELISM,
    last_total: int | None = None,
) -> int:
    """How many shards a run gets: ``parallelism`` as given, or for ``auto`` one per GiB the
    last run scanned; without its bytes (a first run, a failed scan) the last run's shard
    count ``last_total``, else 1. Clamped to 1 … min(``cap``, ``limit``).

    ``cap`` is the operator's concurrency cap, which counts pods: more shards than it
    could never start. The split does not change the result (profiles merge to the
    same bytes however the files are split), so clamping is safe.
    """
    if parallelism != AUTO:
        wanted = int(parallelism)
    elif last_bytes is not None and last_bytes > 0:
        wanted = math.ceil(last_bytes / AUTO_BYTES_PER_SHARD)
    else:
        wanted = last_total or 1
    return max(1, min(wanted, cap, limit))


def _last_shards(status: Mapping[str, Any] | None, key: str) -> int | None:
    last = (status or {}).get("lastRun")
    shards = last.get("shards") if isinstance(last, Mapping) else None
    value = shards.get(key) if isinstance(shards, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def last_scanned_bytes(status: Mapping[str, Any] | None) -> int | None:
    """The bytes the last sharded run's shards scanned (``status.lastRun.shards.bytes``)."""
    return _last_shards(status, "bytes")


def last_shard_total(status: Mapping[str, Any] | None) -> int | None:
    """How many shards the last sharded run had (``status.lastRun.shards.total``)."""
    return _last_shards(status, "total")


# The Job controller names each pod's hostname ``<job>-<index>``, a DNS label of at most
# 63 characters with no truncation: the scan Job's name leaves room for the largest index.
MAX_SCAN_NAME = MAX_NAME - 1 - len(str(MAX_PARALLELISM - 1))


def scan_job_name(monitor: Monitor, slot: datetime) -> str:
    """``<monitor>-<yyyymmddhhmm>-<hash>-scan``, at most :data:`MAX_SCAN_NAME` characters:
    the same slot always gives the same name."""
    slot = utc(slot)
    suffix = f"{slot:%Y%m%d%H%M}-{_short_hash(monitor.uid, slot.isoformat())}-scan"
    # _name cuts the monitor's name to fit 63; cut it further so "-<index>" fits too.
    return _name(monitor.name[: MAX_SCAN_NAME - len(suffix) - 1], suffix)


def shard_uris(monitor: Monitor, run: str, count: int, file: str = SHARD_FILE) -> list[str]:
    """Where the shards of run ``run`` write their profiles: ``<run output>/shards/shard-I``
    (``file`` :data:`REFERENCE_SHARD_FILE`: their reference shards)."""
    base = run_output(monitor, run)
    if base is None:  # spec.check_sharding refuses a sharded monitor without an output path
        raise ValueError(f"DriftMonitor {monitor.name}: a sharded run needs spec.output.path")
    return [f"{base}/shards/{file.format(shard=i)}" for i in range(count)]


def shards_read_reference(monitor: Monitor) -> bool:
    """True when the scan pods take part in the reference: a fixed reference (rolling and
    offset ones go through their per-file window cache on the merge pod) whose window, if
    it has one, the current window's end closes."""
    reference, current = monitor.run.reference, monitor.run.current
    return reference.offset is None and (reference.window is None or current.window is not None)


def is_scan(job: Mapping[str, Any]) -> bool:
    """True for the scan Job of a sharded run (its pods too: they carry the label)."""
    return ((job.get("metadata") or {}).get("labels") or {}).get(LABEL_PHASE) == PHASE_SCAN


def run_of(job: Mapping[str, Any]) -> str:
    """The run (analysis Job name) a scan Job or pod belongs to."""
    return str(((job.get("metadata") or {}).get("labels") or {}).get(LABEL_RUN) or "")


def shards_of(job: Mapping[str, Any]) -> int:
    """A scan Job's shard count (its annotation); 1 for any other Job: the pods it runs at once."""
    text = ((job.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_SHARDS)
    try:
        return max(1, int(text)) if text is not None else 1
    except ValueError:
        return 1


# ``status.currentRun.phase``: which of its Jobs a run is at. The status write that first
# shows a phase is what announces its Job (the start Event and the started-Jobs counter
# follow that write, :func:`newly_started`): a write that conflicts announces nothing, and
# the next pass, from the fresh status, announces it then — a restarted operator too.
ANALYZING = "Analyzing"  # an unsharded run's analysis Job
SCANNING = "Scanning"  # a sharded run's scan Job (its merge Job does not exist yet)
MERGING = "Merging"  # a sharded run's merge Job (its scan Job succeeded)
_EVERY_PHASE = frozenset({ANALYZING, SCANNING, MERGING})


def run_phase(job: Mapping[str, Any]) -> str:
    """``status.currentRun.phase`` of the Job that stands for a run: :data:`SCANNING` for a
    scan Job, :data:`MERGING` for a merge Job, :data:`ANALYZING` for any other."""
    if is_scan(job):
        return SCANNING
    if ANNOTATION_SHARDS in ((job.get("metadata") or {}).get("annotations") or {}):
        return MERGING
    return ANALYZING


def _shown(entry: Any, run: str) -> frozenset[str]:
    """The phases of ``run`` a ``status.currentRun`` entry shows as started."""
    if not isinstance(entry, Mapping) or entry.get("job") != run:
        return frozenset()
    if entry.get("phase") == SCANNING:
        return frozenset({SCANNING})
    # Merging comes after the scan; Analyzing is all an unsharded run has; no phase at all
    # is an entry an older operator wrote, whose Jobs it announced when it created them.
    return _EVERY_PHASE


def newly_started(
    previous: Mapping[str, Any], status: Mapping[str, Any], jobs: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The analysis, scan and merge Jobs that writing ``status`` over ``previous`` shows as
    started for the first time (a scan Job before its merge Job): those of the run
    ``status.currentRun`` names, in phases ``previous`` did not show, and those of a run
    ``status.lastRun`` records now that ``previous`` never showed (a Job that finished
    before any write showing it succeeded). Their start Events follow the write."""
    last = previous.get("lastRun")
    recorded = last.get("job") if isinstance(last, Mapping) else None
    shown: list[tuple[str, frozenset[str]]] = []
    current = status.get("currentRun")
    if isinstance(current, Mapping) and current.get("job"):
        shown.append((str(current["job"]), _shown(current, str(current["job"]))))
    now = status.get("lastRun")
    if isinstance(now, Mapping) and now.get("job") and now.get("job") != recorded:
        shown.append((str(now["job"]), _EVERY_PHASE))
    started: list[Mapping[str, Any]] = []
    for run, phases in shown:
        before = _EVERY_PHASE if run == recorded else _shown(previous.get("currentRun"), run)
        mine = [
            job
            for job in jobs
            if (run_of(job) if is_scan(job) else (job.get("metadata") or {}).get("name")) == run
        ]
        for job in sorted(mine, key=lambda j: not is_scan(j)):  # the scan Job first
            if run_phase(job) in phases - before:
                started.append(job)
    return started


def pod_slots(job: Mapping[str, Any]) -> int:
    """The pods a Job runs at once, as the concurrency cap counts them: a scan Job's shards,
    1 for any other (the merge Job too, though it names its shard count)."""
    return shards_of(job) if is_scan(job) else 1


def scan_job(
    monitor: Monitor,
    slot: datetime,
    image: str,
    count: int,
    *,
    per_index: bool = True,
    pod_failure_policy: bool = True,
    extra_labels: Mapping[str, str] | None = None,
    reference: Mapping[str, Any] | None = None,
    last_retraining: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Indexed Job whose ``count`` pods profile the shards of one slot's current window.

    Built from the slot's analysis Job (image, resources, security, scheduling, the
    config in env), so a shard pod runs where and as the analysis would. Differences:

    * ``completionMode: Indexed``, ``completions = parallelism = count``;
    * ``per_index`` (API servers 1.29+): ``backoffLimitPerIndex`` = spec.job.backoffLimit
      retries each failed index alone, and ``maxFailedIndexes: 0`` fails the Job at the
      first index out of retries (the merge needs every shard). Older servers drop the
      field: ``backoffLimit`` then counts the failures of all pods, so it is
      spec.job.backoffLimit × count, the same total budget;
    * the analysis Job's podFailurePolicy (bad config and data errors, exit 2 and 3,
      fail the Job at once: no index would do better);
    * no result finalizer: the run's result is the merge Job's; a scan Job that TTL
      removes after the merge started is not needed any more;
    * a fixed reference (:func:`shards_read_reference`; ``reference``, the promoted one,
      reaches the pods in the config as it reaches the analysis): each pod looks the
      reference's profile up in the monitor's profile cache and counts its histograms on
      its edges, or on a miss profiles its shard of the reference for the merge to merge
      and cache (``--profile-cache``, ``--reference-output``; docs/sharding.md).
    """
    settings = monitor.job
    run = analysis_job_name(monitor, slot)
    base = analysis_job(
        monitor,
        slot,
        image,
        extra_labels=extra_labels,
        pod_failure_policy=pod_failure_policy,
        reference=reference,
        last_retraining=last_retraining,
    )
    name = scan_job_name(monitor, slot)
    meta = base["metadata"]
    meta["name"] = name
    meta["labels"][LABEL_PHASE] = PHASE_SCAN
    meta["annotations"][ANNOTATION_SHARDS] = str(count)
    meta.pop("finalizers", None)
    spec = base["spec"]
    template = spec["template"]
    template["metadata"]["labels"][LABEL_PHASE] = PHASE_SCAN
    template["metadata"].pop("finalizers", None)
    container = template["spec"]["containers"][0]
    source = monitor.run.current
    args = ["profile", "--config-env", container["args"][2], "--input", source.path]
    if source.format:
        args += ["--format", source.format]
    args += ["--shards", str(count), "--output", _pattern(monitor, run)]
    cache = profile_cache(monitor)
    if cache is not None and shards_read_reference(monitor):
        args += ["--profile-cache", cache]
        args += ["--reference-output", _pattern(monitor, run, REFERENCE_SHARD_FILE)]
    if source.window is not None:
        args += ["--window-end", format_time(slot)]
    args += ["--summary-file", TERMINATION_LOG, "--log-format", "json"]
    container["args"] = args
    spec.update(
        {
            "completionMode": "Indexed",
            "completions": count,
            "parallelism": count,
            "backoffLimit": settings.backoff_limit * count,
        }
    )
    if per_index:
        spec["backoffLimitPerIndex"] = settings.backoff_limit
        spec["maxFailedIndexes"] = 0
    return base


def _pattern(monitor: Monitor, run: str, file: str = SHARD_FILE) -> str:
    """The URI of shard ``{shard}`` (a placeholder ``driftwarden profile`` fills in)."""
    first = shard_uris(monitor, run, 1, file)[0]
    return first[: -len(file.format(shard=0))] + file


def merge_job(
    monitor: Monitor, slot: datetime, image: str, count: int, **options: Any
) -> dict[str, Any]:
    """The run's analysis Job reading the ``count`` shard profiles in place of current data
    (and the reference's shard profiles, if the scan wrote them all, in place of reading
    a reference its profile cache lacks)."""
    job = analysis_job(monitor, slot, image, **options)
    container = job["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    at = args.index("--summary-file")
    run = str(job["metadata"]["name"])
    # One {shard} pattern and the count, which analyze expands to the N profiles: N URIs
    # with a long output path would take, at 1,000 shards, ~100 KiB of the Job's arguments
    # (ARG_MAX) and of the API server's object size, twice with the reference's shards.
    uris = ["--current-profiles", _pattern(monitor, run), "--shards", str(count)]
    if shards_read_reference(monitor):
        uris += ["--reference-shards", _pattern(monitor, run, REFERENCE_SHARD_FILE)]
    container["args"] = [*args[:at], *uris, *args[at:]]
    job["metadata"]["annotations"][ANNOTATION_SHARDS] = str(count)
    return job


def _index(pod: Mapping[str, Any]) -> int | None:
    meta = pod.get("metadata") or {}
    for where in (meta.get("labels") or {}, meta.get("annotations") or {}):
        text = where.get(COMPLETION_INDEX)
        if text is not None:
            try:
                return int(text)
            except ValueError:
                return None
    return None


def _terminated(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if isinstance(status, Mapping):
            state = status.get("state") or {}
            if isinstance(state.get("terminated"), Mapping):
                return state["terminated"]
    return {}


def scanned_bytes(pods: Iterable[Mapping[str, Any]]) -> int | None:
    """Bytes the succeeded shard pods scanned, from their termination messages (one per
    index; None when any index's message is unreadable)."""
    per_index: dict[int, int] = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") != "Succeeded":
            continue
        index = _index(pod)
        facts = json_object(str(_terminated(pod).get("message") or "").strip())
        value = facts.get("bytes") if facts is not None else None
        if index is None or not isinstance(value, int) or isinstance(value, bool):
            return None
        per_index[index] = value
    return sum(per_index.values()) if per_index else None


def shard_progress(
    job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], *, final: bool = False
) -> dict[str, Any]:
    """``{total, succeeded, failed, active, failedIndexes}`` of a scan Job (``bytes`` too once
    ``final``: None unless every shard succeeded), for ``status.currentRun.shards`` /
    ``status.lastRun.shards``.

    ``succeeded`` counts indexes done (``status.completedIndexes``, else the Job's
    ``succeeded``); ``failed`` counts failed pods, retries included.
    """
    status = job.get("status") or {}
    total = shards_of(job)
    done = _count_indexes(status.get("completedIndexes"))
    progress: dict[str, Any] = {
        "total": total,
        "succeeded": done if done is not None else int(status.get("succeeded") or 0),
        "failed": int(status.get("failed") or 0),
        "active": int(status.get("active") or 0),
        "failedIndexes": status.get("failedIndexes") or None,
    }
    if final:
        # Only a whole scan measures the window: a failed one's bytes would undercount it.
        whole = progress["succeeded"] == total and not progress["failedIndexes"]
        progress["bytes"] = scanned_bytes(pods) if whole else None
    return progress


def _count_indexes(text: Any) -> int | None:
    """How many indexes a compressed interval list ("0,2-5") names; None when absent."""
    if not isinstance(text, str):
        return None
    count = 0
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        try:
            count += (int(high) - int(low) + 1) if high else 1
        except ValueError:
            return None
    return count


def scan_failed(run: str, job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> RunOutcome:
    """The failed run of a scan Job that failed: named by the run, its message naming the
    failed indexes and the failed shard pod's own message (as a failed analysis Job's)."""
    pods = list(pods)
    failed = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
    pod = pick_pod(failed or pods)
    outcome = outcome_from_job(job, pod)
    indexes = (job.get("status") or {}).get("failedIndexes")
    if not indexes and pod is not None and _index(pod) is not None:
        indexes = str(_index(pod))
    where = f"shard index(es) {indexes}" if indexes else "a shard"
    return replace(
        outcome,
        job=run,
        outcome=FAILED,
        message=f"the shard scan failed at {where} of {shards_of(job)}: {outcome.message}"[:512],
    )


def status_with_shards(
    status: Mapping[str, Any], current: Mapping[str, Any] | None, last: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``status`` with shard progress on ``currentRun`` and (when this pass records it)
    ``lastRun``; either None leaves that run's entry as it is."""
    out = dict(status)
    for key, progress in (("currentRun", current), ("lastRun", last)):
        entry = out.get(key)
        if progress is not None and isinstance(entry, Mapping):
            out[key] = {**entry, "shards": copy.deepcopy(dict(progress))}
    return out
