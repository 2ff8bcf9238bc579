"""The drift report: the versioned JSON document, the compact summary, the HTML view.

Standard library only, so the operator can read reports and summaries without
the data stack.
"""

from driftwarden.report.document import (
    SCHEMA_VERSION,
    ReportError,
    drift_ratio,
    dump_report,
    load_report,
    prepare_report,
    sort_features,
    to_jsonable,
    validate_report,
)
from driftwarden.report.html import render_html
from driftwarden.report.summary import (
    SUMMARY_VERSION,
    TERMINATION_MESSAGE_BYTES,
    build_error_summary,
    build_summary,
    dump_summary,
    parse_summary,
)

__all__ = [
    "SCHEMA_VERSION",
    "SUMMARY_VERSION",
    "TERMINATION_MESSAGE_BYTES",
    "ReportError",
    "build_error_summary",
    "build_summary",
    "drift_ratio",
    "dump_report",
    "dump_summary",
    "load_report",
    "parse_summary",
    "prepare_report",
    "render_html",
    "sort_features",
    "to_jsonable",
    "validate_report",
]
