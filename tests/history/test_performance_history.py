"""Performance over runs: each record keeps the run's compact performance verdict, and the
trend page's runs table marks the runs whose model degraded. Records of real runs."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.history.page import render_history_html
from driftwarden.history.record import RecordError, build_record, dump_record, parse_record
from driftwarden.history.trends import build_trends
from tests.analysis.test_performance_run import END, _logs, _spec
from tests.history.helpers import run_name, slot
from tests.report.domparse import parse_html


def test_records_and_the_runs_table_keep_the_performance_verdict(tmp_path):
    records = []
    for i, broken in enumerate([None, "pro"]):
        root = tmp_path / f"run{i}"
        _logs(root, np.random.default_rng(i), broken_plan=broken)
        report = analyze(parse_run_config(_spec(root)), window_end=END)
        record = build_record(
            report, run=run_name(i), slot=slot(i), time=slot(i) + timedelta(seconds=30)
        )
        records.append(parse_record(dump_record(record)))
    assert [r["performance"]["degraded"] for r in records] == [False, True]
    assert records[1]["performance"]["metric"] == "accuracy"
    assert records[1]["performance"]["coverage"]["pending"] > 0

    model = build_trends(records, history_uri="/out/h", page_dir="/out/x")
    assert [r["performance"]["degraded"] for r in model["runs"]] == [False, True]
    runs = parse_html(render_history_html(model)).find_all("table", "runs")[0]
    marks = runs.find_all("span", "performance-degraded")
    assert len(marks) == 1
    texts = [s.all_text() for s in runs.find_all("span", "performance")]
    assert sorted("performance degraded (accuracy)" in t for t in texts) == [False, True]

    records[1]["performance"]["degraded"] = "yes"
    with pytest.raises(RecordError, match=r"performance\.degraded"):
        parse_record(dump_record(records[1]))
