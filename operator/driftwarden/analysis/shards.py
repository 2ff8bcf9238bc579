"""Profiles of a share of a dataset's files, and the merge of such profiles (issue 11).

``driftwarden profile --shard I/N`` profiles shard ``I`` of ``N``: the files are dealt
to the shards by size (largest first, each to the shard with the fewest bytes so far,
ties to the lower index, equal sizes by path), which depends on the listing alone, so
every shard process computes the same assignment without talking to the others. Each
file is profiled on its own, its rows keyed by its path (analysis/incremental.py,
``file_stream``), and merging is exact and order-free, so the merge of the N shard
profiles serialises to the same bytes as one pass over all files
(tests/profile/test_shard_identity.py).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from driftwarden.analysis.incremental import scan_file
from driftwarden.errors import ConfigError, DataNotFoundError, ProfileError
from driftwarden.profile import (
    ColumnPlan,
    DatasetProfile,
    NumericProfile,
    ProfileOptions,
    empty_profile,
    kind_of,
    loads_profile,
)
from driftwarden.storage import FileInfo, OpenedDataset, StorageOptions, read_mapped, redact
from driftwarden.storage.schema import unify

log = logging.getLogger("driftwarden.analysis")

_SHARD = re.compile(r"(\d+)/(\d+)")
MAX_SHARDS = 100_000
# In a profile URI: a shard's index. `driftwarden profile --output` fills it in; `analyze`
# expands one such URI over the indexes 0 … N-1 (``--shards N``).
SHARD_PLACEHOLDER = "{shard}"
# The profile metadata key of the time window a windowed profile covers ({column, start,
# end}, as the report's window): analyze checks it against its own current window.
WINDOW_METADATA = "window"
# The profile metadata key of a reference shard's cache key (analysis/run.py,
# ``reference_cache_key``): the merge uses the shards only if its reference has that key.
REFERENCE_KEY_METADATA = "referenceKey"
# The profile metadata key of a reference shard's place in its scan, [index, count]: the
# merge uses the shards only if they are all of them, each index 0 … count-1 once.
REFERENCE_SHARD_METADATA = "referenceShard"
# The profile metadata keys of the data's own schema (Arrow IPC, base64) and its hive
# partition columns: ``analyze`` plans the compared columns from them exactly as from the
# data (types, widenings, unsupported columns, partition keys), so a report from profiles
# has the findings of the report from the data. Profiles without them (written before
# they were recorded) plan from stand-in types: float64 and string (profile_schema).
SCHEMA_METADATA = "schema"
PARTITIONS_METADATA = "partitionColumns"


def parse_shard(text: str, flag: str = "--shard") -> tuple[int, int]:
    """``I/N`` as (I, N) with 0 ≤ I < N; ConfigError naming ``flag`` otherwise."""
    match = _SHARD.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"{flag} {text!r} is not I/N", hint="e.g. 0/4 for the first of 4 shards")
    index, count = int(match[1]), int(match[2])
    if not 0 < count <= MAX_SHARDS or index >= count:
        raise ConfigError(
            f"{flag} {text!r}: the index must be 0 … N-1 and N 1 … {MAX_SHARDS}",
            hint="shards are numbered from 0, like a Kubernetes Indexed Job's completion index",
        )
    return index, count


def assign(files: Sequence[FileInfo], count: int) -> list[list[FileInfo]]:
    """Deal ``files`` to ``count`` shards balanced by bytes; each shard's files by path."""
    shards: list[list[FileInfo]] = [[] for _ in range(count)]
    loads = [0] * count
    for info in sorted(files, key=lambda f: (-f.size, f.path)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        shards[lightest].append(info)
        loads[lightest] += info.size
    return [sorted(shard, key=lambda f: f.path) for shard in shards]


def profile_files(
    dataset: OpenedDataset,
    plan: Sequence[ColumnPlan],
    categorical: Sequence[str],
    options: ProfileOptions,
    files: Sequence[FileInfo],
    column_group: int,
    whole: Collection[str] | None = None,
    edges: Mapping[str, NDArray[np.float64]] | None = None,
) -> DatasetProfile:
    """The merged profile of ``files`` (none: an empty profile that merges as nothing),
    each file profiled on its own and keyed by its path, as a run's current side is.

    ``whole``: the paths lying whole inside the dataset's time window (read without its
    filter); the others are filtered to the window. None: every file is read whole.
    ``edges`` (:func:`histogram_edges`): numerical columns also count histograms on them.
    """
    scan = scan_file(
        dataset, plan, categorical, options, None if edges is None else dict(edges), column_group
    )
    profile = empty_profile(plan, options, edges)
    for info in sorted(files, key=lambda f: f.path):
        piece = scan(info, whole is None or info.path in whole)
        profile = piece if profile.rows == 0 else profile.merge(piece)
    return profile


def profile_shard(
    dataset: OpenedDataset,
    plan: Sequence[ColumnPlan],
    categorical: Sequence[str],
    options: ProfileOptions,
    shard: tuple[int, int],
    column_group: int,
    edges: Mapping[str, NDArray[np.float64]] | None = None,
) -> tuple[DatasetProfile, list[FileInfo]]:
    """The profile of shard ``(index, count)`` of ``dataset``'s files in its window, and
    those files: the files reaching into the window are placed from metadata alone, so
    every shard computes the same placement and :func:`assign` deals the same shares."""
    index, count = shard
    placed = {c.file.path: c.state for c in dataset.coverage() if c.state != "outside"}
    files = assign([info for info in dataset.files if info.path in placed], count)[index]
    whole = {path for path, state in placed.items() if state == "whole"}
    profile = profile_files(dataset, plan, categorical, options, files, column_group, whole, edges)
    return profile, files


def histogram_edges(
    reference: DatasetProfile, plan: Sequence[ColumnPlan], bins: int, flag: str
) -> dict[str, NDArray[np.float64]]:
    """The reference's bin edges of every planned numerical column, as an analysis takes
    them (``quantile_edges(bins)``): a shard counting its histograms on them gives the
    analysis exact counts, so its report is a single pass's, not estimated from samples.
    ProfileError naming ``flag`` when the reference lacks a column or has it as another kind.

    A column the reference's data has not at all (new in this data: the analysis reports
    it as ``NewColumn`` and compares it with nothing) needs no edges and gets none."""
    edges: dict[str, NDArray[np.float64]] = {}
    schema_names = set(profile_schema(reference, flag).names)
    for column in plan:
        if column.kind != "numerical" or column.name not in schema_names:
            continue
        found = reference.columns.get(column.name)
        if not isinstance(found, NumericProfile):
            raise ProfileError(
                f"{flag}: the reference profiles have no numerical column {column.name!r}",
                hint="give the profiles of the reference this data will be compared with",
            )
        edges[column.name] = found.quantile_edges(bins)
    return edges


@dataclass(frozen=True)
class LoadedProfiles:
    """Shard profiles merged, with what a report says about their source."""

    profile: DatasetProfile
    uris: tuple[str, ...]
    fingerprint: str  # a hash of the merged profile's bytes' sources, in URI order


def load_profiles(uris: Sequence[str], storage: StorageOptions, flag: str) -> LoadedProfiles:
    """Read and merge the profiles at ``uris`` (written by ``driftwarden profile``)."""
    if not uris:
        raise ConfigError(f"{flag}: give at least one profile URI")
    digest = hashlib.sha256()
    merged: DatasetProfile | None = None
    # Each profile's recorded schema and partitions: the profiles themselves (views of
    # their mapped files) are let go once merged, as before.
    sources: list[tuple[str, object, object]] = []
    for uri in sorted(set(uris)):
        data = read_mapped(uri, storage, label="profile")
        if data is None:
            raise DataNotFoundError(
                f"{flag}: no profile at {redact(uri)}", hint="write it with driftwarden profile"
            )
        digest.update(hashlib.sha256(data).digest())
        piece = loads_profile(data, source=f"{flag} {redact(uri)}")
        sources.append(
            (uri, piece.metadata.get(SCHEMA_METADATA), piece.metadata.get(PARTITIONS_METADATA))
        )
        if merged is None:
            merged = piece
            continue
        if piece.metadata.get(WINDOW_METADATA) != merged.metadata.get(WINDOW_METADATA):
            raise ProfileError(
                f"{flag}: {redact(uri)} covers another time window than the others "
                f"({window_text(piece)} against {window_text(merged)})",
                hint="profile every shard with the same --window and --window-end",
            )
        merged, piece = common_histograms(merged, piece, f"{flag} {redact(uri)}")
        try:
            merged = merged.merge(piece)
        except ValueError as error:
            raise ProfileError(
                f"{flag}: {redact(uri)} does not merge with the others ({error})",
                hint="profile every shard with the same settings and columns",
            ) from error
    assert merged is not None
    if merged.rows == 0:
        raise DataNotFoundError(f"{flag}: the profiles hold no rows")
    merged.metadata.update(_source_schema(sources, flag))
    for key in (SCHEMA_METADATA, PARTITIONS_METADATA):
        if merged.metadata.get(key) is None:
            merged.metadata.pop(key, None)
    return LoadedProfiles(merged, tuple(sorted(set(uris))), digest.hexdigest()[:32])


def common_histograms(
    first: DatasetProfile, second: DatasetProfile, source: str
) -> tuple[DatasetProfile, DatasetProfile]:
    """Both profiles, each numerical column's histogram dropped on both sides unless both
    counted it on the same edges: then they merge, and the analysis estimates that column's
    bins from its sample as for shards profiled without edges.

    Shards of one run may differ here when some found the cached reference profile (and
    counted on its edges) and others did not (another run wrote the cache meanwhile), or
    were given another reference's profiles: the counts of a part of the rows on some
    edges cannot stand for all rows, and the sample stands for all of them.
    """
    dropped = [
        name
        for name, mine in first.columns.items()
        if isinstance(mine, NumericProfile)
        and isinstance(theirs := second.columns.get(name), NumericProfile)
        and (mine.edges is not None or theirs.edges is not None)
        and (
            mine.edges is None
            or theirs.edges is None
            or not np.array_equal(mine.edges, theirs.edges)
        )
    ]
    if not dropped:
        return first, second
    log.warning(
        "shard profiles counted histograms on different edges: estimated from the samples",
        extra={"profile": source, "columns": dropped[:20]},
    )
    return _without_histograms(first, dropped), _without_histograms(second, dropped)


def _without_histograms(profile: DatasetProfile, names: Sequence[str]) -> DatasetProfile:
    columns = dict(profile.columns)
    for name in names:
        column = columns[name]
        assert isinstance(column, NumericProfile)
        columns[name] = replace(column, edges=None, bin_counts=None)
    return replace(profile, columns=columns)


def window_text(profile: DatasetProfile) -> str:
    """The time window a profile covers, as an error message names it ("no window")."""
    window = profile.metadata.get(WINDOW_METADATA)
    if not isinstance(window, dict):
        return "no window"
    return f"{window.get('start')} to {window.get('end')} on {window.get('column')!r}"


def schema_text(schema: pa.Schema) -> str:
    """``schema`` as a profile records it (SCHEMA_METADATA): Arrow IPC, base64, without
    metadata (a writer's pandas or field ids are no part of what is compared)."""
    bare = pa.schema([field.remove_metadata() for field in schema])
    return base64.b64encode(bare.serialize().to_pybytes()).decode("ascii")


def _schema_of(text: object, source: str) -> pa.Schema:
    try:
        if not isinstance(text, str):
            raise TypeError(f"a {type(text).__name__}, not text")
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text, validate=True)))
    except Exception as error:  # any damage: binascii, Arrow, type errors alike
        raise ProfileError(
            f"{source}: the recorded schema of the data is unreadable ({error})",
            hint="write the profile again with driftwarden profile",
        ) from error


def _source_schema(
    sources: Sequence[tuple[str, object, object]], flag: str
) -> dict[str, object | None]:
    """The schema and partition columns of the data behind ``sources`` (each profile's
    URI, recorded schema and partition columns) as one pass over all of it would see
    them: one schema when they agree (the shards of one dataset), else their union
    widened as the storage layer widens the schemas of files (storage/schema.py). None
    when a profile records none (an older one)."""
    texts = [text for _, text, _ in sources]
    partitions = [found for _, _, found in sources]
    if any(text is None for text in texts) or any(not isinstance(p, list) for p in partitions):
        return {SCHEMA_METADATA: None, PARTITIONS_METADATA: None}
    names = sorted({str(name) for found in partitions if isinstance(found, list) for name in found})
    if len(set(texts)) == 1:
        return {SCHEMA_METADATA: texts[0], PARTITIONS_METADATA: names}
    labels = [f"{flag} {redact(uri)}" for uri, _, _ in sources]
    schemas = [_schema_of(text, label) for text, label in zip(texts, labels, strict=True)]
    return {
        SCHEMA_METADATA: schema_text(unify(schemas, labels, label=flag)),
        PARTITIONS_METADATA: names,
    }


def profile_not_features(profile: DatasetProfile) -> set[str]:
    """The partition columns of the data a profile was built from (never features)."""
    found = profile.metadata.get(PARTITIONS_METADATA)
    return {str(name) for name in found} if isinstance(found, list) else set()


def profile_schema(profile: DatasetProfile, source: str = "profile") -> pa.Schema:
    """The schema of the data a profile was built from, for planning (SCHEMA_METADATA);
    for a profile that records none, a stand-in: numerical columns as float64,
    categorical ones as strings."""
    text = profile.metadata.get(SCHEMA_METADATA)
    if text is not None:
        return _schema_of(text, source)
    return pa.schema(
        [
            pa.field(name, pa.float64() if kind_of(column) == "numerical" else pa.string())
            for name, column in profile.columns.items()
        ]
    )
