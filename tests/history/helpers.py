"""History records built by hand from small report documents, for the history tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from driftwarden.history.record import Record, build_failure_record, build_record
from driftwarden.report.document import sort_features
from tests.report.helpers import feature, report

START = datetime(2026, 11, 1, tzinfo=UTC)


def slot(i: int) -> datetime:
    """The schedule slot of run ``i`` (hourly)."""
    return START + timedelta(hours=i)


def run_name(i: int) -> str:
    return f"churn-{slot(i):%Y%m%d%H%M}-{i:08x}"


def run_record(
    i: int,
    scores: dict[str, float],
    *,
    methods: dict[str, str] | None = None,
    base: str = "/out/churn",
    retraining: dict[str, Any] | None = None,
) -> Record:
    """Run ``i``'s record with one feature per ``scores`` entry (threshold 0.1)."""
    features = sort_features(
        feature(name, score, method=(methods or {}).get(name, "wasserstein"))
        for name, score in scores.items()
    )
    return build_record(
        report(features),
        run=run_name(i),
        slot=slot(i),
        time=slot(i) + timedelta(seconds=40),
        report_uri=f"{base}/{run_name(i)}/report.json",
        report_html_uri=f"{base}/{run_name(i)}/report.html",
        retraining=retraining,
    )


def failed_record(i: int, retraining: dict[str, Any] | None = None) -> Record:
    return build_failure_record(
        "DataNotFound",
        "current data not found: s3://logs/live/ (nothing at this path)",
        run=run_name(i),
        slot=slot(i),
        time=slot(i) + timedelta(seconds=5),
        retraining=retraining,
    )
