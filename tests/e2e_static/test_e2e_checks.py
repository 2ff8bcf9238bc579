"""e2e/checks.py, run here on what the real operator does.

The kind e2e (e2e/run.sh) cannot run on this machine, so its steps are replayed
against the test API server: the seed Job of e2e/manifests/seed-job.yaml runs
e2e/seed_data.py (through the kubelet stand-in, with the Secret's credentials) into
the test S3 server, the monitors of e2e/manifests/monitors.yaml are applied as they
are (only the S3 endpoint and bucket swapped), the operator reconciles them, and
the very functions run.sh calls judge the outcome — through HTTP, as kubectl would.
"""

from __future__ import annotations

import json
import socket
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import start_http_server

from e2e import checks
from tests.controller.conftest import NAMESPACE
from tests.e2e_static.conftest import ROOT

MANIFESTS = ROOT / "e2e" / "manifests"
E2E_ENDPOINT = "http://seaweedfs.s3.svc.cluster.local:8333"
E2E_BUCKET = "driftwarden-e2e"
HEALTHY, DRIFTED = "e2e-healthy", "e2e-drifted"
ROUTES = {
    checks.MONITORS: ("driftwarden.io", "v1alpha1", "driftmonitors"),
    "jobs": ("batch", "v1", "jobs"),
    "events": ("", "v1", "events"),
}


def api_getter(api: Any) -> checks.Getter:
    """``kubectl get -o json`` against the test API server, over HTTP."""

    def get(resource, namespace, name=None, *, selector=None, field_selector=None):
        group, version, plural = ROUTES[resource]
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        path = f"{base}/namespaces/{namespace}/{plural}" + (f"/{name}" if name else "")
        params = {"labelSelector": selector, "fieldSelector": field_selector}
        status, body, _ = api.http("GET", path, params={k: v for k, v in params.items() if v})
        if status == 404:
            raise checks.NotFound(path)
        assert status == 200, body
        return body

    return get


def _documents(path: Path, cluster: Any) -> list[dict[str, Any]]:
    """The manifests of ``path`` pointed at the test S3 server and bucket.

    driftwarden:e2e becomes the operator's image, as run.sh makes it the deployed one
    (the Job policy allows the operator's own image for retraining without an allowlist).
    """
    text = json.dumps(list(yaml.safe_load_all(path.read_text())))
    text = text.replace(E2E_ENDPOINT, cluster.s3.endpoint).replace(E2E_BUCKET, cluster.bucket)
    text = text.replace("driftwarden:e2e", "driftwarden:test")
    return json.loads(text)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(cluster: Any) -> None:
    """Run the e2e seed Job: its container's command runs this interpreter on e2e/seed_data.py."""
    (job,) = _documents(MANIFESTS / "seed-job.yaml", cluster)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "/seed/seed_data.py"]
    container["command"] = [sys.executable, str(ROOT / "e2e" / "seed_data.py")]
    cluster.api.create(job)
    name = job["metadata"]["name"]
    cluster.api.wait_for(lambda: name in cluster.kubelet.results, timeout=180)
    code, stdout, stderr = cluster.kubelet.results[name]
    assert code == 0, stderr
    assert f"s3://{cluster.bucket}/demo/live/date=2026-11-05/part-0.parquet" in stdout


@pytest.mark.slow
def test_e2e_checks_pass_on_the_operators_results_and_fail_on_wrong_ones(cluster):
    _seed(cluster)
    get = api_getter(cluster.api)
    with cluster.operator() as reconciler:
        port = _free_port()
        server, thread = start_http_server(
            port, addr="127.0.0.1", registry=reconciler.metrics.registry
        )
        try:
            for monitor in _documents(MANIFESTS / "monitors.yaml", cluster):
                cluster.api.create(monitor)
            checks.check_monitors(get, NAMESPACE, HEALTHY, DRIFTED, "driftwarden:test", timeout=120)
            url = f"http://127.0.0.1:{port}/metrics"
            samples = checks.wait_for(
                lambda: checks.check_metrics(checks.fetch(url), NAMESPACE, HEALTHY, DRIFTED), 30
            )
            text = checks.fetch(url)
        finally:
            server.shutdown()
            thread.join(timeout=10)

    assert checks.value(samples, "driftwarden_features", namespace=NAMESPACE, monitor=DRIFTED) == 13
    # The same checks refuse what would be a broken operator or a mixed-up cluster.
    wrong = [
        lambda: checks.check_healthy_monitor(get, NAMESPACE, DRIFTED),
        lambda: checks.check_drifted_monitor(get, NAMESPACE, HEALTHY),
        lambda: checks.check_retraining_job(get, NAMESPACE, HEALTHY),
        lambda: checks.check_analysis_jobs(get, NAMESPACE, HEALTHY, image="driftwarden:other"),
        lambda: checks.check_events(get, NAMESPACE, HEALTHY, ["DriftDetected"]),
        lambda: checks.check_metrics(text, NAMESPACE, DRIFTED, HEALTHY),
        lambda: checks.check_metrics(text, "other-namespace", HEALTHY, DRIFTED),
    ]
    for check in wrong:
        with pytest.raises(checks.CheckFailed):
            check()
    with pytest.raises(checks.NotFound):
        checks.check_healthy_monitor(get, NAMESPACE, "no-such-monitor")


# ---------------------------------------------------------------- the pieces, without a cluster


def test_parse_metrics_reads_labels_in_any_order_and_escapes():
    samples = checks.parse_metrics(
        "# HELP x help\n# TYPE x gauge\n"
        'x{monitor="a",namespace="ml"} 1.0\n'
        'x{namespace="ml",monitor="b\\"q\\\\"} 0.5 1700000000000\n'
        "y 3\n"
    )
    assert checks.value(samples, "x", monitor="a") == 1.0
    assert checks.value(samples, "x", monitor='b"q\\', namespace="ml") == 0.5
    assert checks.value(samples, "y") == 3.0
    with pytest.raises(checks.CheckFailed):
        checks.value(samples, "x", namespace="ml")  # two series match
    with pytest.raises(checks.CheckFailed):
        checks.parse_metrics("not a sample line at all {")


def test_verdict_of_a_running_monitor_is_its_last_finished_run():
    running = {"phase": "Running"}
    assert checks.verdict(running) == "Running"
    assert (
        checks.verdict({**running, "lastRun": {"outcome": "Succeeded", "drifted": True}})
        == "Drifted"
    )
    assert (
        checks.verdict({**running, "lastRun": {"outcome": "Succeeded", "drifted": False}})
        == "Healthy"
    )
    assert checks.verdict({**running, "lastRun": {"outcome": "Failed"}}) == "Failed"
    assert checks.verdict({"phase": "Suspended", "lastRun": {"outcome": "Failed"}}) == "Suspended"


def test_find_metrics_service_picks_the_port_named_metrics():
    services = {
        "items": [
            {"metadata": {"name": "other"}, "spec": {"ports": [{"name": "http", "port": 80}]}},
            {
                "metadata": {"name": "dw-metrics"},
                "spec": {"ports": [{"name": "metrics", "port": 9090}]},
            },
        ]
    }
    asked = {}

    def get(resource, namespace, name=None, *, selector=None, field_selector=None):
        asked.update(resource=resource, namespace=namespace, selector=selector)
        return services

    assert checks.find_metrics_service(get, "driftwarden", "dw") == ("dw-metrics", 9090)
    assert asked["selector"] == "app.kubernetes.io/instance=dw,app.kubernetes.io/component=operator"
    with pytest.raises(checks.CheckFailed):
        checks.find_metrics_service(lambda *a, **k: {"items": []}, "driftwarden", "dw")


def test_kubectl_getter_builds_the_command_and_reports_not_found(tmp_path):
    fake = tmp_path / "kubectl"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/calls\n'
        'case "$*" in *missing*) echo \'Error from server (NotFound): jobs "missing" not found\' >&2; exit 1;; esac\n'
        'case "$*" in *broken*) echo "Unable to connect to the server" >&2; exit 1;; esac\n'
        "echo '{\"items\": []}'\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    get = checks.kubectl_getter(str(fake), context="kind-x")
    assert get("jobs", "ml", selector="a=b", field_selector="c=d") == {"items": []}
    with pytest.raises(checks.NotFound):
        get("jobs", "ml", "missing")
    with pytest.raises(checks.CheckFailed, match="Unable to connect"):
        get("jobs", "broken")
    first = (tmp_path / "calls").read_text().splitlines()[0]
    assert first == (
        "--context kind-x get jobs --namespace ml --output json --selector a=b --field-selector c=d"
    )


def test_wait_for_retries_failures_and_then_gives_the_last_one():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise checks.CheckFailed(f"not yet {len(calls)}")
        return "done"

    assert checks.wait_for(flaky, timeout=5, interval=0.01) == "done"
    with pytest.raises(checks.CheckFailed, match="never"):
        checks.wait_for(lambda: checks.expect(False, "never"), timeout=0.05, interval=0.01)
    with pytest.raises(ZeroDivisionError):  # a bug is not retried
        checks.wait_for(lambda: 1 / 0, timeout=5)


def test_e2e_manifests_agree_with_each_other():
    monitors = list(yaml.safe_load_all((MANIFESTS / "monitors.yaml").read_text()))
    (job,) = yaml.safe_load_all((MANIFESTS / "seed-job.yaml").read_text())
    seaweedfs = list(yaml.safe_load_all((MANIFESTS / "seaweedfs.yaml").read_text()))
    assert {m["metadata"]["name"] for m in monitors} == {HEALTHY, DRIFTED}
    container = job["spec"]["template"]["spec"]["containers"][0]
    args = dict(zip(container["args"][::2], container["args"][1::2], strict=True))
    service = next(d for d in seaweedfs if d["kind"] == "Service")
    endpoint = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local:{service['spec']['ports'][0]['port']}"
    assert args == {"--endpoint": E2E_ENDPOINT, "--bucket": E2E_BUCKET} and endpoint == E2E_ENDPOINT
    for monitor in monitors:
        spec = monitor["spec"]
        assert monitor["metadata"]["namespace"] == job["metadata"]["namespace"]
        assert spec["storage"]["endpoint"] == E2E_ENDPOINT
        assert spec["storage"]["secretRef"]["name"] == container["envFrom"][0]["secretRef"]["name"]
        for side in ("reference", "current"):
            assert spec[side]["path"].startswith(f"s3://{E2E_BUCKET}/demo/")
    assert container["image"] == "driftwarden:e2e"
    deployment = next(d for d in seaweedfs if d["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert not image.endswith(":latest") and ":" in image
