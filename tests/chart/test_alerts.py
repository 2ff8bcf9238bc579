"""driftwarden's alerts, as the chart renders them, under Prometheus' own promtool.

The rules file is extracted from the rendered PrometheusRule on every run, so the chart and
what promtool checks cannot drift apart; alerts-test.yaml holds promtool's unit tests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.helpers import HELMS, NAMESPACE, RELEASE, one, render, tool
from tests.chart.promql import TARGET_LABELS, exported_metrics, label_matchers, metric_names

HERE = Path(__file__).parent
ALERTS = {
    "DriftwardenDriftDetected",
    "DriftwardenPredictionDrift",
    "DriftwardenModelPerformanceDegraded",
    "DriftwardenMultivariateDrift",
    "DriftwardenMonitorFailing",
    "DriftwardenMonitorStale",
    "DriftwardenOperatorDown",
}
ENABLED = {"prometheusRule": {"enabled": True}}


def rules_spec(helm_name: str = "helm3", values=None) -> dict:
    return one(render(values or ENABLED, helm_name), "PrometheusRule")["spec"]


def all_rules(spec: dict) -> list[dict]:
    return [rule for group in spec["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory) -> Path:
    """driftwarden-rules.yaml (the rendered spec) next to a copy of alerts-test.yaml."""
    directory = tmp_path_factory.mktemp("rules")
    (directory / "driftwarden-rules.yaml").write_text(yaml.safe_dump(rules_spec(), sort_keys=False))
    shutil.copy(HERE / "alerts-test.yaml", directory / "alerts-test.yaml")
    return directory


def _promtool(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_promtool_check_rules_accepts_the_rendered_rules(rules_dir):
    output = _promtool("check", "rules", "driftwarden-rules.yaml", cwd=rules_dir)
    assert f"SUCCESS: {len(ALERTS)} rules found" in output


def test_promtool_unit_tests_fire_and_stay_quiet_as_expected(rules_dir):
    output = _promtool("test", "rules", "alerts-test.yaml", cwd=rules_dir)
    assert "SUCCESS" in output


def test_unit_tests_show_every_alert_firing_and_quiet():
    tests = yaml.safe_load((HERE / "alerts-test.yaml").read_text())["tests"]
    fired, quiet = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fired == ALERTS and quiet == ALERTS


def test_the_rules_the_unit_tests_assume_are_the_chart_defaults():
    # alerts-test.yaml is written for release "driftwarden" in namespace "driftwarden".
    assert (RELEASE, NAMESPACE) == ("driftwarden", "driftwarden")
    (down,) = [r for r in all_rules(rules_spec()) if r["alert"] == "DriftwardenOperatorDown"]
    assert 'job="driftwarden-metrics"' in down["expr"]
    assert one(render(ENABLED), "Service")["metadata"]["name"] == "driftwarden-metrics"


@pytest.mark.parametrize("helm_name", HELMS)
def test_every_alert_is_labelled_and_explained(helm_name):
    rules = all_rules(rules_spec(helm_name))
    assert {r["alert"] for r in rules} == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
        anchor = rule["alert"].lower()
        assert rule["annotations"]["runbook_url"].endswith(f"alerts-and-dashboard.md#{anchor}")


def test_alerts_use_only_metrics_the_operator_exports():
    exported = exported_metrics()
    for rule in all_rules(rules_spec()):
        names = metric_names(rule["expr"])
        allowed = set(exported) | ({"up"} if rule["alert"] == "DriftwardenOperatorDown" else set())
        assert names and names <= allowed, (rule["alert"], names - allowed)
        for metric, label in label_matchers(rule["expr"]):
            if metric in exported:
                assert label in exported[metric].labels | TARGET_LABELS, (metric, label)
    # The drift share the description quotes is queried by name too.
    (drift,) = [r for r in all_rules(rules_spec()) if r["alert"] == "DriftwardenDriftDetected"]
    assert "driftwarden_drift_share" in drift["annotations"]["description"]


def test_alerts_can_be_tuned_and_switched_off():
    values = {
        "prometheusRule": {
            "enabled": True,
            "alertLabels": {"team": "ml"},
            "monitorStale": {"periods": 3, "for": "30m", "severity": "critical"},
            "operatorDown": {"enabled": False},
            "driftDetected": {"severity": "info"},
        }
    }
    rules = {r["alert"]: r for r in all_rules(rules_spec("helm3", values))}
    assert set(rules) == ALERTS - {"DriftwardenOperatorDown"}
    assert all(r["labels"]["team"] == "ml" for r in rules.values())
    stale = rules["DriftwardenMonitorStale"]
    assert "> 3 * max by" in stale["expr"] and stale["for"] == "30m"
    assert stale["labels"]["severity"] == "critical"
    assert "3 schedule periods" in stale["annotations"]["summary"]
    assert rules["DriftwardenDriftDetected"]["labels"]["severity"] == "info"
