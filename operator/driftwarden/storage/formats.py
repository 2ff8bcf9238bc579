"""Arrow dataset formats for the format names of :mod:`driftwarden.formats`.

The names, aliases and extension tables live in the pure module
:mod:`driftwarden.formats` (the operator validates specs without pyarrow);
they are re-exported here for the storage layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow.dataset as ds

from driftwarden.formats import (
    FORMATS,
    extensions,
    format_from_extension,
    has_extension,
    normalize_format,
)

__all__ = [
    "FORMATS",
    "extensions",
    "file_format",
    "format_from_extension",
    "has_extension",
    "normalize_format",
]


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
