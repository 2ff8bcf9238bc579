"""The per-monitor gauges: what a status sets, what a later status keeps, what a delete drops."""

from __future__ import annotations

import threading

from prometheus_client import generate_latest

from driftwarden.controller.metrics import Metrics, gauges_from_status
from tests.chart.promql import FULL_STATUS


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"namespace": "ns", "monitor": "m", **labels})


def test_a_successful_run_sets_every_gauge() -> None:
    metrics = Metrics()
    metrics.observe_status("ns", "m", FULL_STATUS)
    metrics.observe_schedule_period("ns", "m", 86400)
    assert _sample(metrics, "driftwarden_dataset_drifted") == 1.0
    assert _sample(metrics, "driftwarden_drift_share") == 0.5
    assert _sample(metrics, "driftwarden_features") == 2.0
    assert _sample(metrics, "driftwarden_rows_analyzed", side="current") == 10.0
    assert _sample(metrics, "driftwarden_feature_drift_score", feature="x", method="psi") == 0.3
    assert _sample(metrics, "driftwarden_feature_drifted", feature="x", method="psi") == 1.0
    assert _sample(metrics, "driftwarden_monitor_phase", phase="Idle") == 1.0
    assert _sample(metrics, "driftwarden_last_run_success") == 1.0
    assert _sample(metrics, "driftwarden_last_run_duration_seconds") == 3.0
    assert _sample(metrics, "driftwarden_schedule_period_seconds") == 86400.0
    assert _sample(metrics, "driftwarden_last_successful_run_timestamp_seconds") == 1767225600.0


def test_a_failed_run_keeps_the_last_verdict_and_a_new_phase_replaces_the_old() -> None:
    metrics = Metrics()
    metrics.observe_status("ns", "m", FULL_STATUS)
    failed = {
        "phase": "Failed",
        "lastRun": {"completionTime": "2026-01-02T00:00:00Z", "outcome": "Failed"},
    }
    metrics.observe_status("ns", "m", failed)
    assert _sample(metrics, "driftwarden_last_run_success") == 0.0
    assert _sample(metrics, "driftwarden_dataset_drifted") == 1.0  # the verdict stays
    assert _sample(metrics, "driftwarden_monitor_phase", phase="Failed") == 1.0
    assert _sample(metrics, "driftwarden_monitor_phase", phase="Idle") is None


def test_a_zero_share_is_a_value_not_a_missing_one() -> None:
    first = gauges_from_status(FULL_STATUS)
    quiet = {
        **FULL_STATUS,
        "lastRun": {**FULL_STATUS["lastRun"], "driftShare": 0, "drifted": False},
    }
    assert gauges_from_status(quiet, first).drift_share == 0.0


def test_features_a_newer_run_no_longer_reports_disappear() -> None:
    metrics = Metrics()
    metrics.observe_status("ns", "m", FULL_STATUS)
    newer = {**FULL_STATUS, "features": [{"name": "y", "method": "ks", "score": 0.1}]}
    metrics.observe_status("ns", "m", newer)
    assert _sample(metrics, "driftwarden_feature_drift_score", feature="x", method="psi") is None
    assert _sample(metrics, "driftwarden_feature_drift_score", feature="y", method="ks") == 0.1


def test_forget_drops_every_series_of_the_monitor() -> None:
    metrics = Metrics()
    metrics.observe_status("ns", "m", FULL_STATUS)
    metrics.observe_status("ns", "other", FULL_STATUS)
    metrics.jobs_started.labels("ns", "m").inc()
    metrics.forget("ns", "m")
    text = generate_latest(metrics.registry).decode()
    assert 'monitor="m"' not in text
    assert 'monitor="other"' in text


def test_scrapes_while_monitors_come_and_go() -> None:
    """The HTTP server's thread renders while the event loop's thread adds and drops monitors."""
    metrics = Metrics()
    errors: list[BaseException] = []
    done = threading.Event()

    def scrape() -> None:
        try:
            while not done.is_set():
                generate_latest(metrics.registry)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for i in range(20_000):
            metrics.observe_status("ns", f"m{i % 300}", FULL_STATUS)
            if i % 3 == 0:
                metrics.forget("ns", f"m{(i * 7) % 300}")
    finally:
        done.set()
        scraper.join()
    assert errors == []


def test_root_cause_shares_follow_the_latest_successful_run() -> None:
    metrics = Metrics()
    metrics.observe_status("ns", "m", FULL_STATUS)
    assert _sample(metrics, "driftwarden_root_cause_share", feature="x", rank="1") == 0.7
    causes = [
        {"feature": "tenure", "share": 0.6, "drifted": True},
        {"feature": "plan", "share": 0.3, "drifted": False},
        {"feature": "odd", "share": None, "drifted": False},
    ]
    newer = {**FULL_STATUS, "model": {"rootCause": {"triggered": True, "causes": causes}}}
    metrics.observe_status("ns", "m", newer)
    assert _sample(metrics, "driftwarden_root_cause_share", feature="x", rank="1") is None
    assert _sample(metrics, "driftwarden_root_cause_share", feature="tenure", rank="1") == 0.6
    assert _sample(metrics, "driftwarden_root_cause_share", feature="plan", rank="2") == 0.3
    assert _sample(metrics, "driftwarden_root_cause_share", feature="odd", rank="3") is None
    failed = {"lastRun": {"completionTime": "2026-01-02T00:00:00Z", "outcome": "Failed"}}
    metrics.observe_status("ns", "m", failed)  # a failed run keeps the last causes
    assert _sample(metrics, "driftwarden_root_cause_share", feature="tenure", rank="1") == 0.6
