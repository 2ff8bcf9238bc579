"""What a report says about where its sides came from, apart from what it found.

A side read from profiles (``analyze --current-profiles`` / ``--reference-profiles``,
docs/sharding.md) gives the report of its data, byte for byte, except for the fields
named here: the only ones. Standard library only: the benchmarks, which import neither
numpy nor pyarrow, compare reports with the same definition.
"""

from __future__ import annotations

from collections.abc import Mapping

# Where a side came from: its URI (the first profile's), "format": "profile", the
# profiles' fingerprint in place of the files', and the files (profiles) it read.
SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "reference": ("uri", "format", "fingerprint"),
    "current": ("uri", "format", "files"),
}
# When a run happened and how long it took: different between any two runs, from data or not.
RUN_FIELDS = ("generatedAt", "durationSeconds")


def without_source(document: Mapping[str, object]) -> dict[str, object]:
    """A report or summary document less SOURCE_FIELDS and RUN_FIELDS: what a report from
    profiles has byte for byte in common with the report of their data."""
    kept = {key: value for key, value in document.items() if key not in RUN_FIELDS}
    for side, fields in SOURCE_FIELDS.items():
        section = kept.get(side)
        if isinstance(section, Mapping):
            kept[side] = {key: value for key, value in section.items() if key not in fields}
    return kept
