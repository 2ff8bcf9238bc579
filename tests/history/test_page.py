"""The trend page's markup: what it draws, how much, and that data never turns into markup."""

from __future__ import annotations

import random

from driftwarden.history.page import HEATMAP_ROWS, SMALL_MULTIPLES, render_history_html
from driftwarden.history.trends import build_trends
from tests.history.helpers import failed_record, run_name, run_record
from tests.report.domparse import parse_html

HOSTILE = '<script>alert("x")</script> & "ü"'


def _model(records, **extra):
    return build_trends(records, history_uri="/out/churn/history", page_dir="/out/churn/x", **extra)


def small_history():
    retrain = {"job": "churn-retrain-1", "run": run_name(2), "time": "2026-11-01T02:01:00Z"}
    return [
        run_record(0, {"income": 0.02, "age": 0.01, HOSTILE: 0.05}),
        run_record(1, {"income": 0.05, "age": 0.01, HOSTILE: 0.05}),
        run_record(2, {"income": 0.3, "age": 0.2, HOSTILE: 0.05}),
        failed_record(3, retraining=retrain),
        run_record(4, {"income": 0.04, "age": 0.01, HOSTILE: 0.5}, retraining=retrain),
    ]


def test_the_page_draws_every_run_and_marks_failures_and_retraining():
    dom = parse_html(render_history_html(_model(small_history())))
    (share,) = [s for s in dom.find_all("svg") if s.attrs.get("id") == "share-plot"]
    assert len(share.find_all("circle", "run-point")) == 4
    assert len(share.find_all("g", "run-failed")) == 1
    assert len(share.find_all("line", "retraining-mark")) == 1
    # Each point links to its run's report, relative to the page's directory.
    hrefs = [a.attrs["href"] for a in share.find_all("a")]
    assert hrefs == [f"../{run_name(i)}/report.html" for i in (0, 1, 2, 4)]
    (heat,) = [s for s in dom.find_all("svg") if s.attrs.get("id") == "heatmap"]
    cells = heat.find_all("rect", "c")
    assert len(cells) == 3 * 5
    assert sum("hf" in c.classes for c in cells) == 3  # the failed run's column
    assert len(dom.find_all("svg", "feature-trend")) == 3
    runs = dom.find_all("table", "runs")[0]
    assert len(runs.find_all("tr")) == 1 + 5
    assert "retraining churn-retrain-1" in runs.all_text()
    assert "DataNotFound" in runs.all_text()


def test_data_never_becomes_markup():
    html = render_history_html(_model(small_history()))
    dom = parse_html(html)
    assert len(dom.find_all("script")) == 1
    assert HOSTILE not in html
    assert any(th.all_text() == HOSTILE for th in dom.find_all("th"))


def test_a_thousand_features_over_fifty_runs_stay_browsable():
    rng = random.Random(9)
    names = [f"feature_{i:04d}" for i in range(1000)]
    records = []
    for run in range(50):
        if run == 17:
            records.append(failed_record(run))
            continue
        scores = {
            n: rng.random() * (0.3 if i < 30 and run > 25 else 0.09) for i, n in enumerate(names)
        }
        records.append(run_record(run, scores))
    model = _model(records)
    html = render_history_html(model)
    dom = parse_html(html)
    (heat,) = [s for s in dom.find_all("svg") if s.attrs.get("id") == "heatmap"]
    assert len(heat.find_all("rect", "c")) == HEATMAP_ROWS * 50
    assert len(dom.find_all("svg", "feature-trend")) == SMALL_MULTIPLES
    table = next(t for t in dom.find_all("table") if "features" in t.classes)
    assert len(table.find_all("tr")) == 1 + 1000  # every feature, in the table
    # The drifting ones lead the heatmap.
    labels = [t.find_all("title")[0].all_text() for t in heat.find_all("text", "label")]
    assert set(labels[:30]) == set(names[:30])
    # Bounded: the plots are capped, the table is ~0.5 KiB a feature (1.0 MB measured).
    assert len(html.encode()) < 1_500_000, len(html.encode())


def test_a_history_of_failures_only_still_renders():
    dom = parse_html(render_history_html(_model([failed_record(0), failed_record(1)])))
    assert "No run succeeded" in dom.all_text()
    assert "No run compared any feature" in dom.all_text()
