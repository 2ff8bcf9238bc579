"""Prediction and target drift over runs: each run's record keeps the model's columns, the
trend ranks them first (named with their role) and the page marks the runs that found them
drifted. Records built from real runs on Parquet files."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from driftwarden.history.page import render_history_html
from driftwarden.history.record import RecordError, build_record, dump_record, parse_record
from driftwarden.history.trends import build_trends
from tests.analysis.test_model_predictions import _run, _table
from tests.history.helpers import run_name, slot
from tests.report.domparse import parse_html


def _records(tmp_path, shifts):
    rng = np.random.default_rng(40)
    reference = _table(rng, 2000)
    records = []
    for i, shift in enumerate(shifts):
        report = _run(tmp_path / f"run{i}", reference, _table(rng, 2000, score_shift=shift))
        record = build_record(
            report, run=run_name(i), slot=slot(i), time=slot(i) + timedelta(seconds=30)
        )
        records.append(parse_record(dump_record(record)))  # as stored and read back
    return records


def test_the_model_columns_are_kept_per_run_and_ranked_first_in_the_trend(tmp_path):
    records = _records(tmp_path, [0.0, 0.3, 0.3, 0.0])
    assert [r["predictions"]["drifted"] for r in records] == [False, True, True, False]
    (score,) = [c for c in records[1]["predictions"]["columns"] if c["name"] == "churn_score"]
    assert (score["role"], score["method"], score["drifted"]) == ("prediction", "ks", 1)
    assert score["pValue"] is not None and score["pValue"] < 0.01  # ks: judged by p-value

    model = build_trends(records, history_uri="/out/h", page_dir="/out/x")
    assert [r["predictionDrifted"] for r in model["runs"]] == [False, True, True, False]
    names = [f["name"] for f in model["features"]]
    # The model's columns come first, with their roles; the features follow.
    assert set(names[:2]) == {"churn_score (prediction)", "churn_predicted (prediction)"}
    assert names[2] == "churned (target)"  # steady: after the drifted ones
    assert set(names[3:]) == {"age", "income", "plan"}
    (score_row,) = [f for f in model["features"] if f["name"] == "churn_score (prediction)"]
    assert score_row["role"] == "prediction" and score_row["driftedRuns"] == 2
    assert score_row["drifted"] == [0, 1, 1, 0]

    dom = parse_html(render_history_html(model))
    runs = dom.find_all("table", "runs")[0]
    assert len(runs.find_all("span", "prediction-drift")) == 2
    (heat,) = [s for s in dom.find_all("svg") if s.attrs.get("id") == "heatmap"]
    assert "churn_score (prediction)" in heat.all_text()


def test_a_record_with_a_malformed_predictions_entry_is_refused(tmp_path):
    (record,) = _records(tmp_path, [0.3])
    record["predictions"]["columns"][0]["role"] = "feature"
    with pytest.raises(RecordError, match=r"predictions\.columns\[0\]\.role"):
        parse_record(dump_record(record))
