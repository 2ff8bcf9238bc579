"""The trend model: runs in order, features aligned with them, most drifted first."""

from __future__ import annotations

import json
import math

import pytest

from driftwarden.history.trends import build_trends, link, ratio
from tests.history.helpers import failed_record, run_name, run_record


def _model(records, **extra):
    return build_trends(records, history_uri="/out/churn/history", **extra)


def test_runs_keep_their_order_and_failed_runs_stay_in_line():
    records = [
        run_record(0, {"a": 0.01, "b": 0.02}),
        failed_record(1),
        run_record(2, {"a": 0.3, "b": 0.02}),
    ]
    model = _model(records, stored=10)
    assert [r["run"] for r in model["runs"]] == [run_name(i) for i in range(3)]
    assert [r["outcome"] for r in model["runs"]] == ["Succeeded", "Failed", "Succeeded"]
    assert model["runs"][1]["reason"] == "DataNotFound"
    assert (model["storedRuns"], model["shownRuns"], model["failedRuns"], model["driftedRuns"]) == (
        10,
        3,
        1,
        1,
    )
    a = next(f for f in model["features"] if f["name"] == "a")
    assert a["score"] == [0.01, None, 0.3]  # aligned with runs; null for the failed run
    assert a["drifted"] == [0, None, 1]
    assert a["threshold"] == [0.1, None, 0.1]
    assert a["ratio"] == [0.1, None, 3.0]
    assert (a["driftedRuns"], a["comparedRuns"], a["latestRun"]) == (1, 2, 2)
    json.dumps(model, allow_nan=False)  # what history.json holds


def test_features_come_most_drifted_first():
    records = [
        run_record(0, {"often": 0.2, "once_big": 0.9, "near": 0.09, "quiet": 0.01}),
        run_record(1, {"often": 0.2, "once_big": 0.01, "near": 0.09, "quiet": 0.01}),
        run_record(2, {"often": 0.15, "once_big": 0.01, "near": 0.095, "quiet": 0.01}),
    ]
    names = [f["name"] for f in _model(records)["features"]]
    # drifted in 3 runs, then in 1; among the never-drifted, the one nearer its threshold
    assert names == ["often", "once_big", "near", "quiet"]


def test_a_feature_not_compared_in_some_runs_has_nulls_there():
    records = [run_record(0, {"a": 0.01}), run_record(1, {"a": 0.01, "new": 0.5})]
    new = next(f for f in _model(records)["features"] if f["name"] == "new")
    assert new["score"] == [None, 0.5]
    assert new["drifted"] == [None, 1]
    assert new["comparedRuns"] == 1


def test_p_value_features_are_judged_by_their_p_value():
    records = [run_record(i, {"x": p}, methods={"x": "ks"}) for i, p in enumerate((0.5, 0.01))]
    x = _model(records)["features"][0]
    assert x["pValue"] == [0.5, 0.01]
    assert x["ratio"] == [0.2, 10.0]  # threshold / p
    assert x["drifted"] == [0, 1]


def test_ratio_edges():
    assert ratio("psi", 0.3, None, 0.1) == pytest.approx(3.0)
    assert ratio("ks", 0.9, 0.0, 0.05) == math.inf
    assert ratio("psi", 0.1, None, 0) == math.inf
    assert ratio("psi", None, None, 0.1) is None
    assert ratio("chisquare", 3.0, None, 0.05) is None


def test_retraining_is_marked_at_the_run_that_triggered_it():
    retrain = {"job": "churn-retrain-9", "run": run_name(1), "time": "2026-11-01T01:02:00Z"}
    records = [
        run_record(0, {"a": 0.01}),
        run_record(1, {"a": 0.5}),
        run_record(2, {"a": 0.5}, retraining=retrain),
        run_record(3, {"a": 0.01}, retraining=retrain),
    ]
    model = _model(records)
    assert [r["retrainingStarted"] for r in model["runs"]] == [[], ["churn-retrain-9"], [], []]
    assert model["retraining"] == [{**retrain, "atRun": 1}]


def test_retraining_of_a_run_no_longer_shown_goes_to_the_first_run_after_it():
    older = {"job": "r-old", "run": "churn-gone", "time": "2026-11-01T01:30:00Z"}
    ancient = {"job": "r-ancient", "run": "churn-gone-too", "time": "2020-01-01T00:00:00Z"}
    records = [
        run_record(1, {"a": 0.01}, retraining=ancient),
        run_record(2, {"a": 0.01}, retraining=older),
    ]
    model = _model(records)
    assert model["runs"][1]["retrainingStarted"] == ["r-old"]  # slot 02:00 is the first after 01:30
    assert {m["job"]: m["atRun"] for m in model["retraining"]} == {"r-ancient": 0, "r-old": 1}


def test_report_links_are_relative_within_one_store():
    assert link("/out/churn/run-1/report.html", "/out/churn/run-9") == "../run-1/report.html"
    assert (
        link("s3://logs/drift/churn/run-1/report.html", "s3://logs/drift/churn/run-9")
        == "../run-1/report.html"
    )
    # Another bucket or another store: the URI itself; a local path as a file URL.
    assert link("s3://other/run-1/report.html", "s3://logs/x") == "s3://other/run-1/report.html"
    assert link("/out/run-1/report.html", "s3://logs/x") == "file:///out/run-1/report.html"
    assert link("file:///out/run-1/report.html", None) == "file:///out/run-1/report.html"
    assert link(None, "/out") is None


def test_model_links_runs_to_their_reports_from_the_page_directory():
    model = _model([run_record(0, {"a": 0.3}), failed_record(1)], page_dir="/out/churn/latest")
    first, failed = model["runs"]
    assert first["reportHtmlLink"] == f"../{run_name(0)}/report.html"
    assert first["reportLink"] == f"../{run_name(0)}/report.json"
    assert failed["reportHtmlLink"] is None
