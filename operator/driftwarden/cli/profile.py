"""``driftwarden profile``: a mergeable profile of one shard of a dataset's files.

Run it N times with ``--shard 0/N`` … ``--shard N-1/N`` (a shell loop, the pods of an
Indexed Job, a Spark or Ray map), then ``driftwarden analyze --current-profiles`` (or
``--reference-profiles``) merges them: the same bytes as one pass over all files
(docs/sharding.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from driftwarden.analysis.plan import plan_features
from driftwarden.analysis.run import COLUMN_GROUP, storage_options
from driftwarden.analysis.settings import parse_run_config
from driftwarden.analysis.shards import (
    assign,
    histogram_edges,
    load_profiles,
    parse_shard,
    profile_files,
)
from driftwarden.cli.analyze import (
    _EXIT_BY_REASON,
    EXIT_INTERNAL,
    _load_manifest,
    _set,
    _split,
    add_storage_arguments,
)
from driftwarden.errors import ConfigError, DriftwardenError
from driftwarden.profile import ProfileOptions, dump_parts
from driftwarden.storage import DatasetSource, open_dataset, redact, write_bytes

log = logging.getLogger("driftwarden.cli")


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
        "--output", metavar="URI", required=True, help="where the profile file is written"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a DriftMonitor manifest (or its spec): its spec.profile and spec.features apply; "
        "give the analysis the same one",
    )
    parser.add_argument(
        "--reference-profiles",
        metavar="URI",
        nargs="+",
        help="profiles of the reference this data will be compared with (merged): numerical "
        "columns also count histograms on its bin edges, so the report from the shards is "
        "exactly a single pass's instead of estimating histograms from samples",
    )
    parser.add_argument("--include", metavar="COLS", help="comma-separated features to profile")
    parser.add_argument("--exclude", metavar="COLS", help="comma-separated columns to leave out")
    parser.add_argument(
        "--categorical", metavar="COLS", help="comma-separated columns to treat as categorical"
    )
    add_storage_arguments(parser)


def _spec(args: argparse.Namespace) -> dict[str, Any]:
    args.config_env = None  # _load_manifest's other source; not offered here
    spec, _monitor, _promoted = _load_manifest(args)
    # Both sides the input: the spec parser and the planner then see one dataset.
    side: dict[str, Any] = {"path": args.input}
    if args.format:
        side["format"] = args.format
    current = spec.get("current")
    if isinstance(current, dict) and current.get("timestampColumn"):
        # Never a feature in the analysis: left out of the profile alike.
        side["timestampColumn"] = current["timestampColumn"]
    spec["reference"], spec["current"] = dict(side), dict(side)
    for path, value in (
        ("features.include", _split(args.include)),
        ("features.exclude", _split(args.exclude)),
        ("features.categorical", _split(args.categorical)),
        ("storage.endpoint", args.endpoint),
        ("storage.region", args.region),
        ("storage.anonymous", True if args.anonymous else None),
    ):
        _set(spec, path, value)
    for key in ("schedule", "interval", "suspend", "retraining", "job", "model", "output"):
        spec.pop(key, None)
    return spec


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """Write the shard's profile; returns what the log line says about it."""
    index, count = parse_shard(args.shard)
    config = parse_run_config(_spec(args))
    storage = storage_options(config)
    source = config.current
    dataset = open_dataset(
        DatasetSource(uri=source.path, format=source.format, partitioning=source.partitioning),
        storage,
    )
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
    if args.reference_profiles:
        flag = "--reference-profiles"
        reference = load_profiles(args.reference_profiles, storage, flag)
        edges = histogram_edges(reference.profile, plan.columns, settings.bins, flag)
    files = assign(dataset.files, count)[index]
    result = profile_files(
        dataset, plan.columns, plan.categorical, options, files, COLUMN_GROUP, edges
    )
    write_bytes(args.output, dump_parts(result), storage, label="profile")
    return {
        "shard": f"{index}/{count}",
        "files": len(files),
        "bytes": sum(info.size for info in files),
        "rows": result.rows,
        "columns": len(result.columns),
        "histograms": len(edges or ()),
        "output": redact(args.output),
    }


def run(args: argparse.Namespace) -> int:
    """Entry point of ``driftwarden profile``; returns the exit code."""
    try:
        facts = profile(args)
    except DriftwardenError as error:
        log.error(str(error), extra={"reason": error.reason})
        print(f"driftwarden: error: {error}", file=sys.stderr)
        return _EXIT_BY_REASON.get(error.reason, EXIT_INTERNAL)
    log.info("profile written", extra=facts)
    return 0
