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
from dataclasses import dataclass
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from driftwarden.controller.config import GROUP, PLURAL, VERSION

REQUEST_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


@dataclass(frozen=True)
class Refusal:
    """An API request the server refused, in the terms of its ``Status`` object."""

    code: int
    reason: str  # the Status reason: Forbidden, Invalid, AlreadyExists …
    message: str


def refusal(error: ApiException) -> Refusal:
    """The ``Status`` the API server answered with: code, CamelCase reason, its message."""
    reason, message = "", ""
    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        body = {}
    if isinstance(body, dict):
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or "")
    return Refusal(
        code=int(error.status or 0),
        reason=reason or str(error.reason or "Unknown").replace(" ", ""),
        message=message or str(error.reason or error),
    )


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

    async def delete_job(self, namespace: str, name: str) -> None:
        try:
            await self._call(
                self.batch.delete_namespaced_job, name, namespace, propagation_policy="Background"
            )
        except ApiException as error:
            if error.status != 404:
                raise

    async def get_namespace(self, name: str) -> dict[str, Any] | None:
        """The Namespace object (its annotations carry the Job policy); None when it is gone."""
        try:
            return await self._call(self.core.read_namespace, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    async def patch_monitor_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        resource_version: str | None = None,
    ) -> dict[str, Any] | None:
        """Merge-patch the status subresource; the spec is never written.

        With ``resource_version`` the patch is conditional (optimistic concurrency): a
        monitor changed since that version answers 409, raised as ApiException, so a
        decision made on a stale copy is never written. None when the monitor is gone.
        """
        patch: dict[str, Any] = {"status": dict(status)}
        if resource_version:
            patch["metadata"] = {"resourceVersion": resource_version}
        try:
            return await self._call(
                self.custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                patch,
            )
        except ApiException as error:
            if error.status != 404:  # deleted meanwhile: nothing left to report on
                raise
        return None

    async def remove_finalizer(self, kind: str, namespace: str, name: str, finalizer: str) -> None:
        """Remove one finalizer from a Job (``kind="jobs"``) or pod (``"pods"``).

        A strategic merge patch with ``$deleteFromPrimitiveList`` removes exactly this
        entry, so finalizers other controllers add meanwhile are kept. Gone (404) is fine.
        """
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [finalizer]}}
        method = (
            self.batch.patch_namespaced_job if kind == "jobs" else self.core.patch_namespaced_pod
        )
        try:
            await self._call(method, name, namespace, patch)
        except ApiException as error:
            if error.status != 404:
                raise

    async def job_events(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        """The Events the Job controller posted on one Job (FailedCreate tells why no pod appears).

        Called only for a Job that has had no pod for a while: a targeted request for a
        problem, not a poll.
        """
        result = await self._call(
            self.core.list_namespaced_event,
            namespace,
            field_selector=f"involvedObject.kind=Job,involvedObject.name={job_name}",
        )
        return list(result.get("items") or [])

    async def job_pods(self, namespace: str, job_uid: str) -> list[dict[str, Any]]:
        """The pods the API server holds for one Job now (label ``controller-uid``, which the
        Job controller sets on every pod in every version), past the operator's watch.

        Called only for a Job whose FailedCreate Events were just read while the watch showed
        none of its pods: the check that no pod was made before calling it stuck.
        """
        result = await self._call(
            self.core.list_namespaced_pod, namespace, label_selector=f"controller-uid={job_uid}"
        )
        return list(result.get("items") or [])

    async def server_version(self) -> tuple[int, int] | None:
        """(major, minor) of the API server from ``/version``; None when it cannot be read."""
        try:
            info = await self._call(kubernetes.client.VersionApi(self.client).get_code)
        except (ApiException, OSError, ValueError):
            return None
        try:
            major = int(str(info.get("major", "")).rstrip("+"))
            minor = int(str(info.get("minor", "")).rstrip("+"))
        except ValueError:
            return None
        return major, minor
