"""The self-contained HTML view of a drift report.

One file, no external resources: inline CSS, inline SVG plots and a small
inline script that sorts the feature table (the page reads fine without it).
A Content-Security-Policy pins the script and style by hash and forbids
loading anything, so the page is safe to open from object storage even if the
data holds markup. Every string from the report is HTML-escaped.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from string import Template
from typing import Any

from driftwarden.report.document import (
    OTHER_CATEGORY,
    P_VALUE_METHODS,
    prepare_report,
    ranked_features,
)
from driftwarden.report.multivariate_html import multivariate_lead, multivariate_section
from driftwarden.report.text import printable
from driftwarden.report.verdict import headline, signals
from driftwarden.report.verdict import is_bad as combined_bad

# Plots are the heavy part of the page (~7 KB each): every drifted feature gets one up
# to MAX_PLOTS, and at least the TOP_PLOTS most drifted do; the table lists them all.
MAX_PLOTS = 50
TOP_PLOTS = 20
REFERENCE_COLOUR = "#4c78a8"
CURRENT_COLOUR = "#f58518"
DASH = "—"

# ---------------------------------------------------------------- formatting


def _e(value: Any) -> str:
    return escape(printable(str(value)), quote=True)


# _e of the few words every row of the feature table repeats (kinds, methods, "<" and ">"):
# ~3,000 escapes at 1,000 features, a handful of distinct ones.
_e_word = functools.lru_cache(maxsize=64)(_e)


def _finite(value: Any) -> bool:
    if type(value) is float:  # the common case first: ~18,000 calls at 1,000 features
        return math.isfinite(value)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _exp(text: str) -> str:
    """'1.230e-05' -> '1.23e-5'."""
    mantissa, exponent = text.split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def fmt_num(value: Any, digits: int = 4) -> str:
    """A number for people: integers with thousands separators, floats with ``digits``
    significant digits, scientific notation for very small or large ones, "—" for
    null (never "nan" or "inf")."""
    if not _finite(value):
        return DASH
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0:
        return "0"
    size = abs(value)
    if size < 1e-3 or size >= 1e9:
        return _exp(f"{value:.{digits - 1}e}")
    text = f"{value:.{digits}g}"
    if "e" in text or size >= 10**digits:
        return f"{value:,.0f}"
    return text


def fmt_pct(value: Any) -> str:
    """A share as a percentage: 0.4 -> '40%', 0.01234 -> '1.23%'."""
    if not _finite(value):
        return DASH
    pct = value * 100
    if pct == 0:
        return "0%"
    if abs(pct) < 0.001:
        return "<0.001%" if pct > 0 else "-<0.001%"
    text = f"{pct:.3g}"
    return (f"{pct:.3f}".rstrip("0").rstrip(".") if "e" in text else text) + "%"


_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def fmt_compact(value: float, digits: int = 3) -> str:
    """A short axis label: 12345 -> '12.3k', 999.9 -> '1k', 0.000012 -> '1.2e-5'."""
    if not _finite(value):
        return DASH
    rounded = float(f"{value:.{digits}g}")
    size = abs(rounded)
    if size == 0:
        return "0"
    if size >= 1e15 or size < 1e-3:
        return _exp(f"{rounded:.{digits - 1}e}")
    for scale, suffix in _SI:
        if size >= scale:
            return f"{rounded / scale:.{digits}g}{suffix}"
    return f"{rounded:.{digits}g}"


def compact_labels(values: Sequence[float]) -> list[str]:
    """Compact labels for ascending values, with enough digits to tell neighbours apart."""
    labels = [fmt_compact(v) for v in values]
    for digits in range(4, 9):
        if all(
            a != b
            for a, b, x, y in zip(labels, labels[1:], values, values[1:], strict=False)
            if x != y
        ):
            break
        labels = [fmt_compact(v, digits) for v in values]
    return labels


def _fmt_time(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return DASH
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    offset = moment.utcoffset()
    if offset is not None and offset.total_seconds() == 0:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.isoformat(sep=" ")


def _fmt_duration(seconds: Any) -> str:
    if not _finite(seconds):
        return DASH
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def slugify(name: str) -> str:
    """The id-safe form of a feature name (before de-duplication): 'Income (€)' -> 'income-€'."""
    slug = re.sub(r"[^\w-]+", "-", name.lower()).strip("-")
    return slug or "feature"


def feature_slugs(names: Sequence[str]) -> list[str]:
    """Unique slugs for names in order: a repeated slug gets '-2', '-3', ..."""
    seen: set[str] = set()
    slugs = []
    for name in names:
        base = slug = slugify(name)
        n = 1
        while slug in seen:
            n += 1
            slug = f"{base}-{n}"
        seen.add(slug)
        slugs.append(slug)
    return slugs


# ---------------------------------------------------------------- SVG plots

_W, _PLOT_H = 760, 180
_LEFT, _RIGHT, _TOP = 60, 16, 34
_ROTATE_OVER = 10  # category labels are slanted when there are more groups than this


def _nice_max(value: float) -> tuple[float, float]:
    """An axis top at or above ``value`` and a tick step giving 2-5 ticks."""
    if value <= 0:
        return 1.0, 0.25
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10):
        step = factor * magnitude
        ticks = math.ceil(value / step - 1e-9)
        if ticks <= 5:
            return ticks * step, step
    return value, value  # pragma: no cover


def _shares(values: Sequence[float]) -> list[float]:
    """Bar heights as shares: counts (sum above 1) are normalised, shares kept."""
    clean = [v if _finite(v) and v > 0 else 0.0 for v in values]
    total = sum(clean)
    return [v / total for v in clean] if total > 1.0 + 1e-6 else clean


def _short(text: str, chars: int, *, middle: bool = False) -> str:
    """``text`` cut to ``chars`` characters with "…" (in the middle: the ends tell labels apart)."""
    if len(text) <= chars:
        return text
    if not middle:
        return text[: max(chars - 1, 1)] + "…"
    head = max((chars - 1 + 1) // 2, 1)
    tail = max(chars - 1 - head, 1)
    return text[:head] + "…" + text[-tail:]


def _category_label(label: str) -> str:
    return "(other)" if label == OTHER_CATEGORY else label


def _bins(dist: Mapping[str, Any]) -> tuple[list[str], list[float], list[float]] | None:
    """Per-bin names (for titles) and the two share series, or None if unusable."""
    ref, cur = dist.get("reference"), dist.get("current")
    if not isinstance(ref, list) or not isinstance(cur, list) or len(ref) != len(cur) or not ref:
        return None
    if dist.get("type") == "histogram":
        edges = dist.get("edges")
        if not isinstance(edges, list) or len(edges) + 1 != len(ref):
            return None
        if not edges:
            names = ["all values"]
        else:
            labels = compact_labels(edges)
            names = [f"below {labels[0]}"]
            names += [f"[{a}, {b})" for a, b in itertools.pairwise(labels)]
            names.append(f"{labels[-1]} and above")
    elif dist.get("type") == "categories":
        categories = dist.get("labels")
        if not isinstance(categories, list) or len(categories) != len(ref):
            return None
        names = [_category_label(str(label)) for label in categories]
    else:
        return None
    return names, _shares(ref), _shares(cur)


def render_plot(feature: Mapping[str, Any], slug: str) -> str:
    """The reference-vs-current grouped bar chart of one feature as inline SVG ('' if no data)."""
    dist = feature.get("distribution")
    bins = _bins(dist) if isinstance(dist, Mapping) else None
    if bins is None:
        return ""
    assert isinstance(dist, Mapping)  # _bins ran, so dist is a Mapping
    names, ref, cur = bins
    name = str(feature["name"])
    histogram = dist.get("type") == "histogram"
    n = len(names)
    rotate = not histogram and n > _ROTATE_OVER
    bottom = 100 if rotate else 52
    height = _TOP + _PLOT_H + bottom
    plot_w, plot_h = _W - _LEFT - _RIGHT, _PLOT_H
    x0, y0 = _LEFT, _TOP + plot_h  # origin, bottom left
    top, step = _nice_max(max(ref + cur))
    group = plot_w / n
    bar = group * 0.4

    def y(share: float) -> float:
        return y0 - plot_h * min(share, top) / top

    out = [
        f'<svg id="feature-{_e(slug)}" class="dist-plot" role="img" viewBox="0 0 {_W} {height}"'
        f' width="{_W}" height="{height}" aria-labelledby="t-{_e(slug)} d-{_e(slug)}">',
        f'<title id="t-{_e(slug)}">Distribution of {_e(name)}: reference vs current</title>',
    ]
    moved = max(range(n), key=lambda i: abs(cur[i] - ref[i]))
    out.append(
        f'<desc id="d-{_e(slug)}">{"Histogram" if histogram else "Category shares"} in {n} '
        f"{'bins' if histogram else 'groups'}. Largest change in {_e(names[moved])}: reference "
        f"{fmt_pct(ref[moved])}, current {fmt_pct(cur[moved])}.</desc>"
    )
    # y grid and labels
    ticks = round(top / step)
    for k in range(ticks + 1):
        share = k * step
        ty = y(share)
        out.append(
            f'<line class="grid" x1="{x0}" x2="{x0 + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="ytick" x="{x0 - 6}" y="{ty + 4:.1f}">{fmt_pct(share)}</text>'
        )
    out.append(
        f'<text class="axis-title" transform="translate(14 {_TOP + plot_h / 2:.0f}) rotate(-90)">'
        "share of rows</text>"
    )
    # bars, one group per bin, each with a title for hover and screen readers
    for i in range(n):
        gx = x0 + i * group + group * 0.1
        out.append(
            f'<g class="bin"><title>{_e(names[i])}: reference {fmt_pct(ref[i])}, '
            f"current {fmt_pct(cur[i])}</title>"
            f'<rect class="ref" x="{gx:.2f}" y="{y(ref[i]):.2f}" width="{bar:.2f}" '
            f'height="{y0 - y(ref[i]):.2f}"/>'
            f'<rect class="cur" x="{gx + bar:.2f}" y="{y(cur[i]):.2f}" width="{bar:.2f}" '
            f'height="{y0 - y(cur[i]):.2f}"/></g>'
        )
    out.append(f'<line class="axis" x1="{x0}" x2="{x0 + plot_w}" y1="{y0}" y2="{y0}"/>')
    # x labels: bin edges between groups (histograms) or category names under groups
    if histogram:
        edges = compact_labels(dist["edges"])
        every = max(1, math.ceil(len(edges) / 12))
        for j in range(0, len(edges), every):
            tx = x0 + (j + 1) * group
            out.append(
                f'<line class="tick" x1="{tx:.2f}" x2="{tx:.2f}" y1="{y0}" y2="{y0 + 5}"/>'
                f'<text class="xtick" x="{tx:.2f}" y="{y0 + 18}">{_e(edges[j])}</text>'
            )
        axis_title = f"{name} (bin edges; outer bins are open-ended)"
    else:
        chars = 13 if rotate else max(3, int(group / 7))
        for i in range(n):
            tx = x0 + (i + 0.5) * group
            label = _e(_short(names[i], chars, middle=True))
            if rotate:
                out.append(
                    f'<text class="xtick rot" transform="translate({tx:.2f} {y0 + 10}) '
                    f'rotate(-40)">{label}</text>'
                )
            else:
                out.append(f'<text class="xtick" x="{tx:.2f}" y="{y0 + 18}">{label}</text>')
        axis_title = f"{name} (categories)"
    out.append(
        f'<text class="axis-title" x="{x0 + plot_w / 2:.0f}" y="{height - 8}">'
        f"{_e(_short(axis_title, 90))}</text>"
    )
    # legend
    lx = _W - _RIGHT - 190
    out.append(
        f'<g class="legend"><rect class="ref" x="{lx}" y="10" width="12" height="12"/>'
        f'<text x="{lx + 17}" y="20">Reference</text>'
        f'<rect class="cur" x="{lx + 100}" y="10" width="12" height="12"/>'
        f'<text x="{lx + 117}" y="20">Current</text></g>'
    )
    out.append("</svg>")
    return "".join(out)


def _share_meter(share: float, threshold: float | None, drifted: bool) -> str:
    """A small bar of the drift share with a mark at the dataset threshold."""
    w, h = 320, 14
    fill = min(max(share, 0.0), 1.0) * w
    parts = [
        f'<svg class="share-meter" role="img" viewBox="0 0 {w} {h + 4}" width="{w}" '
        f'height="{h + 4}"><title>Drift share {fmt_pct(share)}'
        + (f", threshold {fmt_pct(threshold)}" if threshold is not None else "")
        + "</title>",
        f'<rect class="track" x="0" y="2" width="{w}" height="{h}" rx="3"/>',
        f'<rect class="{"fill-bad" if drifted else "fill-ok"}" x="0" y="2" width="{fill:.1f}" '
        f'height="{h}" rx="3"/>',
    ]
    if threshold is not None and 0 <= threshold <= 1:
        tx = threshold * w
        parts.append(f'<line class="mark" x1="{tx:.1f}" x2="{tx:.1f}" y1="0" y2="{h + 4}"/>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- page parts


def _badge(feature: Mapping[str, Any]) -> str:
    if feature.get("drifted"):
        reason = feature.get("reason")
        extra = f' <span class="why">({_e(reason)})</span>' if reason else ""
        return f'<span class="badge bad">drifted</span>{extra}'
    return '<span class="badge ok">ok</span>'


def _threshold_text(feature: Mapping[str, Any]) -> str:
    op = "<" if feature.get("method") in P_VALUE_METHODS else ">"
    return f"{_e_word(op)} {fmt_num(feature.get('threshold'))}"


def _p_value(feature: Mapping[str, Any]) -> tuple[Any, str]:
    """The p-value shown for a feature and where it comes from."""
    if _finite(feature.get("pValue")):
        return feature["pValue"], str(feature.get("method", ""))
    sig = feature.get("significance")
    if isinstance(sig, Mapping) and _finite(sig.get("pValue")):
        alpha = f", alpha {fmt_num(sig.get('alpha'))}" if _finite(sig.get("alpha")) else ""
        return sig["pValue"], f"{sig.get('test') or 'test'}{alpha}"
    return None, ""


def _raw_p_text(holder: Mapping[str, Any]) -> str:
    """', raw 0.0012' when the uncorrected p-value is known and differs from the corrected one."""
    raw, corrected = holder.get("rawPValue"), holder.get("pValue")
    if not _finite(raw) or raw == corrected:
        return ""
    return f" (corrected; raw {fmt_num(raw, 3)})"


def _missing_text(feature: Mapping[str, Any]) -> tuple[str, Any]:
    missing = feature.get("missing")
    if not isinstance(missing, Mapping):
        return DASH, None
    text = f"{fmt_pct(missing.get('reference'))} → {fmt_pct(missing.get('current'))}"
    key = missing.get("score") if _finite(missing.get("score")) else missing.get("current")
    return text, key


def _sort_value(value: Any) -> str:
    return repr(float(value)) if _finite(value) else ""


def _header(doc: Mapping[str, Any]) -> str:
    from driftwarden.report.predictions_html import predictions_lead

    dataset = doc["dataset"]
    drifted = dataset["drifted"]
    threshold = dataset.get("threshold")
    monitor = doc.get("monitor") if isinstance(doc.get("monitor"), Mapping) else None
    who = ""
    if monitor and monitor.get("name"):
        ns = f"{monitor['namespace']}/" if monitor.get("namespace") else ""
        who = f" · monitor <strong>{_e(ns)}{_e(monitor['name'])}</strong>"
    # Every signal the run judged (features, predictions, performance, joint drift).
    bad = combined_bad(doc)
    verdict = headline(doc)
    lead = (
        f"{fmt_num(dataset['driftedFeatures'])} of {fmt_num(dataset['totalFeatures'])} features "
        f"drifted (<strong>{fmt_pct(dataset['driftShare'])}</strong>)"
    )
    if _finite(threshold):
        lead += f"; the dataset counts as drifted at {fmt_pct(threshold)} or more"
    lead += multivariate_lead(doc, fmt_num)
    lead += predictions_lead(doc)
    facts = []
    for side, label in (("reference", "Reference"), ("current", "Current")):
        source = doc.get(side)
        if not isinstance(source, Mapping):
            continue
        bits = [f'<span class="uri">{_e(source.get("uri") or DASH)}</span>']
        if source.get("format"):
            bits.append(_e(source["format"]))
        bits.append(f"{fmt_num(source.get('rows'))} rows")
        if source.get("fingerprint"):
            bits.append(f"fingerprint <code>{_e(str(source['fingerprint'])[:12])}</code>")
        if source.get("profileCached") is True:
            bits.append("profile from cache")
        if source.get("source") in ("rolling", "offset", "promoted"):
            bits.append(f"{_e(source['source'])} reference")
        facts.append(f"<dt>{label}</dt><dd>{' · '.join(bits)}</dd>")
        window = source.get("window")
        if isinstance(window, Mapping):
            column = f"<code>{_e(window['column'])}</code> " if window.get("column") else ""
            facts.append(
                f"<dt>Window</dt><dd>{column}from {_e(_fmt_time(window.get('start')))} "
                f"to {_e(_fmt_time(window.get('end')))}</dd>"
            )
    settings = doc.get("settings")
    if isinstance(settings, Mapping):
        bits = []
        for kind in ("numerical", "categorical"):
            setting = settings.get(kind)
            if isinstance(setting, Mapping) and setting.get("method"):
                op = "<" if setting["method"] in P_VALUE_METHODS else ">"
                bits.append(
                    f"{kind} {_e(setting['method'])} {_e(op)} {fmt_num(setting.get('threshold'))}"
                )
        if _finite(settings.get("significance")):
            bits.append(f"significance {fmt_num(settings['significance'])}")
        if settings.get("correction"):
            bits.append(f"correction {_e(settings['correction'])}")
        if _finite(settings.get("missingThreshold")):
            bits.append(f"missing-rate threshold {fmt_num(settings['missingThreshold'])}")
        overrides = settings.get("overrides")
        if isinstance(overrides, list) and overrides:
            bits.append(
                f"{len(overrides)} per-feature override{'s' if len(overrides) != 1 else ''}"
            )
        if bits:
            facts.append(f"<dt>Detection</dt><dd>{' · '.join(bits)}</dd>")
    run = [f"generated {_e(_fmt_time(doc.get('generatedAt')))}"]
    if _finite(doc.get("durationSeconds")):
        run.append(f"took {_fmt_duration(doc['durationSeconds'])}")
    if doc.get("driftwardenVersion"):
        run.append(f"driftwarden {_e(doc['driftwardenVersion'])}")
    facts.append(f"<dt>Run</dt><dd>{' · '.join(run)}</dd>")
    return (
        f'<header class="verdict {"bad" if bad else "ok"}">'
        f'<p class="eyebrow">Data drift report{who}</p>'
        f'<h1 id="verdict">{_e(verdict)}</h1>'
        f"{_signal_badges(doc)}"
        f'<p class="lead">{lead}</p>'
        f"{_share_meter(dataset['driftShare'], threshold if _finite(threshold) else None, drifted)}"
        f'<dl class="facts">{"".join(facts)}</dl></header>'
    )


def _signal_badges(doc: Mapping[str, Any]) -> str:
    """One badge per judged signal, when the report judged more than the features."""
    judged = signals(doc)
    if len(judged) < 2:
        return ""
    badges = "".join(
        f'<li class="signal {"bad" if s.fired else "ok"}" data-signal="{_e(s.key)}">'
        f'{_e(s.label)} <span class="badge {"bad" if s.fired else "ok"}">'
        f"{'alert' if s.fired else 'ok'}</span></li>"
        for s in judged
    )
    return f'<ul class="signals" id="signals">{badges}</ul>'


_SEVERITY_ORDER: dict[Any, int] = {"error": 0, "warning": 1, "info": 2}


def _findings(doc: Mapping[str, Any], anchors: Mapping[str, str]) -> str:
    findings = [f for f in doc.get("findings") or [] if isinstance(f, Mapping)]
    if not findings:
        return '<section id="findings"><h2>Findings</h2><p class="none">No findings.</p></section>'
    findings.sort(key=lambda f: _SEVERITY_ORDER.get(f.get("severity"), 3))
    items = []
    for f in findings:
        severity = str(f.get("severity", "info"))
        feature = f.get("feature")
        where = ""
        if feature is not None:
            anchor = anchors.get(feature)
            name = _e(feature)
            where = (
                f'<a href="#{_e(anchor)}">{name}</a>: ' if anchor else f"<strong>{name}</strong>: "
            )
        items.append(
            f'<li class="finding {_e(severity)}"><span class="sev">{_e(severity)}</span> '
            f"<code>{_e(f.get('code', ''))}</code> {where}{_e(f.get('message', ''))}</li>"
        )
    counts = {s: sum(1 for f in findings if f.get("severity") == s) for s in _SEVERITY_ORDER}
    summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    return (
        f'<section id="findings"><h2>Findings <span class="count">({summary})</span></h2>'
        f'<ul class="findings">{"".join(items)}</ul></section>'
    )


_COLUMNS = (
    ("Feature", "str"),
    ("Kind", "str"),
    ("Method", "str"),
    ("Score", "num"),
    ("Threshold", "num"),
    ("× threshold", "num"),
    ("p-value", "num"),
    ("Missing (ref → cur)", "num"),
    ("Status", "num"),
)


def _table(
    features: Sequence[Mapping[str, Any]],
    anchors: Mapping[str, str],
    ratios: Sequence[float | None],
) -> str:
    if not features:
        return (
            '<section id="features"><h2>Features</h2>'
            '<p class="none">No features were compared.</p></section>'
        )
    head = sortable_head(_COLUMNS)
    rows = []
    for rank, f in enumerate(features):
        name = str(f["name"])
        anchor = anchors.get(name)
        cell = f'<a href="#{_e(anchor)}">{_e(name)}</a>' if anchor else _e(name)
        ratio = ratios[rank]
        p, p_source = _p_value(f)
        p_title = f' title="{_e(p_source)}"' if p_source and p is not None else ""
        missing, missing_key = _missing_text(f)
        rows.append(
            f'<tr class="{"bad" if f.get("drifted") else "ok"}">'
            f'<th scope="row" data-v="{_e(name.lower())}">{cell}</th>'
            f"<td>{_e_word(f['kind'])}</td><td>{_e_word(f['method'])}</td>"
            f'<td class="num" data-v="{_sort_value(f.get("score"))}">{fmt_num(f.get("score"))}</td>'
            f'<td class="num" data-v="{_sort_value(f.get("threshold"))}">{_threshold_text(f)}</td>'
            f'<td class="num" data-v="{_sort_value(ratio)}">'
            f"{fmt_num(ratio, 3) if ratio is not None and math.isfinite(ratio) else DASH}</td>"
            f'<td class="num" data-v="{_sort_value(p)}"{p_title}>{fmt_num(p, 3)}</td>'
            f'<td class="num" data-v="{_sort_value(missing_key)}">{missing}</td>'
            f'<td data-v="{rank}">{_badge(f)}</td></tr>'
        )
    return (
        f'<section id="features"><h2>Features <span class="count">({len(features):,})</span></h2>'
        '<p class="hint">Most drifted first. Select a column header to sort; '
        "select a feature to see its distributions.</p>"
        f'<div class="scroll"><table class="features sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _stats_table(feature: Mapping[str, Any]) -> str:
    ref, cur = feature.get("reference"), feature.get("current")
    ref = ref if isinstance(ref, Mapping) else {}
    cur = cur if isinstance(cur, Mapping) else {}
    columns = [
        (key, label)
        for key, label in (
            ("rows", "rows"),
            ("nulls", "nulls"),
            ("nan", "NaN"),
            ("inf", "±∞"),
            ("mean", "mean"),
            ("std", "std"),
            ("min", "min"),
            ("max", "max"),
            ("distinct", "distinct"),
        )
        if _finite(ref.get(key)) or _finite(cur.get(key))
    ]
    if not columns:
        return ""
    head = "".join(f'<th scope="col">{label}</th>' for _, label in columns)
    body = "".join(
        f'<tr><th scope="row"><span class="swatch {cls}"></span>{side}</th>'
        + "".join(f'<td class="num">{fmt_num(stats.get(key))}</td>' for key, _ in columns)
        + "</tr>"
        for side, cls, stats in (("reference", "ref", ref), ("current", "cur", cur))
    )
    return (
        f'<table class="stats"><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _feature_section(feature: Mapping[str, Any], slug: str) -> str:
    name = str(feature["name"])
    meta = [_e(feature["kind"])]
    score = f"{_e(feature['method'])} {fmt_num(feature.get('score'))} ({_threshold_text(feature)})"
    meta.append(score)
    if _finite(feature.get("pValue")):
        meta.append(f"p = {fmt_num(feature['pValue'], 3)}{_raw_p_text(feature)}")
    sig = feature.get("significance")
    if isinstance(sig, Mapping) and _finite(sig.get("pValue")):
        alpha = f" (alpha {fmt_num(sig['alpha'])})" if _finite(sig.get("alpha")) else ""
        meta.append(
            f"{_e(sig.get('test') or 'test')} p = {fmt_num(sig['pValue'], 3)}"
            f"{_raw_p_text(sig)}{alpha}"
        )
    missing = feature.get("missing")
    if isinstance(missing, Mapping):
        flag = " — drifted" if missing.get("drifted") else ""
        meta.append(
            f"missing {fmt_pct(missing.get('reference'))} → {fmt_pct(missing.get('current'))}"
            f" (h = {fmt_num(missing.get('score'), 3)}, threshold {fmt_num(missing.get('threshold'))})"
            f"{flag}"
        )
    plot = render_plot(feature, slug)
    if not plot:
        plot = '<p class="none">No distribution data for this feature.</p>'
    notes = []
    dist = feature.get("distribution")
    if (
        isinstance(dist, Mapping)
        and dist.get("type") == "categories"
        and _finite(dist.get("unseen"))
    ):
        notes.append(
            f"{fmt_num(dist['unseen'])} current rows hold values that never occur in the reference."
        )
    if feature.get("exact") is False:
        bound = feature.get("errorBound")
        text = "Scores are approximate (computed from uniform samples and sketches)"
        if isinstance(bound, Mapping):
            parts = [
                f"{_e(k)} ± {fmt_num(v, 3)}"
                for k, v in bound.items()
                if k != "confidence" and _finite(v)
            ]
            if parts:
                text += ": " + ", ".join(parts)
            if _finite(bound.get("confidence")):
                text += f" (at {fmt_pct(bound['confidence'])} confidence)"
            if isinstance(bound.get("note"), str):
                text += f". {_e(bound['note'])}"
        notes.append(text + ("" if text.endswith(".") else "."))
    scores = feature.get("scores")
    all_scores = ""
    if isinstance(scores, Mapping) and scores:
        cells = "".join(
            f"<div><dt>{_e(k)}</dt><dd>{fmt_num(v)}</dd></div>" for k, v in scores.items()
        )
        all_scores = f'<dl class="scores">{cells}</dl>'
    return (
        f'<section class="feature {"bad" if feature.get("drifted") else "ok"}" id="details-{_e(slug)}">'
        f'<h3><span class="fname">{_e(name)}</span> {_badge(feature)}</h3>'
        f'<p class="meta">{" · ".join(meta)}</p>'
        f'<div class="plot">{plot}</div>'
        f"{_stats_table(feature)}"
        f"{all_scores}"
        + "".join(f'<p class="note">{n}</p>' for n in notes)
        + '<p class="top"><a href="#features">↑ features</a></p></section>'
    )


# ---------------------------------------------------------------- page

_CSS = (
    f":root{{--ref:{REFERENCE_COLOUR};--cur:{CURRENT_COLOUR};"
    + """--bad:#b3261e;--bad-bg:#fdecea;--ok:#1b6e3a;--ok-bg:#e7f4ec;
--warn:#8a5a00;--warn-bg:#fff4dc;--fg:#1d2330;--muted:#5b6475;--line:#dfe3ea;--bg:#fff;--alt:#f6f8fb}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:24px 28px 64px}
h1{font-size:30px;margin:2px 0 6px;line-height:1.2}
h2{font-size:20px;margin:36px 0 10px;border-bottom:1px solid var(--line);padding-bottom:6px}
h3{font-size:17px;margin:0 0 4px;word-break:break-word}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
a{color:#1f5fbf}
.count{color:var(--muted);font-weight:normal;font-size:15px}
.verdict{border-radius:10px;padding:18px 22px;border-left:8px solid}
.verdict.bad{background:var(--bad-bg);border-color:var(--bad)}
.verdict.ok{background:var(--ok-bg);border-color:var(--ok)}
.verdict.bad h1{color:var(--bad)}.verdict.ok h1{color:var(--ok)}
.signals{list-style:none;display:flex;flex-wrap:wrap;gap:6px 16px;padding:0;margin:0 0 8px}
.eyebrow{margin:0;color:var(--muted);font-size:13px;text-transform:uppercase;letter-spacing:.04em}
.lead{margin:0 0 8px;font-size:17px}
.share-meter .track{fill:#fff;stroke:var(--line)}.share-meter .fill-bad{fill:var(--bad)}
.share-meter .fill-ok{fill:var(--ok)}.share-meter .mark{stroke:var(--fg);stroke-width:2}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:12px 0 0;font-size:14px}
.facts dt{color:var(--muted)}.facts dd{margin:0;word-break:break-all}
.uri{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.findings{list-style:none;padding:0;margin:0}
.finding{padding:7px 10px;border-radius:6px;margin:4px 0;background:var(--alt);word-break:break-word}
.finding .sev{display:inline-block;min-width:62px;font-size:12px;font-weight:600;text-transform:uppercase}
.finding.error{background:var(--bad-bg)}.finding.error .sev{color:var(--bad)}
.finding.warning{background:var(--warn-bg)}.finding.warning .sev{color:var(--warn)}
.finding.info .sev{color:var(--muted)}
.none,.hint,.note{color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse}
table.features{width:100%;font-size:14px}
.features th,.features td{padding:5px 9px;border-bottom:1px solid var(--line);text-align:left;
vertical-align:top}
.features tbody th{font-weight:500;word-break:break-word;max-width:320px}
.features tbody tr:nth-child(even){background:var(--alt)}
.features thead th{position:sticky;top:0;background:var(--bg);border-bottom:2px solid var(--line);
white-space:nowrap}
.features button{font:inherit;font-weight:600;border:0;background:none;padding:0;cursor:pointer;
color:var(--fg)}
th[aria-sort=ascending] button::after{content:" ▲"}th[aria-sort=descending] button::after{content:" ▼"}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;
line-height:20px}
.badge.bad{background:var(--bad);color:#fff}.badge.ok{background:var(--ok-bg);color:var(--ok)}
.why{color:var(--muted);font-size:12px}
.features td:last-child{white-space:nowrap}
.feature{border:1px solid var(--line);border-radius:10px;padding:14px 18px;margin:14px 0}
.feature.bad{border-left:6px solid var(--bad)}
.meta{margin:0 0 6px;color:var(--muted);font-size:14px}
.plot svg{width:100%;max-width:920px;height:auto;display:block}
.dist-plot text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:var(--fg)}
.dist-plot .ytick{text-anchor:end;fill:var(--muted)}
.dist-plot .xtick{text-anchor:middle;fill:var(--muted)}
.dist-plot .xtick.rot{text-anchor:end}
.dist-plot .axis-title{text-anchor:middle;fill:var(--muted)}
.dist-plot .grid{stroke:var(--line)}.dist-plot .axis,.dist-plot .tick{stroke:#8a93a3}
.dist-plot .ref{fill:var(--ref)}.dist-plot .cur{fill:var(--cur)}
.dist-plot g.bin:hover rect{opacity:.8}
.stats{font-size:13px;margin:8px 0}
.stats th,.stats td{padding:2px 10px;border-bottom:1px solid var(--line)}
.stats thead th{color:var(--muted);font-weight:500;text-align:right}
.stats tbody th{text-align:left;font-weight:500}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
.swatch.ref{background:var(--ref)}.swatch.cur{background:var(--cur)}
.scores{display:flex;flex-wrap:wrap;gap:4px 18px;margin:6px 0;font-size:13px}
.scores div{display:flex;gap:6px}.scores dt{color:var(--muted)}.scores dd{margin:0}
.top{margin:4px 0 0;font-size:13px}
footer{margin-top:40px;color:var(--muted);font-size:13px}
@media print{.features button{pointer-events:none}.top{display:none}.feature{break-inside:avoid}}
"""
)

# Sorts the feature table when a column header is selected; the page works without it.
_JS = """
(function(){
document.documentElement.classList.add("js");
var tables=document.querySelectorAll("table.sortable");
Array.prototype.forEach.call(tables,function(table){
var heads=table.tHead.rows[0].cells;
Array.prototype.forEach.call(heads,function(th,col){
var button=th.querySelector("button");
if(!button){return;}
button.addEventListener("click",function(){
var asc=th.getAttribute("aria-sort")!=="ascending";
Array.prototype.forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
th.setAttribute("aria-sort",asc?"ascending":"descending");
var num=button.getAttribute("data-type")==="num";
var body=table.tBodies[0];
var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(r1,r2){
var a=r1.cells[col].getAttribute("data-v")||"",b=r2.cells[col].getAttribute("data-v")||"";
if(a===""||b===""){return a===b?0:(a===""?1:-1);}
var d=num?parseFloat(a)-parseFloat(b):(a<b?-1:(a>b?1:0));
return asc?d:-d;});
var frag=document.createDocumentFragment();
rows.forEach(function(r){frag.appendChild(r);});
body.appendChild(frag);});});});
})();
"""


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src '$style_hash'; script-src '$script_hash'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="color-scheme" content="light">
<meta name="generator" content="driftwarden $version">
<title>$title</title>
<style>$css</style>
</head>
<body>
<main>
$body
<footer>$footer</footer>
</main>
<script>$js</script>
</body>
</html>
"""
)


def sortable_head(columns: Sequence[tuple[str, str]]) -> str:
    """Header cells of a table SORT_SCRIPT sorts: (label, data type) per column."""
    return "".join(
        f'<th scope="col"><button type="button" data-type="{kind}">{_e(label)}</button></th>'
        for label, kind in columns
    )


def html_page(*, title: str, version: str, body: str, footer: str, css: str, js: str) -> str:
    """A self-contained page: ``css`` and ``js`` inline and pinned by hash in its
    Content-Security-Policy, which forbids loading anything. ``title``, ``version``,
    ``body`` and ``footer`` must already be escaped HTML."""
    return _PAGE.substitute(
        title=title,
        version=version,
        css=css,
        js=js,
        style_hash=_sha256(css),
        script_hash=_sha256(js),
        body=body,
        footer=footer,
    )


# Shared with the history page (driftwarden.history.page), which draws in the same style
# rather than copying these.
escape_text = _e
format_time = _fmt_time
nice_max = _nice_max
short_text = _short
PAGE_CSS = _CSS
SORT_SCRIPT = _JS


def plotted_count(features: Sequence[Mapping[str, Any]], max_plots: int, top: int) -> int:
    """How many of the features (most drifted first) get a plot: the drifted ones, at most
    ``max_plots``, and never fewer than ``top`` (or all, when there are fewer)."""
    drifted = sum(1 for f in features if f.get("drifted"))
    return min(len(features), max(min(drifted, max_plots), top))


def render_html(
    doc: Mapping[str, Any], *, max_plots: int = MAX_PLOTS, top_plots: int = TOP_PLOTS
) -> str:
    """The report as one self-contained HTML page (validated first; raises ReportError if invalid).

    Plots are drawn for the drifted features (at most ``max_plots``) and at least the
    ``top_plots`` most drifted ones; the page says so when it leaves features out, and
    the feature table lists every feature. The page's size and the time to build it
    grow linearly with the features. Each plot is an ``<svg class="dist-plot">`` with
    id ``feature-<slug>`` (see :func:`feature_slugs`); each feature's details section
    has id ``details-<slug>``.
    """
    # The model sections live in modules of their own, which import this one.
    from driftwarden.report.performance_html import performance_html

    # The model sections read this module's formatting helpers: imported here, not at the top.
    from driftwarden.report.predictions_html import predictions_section
    from driftwarden.report.rootcause_html import ROOT_CAUSE_CSS, root_cause_html

    doc = prepare_report(doc)  # once per report when the caller prepared it already
    features, ratios = ranked_features(doc)
    slugs = feature_slugs([f["name"] for f in features])
    plotted = features[: plotted_count(features, max_plots, top_plots)]
    anchors = {f["name"]: f"details-{slugs[i]}" for i, f in enumerate(plotted)}

    if not features:
        plots = ""
    else:
        intro = ""
        if len(features) > len(plotted):
            intro = (
                f'<p class="hint" id="plots-limited">Distributions are shown for the '
                f"{len(plotted):,} most drifted of {len(features):,} features; the table "
                "above lists them all (select a column header to sort it), and the JSON "
                "report holds every distribution.</p>"
            )
        sections = "".join(_feature_section(f, slugs[i]) for i, f in enumerate(plotted))
        plots = (
            f'<section id="distributions"><h2>Distributions</h2>{intro}'
            f'<p class="hint"><span class="swatch ref"></span>reference '
            f'<span class="swatch cur"></span>current — share of rows in each bin or category.</p>'
            f"{sections}</section>"
        )

    monitor = doc.get("monitor")
    subject = ""
    if isinstance(monitor, Mapping) and monitor.get("name"):
        subject = f" · {monitor['name']}" + (
            f" ({monitor['namespace']})" if monitor.get("namespace") else ""
        )
    verdict = headline(doc)
    version = str(doc.get("driftwardenVersion") or "")
    return html_page(
        title=_e(f"{verdict}{subject} · driftwarden report"),
        version=_e(version),
        body="\n".join(
            (
                _header(doc),
                root_cause_html(doc, anchors),  # first: what explains the move
                performance_html(doc),
                _findings(doc, anchors),
                predictions_section(doc),
                multivariate_section(doc, fmt_num),
                _table(features, anchors, ratios),
                plots,
            )
        ),
        footer=f"Report schema {_e(doc['schemaVersion'])} · generated by driftwarden {_e(version)}.",
        css=_CSS + ROOT_CAUSE_CSS,
        js=_JS,
    )
