"""The root-cause section of the HTML report: shown first, right under the verdict.

Reads the report's ``rootCause`` object (docs/report-schema.md; built by
:mod:`driftwarden.model.rootcause`). Standard library only, like the rest of the report
layer. Every string from the report is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftwarden.report.html import DASH, escape_text, fmt_num, fmt_pct

_e = escape_text

# What each trigger means, for the "why now" line.
TRIGGER_TEXT = {
    "predictions": "the prediction distribution moved",
    "performance": "performance dropped",
    "multivariate": "the joint distribution of the features moved",
    "features": "the features drifted",
}
_BAR_WIDTH = 160

ROOT_CAUSE_CSS = """
.root-cause{border:1px solid var(--line);border-radius:10px;padding:4px 18px 14px;margin:18px 0}
.root-cause.active{border-left:6px solid var(--bad)}
.root-cause h2{margin-top:12px}
.root-cause .lead strong{color:var(--bad)}
.share-bar .track{fill:var(--alt)}.share-bar .fill{fill:var(--bad)}
.segments td,.segments th{padding:2px 10px;border-bottom:1px solid var(--line);font-size:13px}
.segments thead th{color:var(--muted);font-weight:500;text-align:right}
.segments tbody th{text-align:left;font-weight:500}
"""


def _share_bar(share: Any) -> str:
    value = share if isinstance(share, int | float) and 0 <= share <= 1 else 0.0
    return (
        f'<svg class="share-bar" role="img" viewBox="0 0 {_BAR_WIDTH} 12" width="{_BAR_WIDTH}" '
        f'height="12"><title>{fmt_pct(share)} of the weighted drift</title>'
        f'<rect class="track" x="0" y="0" width="{_BAR_WIDTH}" height="12" rx="2"/>'
        f'<rect class="fill" x="0" y="0" width="{value * _BAR_WIDTH:.1f}" height="12" rx="2"/>'
        "</svg>"
    )


def _importance_text(importance: Mapping[str, Any]) -> str:
    method = importance.get("method")
    if method == "given":
        return "Importance: the weights given in <code>spec.model.importance</code>."
    if method == "mutualInformation":
        against = importance.get("against")
        rows = importance.get("rows")
        return (
            "Importance: mutual information with "
            f"<code>{_e(against or DASH)}</code> on {fmt_num(rows)} reference rows "
            f"({fmt_num(importance.get('bins'))} bins, bias-corrected)."
        )
    return f"Importance: {_e(method or DASH)}."


def _segments(segments: Sequence[Any]) -> str:
    """Per-segment performance of the top categorical causes, as the performance part gives it."""
    parts = []
    for entry in segments:
        if not isinstance(entry, Mapping):
            continue
        metric = str(entry.get("metric") or "performance")
        rows = [r for r in entry.get("segments") or [] if isinstance(r, Mapping)]
        body = "".join(
            f'<tr><th scope="row">{_e(row.get("value", DASH))}</th>'
            f'<td class="num">{fmt_num(row.get("referenceRows"))} → {fmt_num(row.get("rows"))}</td>'
            f'<td class="num">{fmt_num(row.get("reference"))} → {fmt_num(row.get("current"))}</td>'
            f'<td class="num">{fmt_num(row.get("drop"))}</td>'
            f'<td class="num">{fmt_num(row.get("pValue"), 3)}</td></tr>'
            for row in rows
        )
        parts.append(
            f"<h3>Segments of <code>{_e(entry.get('feature', DASH))}</code> that lost "
            f"{_e(metric)}</h3>"
            '<div class="scroll"><table class="segments"><thead><tr>'
            '<th scope="col">segment</th><th scope="col">labeled rows (reference → current)</th>'
            f'<th scope="col">{_e(metric)} (reference → current)</th>'
            '<th scope="col">drop</th><th scope="col">p-value</th>'
            f"</tr></thead><tbody>{body}</tbody></table></div>"
        )
    return "".join(parts)


def _worst_segment(segments: Any) -> str:
    """``Worst segment: plan = basic, accuracy 0.79 → 0.38`` for the lead; "" without one."""
    best: tuple[float, str] | None = None
    for entry in segments if isinstance(segments, list) else []:
        if not isinstance(entry, Mapping):
            continue
        for row in entry.get("segments") or []:
            drop = row.get("drop") if isinstance(row, Mapping) else None
            if isinstance(drop, int | float) and (best is None or drop > best[0]):
                text = (
                    f'<p class="lead" id="root-cause-segment">Worst segment: '
                    f"<strong>{_e(entry.get('feature'))} = {_e(row.get('value'))}</strong>, "
                    f"{_e(entry.get('metric') or 'performance')} {fmt_num(row.get('reference'))}"
                    f" → {fmt_num(row.get('current'))}</p>"
                )
                best = (drop, text)
    return "" if best is None else best[1]


def root_cause_html(doc: Mapping[str, Any], anchors: Mapping[str, str]) -> str:
    """The section, or "" when the report has no ``rootCause``.

    ``anchors`` maps feature names to the ids of their details sections (features
    with a plot), which the causes link to.
    """
    section = doc.get("rootCause")
    if not isinstance(section, Mapping):
        return ""
    triggers = [t for t in section.get("triggers") or [] if isinstance(t, str)]
    top = section.get("top") if isinstance(section.get("top"), Mapping) else None
    if top and triggers:
        lead = (
            f'<p class="lead" id="root-cause-summary">Top cause: <strong>{_e(top.get("feature"))}</strong>'
            f" — {fmt_pct(top.get('share'))} of the importance-weighted drift</p>"
        )
    elif triggers:
        lead = (
            '<p class="lead" id="root-cause-summary">No feature with weight drifted: '
            "the move is not explained by the monitored features.</p>"
        )
    else:
        lead = (
            '<p class="lead" id="root-cause-summary">No model signal moved this run; '
            "the ranking below is for reference.</p>"
        )
    why = ""
    if triggers:
        why = (
            '<p class="hint">Why now: '
            + "; ".join(_e(TRIGGER_TEXT.get(t, t)) for t in triggers)
            + ".</p>"
        )
    rows = []
    for rank, cause in enumerate(section.get("causes") or [], start=1):
        if not isinstance(cause, Mapping):
            continue
        name = str(cause.get("feature"))
        anchor = anchors.get(name)
        label = f'<a href="#{_e(anchor)}">{_e(name)}</a>' if anchor else _e(name)
        badge = (
            '<span class="badge bad">drifted</span>'
            if cause.get("drifted")
            else '<span class="badge ok">ok</span>'
        )
        rows.append(
            f'<tr><td class="num">{rank}</td><th scope="row">{label}</th>'
            f"<td>{_e(cause.get('kind', DASH))}</td>"
            f'<td class="num">{fmt_pct(cause.get("share"))} {_share_bar(cause.get("share"))}</td>'
            f'<td class="num">{fmt_pct(cause.get("importance"))}</td>'
            f'<td class="num">{fmt_num(cause.get("magnitude"))}</td><td>{badge}</td></tr>'
        )
    table = (
        '<div class="scroll"><table class="features causes"><thead><tr>'
        '<th scope="col">#</th><th scope="col">Feature</th><th scope="col">Kind</th>'
        '<th scope="col">Share of weighted drift</th><th scope="col">Importance</th>'
        '<th scope="col">Drift (0–1)</th><th scope="col">Feature verdict</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        if rows
        else '<p class="none">No features to rank.</p>'
    )
    importance = section.get("importance")
    note = _importance_text(importance) if isinstance(importance, Mapping) else ""
    segments = section.get("segments")
    return (
        f'<section id="root-cause" class="root-cause {"active" if triggers else "quiet"}">'
        f"<h2>Root cause</h2>{lead}{_worst_segment(segments) if triggers else ''}{why}{table}"
        f'<p class="hint">{note} Drift is the noise-corrected Jensen–Shannon distance or '
        "missing-rate change (docs/statistics.md, Root cause).</p>"
        f"{_segments(segments) if isinstance(segments, list) else ''}</section>"
    )
