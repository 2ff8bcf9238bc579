"""deploy/ (Argo CD, Flux) and the e2e's Helm install agree with the chart and the CRD.

The chart values they set must exist in charts/driftwarden/values.yaml; with helm
available (scripts/ci-tools.sh puts it in .tools/), the chart is rendered with
each of them, and the e2e's `--set` flags must give a Deployment that runs — and
starts analysis Jobs with — the image the e2e built and loaded.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftwarden.monitor import validate_manifest
from e2e import checks
from tests.e2e_static.conftest import ROOT, find_helm

CHART = ROOT / "charts" / "driftwarden"
DEPLOY = ROOT / "deploy"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _one(path: Path, kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d for d in _documents(path) if d["kind"] == kind and name in (None, d["metadata"]["name"])
    ]
    assert len(found) == 1, f"{path}: {kind} {name}"
    return found[0]


def _leaves(values: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        out += _leaves(value, path + ".") if isinstance(value, dict) and value else [path]
    return out


def _set_flags() -> dict[str, str]:
    """The chart values e2e/run.sh sets, with $IMAGE as its default driftwarden:e2e."""
    text = (ROOT / "e2e" / "run.sh").read_text()
    image = re.search(r"^IMAGE=\$\{IMAGE:-([^}]+)\}", text, re.MULTILINE).group(1)
    flags = dict(re.findall(r"--set ([\w.]+)=(\S+)", text))
    substitutions = {
        '"${IMAGE%:*}"': image.rsplit(":", 1)[0],
        '"${IMAGE##*:}"': image.rsplit(":", 1)[1],
    }
    return {key: substitutions.get(value, value) for key, value in flags.items()}


def _nested(flags: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in flags.items():
        *parents, leaf = key.split(".")
        node = values
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return values


VALUE_SOURCES = {
    "argocd": lambda: _one(DEPLOY / "argocd" / "application.yaml", "Application", "driftwarden")[
        "spec"
    ]["source"]["helm"]["valuesObject"],
    "flux": lambda: _one(DEPLOY / "flux" / "operator" / "helmrelease.yaml", "HelmRelease")["spec"][
        "values"
    ],
    "e2e": lambda: _nested(_set_flags()),
}


def _chart_has(values: dict[str, Any], key: str) -> bool:
    """``key`` (a.b.c) is a value of the chart, or lies in one of its free-form maps."""
    node: Any = values
    for part in key.split("."):
        if node == {}:
            return True  # e.g. serviceMonitor.labels: {} takes any key
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize("source", list(VALUE_SOURCES))
def test_values_set_by_gitops_and_e2e_exist_in_the_chart(source):
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key in _leaves(VALUE_SOURCES[source]()):
        assert _chart_has(chart_values, key), (
            f"{source} sets {key}: not in charts/driftwarden/values.yaml"
        )
    assert not _chart_has(chart_values, "image.no-such-value")


def _render(values: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    helm = find_helm()
    if helm is None:
        pytest.skip("helm not found (scripts/ci-tools.sh installs it into .tools/)")
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    result = subprocess.run(
        [helm, "template", "driftwarden", str(CHART), "--namespace", "driftwarden",
         "--values", str(values_file)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.mark.parametrize("source", list(VALUE_SOURCES))
def test_chart_renders_with_these_values(source, tmp_path):
    kinds = {d["kind"] for d in _render(VALUE_SOURCES[source](), tmp_path)}
    assert {"Deployment", "Service"} <= kinds


def test_e2e_install_runs_the_built_image_and_serves_metrics_where_the_e2e_looks(tmp_path):
    objects = _render(VALUE_SOURCES["e2e"](), tmp_path)
    flags = _set_flags()
    image = f"{flags['image.repository']}:{flags['image.tag']}"
    (deployment,) = [d for d in objects if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image
    env = {e["name"]: e.get("value") for e in container.get("env") or []}
    assert env["DRIFTWARDEN_IMAGE"] == image  # the analysis Jobs run the same image

    def get(resource, namespace, name=None, *, selector=None, field_selector=None):
        wanted = dict(pair.split("=") for pair in (selector or "").split(",") if pair)
        return {
            "items": [
                d
                for d in objects
                if d["kind"] == "Service"
                and wanted.items() <= (d["metadata"].get("labels") or {}).items()
            ]
        }

    name, port = checks.find_metrics_service(get, "driftwarden", "driftwarden")
    (service,) = [d for d in objects if d["kind"] == "Service" and d["metadata"]["name"] == name]
    target = next(p["targetPort"] for p in service["spec"]["ports"] if p["port"] == port)
    assert target in {p["name"] for p in container["ports"]} | {
        p["containerPort"] for p in container["ports"]
    }


# ---------------------------------------------------------------- Argo CD


def test_argocd_applications_sync_the_operator_before_the_monitors():
    path = DEPLOY / "argocd" / "application.yaml"
    operator = _one(path, "Application", "driftwarden")
    monitors = _one(path, "Application", "drift-monitors")
    assert (ROOT / operator["spec"]["source"]["path"]).is_dir()
    waves = [
        int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for a in (operator, monitors)
    ]
    assert waves[0] < waves[1]
    assert "ServerSideApply=true" in operator["spec"]["syncPolicy"]["syncOptions"]
    assert operator["spec"]["destination"]["namespace"] == "driftwarden"


# ---------------------------------------------------------------- Flux


def test_flux_kustomizations_point_at_folders_that_exist_and_depend_in_order():
    clusters = DEPLOY / "flux" / "clusters.yaml"
    operator = _one(clusters, "Kustomization", "driftwarden")
    monitors = _one(clusters, "Kustomization", "drift-monitors")
    assert monitors["spec"]["dependsOn"] == [{"name": "driftwarden"}]
    for kustomization in (operator, monitors):
        folder = ROOT / kustomization["spec"]["path"]
        assert folder.is_dir(), kustomization["spec"]["path"]
        assert kustomization["spec"]["wait"] is True
        for resource in yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]:
            assert (folder / resource).is_file(), resource


def test_flux_helmrelease_takes_the_chart_from_the_git_source_and_upgrades_crds():
    folder = DEPLOY / "flux" / "operator"
    release = _one(folder / "helmrelease.yaml", "HelmRelease")
    source = _one(folder / "source.yaml", "GitRepository")
    chart = release["spec"]["chart"]["spec"]
    assert chart["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert (ROOT / chart["chart"]).resolve() == CHART.resolve()
    assert "!/charts/" in source["spec"]["ignore"]
    assert (
        release["spec"]["install"]["crds"] == release["spec"]["upgrade"]["crds"] == "CreateReplace"
    )


def test_gitops_monitors_pass_the_api_server_and_the_operator(kube_api):
    kube_api.register_crd(ROOT / "crds" / "driftmonitor.yaml")
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}})
    monitors = [
        d
        for path in sorted((DEPLOY / "flux" / "monitors").glob("*.yaml"))
        for d in _documents(path)
        if d.get("kind") == "DriftMonitor"
    ]
    assert monitors
    for monitor in monitors:
        assert validate_manifest(monitor) == []
        kube_api.create(monitor)
