"""What an analysis run does for its monitor's history: store its record, redraw the trend.

Called by ``driftwarden analyze --history``. Neither step may fail the run: a
storage error while keeping history comes back as a warning finding (the report
shows it, the run's verdict stands), and the run goes on without a trend page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from driftwarden.errors import DriftwardenError
from driftwarden.history.output import trends_of, write_trends
from driftwarden.history.store import read_history, write_record
from driftwarden.report.text import finding
from driftwarden.storage import StorageOptions, redact

log = logging.getLogger("driftwarden.history")

HISTORY_NOT_KEPT = "HistoryNotKept"
HISTORY_PAGE_NOT_WRITTEN = "HistoryPageNotWritten"
HISTORY_RECORD_SKIPPED = "HistoryRecordSkipped"


def keep_run(
    record: Mapping[str, Any],
    prefix: str,
    page_dir: str | None,
    options: StorageOptions,
    *,
    runs: int,
    now: datetime,
    monitor: Mapping[str, Any] | None = None,
) -> tuple[str | None, list[dict[str, Any]]]:
    """Store ``record`` under ``prefix`` and draw the last ``runs`` runs into ``page_dir``.

    Returns the page's URI (None when none was written) and the warning findings
    for the report: the record or page could not be written, or stored records
    were skipped as unreadable. Never raises for a storage or record problem.
    """
    findings: list[dict[str, Any]] = []
    try:
        write_record(prefix, record, options)
    except DriftwardenError as error:
        # The page is still drawn from the runs stored before: it shows the trend so far.
        findings.append(
            finding(
                "warning",
                HISTORY_NOT_KEPT,
                None,
                f"this run's history record was not stored under {redact(prefix)}: {error}",
            )
        )
    if page_dir is None:
        return None, findings
    try:
        history = read_history(prefix, options, runs)
        model = trends_of(history, page_dir, now, monitor)
        page = write_trends(model, page_dir, options)
    except DriftwardenError as error:
        findings.append(
            finding(
                "warning",
                HISTORY_PAGE_NOT_WRITTEN,
                None,
                f"the history page (history.html) was not written: {error}",
            )
        )
        return None, findings
    except Exception as error:  # a bug in drawing must not cost the run its report
        log.exception("history page failed")
        findings.append(
            finding(
                "warning",
                HISTORY_PAGE_NOT_WRITTEN,
                None,
                f"the history page (history.html) was not written: {type(error).__name__}: {error}",
            )
        )
        return None, findings
    for skipped in history.skipped:
        findings.append(
            finding(
                "warning",
                HISTORY_RECORD_SKIPPED,
                None,
                f"history record {skipped.name} was skipped: {skipped.problem}",
            )
        )
    return redact(page), findings
