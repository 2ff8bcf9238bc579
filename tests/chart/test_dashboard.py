"""The Grafana dashboard: valid JSON, PromQL that parses, only metrics the operator exports."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.chart.helpers import CHART, tool
from tests.chart.promql import (
    TARGET_LABELS,
    exported_metrics,
    label_matchers,
    metric_names,
    substitute_grafana_variables,
)

DASHBOARD_PATH = CHART / "dashboards" / "driftwarden.json"
PANEL_TYPES = {"row", "stat", "table", "timeseries", "state-timeline", "status-history"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD_PATH.read_text())


def _panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _targets(dashboard):
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def _variable_selectors(dashboard):
    """(selector, label) of every label_values(selector, label) template variable."""
    found = []
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = (
            variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        )
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
        assert match, f"variable {variable['name']}: unexpected query {query}"
        found.append((match.group(1), match.group(2)))
    return found


def test_dashboard_is_a_grafana_dashboard(dashboard):
    assert dashboard["uid"] == "driftwarden" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids))
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names[0] == "datasource" and {"namespace", "monitor"} <= set(names)
    assert dashboard["templating"]["list"][0]["query"] == "prometheus"
    for panel in _panels(dashboard):
        assert panel["type"] in PANEL_TYPES, panel["type"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0
        if panel["type"] != "row":
            assert panel["title"] and panel.get("description"), panel["id"]
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}"


def test_panels_do_not_overlap(dashboard):
    cells = {}
    for panel in _panels(dashboard):
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, (panel["title"], cells.get((x, y)))
                cells[(x, y)] = panel["title"]


def test_every_query_uses_only_metrics_and_labels_the_operator_exports(dashboard):
    exported = exported_metrics()
    expressions = [t["expr"] for _, t in _targets(dashboard)]
    expressions += [selector for selector, _ in _variable_selectors(dashboard)]
    for expr in expressions:
        names = metric_names(expr)
        assert names, expr
        assert names <= set(exported), (expr, names - set(exported))
        for metric, label in label_matchers(expr):
            assert label in exported[metric].labels | TARGET_LABELS, (expr, label)
    for selector, label in _variable_selectors(dashboard):
        (metric,) = metric_names(selector)
        assert label in exported[metric].labels


def test_legends_name_labels_the_series_have(dashboard):
    exported = exported_metrics()
    for panel, target in _targets(dashboard):
        labels = set().union(*(exported[m].labels for m in metric_names(target["expr"])))
        for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")):
            assert label in labels, (panel["title"], label)


def test_every_query_parses_as_promql(dashboard, tmp_path):
    expressions = [t["expr"] for _, t in _targets(dashboard)]
    expressions += [selector for selector, _ in _variable_selectors(dashboard)]
    rules = [
        {"record": f"driftwarden_dashboard:query_{i}", "expr": substitute_grafana_variables(e)}
        for i, e in enumerate(expressions)
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_dashboard_shows_drift_features_run_age_and_failures(dashboard):
    used = set()
    for _, target in _targets(dashboard):
        used |= metric_names(target["expr"])
    assert {
        "driftwarden_drift_share",
        "driftwarden_dataset_drifted",
        "driftwarden_feature_drift_score",
        "driftwarden_feature_drifted",
        "driftwarden_last_run_timestamp_seconds",
        "driftwarden_last_successful_run_timestamp_seconds",
        "driftwarden_last_run_success",
        "driftwarden_analysis_failures_total",
        "driftwarden_analysis_runs_total",
    } <= used
    titles = {p["title"] for p in _panels(dashboard)}
    assert {
        "Drift share per monitor",
        "Feature drift score heatmap",
        "Time since last run",
    } <= titles


def test_dashboard_shows_the_model_level_signals(dashboard):
    """spec.model's signals (issue 10): prediction and target drift, performance on delayed
    labels with its coverage, the root cause and the joint detector each have a panel."""
    used = set()
    for _, target in _targets(dashboard):
        used |= metric_names(target["expr"])
    assert {
        "driftwarden_prediction_drifted",
        "driftwarden_prediction_drift_score",
        "driftwarden_model_performance",
        "driftwarden_model_performance_degraded",
        "driftwarden_label_coverage",
        "driftwarden_root_cause_share",
        "driftwarden_multivariate_p_value",
        "driftwarden_multivariate_drifted",
    } <= used
    titles = {p["title"] for p in _panels(dashboard)}
    assert {
        "Prediction drift per monitor",
        "Root cause: top features",
        "Model performance on delayed labels",
        "Label coverage and degradation",
        "Multivariate drift (joint detector)",
    } <= titles
