"""The compact run summary, written as the analysis container's termination message.

Kubernetes keeps at most 4096 bytes of a termination message (and truncates
silently), so :func:`build_summary` guarantees that :func:`dump_summary` of its
result fits in ``max_bytes`` of UTF-8, whatever the report holds: long strings
are shortened with "…", and features are dropped from the least drifted end
and counted in ``truncated``. The operator reads the message back with
:func:`parse_summary` to fill the DriftMonitor status.

A run that fails writes :func:`build_error_summary` instead, so the operator can
show the reason and message in a status condition.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, TypeGuard

from driftwarden.report.document import (
    ReportError,
    parse_json_object,
    prepare_report,
    ranked_features,
)
from driftwarden.report.multivariate_summary import (
    check_summary_multivariate,
    summary_multivariate,
)
from driftwarden.report.performance_summary import check_performance, summary_performance
from driftwarden.report.rootcause_summary import check_root_cause, summary_root_cause

SUMMARY_VERSION = 1
TERMINATION_MESSAGE_BYTES = 4096
# Below this not even the counts are sure to fit.
MIN_SUMMARY_BYTES = 512

# Soft caps, in UTF-8 bytes of the JSON string literal, for one string each.
NAME_BYTES = 96
METHOD_BYTES = 32
URI_BYTES = 1024
MESSAGE_BYTES = 160
# The reference's URI gives way to features sooner than the report's: the operator
# knows the full path (the spec's, or the promoted one) and matches it by both ends.
REFERENCE_URI_BYTES = 128
CODE_BYTES = 48
MAX_ERRORS = 3
ELLIPSIS = "…"

Summary = dict[str, Any]


# ---------------------------------------------------------------- serialising


def dump_summary(summary: Mapping[str, Any]) -> str:
    """The summary as compact JSON (non-ASCII kept as UTF-8): exactly what is written."""
    return json.dumps(summary, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _size(value: Any) -> int:
    return len(dump_summary(value).encode("utf-8"))


def _clean(text: str) -> str:
    """Drop lone surrogates, which cannot be written as UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


def shorten(text: str, max_bytes: int, *, keep_end: bool = False) -> str:
    """``text`` cut with "…" so that its JSON string literal takes at most ``max_bytes``.

    ``keep_end`` cuts in the middle, keeping the start and the end (for URIs and
    names, whose ends tell them apart); otherwise the end is cut. Returns "" if
    not even "…" fits.
    """
    text = _clean(text)
    if _size(text) <= max_bytes:
        return text
    if _size(ELLIPSIS) > max_bytes:
        return ""

    def cut(n: int) -> str:
        if keep_end:
            head = (n + 1) // 2
            tail = n - head
            return text[:head] + ELLIPSIS + (text[len(text) - tail :] if tail else "")
        return text[:n] + ELLIPSIS

    lo, hi = 0, len(text) - 1  # the largest n with a fitting cut(n); cut(0) fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _size(cut(mid)) <= max_bytes:
            lo = mid
        else:
            hi = mid - 1
    return cut(lo)


def round_number(value: Any) -> float | int | None:
    """A number with 6 significant digits, enough for status and alerts."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return value
    if not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


# ---------------------------------------------------------------- building


def summary_feature(feature: Mapping[str, Any]) -> dict[str, Any]:
    """The summary entry for one report feature."""
    entry = {
        "name": shorten(str(feature["name"]), NAME_BYTES, keep_end=True),
        "kind": shorten(str(feature["kind"]), METHOD_BYTES),
        "method": shorten(str(feature["method"]), METHOD_BYTES),
        "score": round_number(feature.get("score")),
        "threshold": round_number(feature.get("threshold")),
        "drifted": bool(feature.get("drifted")),
    }
    # p-value methods are judged by their p-value, not their score (the test statistic):
    # the operator needs it to rank features the way the report does.
    p_value = round_number(feature.get("pValue"))
    if p_value is not None:
        entry["pValue"] = p_value
    return entry


# spec.model's prediction and target columns get at most this much of the summary,
# taken before the features: the operator's status, metrics and retraining read them.
PREDICTIONS_BYTES = 1024


def summary_predictions(section: Any, max_bytes: int = PREDICTIONS_BYTES) -> dict[str, Any] | None:
    """The report's ``predictions`` section, compact: ``{drifted, predictionDrifted,
    targetDrifted, retrain, columns, truncated}``, at most ``max_bytes`` once dumped.

    Columns come most drifted first (report order), as many as fit; ``truncated``
    counts the rest. None when the report has no such section.
    """
    if not isinstance(section, Mapping):
        return None
    target = section.get("targetDrifted")
    out: dict[str, Any] = {
        "drifted": bool(section.get("drifted")),
        "predictionDrifted": bool(section.get("predictionDrifted")),
        "targetDrifted": target if isinstance(target, bool) else None,
        "retrain": bool(section.get("retrainOnDrift")),
        "columns": [],
        "truncated": 0,
    }
    columns = [c for c in section.get("columns") or [] if isinstance(c, Mapping)]
    out["truncated"] = len(columns)
    used = _size(out)
    for column in columns:
        entry = {
            **summary_feature(column),
            "role": "target" if column.get("role") == "target" else "prediction",
        }
        entry["name"] = shorten(str(column.get("name")), 64, keep_end=True)
        cost = _size(entry) + (1 if out["columns"] else 0)
        if used + cost > max_bytes:
            break
        out["columns"].append(entry)
        used += cost
    out["truncated"] = len(columns) - len(out["columns"])
    return out


def _errors(doc: Mapping[str, Any], limit: int, message_bytes: int) -> list[dict[str, Any]]:
    errors = []
    for finding in doc.get("findings") or []:
        if finding.get("severity") != "error":
            continue
        feature = finding.get("feature")
        errors.append(
            {
                "code": shorten(str(finding.get("code", "")), CODE_BYTES),
                "feature": None
                if feature is None
                else shorten(str(feature), NAME_BYTES, keep_end=True),
                "message": shorten(str(finding.get("message", "")), message_bytes),
            }
        )
        if len(errors) >= limit:
            break
    return errors


def summary_reference(source: Any, uri_bytes: int) -> dict[str, Any] | None:
    """Which reference the run used: ``{source, uri, fingerprint, window: {start, end}}``.

    The operator records it in ``status.reference`` and ``status.lastRun.reference``;
    None when the report names no reference.
    """
    if not isinstance(source, Mapping):
        return None
    window = source.get("window")
    entry: dict[str, Any] = {
        "source": shorten(str(source.get("source") or "spec"), CODE_BYTES),
        "uri": shorten(str(source.get("uri") or ""), uri_bytes, keep_end=True) or None,
        "fingerprint": shorten(str(source.get("fingerprint") or ""), 80) or None,
        "window": {
            "start": shorten(str(window.get("start") or ""), 40) or None,
            "end": shorten(str(window.get("end") or ""), 40) or None,
        }
        if isinstance(window, Mapping)
        else None,
    }
    return entry


def _rows(doc: Mapping[str, Any], side: str) -> int | None:
    source = doc.get(side)
    rows = source.get("rows") if isinstance(source, Mapping) else None
    return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


def build_summary(
    doc: Mapping[str, Any],
    report_uri: str | None,
    max_bytes: int = TERMINATION_MESSAGE_BYTES,
    *,
    history_uri: str | None = None,
) -> Summary:
    """The compact summary of a validated report, sure to fit in ``max_bytes`` once dumped.

    Features come most drifted first (:func:`~driftwarden.report.document.sort_features`);
    as many as fit are kept, the rest are counted in ``truncated``. ``errors``
    holds the first error findings, shortened. ``history`` (only when ``history_uri``
    is given) is the run's trend page, history.html. Raises :class:`ReportError` if
    the report is invalid and ValueError if ``max_bytes`` < :data:`MIN_SUMMARY_BYTES`.
    """
    if max_bytes < MIN_SUMMARY_BYTES:
        raise ValueError(f"max_bytes must be at least {MIN_SUMMARY_BYTES}, got {max_bytes}")
    doc = prepare_report(doc)  # once per report when the caller prepared it already
    dataset = doc["dataset"]
    features = ranked_features(doc)[0]  # shared with the HTML view's; not to be changed
    duration = doc.get("durationSeconds")

    summary: Summary = {
        "v": SUMMARY_VERSION,
        "drifted": dataset["drifted"],
        "driftShare": round_number(dataset["driftShare"]),
        "driftedFeatures": dataset["driftedFeatures"],
        "totalFeatures": dataset["totalFeatures"],
        "rows": {"reference": _rows(doc, "reference"), "current": _rows(doc, "current")},
        "report": None if report_uri is None else shorten(report_uri, URI_BYTES, keep_end=True),
        "features": [],
        "truncated": len(features),
        "errors": _errors(doc, MAX_ERRORS, MESSAGE_BYTES),
        "durationSeconds": round_number(duration),
    }
    reference = summary_reference(doc.get("reference"), REFERENCE_URI_BYTES)
    if reference is not None:
        summary["reference"] = reference
    if history_uri is not None:
        summary["history"] = shorten(history_uri, URI_BYTES, keep_end=True)
    predictions = summary_predictions(
        doc.get("predictions"), min(PREDICTIONS_BYTES, max_bytes // 4)
    )
    if predictions is not None:
        summary["predictions"] = predictions
    root_cause = summary_root_cause(doc.get("rootCause"))
    if root_cause is not None:
        summary["rootCause"] = root_cause
    performance = summary_performance(doc.get("performance"))
    if performance is not None:
        summary["performance"] = performance
    joint = summary_multivariate(doc, round_number)  # fixed size: never given up below
    if joint is not None:
        summary["multivariate"] = joint
    # The fixed part must fit with room to spare; give up detail until it does.
    fallbacks = [
        lambda: _shorten_history(summary, 200),
        lambda: summary.update(errors=_errors(doc, 2, 80)),
        lambda: summary.update(errors=_errors(doc, 1, 40)),
        lambda: summary.update(report=shorten(report_uri or "", 200, keep_end=True) or None),
        lambda: (
            reference is not None
            and summary.update(reference=summary_reference(doc.get("reference"), 64))
        ),
        lambda: summary.update(errors=[]),
        lambda: (
            predictions is not None
            and summary.update(predictions=summary_predictions(doc.get("predictions"), 128))
        ),
        lambda: root_cause is not None and summary.update(rootCause={**root_cause, "causes": []}),
        lambda: (
            performance is not None
            and summary.update(performance={**performance, "degradedMetrics": [], "coverage": {}})
        ),
        lambda: summary.pop("history", None),
        lambda: summary.update(report=None),
        lambda: summary.pop("reference", None),
    ]
    while _size(summary) > max_bytes:
        if not fallbacks:  # pragma: no cover - MIN_SUMMARY_BYTES leaves room for the counts
            raise ValueError(f"the summary counts alone exceed {max_bytes} bytes")
        fallbacks.pop(0)()

    # Greedy prefix: with "truncated" at its largest, every kept feature only shrinks it.
    used = _size(summary)
    kept: list[dict[str, Any]] = []
    for feature in features:
        entry = summary_feature(feature)
        cost = _size(entry) + (1 if kept else 0)  # the comma between entries
        if used + cost > max_bytes:
            break
        kept.append(entry)
        used += cost
    summary["features"] = kept
    summary["truncated"] = len(features) - len(kept)
    while _size(summary) > max_bytes:  # pragma: no cover - cannot happen, kept as a guard
        summary["features"].pop()
        summary["truncated"] += 1
    return summary


def _shorten_history(summary: Summary, max_bytes: int) -> None:
    if "history" in summary:
        summary["history"] = shorten(summary["history"], max_bytes, keep_end=True)


def build_error_summary(
    reason: str,
    message: str,
    max_bytes: int = TERMINATION_MESSAGE_BYTES,
    *,
    history_uri: str | None = None,
) -> Summary:
    """The summary of a failed run: ``{"v": 1, "error": {"reason", "message"}}``.

    ``reason`` is a CamelCase machine-readable reason (``DriftwardenError.reason``),
    ``message`` the sentence for people; both are shortened to fit ``max_bytes``.
    ``history`` (only when ``history_uri`` is given) is the trend page that shows the
    failure among the monitor's runs; at most 512 bytes of it are kept.
    """
    if max_bytes < MIN_SUMMARY_BYTES:
        raise ValueError(f"max_bytes must be at least {MIN_SUMMARY_BYTES}, got {max_bytes}")
    reason = shorten(reason, CODE_BYTES) or "Error"
    summary: Summary = {"v": SUMMARY_VERSION}
    if history_uri is not None:
        # Room for the message first: the URI takes at most a quarter of the message.
        summary["history"] = shorten(history_uri, min(URI_BYTES, max_bytes // 4), keep_end=True)
    fixed = _size({**summary, "error": {"reason": reason, "message": ""}})
    summary["error"] = {"reason": reason, "message": shorten(message, max_bytes - fixed + 2)}
    return summary


# ---------------------------------------------------------------- reading


def _bad(path: str, expected: str, value: Any) -> ReportError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return ReportError(f"invalid drift summary: {path}: expected {expected}, got {shown}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_num(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_summary(text: str | bytes) -> Summary:
    """Parse and check a termination message written by :func:`dump_summary`.

    Returns the summary dict: either a run summary (``"drifted"`` etc.) or an
    error summary (``"error": {"reason", "message"}``). Unknown keys are kept
    (a newer analysis image may add some). Raises :class:`ReportError` (a
    ValueError) naming the first problem, or the version found if it is not
    :data:`SUMMARY_VERSION`.
    """
    summary = parse_json_object(text, "the drift summary (container termination message)")
    version = summary.get("v")
    if version != SUMMARY_VERSION:
        raise ReportError(
            f"the drift summary has version {version!r}; this driftwarden reads version "
            f"{SUMMARY_VERSION}",
            hint="run the analysis Job with the operator's image version",
        )
    if summary.get("history") is not None and not isinstance(summary.get("history"), str):
        raise _bad("history", "a string or null", summary.get("history"))
    if "error" in summary:
        error = summary["error"]
        if not isinstance(error, dict):
            raise _bad("error", "an object", error)
        for key in ("reason", "message"):
            if not isinstance(error.get(key), str):
                raise _bad(f"error.{key}", "a string", error.get(key))
        return summary

    if not isinstance(summary.get("drifted"), bool):
        raise _bad("drifted", "true or false", summary.get("drifted"))
    share = summary.get("driftShare")
    if not _is_num(share) or not 0 <= share <= 1:
        raise _bad("driftShare", "a number between 0 and 1", share)
    for key in ("driftedFeatures", "totalFeatures", "truncated"):
        if not _is_int(summary.get(key)):
            raise _bad(key, "a non-negative integer", summary.get(key))
    rows = summary.get("rows")
    if not isinstance(rows, dict):
        raise _bad("rows", "an object", rows)
    for key in ("reference", "current"):
        if rows.get(key) is not None and not _is_int(rows.get(key)):
            raise _bad(f"rows.{key}", "a non-negative integer or null", rows.get(key))
    if summary.get("report") is not None and not isinstance(summary.get("report"), str):
        raise _bad("report", "a string or null", summary.get("report"))
    duration = summary.get("durationSeconds")
    if duration is not None and not _is_num(duration):
        raise _bad("durationSeconds", "a number or null", duration)

    features = summary.get("features")
    if not isinstance(features, list):
        raise _bad("features", "an array", features)
    for i, feature in enumerate(features):
        _check_entry(feature, f"features[{i}]")
    if len(features) + summary["truncated"] != summary["totalFeatures"]:
        raise ReportError(
            f"invalid drift summary: {len(features)} features + truncated "
            f"{summary['truncated']} != totalFeatures {summary['totalFeatures']}"
        )

    reference = summary.get("reference")
    if reference is not None:
        if not isinstance(reference, dict):
            raise _bad("reference", "an object", reference)
        for key in ("source", "uri", "fingerprint"):
            if reference.get(key) is not None and not isinstance(reference.get(key), str):
                raise _bad(f"reference.{key}", "a string or null", reference.get(key))
        window = reference.get("window")
        if window is not None and not (
            isinstance(window, dict)
            and all(
                window.get(k) is None or isinstance(window.get(k), str) for k in ("start", "end")
            )
        ):
            raise _bad("reference.window", "{start, end} strings or null", window)

    _check_predictions(summary.get("predictions"))
    check_root_cause(summary.get("rootCause"), _bad)
    check_performance(summary.get("performance"), _bad)

    errors = summary.get("errors")
    if not isinstance(errors, list):
        raise _bad("errors", "an array", errors)
    for i, error in enumerate(errors):
        if not isinstance(error, dict):
            raise _bad(f"errors[{i}]", "an object", error)
        for key in ("code", "message"):
            if not isinstance(error.get(key), str):
                raise _bad(f"errors[{i}].{key}", "a string", error.get(key))
        if error.get("feature") is not None and not isinstance(error.get("feature"), str):
            raise _bad(f"errors[{i}].feature", "a string or null", error.get("feature"))
    check_summary_multivariate(summary)
    return summary


def _check_predictions(section: Any) -> None:
    """``predictions`` of a summary (optional): verdicts and well-formed columns."""
    if section is None:
        return
    if not isinstance(section, dict):
        raise _bad("predictions", "an object", section)
    for key in ("drifted", "predictionDrifted", "retrain"):
        if not isinstance(section.get(key), bool):
            raise _bad(f"predictions.{key}", "true or false", section.get(key))
    if section.get("targetDrifted") is not None and not isinstance(section["targetDrifted"], bool):
        raise _bad("predictions.targetDrifted", "true, false or null", section["targetDrifted"])
    if not _is_int(section.get("truncated")):
        raise _bad("predictions.truncated", "a non-negative integer", section.get("truncated"))
    columns = section.get("columns")
    if not isinstance(columns, list):
        raise _bad("predictions.columns", "an array", columns)
    for i, column in enumerate(columns):
        _check_entry(column, f"predictions.columns[{i}]")
        if column.get("role") not in ("prediction", "target"):
            raise _bad(f"predictions.columns[{i}].role", "prediction or target", column.get("role"))


def _check_entry(entry: Any, path: str) -> None:
    """A feature (or model column) entry of a summary: names, numbers and its verdict."""
    if not isinstance(entry, dict):
        raise _bad(path, "an object", entry)
    for key in ("name", "kind", "method"):
        if not isinstance(entry.get(key), str):
            raise _bad(f"{path}.{key}", "a string", entry.get(key))
    for key in ("score", "threshold", "pValue"):
        if entry.get(key) is not None and not _is_num(entry.get(key)):
            raise _bad(f"{path}.{key}", "a number or null", entry.get(key))
    if not isinstance(entry.get("drifted"), bool):
        raise _bad(f"{path}.drifted", "true or false", entry.get("drifted"))
