"""Data format names, their aliases and file extensions: pure tables, no Arrow.

The spec parser (shared by the operator and the analysis Job) needs the names;
only :mod:`driftwarden.storage.formats` builds Arrow dataset formats from them.
Keeping the tables here lets the operator validate ``format:`` without
importing pyarrow (see DESIGN.md, "The operator process imports no data stack").
"""

from __future__ import annotations

from driftwarden.errors import ConfigError

#: Canonical format names, as documented for ``format:`` in a DriftMonitor.
FORMATS = ("parquet", "arrow", "csv", "jsonl")

_ALIASES = {
    "parquet": "parquet",
    "pq": "parquet",
    "arrow": "arrow",
    "feather": "arrow",
    "ipc": "arrow",
    "csv": "csv",
    "jsonl": "jsonl",
    "json": "jsonl",
    "ndjson": "jsonl",
}

# Arrow detects these compressions from the extension for the text formats.
_COMPRESSIONS = ("", ".gz", ".bz2", ".zst", ".lz4", ".br")

_EXTENSIONS = {
    "parquet": (".parquet", ".parq", ".pq"),
    "arrow": (".arrow", ".feather", ".ipc"),
    "csv": tuple(".csv" + c for c in _COMPRESSIONS),
    "jsonl": tuple(e + c for e in (".jsonl", ".ndjson", ".json") for c in _COMPRESSIONS),
}


def normalize_format(name: str) -> str:
    """Return the canonical name for ``name`` (case-insensitive) or raise ConfigError."""
    canonical = _ALIASES.get(str(name).strip().lower())
    if canonical is None:
        raise ConfigError(
            f"unknown data format {name!r}",
            hint="use one of: parquet, arrow (feather, ipc), csv, jsonl (json)",
        )
    return canonical


def extensions(fmt: str) -> tuple[str, ...]:
    """File name endings that identify ``fmt`` (lower case)."""
    return _EXTENSIONS[normalize_format(fmt)]


def has_extension(name: str, fmt: str) -> bool:
    """True when the file name ends with one of the format's extensions."""
    return name.lower().endswith(extensions(fmt))


def format_from_extension(path: str) -> str | None:
    """The one format whose extension ``path`` ends with, or None when it names none.

    Used when no format is declared: ``data.csv`` is read as CSV without a
    ``format:``. A directory, a glob without an extension or an unknown ending
    gives None (the caller keeps its default).
    """
    name = path.rstrip("/").lower()
    matches = [fmt for fmt, endings in _EXTENSIONS.items() if name.endswith(endings)]
    return matches[0] if len(matches) == 1 else None
