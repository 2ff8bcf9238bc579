"""Write a monitor's trend (history.json and history.html) next to a run's report or anywhere."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from driftwarden.history.page import render_history_html
from driftwarden.history.store import History
from driftwarden.history.trends import build_trends
from driftwarden.storage import StorageOptions, join_uri, redact, write_bytes

PAGE_NAME = "history.html"
JSON_NAME = "history.json"


def trends_of(
    history: History,
    page_dir: str | None,
    now: datetime,
    monitor: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The trend model of runs read by :func:`~driftwarden.history.store.read_history`."""
    return build_trends(
        history.records,
        history_uri=history.uri,
        stored=history.stored,
        skipped=[{"name": s.name, "problem": s.problem} for s in history.skipped],
        page_dir=redact(page_dir) if page_dir else None,
        generated_at=now,
        monitor=monitor,
    )


def write_trends(model: Mapping[str, Any], directory: str, options: StorageOptions) -> str:
    """Write history.json and history.html under ``directory``; returns the page's URI."""
    write_bytes(
        join_uri(directory, JSON_NAME),
        json.dumps(model, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(),
        options,
        label="history JSON",
    )
    page = join_uri(directory, PAGE_NAME)
    write_bytes(page, render_history_html(model).encode(), options, label="history page")
    return page
