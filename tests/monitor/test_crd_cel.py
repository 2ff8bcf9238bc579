"""The CRD's x-kubernetes-validations (CEL) rules, evaluated with cel-python.

Every rule has a case it accepts and one it rejects; the API server evaluates
the same expressions at ``kubectl apply`` time.
"""

import copy
from typing import Any

import celpy
import pytest

from .crdschema import cel_errors, open_api_schema, rules
from .helpers import BASE

SCHEMA = open_api_schema()


def node(path: str) -> dict[str, Any]:
    current = SCHEMA
    for part in path.split("."):
        current = current["items"] if part == "[]" else current["properties"][part]
    return current


TEMPLATE = {"spec": {"template": {"spec": {"containers": [{"name": "t", "image": "i"}]}}}}
WINDOWED = {"path": "p", "window": "1h", "timestampColumn": "ts"}
PROMOTING = {"promoteReference": {"fromJob": True}}
# (where the rule sits, an accepted value, a rejected value) for every rule of the CRD
CEL_CASES: list[tuple[str, Any, Any]] = [
    ("", {"metadata": {"name": "churn"}, "spec": {}}, {"metadata": {"name": "x" * 64}, "spec": {}}),
    ("spec", {"schedule": "0 * * * *"}, {"schedule": "0 * * * *", "interval": "1h"}),
    ("spec", {"interval": "1h"}, {}),
    (
        "spec.reference",
        {"path": "p", "window": "1h", "timestampColumn": "ts"},
        {"path": "p", "window": "1h"},
    ),
    (
        "spec.current",
        {"path": "p", "window": "1h", "timestampColumn": "ts"},
        {"path": "p", "window": "1h"},
    ),
    ("spec.current", {"path": "p"}, {"path": "p", "window": "24h"}),
    (
        "spec.detection.numerical",
        {"method": "ks", "threshold": 0.05},
        {"method": "ks", "threshold": 1.5},
    ),
    (
        "spec.detection.numerical",
        {"method": "wasserstein", "threshold": 5},
        {"method": "hellinger", "threshold": 2},
    ),
    (
        "spec.detection.numerical",
        {"method": "tvd", "threshold": 1},
        {"method": "jensenshannon", "threshold": 1.01},
    ),
    (
        "spec.detection.categorical",
        {"method": "psi", "threshold": 3.0},
        {"method": "chisquare", "threshold": 2},
    ),
    ("spec.detection.categorical", {"method": "chisquare"}, {"method": "tvd", "threshold": 1.2}),
    (
        "spec.model.predictions.[]",
        {"column": "p", "kind": "score", "method": "psi", "threshold": 0.1},
        {"column": "p", "kind": "score", "threshold": 0.1},
    ),
    (
        "spec.model.predictions.[]",
        {"column": "p", "kind": "label", "method": "chisquare", "threshold": 0.01},
        {"column": "p", "kind": "label", "method": "chisquare", "threshold": 2},
    ),
    (
        "spec.model.predictions.[]",
        {"column": "p", "kind": "value", "method": "ks"},
        {"column": "p", "kind": "label", "method": "ks"},
    ),
    (
        "spec.model.target",
        {"column": "y", "kind": "label", "method": "tvd"},
        {"column": "y", "kind": "value", "method": "chisquare"},
    ),
    ("spec.model.multivariate.features", ["a", "b"], ["a"]),
    (
        "spec.model.labels",
        {"path": "p", "labelColumn": "y", "timestampColumn": "t", "joinWindow": "7d"},
        {"path": "p", "labelColumn": "y", "joinWindow": "7d"},
    ),
    (
        "spec.detection.overrides.[]",
        {"feature": "a", "method": "kl", "threshold": 7},
        {"feature": "a", "method": "ks", "threshold": 1.5},
    ),
    (
        "spec.detection.overrides.[]",
        {"feature": "a", "method": "chisquare", "threshold": 1},
        {"feature": "a", "method": "chisquare", "threshold": 3},
    ),
    # reference lifecycle: modes and promotion
    ("spec.reference", {"mode": "rolling"}, {"mode": "rolling", "path": "p"}),
    ("spec.reference", {"path": "p"}, {"format": "csv"}),
    ("spec.reference", {"mode": "offset", "offset": "7d"}, {"mode": "offset"}),
    ("spec.reference", {"mode": "fixed", "path": "p"}, {"path": "p", "offset": "7d"}),
    (
        "spec.reference",
        {"mode": "rolling"},
        {"mode": "rolling", "window": "1h", "timestampColumn": "ts"},
    ),
    (
        "spec",
        {"interval": "1h", "reference": {"mode": "rolling"}, "current": WINDOWED},
        {"interval": "1h", "reference": {"mode": "rolling"}, "current": {"path": "p"}},
    ),
    (
        "spec",
        {"interval": "1h", "reference": {"path": "p"}, "retraining": PROMOTING},
        {
            "interval": "1h",
            "reference": {"mode": "offset", "offset": "7d"},
            "current": WINDOWED,
            "retraining": PROMOTING,
        },
    ),
    ("spec.retraining.promoteReference", {"path": "s3://b/train/{date}/"}, {"fromJob": False}),
    ("spec.retraining.promoteReference", {"fromJob": True}, {}),
    ("spec.retraining", {"enabled": True, "jobTemplate": TEMPLATE}, {"enabled": True}),
    ("spec.retraining", {"enabled": False}, {"enabled": True, "cooldown": "1h"}),
    ("spec.retraining.jobTemplate", TEMPLATE, {"spec": {"template": {"spec": {"containers": []}}}}),
]


def test_every_cel_rule_has_cases():
    where = {path.lstrip(".").replace("[]", ".[]") for path, _ in rules(SCHEMA)}
    assert where == {case[0] for case in CEL_CASES}


def test_cel_rules_compile():
    env = celpy.Environment()
    for _path, rule in rules(SCHEMA):
        env.compile(rule["rule"])
        assert rule["message"]


@pytest.mark.parametrize(
    ("where", "good", "bad"),
    CEL_CASES,
    ids=[f"{c[0] or 'root'}-{i}" for i, c in enumerate(CEL_CASES)],
)
def test_cel_rule_accepts_and_rejects(where, good, bad):
    schema_node = node(where) if where else SCHEMA
    assert cel_errors(good, schema_node, recurse=False) == []
    assert len(cel_errors(bad, schema_node, recurse=False)) == 1


def test_cel_rejections_reach_through_a_whole_manifest():
    doc = copy.deepcopy(BASE)
    doc["spec"]["interval"] = "1h"
    doc["spec"]["detection"] = {
        "overrides": [{"feature": "income", "method": "ks", "threshold": 2}]
    }
    errors = cel_errors(doc, SCHEMA)
    assert any("exactly one of spec.schedule" in e for e in errors)
    assert any(e.startswith(".spec.detection.overrides[0]") for e in errors)
