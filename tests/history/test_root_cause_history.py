"""The root cause over runs: each record of a run that moved keeps its summary line, and
the trend page's runs table shows it. Records built from real runs on Parquet files."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from driftwarden.history.page import render_history_html
from driftwarden.history.record import RecordError, build_record, dump_record, parse_record
from driftwarden.history.trends import build_trends
from tests.analysis.test_root_cause_run import _run, _table
from tests.history.helpers import run_name, slot
from tests.report.domparse import parse_html


def test_records_and_the_runs_table_keep_the_top_cause(tmp_path):
    rng = np.random.default_rng(9)
    reference = _table(rng, 5000)
    records = []
    for i, shift in enumerate([0.0, 0.5]):
        report = _run(tmp_path / f"run{i}", reference, _table(rng, 3000, a_shift=shift))
        record = build_record(
            report, run=run_name(i), slot=slot(i), time=slot(i) + timedelta(seconds=30)
        )
        records.append(parse_record(dump_record(record)))
    assert "rootCause" not in records[0]  # nothing moved: nothing to explain
    assert records[1]["rootCause"].startswith("top cause: a (")

    model = build_trends(records, history_uri="/out/h", page_dir="/out/x")
    assert [r["rootCause"] for r in model["runs"]] == [None, records[1]["rootCause"]]
    dom = parse_html(render_history_html(model))
    runs = dom.find_all("table", "runs")[0]
    (cause,) = runs.find_all("span", "root-cause")
    assert cause.all_text() == records[1]["rootCause"]

    records[1]["rootCause"] = 7
    with pytest.raises(RecordError, match="rootCause"):
        parse_record(dump_record(records[1]))
