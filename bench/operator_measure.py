"""Pure summaries for the operator benchmark: request accounting, RSS samples, latencies.

Nothing here touches a process or the API server; the inputs are the fixture's request
records (anything with ``method``, ``plural``, ``subresource``, ``is_watch``, ``time``
and ``user_agent``), RSS samples and timestamps.
"""

from __future__ import annotations

import math
import os
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

MIB = 1024 * 1024

# Request categories, in the order they are reported.
WATCHES = "watches"
READS = "reads"
STATUS_PATCHES = "statusPatches"
CREATES = "creates"
OTHER_WRITES = "otherWrites"
CATEGORIES = (READS, WATCHES, STATUS_PATCHES, CREATES, OTHER_WRITES)
# What the request-rate target leaves out: the writes real changes need.
NEEDED_FOR_CHANGES = (STATUS_PATCHES, CREATES)


class Request(Protocol):
    method: str
    plural: str | None
    name: str | None
    subresource: str | None
    time: float
    user_agent: str

    @property
    def is_watch(self) -> bool: ...


def category(request: Request) -> str:
    """Which of :data:`CATEGORIES` a request falls in (a watch counts once, when it opens)."""
    if request.is_watch:
        return WATCHES
    if request.method in ("GET", "HEAD"):
        return READS
    if request.method == "PATCH" and request.subresource == "status":
        return STATUS_PATCHES
    if request.method == "POST":
        return CREATES
    return OTHER_WRITES


def endpoint(request: Request) -> str:
    """``VERB plural[/subresource]``: the breakdown key, e.g. ``LIST jobs``, ``WATCH jobs``.

    GETs of a collection are called LIST and watches WATCH, as the API server's audit
    log names them.
    """
    target = request.plural or "(discovery)"
    if request.subresource:
        target += f"/{request.subresource}"
    verb = request.method
    if request.is_watch:
        verb = "WATCH"
    elif verb == "GET" and request.plural and not request.name:
        verb = "LIST"
    return f"{verb} {target}"


def requests_in_window(
    records: Iterable[Request], start: float, end: float, exclude_agent: str
) -> dict[str, Any]:
    """Counts and rates per category of the requests received in ``[start, end)``.

    ``start``/``end`` are ``time.time()`` values (the records' clock). Requests whose
    User-Agent starts with ``exclude_agent`` (the benchmark's own) are left out.
    ``targetRate`` is every request per second except status patches and creates.
    """
    seconds = max(end - start, 1e-9)
    chosen = [
        r
        for r in records
        if start <= r.time < end and not (r.user_agent or "").startswith(exclude_agent)
    ]
    counts = Counter(category(r) for r in chosen)
    by_endpoint = Counter(endpoint(r) for r in chosen)
    total = len(chosen)
    outside_target = sum(counts[c] for c in NEEDED_FOR_CHANGES)
    return {
        "windowSeconds": round(seconds, 3),
        "total": total,
        "counts": {c: counts[c] for c in CATEGORIES},
        "rates": {c: counts[c] / seconds for c in CATEGORIES},
        "totalRate": total / seconds,
        "targetRate": (total - outside_target) / seconds,
        "byEndpoint": dict(by_endpoint.most_common()),
    }


# ---------------------------------------------------------------- processes


def proc_memory(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (bytes) of a live process, from ``/proc/PID/status``."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(rest.split()[0]) * 1024  # the kernel reports kB
    return found


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process, from ``/proc/PID/stat``."""
    with open(f"/proc/{pid}/stat") as handle:
        text = handle.read()
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """One look at the operator process."""

    time: float  # time.time()
    phase: str
    rss: int
    hwm: int
    cpu: float


def rss_in_window(samples: Iterable[Sample], start: float, end: float) -> dict[str, Any]:
    """Median and maximum VmRSS of the samples in ``[start, end)``, VmHWM at its end, CPU use."""
    chosen = [s for s in samples if start <= s.time < end]
    if not chosen:
        return {"samples": 0}
    rss = [s.rss for s in chosen]
    cpu_seconds = chosen[-1].cpu - chosen[0].cpu
    elapsed = chosen[-1].time - chosen[0].time
    return {
        "samples": len(chosen),
        "rssMedianBytes": int(statistics.median(rss)),
        "rssMinBytes": min(rss),
        "rssMaxBytes": max(rss),
        "hwmBytes": chosen[-1].hwm,
        "cpuPercent": 100 * cpu_seconds / elapsed if elapsed > 0 else None,
    }


# ---------------------------------------------------------------- latency


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` in (0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_summary(
    finished: Mapping[str, float], recorded: Mapping[str, tuple[float, str]]
) -> dict[str, Any]:
    """Seconds from each Job's finish to its outcome in the monitor's status.

    ``finished[job]`` and ``recorded[job][0]`` are ``time.time()`` values;
    Jobs finished but never recorded are counted as ``missing``.
    """
    latencies = [recorded[job][0] - at for job, at in finished.items() if job in recorded]
    outcomes = Counter(recorded[job][1] for job in finished if job in recorded)
    in_order = sorted(finished.items(), key=lambda item: item[1])
    done = [recorded[job][0] for job in finished if job in recorded]
    span = max(done) - in_order[0][1] if done else 0.0
    return {
        "finished": len(finished),
        "recorded": len(latencies),
        "missing": len(finished) - len(latencies),
        "outcomes": dict(outcomes),
        "p50Seconds": percentile(latencies, 0.50),
        "p90Seconds": percentile(latencies, 0.90),
        "p99Seconds": percentile(latencies, 0.99),
        "maxSeconds": max(latencies) if latencies else None,
        "meanSeconds": statistics.fmean(latencies) if latencies else None,
        # Recorded per second from the first finish to the last record: when it is below
        # the finish rate, the operator falls behind and latency grows with the backlog.
        "recordedPerSecond": len(done) / span if span > 0 else None,
        # In the order the Jobs finished (None: never recorded), to see a backlog build up.
        "secondsInFinishOrder": [
            round(recorded[job][0] - at, 3) if job in recorded else None for job, at in in_order
        ],
    }


def delays_to_first(
    starts: Mapping[str, tuple[float, str]], events: Iterable[tuple[float, str]]
) -> list[float]:
    """For each ``starts[key] = (time, name)``: seconds to the first event ``(time, name)``
    of that name at or after it (keys with none are left out)."""
    by_name: dict[str, list[float]] = {}
    for at, name in sorted(events):
        by_name.setdefault(name, []).append(at)
    delays = []
    for at, name in starts.values():
        later = [t for t in by_name.get(name, []) if t >= at]
        if later:
            delays.append(later[0] - at)
    return delays


def probe_in_window(
    samples: Iterable[tuple[float, float]], start: float, end: float
) -> dict[str, Any]:
    """How long the fixture kept a trivial call waiting, over ``[start, end)`` (p50/p99/max)."""
    delays = [d for t, d in samples if start <= t < end]
    return {
        "samples": len(delays),
        "p50Seconds": percentile(delays, 0.50),
        "p99Seconds": percentile(delays, 0.99),
        "maxSeconds": max(delays) if delays else None,
    }
