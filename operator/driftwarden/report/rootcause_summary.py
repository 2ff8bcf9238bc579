"""The root cause in the run summary (termination message) and how the operator reads it.

The summary carries ``rootCause``: ``{triggered, summary, causes: [{feature, share,
drifted}]}`` — at most ROOT_CAUSE_BYTES, the top causes only. The operator writes it to
``status.model.rootCause`` and adds ``summary`` ("top cause: income (62%)") to the run's
status message when a model signal moved. Standard library only (the operator reads it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# The summary's share for the root cause, taken before the features.
ROOT_CAUSE_BYTES = 512
TOP_CAUSES = 3
CAUSE_NAME_BYTES = 96
SUMMARY_TEXT_BYTES = 160


def summary_root_cause(section: Any, max_bytes: int = ROOT_CAUSE_BYTES) -> dict[str, Any] | None:
    """The report's ``rootCause``, compact and within ``max_bytes``; None without one."""
    from driftwarden.report.summary import _size, round_number, shorten

    if not isinstance(section, Mapping):
        return None
    text = section.get("summary")
    out: dict[str, Any] = {
        "triggered": bool(section.get("triggered")),
        "summary": shorten(text, SUMMARY_TEXT_BYTES) if isinstance(text, str) else None,
        "causes": [],
    }
    used = _size(out)
    for cause in (section.get("causes") or [])[:TOP_CAUSES]:
        if not isinstance(cause, Mapping) or not (cause.get("contribution") or 0) > 0:
            continue
        entry = {
            "feature": shorten(str(cause.get("feature")), CAUSE_NAME_BYTES, keep_end=True),
            "share": round_number(cause.get("share")),
            "drifted": bool(cause.get("drifted")),
        }
        cost = _size(entry) + (1 if out["causes"] else 0)
        if used + cost > max_bytes:
            break
        out["causes"].append(entry)
        used += cost
    if used > max_bytes:
        out["summary"] = None
    return out


def check_root_cause(section: Any, bad: Any) -> None:
    """Check a summary's ``rootCause`` (optional); ``bad(path, expected, value)`` builds the error."""
    if section is None:
        return
    if not isinstance(section, dict):
        raise bad("rootCause", "an object", section)
    if not isinstance(section.get("triggered"), bool):
        raise bad("rootCause.triggered", "true or false", section.get("triggered"))
    if section.get("summary") is not None and not isinstance(section["summary"], str):
        raise bad("rootCause.summary", "a string or null", section["summary"])
    causes = section.get("causes")
    if not isinstance(causes, list):
        raise bad("rootCause.causes", "an array", causes)
    for i, cause in enumerate(causes):
        path = f"rootCause.causes[{i}]"
        if not isinstance(cause, dict) or not isinstance(cause.get("feature"), str):
            raise bad(f"{path}.feature", "a string", cause)
        share = cause.get("share")
        if share is not None and not (
            isinstance(share, int | float) and not isinstance(share, bool) and math.isfinite(share)
        ):
            raise bad(f"{path}.share", "a number or null", share)
        if not isinstance(cause.get("drifted"), bool):
            raise bad(f"{path}.drifted", "true or false", cause.get("drifted"))


def root_cause_status(value: Any) -> dict[str, Any] | None:
    """``status.model.rootCause`` from a summary's ``rootCause``; None when absent or unreadable.

    ``{triggered, summary, causes: [{feature, share, drifted}]}``, bounded like the summary.
    """
    if not isinstance(value, Mapping) or not isinstance(value.get("triggered"), bool):
        return None
    causes = []
    for cause in value.get("causes") or []:
        if isinstance(cause, Mapping) and isinstance(cause.get("feature"), str):
            share = cause.get("share")
            causes.append(
                {
                    "feature": cause["feature"][:128],
                    "share": float(share)
                    if isinstance(share, int | float)
                    and not isinstance(share, bool)
                    and math.isfinite(share)
                    else None,
                    "drifted": cause.get("drifted") is True,
                }
            )
    text = value.get("summary")
    return {
        "triggered": value["triggered"],
        "summary": text[:SUMMARY_TEXT_BYTES] if isinstance(text, str) else None,
        "causes": causes[:TOP_CAUSES],
    }


def root_cause_text(status: Mapping[str, Any] | None) -> str | None:
    """What the run's status message adds: ``top cause: income (62%)`` when triggered."""
    if not status or not status.get("triggered"):
        return None
    text = status.get("summary")
    return text if isinstance(text, str) and text else None


def root_cause_lines(report: Mapping[str, Any], limit: int = 3) -> list[str]:
    """Plain-text lines on a report's root cause (the CLI's table); [] without one.

    The summary line when a model signal moved, the top causes with their share of the
    weighted drift, and the segments that lost the most.
    """
    from driftwarden.report.text import printable

    section = report.get("rootCause")
    if not isinstance(section, Mapping):
        return []
    triggers = [t for t in section.get("triggers") or [] if isinstance(t, str)]
    head = (
        f"root cause ({', '.join(triggers)} moved): {section.get('summary') or 'no weighted drift'}"
        if triggers
        else "root cause: no model signal moved"
    )
    lines = [head]
    for cause in (section.get("causes") or [])[:limit]:
        share = cause.get("share")
        if not isinstance(share, int | float) or share <= 0:
            continue
        lines.append(
            f"  {printable(str(cause.get('feature')))[:24]:<24} {share:>6.0%} of the weighted drift"
            f" (importance {_num(cause.get('importance'), '.0%')}, drift {_num(cause.get('magnitude'))})"
        )
    for group in section.get("segments") or []:
        for segment in (group.get("segments") or [])[:2]:
            drop = segment.get("drop")
            lines.append(
                f"  segment {printable(str(group.get('feature')))}={printable(str(segment.get('value')))}: "
                f"{group.get('metric')} {_num(segment.get('reference'))} → {_num(segment.get('current'))}"
                f" (drop {_num(drop)})"
            )
    return lines


def _num(value: Any, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, int | float) and math.isfinite(value) else "-"


def root_cause_gauges(status: Mapping[str, Any]) -> tuple[tuple[str, int, float], ...]:
    """``(feature, rank, share)`` of ``status.model.rootCause``'s causes, for the
    ``driftwarden_root_cause_share`` gauge; () without a root cause."""
    model = status.get("model")
    section = model.get("rootCause") if isinstance(model, Mapping) else None
    if not isinstance(section, Mapping):
        return ()
    out = []
    for rank, cause in enumerate(section.get("causes") or [], start=1):
        share = cause.get("share") if isinstance(cause, Mapping) else None
        if isinstance(share, int | float) and not isinstance(share, bool) and math.isfinite(share):
            out.append((str(cause.get("feature")), rank, float(share)))
    return tuple(out[:TOP_CAUSES])
