"""The chart's RBAC against what the operator really calls.

``driftwarden run`` starts as the chart's Deployment starts it (its rendered arguments and
environment) against the test API server, which logs every request. A DriftMonitor then
goes through a whole life: first analysis Job, the Job failing, status and Events written,
the Job removed by the history limit, the monitor deleted (kopf's finalizer). Every request
the operator made must be allowed by the RBAC the chart renders for the same values, and
every permission the chart grants must be one the operator used or one listed below with
the reason it is granted without being exercised here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from tests.chart.helpers import CHART, CUSTOM_VALUES, NAMESPACE, RELEASE, ROOT, container, render
from tests.chart.rbac import Authorizer, Request

G, V, P = "driftwarden.io", "v1alpha1", "driftmonitors"

# Granted, not exercised by this scenario, and why.
GRANTED_UNUSED = {
    # Readers of single objects and status: the operator reads monitors through the main
    # endpoint; kopf falls back to GETs after watch errors.
    ("driftwarden.io", "driftmonitors/status", "get"),
    ("driftwarden.io", "driftmonitors/status", "update"),
    # Checked by the OwnerReferencesPermissionEnforcement admission plugin (real API servers)
    # when a Job with blockOwnerDeletion is created; this API server does not check it.
    ("driftwarden.io", "driftmonitors/finalizers", "update"),
    ("", "pods", "get"),
    # The result finalizer is removed from pods the Job controller made from the template;
    # this scenario's pod is the manual stand-in's (no template finalizers).
    ("", "pods", "patch"),
    # FailedCreate Events are read only for a Job that has had no pod for a tick.
    ("", "events", "list"),
    ("batch", "jobs", "get"),  # a Job whose create answered 409 AlreadyExists is read back
    ("", "events", "patch"),  # Event series (client-side aggregation)
    ("apiextensions.k8s.io", "customresourcedefinitions", "get"),
    ("kopf.dev", "kopfpeerings", "get"),
    ("kopf.dev", "clusterkopfpeerings", "get"),
}

MODES = {
    "cluster-wide": (None, "ml"),
    "cluster-wide-peering": ({"replicaCount": 2}, "ml"),
    "namespaced-peering": (CUSTOM_VALUES, "b"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None


def _as_rbac(record) -> Request | None:
    if record.plural is None:
        return None  # discovery (/api, /apis, /version): granted to every authenticated user
    if record.method == "GET":
        verb = "watch" if record.is_watch else ("get" if record.name else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(record.method)
        if record.method == "DELETE":
            verb = "delete" if record.name else "deletecollection"
    resource = f"{record.plural}/{record.subresource}" if record.subresource else record.plural
    return Request(verb, record.group or "", resource, record.namespace, record.name)


def _monitor(namespace: str) -> dict:
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "DriftMonitor",
        "metadata": {"name": "churn", "namespace": namespace},
        "spec": {
            "interval": "1h",
            "storage": {"endpoint": "http://127.0.0.1:9", "secretRef": {"name": "s3-credentials"}},
            "reference": {"path": "s3://logs/train/"},
            "current": {"path": "s3://logs/live/"},
            "job": {"failedJobsHistoryLimit": 0},
        },
    }


def _operator_command(docs, metrics_port: int, health_port: int) -> tuple[list[str], dict]:
    operator = container(docs)
    args = []
    for arg in operator["args"]:
        if arg.startswith("--metrics-port="):
            arg = f"--metrics-port={metrics_port}"
        elif arg.startswith("--health-port="):
            arg = f"--health-port={health_port}"
        elif arg.startswith("--tick="):
            arg = "--tick=0.5"
        args.append(arg)
    env = {e["name"]: e["value"] for e in operator["env"] if "value" in e}
    env["POD_ID"] = f"{RELEASE}-7d9f8-x2x4k"  # the chart sets it from metadata.name
    return [sys.executable, "-m", "driftwarden.cli.main", *args], env


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(MODES))
def test_operator_requests_are_allowed_by_the_chart_rbac(mode, kube_api, tmp_path):
    values, namespace = MODES[mode]
    docs = render(values)
    kube_api.register_crd(ROOT / "crds" / "driftmonitor.yaml")
    kube_api.register_crd(CHART / "crds" / "kopf-peering.yaml")
    for name in ("ml", "a", "b"):
        kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for doc in docs:
        if doc["kind"] in ("KopfPeering", "ClusterKopfPeering"):
            kube_api.create(doc)

    metrics_port, health_port = _free_port(), _free_port()
    command, env = _operator_command(docs, metrics_port, health_port)
    log_path = tmp_path / "operator.log"
    process = subprocess.Popen(
        command,
        env={**os.environ, **env, "KUBECONFIG": str(kube_api.kubeconfig_path)},
        cwd=ROOT,
        # A file, not a pipe: nobody reads a pipe while the test runs, and a full one blocks the operator.
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Left by an operator that ran with peering (or an older version): standalone
        # removes it, with peering kopf removes it on deletion — a patch either way.
        monitor = _monitor(namespace)
        monitor["metadata"]["finalizers"] = ["driftwarden.io/finalizer"]
        kube_api.create(monitor)
        (job,) = kube_api.wait_for(
            lambda: kube_api.objects("batch", "v1", "jobs", namespace), timeout=30
        )
        assert job["spec"]["template"]["spec"]["containers"][0]["image"] == env["DRIFTWARDEN_IMAGE"]
        assert _http_status(f"http://127.0.0.1:{health_port}/healthz") == 200
        assert _http_status(f"http://127.0.0.1:{metrics_port}/metrics") == 200
        kube_api.complete_job(namespace, job["metadata"]["name"], succeeded=False, exit_code=4)
        kube_api.wait_for(
            lambda: (
                (
                    kube_api.get(G, V, P, "churn", namespace).get("status", {}).get("lastRun", {})
                ).get("outcome")
                == "Failed"
            ),
            timeout=30,
        )
        kube_api.wait_for(lambda: not kube_api.objects("batch", "v1", "jobs", namespace))
        kube_api.wait_for(lambda: kube_api.events(namespace, reason="AnalysisFailed"))
        kube_api.delete(G, V, P, "churn", namespace)
        kube_api.wait_for(lambda: kube_api.find(G, V, P, "churn", namespace) is None, timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    output = log_path.read_text()
    assert "Traceback" not in output, output[-4000:]

    requests = [r for r in map(_as_rbac, kube_api.requests) if r is not None]
    auth = Authorizer(docs, RELEASE, NAMESPACE)
    denied = sorted({str(r) for r in requests if not auth.allows(r)})
    assert not denied, "the chart's RBAC would deny:\n" + "\n".join(denied)

    used = {(r.group, r.resource, r.verb) for r in requests}
    granted = {(g, res, verb) for _, g, res, verb in auth.grants()}
    assert granted - used <= GRANTED_UNUSED, sorted(granted - used - GRANTED_UNUSED)
    # The scenario did exercise the operator's main paths.
    assert {
        ("driftwarden.io", "driftmonitors", "watch"),
        ("driftwarden.io", "driftmonitors", "patch"),
        ("driftwarden.io", "driftmonitors/status", "patch"),
        ("batch", "jobs", "create"),
        ("batch", "jobs", "delete"),
        ("", "pods", "list"),
        ("", "events", "create"),
    } <= used
    if "peering" in mode:
        plural = "kopfpeerings" if values.get("watchNamespaces") else "clusterkopfpeerings"
        assert ("kopf.dev", plural, "patch") in used
