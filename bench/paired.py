"""Two commands timed as whole processes in turn, A B A B …, their ratios taken pair by pair.

Each run is a fresh child measured by ``os.wait4`` (``run.run_child``: wall, user and
system seconds, peak RSS of the child and what it waited for). Pairing keeps a ratio
meaningful when the machine speeds up or slows down during the call: both sides of a
pair see the same machine. The report gives every figure as min, median and max; quote
the median. Pure Python (no numpy, no pyarrow): a child's peak RSS cannot read below
this process's own (see ``run.run_child``), which the report states as the floor.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from run import MIB, Child, run_child

# Row label -> the figure of one run it shows.
FIGURES = (
    ("user s", lambda c: c.user),
    ("sys s", lambda c: c.system),
    ("cpu s", lambda c: c.cpu),
    ("wall s", lambda c: c.wall),
    ("peak MiB", lambda c: c.rss / MIB),
)
RATIOS = (("user", lambda c: c.user), ("cpu", lambda c: c.cpu), ("wall", lambda c: c.wall))


@dataclass(frozen=True)
class Pairs:
    """The runs of A and of B, in the order they ran: ``a[i]`` and ``b[i]`` are a pair."""

    a: tuple[Child, ...]
    b: tuple[Child, ...]


def run_pairs(
    a: Sequence[str], b: Sequence[str], runs: int, logs: Path, seconds: float | None = None
) -> Pairs:
    """Run ``a`` then ``b``, ``runs`` times; no new pair starts once ``seconds`` have passed.

    Each side's output goes to ``logs/A.out`` / ``A.err`` (``B.*``), the last run's kept:
    files, not pipes, so a chatty command never blocks and never pays for a reader.
    Exit codes are recorded, not judged (analyze exits 1 when it finds drift).
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done_a: list[Child] = []
    done_b: list[Child] = []
    for _ in range(runs):
        if seconds is not None and done_a and time.monotonic() - started > seconds:
            break
        done_a.append(run_child(a, logs / "A.out", logs / "A.err"))
        done_b.append(run_child(b, logs / "B.out", logs / "B.err"))
    return Pairs(tuple(done_a), tuple(done_b))


def spread(values: Sequence[float]) -> tuple[float, float, float] | None:
    """(min, median, max) of ``values``; None when there are none."""
    if not values:
        return None
    return min(values), statistics.median(values), max(values)


def figures(pairs: Pairs) -> dict[str, tuple[float, float, float] | None]:
    """Every row of the report: each side's figures, then A/B taken pair by pair.

    A ratio is the median of the per-pair ratios, not the ratio of the medians: that is
    what keeps it steady when the machine's speed drifts. A pair whose B figure is 0
    (too short to register) gives no ratio."""
    rows: dict[str, tuple[float, float, float] | None] = {}
    for side, runs in (("A", pairs.a), ("B", pairs.b)):
        for label, figure in FIGURES:
            rows[f"{side} {label}"] = spread([figure(c) for c in runs])
    for label, figure in RATIOS:
        ratios = [
            figure(a) / figure(b) for a, b in zip(pairs.a, pairs.b, strict=True) if figure(b) > 0
        ]
        rows[f"A/B {label}"] = spread(ratios)
    return rows


def _codes(runs: Sequence[Child]) -> str:
    counts: dict[int, int] = {}
    for child in runs:
        counts[child.code] = counts.get(child.code, 0) + 1
    return ", ".join(f"exit {code} ({n} of {len(runs)})" for code, n in sorted(counts.items()))


def report(a: str, b: str, pairs: Pairs, floor_bytes: int) -> str:
    """The text report: what A and B were, their exit codes, then one row per figure."""
    lines = [
        f"A = {a}",
        f"B = {b}",
        f"pairs: {len(pairs.a)} (A B A B ..., ratios pair by pair); "
        f"peak floor (this process's own peak) {floor_bytes / MIB:.1f} MiB; quote the median",
        f"A {_codes(pairs.a)}",
        f"B {_codes(pairs.b)}",
        f"{'':<14}{'min':>10}{'median':>12}{'max':>12}   n: {len(pairs.a)} pairs; whole process",
    ]
    for label, values in figures(pairs).items():
        digits = 4 if label.startswith("A/B") else 1 if label.endswith("MiB") else 3
        if values is None:
            lines.append(f"{label:<14}{'-':>10}{'-':>12}{'-':>12}")
            continue
        low, mid, high = (f"{v:.{digits}f}" for v in values)
        lines.append(f"{label:<14}{low:>10}{mid:>12}{high:>12}")
    return "\n".join(lines) + "\n"
