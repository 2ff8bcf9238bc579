import base64
import hashlib
import math
import re

import pytest

from driftwarden.report.document import ReportError, sort_features
from driftwarden.report.example import example_report
from driftwarden.report.html import (
    MAX_PLOTS,
    TOP_PLOTS,
    compact_labels,
    feature_slugs,
    fmt_compact,
    fmt_num,
    fmt_pct,
    render_html,
    slugify,
)
from tests.report.domparse import parse_html
from tests.report.helpers import categories, feature, histogram, report

HOSTILE = '<script>alert("x")</script>'


def _plots(dom):
    return {svg.attrs["id"]: svg for svg in dom.find_all("svg", "dist-plot")}


def _hostile_report():
    evil = feature(HOSTILE, 0.5)
    evil["distribution"] = categories(
        ["<img src=x onerror=alert(1)>", "a&b", "__other__"], [0.2, 0.3, 0.5], [0.5, 0.3, 0.2]
    )
    quoted = feature('"><svg onload=alert(1)>', 0.01)
    quoted["distribution"] = histogram([1.0], [0.5, 0.5], [0.4, 0.6])
    findings = [
        {
            "severity": "error",
            "code": "TypeChanged<b>",
            "feature": HOSTILE,
            "message": "</li><script>alert(2)</script>",
        }
    ]
    doc = report([evil, quoted], findings=findings)
    doc["monitor"] = {"name": "<i>churn</i>", "namespace": "ml"}
    doc["reference"]["uri"] = 's3://b/"><script>alert(3)</script>'
    doc["current"]["window"] = {"column": "<ts>", "start": "2026-11-22T10:00:00Z", "end": "bad<"}
    return doc


def test_everything_from_the_data_is_escaped():
    page = render_html(_hostile_report())
    assert page.count("<script") == 1  # ours, at the end
    assert "<img" not in page
    assert "<i>churn" not in page
    assert "<svg onload" not in page
    assert "<ts>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    dom = parse_html(page)
    names = [th.all_text() for th in dom.find_all("th") if th.attrs.get("scope") == "row"]
    assert HOSTILE in names
    assert '"><svg onload=alert(1)>' in names
    assert "<i>churn</i> (ml)" in dom.find_all("title")[0].all_text()


def test_no_external_resources_and_a_csp_pinning_inline_code():
    page = render_html(example_report(6))
    dom = parse_html(page)
    for node in dom.iter():
        for attr in ("src", "href", "xlink:href", "action", "data"):
            if attr in node.attrs:
                assert node.attrs[attr].startswith("#"), (node.tag, node.attrs)
    assert not dom.find_all("link") and not dom.find_all("img") and not dom.find_all("iframe")
    assert "url(" not in page and "@import" not in page
    csp = next(m.attrs["content"] for m in dom.find_all("meta") if m.attrs.get("http-equiv"))
    assert "default-src 'none'" in csp
    for tag in ("script", "style"):
        (node,) = dom.find_all(tag)
        digest = base64.b64encode(hashlib.sha256(node.all_text().encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in csp
    assert " style=" not in page  # inline style attributes would be blocked by the CSP


def test_each_plotted_feature_has_an_svg_with_bars_titles_and_legend():
    doc = example_report(6)
    dom = parse_html(render_html(doc))
    plots = _plots(dom)
    ranked = sort_features(doc["features"])
    assert list(plots) == [f"feature-{s}" for s in feature_slugs([f["name"] for f in ranked])]
    for f in ranked:
        svg = plots[f"feature-{slugify(f['name'])}"]
        bins = len(f["distribution"]["reference"])
        bars = [g for g in svg.find_all("g", "bin")]
        assert len(bars) == bins
        assert (
            len(
                [
                    r
                    for r in svg.find_all("rect", "ref")
                    if r.parent.tag == "g" and "bin" in r.parent.classes
                ]
            )
            == bins
        )
        assert len(svg.find_all("rect", "cur")) == bins + 1  # and one legend swatch
        assert svg.attrs["role"] == "img"
        title_id, desc_id = svg.attrs["aria-labelledby"].split()
        assert f["name"] in svg.children[0].all_text() and svg.children[0].attrs["id"] == title_id
        assert svg.children[1].tag == "desc" and svg.children[1].attrs["id"] == desc_id
        for bar in bars:
            assert re.search(
                r"reference [\d.]+%, current [\d.]+%", bar.find_all("title")[0].all_text()
            )
        legend = svg.find_all("g", "legend")[0].all_text()
        assert "Reference" in legend and "Current" in legend
        for rect in svg.find_all("rect"):
            assert float(rect.attrs["height"]) >= 0 and float(rect.attrs["width"]) > 0


def test_histogram_axis_shows_compact_edges_and_categories_their_labels():
    f = feature("income", 0.5)
    f["distribution"] = histogram(
        [1000.0, 25000.0, 1_500_000.0], [0.1, 0.4, 0.4, 0.1], [0.2, 0.3, 0.3, 0.2]
    )
    g = feature("plan", 0.5, kind="categorical", method="jensenshannon")
    g["distribution"] = categories(["gold", "__other__"], [0.6, 0.4], [0.3, 0.7])
    dom = parse_html(render_html(report([f, g])))
    plots = _plots(dom)
    ticks = [t.all_text() for t in plots["feature-income"].find_all("text", "xtick")]
    assert ticks == ["1k", "25k", "1.5M"]
    titles = [
        t.find_all("title")[0].all_text() for t in plots["feature-income"].find_all("g", "bin")
    ]
    assert titles[0].startswith("below 1k:") and titles[-1].startswith("1.5M and above:")
    assert titles[1].startswith("[1k, 25k):")
    labels = [t.all_text() for t in plots["feature-plan"].find_all("text", "xtick")]
    assert labels == ["gold", "(other)"]


def test_counts_are_drawn_as_shares():
    f = feature("n", 0.5)
    f["distribution"] = histogram([0.0], [300, 700], [500, 500])
    dom = parse_html(render_html(report([f])))
    ticks = [t.all_text() for t in _plots(dom)["feature-n"].find_all("text", "ytick")]
    assert ticks[-1] in {"80%", "100%"}


def test_table_lists_every_feature_most_drifted_first_with_badges():
    doc = example_report(6)
    dom = parse_html(render_html(doc))
    (table,) = dom.find_all("table", "features")
    rows = table.find_all("tbody")[0].find_all("tr")
    assert [r.find_all("th")[0].all_text() for r in rows] == [
        f["name"] for f in sort_features(doc["features"])
    ]
    headers = [b.all_text() for b in table.find_all("button")]
    assert headers[:5] == ["Feature", "Kind", "Method", "Score", "Threshold"]
    assert "p-value" in headers and "Missing (ref → cur)" in headers
    badges = [r.find_all("span", "badge")[0].all_text() for r in rows]
    assert badges == ["drifted" if f["drifted"] else "ok" for f in sort_features(doc["features"])]
    for row in rows:
        for cell in row.children:
            value = cell.attrs.get("data-v", "")
            if cell.attrs.get("class") == "num" and value:
                float(value)  # numeric sort keys parse as numbers


def test_header_states_the_verdict_share_threshold_rows_window_and_time():
    doc = example_report(6)
    dom = parse_html(render_html(doc))
    header = dom.find_all("header")[0]
    text = " ".join(header.all_text().split())
    assert dom.find_all("h1")[0].all_text() == "Drift detected"
    assert "4 of 6 features drifted (66.7%)" in text
    assert "drifted at 50%" in text
    assert "100,000 rows" in text and "24,000 rows" in text
    assert "ts from 2026-11-22 10:00:00 UTC to 2026-11-23 10:00:00 UTC" in text
    assert "generated 2026-11-23 10:00:00 UTC" in text
    assert "ml/churn" in text
    doc["dataset"]["drifted"] = False
    assert parse_html(render_html(doc)).find_all("h1")[0].all_text() == "No drift detected"


def test_header_names_a_rolling_reference_and_its_window():
    doc = example_report(6)
    doc["reference"]["source"] = "rolling"
    doc["reference"]["window"] = {
        "column": "ts",
        "start": "2026-11-21T10:00:00Z",
        "end": "2026-11-22T10:00:00Z",
    }
    header = parse_html(render_html(doc)).find_all("header")[0]
    text = " ".join(header.all_text().split())
    assert "rolling reference" in text
    assert "ts from 2026-11-21 10:00:00 UTC to 2026-11-22 10:00:00 UTC" in text
    doc["reference"]["source"] = "spec"
    spec_text = parse_html(render_html(doc)).find_all("header")[0].all_text()
    assert "rolling reference" not in spec_text and "spec reference" not in spec_text


def test_findings_are_listed_errors_first_and_link_to_their_feature():
    doc = _hostile_report()
    doc["findings"].insert(
        0, {"severity": "info", "code": "Note", "feature": None, "message": "hi"}
    )
    dom = parse_html(render_html(doc))
    items = dom.find_all("li", "finding")
    assert [sorted(i.classes - {"finding"}) for i in items] == [["error"], ["info"]]
    link = items[0].find_all("a")[0]
    assert link.all_text() == HOSTILE
    assert link.attrs["href"] == "#details-script-alert-x-script"
    assert dom.find_all(None, "feature")[0].attrs["id"] == "details-script-alert-x-script"


def test_zero_features():
    doc = report([])
    page = render_html(doc)
    dom = parse_html(page)
    assert "No features were compared." in page
    assert "No findings." in page
    assert not _plots(dom)
    assert dom.find_all("h1")[0].all_text() == "No drift detected"


def test_two_thousand_features_plot_only_the_most_drifted_and_say_so():
    doc = example_report(2000)
    assert sum(f["drifted"] for f in doc["features"]) > MAX_PLOTS == 50
    page = render_html(doc)
    dom = parse_html(page)
    plots = _plots(dom)
    assert len(plots) == MAX_PLOTS
    ranked = sort_features(doc["features"])
    assert list(plots) == [f"feature-{s}" for s in feature_slugs([f["name"] for f in ranked])[:50]]
    note = next(p for p in dom.find_all("p") if p.attrs.get("id") == "plots-limited")
    assert "50 most drifted of 2,000 features" in note.all_text()
    rows = dom.find_all("table", "features")[0].find_all("tbody")[0].find_all("tr")
    assert len(rows) == 2000
    linked = sum(1 for r in rows if r.find_all("a"))
    assert linked == 50
    ids = [n.attrs["id"] for n in dom.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids))


def test_no_nan_or_infinity_is_ever_shown():
    f = feature("x", math.nan, drifted=False, pValue=math.inf)
    f["scores"] = {"psi": math.nan, "ks": math.inf}
    f["reference"] = {"rows": 10, "mean": math.nan, "std": math.inf, "min": -math.inf}
    f["missing"] = {"reference": math.nan, "current": 0.5, "score": math.inf, "threshold": 0.1}
    f["distribution"] = histogram([0.0], [0.5, 0.5], [0.0, 1.0])
    f["significance"] = {"test": "ks", "pValue": math.nan, "alpha": 0.01}
    page = render_html(report([f], durationSeconds=math.inf))
    assert not re.search(r"\b(nan|inf|infinity)\b", page, re.IGNORECASE)


def test_features_without_or_with_broken_distributions_render_without_a_plot():
    plain = feature("plain", 0.5)
    dom = parse_html(render_html(report([plain])))
    assert not _plots(dom)
    assert "No distribution data" in dom.all_text()


def test_duplicate_slugs_get_suffixes():
    assert slugify("Préço (€)") == "préço"
    assert slugify("<>") == "feature"
    assert feature_slugs(["a b", "a-b", "A B", "!!"]) == ["a-b", "a-b-2", "a-b-3", "feature"]
    doc = report([feature("a b", 0.5), feature("a-b", 0.4)])
    for f in doc["features"]:
        f["distribution"] = histogram([0.0], [0.5, 0.5], [0.2, 0.8])
    assert set(_plots(parse_html(render_html(doc)))) == {"feature-a-b", "feature-a-b-2"}


def test_invalid_reports_are_refused():
    with pytest.raises(ReportError, match="schemaVersion"):
        render_html({"schemaVersion": "x"})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (math.nan, "—"),
        (math.inf, "—"),
        (0, "0"),
        (0.0, "0"),
        (123456, "123,456"),
        (0.31, "0.31"),
        (1.23456, "1.235"),
        (1e-12, "1e-12"),
        (0.000123, "1.23e-4"),
        (12345.6, "12,346"),
        (2.5e10, "2.5e10"),
        (-0.5, "-0.5"),
    ],
)
def test_fmt_num(value, text):
    assert fmt_num(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.4, "40%"), (0.0123, "1.23%"), (1.0, "100%"), (0.0, "0%"), (1e-9, "<0.001%"), (None, "—")],
)
def test_fmt_pct(value, text):
    assert fmt_pct(value) == text


def test_compact_labels():
    assert fmt_compact(12345) == "12.3k"
    assert fmt_compact(-2_500_000) == "-2.5M"
    assert fmt_compact(0.5) == "0.5"
    assert fmt_compact(1.2e-5) == "1.2e-5"
    assert fmt_compact(999.9) == "1k"
    assert fmt_compact(123.4) == "123"
    assert fmt_compact(0.001234) == "0.00123"
    assert fmt_compact(-0.0) == "0"
    assert compact_labels([1.001, 1.002, 1.003]) == ["1.001", "1.002", "1.003"]
    assert compact_labels([10000.0, 10010.0]) == ["10k", "10.01k"]


@pytest.mark.parametrize("drifted,plotted", [(0, TOP_PLOTS), (7, TOP_PLOTS), (40, 40), (900, 50)])
def test_drifted_features_get_plots_and_at_least_the_top_ones_do(drifted, plotted):
    features = [
        feature(f"f{i:04d}", 0.5 if i < drifted else 0.01 * (i % 7), drifted=i < drifted)
        for i in range(1000)
    ]
    for f in features:
        f["distribution"] = histogram([0.0], [0.5, 0.5], [0.4, 0.6])
    dom = parse_html(render_html(report(features)))
    assert len(_plots(dom)) == plotted
    rows = dom.find_all("table", "features")[0].find_all("tbody")[0].find_all("tr")
    assert len(rows) == 1000


def test_page_size_grows_linearly_with_the_features():
    small = len(render_html(example_report(250)))
    large = len(render_html(example_report(1000)))
    # the same share drifts in both, so the plots are capped in both and rows dominate
    assert large < 3 * small
    assert large < 1_500_000
