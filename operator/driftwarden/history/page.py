"""The self-contained HTML trend page of a monitor's runs (history.html).

Drawn from the trend model (:func:`~driftwarden.history.trends.build_trends`) in the
report page's style and under its Content-Security-Policy (no external resource,
style and script pinned by hash; :mod:`driftwarden.report.html` supplies the
formatting, the CSS and the table-sorting script). What it shows:

* the drift share of every run against the dataset threshold, each point linking to
  that run's report, failed runs marked with a cross, retraining starts with a line;
* a heatmap of the most drifted features × runs (colour: how far past its threshold);
* small multiples of the most drifted features' scores against their thresholds;
* a sortable table of every feature (browsable at 1,000 and more) and one of the runs.

The page's size grows with features × runs only through the table's text strips
(one character per run); the plots are bounded by :data:`HEATMAP_ROWS` and
:data:`SMALL_MULTIPLES`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import driftwarden
from driftwarden.history.record import FAILED
from driftwarden.report.document import P_VALUE_METHODS
from driftwarden.report.html import (
    DASH,
    PAGE_CSS,
    SORT_SCRIPT,
    feature_slugs,
    fmt_num,
    fmt_pct,
    format_time,
    html_page,
    nice_max,
    short_text,
    sortable_head,
)
from driftwarden.report.html import escape_text as _e
from driftwarden.report.performance_summary import performance_text

HEATMAP_ROWS = 40
SMALL_MULTIPLES = 12
_W = 760

_CSS = (
    PAGE_CSS
    + """
.trend text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:var(--fg)}
.trend .ytick{text-anchor:end;fill:var(--muted)}.trend .xtick{text-anchor:middle;fill:var(--muted)}
.trend .grid{stroke:var(--line)}.trend .axis{stroke:#8a93a3}
.trend .line{fill:none;stroke:#5b6475;stroke-width:1.5}
.trend .limit{stroke:var(--fg);stroke-dasharray:5 4;fill:none}
.trend .pt.bad{fill:var(--bad)}.trend .pt.ok{fill:var(--ok)}
.trend .run-failed path{stroke:var(--bad);stroke-width:2.5}
.trend .retraining-mark{stroke:#6f3fb5;stroke-width:2;stroke-dasharray:3 3}
.trend .retraining-flag{fill:#6f3fb5}
.trend .label{text-anchor:end}.trend .axis-title{text-anchor:middle;fill:var(--muted)}
.heatmap .c{stroke:#fff;stroke-width:.5}
.h0{fill:#eef6f0}.h1{fill:#cfe8d6}.h2{fill:#f6e7b0}.h3{fill:#f3a58f}.h4{fill:#d9503b}.h5{fill:#8f1d12}
.hn{fill:#f2f3f5}.hf{fill:#e3e5ea}
.legend-cells span{display:inline-block;width:14px;height:12px;margin:0 3px 0 10px;vertical-align:middle}
.legend-cells .h0{background:#eef6f0}.legend-cells .h1{background:#cfe8d6}
.legend-cells .h2{background:#f6e7b0}.legend-cells .h3{background:#f3a58f}
.legend-cells .h4{background:#d9503b}.legend-cells .h5{background:#8f1d12}
.legend-cells .hn{background:#f2f3f5}.legend-cells .hf{background:#e3e5ea}
.multiples{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:10px 18px}
.multiples figure{margin:0}.multiples figcaption{font-size:14px;word-break:break-word}
.multiples svg,.wide svg{width:100%;height:auto;display:block}
.strip{font:12px/1 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:-1px;white-space:nowrap}
.strip .d{color:var(--bad)}.strip .o{color:#9bc7a8}.strip .n{color:#c9ced6}
.runs td,.runs th{padding:4px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
.runs{font-size:14px;width:100%}
.badge.fail{background:#5b6475;color:#fff}.badge.retrain{background:#6f3fb5;color:#fff}
"""
)

# ---------------------------------------------------------------- shared bits


def _subject(model: Mapping[str, Any]) -> str:
    monitor = model.get("monitor")
    if isinstance(monitor, Mapping) and monitor.get("name"):
        ns = f"{monitor['namespace']}/" if monitor.get("namespace") else ""
        return f"{ns}{monitor['name']}"
    return ""


def _when(run: Mapping[str, Any]) -> str:
    return format_time(run.get("slot") or run.get("time"))


def _short_when(run: Mapping[str, Any]) -> str:
    text = str(run.get("slot") or run.get("time") or "")
    return text[5:16].replace("T", " ") if len(text) >= 16 else text


def _href(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _value(feature: Mapping[str, Any], i: int) -> Any:
    """The number a feature is judged by in run ``i``: its p-value or its score."""
    if feature.get("method") in P_VALUE_METHODS:
        return (feature.get("pValue") or [None] * (i + 1))[i]
    return feature["score"][i]


def _x_positions(n: int, left: float, width: float) -> list[float]:
    step = width / max(n, 1)
    return [left + (i + 0.5) * step for i in range(n)]


def _x_ticks(runs: Sequence[Mapping[str, Any]], xs: Sequence[float], y: float) -> str:
    every = max(1, -(-len(runs) // 6))
    return "".join(
        f'<text class="xtick" x="{xs[i]:.1f}" y="{y:.1f}">{_e(_short_when(runs[i]))}</text>'
        for i in range(0, len(runs), every)
    )


def _y_grid(top: float, step: float, y: Any, left: float, right: float, fmt: Any) -> str:
    out = []
    for k in range(round(top / step) + 1):
        ty = y(k * step)
        out.append(
            f'<line class="grid" x1="{left}" x2="{right}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="ytick" x="{left - 6}" y="{ty + 4:.1f}">{fmt(k * step)}</text>'
        )
    return "".join(out)


# ---------------------------------------------------------------- drift share


def share_plot(model: Mapping[str, Any]) -> str:
    """Drift share per run (points link to the run's report), the dataset threshold,
    failed runs (crosses) and retraining starts (vertical lines), as inline SVG."""
    runs = model["runs"]
    left, right, top_pad, plot_h = 56, 16, 26, 180
    height = top_pad + plot_h + 40
    x0, y0 = left, top_pad + plot_h
    xs = _x_positions(len(runs), left, _W - left - right)

    def y(share: float) -> float:
        return y0 - plot_h * min(max(share, 0.0), 1.0)

    out = [
        f'<svg id="share-plot" class="trend" role="img" viewBox="0 0 {_W} {height}" '
        f'width="{_W}" height="{height}" aria-labelledby="share-title">'
        '<title id="share-title">Share of drifted features in each run</title>',
        _y_grid(1.0, 0.25, y, x0, _W - right, fmt_pct),
        f'<line class="axis" x1="{x0}" x2="{_W - right}" y1="{y0}" y2="{y0}"/>',
        _x_ticks(runs, xs, y0 + 18),
    ]
    for run in runs:
        for job in run["retrainingStarted"]:
            x = xs[run["index"]]
            out.append(
                f'<g class="retraining"><title>retraining Job {_e(job)} started after run '
                f'{_e(run["run"])}</title><line class="retraining-mark" x1="{x:.1f}" '
                f'x2="{x:.1f}" y1="{top_pad - 8}" y2="{y0}"/><path class="retraining-flag" '
                f'd="M{x:.1f} {top_pad - 14}l7 3.5l-7 3.5z"/></g>'
            )
    thresholds = [r["driftThreshold"] for r in runs if r.get("driftThreshold") is not None]
    if thresholds:
        ty = y(thresholds[-1])
        out.append(
            f'<line class="limit" x1="{x0}" x2="{_W - right}" y1="{ty:.1f}" y2="{ty:.1f}">'
            f"<title>dataset threshold {fmt_pct(thresholds[-1])}</title></line>"
        )
    points = [r for r in runs if r["outcome"] != FAILED and r.get("driftShare") is not None]
    if len(points) > 1:
        line = " ".join(f"{xs[r['index']]:.1f},{y(r['driftShare']):.1f}" for r in points)
        out.append(f'<polyline class="line" points="{line}"/>')
    for run in runs:
        x = xs[run["index"]]
        if run["outcome"] == FAILED:
            out.append(
                f'<g class="run-failed"><title>{_e(_when(run))} · run {_e(run["run"])} failed: '
                f"{_e(run.get('reason') or '')} {_e(run.get('message') or '')}</title>"
                f'<path d="M{x - 5:.1f} {y0 - 13:.1f}l10 10m0 -10l-10 10"/></g>'
            )
            continue
        if run.get("driftShare") is None:
            continue
        title = (
            f"{_when(run)} · run {run['run']}: {'drift' if run.get('drifted') else 'no drift'}, "
            f"{run.get('driftedFeatures')} of {run.get('totalFeatures')} features "
            f"({fmt_pct(run['driftShare'])})"
        )
        circle = (
            f'<circle class="pt run-point {"bad" if run.get("drifted") else "ok"}" '
            f'cx="{x:.1f}" cy="{y(run["driftShare"]):.1f}" r="4.5"><title>{_e(title)}</title></circle>'
        )
        href = _href(run.get("reportHtmlLink"))
        out.append(f'<a href="{_e(href)}">{circle}</a>' if href else circle)
    out.append(
        f'<text class="axis-title" transform="translate(14 {top_pad + plot_h / 2:.0f}) rotate(-90)">'
        "features drifted</text></svg>"
    )
    return "".join(out)


# ---------------------------------------------------------------- heatmap


def _cell_class(drifted: Any, ratio: Any) -> str:
    if drifted is None:
        return "hn"
    r = ratio if isinstance(ratio, (int, float)) else None
    if drifted:
        return "h3" if r is None or r < 2 else ("h4" if r < 4 else "h5")
    return "h0" if r is None or r < 0.5 else ("h1" if r < 0.8 else "h2")


def heatmap(model: Mapping[str, Any], slugs: Mapping[str, str]) -> str:
    """Features × runs (the :data:`HEATMAP_ROWS` most drifted), coloured by how far past
    its threshold each feature was in each run, as inline SVG."""
    runs, features = model["runs"], model["features"][:HEATMAP_ROWS]
    n = len(runs)
    label_w, row_h, head = 200, 16, 24
    cell_w = max(4.0, min(36.0, (_W - label_w - 10) / max(n, 1)))
    width = label_w + cell_w * n + 10
    height = head + row_h * len(features) + 8
    out = [
        f'<svg id="heatmap" class="trend heatmap" role="img" viewBox="0 0 {width:.0f} {height}" '
        f'width="{width:.0f}" height="{height}"><title>Features by run: how far past its '
        "threshold each feature was</title>"
    ]
    for run in runs:
        x = label_w + run["index"] * cell_w
        if run["outcome"] == FAILED:
            out.append(
                f'<g class="run-failed"><title>run {_e(run["run"])} failed</title>'
                f'<path d="M{x + cell_w / 2 - 4:.1f} 6l8 8m0 -8l-8 8"/></g>'
            )
        if run["retrainingStarted"]:
            out.append(
                f'<path class="retraining-flag" d="M{x + cell_w / 2 - 4:.1f} 4h8l-4 7z">'
                f"<title>retraining started after run {_e(run['run'])}</title></path>"
            )
    for row, feature in enumerate(features):
        y = head + row * row_h
        name = str(feature["name"])
        label = _e(short_text(name, 28, middle=True))
        anchor = slugs.get(name)
        text = f'<text class="label" x="{label_w - 8}" y="{y + 12}">{label}<title>{_e(name)}</title></text>'
        out.append(f'<a href="#trend-{_e(anchor)}">{text}</a>' if anchor else text)
        for i, run in enumerate(runs):
            cls = (
                "hf"
                if run["outcome"] == FAILED
                else _cell_class(feature["drifted"][i], feature["ratio"][i])
            )
            value = _value(feature, i)
            what = "p-value" if feature.get("method") in P_VALUE_METHODS else "score"
            tip = f"{name} · {_short_when(run)}: " + (
                "run failed"
                if cls == "hf"
                else "not compared"
                if cls == "hn"
                else f"{what} {fmt_num(value)}, threshold {fmt_num(feature['threshold'][i])}"
                + (" — drifted" if feature["drifted"][i] else "")
            )
            out.append(
                f'<rect class="c {cls}" x="{label_w + i * cell_w:.1f}" y="{y}" '
                f'width="{cell_w:.1f}" height="{row_h}"><title>{_e(tip)}</title></rect>'
            )
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- small multiples


def feature_trend(model: Mapping[str, Any], feature: Mapping[str, Any], slug: str) -> str:
    """One feature's score (p-value for p-value methods) per run against its threshold."""
    runs = model["runs"]
    w, left, right, top_pad, plot_h = 360, 46, 8, 8, 90
    height = top_pad + plot_h + 22
    y0 = top_pad + plot_h
    xs = _x_positions(len(runs), left, w - left - right)
    values = [_value(feature, i) for i in range(len(runs))]
    thresholds = feature["threshold"]
    known = [v for v in [*values, *thresholds] if isinstance(v, (int, float))]
    top, step = nice_max(max(known) * 1.05 if known else 1.0)

    def y(value: float) -> float:
        return y0 - plot_h * min(max(value, 0.0), top) / top

    what = "p-value" if feature.get("method") in P_VALUE_METHODS else "score"
    out = [
        f'<svg id="trend-{_e(slug)}" class="trend feature-trend" role="img" '
        f'viewBox="0 0 {w} {height}" width="{w}" height="{height}">'
        f"<title>{_e(feature['name'])}: {what} per run against its threshold</title>",
        _y_grid(top, step, y, left, w - right, fmt_num),
        f'<line class="axis" x1="{left}" x2="{w - right}" y1="{y0}" y2="{y0}"/>',
    ]
    limit = [
        f"{xs[i]:.1f},{y(t):.1f}" for i, t in enumerate(thresholds) if isinstance(t, (int, float))
    ]
    if len(limit) == 1:
        ty = limit[0].split(",")[1]
        out.append(f'<line class="limit" x1="{left}" x2="{w - right}" y1="{ty}" y2="{ty}"/>')
    elif limit:
        out.append(f'<polyline class="limit" points="{" ".join(limit)}"/>')
    line = [f"{xs[i]:.1f},{y(v):.1f}" for i, v in enumerate(values) if isinstance(v, (int, float))]
    if len(line) > 1:
        out.append(f'<polyline class="line" points="{" ".join(line)}"/>')
    for i, v in enumerate(values):
        if not isinstance(v, (int, float)):
            continue
        drifted = bool(feature["drifted"][i])
        out.append(
            f'<circle class="pt {"bad" if drifted else "ok"}" cx="{xs[i]:.1f}" cy="{y(v):.1f}" '
            f'r="3"><title>{_e(_short_when(runs[i]))}: {what} {fmt_num(v)}, threshold '
            f"{fmt_num(thresholds[i])}{' — drifted' if drifted else ''}</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- tables


def _strip(feature: Mapping[str, Any]) -> str:
    """One character per run (drifted, not, not compared); a span per stretch of one kind,
    so a row costs ~3 bytes a run, not a tag each."""
    marks = {True: ("d", "█"), False: ("o", "▁"), None: ("n", "·")}
    kinds = (None if flag is None else bool(flag) for flag in feature["drifted"])
    out = []
    for kind, group in itertools.groupby(kinds):
        cls, char = marks[kind]
        out.append(f'<span class="{cls}">{char * len(list(group))}</span>')
    return f'<span class="strip">{"".join(out)}</span>'


def _num_cell(value: Any, text: str | None = None) -> str:
    key = repr(float(value)) if isinstance(value, (int, float)) else ""
    return f'<td class="num" data-v="{key}">{text if text is not None else fmt_num(value)}</td>'


def feature_table(model: Mapping[str, Any], slugs: Mapping[str, str]) -> str:
    """Every feature, most drifted first, sortable; names link to their plot when drawn."""
    features = model["features"]
    if not features:
        return '<section id="features"><h2>Features</h2><p class="none">No run compared any feature.</p></section>'
    columns = (
        ("Feature", "str"),
        ("Kind", "str"),
        ("Method", "str"),
        ("Threshold", "num"),
        ("Drifted in", "num"),
        ("Latest score", "num"),
        ("Latest × threshold", "num"),
        ("Worst × threshold", "num"),
        ("Runs (oldest → newest)", "num"),
    )
    head = sortable_head(columns)
    rows = []
    for rank, f in enumerate(features):
        name = str(f["name"])
        slug = slugs.get(name)
        cell = f'<a href="#trend-{_e(slug)}">{_e(name)}</a>' if slug else _e(name)
        latest = _value(f, f["latestRun"])
        rows.append(
            f'<tr class="{"bad" if f["drifted"][f["latestRun"]] else "ok"}">'
            f'<th scope="row" data-v="{_e(name.lower())}">{cell}</th>'
            f"<td>{_e(f['kind'])}</td><td>{_e(f['method'])}</td>"
            + _num_cell(f.get("latestThreshold"))
            + _num_cell(f["driftedRuns"], f"{f['driftedRuns']:,} of {f['comparedRuns']:,}")
            + _num_cell(latest)
            + _num_cell(f.get("latestRatio"), fmt_num(f.get("latestRatio"), 3))
            + _num_cell(f.get("maxRatio"), fmt_num(f.get("maxRatio"), 3))
            + f'<td data-v="{rank}">{_strip(f)}</td></tr>'
        )
    return (
        f'<section id="features"><h2>All features <span class="count">({len(features):,})</span></h2>'
        '<p class="hint">Most drifted first: by runs drifted, then how far past the threshold in the '
        "latest run. Select a column header to sort. Latest score is the p-value for p-value "
        "methods (drifted below the threshold).</p>"
        f'<div class="scroll"><table class="features sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def runs_table(model: Mapping[str, Any]) -> str:
    """The runs, newest first, with their verdicts and links to their reports."""
    rows = []
    for run in reversed(model["runs"]):
        links = []
        for key, label in (("reportHtmlLink", "report"), ("reportLink", "JSON")):
            href = _href(run.get(key))
            if href:
                links.append(f'<a class="report-link" href="{_e(href)}">{label}</a>')
        if run["outcome"] == FAILED:
            verdict = '<span class="badge fail">failed</span>'
            detail = f"{_e(run.get('reason') or '')}: {_e(run.get('message') or '')}"
        else:
            bad = run.get("drifted")
            verdict = (
                f'<span class="badge {"bad" if bad else "ok"}">{"drift" if bad else "ok"}</span>'
            )
            detail = (
                f"{fmt_num(run.get('driftedFeatures'))} of {fmt_num(run.get('totalFeatures'))} "
                f"features ({fmt_pct(run.get('driftShare'))})"
            )
            if run.get("predictionDrifted"):  # spec.model: the model's outputs moved
                verdict += ' <span class="badge bad prediction-drift">prediction drift</span>'
                detail += "; predictions or target drifted"
            measured = run.get("performance")
            if isinstance(measured, Mapping) and measured.get("degraded"):
                verdict += ' <span class="badge bad performance-degraded">performance</span>'
            if (text := performance_text(measured)) is not None:  # spec.model: delayed labels
                detail += f'; <span class="performance">{_e(text)}</span>'
            if run.get("rootCause"):  # spec.model: what explains the move
                detail += f'; <span class="root-cause">{_e(run["rootCause"])}</span>'
        retraining = "".join(
            f' <span class="badge retrain" title="retraining Job started">retraining {_e(job)}</span>'
            for job in run["retrainingStarted"]
        )
        rows_current = (run.get("rows") or {}).get("current")
        rows.append(
            f'<tr id="run-{run["index"]}"><td>{_e(_when(run))}</td><td><code>{_e(run["run"])}</code></td>'
            f"<td>{verdict}{retraining}</td><td>{detail}</td>"
            f'<td class="num">{fmt_num(rows_current)}</td>'
            f"<td>{' · '.join(links) or DASH}</td></tr>"
        )
    return (
        f'<section id="runs"><h2>Runs <span class="count">({len(model["runs"]):,})</span></h2>'
        '<div class="scroll"><table class="runs"><thead><tr><th>Slot</th><th>Run</th><th>Verdict</th>'
        "<th>Detail</th><th>Current rows</th><th>Report</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


# ---------------------------------------------------------------- page


def _header(model: Mapping[str, Any]) -> str:
    runs = model["runs"]
    latest = next((r for r in reversed(runs) if r["outcome"] != FAILED), None)
    bad = bool(latest and latest.get("drifted"))
    who = f" · monitor <strong>{_e(_subject(model))}</strong>" if _subject(model) else ""
    succeeded = len(runs) - model["failedRuns"]
    title = (
        f"Drift in {model['driftedRuns']:,} of {succeeded:,} runs"
        if succeeded
        else "No run succeeded"
    )
    facts = [
        f"<dt>Runs</dt><dd>{model['shownRuns']:,} shown of {model['storedRuns']:,} stored"
        f" · {model['failedRuns']:,} failed · from {_e(_when(runs[0]))} to {_e(_when(runs[-1]))}</dd>",
    ]
    if latest is not None:
        facts.append(
            f"<dt>Latest run</dt><dd><code>{_e(latest['run'])}</code>: "
            f"{'drift' if bad else 'no drift'}, {fmt_num(latest.get('driftedFeatures'))} of "
            f"{fmt_num(latest.get('totalFeatures'))} features ({fmt_pct(latest.get('driftShare'))})</dd>"
        )
    marks = [m for m in model["retraining"]]
    if marks:
        facts.append(
            "<dt>Retraining</dt><dd>"
            + " · ".join(f"{_e(m['job'])} ({_e(format_time(m.get('time')))})" for m in marks)
            + "</dd>"
        )
    facts.append(f'<dt>History</dt><dd class="uri">{_e(model["history"])}</dd>')
    return (
        f'<header class="verdict {"bad" if bad else "ok"}">'
        f'<p class="eyebrow">Drift history{who}</p><h1 id="verdict">{_e(title)}</h1>'
        f'<dl class="facts">{"".join(facts)}</dl></header>'
    )


def _skipped(model: Mapping[str, Any]) -> str:
    skipped = model.get("skipped") or []
    if not skipped:
        return ""
    items = "".join(
        f'<li class="finding warning"><span class="sev">warning</span> '
        f"<code>{_e(s['name'])}</code> skipped: {_e(s['problem'])}</li>"
        for s in skipped
    )
    return (
        f'<section id="skipped"><h2>Records skipped</h2><ul class="findings">{items}</ul></section>'
    )


def render_history_html(model: Mapping[str, Any]) -> str:
    """The trend page of ``model`` (:func:`~driftwarden.history.trends.build_trends`)."""
    features = model["features"]
    drawn = features[: max(HEATMAP_ROWS, SMALL_MULTIPLES)]
    slugs_list = feature_slugs([str(f["name"]) for f in drawn])
    multiples = features[:SMALL_MULTIPLES]
    slugs = {str(f["name"]): slugs_list[i] for i, f in enumerate(multiples)}
    sections = [
        _header(model),
        _skipped(model),
        '<section id="share"><h2>Drift share over time</h2><p class="hint">Each point is a run '
        "(select it for its report); the dashed line is the dataset threshold; × a failed run; "
        'a purple line a retraining start.</p><div class="wide">'
        f"{share_plot(model)}</div></section>",
    ]
    if features:
        shown = min(len(features), HEATMAP_ROWS)
        legend = (
            '<p class="hint legend-cells">'
            '<span class="h0"></span>under ½ threshold<span class="h1"></span>under 0.8'
            '<span class="h2"></span>near it<span class="h3"></span>drifted'
            '<span class="h4"></span>2× past<span class="h5"></span>4× past'
            '<span class="hn"></span>not compared<span class="hf"></span>run failed</p>'
        )
        more = (
            f" The {shown:,} most drifted of {len(features):,} features; the table below lists all."
            if len(features) > shown
            else ""
        )
        sections.append(
            f'<section id="features-by-run"><h2>Features × runs</h2><p class="hint">Colour: how far '
            f"past its threshold each feature was in each run.{more}</p>{legend}"
            f'<div class="scroll">{heatmap(model, slugs)}</div></section>'
        )
        figures = "".join(
            f"<figure><figcaption><strong>{_e(f['name'])}</strong> · {_e(f['method'])} · drifted in "
            f"{f['driftedRuns']:,} of {f['comparedRuns']:,} runs</figcaption>"
            f"{feature_trend(model, f, slugs[str(f['name'])])}</figure>"
            for f in multiples
        )
        sections.append(
            f'<section id="trends"><h2>Most drifted features</h2><p class="hint">Score per run '
            "(p-value for p-value methods) against the threshold (dashed).</p>"
            f'<div class="multiples">{figures}</div></section>'
        )
    sections.append(feature_table(model, slugs))
    sections.append(runs_table(model))
    subject = _subject(model)
    version = driftwarden.__version__
    return html_page(
        title=_e(f"Drift history{' · ' + subject if subject else ''} · driftwarden"),
        version=_e(version),
        body="\n".join(s for s in sections if s),
        footer=f"Drift history {_e(model.get('v'))} · generated by driftwarden {_e(version)} "
        f"from {_e(model['history'])}.",
        css=_CSS,
        js=SORT_SCRIPT,
    )
