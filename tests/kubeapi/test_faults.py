"""Injected faults: 429 with Retry-After, 500/503, a dropped connection."""

from __future__ import annotations

import http.client

import pytest

from .server import KubeAPIServer


def test_429_carries_retry_after_and_fires_count_times(kube_api: KubeAPIServer) -> None:
    fault = kube_api.inject(429, method="GET", plural="pods", count=2, retry_after=3)
    for _ in range(2):
        status, body, headers = kube_api.http("GET", "/api/v1/namespaces/default/pods")
        assert status == 429 and headers["Retry-After"] == "3"
        assert body["reason"] == "TooManyRequests" and body["details"] == {"retryAfterSeconds": 3}
    assert kube_api.http("GET", "/api/v1/namespaces/default/pods")[0] == 200
    assert kube_api.http("GET", "/api/v1/namespaces/default/configmaps")[0] == 200
    assert fault.hits == 2


@pytest.mark.parametrize(("code", "reason"), [(500, "InternalError"), (503, "ServiceUnavailable")])
def test_server_errors_by_path_pattern(kube_api: KubeAPIServer, code: int, reason: str) -> None:
    fault = kube_api.inject(code, path=r"/jobs$", count=None)
    assert kube_api.http("GET", "/apis/batch/v1/namespaces/default/jobs")[1]["reason"] == reason
    assert kube_api.http("GET", "/apis/batch/v1/namespaces/default/jobs")[0] == code
    fault.remove()
    assert kube_api.http("GET", "/apis/batch/v1/namespaces/default/jobs")[0] == 200


def test_dropped_connection_gets_no_response(kube_api: KubeAPIServer) -> None:
    kube_api.inject("drop", method="POST", plural="configmaps")
    conn = http.client.HTTPConnection("127.0.0.1", kube_api.port, timeout=5)
    conn.request("POST", "/api/v1/namespaces/default/configmaps", body=b'{"metadata": {"name": "c"}}',
                 headers={"Authorization": f"Bearer {kube_api.token}", "Content-Type": "application/json"})  # fmt: skip
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.getresponse()
    conn.close()
    assert kube_api.find("", "v1", "configmaps", "c", "default") is None
    assert kube_api.http("GET", "/api/v1/namespaces/default/configmaps/c")[0] == 404


def test_bad_fault_rules_fail_in_the_test(kube_api: KubeAPIServer) -> None:
    with pytest.raises(ValueError, match="429, 500, 503"):
        kube_api.inject(200)


def test_a_conflict_is_another_writer_first_and_the_servers_own_409(
    kube_api: KubeAPIServer,
) -> None:
    created = kube_api.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
         "data": {"k": "0"}}
    )  # fmt: skip
    read_rv = created["metadata"]["resourceVersion"]
    path = "/api/v1/namespaces/default/configmaps/c"
    merge = "application/merge-patch+json"
    armed = {"on": False}
    fault = kube_api.inject("conflict", method="PATCH", plural="configmaps", count=1,
                            when=lambda: armed["on"])  # fmt: skip
    # `when` does not hold yet: the conditional write goes through.
    status, body, _ = kube_api.http(
        "PATCH", path, {"metadata": {"resourceVersion": read_rv}, "data": {"k": "1"}}, content_type=merge
    )  # fmt: skip
    assert status == 200 and fault.hits == 0
    read_rv = body["metadata"]["resourceVersion"]
    armed["on"] = True
    status, body, _ = kube_api.http(
        "PATCH", path, {"metadata": {"resourceVersion": read_rv}, "data": {"k": "2"}}, content_type=merge
    )  # fmt: skip
    assert status == 409 and body["reason"] == "Conflict", body
    assert "the object has been modified" in body["message"]
    assert fault.hits == 1
    # The other writer's update is real: a new resourceVersion, the data untouched.
    now = kube_api.get("", "v1", "configmaps", "c", "default")
    assert now["data"] == {"k": "1"} and now["metadata"]["resourceVersion"] != read_rv
    assert "kubeapi.test/concurrent-write" in now["metadata"]["annotations"]
    # Fired once: the retry from the fresh resourceVersion succeeds.
    status, _, _ = kube_api.http(
        "PATCH", path, {"metadata": {"resourceVersion": now["metadata"]["resourceVersion"]}, "data": {"k": "2"}},
        content_type=merge,
    )  # fmt: skip
    assert status == 200


def test_an_unconditional_write_wins_over_a_conflict(kube_api: KubeAPIServer) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "c", "namespace": "default"}})  # fmt: skip
    kube_api.inject("conflict", method="PATCH", plural="configmaps")
    status, body, _ = kube_api.http(
        "PATCH", "/api/v1/namespaces/default/configmaps/c", {"data": {"k": "v"}},
        content_type="application/merge-patch+json",
    )  # fmt: skip
    assert status == 200 and body["data"] == {"k": "v"}
