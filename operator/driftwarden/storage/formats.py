"""File formats: user-facing names, file extensions and Arrow dataset formats."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow.dataset as ds

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


def file_format(
    fmt: str, *, dictionary_columns: Sequence[str] = (), pre_buffer: bool = True
) -> ds.FileFormat:
    """The Arrow dataset format for ``fmt``.

    ``dictionary_columns`` only matters for Parquet, whose reader can hand
    string columns back dictionary-encoded straight from the file's own
    dictionary pages (no re-hashing), which is what categorical counting wants.
    ``pre_buffer`` (Parquet) coalesces a row group's reads into few large ones:
    what object storage needs, but it holds whole row groups in memory, which
    local files do not need (measured: 3.7 GiB vs 0.8 GiB peak RSS scanning
    10^7 rows × 25 columns from local disk, same speed).
    """
    fmt = normalize_format(fmt)
    if fmt == "parquet":
        read_options = ds.ParquetReadOptions(dictionary_columns=list(dictionary_columns) or None)
        scan_options = ds.ParquetFragmentScanOptions(pre_buffer=pre_buffer)
        return ds.ParquetFileFormat(
            read_options=read_options, default_fragment_scan_options=scan_options
        )
    if fmt == "arrow":
        return ds.IpcFileFormat()
    if fmt == "csv":
        return ds.CsvFileFormat()
    return ds.JsonFileFormat()
