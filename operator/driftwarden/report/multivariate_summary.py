"""The run summary's ``multivariate`` object: the joint detector's verdict in ~100 bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from driftwarden.report.document import ReportError
from driftwarden.report.text import printable


def summary_multivariate(
    doc: Mapping[str, Any], round_number: Callable[[Any], Any]
) -> dict[str, Any] | None:
    """``{drifted, pValue, statistic, threshold, features, skipped}`` of the report's
    ``multivariate``; None without one. Fixed size: the feature names stay in the report."""
    joint = doc.get("multivariate")
    if not isinstance(joint, Mapping):
        return None
    return {
        "drifted": bool(joint.get("drifted")),
        "pValue": round_number(joint.get("pValue")),
        "statistic": round_number(joint.get("statistic")),
        "threshold": round_number(joint.get("threshold")),
        "features": len(joint.get("features") or []),
        "skipped": bool(joint.get("skipped")),
    }


def check_summary_multivariate(summary: Mapping[str, Any]) -> None:
    """Refuse a summary whose ``multivariate`` (when present) is not the shape above."""
    joint = summary.get("multivariate")
    if joint is None:
        return
    if not isinstance(joint, dict):
        raise ReportError(f"invalid drift summary: multivariate: expected an object, got {joint!r}")
    for key in ("drifted", "skipped"):
        if not isinstance(joint.get(key), bool):
            raise ReportError(f"invalid drift summary: multivariate.{key}: expected true or false")
    for key in ("pValue", "statistic", "threshold"):
        value = joint.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ReportError(
                f"invalid drift summary: multivariate.{key}: expected a number or null"
            )
    count = joint.get("features")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ReportError("invalid drift summary: multivariate.features: expected a count")


def multivariate_lines(joint: Any) -> list[str]:
    """The ``analyze`` table's line on the joint detector; none without it."""
    if not isinstance(joint, Mapping):
        return []
    names = ", ".join(printable(str(name)) for name in joint.get("features") or [])
    if joint.get("skipped"):
        return [f"multivariate: not compared ({printable(str(joint['skipped']))})"]
    verdict = "JOINT DRIFT" if joint.get("drifted") else "no joint drift"
    p = joint.get("pValue")
    return [
        f"{verdict} (multivariate, {names}): KS p-value "
        f"{'-' if p is None else f'{p:.3g}'} against {joint.get('threshold')}; mean "
        f"reconstruction error {joint.get('referenceError', 0):.3g} -> "
        f"{joint.get('currentError', 0):.3g}"
    ]
