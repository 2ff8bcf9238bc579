"""Every value documented in values.yaml, typed in values.schema.json and listed in the
chart's README; every alert and dashboard panel explained in docs/alerts-and-dashboard.md."""

from __future__ import annotations

import json
import re

import yaml

from tests.chart.helpers import CHART, ROOT
from tests.chart.valuesdoc import documented_values, leaf_paths, load

VALUES = load(CHART / "values.yaml")
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
DOCUMENTED = documented_values(CHART / "values.yaml")
README = (CHART / "README.md").read_text()
GUIDE = ROOT / "docs" / "alerts-and-dashboard.md"


def _schema_node(path: str) -> dict:
    node = SCHEMA
    for part in path.split("."):
        node = node["properties"][part]
    return node


def _value(path: str):
    node = VALUES
    for part in path.split("."):
        node = node[part]
    return node


def test_every_value_is_documented():
    documented = {d.path for d in DOCUMENTED}
    undocumented = [
        path
        for path in leaf_paths(VALUES)
        if not any(path == d or path.startswith(d + ".") for d in documented)
    ]
    assert not undocumented
    assert all(d.description for d in DOCUMENTED)


def test_every_documented_value_is_typed_in_the_schema():
    for documented in DOCUMENTED:
        node = _schema_node(documented.path)
        assert "type" in node and node.get("description"), documented.path


def test_the_schema_knows_no_value_that_values_yaml_lacks():
    def walk(node, path):
        for key, child in (node.get("properties") or {}).items():
            dotted = f"{path}.{key}" if path else key
            if dotted == "global":
                continue
            _value(dotted)  # KeyError if values.yaml lacks it
            # A value documented as a whole (updateStrategy, resources) may leave keys out.
            if child.get("additionalProperties") is False and dotted not in documented:
                walk(child, dotted)

    documented = {d.path for d in DOCUMENTED}

    walk(SCHEMA, "")


def test_readme_lists_every_value_with_its_default():
    rows = {}
    for line in README.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and re.fullmatch(r"`[A-Za-z0-9_.]+`", cells[0]):
            rows[cells[0].strip("`")] = (cells[2].removeprefix("`").removesuffix("`"), cells[3])
    for documented in DOCUMENTED:
        assert documented.path in rows, documented.path
        default = json.dumps(_value(documented.path), separators=(",", ":"))
        description = documented.description.replace("|", "\\|")
        assert rows[documented.path] == (default, description), documented.path
    assert set(rows) == {d.path for d in DOCUMENTED}


def test_alerts_guide_explains_every_alert_and_panel():
    text = GUIDE.read_text()
    headings = {h.strip() for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    tests = yaml.safe_load((ROOT / "tests" / "chart" / "alerts-test.yaml").read_text())["tests"]
    alerts = {c["alertname"] for t in tests for c in t["alert_rule_test"]}
    for alert in alerts:
        assert alert in headings, alert  # runbook_url anchors: #<alert name, lower-cased>
    dashboard = json.loads((CHART / "dashboards" / "driftwarden.json").read_text())
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["title"] in text, panel["title"]
