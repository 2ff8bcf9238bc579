"""The HTML report's multivariate section: a multivariate-only drift says so in the header,
escaped, and the page renders in headless Chromium."""

from __future__ import annotations

import pytest

from driftwarden.report.html import render_html
from tests.report.domparse import parse_html
from tests.report.helpers import feature, report
from tests.report.test_browser import _run_chromium


def _joint(drifted: bool = True, **extra):
    return {
        "method": "pca-reconstruction-ks",
        "features": ["x", '<b>"y"</b>'],
        "drifted": drifted,
        "pValue": 1.5e-12 if drifted else 0.4,
        "statistic": 0.61,
        "threshold": 0.01,
        "components": 1,
        "explainedVariance": 0.95,
        "variance": 0.9,
        "referenceError": 0.09,
        "currentError": 1.81,
        "rows": {"reference": 4096, "current": 4096, "fit": 2048, "holdout": 2048},
        "sampleRows": 4096,
        "skipped": None,
        **extra,
    }


def _multivariate_only():
    doc = report([feature("x", 0.01), feature("y", 0.02)], multivariate=_joint())
    doc["dataset"].update(drifted=True, driftedBy=["multivariate"])
    return doc


def test_a_multivariate_only_drift_is_named_in_the_header():
    dom = parse_html(render_html(_multivariate_only()))
    (verdict,) = [h for h in dom.find_all("h1") if h.attrs.get("id") == "verdict"]
    assert verdict.all_text() == "Drift detected"
    (lead,) = dom.find_all("p", "lead")[:1]
    text = lead.all_text()
    assert "0 of 2 features drifted" in text
    assert "the features drift together" in text and "alone makes the run drifted" in text
    (section,) = [s for s in dom.find_all("section") if s.attrs.get("id") == "multivariate"]
    assert "bad" in section.classes
    assert "Joint drift detected" in section.all_text()
    assert '<b>"y"</b>' in section.all_text()  # the name as text, not markup
    assert not section.find_all("b")


def test_quiet_and_skipped_detectors_say_so_and_absent_ones_add_nothing():
    quiet = report([feature("x", 0.01)], multivariate=_joint(drifted=False))
    section = parse_html(render_html(quiet))
    text = section.all_text()
    assert "No joint drift" in text and "features drift together" not in text
    skipped = report(
        [feature("x", 0.01)],
        multivariate=_joint(drifted=False, pValue=None, skipped="too few complete rows"),
    )
    assert "Not compared: too few complete rows" in parse_html(render_html(skipped)).all_text()
    plain = render_html(report([feature("x", 0.01)]))
    assert 'id="multivariate"' not in plain


@pytest.mark.slow
def test_the_section_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(_multivariate_only()), encoding="utf-8")
    dom = parse_html(_run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout)
    (html,) = dom.find_all("html")
    assert "js" in html.classes
    (section,) = [s for s in dom.find_all("section") if s.attrs.get("id") == "multivariate"]
    assert "Joint drift detected" in section.all_text()
    assert any(s.attrs.get("id") == "multivariate-verdict" for s in dom.find_all("strong"))
