"""The ``driftwarden`` command.

A subcommand's module is imported only when that subcommand runs (or when the
whole parser is built): ``analyze`` and ``demo`` load the engine (pyarrow,
numpy, scipy), which ``run``, ``validate`` and ``render`` must not pay for — the
operator's idle memory is mostly what it imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import driftwarden
from driftwarden.cli import operator_commands
from driftwarden.cli.logs import setup_logging

# Engine subcommands: name -> (module with add_arguments and run, help line).
_ENGINE_COMMANDS = {
    "analyze": (
        "driftwarden.cli.analyze",
        "compare current data with a reference, write reports",
    ),
    "demo": (
        "driftwarden.cli.demo",
        "generate demo feature logs and analyse them (no cluster)",
    ),
}


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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; the flags of an engine subcommand only when ``command`` is it or None.

    Every subcommand is listed in ``--help`` either way, so only the one that
    runs imports its module.
    """
    parser = argparse.ArgumentParser(
        prog="driftwarden", description="Watch ML feature logs for data drift, the Kubernetes way."
    )
    parser.add_argument(
        "--version", action="version", version=f"driftwarden {driftwarden.__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in _ENGINE_COMMANDS.items():
        sub = commands.add_parser(name, parents=[_common()], help=help_text)
        if command is None or command == name:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(handler=module.run)
    operator_commands.register(commands, _common())
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    return int(args.handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
