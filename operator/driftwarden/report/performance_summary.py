"""Model performance in the run summary (termination message) and how the operator reads it.

The summary carries ``performance``: the verdict, the headline metric (the first that
degraded, else the first with a ``maxDrop``) in both periods, the degraded metrics
and the label coverage — at most PERFORMANCE_BYTES. The operator writes it to
``status.model.performance``, sets the PerformanceDegraded condition and adds
:func:`performance_text` to the run's status message. Standard library only (the
operator reads it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

PERFORMANCE_BYTES = 384
METRIC_NAME = 16  # the longest metric name is 8 characters
MAX_DEGRADED = 11


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _headline(section: Mapping[str, Any]) -> Mapping[str, Any] | None:
    rows = [r for r in section.get("comparison") or [] if isinstance(r, Mapping)]
    for test in (lambda r: r.get("degraded") is True, lambda r: r.get("maxDrop") is not None):
        for row in rows:
            if test(row):
                return row
    return rows[0] if rows else None


def summary_performance(section: Any) -> dict[str, Any] | None:
    """The report's ``performance``, compact; None without one."""
    from driftwarden.report.summary import round_number

    if not isinstance(section, Mapping):
        return None
    head = _headline(section) or {}
    raw = section.get("current")
    current: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    raw = current.get("coverage")
    coverage: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    return {
        "degraded": section.get("degraded") is True,
        "decided": section.get("decided") is True,
        "metric": str(head.get("metric"))[:METRIC_NAME] if head.get("metric") else None,
        "current": round_number(head.get("current")),
        "reference": round_number(head.get("reference")),
        "drop": round_number(head.get("drop")),
        "degradedMetrics": [
            str(m)[:METRIC_NAME] for m in (section.get("degradedMetrics") or [])[:MAX_DEGRADED]
        ],
        "coverage": {
            "predictions": _count(coverage.get("predictions")),
            "labeled": _count(coverage.get("labeled")),
            "pending": _count(coverage.get("pending")),
            "share": round_number(coverage.get("share")),
        },
    }


def check_performance(section: Any, bad: Any) -> None:
    """Check a summary's ``performance`` (optional); ``bad(path, expected, value)`` builds the error."""
    if section is None:
        return
    if not isinstance(section, dict):
        raise bad("performance", "an object", section)
    for key in ("degraded", "decided"):
        if not isinstance(section.get(key), bool):
            raise bad(f"performance.{key}", "true or false", section.get(key))
    for key in ("current", "reference", "drop"):
        value = section.get(key)
        if value is not None and _number(value) is None:
            raise bad(f"performance.{key}", "a number or null", value)
    if not isinstance(section.get("degradedMetrics"), list):
        raise bad("performance.degradedMetrics", "an array", section.get("degradedMetrics"))
    if not isinstance(section.get("coverage"), dict):
        raise bad("performance.coverage", "an object", section.get("coverage"))


def performance_status(value: Any) -> dict[str, Any] | None:
    """``status.model.performance`` from a summary's ``performance``; None when unreadable."""
    if not isinstance(value, Mapping) or not isinstance(value.get("degraded"), bool):
        return None
    raw = value.get("coverage")
    coverage: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    metric = value.get("metric")
    return {
        "degraded": value["degraded"],
        "decided": value.get("decided") is True,
        "metric": metric[:METRIC_NAME] if isinstance(metric, str) else None,
        "current": _number(value.get("current")),
        "reference": _number(value.get("reference")),
        "drop": _number(value.get("drop")),
        "degradedMetrics": [
            m[:METRIC_NAME] for m in value.get("degradedMetrics") or [] if isinstance(m, str)
        ][:MAX_DEGRADED],
        "coverage": {
            key: _count(coverage.get(key)) for key in ("predictions", "labeled", "pending")
        }
        | {"share": _number(coverage.get("share"))},
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def performance_text(status: Mapping[str, Any] | None) -> str | None:
    """``accuracy 0.78 (reference 0.91): performance degraded; 85% labeled`` — for the
    status message and Events; None without a performance part."""
    if not status:
        return None
    metric = status.get("metric") or "performance"
    text = f"{metric} {_fmt(status.get('current'))}"
    if status.get("reference") is not None:
        text += f" (reference {_fmt(status.get('reference'))})"
    if status.get("degraded"):
        names = ", ".join(status.get("degradedMetrics") or []) or metric
        text += f": performance degraded ({names})"
    elif not status.get("decided"):
        text += ": performance not decided (too few labels or no reference)"
    coverage = status.get("coverage") or {}
    share = coverage.get("share")
    if share is not None:
        text += f"; {share:.0%} labeled"
        if coverage.get("pending"):
            text += f", {coverage['pending']} pending"
    return text


def performance_lines(section: Any) -> list[str]:
    """Plain-text lines on a report's ``performance`` (the CLI's table); [] without one:
    the verdict with the label coverage, then each metric against the reference period."""
    if not isinstance(section, Mapping):
        return []
    if section.get("degraded"):
        verdict = "PERFORMANCE DEGRADED (" + ", ".join(section.get("degradedMetrics") or []) + ")"
    elif section.get("decided"):
        verdict = "performance within limits"
    else:
        verdict = "performance not decided (too few labels or no reference period)"
    raw = section.get("current")
    current: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    raw = current.get("coverage")
    coverage: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    lines = [
        f"{verdict}: {coverage.get('labeled', 0):,} of {coverage.get('predictions', 0):,} "
        f"predictions labeled, {coverage.get('pending', 0):,} pending"
    ]
    for row in section.get("comparison") or []:
        if not isinstance(row, Mapping) or row.get("current") is None:
            continue
        text = f"  {row.get('metric')!s:<10} {_fmt(_number(row.get('current')))}"
        if row.get("reference") is not None:
            text += f" (reference {_fmt(_number(row.get('reference')))}, drop {_fmt(_number(row.get('drop')))})"
        if row.get("degraded"):
            text += "  DEGRADED"
        lines.append(text)
    return lines
