"""``driftwarden run`` as an administrator starts it: a process with a kubeconfig,
serving metrics and a health probe while it reconciles."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


@pytest.mark.slow
def test_run_command_reconciles_and_serves_metrics_and_health(cluster, tmp_path):
    metrics_port, health_port = _free_port(), _free_port()
    env = {**os.environ, "KUBECONFIG": str(cluster.api.kubeconfig_path)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "driftwarden.cli.main",
            "run",
            "--namespace",
            "ml",
            "--image",
            "driftwarden:test",
            "--tick",
            "0.5",
            "--metrics-port",
            str(metrics_port),
            "--health-port",
            str(health_port),
            "--log-format",
            "json",
        ],
        env=env,
        # A file, not a pipe: nobody reads a pipe while the test runs, and a full one blocks the operator.
        stdout=(tmp_path / "operator.log").open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        cluster.monitor("via-cli")
        status = cluster.wait_status(
            "via-cli", lambda s: (s.get("lastRun") or {}).get("outcome"), timeout=60
        )
        assert status["lastRun"]["outcome"] == "Succeeded"
        health = cluster.api.wait_for(
            lambda: _get(f"http://127.0.0.1:{health_port}/healthz"), timeout=20
        )
        assert health is not None
        metrics = cluster.api.wait_for(
            lambda: (
                (text := _get(f"http://127.0.0.1:{metrics_port}/metrics"))
                and "via-cli" in text
                and text
            ),
            timeout=20,
        )
        assert 'driftwarden_last_run_success{monitor="via-cli",namespace="ml"} 1.0' in metrics
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = (tmp_path / "operator.log").read_text()
    assert '"driftwarden operator starting"' in output
    assert "OperatorSettings(" not in output  # kopf's settings dump is kept out of the logs
