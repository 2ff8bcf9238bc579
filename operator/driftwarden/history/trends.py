"""The trend of a monitor over its stored runs: the model behind history.json and history.html.

Pure: records in (oldest first, as :func:`~driftwarden.history.store.read_history`
returns them), one JSON-ready dict out. Per run: time, outcome, drift share,
report links, retraining started there. Per feature (most drifted first): its
score, p-value, threshold and drifted flag in every run, aligned with ``runs``
(null where the run did not compare it or failed). Ranked by the number of runs in
which the feature drifted, then by how far past its threshold it is in the latest
run, then by its worst run, then by name, so the features to look at come first.
A monitor's prediction and target columns (spec.model, ``predictions`` in the records)
are rows too, named with their role (``churn_score (prediction)``) and ranked before
the features; each run says whether it found them drifted (``predictionDrifted``).
"""

from __future__ import annotations

import math
import os
import posixpath
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from driftwarden.history.record import (
    FAILED,
    Record,
    format_time,
    parse_time,
    record_features,
    retraining_marks,
)
from driftwarden.report.document import P_VALUE_METHODS
from driftwarden.storage.uri import is_local, split_scheme

TRENDS_VERSION = 1


def link(target: str | None, page_dir: str | None) -> str | None:
    """``target`` (a URI or local path) as a link from a page stored in ``page_dir``.

    Relative when both are in the same place (one bucket, or the local disk), so the
    links keep working wherever the output location is served or copied from;
    otherwise a local path becomes a ``file://`` URL and other URIs stay as they are.
    """
    if not target:
        return None
    if page_dir is not None and _root(target) == _root(page_dir):
        if is_local(target):
            return Path(os.path.relpath(_local(target), _local(page_dir))).as_posix()
        return posixpath.relpath(_path(target), _path(page_dir))
    if is_local(target):
        return Path(os.path.abspath(_local(target))).as_uri()
    return target


def _local(uri: str) -> str:
    scheme, rest = split_scheme(uri)
    return rest if scheme is None else rest.removeprefix("//")


def _root(uri: str) -> tuple[str | None, str]:
    """Where a URI lives: ("local", "") or (scheme, bucket)."""
    if is_local(uri):
        return ("local", "")
    scheme, rest = split_scheme(uri)
    return (scheme, rest.lstrip("/").split("/", 1)[0])


def _path(uri: str) -> str:
    _, rest = split_scheme(uri)
    return "/" + rest.lstrip("/")


def ratio(method: str, score: Any, p_value: Any, threshold: Any) -> float | None:
    """How far past its threshold a feature is (above 1: beyond it), as the report ranks it."""
    if not _finite(threshold):
        return None
    if method in P_VALUE_METHODS:
        if not _finite(p_value):
            return None
        return math.inf if p_value <= 0 else float(threshold) / float(p_value)
    if not _finite(score):
        return None
    if threshold == 0:
        return math.inf if score > 0 else 0.0
    return float(score) / float(threshold)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _json_number(value: float | None) -> float | None:
    """Infinite ratios are written as a large finite number: JSON has no infinity."""
    if value is None:
        return None
    return 1e300 if math.isinf(value) else float(f"{value:.6g}")


def _run_entry(index: int, record: Record, page_dir: str | None) -> dict[str, Any]:
    entry = {
        "index": index,
        "run": record["run"],
        "slot": record.get("slot"),
        "time": record["time"],
        "outcome": record["outcome"],
        "reason": record.get("reason"),
        "message": record.get("message"),
        "drifted": record.get("drifted"),
        "driftShare": record.get("driftShare"),
        "driftThreshold": record.get("driftThreshold"),
        "driftedFeatures": record.get("driftedFeatures"),
        "totalFeatures": record.get("totalFeatures"),
        "rows": record.get("rows"),
        "report": record.get("report"),
        "reportHtml": record.get("reportHtml"),
        "reportLink": link(record.get("report"), page_dir),
        "reportHtmlLink": link(record.get("reportHtml"), page_dir),
        "retrainingStarted": [],
        # spec.model: whether the run found prediction or target drift (None: none compared)
        "predictionDrifted": (record.get("predictions") or {}).get("drifted"),
        # spec.model: the model's performance on delayed labels (None: not measured)
        "performance": record.get("performance"),
        # spec.model: what explains a run's move ("top cause: income (62%)"), or None
        "rootCause": record.get("rootCause") if isinstance(record.get("rootCause"), str) else None,
    }
    return entry


def model_columns(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A record's prediction and target columns (spec.model), shaped like its features."""
    section = record.get("predictions")
    columns = section.get("columns") if isinstance(section, Mapping) else None
    return [dict(c) for c in columns or []]


def _row_name(column: Mapping[str, Any]) -> str:
    """A trend row's name: a feature's own, a model column's with its role (``score
    (prediction)``), so the two never share a row."""
    role = column.get("role")
    return f"{column['name']} ({role})" if role else str(column["name"])


def _run_time(record: Mapping[str, Any]) -> datetime | None:
    return parse_time(str(record.get("slot") or record.get("time") or ""))


def _place_retraining(
    records: Sequence[Record], runs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each retraining Job the records name, placed at the run that triggered it (or
    the first run after it started); ``atRun`` is null when it is older than every run."""
    by_run = {record["run"]: i for i, record in enumerate(records)}
    marks = []
    for mark in retraining_marks(records):
        at = by_run.get(mark.get("run", ""))
        if at is None and mark.get("time"):
            started = parse_time(mark["time"])
            times = [_run_time(r) for r in records]
            at = next((i for i, t in enumerate(times) if started and t and t >= started), None)
        if at is not None:
            runs[at]["retrainingStarted"].append(mark["job"])
        marks.append({**mark, "atRun": at})
    return marks


def build_trends(
    records: Sequence[Record],
    *,
    history_uri: str,
    stored: int | None = None,
    skipped: Sequence[Mapping[str, str]] = (),
    page_dir: str | None = None,
    generated_at: datetime | None = None,
    monitor: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The trend model of ``records`` (parsed, oldest first); see the module docstring.

    ``page_dir`` is where the page and JSON will be stored (links are made relative
    to it); ``stored`` counts all records under ``history_uri`` (the page says how
    many it shows); ``skipped`` lists records that could not be read.
    """
    runs = [_run_entry(i, r, page_dir) for i, r in enumerate(records)]
    retraining = _place_retraining(records, runs)
    n = len(records)
    table: dict[str, dict[str, Any]] = {}
    for i, record in enumerate(records):
        if record["outcome"] == FAILED:
            continue
        for feature in record_features(record) + model_columns(record):
            key = f"{feature.get('role') or 'feature'}\x00{feature['name']}"
            row = table.get(key)
            if row is None:
                row = table[key] = {
                    "name": _row_name(feature),
                    "score": [None] * n,
                    "pValue": [None] * n,
                    "threshold": [None] * n,
                    "ratio": [None] * n,
                    "drifted": [None] * n,
                }
            if feature.get("role"):
                row["role"] = feature["role"]
            row["kind"], row["method"] = feature["kind"], feature["method"]
            row["score"][i] = feature["score"]
            row["pValue"][i] = feature["pValue"]
            row["threshold"][i] = feature["threshold"]
            row["ratio"][i] = _json_number(
                ratio(feature["method"], feature["score"], feature["pValue"], feature["threshold"])
            )
            row["drifted"][i] = feature["drifted"]
    features = []
    for row in table.values():
        compared = [i for i in range(n) if row["drifted"][i] is not None]
        latest = compared[-1]
        ratios = [r for r in row["ratio"] if r is not None]
        row.update(
            latestThreshold=row["threshold"][latest],
            latestRun=latest,
            latestRatio=row["ratio"][latest],
            maxRatio=max(ratios) if ratios else None,
            driftedRuns=sum(1 for i in compared if row["drifted"][i]),
            comparedRuns=len(compared),
        )
        if row["method"] not in P_VALUE_METHODS:
            del row["pValue"]
        features.append(row)
    features.sort(
        key=lambda f: (
            "role" not in f,  # the model's columns first: what its owners are paged for
            -f["driftedRuns"],
            -(f["latestRatio"] if f["latestRatio"] is not None else -1.0),
            -(f["maxRatio"] if f["maxRatio"] is not None else -1.0),
            f["name"],
        )
    )
    succeeded = [r for r in runs if r["outcome"] != FAILED]
    return {
        "v": TRENDS_VERSION,
        "generatedAt": format_time(generated_at) if generated_at else None,
        "monitor": dict(monitor) if monitor else None,
        "history": history_uri,
        "storedRuns": stored if stored is not None else n,
        "shownRuns": n,
        "failedRuns": n - len(succeeded),
        "driftedRuns": sum(1 for r in succeeded if r["drifted"]),
        "runs": runs,
        "retraining": retraining,
        "features": features,
        "skipped": [dict(s) for s in skipped],
    }
