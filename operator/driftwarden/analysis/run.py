"""One analysis run: reference profile (cached), current window profile, comparison, report."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

import driftwarden
from driftwarden.analysis import workers
from driftwarden.analysis.compare import compare_profiles, edges_for
from driftwarden.analysis.incremental import (
    Counts,
    Scan,
    Sighting,
    load_footers,
    profile_window,
    scan_file,
    store_footers,
)
from driftwarden.analysis.plan import FeaturePlan, plan_features
from driftwarden.analysis.reference import window_bounds
from driftwarden.analysis.settings import RunConfig, SourceConfig
from driftwarden.analysis.shards import LoadedProfiles, profile_not_features, profile_schema
from driftwarden.errors import ConfigError, ProfileError, StorageError
from driftwarden.profile import (
    DatasetProfile,
    NumericProfile,
    ProfileOptions,
    dumps_profile,
    kind_of,
    loads_profile,
)
from driftwarden.profile.serialize import VERSION as PROFILE_VERSION
from driftwarden.profile.serialize import PayloadCheck, loads_profile_unchecked
from driftwarden.report.document import SCHEMA_VERSION
from driftwarden.report.text import finding
from driftwarden.storage import (
    DatasetSource,
    FileInfo,
    OpenedDataset,
    StorageOptions,
    join_uri,
    open_dataset,
    read_mapped,
    redact,
    write_bytes,
)

log = logging.getLogger("driftwarden.analysis")

# Progress callback: (phase, rows so far, total rows or None) — phase is "reference" or "current".
Progress = Callable[[str, int, int | None], None]


def storage_options(config: RunConfig) -> StorageOptions:
    """Storage options of a run (credentials stay in the environment)."""
    return StorageOptions(
        endpoint=config.storage.endpoint,
        region=config.storage.region,
        anonymous=config.storage.anonymous,
    )


def dataset_source(source: SourceConfig, window_end: datetime, label: str) -> DatasetSource:
    """What a side reads: its data limited to its time window closing at ``window_end``."""
    # Rolling and offset references close their window source.offset before the slot.
    bounds = window_bounds(window_end, source.window, source.offset)
    return DatasetSource(
        uri=source.path,
        format=source.format,
        partitioning=source.partitioning,
        timestamp_column=source.timestamp_column,
        start=bounds[0] if bounds else None,
        end=bounds[1] if bounds else None,
        label=label,
    )


def open_source(
    source: SourceConfig, options: StorageOptions, window_end: datetime, label: str
) -> OpenedDataset:
    """A side's dataset, limited to its time window closing at ``window_end`` (if it has one)."""
    return open_dataset(dataset_source(source, window_end, label), options)


def open_windowed(
    source: SourceConfig,
    options: StorageOptions,
    window_end: datetime,
    label: str,
    *,
    cache: str | None,
    space: str,
) -> OpenedDataset:
    """:func:`open_source` for a side whose window slides: with the Parquet footers earlier
    runs kept in its cache directory (``space``), only new files' footers are read, and
    those are kept for the next run (analysis/incremental.py, :func:`load_footers`)."""
    wanted = dataset_source(source, window_end, label)
    kept = load_footers(cache, wanted, space, options)
    dataset = open_dataset(wanted, options, kept)
    store_footers(cache, dataset, space, options, kept)
    return dataset


def not_features_of(
    dataset: OpenedDataset | None, source: SourceConfig, loaded: LoadedProfiles | None = None
) -> set[str]:
    """A side's columns that are never features: its timestamp column and partition keys
    (of its data, or those its profiles recorded of theirs)."""
    names = {source.timestamp_column} if source.timestamp_column else set()
    if dataset is not None:
        names.update(dataset.partition_columns)
    elif loaded is not None:
        names.update(profile_not_features(loaded.profile))
    return names


def reference_cache_key(
    reference: OpenedDataset, plan: FeaturePlan, options: ProfileOptions, bins: int
) -> str:
    """Key of a cached reference profile: the reference files, the columns and the profile settings."""
    material = json.dumps(
        {
            "data": reference.fingerprint(),
            "columns": [[c.name, c.kind] for c in plan.columns],
            "options": asdict(options),
            "bins": bins,
            "version": driftwarden.__version__,
            # A profile of an older format is never looked up, rather than found and refused.
            "format": PROFILE_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


# Wide data is read in passes of this many columns per file: the reader then holds
# one group's column chunks at a time (at 10^5 x 1,000 float64: peak RSS 1.6 GiB
# reading all columns at once; bench/RESULTS.md). Narrower data reads in one pass.
COLUMN_GROUP = 64


def _row_counter(progress: Progress | None, phase: str, total: int | None) -> Callable[[int], None]:
    """A batch callback that reports the rows of ``phase`` read so far to ``progress``."""
    rows = 0

    def on_batch(count: int) -> None:
        nonlocal rows
        rows += count
        if progress is not None:
            progress(phase, rows, total)

    return on_batch


# ---- reference lifecycle: windowed (rolling, offset) references
# Their window moves every run, like the current one's: they are profiled file by file
# through a window cache of their own (analysis/incremental.py, directory
# "reference-window-<hash>/", no histogram edges in its context), so a run scans the
# files that entered the reference window and merges the rest. The current side then
# goes uncached: its histograms count on the reference's edges, which move every run.


def windowed_reference(
    reference: OpenedDataset,
    plan: FeaturePlan,
    options: ProfileOptions,
    *,
    cache: str | None,
    storage: StorageOptions,
    progress: Progress | None,
    findings: list[dict[str, Any]],
) -> tuple[DatasetProfile, Counts]:
    """A rolling or offset reference's profile, through its window cache under ``cache``."""
    on_batch = _row_counter(progress, "reference", None)
    scan = scan_file(
        reference, plan.columns, plan.categorical, options, None, COLUMN_GROUP, on_batch
    )
    return profile_window(
        reference,
        plan.columns,
        options,
        None,
        scan,
        cache=cache,
        storage=storage,
        findings=findings,
        space="reference-window",
    )


# ---- end of the reference lifecycle block


def reference_cache_uri(cache: str, key: str) -> str:
    """Where the reference profile of cache key ``key`` is cached under ``cache``."""
    return join_uri(cache, f"reference-{key}.dwprofile")


def read_cached_reference(
    uri: str, plan: FeaturePlan, storage: StorageOptions, findings: list[dict[str, Any]]
) -> DatasetProfile | None:
    """The reference profile cached at ``uri``, None when there is none or it is unusable
    (a warning finding says why: it is then recomputed, never a failed run)."""
    found = _open_cached_reference(uri, plan, storage, findings, check_later=False)
    return None if found is None else found[0]


def _open_cached_reference(
    uri: str,
    plan: FeaturePlan,
    storage: StorageOptions,
    findings: list[dict[str, Any]],
    *,
    check_later: bool,
) -> tuple[DatasetProfile, PayloadCheck | None] | None:
    """:func:`read_cached_reference`; with ``check_later`` its payload's checksum is
    still being compared on a thread (the PayloadCheck returned) when it comes back."""
    try:
        data = read_mapped(uri, storage, label="cached reference profile")
    except StorageError as error:
        findings.append(
            _warning("ProfileCacheUnavailable", f"cannot read the profile cache: {error}")
        )
        return None
    if data is None:
        return None
    try:
        if check_later:
            profile, check = loads_profile_unchecked(data, source=redact(uri))
        else:
            profile, check = loads_profile(data, source=redact(uri)), None
        _check_columns(profile, plan, redact(uri))
    except ProfileError as error:
        findings.append(_cache_invalid(error))
        return None
    return profile, check


def _cache_invalid(error: ProfileError) -> dict[str, Any]:
    return _warning("ProfileCacheInvalid", f"{error}; recomputed")


def reference_from_shards(
    uris: Sequence[str], key: str, plan: FeaturePlan, storage: StorageOptions
) -> DatasetProfile | None:
    """The merged profiles of the reference's shards at ``uris`` (``driftwarden profile
    --reference-output``, one per shard of the scan), None unless every one is there, they
    are all the scan's shards (each index of its count once) and were profiled from this
    reference (its cache ``key``) with these columns.

    Anything else (a shard found the cached profile and wrote none, the reference changed
    since the scan, a shard file unreadable) is no error: the reference is read as
    without shards. The merge equals the one-pass profile (docs/sharding.md), so what the
    run compares and caches is what it would have built itself.
    """
    from driftwarden.analysis.shards import REFERENCE_KEY_METADATA, REFERENCE_SHARD_METADATA

    merged: DatasetProfile | None = None
    places: list[object] = []
    for uri in sorted(set(uris)):
        try:
            data = read_mapped(uri, storage, label="reference shard profile")
            piece = None if data is None else loads_profile(data, source=redact(uri))
        except (StorageError, ProfileError) as error:
            log.warning("reference shard unusable", extra={"uri": redact(uri), "error": str(error)})
            return None
        if piece is None or piece.metadata.get(REFERENCE_KEY_METADATA) != key:
            return None
        places.append(piece.metadata.get(REFERENCE_SHARD_METADATA))
        try:
            merged = piece if merged is None else merged.merge(piece)
        except ValueError as error:
            log.warning("reference shards do not merge", extra={"error": str(error)})
            return None
    if merged is None or merged.rows == 0:
        return None
    # Some of the shards (listed one by one, or all written to one URI) are part of the
    # reference: cached under its key, they would stand for all of it in every later run.
    count = len(places)
    if sorted(map(str, places)) != sorted(str([index, count]) for index in range(count)):
        log.warning("reference shards are not all of the scan's", extra={"shards": count})
        return None
    try:
        _check_columns(merged, plan, "the reference shards")
    except ProfileError:
        return None
    merged.metadata = {}  # the one-pass profile has none: the cache gets its bytes
    return merged


def load_or_build_reference(
    reference: OpenedDataset,
    plan: FeaturePlan,
    options: ProfileOptions,
    bins: int,
    *,
    cache: str | None,
    storage: StorageOptions,
    progress: Progress | None,
    findings: list[dict[str, Any]],
    shards: Sequence[str] = (),
) -> tuple[DatasetProfile, bool]:
    """A fixed reference's profile, from the cache when a valid one exists; (profile,
    was_cached). Else from ``shards`` (the reference's shard profiles a sharded run's
    scan wrote, :func:`reference_from_shards`) when they are all there, else from the
    data; either is then cached. Rolling and offset references: :func:`windowed_reference`."""
    source = _ReferenceSource(reference, plan, options, bins, cache, storage, progress, shards)
    profile, cached, _check = source.load(findings, check_later=False)
    return profile, cached


class _ReferenceSource:
    """Where a fixed reference's profile comes from: its cache, or else its shards'
    profiles or its data (then cached). :func:`load_or_build_reference`."""

    def __init__(
        self,
        reference: OpenedDataset,
        plan: FeaturePlan,
        options: ProfileOptions,
        bins: int,
        cache: str | None,
        storage: StorageOptions,
        progress: Progress | None,
        shards: Sequence[str],
    ) -> None:
        self.reference, self.plan, self.options = reference, plan, options
        self.storage, self.progress, self.shards = storage, progress, shards
        self.key = reference_cache_key(reference, plan, options, bins)
        self.uri = reference_cache_uri(cache, self.key) if cache else None

    def load(
        self, findings: list[dict[str, Any]], *, check_later: bool
    ) -> tuple[DatasetProfile, bool, PayloadCheck | None]:
        """(profile, was_cached, its payload check still running or None): with
        ``check_later`` a cached profile's checksum is compared on a thread
        (:func:`loads_profile_unchecked`), and the caller must ``wait()`` on it before
        anything computed from the profile's arrays is kept, stored or reported."""
        if self.uri is not None:
            found = _open_cached_reference(
                self.uri, self.plan, self.storage, findings, check_later=check_later
            )
            if found is not None:
                log.info("reference profile loaded from cache", extra={"cache": redact(self.uri)})
                return found[0], True, found[1]
        return self.build(findings), False, None

    def build(self, findings: list[dict[str, Any]]) -> DatasetProfile:
        """The profile from the shards' profiles or the data, cached (replacing what was)."""
        shards = self.shards
        profile = (
            reference_from_shards(shards, self.key, self.plan, self.storage) if shards else None
        )
        if profile is not None:
            log.info(
                "reference profile merged from the scan's shards", extra={"shards": len(shards)}
            )
        else:
            profile = _build_reference(
                self.reference, self.plan, self.options, self.storage, self.progress, findings
            )
        if self.uri is not None:
            try:
                payload = dumps_profile(profile, keep_keys=False)
                write_bytes(self.uri, payload, self.storage, label="reference profile cache")
            except StorageError as error:
                findings.append(
                    _warning("ProfileCacheUnavailable", f"cannot write the profile cache: {error}")
                )
        return profile


def _build_reference(
    reference: OpenedDataset,
    plan: FeaturePlan,
    options: ProfileOptions,
    storage: StorageOptions,
    progress: Progress | None,
    findings: list[dict[str, Any]],
) -> DatasetProfile:
    """A fixed reference's profile read from its data."""
    # File by file, each row keyed by its file and position, as the current side and
    # `driftwarden profile` read: the same bytes as the merge of the reference's shard
    # profiles (docs/sharding.md), and the importance rows use the same keys.
    total = (
        reference.count_rows()
        if progress is not None and reference.format in ("parquet", "arrow")
        else None
    )
    scan = scan_file(
        reference,
        plan.columns,
        plan.categorical,
        options,
        None,
        COLUMN_GROUP,
        _row_counter(progress, "reference", total),
    )
    profile, _counts = profile_window(
        reference, plan.columns, options, None, scan, cache=None, storage=storage, findings=findings
    )
    return profile


def _profile_current(
    current: OpenedDataset,
    plan: FeaturePlan,
    options: ProfileOptions,
    reference: DatasetProfile,
    bins: int,
    cache: str | None,
    storage: StorageOptions,
    findings: list[dict[str, Any]],
    progress: Progress | None,
    check: PayloadCheck | None = None,
    sighting: Sighting | None = None,
) -> tuple[DatasetProfile, Counts]:
    """The current window's profile, file by file, whole files through the window cache
    under ``cache`` (analysis/incremental.py); histograms on the reference's edges.

    ``check``: the reference's payload check, still running (:func:`loads_profile_unchecked`).
    Its edges are then unverified bytes, so no file's profile leaves its scan (for the
    window cache or the run) before the check has passed, and _ReferenceDamaged is
    raised instead if it fails. ``sighting``: :func:`profile_window`'s."""
    on_batch = _row_counter(progress, "current", None)
    try:
        # Garbage edges cannot crash the profiling before the check says so: the
        # histogram kernel counts values below each edge, whatever their order (or
        # NaN), and never indexes by them; there are at most ``bins`` - 1 per column.
        edges = dict(edges_for(reference, bins))
        scan = scan_file(
            current, plan.columns, plan.categorical, options, edges, COLUMN_GROUP, on_batch
        )
        return profile_window(
            current,
            plan.columns,
            options,
            edges,
            scan if check is None else _checked_scan(scan, check),
            cache=cache,
            storage=storage,
            findings=findings,
            sighting=sighting,
        )
    finally:
        # Also when no file was scanned (a window served by its cache, or an error):
        # whatever came of the edges, it is damage that the caller hears of first.
        if check is not None:
            _passed(check)


class _ReferenceDamaged(Exception):
    """The cached reference's payload failed its checksum, compared while the current
    data was profiled on its histogram edges."""

    def __init__(self, error: ProfileError) -> None:
        super().__init__(str(error))
        self.error = error


def _passed(check: PayloadCheck) -> None:
    """Wait for ``check``; _ReferenceDamaged if it fails."""
    try:
        check.wait()
    except ProfileError as error:
        raise _ReferenceDamaged(error) from error


def _checked_scan(scan: Scan, check: PayloadCheck) -> Scan:
    """``scan``, whose profiles (counted on the reference's edges) come out only once
    ``check`` has passed: the first scan, which the check overlaps, waits for it."""

    def checked(info: FileInfo, whole: bool) -> DatasetProfile:
        try:
            return scan(info, whole)
        finally:
            _passed(check)  # a failed scan too: damaged edges may be why

    return checked


def _schema(dataset: OpenedDataset | None, loaded: LoadedProfiles | None) -> pa.Schema:
    if dataset is not None:
        return dataset.schema
    assert loaded is not None
    return profile_schema(loaded.profile, f"the profiles at {redact(loaded.uris[0])}")


def _fingerprint(dataset: OpenedDataset | None) -> str | None:
    return None if dataset is None else dataset.fingerprint()


def _check_window(loaded: LoadedProfiles, source: SourceConfig, window_end: datetime) -> None:
    """Current profiles must cover this run's current window (or none, without one):
    ``driftwarden profile --window … --window-end …`` records it in their metadata."""
    from driftwarden.analysis.shards import WINDOW_METADATA, window_text

    wanted = window_document(source, window_end)
    if loaded.profile.metadata.get(WINDOW_METADATA) != wanted:
        shown = "no window" if wanted is None else f"{wanted['start']} to {wanted['end']}"
        raise ConfigError(
            f"--current-profiles: the profiles cover {window_text(loaded.profile)}, "
            f"this run's current window is {shown}",
            hint="profile with the run's window (--window, --window-end and the timestamp "
            "column, or the same --config) and give analyze the same --window-end",
        )


def _check_profiled(
    config: RunConfig,
    reference: LoadedProfiles | None,
    current: LoadedProfiles | None,
    options: ProfileOptions,
    window_end: datetime,
) -> None:
    """Profiles stand in for data only where a run needs nothing but profiles."""
    for flag, loaded, source in (
        ("--reference-profiles", reference, config.reference),
        ("--current-profiles", current, config.current),
    ):
        if loaded is None:
            continue
        if config.settings.model is not None:
            raise ConfigError(
                f"{flag}: spec.model reads the data itself; give data for both sides",
                hint="profiles carry feature drift only",
            )
        if flag == "--current-profiles":
            _check_window(loaded, config.current, window_end)
        elif source.window is not None or source.offset is not None:
            raise ConfigError(
                f"{flag}: a reference profile covers whole files, so no time window applies to it",
                hint="profile the files of the window you mean, without window settings",
            )
        theirs = loaded.profile.options
        if (theirs.sample_size, theirs.max_categories, theirs.seed) != (
            options.sample_size,
            options.max_categories,
            options.seed,
        ):
            raise ConfigError(
                f"{flag}: the profiles were built with sampleSize {theirs.sample_size}, "
                f"maxCategories {theirs.max_categories}, seed {theirs.seed}; this run uses "
                f"{options.sample_size}, {options.max_categories}, {options.seed}",
                hint="give driftwarden profile the same spec.profile (--config) as the analysis",
            )


def _planned(loaded: LoadedProfiles, plan: FeaturePlan, flag: str) -> DatasetProfile:
    """The loaded profile's planned columns; ProfileError when one is missing or of another kind."""
    columns = loaded.profile.columns
    wrong = [
        column.name
        for column in plan.columns
        if column.name not in columns or kind_of(columns[column.name]) != column.kind
    ]
    if wrong:
        raise ProfileError(
            f"{flag}: the profiles lack column(s) {', '.join(wrong)} as this run compares them",
            hint="profile with the same spec.features (--config) as the analysis",
        )
    from driftwarden.analysis.model_predictions import only_columns

    return only_columns(loaded.profile, plan.names)


def _check_columns(profile: DatasetProfile, plan: FeaturePlan, source: str) -> None:
    """A cached profile must hold exactly the planned columns with their kinds."""
    found = {name: kind_of(column) for name, column in profile.columns.items()}
    wanted = {column.name: column.kind for column in plan.columns}
    if found != wanted:
        raise ProfileError(f"{source} holds other columns than this run compares")


def _warning(code: str, message: str) -> dict[str, Any]:
    return finding("warning", code, None, message)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def window_document(source: SourceConfig, window_end: datetime) -> dict[str, Any] | None:
    """``{column, start, end}`` of a side's time window in the report; None without one."""
    bounds = window_bounds(window_end, source.window, source.offset)
    if bounds is None:
        return None
    return {"column": source.timestamp_column, "start": _iso(bounds[0]), "end": _iso(bounds[1])}


def analyze(
    config: RunConfig,
    *,
    window_end: datetime | None = None,
    profile_cache: str | None = None,
    progress: Progress | None = None,
    monitor: dict[str, Any] | None = None,
    reference_profiles: LoadedProfiles | None = None,
    current_profiles: LoadedProfiles | None = None,
    reference_shards: Sequence[str] = (),
) -> dict[str, Any]:
    """Run one analysis and return the report document (see docs/report-schema.md).

    ``window_end`` closes the current window (default: now); the window itself is
    ``config.current.window`` before it. ``reference_profiles`` / ``current_profiles``
    (merged shard profiles, analysis/shards.py) stand in for that side's data, whose
    path is then not read. ``reference_shards``: profiles of a fixed reference's shards
    (``driftwarden profile --reference-output``), merged and cached in place of reading
    the reference when the cache misses and all of them are there. Raises
    DriftwardenError subclasses on bad input.
    """
    started = time.monotonic()
    window_end = (window_end or datetime.now(UTC)).astimezone(UTC)
    storage = storage_options(config)
    settings = config.settings
    options = ProfileOptions(
        sample_size=settings.profile.sample_size,
        max_categories=settings.profile.max_categories,
        seed=settings.profile.seed,
    )
    _check_profiled(config, reference_profiles, current_profiles, options, window_end)
    reference = (
        None
        if reference_profiles is not None
        else open_source(config.reference, storage, window_end, "reference data")
        if config.reference.offset is None
        else open_windowed(
            config.reference,
            storage,
            window_end,
            "reference data",
            cache=profile_cache,
            space="reference-window",
        )
    )
    current = (
        None
        if current_profiles is not None
        else open_windowed(
            config.current,
            storage,
            window_end,
            "current data",
            cache=profile_cache,
            space="current",
        )
    )
    # spec.model.performance: its id, prediction and score columns are never features.
    performance = None if settings.model is None else settings.model.performance
    model = settings.model
    if model is not None:
        # Imported here, as the model's other modules: a plain feature-drift run loads
        # none of them (~15 ms of every run's start-up at 1,000 features, addendum 16f).
        from driftwarden.analysis.model_multivariate import (
            multivariate_document,
            row_features,
            row_options,
        )
        from driftwarden.analysis.model_predictions import (
            compare_model_columns,
            only_columns,
            plan_model_columns,
            without_model_columns,
        )
        from driftwarden.analysis.model_rootcause import feature_importance, root_cause
    plan = plan_features(
        _schema(reference, reference_profiles),
        _schema(current, current_profiles),
        settings.features if model is None else without_model_columns(settings.features, model),
        not_features=not_features_of(reference, config.reference, reference_profiles)
        | not_features_of(current, config.current, current_profiles)
        | set(performance.columns if performance is not None else ()),
    )
    features_plan = plan
    model_plan = None
    if model is not None and model.model_columns:
        assert reference is not None and current is not None  # _check_profiled
        # Prediction and target columns are profiled in the same pass as the features.
        model_plan = plan_model_columns(reference.schema, current.schema, model)
        plan = FeaturePlan(plan.columns + model_plan.columns, plan.findings + model_plan.findings)
    findings = list(plan.findings)
    multivariate = settings.model.multivariate if settings.model is not None else None
    # Features only: prediction and target columns are the model's, not its inputs.
    joint = () if multivariate is None else row_features(features_plan, multivariate, findings)
    if multivariate is not None:
        options = row_options(options, multivariate, joint)
    ref_files: Counts | None = None
    fixed: _ReferenceSource | None = None
    ref_check: PayloadCheck | None = None
    if reference_profiles is not None:
        ref_profile = _planned(reference_profiles, plan, "--reference-profiles")
        cached = False
    elif reference is not None and config.reference.offset is None:
        fixed = _ReferenceSource(
            reference,
            plan,
            options,
            settings.profile.bins,
            profile_cache,
            storage,
            progress,
            reference_shards,
        )
        # A cached profile's checksum (~0.07 s at 1,000 features, its 262 MB read from
        # the mapping) is compared on a thread while the current data is profiled,
        # which needs only the reference's histogram edges to start: when there is
        # current data to profile, and a second thread to spare.
        ref_profile, cached, ref_check = fixed.load(
            findings, check_later=current is not None and workers.thread_count() > 1
        )
    else:
        assert reference is not None
        ref_profile, ref_files = windowed_reference(
            reference,
            plan,
            options,
            cache=profile_cache,
            storage=storage,
            progress=progress,
            findings=findings,
        )
        cached = ref_files.scanned == 0
    if current_profiles is not None:
        cur_profile = _planned(current_profiles, plan, "--current-profiles")
        cur_files = Counts(total=len(current_profiles.uris))
    else:
        assert current is not None

        def profile_current(
            on: DatasetProfile, found: list[dict[str, Any]], check: PayloadCheck | None
        ) -> tuple[DatasetProfile, Counts]:
            return _profile_current(
                current,
                plan,
                options,
                on,
                settings.profile.bins,
                # A windowed reference moves the histogram edges every run: a current
                # window cache keyed by them would be laid out again, and never read.
                profile_cache if ref_files is None else None,
                storage,
                found,
                progress,
                check,
                sighting,
            )

        sighting = Sighting()
        # Its findings held back until the reference has passed its check.
        found: list[dict[str, Any]] = [] if ref_check is not None else findings
        try:
            cur_profile, cur_files = profile_current(ref_profile, found, ref_check)
        except _ReferenceDamaged as damaged:
            # As when the cache is found damaged on loading: a warning, the reference
            # profiled anew (and cached), and the current data profiled on its edges,
            # with the window's files split as this attempt did.
            assert fixed is not None
            findings.append(_cache_invalid(damaged.error))
            ref_profile, cached = fixed.build(findings), False
            cur_profile, cur_files = profile_current(ref_profile, findings, None)
        else:
            if found is not findings:
                findings.extend(found)
    # Never merged: frees memory before the comparison, whose threads then sort each
    # sample in place as they come to it (NumericProfile.drop_keys).
    for column in cur_profile.columns.values():
        if isinstance(column, NumericProfile):
            column.drop_keys()
    performance_report = None
    labels_target = None
    performance_findings: list[dict[str, Any]] = []
    if performance is not None:
        assert reference is not None and current is not None  # _check_profiled
        # Imported here: a plain feature-drift run loads no model code.
        from driftwarden.analysis.model_performance import LabelTarget, performance_section

        if model_plan is not None and model_plan.from_labels is not None:
            labels_target = LabelTarget(
                model_plan.from_labels.profile_kind,
                replace(options, row_features=(), row_sample_size=0),  # one column, no rows
                settings.profile.bins,
            )
        performance_report = performance_section(
            performance,
            current=current,
            current_source=config.current,
            reference=reference,
            reference_source=config.reference,
            window_end=window_end,
            storage=storage,
            findings=performance_findings,
            segments=features_plan.categorical,
            seed=settings.profile.seed,
            target=labels_target,
        )
    predictions = None
    if model_plan is not None and model is not None:
        predictions, model_findings = compare_model_columns(
            ref_profile, cur_profile, model_plan, settings, model, labels_target
        )
        feature_names = features_plan.names
        ref_features = only_columns(ref_profile, feature_names)
        cur_features = only_columns(cur_profile, feature_names)
    else:
        model_findings, ref_features, cur_features = [], ref_profile, cur_profile
    features, feature_findings, verdict = compare_profiles(ref_features, cur_features, settings)
    findings.extend(feature_findings)
    findings.extend(performance_findings)  # in the order the report always had
    findings.extend(model_findings)
    joint_document = (
        None
        if multivariate is None
        else multivariate_document(ref_profile, cur_profile, multivariate, joint, findings)
    )
    # Why the run is drifted: the share of drifted features, the joint detector, or both.
    drifted_by = [
        reason
        for reason, drifted in (
            ("features", verdict.drifted),
            ("multivariate", joint_document is not None and joint_document["drifted"]),
        )
        if drifted
    ]
    detection = settings.detection
    importance = (
        None
        if model is None or reference is None
        else feature_importance(
            model,
            reference,
            features_plan.columns,
            seed=settings.profile.seed,
            cache=profile_cache,
            storage=storage,
            findings=findings,
            windowed=config.reference.offset is not None,
        )
    )
    report = {
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": _iso(datetime.now(UTC)),
        "driftwardenVersion": driftwarden.__version__,
        "monitor": monitor,
        "reference": {
            "uri": redact(config.reference.path),
            "format": "profile" if reference is None else reference.format,
            "rows": ref_profile.rows,
            "fingerprint": reference_profiles.fingerprint
            if reference is None and reference_profiles is not None
            else _fingerprint(reference),
            "profileCached": cached,
            # rolling and offset references: their window cache's counts, as current.files
            "files": None if ref_files is None else ref_files.as_report(),
            # reference lifecycle: where this run's reference came from, and its window
            "source": config.reference_source,
            "window": window_document(config.reference, window_end),
        },
        "current": {
            "uri": redact(config.current.path),
            "format": "profile" if current is None else current.format,
            "rows": cur_profile.rows,
            "files": cur_files.as_report(),
            "window": window_document(config.current, window_end),
        },
        "settings": {
            "numerical": {
                "method": detection.numerical.method,
                "threshold": detection.numerical.threshold,
            },
            "categorical": {
                "method": detection.categorical.method,
                "threshold": detection.categorical.threshold,
            },
            "overrides": [
                {"feature": name, "method": o.method, "threshold": o.threshold}
                for name, o in detection.overrides.items()
            ],
            "significance": detection.significance,
            "correction": detection.correction,
            "driftShare": detection.drift_share,
            "missingThreshold": detection.missing_threshold,
            "profile": {
                "bins": settings.profile.bins,
                "sampleSize": settings.profile.sample_size,
                "maxCategories": settings.profile.max_categories,
                "topCategories": settings.profile.top_categories,
            },
        },
        "dataset": {
            "drifted": bool(drifted_by),
            "driftedBy": drifted_by,
            "driftShare": verdict.drift_share,
            "driftedFeatures": verdict.drifted_features,
            "totalFeatures": verdict.total_features,
            "threshold": verdict.threshold,
        },
        "features": features,
        "performance": performance_report,
        # spec.model's prediction and target columns (docs/report-schema.md); None without them
        "predictions": predictions,
        "multivariate": joint_document,
        "findings": findings,
        "durationSeconds": round(time.monotonic() - started, 3),
    }
    # spec.model's root cause (analysis/model_rootcause.py): last, it reads the other sections.
    report["rootCause"] = (
        None if importance is None else root_cause(report, importance, settings.profile.sample_size)
    )
    return report
