"""The Kubernetes API calls the controller makes, and nothing else.

The official client is synchronous; each call runs in a worker thread so kopf's event
loop never blocks. Objects go in and come out as plain dicts (the API's JSON), which is
what the pure ``monitor`` layer works on.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from driftwarden.controller.config import GROUP, PLURAL, VERSION

REQUEST_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


def load_client_config() -> None:
    """In a pod use the service account; elsewhere the kubeconfig (``KUBECONFIG``)."""
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        # Read $KUBECONFIG now: the client froze its default path when it was imported.
        kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))


class KubeApi:
    """Async wrappers over the few endpoints the operator uses."""

    def __init__(self, client: kubernetes.client.ApiClient | None = None) -> None:
        self.client = client or kubernetes.client.ApiClient()
        self.batch = kubernetes.client.BatchV1Api(self.client)
        self.core = kubernetes.client.CoreV1Api(self.client)
        self.custom = kubernetes.client.CustomObjectsApi(self.client)

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        # _preload_content=False: keep the API's own JSON instead of client model objects.
        # A timeout on every call: a hung connection must fail (kopf retries the handler),
        # never block the monitor's reconciliation lock forever.
        response = await asyncio.to_thread(
            method, *args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs
        )
        return json.loads(response.data) if response.data else {}

    async def create_job(
        self, namespace: str, manifest: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Create a Job; (job, created). An existing Job of the same name is returned instead:
        names are deterministic, so "already exists" means this work was already started."""
        try:
            return await self._call(self.batch.create_namespaced_job, namespace, manifest), True
        except ApiException as error:
            if error.status != 409:
                raise
        name = manifest["metadata"]["name"]
        return await self._call(self.batch.read_namespaced_job, name, namespace), False

    async def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self._call(self.batch.read_namespaced_job, name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    async def list_jobs(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = await self._call(
            self.batch.list_namespaced_job, namespace, label_selector=selector
        )
        return list(result.get("items") or [])

    async def delete_job(self, namespace: str, name: str) -> None:
        try:
            await self._call(
                self.batch.delete_namespaced_job, name, namespace, propagation_policy="Background"
            )
        except ApiException as error:
            if error.status != 404:
                raise

    async def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = await self._call(self.core.list_namespaced_pod, namespace, label_selector=selector)
        return list(result.get("items") or [])

    async def get_namespace(self, name: str) -> dict[str, Any] | None:
        """The Namespace object (its annotations carry the Job policy); None when it is gone."""
        try:
            return await self._call(self.core.read_namespace, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    async def get_monitor(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self._call(
                self.custom.get_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    async def patch_monitor_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        """Merge-patch the status subresource; the spec is never written."""
        try:
            await self._call(
                self.custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                {"status": dict(status)},
            )
        except ApiException as error:
            if error.status != 404:  # deleted meanwhile: nothing left to report on
                raise
