"""The HTML report's multivariate section and its line in the verdict header."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from driftwarden.report.text import printable


def _e(value: Any) -> str:
    return escape(printable(str(value)), quote=True)


def multivariate_lead(doc: Mapping[str, Any], fmt_num: Callable[[Any], str]) -> str:
    """What the header's lead adds when the joint detector drifted the run; "" otherwise."""
    joint = doc.get("multivariate")
    if not isinstance(joint, Mapping) or not joint.get("drifted"):
        return ""
    alone = doc["dataset"].get("driftedBy") == ["multivariate"]
    return (
        f'; <strong id="multivariate-verdict">the features drift together</strong>'
        f" (multivariate p = {fmt_num(joint.get('pValue'))}"
        f" &lt; {fmt_num(joint.get('threshold'))})"
        + (", which alone makes the run drifted" if alone else "")
    )


def multivariate_section(doc: Mapping[str, Any], fmt_num: Callable[[Any], str]) -> str:
    """``<section id="multivariate">``: the detector's verdict and numbers; "" without one."""
    joint = doc.get("multivariate")
    if not isinstance(joint, Mapping):
        return ""
    features = ", ".join(f"<code>{_e(name)}</code>" for name in joint.get("features") or [])
    if joint.get("skipped"):
        body = f'<p class="none">Not compared: {_e(joint["skipped"])}</p>'
        state = "ok"
    else:
        drifted = bool(joint.get("drifted"))
        state = "bad" if drifted else "ok"
        verdict = "Joint drift detected" if drifted else "No joint drift"
        raw_rows = joint.get("rows")
        rows: Mapping[str, Any] = raw_rows if isinstance(raw_rows, Mapping) else {}
        cells = [
            (
                "KS p-value",
                f"{fmt_num(joint.get('pValue'))} (drifts below {fmt_num(joint.get('threshold'))})",
            ),
            ("KS statistic", fmt_num(joint.get("statistic"))),
            (
                "Mean reconstruction error",
                f"reference {fmt_num(joint.get('referenceError'))} → current "
                f"{fmt_num(joint.get('currentError'))}",
            ),
            (
                "Principal components",
                f"{fmt_num(joint.get('components'))} explaining "
                f"{fmt_num(joint.get('explainedVariance'))} of the variance",
            ),
            (
                "Rows compared",
                f"reference {fmt_num(rows.get('holdout'))} held out (fitted on "
                f"{fmt_num(rows.get('fit'))}), current {fmt_num(rows.get('current'))}",
            ),
        ]
        table = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in cells)
        body = (
            f'<p class="lead"><span class="badge {state}">{verdict}</span></p>'
            f'<table class="multivariate">{table}</table>'
        )
    return (
        f'<section id="multivariate" class="{state}"><h2>Multivariate drift</h2>'
        f'<p class="hint">Whole rows of {features}: PCA fitted on half of the reference '
        "rows, reconstruction errors of the other half and of the current rows compared "
        "with a KS test. It sees joint changes (a correlation that flips) that leave every "
        f"feature's own distribution as it was.</p>{body}</section>"
    )
