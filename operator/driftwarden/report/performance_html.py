"""The HTML report's "Model performance" section, from the report's ``performance`` object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftwarden.report.html import DASH, _e, fmt_num, fmt_pct

_NAMES = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "rocAuc": "ROC AUC",
    "logLoss": "Log loss",
    "ece": "Calibration error (ECE)",
    "mae": "MAE",
    "rmse": "RMSE",
    "mape": "MAPE",
    "r2": "R²",
}


_BAD = '<span class="badge bad">degraded</span>'


def _value(period: Mapping[str, Any] | None, metric: str) -> str:
    if not period:
        return DASH
    entry = (period.get("metrics") or {}).get(metric) or {}
    text = fmt_num(entry.get("value"))
    if entry.get("low") is not None and entry.get("high") is not None:
        text += f' <span class="ci">[{fmt_num(entry["low"])}, {fmt_num(entry["high"])}]</span>'
    return text


def _coverage(period: Mapping[str, Any] | None, name: str) -> str:
    if not period:
        return ""
    c = period.get("coverage") or {}
    return (
        f"<li>{_e(name)}: {fmt_num(c.get('labeled'))} of {fmt_num(c.get('predictions'))} "
        f"predictions labeled ({fmt_pct(c.get('share'))}); {fmt_num(c.get('pending'))} pending, "
        f"{fmt_num(c.get('unlabeled'))} unlabeled, {fmt_num(c.get('withoutId'))} without an id"
        f"{', ' + fmt_num(c.get('withoutPrediction')) + ' without a prediction' if c.get('withoutPrediction') else ''}.</li>"
    )


def _segments(performance: Mapping[str, Any]) -> str:
    groups = performance.get("segments") or []
    if not groups:
        return ""
    parts = []
    for group in groups:
        values = sorted(
            group.get("values") or [],
            key=lambda v: -(v.get("drop") if v.get("drop") is not None else float("-inf")),
        )
        metric = _NAMES.get(str(group.get("metric")), str(group.get("metric")))
        rows = "".join(
            f'<tr class="{"bad" if (v.get("drop") or 0) > 0 and (v.get("pValue") or 1) < 0.05 else "ok"}">'
            f'<th scope="row">{_e(v.get("value"))}</th>'
            f'<td class="num">{fmt_num(v.get("rows"))}</td>'
            f'<td class="num">{fmt_num(v.get("reference"))}</td>'
            f'<td class="num">{fmt_num(v.get("current"))}</td>'
            f'<td class="num">{fmt_num(v.get("drop"))}</td>'
            f'<td class="num">{fmt_num(v.get("pValue"), 3)}</td></tr>'
            for v in values
        )
        parts.append(
            f"<h3>{metric} by <code>{_e(group.get('feature'))}</code></h3>"
            f'<div class="scroll"><table class="segments"><thead><tr><th>Value</th>'
            f"<th>Labeled rows</th><th>Reference</th><th>Current</th><th>Drop</th>"
            f"<th>p-value</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    return "".join(parts)


def performance_html(doc: Mapping[str, Any]) -> str:
    """The section (``id="performance"``); empty when the report has no performance."""
    performance = doc.get("performance")
    if not isinstance(performance, Mapping):
        return ""
    current, reference = performance.get("current"), performance.get("reference")
    degraded = bool(performance.get("degraded"))
    if degraded:
        verdict = '<span class="badge bad">degraded</span> ' + ", ".join(
            _e(_NAMES.get(m, m)) for m in performance.get("degradedMetrics") or []
        )
    elif not performance.get("decided"):
        verdict = '<span class="badge">undecided</span> (no reference period or too few labels)'
    else:
        verdict = '<span class="badge ok">ok</span>'
    rows = []
    for entry in performance.get("comparison") or []:
        metric = str(entry.get("metric"))
        limit = entry.get("maxDrop")
        rows.append(
            f'<tr class="{"bad" if entry.get("degraded") else "ok"}" data-metric="{_e(metric)}">'
            f'<th scope="row">{_e(_NAMES.get(metric, metric))}</th>'
            f'<td class="num">{_value(reference, metric)}</td>'
            f'<td class="num">{_value(current, metric)}</td>'
            f'<td class="num">{fmt_num(entry.get("drop"))}</td>'
            f'<td class="num">{fmt_num(entry.get("pValue"), 3)}</td>'
            f'<td class="num">{fmt_num(limit) if limit is not None else DASH}</td>'
            f"<td>{_BAD if entry.get('degraded') else ''}</td></tr>"
        )
    labels = performance.get("labels") or {}
    window = labels.get("joinWindow")
    confidence = performance.get("confidence") or {}
    return (
        f'<section id="performance"><h2>Model performance {verdict}</h2>'
        f'<p class="hint">{_e(performance.get("task"))} · predictions '
        f"<code>{_e(performance.get('predictionColumn'))}</code> joined by "
        f"<code>{_e(performance.get('idColumn'))}</code> to labels "
        f"<code>{_e(labels.get('labelColumn'))}</code> in {_e(labels.get('uri'))}"
        f"{' within ' + _e(window) + ' of each prediction' if window else ''}. "
        f"Intervals: {fmt_pct(confidence.get('level'))} {_e(confidence.get('method', ''))}. "
        "Drop: how much worse than the reference period (positive is worse).</p>"
        f'<ul class="coverage">{_coverage(current, "Current")}{_coverage(reference, "Reference")}</ul>'
        f'<div class="scroll"><table class="performance"><thead><tr><th>Metric</th>'
        "<th>Reference</th><th>Current</th><th>Drop</th><th>p-value</th><th>Max drop</th>"
        f"<th>Status</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        f"{_segments(performance)}</section>"
    )
