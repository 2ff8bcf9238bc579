"""The ``driftwarden`` command.

A subcommand's module is imported only when that subcommand runs (or when the
whole parser is built): ``analyze`` and ``demo`` load the engine (pyarrow,
numpy), which ``run``, ``validate`` and ``render`` must not pay for — the
operator's idle memory is mostly what it imports — and an analysis Job must not
pay for the operator's commands either: it starts once per run, and at 10^5 rows
start-up is most of its time (bench/RESULTS.md, addendum 3).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import driftwarden
from driftwarden.cli.logs import setup_logging
from driftwarden.cli.simd import avoid_slow_sorts

_OPERATOR = "driftwarden.cli.operator_commands"
# Subcommands, in --help order: name -> (module, its function that adds the flags,
# its handler, help line).
_COMMANDS = {
    "analyze": (
        "driftwarden.cli.analyze",
        "add_arguments",
        "run",
        "compare current data with a reference, write reports",
    ),
    "profile": (
        "driftwarden.cli.profile",
        "add_arguments",
        "run",
        "write a mergeable profile of one shard of a dataset's files",
    ),
    "demo": (
        "driftwarden.cli.demo",
        "add_arguments",
        "run",
        "generate demo feature logs and analyse them (no cluster)",
    ),
    "history": (
        "driftwarden.cli.history",
        "add_arguments",
        "run",
        "draw a monitor's stored runs as trends (HTML page and JSON)",
    ),
    "run": (
        _OPERATOR,
        "add_run_arguments",
        "run",
        "run the operator (in the cluster or against a kubeconfig)",
    ),
    "validate": (
        _OPERATOR,
        "add_validate_arguments",
        "validate",
        "check DriftMonitor manifests offline",
    ),
    "render": (
        _OPERATOR,
        "add_render_arguments",
        "render",
        "print the analysis Job a monitor would start",
    ),
}


# Set for the engine commands before numpy is first imported (a value already in the
# environment wins): numpy's OpenBLAS starts a thread per CPU at import and they spin,
# ~0.1 s of CPU an analysis at 2 CPUs (bench/RESULTS.md, addendum 3), taken from
# Arrow's decoding threads and sized from the node's CPUs, not the pod's limit. The
# engine's hot paths never call BLAS (einsum, not np.dot: bench/PROFILE.md); the small
# matrix products of the exact KS distribution give the same bits on one thread.
_ENGINE_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1"}
_ENGINE_COMMANDS = ("analyze", "profile", "demo")
# Commands whose process ends as soon as its outputs are flushed (see ``console``).
_QUICK_EXIT_COMMANDS = ("analyze",)
# The cyclic garbage collector's young-generation threshold in those processes (CPython's
# default is 700 net new containers): see ``collect_rarely``.
YOUNG_COLLECTION_THRESHOLD = 100_000


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
    """The argument parser; the flags of a subcommand only when ``command`` is it or None.

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
    for name, (module_name, add_arguments, handler, help_text) in _COMMANDS.items():
        sub = commands.add_parser(name, parents=[_common()], help=help_text)
        if command is None or command == name:
            module = importlib.import_module(module_name)
            getattr(module, add_arguments)(sub)
            sub.set_defaults(handler=getattr(module, handler))
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    if command in _ENGINE_COMMANDS:
        for name, value in _ENGINE_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        # Before numpy loads: its AVX-512 sorts are microcoded-slow on AMD Zen 4.
        avoid_slow_sorts(os.environ)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    return int(args.handler(args) or 0)


def console() -> NoReturn:
    """Entry point of the ``driftwarden`` executable: ``main``, then the process exit.

    An analysis ends its process without the interpreter's finalization: once the
    reports, the summary and the logs are written and flushed there is nothing left to
    save, and unloading the ~300 modules of Arrow, numpy and driftwarden took ~30 ms
    (a tenth of a 10^5-row run: bench/RESULTS.md, addendum 5). ``main`` itself returns
    normally, so tests and embedders call it as before; the garbage collector is tuned
    for the analysis process here too (``collect_rarely``), not in ``main``.
    """
    quick = _command(sys.argv[1:]) in _QUICK_EXIT_COMMANDS
    if quick:
        collect_rarely()
    code = main()
    if quick:
        quick_exit(code)
    sys.exit(code)


def collect_rarely() -> None:
    """Run the cyclic garbage collector every :data:`YOUNG_COLLECTION_THRESHOLD` net new
    containers instead of every 700.

    Each young collection walks the containers made since the last one, and each time
    the surviving ones grow by a quarter a full collection walks all of them: a run at
    10^5 rows x 1,000 features (its profiles, the report's ~10^5 dicts and lists and
    their JSON copy) made ~150 of them, ~31 ms of the main thread holding the GIL the
    feature threads wait for; a full one (~15 ms) fell while the reports were written.
    Now ~16, ~2.4 ms (bench/RESULTS.md, addendum 18t). An analysis makes no reference
    cycles of any size (after such a run the collector finds ~900 small objects,
    argparse's; tests/cli/test_gc_threshold.py keeps it so): refcounting frees all the
    rest as before, and the collector still runs, so a cycle would be reclaimed, not kept.
    """
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def quick_exit(code: int) -> NoReturn:
    """Flush logging and the standard streams, then end the process at once."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe: nothing more can reach it anyway.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
