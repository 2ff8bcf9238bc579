"""The Model performance section of the HTML report: escaped, marked, drawn by Chromium."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from driftwarden.model import performance as perf
from driftwarden.model.join import JoinColumns, join_labels
from driftwarden.model.keys import common_id_type
from driftwarden.report.document import dump_report, load_report
from driftwarden.report.example import example_report
from driftwarden.report.html import render_html
from tests.report.domparse import parse_html
from tests.report.test_browser import HOSTILE, _run_chromium


def _period(rng, task, classes, flip: float):
    n = 2000
    ids = np.arange(n)
    truth = rng.integers(0, 2, n)
    segment = rng.choice([HOSTILE, "b"], n)
    wrong = (rng.random(n) < 0.1) | ((segment == HOSTILE) & (rng.random(n) < flip))
    predictions = pa.table({"id": ids, "pred": np.where(wrong, 1 - truth, truth), "seg": segment})
    labels = pa.table({"id": ids, "y": truth})
    period = perf.PeriodAccumulator(task, classes)
    for part in join_labels(
        predictions.to_batches(),
        labels.to_batches(),
        JoinColumns("id", "id", "y"),
        common_id_type(pa.int64(), pa.int64()),
        coverage=period.coverage,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    ):
        period.add(part)
    return period


def _report() -> dict:
    rng = np.random.default_rng(3)
    task = perf.Task("classification", "pred", positive="1", id="id", segments=("seg",))
    classes = perf.ClassIndex()
    ref, cur = _period(rng, task, classes, 0.0), _period(rng, task, classes, 0.5)
    cur_metrics, ref_metrics = perf.period_metrics(cur, 1), perf.period_metrics(ref, 1)
    comparison = perf.compare(cur_metrics, ref_metrics, [perf.Threshold("accuracy", 0.05)], 0.05)
    doc = example_report(5)
    doc["performance"] = {
        "task": "classification",
        "positiveClass": "1",
        "idColumn": "id",
        "predictionColumn": "pred",
        "scoreColumn": None,
        "labels": {
            "uri": "/labels",
            "format": "parquet",
            "labelColumn": "y",
            "joinWindow": "2d",
            "partitions": 1,
        },
        "current": {"coverage": cur.coverage.as_report(), "rows": cur.rows, "metrics": cur_metrics},
        "reference": {
            "coverage": ref.coverage.as_report(),
            "rows": ref.rows,
            "metrics": ref_metrics,
        },
        "comparison": comparison,
        "decided": True,
        "degraded": True,
        "degradedMetrics": [c["metric"] for c in comparison if c["degraded"]],
        "significance": 0.05,
        "segments": perf.segment_report(task, cur, ref),
        "confidence": {"method": "bootstrap", "level": 0.95, "resamples": 200, "rows": 2000},
    }
    return doc


def _section(dom):
    (section,) = [n for n in dom.find_all("section") if n.attrs.get("id") == "performance"]
    return section


def test_the_degraded_metric_is_marked_and_segment_values_escaped():
    doc = _report()
    assert doc["performance"]["degradedMetrics"] == ["accuracy"]
    html = render_html(load_report(dump_report(doc)))
    assert "<script>alert" not in html
    section = _section(parse_html(html))
    rows = [r for r in section.find_all("tr") if "data-metric" in r.attrs]
    assert [r.attrs["data-metric"] for r in rows if "bad" in r.classes] == ["accuracy"]
    assert {r.attrs["data-metric"] for r in rows} == {"accuracy", "precision", "recall", "f1"}
    (segments,) = section.find_all("table", "segments")
    first = segments.find_all("tr")[1]  # worst first: the segment whose labels were flipped
    assert first.find_all("th")[0].all_text() == HOSTILE and "bad" in first.classes


def test_no_performance_no_section():
    assert 'id="performance"' not in render_html(example_report(5))


@pytest.mark.slow
def test_performance_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(_report()), encoding="utf-8")
    dom = parse_html(_run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout)
    (html,) = dom.find_all("html")
    assert "js" in html.classes, "the inline script did not run (CSP hash or syntax error)"
    section = _section(dom)
    assert "degraded" in section.find_all("h2")[0].all_text()
    assert "2,000 of 2,000 predictions labeled" in " ".join(section.all_text().split())
