"""The HTML report's prediction and target section (spec.model) and its line in the header.

The model's columns are compared like features, so each gets the same plot and detail
block as a feature; they have their own table, apart from the features', because they
never count towards the dataset's drift share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftwarden.report.html import (
    _badge,
    _e,
    _feature_section,
    _p_value,
    _threshold_text,
    fmt_num,
    slugify,
)

ROLE_TEXT = {"prediction": "prediction", "target": "target"}


def _section(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    section = doc.get("predictions")
    return section if isinstance(section, Mapping) else None


def predictions_lead(doc: Mapping[str, Any]) -> str:
    """What the header's lead adds when the model's columns drifted; "" otherwise."""
    section = _section(doc)
    if section is None or not section.get("drifted"):
        return ""
    names = [str(c["name"]) for c in section.get("columns") or [] if c.get("drifted")]
    what = (
        "the model's predictions and target drifted"
        if section.get("predictionDrifted") and section.get("targetDrifted")
        else "the target drifted"
        if section.get("targetDrifted")
        else "the model's predictions drifted"
    )
    shown = ", ".join(f"<code>{_e(n)}</code>" for n in names[:5]) + (
        ", …" if len(names) > 5 else ""
    )
    return f'; <strong id="predictions-verdict">{what}</strong> ({shown})'


def model_drifted(doc: Mapping[str, Any]) -> bool:
    """Whether the report found prediction or target drift."""
    section = _section(doc)
    return section is not None and bool(section.get("drifted"))


def predictions_section(doc: Mapping[str, Any]) -> str:
    """``<section id="predictions">``: a table of the model's columns and their plots; ""
    without spec.model columns."""
    section = _section(doc)
    if section is None:
        return ""
    columns = [c for c in section.get("columns") or [] if isinstance(c, Mapping)]
    slugs = [f"model-{slugify(str(c['name']))}-{i}" for i, c in enumerate(columns)]
    rows = []
    for column, slug in zip(columns, slugs, strict=True):
        p, _ = _p_value(column)
        rows.append(
            f'<tr class="{"bad" if column.get("drifted") else "ok"}">'
            f'<th scope="row"><a href="#details-{_e(slug)}">{_e(column["name"])}</a></th>'
            f"<td>{_e(ROLE_TEXT.get(str(column.get('role')), column.get('role')))}"
            f"{' (joined labels)' if column.get('source') == 'labels' else ''}</td>"
            f"<td>{_e(column.get('modelKind'))}</td><td>{_e(column['method'])}</td>"
            f'<td class="num">{fmt_num(column.get("score"))}</td>'
            f'<td class="num">{_threshold_text(column)}</td>'
            f'<td class="num">{fmt_num(p, 3)}</td><td>{_badge(column)}</td></tr>'
        )
    for item in section.get("notCompared") or []:
        if isinstance(item, Mapping):
            rows.append(
                f'<tr class="skipped"><th scope="row">{_e(item.get("name"))}</th>'
                f"<td>{_e(item.get('role'))}</td><td>{_e(item.get('modelKind'))}</td>"
                f'<td colspan="5">not compared: {_e(item.get("reason"))}</td></tr>'
            )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Column", "Role", "Holds", "Method", "Score", "Threshold", "p-value", "Status")
    )
    drifted = bool(section.get("drifted"))
    verdict = (
        f'<p class="lead"><span class="badge {"bad" if drifted else "ok"}">'
        f"{'Prediction or target drift' if drifted else 'No prediction or target drift'}</span> "
        f"{fmt_num(section.get('driftedColumns'))} of {fmt_num(section.get('totalColumns'))} "
        "compared columns drifted</p>"
    )
    table = (
        f'<div class="scroll"><table class="features predictions"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        if rows
        else '<p class="none">No model column could be compared.</p>'
    )
    details = "".join(
        _feature_section(column, slug) for column, slug in zip(columns, slugs, strict=True)
    )
    return (
        f'<section id="predictions" class="{"bad" if drifted else "ok"}">'
        "<h2>Predictions and target</h2>"
        '<p class="hint">The model\'s outputs and the true outcome (spec.model), compared like '
        "features with their own methods and thresholds, their p-values corrected among "
        "themselves; they do not count towards the features' drift share.</p>"
        f"{verdict}{table}{details}</section>"
    )
