"""Open feature logs as one Arrow dataset and stream record batches from it.

``open_dataset`` finds the files (see :mod:`.discovery`), reads each file's
schema once (footers only, in parallel: on object storage this is latency
bound), unifies them (see :mod:`.schema`) and checks the timestamp column.
``OpenedDataset.batches`` then streams only the requested columns, with the
time window pushed down to the scanner so Parquet statistics and partition
values skip what lies outside it.

Files are opened through ``FileSystem.open_input_file`` (random access) by the
Arrow dataset reader for every format, with the listed size passed along, so
no extra HEAD request is made per file on S3.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from driftwarden.errors import (
    ConfigError,
    DataFormatError,
    DataNotFoundError,
    DriftwardenError,
    SchemaError,
)
from driftwarden.storage import window
from driftwarden.storage.discovery import FileInfo, discover
from driftwarden.storage.errors import storage_errors, translate
from driftwarden.storage.formats import file_format, normalize_format
from driftwarden.storage.partitions import discover_hive, partition_expression
from driftwarden.storage.schema import unify, with_dictionaries
from driftwarden.storage.uri import StorageOptions, is_local, redact, resolve_filesystem

DEFAULT_BATCH_SIZE = 131_072
# A batch holds at most about this many bytes of fixed-width values: wide data (1,000
# float64 columns) then comes in batches of ~16k rows, not 131k rows (1 GiB each).
BATCH_BYTES = 64 * 1024 * 1024
MIN_BATCH_SIZE = 1024
# Arrow's default (16 batches ahead) trades memory for speed; two batches ahead keep
# peak memory bounded by a row group or two while the profile code, not the reader,
# is the bottleneck (bench/RESULTS.md).
BATCH_READAHEAD = 2
# The next scan (column group or file) starts while the current one is consumed when it
# decodes at most this many bytes ahead: Arrow decodes a scan's rows up to
# BATCH_READAHEAD x batch_size at once (a whole 10^5-row file of a column group), and the
# caller, waiting for each new scan, left the decoding threads idle while it profiled
# (bench/RESULTS.md, addendum 16r). Peak memory grows by at most this much.
PREFETCH_BYTES = BATCH_BYTES
# Schemas are read per file; on object storage each read is a round trip, so
# overlap them (Arrow releases the GIL during the I/O).
_SCHEMA_READERS = 16
# After a scan error that names no file, probe this many files from the one
# being read to find the culprit (covers the scanner's file read-ahead).
_PROBE_LIMIT = 8
_MAX_LISTED_COLUMNS = 40


@dataclass(frozen=True)
class DatasetSource:
    """What to read: mirrors ``spec.reference`` / ``spec.current`` of a DriftMonitor."""

    uri: str  # file, directory, glob (*, **, ?) or object-storage prefix
    format: str = "parquet"  # parquet | arrow (feather, ipc) | csv | jsonl (json)
    partitioning: str | None = "hive"  # "hive" or None
    timestamp_column: str | None = None
    start: datetime | None = None  # inclusive; naive means UTC
    end: datetime | None = None  # exclusive; naive means UTC
    label: str = "data"  # how messages name this input, e.g. "reference data"


@dataclass
class OpenedDataset:
    """A dataset ready to scan: its unified schema, its files, and the window filter."""

    source: DatasetSource
    schema: pa.Schema
    files: list[FileInfo]
    format: str
    _options: StorageOptions = field(repr=False)
    _filesystem: pafs.FileSystem = field(repr=False)
    _dataset: ds.FileSystemDataset = field(repr=False)
    _partition_exprs: list[ds.Expression | None] = field(repr=False)
    _filter: ds.Expression | None = field(default=None, repr=False)
    _filter_ready: bool = field(default=False, repr=False)
    # Hive partition keys (directory names like date=2026-11-01): columns, but not features.
    partition_columns: tuple[str, ...] = ()
    _dict_datasets: dict[tuple[str, ...], ds.FileSystemDataset] = field(
        default_factory=dict, repr=False
    )
    _fragments_by_path: dict[str, ds.Fragment] | None = field(default=None, repr=False)
    # Footers known from an earlier run (``open_dataset(footers=…)``), by path: these
    # files' footers are not read to open or place them.
    _known: dict[str, FooterFacts] = field(default_factory=dict, repr=False)

    # -- public API ---------------------------------------------------------

    def batches(
        self,
        columns: Sequence[str],
        *,
        dictionary_columns: Sequence[str] = (),
        batch_size: int | None = None,
        column_group: int | None = None,
        files: Sequence[FileInfo] | None = None,
        whole: bool = False,
    ) -> Iterator[pa.RecordBatch]:
        """Stream ``columns`` of the rows inside the time window, in file order.

        String columns named in ``dictionary_columns`` come back
        dictionary-encoded (Parquet decodes them that way directly; other
        formats are encoded per batch). Empty batches are skipped. Raises
        DataNotFoundError when no row falls in the window. ``batch_size`` (rows)
        defaults to :func:`batch_rows` of the requested columns.

        With ``column_group`` each file is read in passes of at most that many
        columns (in the order given), so a batch carries only one group's columns:
        for wide data the reader then holds a group's column chunks, not a whole row
        group of every column (bench/RESULTS.md, wide data). Each row then comes once
        per group; the first group's batches carry the first column.

        ``files`` reads only those of the dataset's files (in the order given), and
        then no rows is no error: the caller sees a window's files one by one. ``whole``
        reads them without the window filter, for files that :meth:`coverage` found to
        lie whole inside the window.
        """
        # Validate and build the filter now, so mistakes surface at the call,
        # not at the first next() of the iterator.
        names = self._check_columns(columns, "requested")
        dict_names = [
            c for c in self._check_columns(dictionary_columns, "dictionary") if c in names
        ]
        dataset = self._dataset_for(dict_names)
        expr = None if whole else self.filter_expression()
        # Row formats (CSV, JSON) would be parsed once per group: one pass for them.
        columnar = self.format in ("parquet", "arrow")
        step = max((column_group if columnar else None) or len(names), 1)
        groups = [names[at : at + step] for at in range(0, len(names), step)] or [names]
        if batch_size is None:
            batch_size = min(batch_rows([self.schema.field(n).type for n in g]) for g in groups)
        with storage_errors(self.source.uri, self._options, label=self.source.label):
            fragments = list(dataset.get_fragments())
        if files is not None:
            by_path = {fragment.path: fragment for fragment in fragments}
            fragments = [by_path[f.path] for f in files]
        return self._stream(fragments, dataset, groups, dict_names, expr, batch_size, files is None)

    def _stream(
        self,
        fragments: list[ds.Fragment],
        dataset: ds.FileSystemDataset,
        groups: list[list[str]],
        dict_names: list[str],
        expr: ds.Expression | None,
        batch_size: int,
        require_rows: bool = True,
    ) -> Iterator[pa.RecordBatch]:
        seen = 0
        last_path: str | None = None
        local = isinstance(self._filesystem, pafs.LocalFileSystem)
        names = [name for group in groups for name in group]
        tagged = self._tagged_batches(fragments, dataset, groups, expr, batch_size, local)
        while True:
            try:
                path, batch = next(tagged)
            except StopIteration:
                break
            except DriftwardenError:
                raise
            except (OSError, pa.ArrowException) as exc:
                raise self._scan_error(exc, dataset, names, expr, last_path) from exc
            last_path = path
            if batch.num_rows == 0:
                continue
            seen += batch.num_rows
            present = batch.schema.names
            yield _encode_dictionaries(batch, [n for n in dict_names if n in present])
        if seen == 0 and require_rows:
            raise self.empty_error()

    @staticmethod
    def _tagged_batches(
        fragments: list[ds.Fragment],
        dataset: ds.FileSystemDataset,
        groups: list[list[str]],
        expr: ds.Expression | None,
        batch_size: int,
        local: bool,
    ) -> Iterator[tuple[str, pa.RecordBatch]]:
        """Batches of one file after the other, each tagged with its file.

        One file at a time keeps peak memory flat however many files a dataset has
        (a dataset-wide scan reads the next file ahead: measured 0.45 GiB at 10^6 rows
        but 0.83 GiB at 10^7 in bench/); Arrow still decodes columns in parallel
        within a file. The tag tells which file was being read when a decoding error
        surfaces.

        A scan (one file's column group) is started once the one before it has given its
        first batch, when what it decodes ahead is small (:func:`_prefetch`): Arrow then
        decodes the next column group while the caller works on this one's batches.
        """
        scans = [(fragment, names) for fragment in fragments for names in groups]

        def start(at: int) -> Iterator[pa.RecordBatch]:
            fragment, names = scans[at]
            try:
                scanner = ds.Scanner.from_fragment(
                    fragment,
                    schema=dataset.schema,
                    columns=names,
                    filter=expr,
                    batch_size=batch_size,
                    batch_readahead=BATCH_READAHEAD,
                    use_threads=True,
                    fragment_scan_options=_scan_options(fragment, local),
                )
                # Arrow starts decoding when the iterator is made, not at its first next().
                return iter(scanner.to_batches())
            except (OSError, pa.ArrowException) as exc:
                # Raised when that scan's turn comes, so the error is tagged with its file.
                return _failing(exc)

        types = {id(names): [dataset.schema.field(n).type for n in names] for names in groups}
        pending: Iterator[pa.RecordBatch] | None = None
        for at, (fragment, _) in enumerate(scans):
            current = pending if pending is not None else start(at)
            pending = None
            following = scans[at + 1] if at + 1 < len(scans) else None
            ahead = following is not None and _prefetch(
                following[0], types[id(following[1])], batch_size
            )
            for batch in current:
                if ahead and pending is None:
                    pending = start(at + 1)
                yield fragment.path, batch

    def coverage(self) -> list[FileCoverage]:
        """Where each file lies against the time window, proved from metadata only.

        ``whole``: every row is inside (each row group's statistics of the timestamp
        column, or the file's partition values, put all of it inside, and it has no
        null timestamps); ``outside``: no row can be inside; ``partial``: anything
        else, including every file that metadata cannot place (no statistics, other
        formats, string timestamps). Without a window every file is ``whole``.
        ``first`` is the earliest timestamp of a whole file, when statistics hold it.
        """
        expr = self.filter_expression()
        if expr is None:
            return [FileCoverage(f, "whole", None) for f in self.files]
        column = self.source.timestamp_column
        bounds = self._tick_bounds()
        placed: list[FileCoverage] = []
        fragments: list[ds.Fragment] | None = None
        with storage_errors(
            self.source.uri, self._options, label=self.source.label, fmt=self.format
        ):
            for index, info in enumerate(self.files):
                facts = self._known.get(info.path)
                # Kept statistics of the column as this dataset types it: placed here.
                if (
                    bounds is not None
                    and facts is not None
                    and facts.ranges is not None
                    and facts.timestamp == bounds[2]
                ):
                    placed.append(_place_known(facts, info, bounds[0], bounds[1]))
                    continue
                if fragments is None:
                    fragments = list(self._dataset.get_fragments())
                placed.append(_place(fragments[index], info, expr, column))
        return placed

    def footer_facts(self) -> dict[FileKey, FooterFacts]:
        """What this opening learnt from the Parquet footers, by file (path, size and
        modification time): given back to :func:`open_dataset` by a later run, those files'
        footers are not read again. Files without a modification time, or whose footer
        cannot be read, are left out; other formats give nothing."""
        if self.format != "parquet":
            return {}
        column = self.source.timestamp_column
        facts: dict[FileKey, FooterFacts] = {}
        fragments: list[ds.Fragment] | None = None
        for index, info in enumerate(self.files):
            if info.mtime is None:
                continue
            known = self._known.get(info.path)
            if known is None:
                if fragments is None:
                    fragments = list(self._dataset.get_fragments())
                fragment = fragments[index]
                if not isinstance(fragment, ds.ParquetFileFragment):
                    continue
                try:
                    known = _footer_facts(fragment, column)
                except (OSError, pa.ArrowException):
                    continue  # the scan, if it reads this file, says why
            facts[file_key(info)] = known
        return facts

    def file_rows(self, info: FileInfo) -> int | None:
        """Rows of one whole file from its Parquet footer, before reading it (None for
        other formats, or when the footer cannot be read: the scan then says why)."""
        if self.format != "parquet":
            return None
        known = self._known.get(info.path)
        if known is not None:
            return known.rows
        if self._fragments_by_path is None:
            # Once: asked file by file, a search of every fragment was quadratic.
            self._fragments_by_path = {
                fragment.path: fragment for fragment in self._dataset.get_fragments()
            }
        fragment = self._fragments_by_path.get(info.path)
        if not isinstance(fragment, ds.ParquetFileFragment):
            return None
        try:
            return int(fragment.metadata.num_rows)
        except (OSError, pa.ArrowException):
            return None

    def count_rows(self) -> int:
        """Rows inside the time window (metadata only for Parquet without a window)."""
        expr = self.filter_expression()
        with storage_errors(
            self.source.uri, self._options, label=self.source.label, fmt=self.format
        ):
            return int(self._dataset.count_rows(filter=expr))

    def fingerprint(self) -> str:
        """Hex sha256 of what was read: each file's URI, size and mtime, the format and window.

        Any rewritten, added or removed file changes it; it is the key of the
        cached reference profile.
        """
        payload = {
            "format": self.format,
            "partitioning": self.source.partitioning,
            "timestamp_column": self.source.timestamp_column,
            "start": _iso(self.source.start),
            "end": _iso(self.source.end),
            "files": [[f.uri, f.size, _iso(f.mtime)] for f in self.files],
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def filter_expression(self) -> ds.Expression | None:
        """The window filter for this dataset (built once, on first use)."""
        if not self._filter_ready:
            column = self.source.timestamp_column
            if column is not None:
                self._filter = window.window_filter(
                    self.schema.field(column),
                    self.source.start,
                    self.source.end,
                    lambda: self._sample(column),
                )
            self._filter_ready = True
        return self._filter

    # -- internals ----------------------------------------------------------

    def _tick_bounds(self) -> tuple[int | None, int | None, str] | None:
        """The window as the filter's integer ticks of the timestamp column's type, and
        that type: what :func:`_place_known` compares footer statistics with. None when
        placing from known footers does not apply: no window, a column that is not a
        timestamp (dates and strings are placed by Arrow), or a hive partition key (its
        partition values take part in Arrow's placement)."""
        column = self.source.timestamp_column
        if column is None or column in self.partition_columns or self.filter_expression() is None:
            return None
        kind = self.schema.field(column).type
        if not pa.types.is_timestamp(kind):
            return None
        start, end = window.timestamp_ticks(kind, self.source.start, self.source.end)
        return start, end, str(kind)

    def _check_columns(self, columns: Sequence[str], what: str) -> list[str]:
        if isinstance(columns, str):
            raise TypeError("columns must be a sequence of names, not a string")
        names = list(dict.fromkeys(columns))
        # One set: ``schema.names`` builds a new list on every access (0.2 s a run
        # at 1,000 columns when asked per column).
        present = set(self.schema.names)
        missing = [c for c in names if c not in present]
        if missing:
            raise SchemaError(
                f"{self.source.label} {redact(self.source.uri)} has no column(s) "
                f"{', '.join(repr(m) for m in missing)} ({what})",
                hint=f"available: {_list_columns(self.schema)}",
            )
        return names

    def _dataset_for(self, dict_names: Sequence[str]) -> ds.FileSystemDataset:
        """Parquet can decode straight into dictionaries: rebuild with that read option."""
        wanted = [
            c
            for c in dict_names
            if pa.types.is_string(self.schema.field(c).type)
            or pa.types.is_binary(self.schema.field(c).type)
        ]
        if self.format != "parquet" or not wanted:
            return self._dataset
        key = tuple(sorted(wanted))
        if key not in self._dict_datasets:
            # The read option lives on the format, so this costs new fragments
            # (one more footer read per file); kept for later calls.
            fmt = file_format(
                "parquet", dictionary_columns=key, pre_buffer=not is_local(self.source.uri)
            )
            fragments = _make_fragments(fmt, self._filesystem, self.files, self._partition_exprs)
            self._dict_datasets[key] = ds.FileSystemDataset(
                fragments, with_dictionaries(self.schema, key), fmt, self._filesystem
            )
        return self._dict_datasets[key]

    def _sample(self, column: str) -> str | None:
        """One non-null value of ``column`` (to choose how string timestamps parse)."""
        with storage_errors(
            self.source.uri, self._options, label=self.source.label, fmt=self.format
        ):
            table = self._dataset.head(1, columns=[column], filter=ds.field(column).is_valid())
        if table.num_rows == 0:
            return None
        value = table.column(0)[0].as_py()
        return None if value is None else str(value)

    def _scan_error(
        self,
        exc: BaseException,
        dataset: ds.FileSystemDataset,
        names: list[str],
        expr: ds.Expression | None,
        last_path: str | None,
    ) -> DriftwardenError:
        """Name the file a scan failed on: from the message, else by probing nearby files."""
        text = str(exc)
        culprit = next((f for f in self.files if f.path in text), None)
        error = translate(
            exc, self.source.uri, self._options, label=self.source.label, fmt=self.format
        )
        column = self.source.timestamp_column
        if "Failed to parse string" in text and column is not None:
            # The window filter parses string timestamps; say which column and why.
            culprit = culprit or self._probe(dataset, names, expr, last_path)
            where = f" in {culprit.uri}" if culprit else ""
            return DataFormatError(
                f"timestamp column {column!r} of {self.source.label} "
                f"{redact(self.source.uri)}{where} holds a value that cannot be parsed: "
                f"{_first_line(text)}",
                hint="write ISO-8601 timestamps in one form: all with a zone offset "
                "(Z, +02:00) or all without",
            )
        if culprit is None and isinstance(error, DataFormatError):
            # Decoding errors (corrupt pages) often omit the file; re-read the
            # file in progress and the few read ahead of it, one by one.
            culprit = self._probe(dataset, names, expr, last_path)
        if culprit is None:
            return error
        return translate(
            exc,
            self.source.uri,
            self._options,
            label=self.source.label,
            fmt=self.format,
            file_uri=culprit.uri,
        )

    def _probe(
        self,
        dataset: ds.FileSystemDataset,
        names: list[str],
        expr: ds.Expression | None,
        last_path: str | None,
    ) -> FileInfo | None:
        by_path = {f.path: f for f in self.files}
        fragments = list(dataset.get_fragments())
        start = 0
        if last_path is not None:
            start = next((i for i, fr in enumerate(fragments) if fr.path == last_path), 0)
        for fragment in fragments[start : start + _PROBE_LIMIT]:
            try:
                for _ in fragment.to_batches(
                    schema=dataset.schema, columns=names, filter=expr, use_threads=False
                ):
                    pass
            except (OSError, pa.ArrowException):
                return by_path.get(fragment.path)
        return None

    def empty_error(self, *, windowed: bool = True) -> DataNotFoundError:
        """The error of a dataset (or its window) without rows."""
        shown = redact(self.source.uri)
        if windowed and (self.source.start is not None or self.source.end is not None):
            return DataNotFoundError(
                f"{self.source.label} {shown} has no rows in the time window "
                f"{window.describe(self.source.start, self.source.end)} "
                f"on column {self.source.timestamp_column!r}",
                hint="check the window and that new data is arriving",
            )
        return DataNotFoundError(
            f"{self.source.label} {shown} holds no rows ({len(self.files)} file(s), all empty)",
            hint="point the path at files that hold rows",
        )


@dataclass(frozen=True)
class FileCoverage:
    """One file against a time window (see :meth:`OpenedDataset.coverage`)."""

    file: FileInfo
    state: Literal["whole", "partial", "outside"]
    first: datetime | None  # earliest timestamp, for whole Parquet files with statistics


# A file as caches know it: path, size, modification time (what fingerprints use).
FileKey = tuple[str, int, str | None]

_UNITS = {"milliseconds": "ms", "microseconds": "us", "nanoseconds": "ns"}


def file_key(info: FileInfo) -> FileKey:
    """A file's identity across runs: a rewritten file (new size or mtime) is a new file."""
    return (info.path, info.size, None if info.mtime is None else info.mtime.isoformat())


@dataclass(frozen=True)
class FooterFacts:
    """What opening and placing a Parquet file needs from its footer, kept between runs
    (:meth:`OpenedDataset.footer_facts`), so a steady-state run of a sliding window reads
    the footers of new files only (bench/RESULTS.md, addendum 14)."""

    schema: pa.Schema  # the file's own (physical) schema
    rows: int
    # The timestamp column's Arrow type in this file, and each row group's (min, max)
    # of it as raw integer ticks: set only when every row group has both statistics and
    # no null timestamp, the case in which they decide the placement (_place_known).
    timestamp: str | None
    ranges: tuple[tuple[int, int], ...] | None
    first: datetime | None  # the earliest timestamp, as _place reports it for a whole file


def _footer_facts(fragment: ds.ParquetFileFragment, column: str | None) -> FooterFacts:
    """A Parquet file's :class:`FooterFacts`, from its footer (read once, then kept)."""
    schema = fragment.physical_schema
    metadata = fragment.metadata
    firsts = _row_group_minima(fragment, column)
    known = [value for value in firsts if isinstance(value, datetime)]
    first = window.to_utc(min(known)) if known and len(known) == len(firsts) else None
    timestamp, ranges = None, None
    at = -1 if column is None else schema.get_field_index(column)
    if at >= 0 and pa.types.is_timestamp(schema.field(at).type):
        kind = schema.field(at).type
        ranges = _timestamp_ranges(metadata, column, kind.unit)
        timestamp = None if ranges is None else str(kind)
    return FooterFacts(schema, int(metadata.num_rows), timestamp, ranges, first)


def _timestamp_ranges(
    metadata: Any, column: str | None, unit: str
) -> tuple[tuple[int, int], ...] | None:
    """Each row group's raw (min, max) of a timestamp column stored as INT64 ticks of
    ``unit``; None unless every row group has both and counts no null."""
    schema = metadata.schema
    index = next((i for i in range(len(schema)) if schema.column(i).path == column), None)
    if index is None:
        return None
    described = schema.column(index)
    logical = json.loads(described.logical_type.to_json())
    if described.physical_type != "INT64" or _UNITS.get(logical.get("timeUnit")) != unit:
        return None
    ranges = []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(index).statistics
        if (
            statistics is None
            or not statistics.has_min_max
            or not statistics.has_null_count
            or statistics.null_count != 0
        ):
            return None
        ranges.append((int(statistics.min_raw), int(statistics.max_raw)))
    return tuple(ranges)


def _place_known(
    facts: FooterFacts, info: FileInfo, start: int | None, end: int | None
) -> FileCoverage:
    """:func:`_place` from kept footer statistics: ``start <= ts < end`` in the column's
    ticks. Arrow drops a row group when its [min, max] proves the filter false and keeps
    it in ``subset(~filter)`` unless [min, max] proves it true; with every row group's
    statistics known and no null timestamp, that is exactly this."""
    ranges = facts.ranges or ()
    if all(
        (start is not None and high < start) or (end is not None and low >= end)
        for low, high in ranges
    ):
        return FileCoverage(info, "outside", None)
    if all((start is None or low >= start) and (end is None or high < end) for low, high in ranges):
        return FileCoverage(info, "whole", facts.first)
    return FileCoverage(info, "partial", None)


def _place(
    fragment: ds.Fragment, info: FileInfo, expr: ds.Expression, column: str | None
) -> FileCoverage:
    """Place one file against the window filter ``expr`` from its row-group statistics."""
    if not isinstance(fragment, ds.ParquetFileFragment):
        return FileCoverage(info, "partial", None)
    total = fragment.num_row_groups
    if fragment.subset(expr).num_row_groups == 0:
        return FileCoverage(info, "outside", None)
    # Arrow drops a row group from a subset only when its statistics (and the
    # partition values) prove no row can match: if none may fail the filter, all pass.
    # A row group with null timestamps stays in both subsets, so it stays "partial".
    if total == 0 or fragment.subset(~expr).num_row_groups:
        return FileCoverage(info, "partial", None)
    firsts = _row_group_minima(fragment, column)
    known = [value for value in firsts if isinstance(value, datetime)]
    first = window.to_utc(min(known)) if known and len(known) == len(firsts) else None
    return FileCoverage(info, "whole", first)


def _has_rows(
    fragments: Sequence[ds.Fragment],
    files: Sequence[FileInfo],
    known: dict[str, FooterFacts],
    dataset: ds.FileSystemDataset,
) -> bool:
    """Whether any file holds a row. Parquet footers are already read (the schemas) or
    known: their row counts cost nothing, where ``Dataset.count_rows`` took 17 ms for
    268 files through the scanner."""
    if all(isinstance(fragment, ds.ParquetFileFragment) for fragment in fragments):
        return any(
            known[info.path].rows if info.path in known else fragment.metadata.num_rows
            for fragment, info in zip(fragments, files, strict=True)
        )
    return bool(dataset.count_rows())


def _row_group_minima(fragment: ds.ParquetFileFragment, column: str | None) -> list[Any]:
    """Each row group's minimum of ``column`` (None where unknown), from the footer.

    Only that column's statistics are decoded: ``RowGroupInfo.statistics`` decodes every
    column's, which cost 0.4 ms a file of 26 columns (70 ms of a 0.6 s steady-state run
    over a window of 268 files; bench/RESULTS.md, addendum 9).
    """
    metadata = fragment.metadata
    schema = metadata.schema
    index = next((i for i in range(len(schema)) if schema.column(i).path == column), None)
    if index is None:
        return [None] * metadata.num_row_groups
    minima: list[Any] = []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(index).statistics
        minima.append(statistics.min if statistics is not None and statistics.has_min_max else None)
    return minima


def open_dataset(
    source: DatasetSource,
    options: StorageOptions,
    footers: Mapping[FileKey, FooterFacts] | None = None,
) -> OpenedDataset:
    """Discover, inspect and unify ``source``; fail early with an actionable error.

    ``footers``: Parquet footers an earlier opening learnt (:meth:`OpenedDataset.footer_facts`);
    a listed file whose path, size and modification time match one is neither read to
    open the dataset nor to place it against the window.
    """
    fmt = normalize_format(source.format)
    partitioning = _normalize_partitioning(source.partitioning)
    window.check_window(source.start, source.end)
    if (source.start is not None or source.end is not None) and not source.timestamp_column:
        raise ConfigError(
            f"a time window is set for {redact(source.uri)} but no timestamp column",
            hint="set timestampColumn",
        )
    label = source.label
    filesystem, path = resolve_filesystem(source.uri, options)
    with storage_errors(source.uri, options, label=label, fmt=fmt):
        found = discover(filesystem, path, source.uri, fmt, label=label)
    files = found.files

    hive = discover_hive([f.path for f in files], found.base_dir) if partitioning else None
    exprs = [partition_expression(hive, f.path, found.base_dir) for f in files]
    arrow_format = file_format(fmt, pre_buffer=not is_local(source.uri))
    fragments = _make_fragments(arrow_format, filesystem, files, exprs)
    known: dict[str, FooterFacts] = {}
    if footers and fmt == "parquet":
        for info in files:
            facts = footers.get(file_key(info)) if info.mtime is not None else None
            if facts is not None:
                known[info.path] = facts

    schemas = _physical_schemas(fragments, files, source, options, fmt, known)
    sources = [f.uri for f in files]
    if known:
        # Kept footers share one schema object per distinct schema: unify each once
        # (the first file with it names it in errors, as before).
        distinct = {id(schema): index for index, schema in reversed(list(enumerate(schemas)))}
        picked = sorted(distinct.values())
        schemas, sources = [schemas[i] for i in picked], [sources[i] for i in picked]
    if hive is not None:
        schemas.append(hive.schema)
        sources.append(f"the partition directories under {redact(source.uri)}")
    schema = unify(schemas, sources, label=f"{label} {redact(source.uri)}")

    dataset = ds.FileSystemDataset(fragments, schema, arrow_format, filesystem)
    opened = OpenedDataset(
        source=source,
        schema=schema,
        files=files,
        format=fmt,
        partition_columns=tuple(hive.schema.names) if hive is not None else (),
        _options=options,
        _filesystem=filesystem,
        _dataset=dataset,
        _partition_exprs=exprs,
        _known=known,
    )
    _check_timestamp_column(opened)
    if fmt in ("parquet", "arrow"):
        # Row counts come from footers here, so an all-empty dataset is caught
        # before any scan; text formats find out when they are scanned.
        with storage_errors(source.uri, options, label=label, fmt=fmt):
            empty = not _has_rows(fragments, files, known, dataset)
        if empty:
            raise opened.empty_error(windowed=False)
    return opened


def _normalize_partitioning(value: str | None) -> str | None:
    if value is None or str(value).strip().lower() in ("", "none"):
        return None
    if str(value).strip().lower() == "hive":
        return "hive"
    raise ConfigError(f"unknown partitioning {value!r}", hint='use "hive" or none')


def _make_fragments(
    fmt: ds.FileFormat,
    filesystem: pafs.FileSystem,
    files: Sequence[FileInfo],
    exprs: Sequence[ds.Expression | None],
) -> list[ds.Fragment]:
    # file_size spares a HEAD request per file on object storage.
    return [
        fmt.make_fragment(f.path, filesystem, partition_expression=e, file_size=f.size)
        for f, e in zip(files, exprs, strict=True)
    ]


def _physical_schemas(
    fragments: Sequence[ds.Fragment],
    files: Sequence[FileInfo],
    source: DatasetSource,
    options: StorageOptions,
    fmt: str,
    known: dict[str, FooterFacts],
) -> list[pa.Schema]:
    """Each file's own schema: kept (``known``) or read from the file, in parallel."""

    def read(index: int) -> pa.Schema:
        try:
            return fragments[index].physical_schema
        except (OSError, pa.ArrowException) as exc:
            raise translate(
                exc, source.uri, options, label=source.label, fmt=fmt, file_uri=files[index].uri
            ) from exc

    missing = [index for index, info in enumerate(files) if info.path not in known]
    if len(missing) <= 1:
        found = [read(index) for index in missing]
    else:
        # Imported here: a one-file dataset (most small windows) needs no thread pool.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(_SCHEMA_READERS, len(missing))) as pool:
            found = list(pool.map(read, missing))
    read_schemas = dict(zip(missing, found, strict=True))
    return [
        read_schemas[index] if index in read_schemas else known[info.path].schema
        for index, info in enumerate(files)
    ]


def _check_timestamp_column(opened: OpenedDataset) -> None:
    column = opened.source.timestamp_column
    if column is None:
        return
    if column not in opened.schema.names:
        raise SchemaError(
            f"{opened.source.label} {redact(opened.source.uri)} has no timestamp column {column!r}",
            hint=f"available: {_list_columns(opened.schema)}",
        )
    kind = opened.schema.field(column).type
    if not window.is_supported(kind):
        raise SchemaError(
            f"timestamp column {column!r} of {redact(opened.source.uri)} has type {kind}",
            hint="it must be a timestamp, a date or an ISO-8601 string column",
        )


def _encode_dictionaries(batch: pa.RecordBatch, names: Sequence[str]) -> pa.RecordBatch:
    """Dictionary-encode requested string columns the reader returned plain."""
    if not names:
        return batch
    arrays = list(batch.columns)
    changed = False
    for name in names:
        index = batch.schema.get_field_index(name)
        column = arrays[index]
        if not pa.types.is_dictionary(column.type) and (
            pa.types.is_string(column.type)
            or pa.types.is_large_string(column.type)
            or pa.types.is_binary(column.type)
            or pa.types.is_large_binary(column.type)
        ):
            arrays[index] = pc.dictionary_encode(column)
            changed = True
    if not changed:
        return batch
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _list_columns(schema: pa.Schema) -> str:
    names = schema.names
    shown = ", ".join(names[:_MAX_LISTED_COLUMNS])
    if len(names) > _MAX_LISTED_COLUMNS:
        shown += f", … ({len(names) - _MAX_LISTED_COLUMNS} more)"
    return shown


def _first_line(text: str) -> str:
    return (text.splitlines() or [""])[0][:300]


def _iso(value: datetime | None) -> str | None:
    return window.to_utc(value).isoformat() if value is not None else None


def batch_rows(types: Sequence[pa.DataType]) -> int:
    """Rows per batch so that a batch of these columns holds about ``BATCH_BYTES``.

    Variable-width columns count 8 bytes a value (their offsets; dictionary-encoded
    strings are indices). Between ``MIN_BATCH_SIZE`` and ``DEFAULT_BATCH_SIZE``.
    """
    rows = BATCH_BYTES // max(_row_width(types), 1)
    return int(min(DEFAULT_BATCH_SIZE, max(MIN_BATCH_SIZE, rows)))


def _row_width(types: Sequence[pa.DataType]) -> int:
    """Bytes a row of these columns takes, as :func:`batch_rows` counts them."""
    return sum(max(getattr(t, "bit_width", 64) // 8, 1) if _fixed(t) else 8 for t in types)


def _prefetch(fragment: ds.Fragment, types: Sequence[pa.DataType], batch_size: int) -> bool:
    """Whether a scan of ``fragment``'s columns of ``types`` may start before its turn:
    only when it decodes at most ``PREFETCH_BYTES`` ahead. Arrow's Parquet scan reads row
    groups ahead until it holds ``BATCH_READAHEAD * batch_size`` rows (dataset/file_parquet.cc),
    so up to that plus one row group, never more than the file. Other formats: never
    (no row counts before the scan)."""
    if not isinstance(fragment, ds.ParquetFileFragment):
        return False
    try:
        metadata = fragment.metadata  # the footer, already read to open the dataset
    except (OSError, pa.ArrowException):
        return False  # the scan itself, in its turn, says why
    largest = max(
        (metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)), default=0
    )
    rows = min(metadata.num_rows, BATCH_READAHEAD * batch_size + largest)
    return rows * _row_width(types) <= PREFETCH_BYTES


def _failing(exc: BaseException) -> Iterator[pa.RecordBatch]:
    """An iterator that raises ``exc`` when first asked for a batch."""
    raise exc
    yield  # a generator: the raise waits for the first next()


def _fixed(data_type: pa.DataType) -> bool:
    try:
        return data_type.bit_width > 0
    except ValueError:
        return False


def _scan_options(fragment: ds.Fragment, local: bool) -> ds.FragmentScanOptions | None:
    """Local Parquet without pre-buffering: pre-buffering fetches every requested column
    chunk of the whole file ahead of decoding (measured: a 10^5 x 1,000 float64 file
    scanned at 1.97 GiB peak RSS with it, 0.52 GiB without and buffered, and no slower from local
    disk). On object storage it stays on: there it turns one request per column chunk
    into a few coalesced ones."""
    if local and isinstance(fragment, ds.ParquetFileFragment):
        return ds.ParquetFragmentScanOptions(pre_buffer=False, use_buffered_stream=True)
    return None
