"""Completion-index sets in the Job status' compressed format (``"0,2-5,7"``).

The format of ``status.completedIndexes`` and ``status.failedIndexes``, as
``orderedIntervals.String`` and ``parseIndexesFromString`` in
pkg/controller/job/indexed_job_utils.go write and read it: ascending, runs of three or
more as ``first-last``, a run of two as ``a,b`` (never ``a-b``), comma separated.
"""

from __future__ import annotations

from collections.abc import Iterable


def format_indexes(indexes: Iterable[int]) -> str:
    """``{0, 1, 2, 4, 6, 7}`` → ``"0-2,4,6,7"``; the empty set → ``""``."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        first = last = ordered[i]
        while i + 1 < len(ordered) and ordered[i + 1] == last + 1:
            i += 1
            last = ordered[i]
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
        i += 1
    return ",".join(parts)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """The indexes below ``completions`` that ``text`` names.

    Like the real controller, a corrupt interval is skipped, not fatal, and indexes at or
    above ``completions`` are dropped (an interval running past it is cut).
    """
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        bounds = part.split("-")
        try:
            first = int(bounds[0])
            last = int(bounds[1]) if len(bounds) > 1 else first
        except ValueError:
            continue
        if first >= completions:
            break
        out.update(range(first, min(last, completions - 1) + 1))
    return out
