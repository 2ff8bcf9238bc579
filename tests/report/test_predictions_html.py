"""The HTML report's prediction and target section, from a real run on Parquet files: a
prediction-only drift is the page's verdict, the model's columns get their own table and
plots, names stay text, and the page renders in headless Chromium."""

from __future__ import annotations

import numpy as np
import pytest

from driftwarden.report.html import render_html
from tests.analysis.test_model_predictions import _run, _table
from tests.report.domparse import parse_html
from tests.report.test_browser import _run_chromium

MODEL = {
    "predictions": [
        {"column": "churn_score", "kind": "score"},
        {"column": "<b>label</b>", "kind": "label"},
    ],
    "target": {"column": "churned", "kind": "label"},
}


def _prediction_only_report(tmp_path):
    rng = np.random.default_rng(21)
    reference, current = _table(rng, 3000), _table(rng, 3000, score_shift=0.3)
    for side in (reference, current):
        side["<b>label</b>"] = side.pop("churn_predicted")
    del current["churned"]  # labels not in yet
    return _run(tmp_path, reference, current, model=MODEL)


def _section(dom):
    (section,) = [s for s in dom.find_all("section") if s.attrs.get("id") == "predictions"]
    return section


def test_a_prediction_only_drift_is_the_pages_verdict_with_its_own_section(tmp_path):
    doc = _prediction_only_report(tmp_path)
    assert doc["dataset"]["drifted"] is False and doc["predictions"]["drifted"] is True
    dom = parse_html(render_html(doc))
    (verdict,) = [h for h in dom.find_all("h1") if h.attrs.get("id") == "verdict"]
    assert verdict.all_text() == "Drift detected"  # the predictions fired, not the features
    (header,) = dom.find_all("header")
    assert "bad" in header.classes
    lead = dom.find_all("p", "lead")[0].all_text()
    assert "0 of 3 features drifted" in lead and "the model's predictions drifted" in lead
    section = _section(dom)
    text = section.all_text()
    assert "Predictions and target" in text and "2 of 2 compared columns drifted" in text
    assert "churned" in text and "not compared" in text  # the target, absent now
    assert "<b>label</b>" in text and not section.find_all("b")  # a name is text, never markup
    # Each compared column has its plot, like a feature.
    plots = [s for s in section.find_all("svg") if "dist-plot" in s.classes]
    assert len(plots) == 2
    # The model's columns are not in the features' table.
    (features,) = [s for s in dom.find_all("section") if s.attrs.get("id") == "features"]
    assert "churn_score" not in features.all_text()


def test_a_report_without_model_columns_has_no_predictions_section(tmp_path):
    rng = np.random.default_rng(22)
    doc = _run(tmp_path, _table(rng, 500), _table(rng, 500), model=None)
    page = render_html(doc)
    assert 'id="predictions"' not in page


@pytest.mark.slow
def test_the_section_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(_prediction_only_report(tmp_path)), encoding="utf-8")
    dom = parse_html(_run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout)
    (html,) = dom.find_all("html")
    assert "js" in html.classes
    assert "2 of 2 compared columns drifted" in _section(dom).all_text()
    assert any(s.attrs.get("id") == "predictions-verdict" for s in dom.find_all("strong"))
