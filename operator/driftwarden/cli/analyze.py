"""``driftwarden analyze``: one run from flags and/or a DriftMonitor manifest."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftwarden import native
from driftwarden.analysis import workers
from driftwarden.analysis.reference import SOURCE_PROMOTED
from driftwarden.analysis.run import analyze, storage_options
from driftwarden.analysis.settings import RunConfig, parse_run_config
from driftwarden.analysis.shards import MAX_SHARDS, SHARD_PLACEHOLDER

# Not from cli.history: its modules load only for a run given --history.
from driftwarden.cli.argtypes import runs_count
from driftwarden.durations import format_duration
from driftwarden.errors import ConfigError, DriftwardenError
from driftwarden.report import (
    build_error_summary,
    build_summary,
    dump_report,
    dump_summary,
    prepare_report,
    render_html,
)
from driftwarden.report.multivariate_summary import multivariate_lines
from driftwarden.report.performance_summary import performance_lines
from driftwarden.report.rootcause_summary import root_cause_lines
from driftwarden.report.text import printable
from driftwarden.storage import join_uri, redact, write_bytes

log = logging.getLogger("driftwarden.cli")

EXIT_OK, EXIT_DRIFT, EXIT_CONFIG, EXIT_DATA, EXIT_STORAGE, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5
_EXIT_BY_REASON = {
    "InvalidSpec": EXIT_CONFIG,
    "StorageUnavailable": EXIT_STORAGE,
    "DataNotFound": EXIT_DATA,
    "UnreadableData": EXIT_DATA,
    "SchemaMismatch": EXIT_DATA,
    "InvalidProfile": EXIT_DATA,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``analyze``; each one overrides the matching field of ``--config``."""
    source = parser.add_argument_group("data")
    source.add_argument(
        "--reference",
        metavar="URI",
        help="reference data: path, directory, glob, file://, s3://, gs://",
    )
    source.add_argument(
        "--current", metavar="URI", help="current data to compare with the reference"
    )
    source.add_argument(
        "--reference-profiles",
        metavar="URI",
        nargs="+",
        help="profiles written by driftwarden profile, merged, in place of reference data "
        "(docs/sharding.md)",
    )
    source.add_argument(
        "--current-profiles",
        metavar="URI",
        nargs="+",
        help="profiles written by driftwarden profile, merged, in place of current data; "
        "one URI with {shard} and --shards N stands for indexes 0 … N-1",
    )
    source.add_argument(
        "--reference-shards",
        metavar="URI",
        nargs="+",
        help="profiles of the reference's shards (driftwarden profile --reference-output): on a "
        "profile-cache miss, merged and cached in place of reading the reference when all are "
        "there and of this reference; else ignored. One URI with {shard} stands for indexes "
        "0 … N-1, N from --shards, else the number of --current-profiles (docs/sharding.md)",
    )
    source.add_argument(
        "--shards",
        metavar="N",
        type=int,
        help="the number of shards a {shard} pattern in --current-profiles, "
        "--reference-profiles or --reference-shards stands for (indexes 0 … N-1): one short "
        "argument in place of N URIs",
    )
    source.add_argument(
        "--reference-format",
        metavar="FMT",
        help="parquet, arrow, csv or jsonl (default: from the file extension, else parquet)",
    )
    source.add_argument(
        "--current-format",
        metavar="FMT",
        help="parquet, arrow, csv or jsonl (default: from the file extension, else parquet)",
    )
    source.add_argument(
        "--timestamp-column", metavar="COL", help="column that places current rows in time"
    )
    source.add_argument(
        "--window", metavar="DURATION", help="current window before --window-end, e.g. 24h"
    )
    source.add_argument(
        "--window-end", metavar="ISO8601", help="end of the current window (default: now)"
    )
    config = parser.add_argument_group("configuration")
    config.add_argument(
        "--config", metavar="FILE", help="a DriftMonitor manifest (or just its spec) in YAML"
    )
    config.add_argument(
        "--config-env",
        metavar="VAR",
        help="environment variable holding a DriftMonitor as JSON "
        "(split over VAR, VAR_1, ... when VAR_CHUNKS is set)",
    )
    config.add_argument("--numerical-method", metavar="M")
    config.add_argument("--numerical-threshold", type=_finite_float, metavar="X")
    config.add_argument("--categorical-method", metavar="M")
    config.add_argument("--categorical-threshold", type=_finite_float, metavar="X")
    config.add_argument("--correction", metavar="C", help="bonferroni, benjamini-hochberg or none")
    config.add_argument(
        "--drift-share",
        type=_finite_float,
        metavar="X",
        help="share of drifted features that makes the dataset drift",
    )
    config.add_argument(
        "--include", metavar="COLS", help="comma-separated features to compare (default: all)"
    )
    config.add_argument("--exclude", metavar="COLS", help="comma-separated columns to leave out")
    config.add_argument(
        "--categorical", metavar="COLS", help="comma-separated columns to treat as categorical"
    )
    add_storage_arguments(parser)
    out = parser.add_argument_group("output")
    out.add_argument(
        "--output", metavar="DIR_OR_URI", help="receives report.json, report.html, summary.json"
    )
    out.add_argument(
        "--profile-cache",
        metavar="DIR_OR_URI",
        help="where the reference profile and the current window's per-file profiles are cached "
        "(default: $DRIFTWARDEN_PROFILE_CACHE, else ~/.cache/driftwarden/profiles)",
    )
    out.add_argument(
        "--no-profile-cache",
        action="store_true",
        help="always rescan the reference and the whole window",
    )
    out.add_argument(
        "--summary-file",
        metavar="PATH",
        help="write the compact summary here (a termination message)",
    )
    out.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when the dataset drifted (for CI)"
    )
    out.add_argument("--quiet", action="store_true", help="print no result table")
    kept = parser.add_argument_group("history (docs/history.md)")
    kept.add_argument(
        "--history",
        metavar="DIR_OR_URI",
        help="keep this run's record under this prefix (<output.path>/<monitor>/history) and, "
        "with --output, draw history.html and history.json of the last runs next to the report",
    )
    kept.add_argument(
        "--history-runs",
        type=runs_count,
        default=50,
        metavar="N",
        help="runs drawn on the history page (default: 50)",
    )
    kept.add_argument(
        "--run-name",
        metavar="NAME",
        help="this run's name in the history (default: $DRIFTWARDEN_RUN, else the --output "
        "directory's name)",
    )


def add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    """``--endpoint``, ``--region``, ``--anonymous`` (spec.storage), as a group of ``parser``."""
    store = parser.add_argument_group(
        "object storage (credentials come from AWS_* / GOOGLE_* env vars)"
    )
    store.add_argument(
        "--endpoint", metavar="URL", help="S3-compatible endpoint, e.g. http://minio:9000"
    )
    store.add_argument("--region", metavar="REGION")
    store.add_argument("--anonymous", action="store_true", help="read without credentials")


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [item.strip() for item in value.split(",") if item.strip()]


def _load_manifest(
    args: argparse.Namespace,
) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """The spec from --config / --config-env (empty if neither), the monitor's name, and the
    promoted reference path its ``status.reference`` names (None when the spec's applies)."""
    # The readers are imported in their branch: an analysis from flags alone reads no
    # manifest, and start-up is most of a small run (bench/RESULTS.md, addendum 3).
    document: Any = {}
    if args.config and args.config_env:
        raise ConfigError("use either --config or --config-env, not both")
    if args.config:
        from driftwarden.documents import decode, load_yaml

        source = f"--config {args.config}"
        try:
            data = Path(args.config).read_bytes()
        except OSError as error:
            raise ConfigError(f"cannot read {source}: {error.strerror or error}") from error
        document = load_yaml(decode(data, source), source)
    elif args.config_env:
        from driftwarden.documents import load_json
        from driftwarden.envchunks import join_env

        # The operator spreads a long spec over <VAR>, <VAR>_1, ... (driftwarden.envchunks).
        raw = join_env(args.config_env, os.environ)
        if not raw:
            raise ConfigError(f"--config-env {args.config_env}: the variable is not set or empty")
        document = load_json(raw, f"--config-env {args.config_env}")
    if not isinstance(document, Mapping):
        raise ConfigError(
            f"the configuration must be a mapping (a DriftMonitor or its spec), got {type(document).__name__}"
        )
    if document.get("kind") == "DriftMonitor" or "spec" in document:
        metadata = document.get("metadata") or {}
        monitor = (
            {"name": metadata.get("name"), "namespace": metadata.get("namespace")}
            if metadata
            else None
        )
        spec = document.get("spec") or {}
        promoted = promoted_reference(document.get("status"))
    else:
        spec, monitor, promoted = document, None, None
    # A plain-JSON copy, as the operator passes it; YAML dates and the like are refused.
    return json.loads(json.dumps(spec, default=_not_json)), monitor, promoted


def promoted_reference(status: Any) -> str | None:
    """The path of a promoted reference in a monitor's ``status.reference``, else None.

    The operator passes it in the config it gives the analysis Job (after a retraining
    Job succeeded, see docs/monitor-reference.md); ``kubectl get dm -o yaml`` holds it
    too, so ``--config`` of that output runs against the same reference.
    """
    from driftwarden.analysis.settings import as_mapping, parse_path

    reference = as_mapping(as_mapping(status, "status").get("reference"), "status.reference")
    if reference.get("source") != SOURCE_PROMOTED:
        return None
    return parse_path(reference.get("path"), "status.reference.path")


def _not_json(value: Any) -> Any:
    raise ConfigError(
        f"the configuration holds {value!r} ({type(value).__name__}), which a spec cannot hold",
        hint="quote it to make it a string",
    )


def _finite_float(text: str) -> float:
    """argparse type of number flags: NaN and infinities are refused at the flag."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _set(spec: dict[str, Any], path: str, value: Any) -> None:
    if value is None:
        return
    *parents, leaf = path.split(".")
    node = spec
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"spec.{path}: spec.{key} must be a mapping")
    node[leaf] = value


def feature_and_storage_flags(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """``(spec path, value)`` of the flags ``analyze`` and ``profile`` share over the config:
    the feature selection and the storage settings (None: not given)."""
    return [
        ("features.include", _split(args.include)),
        ("features.exclude", _split(args.exclude)),
        ("features.categorical", _split(args.categorical)),
        ("storage.endpoint", args.endpoint),
        ("storage.region", args.region),
        ("storage.anonymous", True if args.anonymous else None),
    ]


def build_config(args: argparse.Namespace) -> tuple[RunConfig, dict[str, Any] | None]:
    """Flags over the manifest, validated by the same parser the operator uses."""
    expand_shard_patterns(args)
    spec, monitor, promoted = _load_manifest(args)
    reference = spec.get("reference")
    if (
        promoted is not None
        and args.reference is None
        and isinstance(reference, dict)
        and reference.get("mode") in (None, "fixed")
    ):
        reference["path"] = promoted  # the reference moved after retraining
    else:
        promoted = None
    for flag, data, profiles in (
        ("--reference", args.reference, args.reference_profiles),
        ("--current", args.current, args.current_profiles),
    ):
        if data is not None and profiles:
            raise ConfigError(f"give either {flag} or {flag}-profiles, not both")
    if args.reference_shards and args.reference_profiles:
        raise ConfigError(
            "give either --reference-profiles or --reference-shards, not both",
            hint="--reference-shards are used with reference data, on a profile-cache miss",
        )
    for path, value in (
        # Profiles in place of data: the side's path is what the report names.
        ("reference.path", args.reference or _first(args.reference_profiles)),
        ("current.path", args.current or _first(args.current_profiles)),
        ("reference.format", args.reference_format),
        ("current.format", args.current_format),
        ("current.timestampColumn", args.timestamp_column),
        ("current.window", args.window),
        ("detection.numerical.method", args.numerical_method),
        ("detection.numerical.threshold", args.numerical_threshold),
        ("detection.categorical.method", args.categorical_method),
        ("detection.categorical.threshold", args.categorical_threshold),
        ("detection.correction", args.correction),
        ("detection.driftShare", args.drift_share),
        *feature_and_storage_flags(args),
        ("output.path", args.output),
    ):
        _set(spec, path, value)
    # A method given without a threshold gets that method's default, not the old threshold.
    for kind in ("numerical", "categorical"):
        if getattr(args, f"{kind}_method") and getattr(args, f"{kind}_threshold") is None:
            spec.get("detection", {}).get(kind, {}).pop("threshold", None)
    if "reference" not in spec or "current" not in spec:
        raise ConfigError(
            "nothing to compare: give --reference and --current (or --config with spec.reference and spec.current)"
        )
    spec.pop("schedule", None)
    for key in ("interval", "suspend", "retraining", "job"):
        spec.pop(key, None)
    config = parse_run_config(spec)
    if promoted is not None:
        config = replace(config, reference_source=SOURCE_PROMOTED)
    return config, monitor


def _profiles(args: argparse.Namespace, config: RunConfig) -> dict[str, Any]:
    """``--reference-profiles`` / ``--current-profiles`` read and merged, as analyze's keywords."""
    if not (args.reference_profiles or args.current_profiles):
        return {}
    # Imported here: a run from data loads no shard code.
    from driftwarden.analysis.shards import load_profiles

    storage = storage_options(config)
    return {
        f"{side}_profiles": load_profiles(uris, storage, f"--{side}-profiles")
        for side, uris in (
            ("reference", args.reference_profiles),
            ("current", args.current_profiles),
        )
        if uris
    }


def _expanded(uris: list[str] | None, count: int | None, flag: str) -> list[str] | None:
    """``uris``, one URI holding ``{shard}`` expanded over the indexes 0 … count-1."""
    if not uris or not any(SHARD_PLACEHOLDER in uri for uri in uris):
        return uris
    if len(uris) != 1:
        raise ConfigError(
            f"{flag}: a URI with {SHARD_PLACEHOLDER} must come alone",
            hint="give one pattern with --shards N, or list the profiles one by one",
        )
    if count is None:
        raise ConfigError(
            f"{flag}: a URI with {SHARD_PLACEHOLDER} needs --shards N, the number of shards",
            hint="e.g. --shards 8 for the profiles of shards 0 … 7",
        )
    return [uris[0].replace(SHARD_PLACEHOLDER, str(index)) for index in range(count)]


def expand_shard_patterns(args: argparse.Namespace) -> None:
    """``--current-profiles`` / ``--reference-profiles`` given as one ``{shard}`` pattern and
    ``--shards N``, expanded in place to their N URIs: the operator's merge Job passes one
    short argument, not N URIs that at 1,000 shards take a large part of ``ARG_MAX`` and
    of the API server's object size. The report is that of the N URIs listed."""
    count = args.shards
    if count is not None and not 0 < count <= MAX_SHARDS:
        raise ConfigError(f"--shards {count}: give 1 … {MAX_SHARDS}")
    patterns = [
        uri
        for uris in (args.current_profiles, args.reference_profiles, args.reference_shards)
        for uri in uris or ()
        if SHARD_PLACEHOLDER in uri
    ]
    if count is not None and not patterns:
        raise ConfigError(
            f"--shards {count}: no URI with {SHARD_PLACEHOLDER} to expand",
            hint="give --current-profiles (or --reference-profiles) as one pattern with it",
        )
    args.current_profiles = _expanded(args.current_profiles, count, "--current-profiles")
    args.reference_profiles = _expanded(args.reference_profiles, count, "--reference-profiles")


def reference_shard_uris(args: argparse.Namespace) -> tuple[str, ...]:
    """``--reference-shards``, a ``{shard}`` pattern expanded over the current shards' indexes
    (``--shards N``, else the number of ``--current-profiles``): one short argument in the
    merge Job instead of one URI per shard."""
    uris = list(args.reference_shards or ())
    if not any(SHARD_PLACEHOLDER in uri for uri in uris):
        return tuple(uris)
    if len(uris) != 1 or not (args.current_profiles or args.shards):
        raise ConfigError(
            "--reference-shards: a URI with {shard} must come alone, with --current-profiles "
            "or --shards N (it stands for one profile per current shard)",
            hint="or list the reference shard profiles one by one",
        )
    count = args.shards if args.shards is not None else len(args.current_profiles)
    return tuple(uris[0].replace(SHARD_PLACEHOLDER, str(index)) for index in range(count))


def _window_end(text: str | None, config: RunConfig) -> datetime | None:
    """``--window-end`` as an aware time whose windows start after year 1."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ConfigError(
            f"--window-end {text!r} is not an ISO 8601 time", hint="e.g. 2026-11-23T10:00:00Z"
        ) from error
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        end = value.astimezone(UTC)
    except OverflowError:
        raise ConfigError(f"--window-end {text!r} is out of range in UTC") from None
    for side, window in (
        ("reference", config.reference.window),
        ("current", config.current.window),
    ):
        # A rolling or offset reference's window lies its offset further back.
        if window is not None and side == "reference" and config.reference.offset:
            window += config.reference.offset
        if window is not None and end - datetime.min.replace(tzinfo=UTC) < window:
            raise ConfigError(
                f"--window-end {text!r}: the {side} window of {format_duration(window)} "
                "before it would start before year 1",
                hint="give a later --window-end or a shorter window",
            )
    return value


def _profile_cache(args: argparse.Namespace) -> str | None:
    if args.no_profile_cache:
        return None
    if args.profile_cache:
        return args.profile_cache
    if os.environ.get("DRIFTWARDEN_PROFILE_CACHE"):
        return os.environ["DRIFTWARDEN_PROFILE_CACHE"]
    home = Path.home()
    return str(home / ".cache" / "driftwarden" / "profiles") if os.access(home, os.W_OK) else None


def write_outputs(
    report: dict[str, Any],
    config: RunConfig,
    output: str | None,
    history_page: str | None = None,
) -> tuple[str | None, dict[str, Any]]:
    """Write report.json, report.html and summary.json under ``output``; returns (report URI, summary).

    ``history_page`` (the run's history.html, already written) goes into the summary.
    """
    report_uri = join_uri(output, "report.json") if output else None
    # Converted and validated once here, not once by each of the three writers.
    report = prepare_report(report)
    summary = build_summary(
        report, redact(report_uri) if report_uri else None, history_uri=history_page
    )
    if output:
        options = storage_options(config)
        write_bytes(
            join_uri(output, "report.json"), dump_report(report).encode(), options, label="report"
        )
        write_bytes(
            join_uri(output, "report.html"),
            render_html(report).encode(),
            options,
            label="HTML report",
        )
        write_bytes(
            join_uri(output, "summary.json"),
            dump_summary(summary).encode(),
            options,
            label="summary",
        )
    return report_uri, summary


def format_table(report: Mapping[str, Any], limit: int = 15) -> str:
    """A plain-text table of the verdict and the most drifted features."""
    dataset = report["dataset"]
    verdict = "DRIFT DETECTED" if dataset["drifted"] else "no dataset drift"
    lines = [
        f"{verdict}: {dataset['driftedFeatures']}/{dataset['totalFeatures']} features drifted "
        f"(share {dataset['driftShare']:.2f}, threshold {dataset['threshold']:.2f}); "
        f"rows: reference {report['reference']['rows']:,}, current {report['current']['rows']:,}",
        f"  {'feature':<24} {'kind':<11} {'method':<13} {'score':>9} {'threshold':>9}  drifted",
    ]
    # spec.model's root cause first: what explains the move (report/rootcause_summary.py)
    lines[1:1] = root_cause_lines(report)
    for feature in report["features"][:limit]:
        score = "-" if feature["score"] is None else f"{feature['score']:.4g}"
        mark = (
            "YES" + (f" ({feature['reason']})" if feature.get("reason") else "")
            if feature["drifted"]
            else "no"
        )
        lines.append(
            f"  {printable(feature['name'])[:24]:<24} {feature['kind']:<11} {feature['method']:<13} "
            f"{score:>9} {feature['threshold']:>9.4g}  {mark}"
        )
    if len(report["features"]) > limit:
        lines.append(f"  … {len(report['features']) - limit} more features in the report")
    lines.extend(_prediction_lines(report.get("predictions")))
    lines.extend(performance_lines(report.get("performance")))
    lines.extend(multivariate_lines(report.get("multivariate")))
    for finding in report["findings"]:
        if finding["severity"] in ("error", "warning"):
            lines.append(f"  {finding['severity']}: {printable(finding['message'])}")
    return "\n".join(lines)


def _prediction_lines(section: Any) -> list[str]:
    """The table's lines on spec.model's prediction and target columns; none without them."""
    if not isinstance(section, Mapping):
        return []
    verdict = "PREDICTION DRIFT" if section.get("drifted") else "no prediction drift"
    lines = [
        f"{verdict}: {section.get('driftedColumns')}/{section.get('totalColumns')} "
        "prediction and target columns drifted"
    ]
    for column in section.get("columns") or []:
        score = "-" if column.get("score") is None else f"{column['score']:.4g}"
        # The role takes the kind's column (the method shows the kind), so names as long
        # as the features' fit: "churn_probability" must not be cut to "churn_probabi".
        name = printable(str(column["name"]))[:24]
        lines.append(
            f"  {name:<24} {column.get('role')!s:<11} {column['method']:<13} "
            f"{score:>9} {column['threshold']:>9.4g}  {'YES' if column['drifted'] else 'no'}"
        )
    for item in section.get("notCompared") or []:
        lines.append(f"  {printable(str(item.get('name')))} ({item.get('role')}): not compared")
    return lines


def _write_summary_file(path: str | None, summary: Mapping[str, Any]) -> None:
    if path:
        try:
            Path(path).write_text(dump_summary(summary))
        except OSError as error:
            log.warning("cannot write the summary file", extra={"path": path, "error": str(error)})


def _run_name(args: argparse.Namespace, output: str | None) -> str:
    if args.run_name:
        return str(args.run_name)
    if os.environ.get("DRIFTWARDEN_RUN"):
        return os.environ["DRIFTWARDEN_RUN"]
    if output:
        name = output.rstrip("/").rsplit("/", 1)[-1]
        if name:
            return name
    return "run"


def _last_retraining() -> Mapping[str, Any] | None:
    """The operator's ``status.lastRetraining`` from $DRIFTWARDEN_LAST_RETRAINING, if usable."""
    raw = os.environ.get("DRIFTWARDEN_LAST_RETRAINING")
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        log.warning("DRIFTWARDEN_LAST_RETRAINING is not JSON; retraining left unmarked")
        return None
    return value if isinstance(value, Mapping) else None


def _keep_history(
    args: argparse.Namespace,
    config: RunConfig | None,
    monitor: Mapping[str, Any] | None,
    *,
    report: dict[str, Any] | None = None,
    error: DriftwardenError | None = None,
) -> str | None:
    """Store this run's history record and draw history.html (with ``--history``).

    Returns the page's URI. Problems become warning findings of ``report`` (a
    failed run has none: they are logged), never a failed run.
    """
    if config is None or not args.history:
        return None
    # Imported here: a run without --history pays nothing for it.
    from driftwarden.history.keep import keep_run
    from driftwarden.history.record import build_failure_record, build_record

    now = datetime.now(UTC)
    slot = _window_end(args.window_end, config) if args.window_end else None
    common: dict[str, Any] = {
        "run": _run_name(args, config.output),
        "slot": slot,
        "time": now,
        "retraining": _last_retraining(),
    }
    if report is not None:
        output = config.output
        record = build_record(
            report,
            report_uri=redact(join_uri(output, "report.json")) if output else None,
            report_html_uri=redact(join_uri(output, "report.html")) if output else None,
            **common,
        )
    else:
        assert error is not None
        record = build_failure_record(error.reason, str(error), **common)
    page, findings = keep_run(
        record,
        args.history,
        config.output,
        storage_options(config),
        runs=args.history_runs,
        now=now,
        monitor=monitor,
    )
    for item in findings:
        log.warning(item["message"], extra={"code": item["code"]})
    if report is not None:
        report["findings"].extend(findings)
    return page


def _check_engine_environment() -> None:
    """Refuse a bad ``DRIFTWARDEN_NATIVE`` or ``DRIFTWARDEN_THREADS`` before any data is
    read (exit 2, not after a long scan), and say so when the compiled kernels are
    missing: the results are the same, the run slower (bench/RESULTS.md measures by how
    much)."""
    workers.thread_count()
    lacking = native.missing()
    if lacking:
        log.warning(
            "compiled kernels not built: running the numpy code, same results, slower; "
            "reinstall driftwarden where a C compiler is available, or set "
            "DRIFTWARDEN_NATIVE=0 to choose the numpy code",
            extra={"missing": [f"driftwarden.native.{name}" for name in lacking]},
        )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``driftwarden analyze``; returns the exit code."""
    progress = None
    if sys.stderr.isatty() and not args.quiet:
        from driftwarden.cli.progress import ProgressLine  # only on a terminal

        progress = ProgressLine()
    config: RunConfig | None = None
    monitor: dict[str, Any] | None = None
    try:
        config, monitor = build_config(args)
        log.info(
            "analysis started",
            extra={
                "reference": redact(config.reference.path),
                "current": redact(config.current.path),
            },
        )
        _check_engine_environment()
        report = analyze(
            config,
            window_end=_window_end(args.window_end, config),
            profile_cache=_profile_cache(args),
            progress=progress,
            monitor=monitor,
            reference_shards=reference_shard_uris(args),
            **_profiles(args, config),
        )
        if progress is not None:
            progress.close()
        history_page = _keep_history(args, config, monitor, report=report)
        report_uri, summary = write_outputs(report, config, config.output, history_page)
    except DriftwardenError as error:
        if progress is not None:
            progress.close()
        log.error(str(error), extra={"reason": error.reason})
        failed_page = _keep_history(args, config, monitor, error=error)
        _write_summary_file(
            args.summary_file,
            build_error_summary(error.reason, str(error), history_uri=failed_page),
        )
        print(f"driftwarden: error: {error}", file=sys.stderr)
        return _EXIT_BY_REASON.get(error.reason, EXIT_INTERNAL)
    except Exception as error:  # an unexpected failure still leaves a readable summary
        log.exception("analysis failed unexpectedly")
        _write_summary_file(
            args.summary_file,
            build_error_summary("InternalError", f"{type(error).__name__}: {error}"),
        )
        print(f"driftwarden: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_INTERNAL
    _write_summary_file(args.summary_file, summary)
    dataset = report["dataset"]
    log.info(
        "analysis finished",
        extra={
            "drifted": dataset["drifted"],
            "driftShare": dataset["driftShare"],
            "driftedFeatures": dataset["driftedFeatures"],
            "totalFeatures": dataset["totalFeatures"],
            "report": redact(report_uri) if report_uri else None,
            "durationSeconds": report["durationSeconds"],
        },
    )
    if not args.quiet:
        print(format_table(report))
        if config.output:
            print(
                f"reports: {redact(join_uri(config.output, 'report.html'))} (and report.json, summary.json)"
            )
    return EXIT_DRIFT if args.fail_on_drift and dataset["drifted"] else EXIT_OK
