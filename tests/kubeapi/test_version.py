"""A configurable server version: /version, and Job fields the version does not serve dropped."""

from __future__ import annotations

import pytest

from .server import KubeAPIServer

SPEC = {
    "template": {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
    },
    "podFailurePolicy": {
        "rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]
    },
    "successPolicy": {"rules": [{"succeededCount": 1}]},
}


@pytest.mark.parametrize(
    ("version", "kept", "dropped"),
    [
        ("1.25", set(), {"podFailurePolicy", "successPolicy", "podReplacementPolicy"}),
        ("1.26", {"podFailurePolicy"}, {"successPolicy", "podReplacementPolicy"}),
        ("v1.31.2", {"podFailurePolicy", "successPolicy", "podReplacementPolicy"}, set()),
    ],
)
def test_job_fields_follow_the_version(version: str, kept: set[str], dropped: set[str]) -> None:
    with KubeAPIServer(server_version=version) as server:
        status, info, _ = server.http("GET", "/version")
        minor = version.lstrip("v").split(".")[1]
        assert status == 200 and (info["major"], info["minor"]) == ("1", minor)
        assert info["gitVersion"].startswith(f"v1.{minor}.")
        job = server.create(
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": SPEC}
        )
        assert kept <= set(job["spec"]) and not (dropped & set(job["spec"]))


def test_set_version_changes_what_is_served() -> None:
    with KubeAPIServer() as server:
        assert server.http("GET", "/version")[1]["minor"] == "33"
        server.set_version("1.27")
        assert server.http("GET", "/version")[1]["minor"] == "27"
        assert server.server_version == (1, 27)
        with pytest.raises(ValueError, match="server_version='latest'"):
            server.set_version("latest")


def _run_to_end(server: KubeAPIServer, name: str, exit_code: int) -> dict:
    from .kubelet import Outcome
    from .manifests import job, wait_condition

    server.kubelet.behave(lambda run: Outcome(exit_code=exit_code))
    server.create(job(name, backoffLimit=0))
    return wait_condition(server, name, "Complete" if exit_code == 0 else "Failed")


@pytest.mark.parametrize(("version", "targets"), [("1.30", False), ("1.31", True)])
def test_job_conditions_follow_the_version(version: str, targets: bool) -> None:
    with KubeAPIServer(server_version=version, job_controller=True, kubelet=True) as server:
        done = _run_to_end(server, "ok", 0)
        failed = _run_to_end(server, "bad", 1)
        assert server.errors == []
    types = {c["type"] for c in done["status"]["conditions"]}
    assert types == ({"SuccessCriteriaMet", "Complete"} if targets else {"Complete"})
    types = {c["type"] for c in failed["status"]["conditions"]}
    assert types == ({"FailureTarget", "Failed"} if targets else {"Failed"})
