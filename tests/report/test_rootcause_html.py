"""The root-cause section: first under the verdict, escaped, linked, and drawn by Chromium."""

from __future__ import annotations

import re

import pytest

from driftwarden.model.importance import Importance, given_importance
from driftwarden.model.rootcause import root_cause_section
from driftwarden.report.document import ReportError, dump_report, load_report, validate_report
from driftwarden.report.example import example_report
from driftwarden.report.html import render_html
from tests.report.domparse import parse_html
from tests.report.test_browser import HOSTILE, _run_chromium


def _report(triggers=("predictions",)) -> dict:
    doc = example_report(7)
    names = [f["name"] for f in doc["features"]]
    weights = {name: float(i + 1) for i, name in enumerate(names)}
    importance = given_importance(weights, names)
    doc["rootCause"] = root_cause_section(doc["features"], importance, triggers=list(triggers))
    return doc


def test_section_comes_first_after_the_verdict_and_names_the_top_cause():
    doc = _report()
    html = render_html(doc)
    assert html.index('id="verdict"') < html.index('id="root-cause"') < html.index('id="features"')
    dom = parse_html(html)
    (section,) = [n for n in dom.find_all("section") if n.attrs.get("id") == "root-cause"]
    top = doc["rootCause"]["top"]
    text = section.all_text()
    assert f"Top cause: {top['feature']}" in text
    assert "the prediction distribution moved" in text
    rows = section.find_all("tr")[1:]
    assert len(rows) == len(doc["rootCause"]["causes"])
    # Causes link to their feature's details section.
    links = [a.attrs["href"] for a in section.find_all("a")]
    assert links and all(h.startswith("#details-") for h in links)


def test_quiet_run_says_the_ranking_is_for_reference():
    html = render_html(_report(triggers=()))
    assert "No model signal moved this run" in html
    assert 'class="root-cause quiet"' in html


def test_no_root_cause_no_section():
    doc = example_report(3)
    assert 'id="root-cause"' not in render_html(doc)


def test_names_and_segments_are_escaped():
    doc = example_report(3)
    feature = {
        "name": HOSTILE,
        "kind": "categorical",
        "drifted": True,
        "scores": {"jensenshannon": 0.4},
    }
    group = {
        "feature": HOSTILE,
        "metric": "accuracy",
        "values": [
            {"value": HOSTILE, "rows": 99, "current": 0.5, "referenceRows": 99, "reference": 0.9}
            | {"drop": 0.4, "pValue": 0.001}
        ],
    }
    doc["rootCause"] = root_cause_section(
        [feature],
        Importance("given", {HOSTILE: 1.0}, {HOSTILE: 1.0}),
        triggers=["performance"],
        performance={"segments": [group]},
    )
    assert doc["rootCause"]["segments"][0]["segments"][0]["value"] == HOSTILE
    html = render_html(doc)
    assert "<script>alert" not in html
    dom = parse_html(html)
    assert len(dom.find_all("script")) == 1
    assert any(th.all_text() == HOSTILE for th in dom.find_all("th"))
    (lead,) = [p for p in dom.find_all("p") if p.attrs.get("id") == "root-cause-segment"]
    assert lead.all_text() == f"Worst segment: {HOSTILE} = {HOSTILE}, accuracy 0.9 → 0.5"


def test_round_trips_through_json_in_key_order():
    doc = _report()
    text = dump_report(doc)
    assert text.index('"rootCause"') < text.index('"features"')
    assert load_report(text)["rootCause"] == doc["rootCause"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda s: s.update(triggered="yes"), "$.rootCause.triggered"),
        (lambda s: s["causes"][0].update(share="big"), "$.rootCause.causes[0].share"),
        (lambda s: s.update(top={"feature": "", "share": 1}), "$.rootCause.top.feature"),
        (lambda s: s.update(segments={}), "$.rootCause.segments"),
    ],
)
def test_malformed_section_is_refused_with_its_path(change, where):
    doc = _report()
    change(doc["rootCause"])
    with pytest.raises(ReportError, match=re.escape(where)):
        validate_report(doc)


@pytest.mark.slow
def test_root_cause_renders_in_headless_chromium(tmp_path):
    doc = _report()
    page = tmp_path / "report.html"
    page.write_text(render_html(doc), encoding="utf-8")
    dom = parse_html(_run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout)
    (html,) = dom.find_all("html")
    assert "js" in html.classes, "the inline script did not run (CSP hash or syntax error)"
    (section,) = [n for n in dom.find_all("section") if n.attrs.get("id") == "root-cause"]
    (summary,) = [n for n in section.find_all("p") if n.attrs.get("id") == "root-cause-summary"]
    assert doc["rootCause"]["top"]["feature"] in summary.all_text()
    bars = section.find_all("svg", "share-bar")
    assert len(bars) == len(doc["rootCause"]["causes"])
    widths = [float(b.find_all("rect")[1].attrs["width"]) for b in bars]
    assert widths == sorted(widths, reverse=True) and widths[0] > 0
