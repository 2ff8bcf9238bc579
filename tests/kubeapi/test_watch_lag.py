"""Watch lag (hold_watch): one resource's watches run behind the store and the others'."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

from .server import KubeAPIServer


def _watch(server: KubeAPIServer, path: str) -> tuple[list[dict[str, Any]], threading.Event]:
    """Stream ``path``'s watch events into a list, in a thread; the Event is set at its end."""
    req = urllib.request.Request(
        server.url + path + "?watch=true", headers={"Authorization": f"Bearer {server.token}"}
    )
    lines: list[dict[str, Any]] = []
    done = threading.Event()

    def consume() -> None:
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                for line in resp:
                    lines.append(json.loads(line))
        finally:
            done.set()

    threading.Thread(target=consume, daemon=True).start()
    return lines, done


def _watching(server: KubeAPIServer, plural: str) -> None:
    """Wait until a watch of ``plural`` is streaming (later changes reach it as events)."""
    server.wait_for(lambda: any(r.is_watch and r.plural == plural for r in server.requests))


def _names(lines: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"]["name"]) for e in lines]


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def _config_map(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def test_a_held_watch_lags_while_reads_and_other_watches_see_the_change(
    kube_api: KubeAPIServer,
) -> None:
    pods, _ = _watch(kube_api, "/api/v1/namespaces/default/pods")
    maps, _ = _watch(kube_api, "/api/v1/namespaces/default/configmaps")
    _watching(kube_api, "pods")
    kube_api.wait_for(lambda: ("ADDED", "kube-root-ca.crt") in _names(maps))
    hold = kube_api.hold_watch("pods")
    kube_api.create(_pod("p"))
    kube_api.patch("", "v1", "pods", "p", {"metadata": {"labels": {"k": "v"}}}, "default")
    kube_api.create(_config_map("after"))
    # The store and the other resource's watch have both changes; the pods watch has none.
    kube_api.wait_for(lambda: ("ADDED", "after") in _names(maps))
    assert kube_api.get("", "v1", "pods", "p", "default")["metadata"]["labels"] == {"k": "v"}
    assert [p["metadata"]["name"] for p in kube_api.objects("", "v1", "pods", "default")] == ["p"]
    kube_api.wait_for(lambda: hold.delayed >= 1)
    assert pods == []
    hold.release()
    # Released: the held events arrive, in order, the later one included.
    kube_api.wait_for(lambda: len(pods) == 2)
    assert _names(pods) == [("ADDED", "p"), ("MODIFIED", "p")]
    assert pods[1]["object"]["metadata"]["labels"] == {"k": "v"}


def _job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}],
                }
            }
        },
    }


def test_a_hold_names_a_resource_and_its_group(kube_api: KubeAPIServer) -> None:
    """A hold of ``jobs`` in ``batch`` holds batch Jobs only, not pods; one in another group
    holds nothing here."""
    pods, _ = _watch(kube_api, "/api/v1/namespaces/default/pods")
    jobs, _ = _watch(kube_api, "/apis/batch/v1/namespaces/default/jobs")
    _watching(kube_api, "pods")
    _watching(kube_api, "jobs")
    with kube_api.hold_watch("jobs", group="apps") as elsewhere:
        kube_api.create(_job("j1"))
        kube_api.wait_for(lambda: ("ADDED", "j1") in _names(jobs))
    assert elsewhere.delayed == 0
    with kube_api.hold_watch("jobs", group="batch") as hold:
        kube_api.create(_pod("q"))
        kube_api.wait_for(lambda: ("ADDED", "q") in _names(pods))
        kube_api.create(_job("j2"))
        kube_api.wait_for(lambda: hold.delayed >= 1)
        assert ("ADDED", "j2") not in _names(jobs)
    kube_api.wait_for(lambda: ("ADDED", "j2") in _names(jobs))


def test_a_held_watch_ends_when_the_server_stops() -> None:
    server = KubeAPIServer().start()
    try:
        pods, done = _watch(server, "/api/v1/namespaces/default/pods")
        _watching(server, "pods")
        hold = server.hold_watch("pods")
        server.create(_pod("r"))
        server.wait_for(lambda: hold.delayed >= 1)
    finally:
        server.stop()
    assert done.wait(20), "the held watch did not end with the server"
    assert _names(pods) == [("ADDED", "r")]  # stopping releases the hold first
