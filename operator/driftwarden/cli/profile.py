"""``driftwarden profile``: a mergeable profile of one shard of a dataset's files.

Run it N times with ``--shard 0/N`` … ``--shard N-1/N`` (a shell loop, the pods of an
Indexed Job, a Spark or Ray map), then ``driftwarden analyze --current-profiles`` (or
``--reference-profiles``) merges them: the same bytes as one pass over all files
(docs/sharding.md).

With a time window (``--window`` or the config's ``spec.current.window``, closed by
``--window-end``) a shard profiles its share of the files that reach into the window,
rows outside it left out, exactly as ``analyze`` reads its current side: the shards of a
window merge to the bytes of one windowed pass. The window travels in the profile's
metadata, so ``analyze`` can check it is the one it means.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftwarden.analysis.compare import edges_for
from driftwarden.analysis.plan import FeaturePlan, plan_features
from driftwarden.analysis.reference import window_bounds
from driftwarden.analysis.run import (
    COLUMN_GROUP,
    not_features_of,
    open_source,
    read_cached_reference,
    reference_cache_key,
    reference_cache_uri,
    storage_options,
    window_document,
)
from driftwarden.analysis.settings import RunConfig, parse_run_config
from driftwarden.analysis.shards import (
    PARTITIONS_METADATA,
    REFERENCE_KEY_METADATA,
    REFERENCE_SHARD_METADATA,
    SCHEMA_METADATA,
    SHARD_PLACEHOLDER,
    WINDOW_METADATA,
    histogram_edges,
    load_profiles,
    parse_shard,
    profile_shard,
    schema_text,
)
from driftwarden.cli.analyze import (
    _EXIT_BY_REASON,
    EXIT_INTERNAL,
    _load_manifest,
    _set,
    _window_end,
    _write_summary_file,
    add_storage_arguments,
    feature_and_storage_flags,
)
from driftwarden.errors import ConfigError, DriftwardenError
from driftwarden.profile import ProfileOptions, dump_parts
from driftwarden.report import build_error_summary
from driftwarden.storage import OpenedDataset, redact, write_bytes

log = logging.getLogger("driftwarden.cli")
# Set by Kubernetes in each pod of an Indexed Job: the pod's completion index.
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``profile``."""
    parser.add_argument(
        "--input", metavar="URI", required=True, help="data: path, directory, glob, s3://, gs://"
    )
    parser.add_argument(
        "--format", metavar="FMT", help="parquet, arrow, csv or jsonl (default: from the extension)"
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        default="0/1",
        help="profile shard I (from 0) of N: the files are dealt to N shards by size "
        "(default: 0/1, every file)",
    )
    parser.add_argument(
        "--shards",
        metavar="N",
        type=int,
        help="profile shard $JOB_COMPLETION_INDEX of N (an Indexed Job's pod), in place of --shard",
    )
    parser.add_argument(
        "--output",
        metavar="URI",
        required=True,
        help="where the profile file is written; {shard} in it becomes the shard's index",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a DriftMonitor manifest (or its spec): its spec.profile, spec.features and "
        "spec.current's timestampColumn and window apply; give the analysis the same one",
    )
    parser.add_argument(
        "--config-env",
        metavar="VAR",
        help="environment variable holding a DriftMonitor as JSON, as for analyze "
        "(the operator's shard pods)",
    )
    parser.add_argument("--timestamp-column", metavar="COL", help="column that places rows in time")
    parser.add_argument(
        "--window",
        metavar="DURATION",
        help="profile only rows in this window before --window-end, e.g. 24h "
        "(as analyze's current window)",
    )
    parser.add_argument(
        "--window-end",
        metavar="ISO8601",
        help="end of the window (required with one): give every shard the same one",
    )
    parser.add_argument(
        "--summary-file",
        metavar="PATH",
        help="also write what was profiled (files, bytes, rows) as JSON here, or the error "
        "(a pod's termination log)",
    )
    parser.add_argument(
        "--reference-profiles",
        metavar="URI",
        nargs="+",
        help="profiles of the reference this data will be compared with (merged): numerical "
        "columns also count histograms on its bin edges, so the report from the shards is "
        "exactly a single pass's instead of estimating histograms from samples",
    )
    ref = parser.add_argument_group(
        "the reference (docs/sharding.md): what a sharded run's scan pods do with it"
    )
    ref.add_argument(
        "--profile-cache",
        metavar="DIR_OR_URI",
        help="the analysis's --profile-cache: when it holds the reference's profile, numerical "
        "columns count histograms on its bin edges (as with --reference-profiles)",
    )
    ref.add_argument(
        "--reference-output",
        metavar="URI",
        help="when the cache holds no reference profile: profile this shard of the reference "
        "here ({shard} becomes the index), for analyze --reference-shards to merge and cache",
    )
    ref.add_argument(
        "--reference",
        metavar="URI",
        help="the reference data (default: spec.reference of --config, promoted as analyze "
        "promotes it); with --profile-cache or --reference-output",
    )
    ref.add_argument(
        "--reference-format", metavar="FMT", help="parquet, arrow, csv or jsonl (as analyze's)"
    )
    parser.add_argument("--include", metavar="COLS", help="comma-separated features to profile")
    parser.add_argument("--exclude", metavar="COLS", help="comma-separated columns to leave out")
    parser.add_argument(
        "--categorical", metavar="COLS", help="comma-separated columns to treat as categorical"
    )
    add_storage_arguments(parser)


def _spec(args: argparse.Namespace, manifest: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(manifest)
    # Both sides the input: the spec parser and the planner then see one dataset.
    side: dict[str, Any] = {"path": args.input}
    if args.format:
        side["format"] = args.format
    current = spec.get("current")
    current = current if isinstance(current, dict) else {}
    if current.get("timestampColumn"):
        # Never a feature in the analysis: left out of the profile alike.
        side["timestampColumn"] = current["timestampColumn"]
    if current.get("partitioning"):
        side["partitioning"] = current["partitioning"]
    # The window is the current side's only: the reference stand-in stays whole.
    spec["reference"], spec["current"] = dict(side), dict(side)
    if current.get("window"):
        spec["current"]["window"] = current["window"]
    return _with_flags(spec, args)


def _with_flags(
    spec: dict[str, Any], args: argparse.Namespace, *given: tuple[str, Any]
) -> dict[str, Any]:
    """``spec`` with the flags over it (``given`` first), less what a profile never reads."""
    for path, value in (
        *given,
        ("current.timestampColumn", args.timestamp_column),
        ("current.window", args.window),
        *feature_and_storage_flags(args),
    ):
        _set(spec, path, value)
    for key in ("schedule", "interval", "suspend", "retraining", "job", "model", "output"):
        spec.pop(key, None)
    return spec


def _shard(args: argparse.Namespace) -> tuple[int, int]:
    """(index, count) from --shard, or from --shards N and $JOB_COMPLETION_INDEX."""
    if args.shards is None:
        return parse_shard(args.shard)
    index = os.environ.get(COMPLETION_INDEX_ENV)
    if index is None:
        raise ConfigError(
            f"--shards {args.shards}: ${COMPLETION_INDEX_ENV} is not set",
            hint="run it in an Indexed Job's pod, or give --shard I/N",
        )
    return parse_shard(f"{index}/{args.shards}", f"--shards with ${COMPLETION_INDEX_ENV}")


def _window(args: argparse.Namespace, config: Any) -> tuple[datetime, datetime] | None:
    """``[start, end)`` of the rows to profile, None without a window."""
    if config.current.window is None:
        if args.window_end is not None:
            raise ConfigError(
                "--window-end: no window to close",
                hint="give --window (or spec.current.window in --config) with it",
            )
        return None
    if config.current.timestamp_column is None:
        raise ConfigError(
            "--window: a window needs the column that places rows in time",
            hint="give --timestamp-column (or spec.current.timestampColumn in --config)",
        )
    end = _window_end(args.window_end, config) if args.window_end else None
    if end is None:
        # Every shard must close the same window: "now" differs between pods.
        raise ConfigError(
            "--window: give --window-end too, the same for every shard",
            hint="e.g. --window-end 2026-12-05T00:00:00Z",
        )
    return window_bounds(end, config.current.window)


def _analysis_config(
    args: argparse.Namespace, manifest: dict[str, Any], promoted: str | None
) -> RunConfig:
    """The config of the analysis these shards are for, with the reference it reads (the
    spec's, promoted as ``analyze`` promotes it, or ``--reference``) and the input as its
    current side: the reference's cache key is computed from it as ``analyze`` does."""
    spec = copy.deepcopy(manifest)
    reference = spec.get("reference")
    if (
        args.reference is None
        and promoted is not None
        and isinstance(reference, dict)
        and reference.get("mode") in (None, "fixed")
    ):
        reference["path"] = promoted  # the reference moved after retraining
    current = spec.get("current")
    current = dict(current) if isinstance(current, dict) else {}
    current["path"] = args.input
    if args.format:
        current["format"] = args.format
    spec["current"] = current
    spec = _with_flags(
        spec,
        args,
        ("reference.path", args.reference),
        ("reference.format", args.reference_format),
    )
    if "reference" not in spec:
        raise ConfigError(
            "--profile-cache / --reference-output: no reference to look up",
            hint="give --reference, or --config with spec.reference",
        )
    return parse_run_config(spec)


@dataclass
class _Reference:
    """What a shard does with the reference: its edges (cache hit), or its shard to write."""

    edges: dict[str, Any] | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def _reference(
    args: argparse.Namespace,
    config: RunConfig,
    current: OpenedDataset,
    current_plan: FeaturePlan,
    options: ProfileOptions,
    shard: tuple[int, int],
    bounds: tuple[datetime, datetime] | None,
) -> _Reference:
    """Look the reference's profile up in the analysis's cache: found, its bin edges for
    the current shard's histograms; not found, profile the reference's shard ``shard``
    to ``--reference-output`` (the merge then builds the cache entry from the shards)."""
    if config.reference.offset is not None:
        raise ConfigError(
            "--profile-cache / --reference-output: a rolling or offset reference is read "
            "through its window cache by the analysis, not by the shards",
            hint="leave both out for this monitor",
        )
    if config.reference.window is not None and bounds is None:
        raise ConfigError(
            "--profile-cache / --reference-output: the reference has a window, the shards none",
            hint="give the current side a window and --window-end, or leave both flags out",
        )
    storage = storage_options(config)
    end = bounds[1] if bounds is not None else datetime.now(UTC)
    reference = open_source(config.reference, storage, end, "reference data")
    settings = config.settings
    # The plan and the key the analysis computes (analysis/run.py, analyze).
    plan = plan_features(
        reference.schema,
        current.schema,
        settings.features,
        not_features=not_features_of(reference, config.reference)
        | not_features_of(current, config.current),
    )
    key = reference_cache_key(reference, plan, options, settings.profile.bins)
    if args.profile_cache:
        uri = reference_cache_uri(args.profile_cache, key)
        findings: list[dict[str, Any]] = []
        cached = read_cached_reference(uri, plan, storage, findings)
        for item in findings:
            log.warning(item["message"], extra={"code": item["code"]})
        if cached is not None:
            numerical = {c.name for c in current_plan.columns if c.kind == "numerical"}
            # The compared numerical columns: the current's others are never compared.
            edges = {
                name: value
                for name, value in edges_for(cached, settings.profile.bins).items()
                if name in numerical
            }
            return _Reference(edges, {"reference": "cached"})
    if not args.reference_output:
        return _Reference(None, {"reference": "missing"})
    index, count = shard
    profiled, files = profile_shard(
        reference, plan.columns, plan.categorical, options, shard, COLUMN_GROUP
    )
    profiled.metadata[REFERENCE_KEY_METADATA] = key
    profiled.metadata[REFERENCE_SHARD_METADATA] = [index, count]
    output = args.reference_output.replace(SHARD_PLACEHOLDER, str(index))
    write_bytes(output, dump_parts(profiled), storage, label="reference shard profile")
    return _Reference(
        None,
        {
            "reference": "shard",
            "referenceFiles": len(files),
            "referenceBytes": sum(info.size for info in files),
            "referenceOutput": redact(output),
        },
    )


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """Write the shard's profile; returns what the log line says about it."""
    index, count = _shard(args)
    manifest, _monitor, promoted = _load_manifest(args)
    uses_reference = bool(args.profile_cache or args.reference_output)
    if args.reference_profiles and (uses_reference or args.reference):
        raise ConfigError(
            "give either --reference-profiles or the reference's cache "
            "(--profile-cache, --reference-output), not both"
        )
    if (args.reference or args.reference_format) and not uses_reference:
        raise ConfigError(
            "--reference: give --profile-cache and/or --reference-output with it",
            hint="or --reference-profiles with the reference's profile",
        )
    config = parse_run_config(_spec(args, manifest))
    storage = storage_options(config)
    source = config.current
    bounds = _window(args, config)
    # Without a window the end is never read: any time does.
    dataset = open_source(source, storage, bounds[1] if bounds else datetime.now(UTC), "--input")
    if not dataset.files:
        raise ConfigError(f"--input {redact(args.input)}: no data files found")
    not_features = set(dataset.partition_columns)
    if source.timestamp_column:
        not_features.add(source.timestamp_column)
    plan = plan_features(
        dataset.schema, dataset.schema, config.settings.features, not_features=not_features
    )
    settings = config.settings.profile
    options = ProfileOptions(
        sample_size=settings.sample_size, max_categories=settings.max_categories, seed=settings.seed
    )
    edges = None
    reference_facts: dict[str, Any] = {}
    if args.reference_profiles:
        flag = "--reference-profiles"
        reference = load_profiles(args.reference_profiles, storage, flag)
        edges = histogram_edges(reference.profile, plan.columns, settings.bins, flag)
    elif uses_reference:
        analysis = _analysis_config(args, manifest, promoted)
        found = _reference(args, analysis, dataset, plan, options, (index, count), bounds)
        edges, reference_facts = found.edges, found.facts
    result, files = profile_shard(
        dataset, plan.columns, plan.categorical, options, (index, count), COLUMN_GROUP, edges
    )
    if bounds is not None:
        result.metadata[WINDOW_METADATA] = window_document(source, bounds[1])
    # The data's own types and partition keys: analyze plans from them as from the data,
    # so the report has the same findings (no float64/string stand-ins).
    result.metadata[SCHEMA_METADATA] = schema_text(dataset.schema)
    result.metadata[PARTITIONS_METADATA] = sorted(dataset.partition_columns)
    output = args.output.replace(SHARD_PLACEHOLDER, str(index))
    write_bytes(output, dump_parts(result), storage, label="profile")
    return {
        "shard": f"{index}/{count}",
        "files": len(files),
        "bytes": sum(info.size for info in files),
        "rows": result.rows,
        "columns": len(result.columns),
        "output": redact(output),
        **reference_facts,
    }


def run(args: argparse.Namespace) -> int:
    """Entry point of ``driftwarden profile``; returns the exit code."""
    try:
        facts = profile(args)
    except DriftwardenError as error:
        log.error(str(error), extra={"reason": error.reason})
        _write_summary_file(args.summary_file, build_error_summary(error.reason, str(error)))
        print(f"driftwarden: error: {error}", file=sys.stderr)
        return _EXIT_BY_REASON.get(error.reason, EXIT_INTERNAL)
    log.info("profile written", extra=facts)
    if args.summary_file:
        _write_facts(args.summary_file, facts)
    return 0


def _write_facts(path: str, facts: dict[str, Any]) -> None:
    """The shard's facts as one JSON line: the operator reads ``bytes`` for parallelism auto."""
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(json.dumps(facts, sort_keys=True, separators=(",", ":")))
    except OSError as error:
        log.warning("cannot write the summary file", extra={"path": path, "error": str(error)})
