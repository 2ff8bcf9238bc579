"""Two replicas of the operator on one kopf peering: exactly one works, the other takes over."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.controller.conftest import ROOT
from tests.controller.test_run_command import _free_port


def _start(cluster, priority: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "KUBECONFIG": str(cluster.api.kubeconfig_path), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "driftwarden.cli.main", "run", "--peering", "driftwarden",
         "--priority", str(priority), "--image", "driftwarden:test", "--tick", "0.5",
         "--metrics-port", str(_free_port()), "--health-port", str(_free_port()), "--log-format", "json"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _peers(cluster) -> dict:
    return (cluster.api.get("kopf.dev", "v1", "clusterkopfpeerings", "driftwarden") or {}).get(
        "status"
    ) or {}


@pytest.mark.slow
def test_only_the_highest_priority_replica_works_and_the_other_takes_over(cluster, tmp_path):
    cluster.api.register_crd(ROOT / "charts" / "driftwarden" / "crds" / "kopf-peering.yaml")
    cluster.api.create(
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": "driftwarden"},
        }
    )
    low, high = (
        _start(cluster, 10, tmp_path / "low.log"),
        _start(cluster, 20, tmp_path / "high.log"),
    )
    try:
        cluster.api.wait_for(lambda: len(_peers(cluster)) == 2, timeout=30)
        cluster.monitor("first")
        cluster.wait_status(
            "first", lambda s: (s.get("lastRun") or {}).get("outcome") == "Succeeded", timeout=60
        )
        assert len(cluster.jobs()) == 1
        assert (
            "AnalysisStarted" not in (tmp_path / "low.log").read_text()
        )  # the paused replica did nothing

        high.terminate()
        high.wait(timeout=30)
        cluster.api.wait_for(lambda: len(_peers(cluster)) == 1, timeout=30)
        cluster.monitor("second")  # only the low-priority replica is left to serve it
        cluster.wait_status(
            "second", lambda s: (s.get("lastRun") or {}).get("outcome") == "Succeeded", timeout=60
        )
    finally:
        for process in (low, high):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
    assert len(cluster.jobs()) == 2
    assert "analysis Job second-" in (tmp_path / "low.log").read_text()
