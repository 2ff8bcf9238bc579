"""Shared pieces of the Helm chart tests: where the tools are, rendering, reading manifests.

The tools (helm 3, helm 4, promtool) are installed by scripts/ci-tools.sh into ./.tools/.
A test that needs a missing tool fails, it does not skip: CI installs them.
Override a location with $DRIFTWARDEN_HELM3, $DRIFTWARDEN_HELM4 or $DRIFTWARDEN_PROMTOOL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "driftwarden"
TOOLS = Path(os.environ.get("DRIFTWARDEN_TOOLS") or ROOT / ".tools")
RELEASE = "driftwarden"
NAMESPACE = "driftwarden"
HELMS = ("helm3", "helm4")
# Kubernetes versions every rendered manifest is validated against (kubernetes-validate):
# the oldest the chart supports (Chart.yaml kubeVersion) and two current ones.
KUBE_VERSIONS = ("1.25.0", "1.29.0", "1.33.0")

# Non-default values: namespaced mode, peering, every integration, own resources and image.
CUSTOM_VALUES: dict[str, Any] = {
    "watchNamespaces": ["a", "b"],
    "replicaCount": 2,
    "image": {"repository": "registry.example.com/ml/driftwarden", "tag": "0.2.0-rc1"},
    "resources": {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    },
    "tickSeconds": 30,
    "maxConcurrentJobs": 4,
    "jobPolicy": {
        "allowedImages": ["registry.example.com/ml/*", "trainer:1.*"],
        "allowedPriorityClasses": ["batch-low"],
    },
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "prometheusRule": {"enabled": True, "alertLabels": {"team": "ml-platform"}},
    "grafanaDashboard": {
        "enabled": True,
        "namespace": "monitoring",
        "annotations": {"grafana_folder": "ML"},
    },
}

_ENV = {
    "helm3": "DRIFTWARDEN_HELM3",
    "helm4": "DRIFTWARDEN_HELM4",
    "promtool": "DRIFTWARDEN_PROMTOOL",
}
_MAJOR = {"helm3": "v3.", "helm4": "v4."}


def _missing(tool: str, why: str) -> None:
    pytest.fail(f"{tool}: {why}. Install the chart test tools with: scripts/ci-tools.sh", False)


@cache
def _locate(tool: str) -> str:
    candidates: list[str] = []
    if os.environ.get(_ENV[tool]):
        candidates.append(os.environ[_ENV[tool]])
    if tool in _MAJOR:
        candidates.append(str(TOOLS / tool / "helm"))
        candidates.append(shutil.which("helm") or "")
    else:
        candidates.append(str(TOOLS / "promtool" / "promtool"))
        candidates.append(shutil.which("promtool") or "")
    for path in filter(None, candidates):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        if tool in _MAJOR:
            version = subprocess.run(
                [path, "version", "--template", "{{.Version}}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if not version.startswith(_MAJOR[tool]):
                continue
        return path
    return ""


def tool(name: str) -> str:
    """Path of helm3, helm4 or promtool; fails the test when it is not installed."""
    path = _locate(name)
    if not path:
        _missing(name, "not found in .tools/, $" + _ENV[name] + " or PATH")
    return path


def helm(
    helm_name: str,
    command: str,
    values: Mapping[str, Any] | None = None,
    *,
    extra: Sequence[str] = (),
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``helm lint|template|install`` of the chart; values go in through stdin."""
    args = [tool(helm_name), command]
    if command == "lint":
        args += [str(CHART)]
    else:  # template, install
        args += [RELEASE, str(CHART), "--namespace", NAMESPACE]
    if values:
        args += ["--values", "-"]
    result = subprocess.run(
        [*args, *extra],
        input=yaml.safe_dump(dict(values)) if values else "",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr}", False)
    return result


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@cache
def _render(helm_name: str, values_yaml: str, kube_version: str | None) -> tuple[Any, ...]:
    extra = ["--include-crds"] + (["--kube-version", kube_version] if kube_version else [])
    values = yaml.safe_load(values_yaml) if values_yaml else None
    return tuple(documents(helm(helm_name, "template", values, extra=extra).stdout))


def render(
    values: Mapping[str, Any] | None = None,
    helm_name: str = "helm3",
    kube_version: str | None = None,
) -> tuple[dict[str, Any], ...]:
    """Rendered manifests, CRDs included; cached per helm, values and Kubernetes version.

    Callers must not modify what they get (the tuple is shared)."""
    return _render(helm_name, yaml.safe_dump(dict(values)) if values else "", kube_version)


def find(docs: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> list[Any]:
    return [
        d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def container(docs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    (operator,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return operator
