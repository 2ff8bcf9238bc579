"""The ``driftwarden`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import driftwarden
from driftwarden.cli import analyze, demo, operator_commands
from driftwarden.cli.logs import setup_logging


def _common() -> argparse.ArgumentParser:
    """Flags every subcommand takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-format",
        choices=("auto", "json", "text"),
        default="auto",
        help="json on a pipe, text on a terminal (default: auto)",
    )
    common.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="driftwarden", description="Watch ML feature logs for data drift, the Kubernetes way."
    )
    parser.add_argument(
        "--version", action="version", version=f"driftwarden {driftwarden.__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    analyze_parser = commands.add_parser(
        "analyze", parents=[_common()], help="compare current data with a reference, write reports"
    )
    analyze.add_arguments(analyze_parser)
    analyze_parser.set_defaults(handler=analyze.run)

    demo_parser = commands.add_parser(
        "demo", parents=[_common()], help="generate demo feature logs and analyse them (no cluster)"
    )
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(handler=demo.run)
    operator_commands.register(commands, _common())
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    return int(args.handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
