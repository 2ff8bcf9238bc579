"""What the chart renders: valid Kubernetes objects, labels, names, the operator's Deployment."""

from __future__ import annotations

import copy
import json

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kopf._cogs.structs import references as kopf_references

from tests.chart.helpers import (
    CHART,
    CUSTOM_VALUES,
    KUBE_VERSIONS,
    NAMESPACE,
    RELEASE,
    ROOT,
    container,
    find,
    one,
    render,
)

# Kinds Kubernetes does not define: checked against their CRDs or by shape below.
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "KopfPeering", "ClusterKopfPeering"}
RENDERS = {
    "defaults": None,
    "custom": CUSTOM_VALUES,
    "cluster-wide-peering": {"replicaCount": 3, "serviceMonitor": {"enabled": True}},
    "no-rbac-own-account": {"rbac": {"create": False}, "serviceAccount": {"create": False}},
}


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", sorted(RENDERS))
def test_every_manifest_is_valid_for_kubernetes(values, kube_version):
    # helm 4 renders the same manifests (test_helm.py), so helm 3's are validated here.
    unknown = set()
    for doc in render(RENDERS[values], "helm3", kube_version):
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.utils.SchemaNotFoundError:
            unknown.add(doc["kind"])
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {error.message}")
    assert unknown <= CUSTOM_KINDS


def test_the_validator_catches_a_broken_deployment():
    deployment = copy.deepcopy(one(render(), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)


def test_chart_crd_is_byte_identical_to_the_repository_crd():
    chart_crd = (CHART / "crds" / "driftmonitor.yaml").read_bytes()
    assert chart_crd == (ROOT / "crds" / "driftmonitor.yaml").read_bytes()


def test_chart_ships_the_peering_crds_kopf_looks_for():
    """kopf's own selectors (kopf.dev/v1) must match the chart's peering CRDs."""
    found = {}
    for crd in render():
        if crd["kind"] != "CustomResourceDefinition":
            continue
        spec, (version,) = crd["spec"], crd["spec"]["versions"]
        resource = kopf_references.Resource(
            group=spec["group"],
            version=version["name"],
            plural=spec["names"]["plural"],
            kind=spec["names"]["kind"],
            singular=spec["names"].get("singular", ""),
            namespaced=spec["scope"] == "Namespaced",
        )
        for selector in (
            kopf_references.CLUSTER_PEERINGS_K,
            kopf_references.NAMESPACED_PEERINGS_K,
        ):
            if selector.check(resource):
                found[selector.any_name] = (crd, version)
    assert set(found) == {"clusterkopfpeerings", "kopfpeerings"}
    assert found["clusterkopfpeerings"][0]["spec"]["scope"] == "Cluster"
    assert found["kopfpeerings"][0]["spec"]["scope"] == "Namespaced"
    for _, version in found.values():
        assert version["served"] and version["storage"]
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert status["x-kubernetes-preserve-unknown-fields"] is True


def _crd_schema(kind):
    for doc in render():
        if doc["kind"] == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == kind:
            return doc, doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    raise AssertionError(kind)


@pytest.mark.parametrize("values", ["defaults", "custom", "cluster-wide-peering"])
def test_peering_objects_fit_their_crds(values):
    for doc in render(RENDERS[values]):
        if doc["kind"] in ("KopfPeering", "ClusterKopfPeering"):
            crd, schema = _crd_schema(doc["kind"])
            assert doc["apiVersion"] == f"{crd['spec']['group']}/v1"
            assert ("namespace" in doc["metadata"]) == (crd["spec"]["scope"] == "Namespaced")
            jsonschema.Draft7Validator(schema).validate(doc)


def test_peering_only_with_more_than_one_replica_or_when_asked():
    def peering(docs):
        args = container(docs)["args"]
        return [a for a in args if a.startswith("--peering")], sorted(
            (d["kind"], d["metadata"].get("namespace", "")) for d in docs if "Peering" in d["kind"]
        )

    assert peering(render()) == ([], [])
    fullname = RELEASE  # the release name contains the chart name
    assert peering(render({"replicaCount": 2})) == (
        [f"--peering={fullname}"],
        [("ClusterKopfPeering", "")],
    )
    assert peering(render({"peering": {"enabled": True, "name": "dw"}})) == (
        ["--peering=dw"],
        [("ClusterKopfPeering", "")],
    )
    assert peering(render(CUSTOM_VALUES)) == (
        [f"--peering={fullname}"],
        [("KopfPeering", "a"), ("KopfPeering", "b")],
    )


STANDARD_LABELS = {
    "helm.sh/chart": "driftwarden-0.1.0",
    "app.kubernetes.io/name": "driftwarden",
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/version": "0.1.0",
    "app.kubernetes.io/managed-by": "Helm",
}


@pytest.mark.parametrize("values", sorted(RENDERS))
def test_every_templated_object_has_the_standard_labels(values):
    for doc in render(RENDERS[values]):
        if doc["kind"] == "CustomResourceDefinition":
            continue  # crds/ is not templated
        labels = doc["metadata"]["labels"]
        assert labels.items() >= STANDARD_LABELS.items(), doc["metadata"]["name"]
        assert labels["app.kubernetes.io/component"] in {
            "operator",
            "rbac",
            "monitoring",
            "peering",
        }


def test_names_follow_the_release_and_the_overrides():
    assert one(render(), "Deployment")["metadata"]["name"] == "driftwarden"
    docs = render({"nameOverride": "dw"})
    assert one(docs, "Deployment")["metadata"]["name"] == f"{RELEASE}-dw"
    assert one(docs, "Deployment")["metadata"]["labels"]["app.kubernetes.io/name"] == "dw"
    docs = render({"fullnameOverride": "drift"})
    assert {d["metadata"]["name"] for d in find(docs, "ClusterRole")} == {
        "drift",
        "drift-edit",
        "drift-view",
    }
    assert one(docs, "Service")["metadata"]["name"] == "drift-metrics"
    assert container(docs)["env"][0]["value"].startswith("ghcr.io/driftwarden/driftwarden:")


def test_selector_excludes_the_analysis_job_pods():
    deployment = one(render(), "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector["app.kubernetes.io/component"] == "operator"
    # An analysis Job's pod (labels from driftwarden.monitor.job) must never match.
    from driftwarden.monitor.job import COMPONENT_ANALYSIS, LABEL_COMPONENT

    assert selector[LABEL_COMPONENT] != COMPONENT_ANALYSIS
    assert deployment["spec"]["template"]["metadata"]["labels"].items() >= selector.items()
    assert one(render(), "Service")["spec"]["selector"] == selector


def test_default_deployment_runs_the_operator_with_its_flags():
    docs = render()
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    operator = container(docs)
    assert operator["image"] == "ghcr.io/driftwarden/driftwarden:0.1.0"
    assert operator["args"] == [
        "run",
        "--log-format=json",
        "--log-level=info",
        "--metrics-port=9090",
        "--health-port=8080",
        "--tick=15",
        "--max-concurrent-jobs=10",
    ]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in operator["env"]}
    assert env["DRIFTWARDEN_IMAGE"] == operator["image"]
    assert env["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    ports = {p["name"]: p["containerPort"] for p in operator["ports"]}
    assert ports == {"metrics": 9090, "health": 8080}
    for probe in ("livenessProbe", "readinessProbe"):
        assert operator[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert operator["resources"]["requests"] and operator["resources"]["limits"]
    assert set(operator["resources"]["limits"]) == {"cpu", "memory"}


def test_the_run_command_accepts_the_rendered_arguments():
    from driftwarden.cli.main import build_parser

    for values in (None, CUSTOM_VALUES):
        args = build_parser().parse_args(container(render(values))["args"])
        assert args.handler.__name__ == "run"
    args = build_parser().parse_args(container(render(CUSTOM_VALUES))["args"])
    assert args.namespace == ["a", "b"]
    assert args.peering == RELEASE
    assert (args.tick, args.max_concurrent_jobs, args.log_format) == (30.0, 4, "json")
    assert (args.metrics_port, args.health_port) == (9090, 8080)
    assert args.allowed_images == ["registry.example.com/ml/*", "trainer:1.*"]
    assert args.allowed_priority_classes == ["batch-low"]


def test_custom_values_reach_the_deployment():
    docs = render(CUSTOM_VALUES)
    operator = container(docs)
    image = "registry.example.com/ml/driftwarden:0.2.0-rc1"
    assert operator["image"] == image
    assert {"name": "DRIFTWARDEN_IMAGE", "value": image} in operator["env"]
    assert operator["resources"] == CUSTOM_VALUES["resources"]
    assert one(docs, "Deployment")["spec"]["replicas"] == 2


def test_image_digest_pins_operator_and_jobs():
    digest = "sha256:" + "ab" * 32
    operator = container(render({"image": {"digest": digest}}))
    assert operator["image"] == f"ghcr.io/driftwarden/driftwarden@{digest}"
    assert {"name": "DRIFTWARDEN_IMAGE", "value": operator["image"]} in operator["env"]


@pytest.mark.parametrize("values", sorted(RENDERS))
def test_security_context_is_restrictive(values):
    docs = render(RENDERS[values])
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["runAsGroup"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key)
    operator = container(docs)
    context = operator["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 65532
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["privileged"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    (mount,) = operator["volumeMounts"]
    (volume,) = pod["volumes"]
    assert mount == {"name": volume["name"], "mountPath": "/tmp"}
    assert "emptyDir" in volume and volume["emptyDir"]["sizeLimit"]


def test_service_monitor_scrapes_the_metrics_service():
    docs = render(CUSTOM_VALUES)
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert (
        service["metadata"]["labels"].items() >= monitor["spec"]["selector"]["matchLabels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # The operator's metrics carry the monitor's namespace: keep it rather than exported_namespace.
    assert endpoint["honorLabels"] is True
    assert {"interval", "scrapeTimeout"} <= endpoint.keys()


def test_prometheus_rule_has_the_shape_the_prometheus_operator_wants():
    rule = one(render(CUSTOM_VALUES), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["rules"]
        for alert in group["rules"]:
            assert set(alert) == {"alert", "expr", "for", "labels", "annotations"}
            assert alert["labels"]["team"] == "ml-platform"


def test_grafana_dashboard_configmap_holds_the_dashboard_json():
    docs = render(CUSTOM_VALUES)
    configmap = one(docs, "ConfigMap")
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "ML"}
    (key,) = configmap["data"]
    assert key.endswith(".json")
    shipped = json.loads((CHART / "dashboards" / "driftwarden.json").read_text())
    assert json.loads(configmap["data"][key]) == shipped


def test_optional_integrations_are_off_by_default():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key in ("serviceMonitor", "prometheusRule", "grafanaDashboard"):
        assert values[key]["enabled"] is False
    kinds = {d["kind"] for d in render()}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "ConfigMap"}
