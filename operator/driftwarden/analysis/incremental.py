"""The current window's profile, merged from per-file profiles cached across runs.

A sliding window (an hourly run over seven days of hourly files) shares all but a
file or two with the previous run's window. The current side is therefore always
profiled file by file, each row's sampling key a hash of the file's path and the row's
position (:class:`driftwarden.profile.sampling.RowKeys`), and merged: a file's profile is a
function of the file alone, and merging is exact and order-free (bottom-k samples
by key, integer counts, exact moment sums), so a window merged from cached pieces
equals a window scanned whole. Without a cache the same file-by-file profiles are
merged in path order.

With a cache, files lying whole inside the window (:meth:`OpenedDataset.coverage`)
are kept in a sliding-window aggregation of three segments, oldest first, each an
ordered list of files:

* ``front``: files with an aggregate of every suffix (``files[j:]``): when the window
  start drops its first ``j`` files, one stored aggregate covers the rest;
* ``middle``: the previous back, frozen; its aggregate of all files, per-file profiles,
  and suffix aggregates being built from its end, a few per run, so it is complete
  (a new front) by the time the front runs out;
* ``back``: newer files, each with its per-file profile, and their aggregate.

A steady-state run loads three aggregates, scans the new file(s), and builds about
one middle suffix: O(1) cached profiles however long the window. Suffix aggregates
are stored trimmed to the sample keys that can still reach the window's sample beside
the newer segment (:func:`trim_against`), about half the size on average. Files cut by the
window (partly inside) are scanned every run and never cached. Every stored object
is named by a hash of what it covers, and everything the manifest no longer names is
deleted at the end of a run, so storage stays about 1.5 profiles per file of the
window. docs/incremental.md has the why and the measurements.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

import driftwarden
from driftwarden.errors import DataNotFoundError, ProfileError, StorageError
from driftwarden.profile import (
    ColumnPlan,
    DatasetProfile,
    NumericProfile,
    ProfileOptions,
    ReserveExhausted,
    build_profile,
    dump_parts,
    empty_profile,
    loads_profile,
)
from driftwarden.profile.rows import read_order
from driftwarden.profile.serialize import VERSION as PROFILE_VERSION
from driftwarden.report.text import finding
from driftwarden.storage import (
    DatasetSource,
    FileCoverage,
    FileInfo,
    OpenedDataset,
    StorageOptions,
    delete_object,
    join_uri,
    list_names,
    normalize_format,
    read_bytes,
    read_mapped,
    redact,
    write_bytes,
)
from driftwarden.storage.dataset import FileKey, FooterFacts, file_key

log = logging.getLogger("driftwarden.analysis")

MANIFEST = "window.json"
SEEN = "seen.json"  # without a time window: the files the last run saw
FOOTERS = "footers.json"  # windowed Parquet data: footers kept for the next run
_FOOTERS_FORMAT = "driftwarden-footers-1"
_SEEN_FORMAT = "driftwarden-seen-files-1"
_FORMAT = "driftwarden-window-cache"
_VERSION = 2  # 2: segments record the files their trimmed aggregates rely on ("bound")
_SUFFIX = ".dwprofile"

# A file as the cache knows it: path, size, modification time (what fingerprints use).
Ident = tuple[str, int, str | None]
# Scans one file: (file, whole) -> its profile; ``whole`` skips the window filter.
Scan = Callable[[FileInfo, bool], DatasetProfile]


def ident_of(info: FileInfo) -> Ident:
    """The cache's identity of a file: a rewritten file (new size or mtime) is a new file."""
    return file_key(info)


def file_stream(info: FileInfo) -> bytes:
    """What seeds a file's sampling keys (with the seed and the column name): its path."""
    return hashlib.sha256(info.path.encode()).digest()[:16]


def scan_file(
    dataset: OpenedDataset,
    columns: Sequence[ColumnPlan],
    categorical: Sequence[str],
    options: ProfileOptions,
    edges: dict[str, Any] | None,
    column_group: int,
    on_batch: Callable[[int], None] | None = None,
) -> Scan:
    """A :data:`Scan` of ``dataset``'s files with this run's columns and settings."""
    # The row sample's features lead, so they share the first column group's batches.
    names = read_order([column.name for column in columns], options.row_features)

    def scan(info: FileInfo, whole: bool) -> DatasetProfile:
        def profile(rows: int | None) -> DatasetProfile:
            batches = dataset.batches(
                names,
                dictionary_columns=categorical,
                column_group=column_group,
                files=[info],
                whole=whole,
            )
            return build_profile(
                batches,
                columns,
                options,
                edges=edges,
                on_batch=on_batch,
                stream=file_stream(info),
                rows=rows,
            )

        # A whole file's row count lets its samples keep only the rows that can end in
        # them (profile/reserve.py); in the rare case that falls short, read it again.
        try:
            return profile(dataset.file_rows(info) if whole else None)
        except ReserveExhausted as short:
            log.debug("profiling %s again without the sampling cut: %s", redact(info.uri), short)
            return profile(None)

    return scan


def context_key(
    plan: Sequence[ColumnPlan], options: ProfileOptions, edges: dict[str, Any] | None
) -> str:
    """What a cached per-file profile depends on besides the file: the columns and their
    kinds, the profile options, the reference's histogram edges (a new reference
    invalidates every entry) and the profiling code's version."""
    material = json.dumps(
        {
            "columns": [[c.name, c.kind] for c in plan],
            "options": asdict(options),
            "edges": {name: [float(e) for e in value] for name, value in (edges or {}).items()},
            "version": driftwarden.__version__,
            "format": PROFILE_VERSION,  # older profile files: other names, never read
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def namespace(dataset: OpenedDataset | DatasetSource, space: str = "current") -> str:
    """The cache directory of one dataset on one side (``current``, or
    ``reference-window`` for rolling and offset references): runs of other data, or
    the other side's cache of the same data (other edges), never meet here. Known
    before the dataset is opened (its kept footers are there)."""
    source = dataset.source if isinstance(dataset, OpenedDataset) else dataset
    material = json.dumps(
        [source.uri, normalize_format(source.format), source.partitioning, source.timestamp_column]
    )
    return f"{space}-" + hashlib.sha256(material.encode()).hexdigest()[:24]


def load_footers(
    cache: str | None, source: DatasetSource, space: str, storage: StorageOptions
) -> dict[FileKey, FooterFacts]:
    """The Parquet footers earlier runs kept for ``source`` (:data:`FOOTERS` in its cache
    directory): :func:`open_dataset` then reads the footers of new files only.

    Only for windowed Parquet data, whose runs slide over mostly the same files. A
    missing, unreadable or damaged list is an empty one: every footer is read, as
    without it, and :func:`store_footers` writes it anew (the window cache's own
    findings say when the cache location is unusable)."""
    if cache is None or not keeps_footers(source):
        return {}
    target = join_uri(join_uri(cache, namespace(source, space)), FOOTERS)
    try:
        data = read_bytes(target, storage, label="profile cache's kept footers")
        return {} if data is None else _decode_footers(data)
    except (StorageError, DataNotFoundError) as error:
        log.debug("kept footers unavailable: %s", error)
    # AttributeError too: any JSON of another shape is damage, never a failed run.
    except (
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        pa.ArrowException,
    ) as error:
        log.warning("kept footers %s are damaged (%s); reading every footer", redact(target), error)
    return {}


def store_footers(
    cache: str | None,
    dataset: OpenedDataset,
    space: str,
    storage: StorageOptions,
    loaded: Mapping[FileKey, FooterFacts],
) -> None:
    """Keep the footers this opening read for the next run, when the files changed since
    ``loaded``: the list holds the dataset's files only, so it stays as small as its
    listing (about 100 bytes a file, plus each distinct schema once)."""
    if cache is None or not keeps_footers(dataset.source):
        return
    facts = dataset.footer_facts()
    if facts.keys() == loaded.keys():
        return
    target = join_uri(join_uri(cache, namespace(dataset, space)), FOOTERS)
    try:
        write_bytes(target, _encode_footers(facts), storage, label="profile cache's kept footers")
    except (StorageError, DataNotFoundError) as error:
        log.debug("cannot keep the footers: %s", error)


def keeps_footers(source: DatasetSource) -> bool:
    """Whether footers of ``source`` are kept: windowed Parquet data."""
    return (
        source.timestamp_column is not None
        and (source.start is not None or source.end is not None)
        and normalize_format(source.format) == "parquet"
    )


def _encode_footers(facts: Mapping[FileKey, FooterFacts]) -> bytes:
    schemas: dict[str, str] = {}
    digests: dict[int, str] = {}
    files = []
    for (path, size, mtime), item in sorted(facts.items()):
        digest = digests.get(id(item.schema))
        if digest is None:
            raw = item.schema.serialize().to_pybytes()
            digest = hashlib.sha256(raw).hexdigest()[:24]
            schemas[digest] = base64.b64encode(raw).decode()
            digests[id(item.schema)] = digest
        ranges = None if item.ranges is None else [list(r) for r in item.ranges]
        first = None if item.first is None else item.first.isoformat()
        files.append([path, size, mtime, digest, item.rows, item.timestamp, ranges, first])
    document = {"format": _FOOTERS_FORMAT, "schemas": schemas, "files": files}
    return json.dumps(document, separators=(",", ":")).encode()


def _decode_footers(data: bytes) -> dict[FileKey, FooterFacts]:
    document = json.loads(data)
    if not isinstance(document, dict) or document.get("format") != _FOOTERS_FORMAT:
        raise ValueError(f"not a {_FOOTERS_FORMAT} document")
    schemas = {
        digest: pa.ipc.read_schema(pa.py_buffer(base64.b64decode(raw)))
        for digest, raw in document["schemas"].items()
    }
    facts: dict[FileKey, FooterFacts] = {}
    for path, size, mtime, digest, rows, timestamp, ranges, first in document["files"]:
        facts[(str(path), int(size), None if mtime is None else str(mtime))] = FooterFacts(
            schema=schemas[digest],
            rows=int(rows),
            timestamp=None if timestamp is None else str(timestamp),
            ranges=None if ranges is None else tuple((int(lo), int(hi)) for lo, hi in ranges),
            first=None if first is None else datetime.fromisoformat(first),
        )
    return facts


@dataclass
class Counts:
    """What a run did, for the report (``current.files``) and the benchmark."""

    total: int = 0  # files with rows in the window (whole ones, and cut ones that had rows)
    scanned: int = 0  # files read from the data this run
    cached: int = 0  # files whose profile came from the cache
    reads: int = 0  # cached profiles loaded
    writes: int = 0  # profiles stored

    def as_report(self) -> dict[str, int]:
        return {
            "total": self.total,
            "scanned": self.scanned,
            "cached": self.cached,
            "cacheReads": self.reads,
            "cacheWrites": self.writes,
        }


@dataclass
class Sighting:
    """How a run's first attempt at its window split the whole files into seen before
    and seen for the first time (:func:`_seen_before`), with what it found saying so.

    A second attempt must split them alike: the first one's write of :data:`SEEN`
    already counts them all seen. (analysis/run.py profiles the current window again
    when the cached reference, whose histogram edges the first attempt used, fails its
    checksum.)"""

    again: list[FileCoverage] | None = None  # None: not split yet
    first_sight: list[FileInfo] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)


def profile_window(
    dataset: OpenedDataset,
    plan: Sequence[ColumnPlan],
    options: ProfileOptions,
    edges: dict[str, Any] | None,
    scan: Scan,
    *,
    cache: str | None,
    storage: StorageOptions,
    findings: list[dict[str, Any]],
    space: str = "current",
    sighting: Sighting | None = None,
) -> tuple[DatasetProfile, Counts]:
    """A window's profile: whole files through the cache, cut files scanned.

    ``space`` names the cache directory's kind (:func:`namespace`). ``sighting``
    records the split of the first attempt that is given it, and a later attempt given
    the same one reuses that split (:class:`Sighting`). Raises the dataset's
    empty-window error when no row falls in the window.
    """
    placed = dataset.coverage()
    whole = sorted((c for c in placed if c.state == "whole"), key=_order)
    cut = [c.file for c in placed if c.state == "partial"]
    counts = Counts(total=len(whole))  # cut files count below, if they hold rows
    profile = empty_profile(plan, options, edges)
    uri = None if cache is None else join_uri(cache, namespace(dataset, space))
    first_sight: list[FileInfo] = []
    if uri is not None and whole and dataset.source.start is None and dataset.source.end is None:
        sighting = sighting or Sighting()
        if sighting.again is None:
            sighting.again, sighting.first_sight = _seen_before(
                uri, whole, storage, sighting.findings
            )
        whole, first_sight = sighting.again, sighting.first_sight
        findings.extend(sighting.findings)
    if uri is not None and whole:
        window = WindowCache(uri, context_key(plan, options, edges), storage, scan, counts)
        try:
            profile = window.profile(whole, findings)
        except _CacheUnavailable as error:
            findings.append(_warning("ProfileCacheUnavailable", f"{error}; profiled without it"))
            cut = [c.file for c in whole] + cut  # scanned below, whatever came from the cache
            counts = Counts(total=counts.total)
    elif whole:
        cut = [c.file for c in whole] + cut
    whole_paths = {c.file.path for c in whole} | {f.path for f in first_sight}
    cut = first_sight + cut
    for info in cut:
        piece = scan(info, info.path in whole_paths)
        # Nothing yet: the piece is the profile. Merging it into the empty one would
        # copy every sample and give every column its own copy of the shared keys
        # (at 10^5 x 1,000: 0.3 s, and 0.5 GiB on the peak RSS).
        profile = piece if profile.rows == 0 else profile.merge(piece)
        counts.scanned += 1
        if piece.rows and info.path not in whole_paths:
            counts.total += 1
    if profile.rows == 0:
        raise dataset.empty_error()
    return profile, counts


def _seen_before(
    uri: str,
    whole: list[FileCoverage],
    storage: StorageOptions,
    findings: list[dict[str, Any]],
) -> tuple[list[FileCoverage], list[FileInfo]]:
    """Without a time window, only files seen by an earlier run go through the cache.

    A one-off analysis of a large file would otherwise store a profile as large as the
    sample (about 0.5 GB for 10^5 rows x 1,000 features) that nothing reads again, and a
    repeated benchmark would load its current side from the cache. So a file is cached
    the second time it is seen; :data:`SEEN` lists the files of the last run (digests of
    path, size and modification time), so it stays as small as the dataset's file list.
    Returns (files seen before, files seen for the first time).
    """
    target = join_uri(uri, SEEN)
    try:
        data = read_bytes(target, storage, label="profile cache's seen files")
        seen = set() if data is None else set(json.loads(data)["files"])
    except (ValueError, KeyError, TypeError) as error:
        findings.append(_warning("ProfileCacheInvalid", f"{redact(target)} is damaged ({error})"))
        seen = set()
    except (StorageError, DataNotFoundError) as error:
        findings.append(
            _warning("ProfileCacheUnavailable", f"cannot use the profile cache: {error}")
        )
        return [], [c.file for c in whole]
    digests = {_seen_digest(c.file): c for c in whole}
    if set(digests) != seen:
        document = {"format": _SEEN_FORMAT, "files": sorted(digests)}
        try:
            write_bytes(
                target,
                json.dumps(document, separators=(",", ":")).encode(),
                storage,
                label="profile cache's seen files",
            )
        except (StorageError, DataNotFoundError) as error:
            findings.append(
                _warning("ProfileCacheUnavailable", f"cannot use the profile cache: {error}")
            )
            return [], [c.file for c in whole]
    again = [c for d, c in digests.items() if d in seen]
    return sorted(again, key=_order), [c.file for d, c in digests.items() if d not in seen]


def _seen_digest(info: FileInfo) -> str:
    return hashlib.sha256(json.dumps(list(ident_of(info))).encode()).hexdigest()[:24]


def _order(placed: FileCoverage) -> tuple[str, str]:
    """Files leave a sliding window oldest first: order by earliest timestamp, then path."""
    first = placed.first
    return ("" if first is None else first.isoformat(), placed.file.path)


def _warning(code: str, message: str) -> dict[str, Any]:
    return finding("warning", code, None, message)


class _CacheUnavailable(Exception):
    """The cache location cannot be read or written: the run goes on without it."""


class _Damaged(Exception):
    """A stored profile is missing or unreadable: what it covered is recomputed."""


@dataclass
class Segment:
    """Files in window order. Aggregates of ``files[j:]`` are stored for ``j == 0`` and
    every ``j >= built``; per-file profiles for every ``j < built``.

    ``bound``: files that are in the window whenever this segment's suffix aggregates
    (``j >= 1``) are used (the newer segment's files when they were built); the
    aggregates' samples were trimmed against them (:func:`trim_against`), so the segment is
    only usable while all of them are in the window."""

    files: list[Ident] = field(default_factory=list)
    built: int = 0
    bound: list[Ident] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": [list(f) for f in self.files],
            "built": self.built,
            "bound": [list(f) for f in self.bound],
        }

    @staticmethod
    def from_json(data: Any) -> Segment:
        files = [_ident(item) for item in data["files"]]
        built = int(data["built"])
        if not 0 <= built <= len(files):
            raise ValueError(f"built index {built} outside 0..{len(files)}")
        return Segment(files, built, [_ident(item) for item in data.get("bound", [])])

    def bind(self, files: Iterable[Ident]) -> None:
        """Record that suffix aggregates were trimmed against ``files``."""
        known = set(self.bound)
        self.bound += [f for f in files if f not in known]


def _ident(item: Any) -> Ident:
    path, size, mtime = item
    return (str(path), int(size), None if mtime is None else str(mtime))


def trim_against(profile: DatasetProfile, bound: DatasetProfile | None) -> DatasetProfile:
    """``profile`` with each numerical sample cut to the keys that can still reach a
    window's sample, given that ``bound`` (a profile of other files) is in that window.

    The window's sample keeps the ``k`` smallest keys of all its rows (ties broken by
    value). When ``bound`` alone holds ``k`` sampled values, its largest key ``t`` is
    its ``k``-th smallest, so no row with a key above ``t`` can be among the window's
    ``k`` smallest: dropping those rows changes no merged sample. Counts, moments and
    histograms are untouched. A suffix of ``j`` files kept beside a segment of ``n``
    keeps about ``k * j / n`` values: the front's stored aggregates shrink to about half
    (docs/incremental.md, "Memory, storage and cleanup").
    """
    if bound is None:
        return profile
    columns: dict[str, Any] = {}
    for name, column in profile.columns.items():
        other = bound.columns.get(name)
        if (
            isinstance(column, NumericProfile)
            and isinstance(other, NumericProfile)
            and other.sample.size
            and other.sample.size >= column.sample_size
        ):
            keep = column.keys <= other.keys.max()
            if not keep.all():
                column = copy.copy(column)
                column.sample, column.keys = column.sample[keep], column.keys[keep]
                column._sorted_of = None
        columns[name] = column
    return DatasetProfile(profile.options, columns, profile.rows, dict(profile.metadata))


class WindowCache:
    """The sliding-window aggregation of one current dataset under one context."""

    def __init__(
        self, uri: str, context: str, storage: StorageOptions, scan: Scan, counts: Counts
    ) -> None:
        self.uri = uri
        self.context = context
        self.storage = storage
        self.scan = scan
        self.counts = counts
        self.infos: dict[Ident, FileInfo] = {}
        self.findings: list[dict[str, Any]] = []

    # ---------------------------------------------------------------- the run

    def profile(
        self, whole: Sequence[FileCoverage], findings: list[dict[str, Any]]
    ) -> DatasetProfile:
        """The merged profile of ``whole`` (files lying whole in the window, oldest
        first); updates and tidies the stored aggregation."""
        self.findings = findings
        order = [ident_of(c.file) for c in whole]
        self.infos = {ident_of(c.file): c.file for c in whole}
        segments = self._read_manifest()
        parts, loose = self._evict(segments)
        front, middle, back = segments
        known = {f for s in segments for f in s.files} | {f for f, _ in loose}
        loose += [(f, False) for f in order if f not in known]
        rank = {f: i for i, f in enumerate(order)}
        loose.sort(key=lambda item: rank[item[0]])
        if not (front.files or middle.files or back.files):
            result = self._lay_out(loose, segments)
        else:
            parts[2] = self._extend_back(back, parts[2], loose)
            result = self._promote_and_build(segments, parts)
        self._write_manifest(segments)
        self._tidy(segments)
        self.counts.cached = len(order) - self.counts.scanned
        return result

    def _evict(
        self, segments: list[Segment]
    ) -> tuple[list[DatasetProfile | None], list[tuple[Ident, bool]]]:
        """Drop each segment's files that left the window (a prefix, normally) and load its
        aggregate. A segment that lost files elsewhere, or whose aggregate is damaged,
        is dissolved: its files still in the window come back loose, with whether a
        per-file profile of each is stored."""
        parts: list[DatasetProfile | None] = [None, None, None]
        loose: list[tuple[Ident, bool]] = []
        for index, segment in enumerate(segments):
            start = next((j for j, f in enumerate(segment.files) if f in self.infos), None)
            if start is None:
                segments[index] = Segment()
                continue
            # A file its aggregates were trimmed against has left (deleted, rewritten,
            # or an earlier window end): they may lack values this window needs.
            bound = all(f in self.infos for f in segment.bound)
            if bound and all(f in self.infos for f in segment.files[start:]):
                try:
                    parts[index] = self._suffix(segment, start)
                    segments[index] = _drop(segment, start)
                    continue
                except _Damaged:
                    pass
            loose += [
                (f, j < segment.built) for j, f in enumerate(segment.files) if f in self.infos
            ]
            segments[index] = Segment()
        return parts, loose

    def _lay_out(self, loose: list[tuple[Ident, bool]], segments: list[Segment]) -> DatasetProfile:
        """No usable aggregation: the older half of the window becomes the front, the
        newer half a complete middle, both with every suffix aggregate, from one pass
        over the files from newest to oldest."""
        half = len(loose) // 2
        older, newer = loose[:half], loose[half:]
        segments[0] = Segment([f for f, _ in older], len(older))
        segments[1] = Segment([f for f, _ in newer], len(newer))
        segments[2] = Segment()
        result = self._build_suffixes(segments[1], newer, 0)
        if older:
            # The newer half is in every window the older half's suffixes serve.
            bound = (segments[1].files, result)
            result = result.merge(self._build_suffixes(segments[0], older, 0, bound))
        return result

    def _build_suffixes(
        self,
        segment: Segment,
        files: list[tuple[Ident, bool]],
        down_to: int,
        bound: tuple[list[Ident], DatasetProfile | None] | None = None,
    ) -> DatasetProfile:
        """Store the aggregates of ``segment.files[j:]`` for j from ``segment.built - 1``
        (or the end) down to ``down_to``; returns the last one built, untrimmed.

        ``bound``: newer files, and their aggregate, that will be in the window whenever
        these aggregates are used: they are stored trimmed against it (:func:`trim_against`)."""
        top = segment.built
        acc = self._load_agg(segment.files[top:]) if top < len(segment.files) else None
        if bound is not None and bound[1] is not None and down_to < top:
            segment.bind(bound[0])
        limit = None if bound is None else bound[1]
        for j in range(top - 1, down_to - 1, -1):
            ident, stored = files[j]
            piece = self._file_profile(ident, stored)
            acc = piece if acc is None else piece.merge(acc)
            self._store_agg(segment.files[j:], acc if j == 0 else trim_against(acc, limit))
            segment.built = j
        assert acc is not None
        return acc

    def _extend_back(
        self, back: Segment, part: DatasetProfile | None, loose: list[tuple[Ident, bool]]
    ) -> DatasetProfile | None:
        """Add loose and new files to the back: each gets its per-file profile stored,
        the back its new aggregate."""
        if not loose:
            return part
        for ident, stored in loose:
            piece = self._file_profile(ident, stored)
            if not stored:
                self._store_file(ident, piece)
            part = piece if part is None else part.merge(piece)
        rank = {f: i for i, f in enumerate(self.infos)}  # window order
        back.files = sorted([*back.files, *(f for f, _ in loose)], key=rank.__getitem__)
        back.built = len(back.files)
        assert part is not None
        self._store_agg(back.files, part)
        return part

    def _promote_and_build(
        self, segments: list[Segment], parts: list[DatasetProfile | None]
    ) -> DatasetProfile:
        """Once the front is gone the middle becomes the front and the back the middle;
        then a share of the middle's suffix aggregates is built, so that it is complete
        when the front runs out again. Returns the window's merged profile."""
        front, middle, back = segments
        while not front.files and (middle.files or back.files):
            if middle.files:
                if middle.built > 1:  # behind: finish it now
                    files = [(f, True) for f in middle.files]
                    self._build_suffixes(middle, files, 1, (back.files, parts[2]))
                middle.built = 0
                segments[0], parts[0] = middle, parts[1]
            else:
                segments[0], parts[0] = Segment(), None
            segments[1], parts[1] = back, parts[2]
            segments[2], parts[2] = Segment(), None
            front, middle, back = segments
        if middle.built > 1:
            # The back's files become the next middle: in every window that uses the
            # middle's suffixes once it is the front.
            steps = math.ceil((middle.built - 1) / max(len(front.files), 1))
            self._build_suffixes(
                middle,
                [(f, True) for f in middle.files],
                max(middle.built - steps, 1),
                (back.files, parts[2]),
            )
        if middle.built <= 1:
            middle.built = 0
        present = [part for part in parts if part is not None]
        result = present[0]
        for part in present[1:]:
            result = result.merge(part)
        return result

    # ---------------------------------------------------------------- pieces

    def _suffix(self, segment: Segment, start: int) -> DatasetProfile:
        """The aggregate of ``segment.files[start:]``: stored, or per-file profiles up to
        the first stored suffix merged with it (stored then, as the new whole)."""
        if start == 0 or start >= segment.built:
            return self._load_agg(segment.files[start:])
        acc = (
            self._load_agg(segment.files[segment.built :])
            if segment.built < len(segment.files)
            else None
        )
        for ident in reversed(segment.files[start : segment.built]):
            piece = self._load(self._file_name(ident), (ident,))
            acc = piece if acc is None else piece.merge(acc)
        assert acc is not None
        self._store_agg(segment.files[start:], acc)
        return acc

    def _file_profile(self, ident: Ident, stored: bool) -> DatasetProfile:
        """A file's profile: its stored per-file profile, or a scan of the file."""
        if stored:
            try:
                return self._load(self._file_name(ident), (ident,))
            except _Damaged:
                pass  # said in a finding; scanned and stored again below
        piece = self.scan(self.infos[ident], True)
        self.counts.scanned += 1
        if stored:
            self._store_file(ident, piece)
        return piece

    def _load_agg(self, files: Sequence[Ident]) -> DatasetProfile:
        return self._load(self._agg_name(files), files)

    def _load(self, name: str, files: Sequence[Ident]) -> DatasetProfile:
        """A stored profile of exactly ``files`` under this context, or _Damaged."""
        uri = join_uri(self.uri, name)
        data = self._io(lambda: read_mapped(uri, self.storage, label="cached window profile"))
        try:
            if data is None:
                raise ProfileError(f"{redact(uri)} is missing")
            profile = loads_profile(data, source=redact(uri))
            if profile.metadata.get("windowCache") != self._stamp(files):
                raise ProfileError(f"{redact(uri)} holds the profile of other files")
        except ProfileError as error:
            self.findings.append(_warning("ProfileCacheInvalid", f"{error}; recomputed"))
            raise _Damaged(name) from error
        self.counts.reads += 1
        return profile

    def _store_agg(self, files: Sequence[Ident], profile: DatasetProfile) -> None:
        self._store(self._agg_name(files), profile, files)

    def _store_file(self, ident: Ident, profile: DatasetProfile) -> None:
        self._store(self._file_name(ident), profile, [ident])

    def _store(self, name: str, profile: DatasetProfile, files: Sequence[Ident]) -> None:
        profile.metadata = {**profile.metadata, "windowCache": self._stamp(files)}
        # Keys kept: merged again later; unsorted: never compared as stored.
        data = dump_parts(profile, keep_keys=True, sort=False)
        uri = join_uri(self.uri, name)
        self._io(lambda: write_bytes(uri, data, self.storage, label="window profile cache"))
        self.counts.writes += 1

    def _stamp(self, files: Iterable[Ident]) -> dict[str, Any]:
        return {"context": self.context, "files": _set_hash(files)}

    def _file_name(self, ident: Ident) -> str:
        return "file-" + _name_hash(self.context, [ident]) + _SUFFIX

    def _agg_name(self, files: Sequence[Ident]) -> str:
        return "agg-" + _name_hash(self.context, files) + _SUFFIX

    # ---------------------------------------------------------------- the manifest

    def _read_manifest(self) -> list[Segment]:
        uri = join_uri(self.uri, MANIFEST)
        data = self._io(lambda: read_bytes(uri, self.storage, label="window cache manifest"))
        if data is None:
            return [Segment(), Segment(), Segment()]
        try:
            document = json.loads(data)
            if document.get("format") != _FORMAT or document.get("version") not in (1, _VERSION):
                raise ValueError(
                    f"not a driftwarden window cache manifest of version 1 or {_VERSION}"
                )
            if document.get("context") != self.context:
                return [Segment(), Segment(), Segment()]  # other columns, settings or reference
            segments = [Segment.from_json(s) for s in document["segments"]]
            if len(segments) != 3:
                raise ValueError(f"{len(segments)} segments, not 3")
            return segments
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            message = f"{redact(uri)} is damaged ({error}); the window is profiled again"
            self.findings.append(_warning("ProfileCacheInvalid", message))
            return [Segment(), Segment(), Segment()]

    def _write_manifest(self, segments: list[Segment]) -> None:
        document = {
            "format": _FORMAT,
            "version": _VERSION,
            "context": self.context,
            "segments": [s.to_json() for s in segments],
        }
        data = json.dumps(document, separators=(",", ":")).encode()
        uri = join_uri(self.uri, MANIFEST)
        self._io(lambda: write_bytes(uri, data, self.storage, label="window cache manifest"))

    def _tidy(self, segments: list[Segment]) -> None:
        """Delete every stored profile the manifest does not name (evicted files, older
        aggregates, another context's entries): storage stays bounded by the window."""
        keep = {MANIFEST}
        for segment in segments:
            files = segment.files
            if files:
                keep.add(self._agg_name(files))
            keep.update(self._agg_name(files[j:]) for j in range(max(segment.built, 1), len(files)))
            keep.update(self._file_name(f) for f in files[: segment.built])
        names = self._io(lambda: list_names(self.uri, self.storage, label="window profile cache"))
        for name in names or []:
            if name.endswith(_SUFFIX) and name.startswith(("agg-", "file-")) and name not in keep:
                self._delete(join_uri(self.uri, name))

    def _delete(self, uri: str) -> None:
        self._io(lambda: delete_object(uri, self.storage, label="window profile cache"))

    def _io(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except (StorageError, DataNotFoundError) as error:
            raise _CacheUnavailable(f"cannot use the window profile cache: {error}") from error


def _drop(segment: Segment, start: int) -> Segment:
    """``segment`` without its first ``start`` files (their aggregate is then stored)."""
    return Segment(segment.files[start:], max(segment.built - start, 0), segment.bound)


def _set_hash(files: Iterable[Ident]) -> str:
    return hashlib.sha256(json.dumps(sorted(list(f) for f in files)).encode()).hexdigest()


def _name_hash(context: str, files: Iterable[Ident]) -> str:
    return _set_hash([(context, 0, None), *files])[:40]
