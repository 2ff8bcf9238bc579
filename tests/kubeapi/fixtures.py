"""pytest fixtures for the kubeapi test server.

Use from any test module::

    from tests.kubeapi.fixtures import kube_api  # noqa: F401  (or pytest_plugins in a root conftest)

    def test_something(kube_api):
        kube_api.register_crd("crds/driftmonitor.yaml")
        ...

``kube_api`` starts a fresh server per test, writes a kubeconfig into the
test's tmp_path and points $KUBECONFIG at it (also patching the default path
that ``kubernetes.config`` froze at import time, if it is already imported).
``kube_cluster`` is the same with the Job controller and the kubelet stand-in running.
``kube_client`` is an official ``kubernetes.client.ApiClient`` configured
from that kubeconfig, without touching the client's global default.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import KubeAPIServer


def point_kube_clients_at(kubeconfig: Path, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("KUBECONFIG", str(kubeconfig))
    for name in ("kubernetes.config.kube_config", "kubernetes.config"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "KUBE_CONFIG_DEFAULT_LOCATION"):
            mp.setattr(module, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))


def _serve(directory: Path, mp: pytest.MonkeyPatch, **options: Any) -> Iterator[KubeAPIServer]:
    server = KubeAPIServer(**options).start()
    try:
        point_kube_clients_at(server.write_kubeconfig(directory / "kubeconfig"), mp)
        yield server
    finally:
        server.stop()
    if server.errors:
        pytest.fail("kubeapi fixture raised internally:\n" + "\n".join(server.errors))


@pytest.fixture
def kube_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeAPIServer]:
    """A fresh API server for one test."""
    yield from _serve(tmp_path, monkeypatch)


@pytest.fixture
def kube_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeAPIServer]:
    """A fresh API server whose Job controller and kubelet stand-in run (pods succeed unless
    the test says otherwise with ``kube_cluster.kubelet.behave(...)``)."""
    yield from _serve(tmp_path, monkeypatch, job_controller=True, kubelet=True)


@pytest.fixture(scope="module")
def kube_api_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPIServer]:
    """One API server shared by a test module (cheaper; tests must not collide on names)."""
    with pytest.MonkeyPatch.context() as mp:
        yield from _serve(tmp_path_factory.mktemp("kubeapi"), mp)


@pytest.fixture
def kube_client(kube_api: KubeAPIServer) -> Iterator[Any]:
    """``kubernetes.client.ApiClient`` for ``kube_api`` (import ``kubernetes`` lazily)."""
    import kubernetes

    assert kube_api.kubeconfig_path is not None
    client = kubernetes.config.new_client_from_config(config_file=str(kube_api.kubeconfig_path))
    try:
        yield client
    finally:
        client.close()
