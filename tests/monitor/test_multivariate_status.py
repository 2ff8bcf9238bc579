"""A multivariate-only drift travels from the report to the summary, the run outcome, the
status (status.model.multivariate, the Drifted condition), the Event and the gauges."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.controller.metrics import gauges_from_status
from driftwarden.controller.reconcile import outcome_events
from driftwarden.monitor.outcome import outcome_from_summary
from driftwarden.monitor.spec import parse_monitor
from driftwarden.monitor.status import compute_status, get_condition
from driftwarden.report.summary import build_summary, dump_summary, parse_summary
from tests.monitor.helpers import NOW, manifest


def _write(directory, rho: float, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    y = rho * x + np.sqrt(1 - rho * rho) * rng.normal(size=rows)
    directory.mkdir(parents=True)
    pq.write_table(pa.table({"x": x, "y": y}), directory / "part.parquet")


def _report(tmp_path, current_rho: float, threshold: float = 0.01) -> dict:
    _write(tmp_path / "ref", 0.9, 20_000, 1)
    _write(tmp_path / "cur", current_rho, 20_000, 2)
    config = parse_run_config(
        {
            "reference": {"path": str(tmp_path / "ref")},
            "current": {"path": str(tmp_path / "cur")},
            "model": {"multivariate": {"threshold": threshold}},
        }
    )
    return analyze(config, profile_cache=None)


def _monitor():
    return parse_monitor(manifest(model={"multivariate": {}}))


def test_a_joint_drift_reaches_the_status_the_event_and_the_gauges(tmp_path):
    report = _report(tmp_path, -0.9)
    assert report["dataset"]["driftedBy"] == ["multivariate"]
    summary = parse_summary(dump_summary(build_summary(report, "s3://r/report.json")))
    assert summary["multivariate"]["drifted"] and summary["multivariate"]["features"] == 2
    outcome = outcome_from_summary("churn-1", summary, slot=NOW, completion_time=NOW)
    assert outcome.drifted and outcome.multivariate is not None and outcome.multivariate.drifted
    assert "0 of 2 features drifted" in outcome.message
    assert "the features drift together" in outcome.message

    status = compute_status(_monitor(), None, outcome, NOW + timedelta(seconds=5))
    joint = status["model"]["multivariate"]
    assert joint["job"] == "churn-1" and joint["drifted"] and joint["pValue"] < 1e-10
    assert status["phase"] == "Drifted"
    drifted = get_condition(status["conditions"], "Drifted")
    assert drifted is not None and drifted["status"] == "True"
    assert "the features drift together" in drifted["message"]

    events = outcome_events(outcome)
    assert [(e.type, e.reason) for e in events] == [
        ("Warning", "DriftDetected"),
        ("Warning", "MultivariateDrift"),
    ]
    assert "2 features" in events[1].message and "s3://r/report.json" in events[1].message

    gauges = gauges_from_status(status)
    assert gauges.multivariate_drifted == 1.0
    assert gauges.multivariate_p_value is not None and gauges.multivariate_p_value < 1e-10
    assert gauges.run_drifted == 1.0 and gauges.drifted_features == 0.0


def test_a_quiet_detector_is_recorded_and_a_run_without_it_clears_the_record(tmp_path):
    # Keys hash the (temporary) path, so the rows sampled differ between runs: a tight
    # threshold keeps a chance false alarm (as likely as the threshold) out of this test.
    quiet = _report(tmp_path, 0.9, threshold=1e-5)
    outcome = outcome_from_summary("churn-1", build_summary(quiet, None), slot=NOW)
    assert not outcome.drifted and outcome.multivariate is not None
    status = compute_status(_monitor(), None, outcome, NOW)
    assert status["phase"] == "Healthy" and status["model"]["multivariate"]["drifted"] is False
    assert [e.reason for e in outcome_events(outcome)] == ["NoDrift"]
    assert gauges_from_status(status).multivariate_drifted == 0.0

    plain = dict(quiet, multivariate=None)
    later = outcome_from_summary(
        "churn-2", build_summary(plain, None), slot=NOW + timedelta(hours=1)
    )
    assert later.multivariate is None and "multivariate" not in build_summary(plain, None)
    after = compute_status(_monitor(), status, later, NOW + timedelta(hours=1))
    assert after["model"] is None
    assert gauges_from_status(after).multivariate_drifted is None  # series removed


def test_the_summary_stays_within_the_termination_message_limit_with_the_detector(tmp_path):
    report = _report(tmp_path, -0.9)
    for feature in report["features"]:
        feature["name"] = feature["name"] + "é" * 400
    summary = build_summary(report, "s3://" + "r" * 3000, max_bytes=600)
    assert len(dump_summary(summary).encode()) <= 600
    assert summary["multivariate"]["drifted"]


def test_feature_persistence_does_not_hold_back_a_joint_drift(tmp_path):
    report = _report(tmp_path, -0.9)
    outcome = outcome_from_summary("churn-1", build_summary(report, None), slot=NOW)
    monitor = parse_monitor(
        manifest(model={"multivariate": {}}, alerting={"featureDriftAfterRuns": 3})
    )
    status = compute_status(monitor, None, outcome, NOW)
    assert status["phase"] == "Drifted"


def test_a_malformed_multivariate_summary_never_breaks_the_outcome():
    from driftwarden.monitor.multivariate import multivariate_outcome
    from driftwarden.report.multivariate_summary import multivariate_lines

    joint = multivariate_outcome({"drifted": True, "pValue": None, "threshold": None})
    assert joint is not None and joint.text() == "the features drift together (multivariate p = ?)"
    assert multivariate_outcome({"drifted": "yes"}) is None
    assert multivariate_lines({"drifted": True, "features": ["a"], "pValue": None}) == [
        "JOINT DRIFT (multivariate, a): KS p-value - against -; mean reconstruction error - -> -"
    ]
