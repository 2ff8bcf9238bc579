"""Operator-side commands: ``run`` (the operator), ``validate`` and ``render`` (offline checks)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftwarden.documents import decode, load_yaml_documents
from driftwarden.errors import ConfigError

if TYPE_CHECKING:
    from driftwarden.controller.config import OperatorConfig


def _documents(path: str) -> list[dict[str, Any]]:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from error
    documents = load_yaml_documents(decode(data, path), path)
    monitors = [d for d in documents if isinstance(d, dict) and d.get("kind") == "DriftMonitor"]
    if not monitors:
        raise ConfigError(f"{path} holds no DriftMonitor (kind: DriftMonitor)")
    return monitors


def _label(monitor: dict[str, Any]) -> str:
    metadata = monitor.get("metadata") or {}
    return f"{metadata.get('namespace') or 'default'}/{metadata.get('name') or '?'}"


def validate(args: argparse.Namespace) -> int:
    """Check manifests offline with the operator's own parser; print every problem."""
    from driftwarden.monitor import validate_manifest

    failed = 0
    for path in args.files:
        try:
            monitors = _documents(path)
        except ConfigError as error:
            print(f"{path}: {error}", file=sys.stderr)
            failed += 1
            continue
        for monitor in monitors:
            problems = validate_manifest(monitor)
            if problems:
                failed += 1
                for problem in problems:
                    print(f"{path}: {_label(monitor)}: {problem}", file=sys.stderr)
            else:
                print(f"{path}: {_label(monitor)}: valid")
    return 2 if failed else 0


def _slot(text: str) -> datetime:
    """``--slot`` as an aware UTC time."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--slot {text!r} is not an ISO 8601 time", hint="e.g. 2026-11-23T10:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def render(args: argparse.Namespace) -> int:
    """Print the analysis Job the operator would create for the next due slot (YAML)."""
    import yaml  # here: only render writes YAML

    from driftwarden.monitor import analysis_job, parse_monitor
    from driftwarden.monitor.schedule import slot_at_or_before

    now = datetime.now(UTC)
    try:
        if args.slot:
            now = _slot(args.slot)
        manifests = []
        for monitor_doc in _documents(args.file):
            monitor_doc = {
                **monitor_doc,
                "metadata": {
                    "namespace": "default",
                    "uid": "<uid>",
                    **(monitor_doc.get("metadata") or {}),
                },
            }
            monitor = parse_monitor(monitor_doc)
            manifests.append(
                analysis_job(monitor, slot_at_or_before(monitor.schedule, now), args.image)
            )
    except ConfigError as error:
        print(f"driftwarden: error: {error}", file=sys.stderr)
        return 2
    yaml.safe_dump_all(manifests, sys.stdout, sort_keys=False)
    return 0


def _split(items: list[str]) -> tuple[str, ...]:
    """Repeated and comma-separated flag values, in order, without blanks."""
    return tuple(part.strip() for item in items for part in item.split(",") if part.strip())


def operator_config(args: argparse.Namespace) -> OperatorConfig:
    """The operator's settings from ``driftwarden run``'s flags (and environment variables)."""
    from driftwarden.controller.config import OperatorConfig

    return OperatorConfig(
        image=args.image,
        namespaces=tuple(n for item in args.namespace for n in item.split(",") if n),
        tick_seconds=args.tick,
        max_concurrent_jobs=args.max_concurrent_jobs,
        metrics_port=args.metrics_port,
        health_port=args.health_port,
        allowed_images=_split(
            [os.environ.get("DRIFTWARDEN_ALLOWED_IMAGES", ""), *args.allowed_images]
        ),
        allowed_priority_classes=_split(
            [
                os.environ.get("DRIFTWARDEN_ALLOWED_PRIORITY_CLASSES", ""),
                *args.allowed_priority_classes,
            ]
        ),
    )


def run(args: argparse.Namespace) -> int:
    """Start the operator."""
    from driftwarden.controller.runner import run_operator

    run_operator(operator_config(args), peering=args.peering, priority=args.priority)
    return 0


def add_run_arguments(run_parser: argparse.ArgumentParser) -> None:
    """The flags of ``driftwarden run``."""
    run_parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="watch only these namespaces (repeat or comma-separate; default: all)",
    )
    run_parser.add_argument(
        "--image",
        default=os.environ.get("DRIFTWARDEN_IMAGE", "ghcr.io/driftwarden/driftwarden:0.1.0"),
        help="image of the analysis Jobs (default: $DRIFTWARDEN_IMAGE)",
    )
    run_parser.add_argument(
        "--metrics-port", type=int, default=int(os.environ.get("DRIFTWARDEN_METRICS_PORT", 9090))
    )
    run_parser.add_argument(
        "--health-port", type=int, default=int(os.environ.get("DRIFTWARDEN_HEALTH_PORT", 8080))
    )
    run_parser.add_argument(
        "--tick",
        type=float,
        default=float(os.environ.get("DRIFTWARDEN_TICK_SECONDS", 15)),
        help="seconds between two looks at each monitor (default 15)",
    )
    run_parser.add_argument(
        "--max-concurrent-jobs",
        type=int,
        default=int(os.environ.get("DRIFTWARDEN_MAX_CONCURRENT_JOBS", 10)),
        help="analysis pods running at once over all monitors: a Job is one, a sharded run's "
        "scan Job its shards (default 10)",
    )
    run_parser.add_argument(
        "--allowed-images",
        action="append",
        default=[],
        metavar="PATTERN",
        help="images monitors' Jobs may use besides --image: glob patterns, repeat or "
        "comma-separate, e.g. 'registry.example.com/ml/*'; added to $DRIFTWARDEN_ALLOWED_IMAGES "
        "(default: none)",
    )
    run_parser.add_argument(
        "--allowed-priority-classes",
        action="append",
        default=[],
        metavar="NAME",
        help="priority classes monitors' Jobs may use; system- classes never; added to "
        "$DRIFTWARDEN_ALLOWED_PRIORITY_CLASSES (default: none)",
    )
    run_parser.add_argument(
        "--peering",
        metavar="NAME",
        default=os.environ.get("DRIFTWARDEN_PEERING") or None,
        help="kopf peering object for leader election between replicas (default: standalone)",
    )
    run_parser.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority; the highest active replica works (default: random, so exactly one does)",
    )


def add_validate_arguments(validate_parser: argparse.ArgumentParser) -> None:
    """The arguments of ``driftwarden validate``."""
    validate_parser.add_argument(
        "files", nargs="+", metavar="FILE", help="YAML files ('-' for stdin)"
    )


def add_render_arguments(render_parser: argparse.ArgumentParser) -> None:
    """The arguments of ``driftwarden render``."""
    render_parser.add_argument("file", metavar="FILE")
    render_parser.add_argument(
        "--image",
        default=os.environ.get("DRIFTWARDEN_IMAGE", "ghcr.io/driftwarden/driftwarden:0.1.0"),
    )
    render_parser.add_argument(
        "--slot", metavar="ISO8601", help="render for this time (default: now)"
    )
