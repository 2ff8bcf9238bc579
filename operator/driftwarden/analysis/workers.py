"""A few threads for per-feature work that runs without the GIL, results in order.

At 1,000 features the comparison's heavy steps are each a C call on one feature's
arrays that releases the GIL: sorting the current window's sample (numpy's sort), the
KS/Wasserstein merge and the sampling-error sums (driftwarden.native._ecdf). One
thread per usable CPU runs them side by side; the Python around them still takes the
GIL in turn, which is why a few threads are enough (:data:`MAX_THREADS`).

Each item's result depends on that item alone and comes back in the items' order, so
a report is the same byte for byte whatever the number of threads
(tests/analysis/test_workers.py).

How many threads: the CPUs this process may run on (``os.sched_getaffinity``), at
most the CPU limit of its cgroup (a pod's ``resources.limits.cpu``, rounded up: a pod
limited to 1 CPU runs one thread, which is the plain loop), at most
:data:`MAX_THREADS`. ``DRIFTWARDEN_THREADS=N`` sets it (1: no threads at all).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from driftwarden.errors import ConfigError

Item = TypeVar("Item")
Result = TypeVar("Result")

# Beyond this the GIL-holding Python between the C calls is the limit, not the CPUs.
MAX_THREADS = 4
_ENV = "DRIFTWARDEN_THREADS"
# cgroup v2, then v1: the CPU quota and its period, in microseconds.
_CGROUP_V2 = "/sys/fs/cgroup/cpu.max"
_CGROUP_V1 = ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")
# Chunks per thread: enough to even out features of different sizes, few enough that
# handing one out stays negligible next to its work.
_CHUNKS_PER_THREAD = 4


def cgroup_cpu_limit(
    cpu_max: str | None, v1_quota: str | None = None, v1_period: str | None = None
) -> int | None:
    """The CPU limit a cgroup's files state, rounded up to whole CPUs; None for no limit.

    ``cpu_max`` is cgroup v2's ``cpu.max`` ("150000 100000", or "max 100000"); the v1
    pair ``cpu.cfs_quota_us`` ("-1" for none) and ``cpu.cfs_period_us`` is read when
    there is no v2 file. Unreadable or malformed text counts as no limit.
    """
    if cpu_max is not None:
        quota, _, period = cpu_max.strip().partition(" ")
    elif v1_quota is not None and v1_period is not None:
        quota, period = v1_quota.strip(), v1_period.strip()
    else:
        return None
    try:
        quota_us, period_us = int(quota), int(period or 100_000)
    except ValueError:
        return None  # "max", or text this code does not know
    if quota_us <= 0 or period_us <= 0:
        return None
    return max(1, math.ceil(quota_us / period_us))


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read(200)
    except (OSError, UnicodeDecodeError):
        return None


def usable_cpus() -> int:
    """The CPUs this process may use: its affinity, capped by its cgroup's CPU limit."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit(_read(_CGROUP_V2), *(_read(path) for path in _CGROUP_V1))
    return max(1, min(cpus, limit) if limit is not None else cpus)


def thread_count() -> int:
    """How many threads :func:`map_ordered` uses: ``DRIFTWARDEN_THREADS`` if set,
    otherwise :func:`usable_cpus` up to :data:`MAX_THREADS`."""
    value = os.environ.get(_ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(f"{_ENV}={value!r}: use a whole number of threads, 1 or more")
        return int(value)
    return min(usable_cpus(), MAX_THREADS)


def map_ordered(
    function: Callable[[Item], Result], items: Sequence[Item], threads: int | None = None
) -> list[Result]:
    """``[function(item) for item in items]``, computed by ``threads`` threads
    (:func:`thread_count` by default) taking contiguous chunks of ``items`` in turn.

    ``function`` must touch nothing but its item (and read-only shared state): the
    items are processed concurrently. The first exception of an item (in item order)
    is raised here, after every thread has stopped.

    Plain threads rather than concurrent.futures, whose import analyze does not pay
    for (tests/analysis/test_imports.py).
    """
    # More threads than items would only idle (and DRIFTWARDEN_THREADS has no ceiling).
    count = min(thread_count() if threads is None else threads, len(items))
    if count <= 1:
        return [function(item) for item in items]
    chunks = min(len(items), count * _CHUNKS_PER_THREAD)
    bounds = [len(items) * k // chunks for k in range(chunks + 1)]
    results: list[list[Result]] = [[] for _ in range(chunks)]
    errors: list[tuple[int, BaseException]] = []
    pending = iter(range(chunks))  # next() on it is atomic under the GIL
    lock = threading.Lock()

    def work() -> None:
        for k in iter(lambda: next(pending, None), None):
            try:
                results[k] = [function(item) for item in items[bounds[k] : bounds[k + 1]]]
            except BaseException as error:  # re-raised in the caller's thread below
                with lock:
                    errors.append((k, error))
                return

    pool = [
        threading.Thread(target=work, name=f"driftwarden-feature-{n}", daemon=True)
        for n in range(count)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise min(errors, key=lambda pair: pair[0])[1]
    return [result for part in results for result in part]
