"""The chart with helm 3 and helm 4: lint, render, values schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.chart.helpers import CHART, CUSTOM_VALUES, HELMS, RELEASE, helm, render

SCHEMA = json.loads((CHART / "values.schema.json").read_text())


@pytest.mark.parametrize("values", [None, CUSTOM_VALUES], ids=["defaults", "custom"])
@pytest.mark.parametrize("helm_name", HELMS)
def test_helm_lint_strict_passes(helm_name, values):
    result = helm(helm_name, "lint", values, extra=["--strict"])
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    "values",
    [None, CUSTOM_VALUES, {"replicaCount": 2, "rbac": {"aggregateToDefaultRoles": False}}],
    ids=["defaults", "custom", "cluster-wide-peering"],
)
def test_helm3_and_helm4_render_the_same_manifests(values):
    assert render(values, "helm3") == render(values, "helm4")


def test_default_render_has_the_operator_and_no_optional_integrations():
    kinds = sorted(d["kind"] for d in render())
    assert kinds == sorted(
        ["CustomResourceDefinition"] * 3
        + ["ServiceAccount", "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding"]
        + ["Service", "Deployment"]
    )


def test_custom_render_has_every_integration_and_namespaced_rbac():
    kinds = sorted(d["kind"] for d in render(CUSTOM_VALUES))
    for kind, count in {
        "ServiceMonitor": 1,
        "PrometheusRule": 1,
        "ConfigMap": 1,
        "Role": 2,
        "RoleBinding": 2,
        "KopfPeering": 2,
        "Deployment": 1,
    }.items():
        assert kinds.count(kind) == count, kind


def _merged(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        return {k: _merged(base.get(k), override[k]) if k in override else base[k]
                for k in base.keys() | override.keys()}  # fmt: skip
    return override


def test_values_yaml_and_custom_values_satisfy_the_schema():
    validator = jsonschema.Draft7Validator(SCHEMA)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    validator.validate(defaults)
    validator.validate(_merged(defaults, CUSTOM_VALUES))


def test_schema_is_draft7_and_closed_at_the_top():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert SCHEMA["additionalProperties"] is False


BAD_VALUES = {
    "negative replicas": (["--set", "replicaCount=-1"], "replicaCount"),
    "unknown top-level key": (["--set", "unknownKey=1"], "unknownKey"),
    "unknown nested key": (["--set", "image.tags=1"], "tags"),
    "bad log format": (["--set", "logFormat=xml"], "logFormat"),
    "bad namespace name": (["--set", "watchNamespaces[0]=Not_A_Namespace"], "watchNamespaces"),
    "zero tick": (["--set", "tickSeconds=0"], "tickSeconds"),
    "no jobs allowed": (["--set", "maxConcurrentJobs=0"], "maxConcurrentJobs"),
    "string replicas": (["--set-string", "replicaCount=two"], "replicaCount"),
    "bad pull policy": (["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
    "bad scrape interval": (["--set", "serviceMonitor.interval=often"], "interval"),
    "bad alert duration": (["--set", "prometheusRule.driftDetected.for=soon"], "for"),
    "port out of range": (["--set", "metrics.port=70000"], "port"),
    "system priority class": (
        ["--set", "jobPolicy.allowedPriorityClasses[0]=system-node-critical"],
        "allowedPriorityClasses",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
@pytest.mark.parametrize("helm_name", HELMS)
def test_schema_rejects_bad_values(helm_name, case):
    args, key = BAD_VALUES[case]
    result = helm(helm_name, "template", extra=args, check=False)
    assert result.returncode != 0, f"{case}: rendered anyway"
    assert "schema" in result.stderr and key in result.stderr, result.stderr


@pytest.mark.parametrize("helm_name", HELMS)
def test_same_port_for_metrics_and_health_is_refused(helm_name):
    result = helm(helm_name, "template", extra=["--set", "healthPort=9090"], check=False)
    assert result.returncode != 0
    assert "metrics.port and healthPort must differ" in result.stderr


@pytest.mark.parametrize("helm_name", HELMS)
def test_kubernetes_older_than_1_25_is_refused(helm_name):
    result = helm(helm_name, "template", extra=["--kube-version", "1.24.0"], check=False)
    assert result.returncode != 0 and "kubeVersion" in result.stderr


def test_notes_tell_how_to_check_the_operator():
    # helm template leaves NOTES.txt out (lint and template still parse it); install --dry-run
    # renders it, and helm 4 does that without a cluster (helm 3 insists on reaching one).
    result = helm("helm4", "install", extra=["--dry-run=client"])
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "kubectl get driftmonitors --all-namespaces" in notes
    assert "kubectl get dm -A" in notes
    assert f"port-forward service/{RELEASE}-metrics 9090:9090" in notes
    assert "It serves DriftMonitors in all namespaces." in notes
