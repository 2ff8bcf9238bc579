"""``driftwarden history``: a monitor's stored runs drawn as trends (history.html, history.json)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime

from driftwarden.cli.argtypes import runs_count
from driftwarden.errors import DriftwardenError
from driftwarden.history.output import JSON_NAME, trends_of, write_trends
from driftwarden.history.store import DEFAULT_RUNS, read_history
from driftwarden.storage import StorageOptions, join_uri, redact

log = logging.getLogger("driftwarden.cli")

EXIT_OK, EXIT_CONFIG, EXIT_DATA, EXIT_STORAGE, EXIT_INTERNAL = 0, 2, 3, 4, 5
_EXIT_BY_REASON = {
    "InvalidSpec": EXIT_CONFIG,
    "DataNotFound": EXIT_DATA,
    "UnreadableData": EXIT_DATA,
    "StorageUnavailable": EXIT_STORAGE,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``history``."""
    parser.add_argument(
        "--runs",
        required=True,
        metavar="URI",
        help="a monitor's history prefix: <output.path>/<monitor>/history (path, file://, s3://, gs://)",
    )
    parser.add_argument(
        "--output",
        default=".",
        metavar="DIR_OR_URI",
        help="where history.html and history.json go (default: the current directory)",
    )
    parser.add_argument(
        "--last",
        type=runs_count,
        default=DEFAULT_RUNS,
        metavar="N",
        help=f"draw the last N runs (default: {DEFAULT_RUNS})",
    )
    store = parser.add_argument_group(
        "object storage (credentials come from AWS_* / GOOGLE_* env vars)"
    )
    store.add_argument("--endpoint", metavar="URL", help="S3-compatible endpoint")
    store.add_argument("--region", metavar="REGION")
    store.add_argument("--anonymous", action="store_true", help="read without credentials")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``driftwarden history``; returns the exit code."""
    options = StorageOptions(endpoint=args.endpoint, region=args.region, anonymous=args.anonymous)
    try:
        history = read_history(args.runs, options, args.last)
        for skipped in history.skipped:
            print(
                f"driftwarden: warning: skipped {skipped.name}: {skipped.problem}", file=sys.stderr
            )
        model = trends_of(history, args.output, datetime.now(UTC))
        page = write_trends(model, args.output, options)
    except DriftwardenError as error:
        log.error(str(error), extra={"reason": error.reason})
        print(f"driftwarden: error: {error}", file=sys.stderr)
        return _EXIT_BY_REASON.get(error.reason, EXIT_INTERNAL)
    print(
        f"history: {model['shownRuns']} of {model['storedRuns']} runs "
        f"({model['driftedRuns']} drifted, {model['failedRuns']} failed, "
        f"{len(history.skipped)} skipped), {len(model['features'])} features: "
        f"{redact(page)} (and {redact(join_uri(args.output, JSON_NAME))})"
    )
    return EXIT_OK
