"""A strict Kubernetes-style HTTP API server for tests (aiohttp, own thread and loop).

    server = KubeAPIServer().start()
    server.register_crd("crds/driftmonitor.yaml")
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    ...
    server.stop()

See ``tests/kubeapi/README.md`` for what it does and does not do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import json
import logging
import random
import re
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from .admission import Refusal
from .core import STOP, Core, now_rfc3339
from .faults import CONFLICT, CONFLICT_ANNOTATION, DROP, Fault, Faults
from .gc import DEFAULT_TERMINATED_POD_GC_THRESHOLD, PodGC, TTLAfterFinished
from .jobcontroller import JobController
from .kubelet import Behaviour, Kubelet, Outcome
from .kubelet import termination_message as kubelet_termination_message
from .resources import ResourceType
from .selectors import (
    SelectorError,
    check_field_labels,
    parse_field_selector,
    parse_label_selector,
)
from .validation import ApiError, bad_request
from .versions import TARGET_CONDITIONS_SINCE, parse_version, version_info
from .watchlag import WatchHold, WatchHolds

log = logging.getLogger(__name__)
T = TypeVar("T")

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
NOT_FOUND_MESSAGE = "the server could not find the requested resource"


def _generic_not_found() -> ApiError:
    return ApiError(404, NOT_FOUND_MESSAGE, reason="NotFound", details={})


def _version_key(version: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (-1, 0, 0)
    stability = {"alpha": 0, "beta": 1, None: 2}[m.group(2)]
    return (stability, int(m.group(1)), int(m.group(3) or 0))


@dataclass
class RequestRecord:
    """One HTTP request as the server saw it (for assertions in tests)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    content_type: str = ""
    body: Any = None
    user_agent: str = ""
    time: float = field(default_factory=time.time)
    group: str | None = None
    version: str | None = None
    namespace: str | None = None
    plural: str | None = None
    name: str | None = None
    subresource: str | None = None

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def is_watch(self) -> bool:
        return self.query.get("watch") in ("true", "1")

    def touches(self, field: str) -> bool:
        """Does this write's body (object, merge/strategic patch, or JSON patch) set ``field``?

        ``field`` is a top-level key such as ``"spec"``; for a PUT the whole object counts.
        """
        if isinstance(self.body, list):
            return any(
                str(op.get("path", "")).split("/")[1:2] == [field]
                for op in self.body
                if isinstance(op, dict) and op.get("op") != "test"
            )
        return isinstance(self.body, dict) and field in self.body


class _Dropped(Exception):
    """An injected fault closed the connection; nothing is answered."""


@dataclass
class _Route:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


class KubeAPIServer:
    """A Kubernetes API server for tests: HTTP on 127.0.0.1, plus a Python API.

    Python API (thread-safe; objects are returned as deep copies):
      start(), stop(), url, port, token, resource_version
      write_kubeconfig(path, namespace="default") -> Path
      register_crd(path_or_dict) -> list of CRDs
      create(manifest, namespace=None), apply(manifest, namespace=None)
      get(group, version, plural, name, namespace=None), find(...) -> dict | None
      objects(group, version, plural, namespace=None, label_selector=None, field_selector=None)
      patch(group, version, plural, name, patch, namespace=None, patch_type="merge", subresource=None)
      patch_status(group, version, plural, name, status, namespace=None)
      delete(group, version, plural, name, namespace=None, propagation_policy=None)
      events(namespace=None, involved_name=None, reason=None)  (core/v1 Events)
      requests, clear_requests(), writes(plural=None, ...), errors
      http(method, path, body=None, content_type=..., params=None) -> (status, body, headers)
      compact(), wait_for(predicate, timeout=10)
      set_pod_log(namespace, name, text), start_job(...), complete_job(...)
      refuse(namespace, plural, ...), inject(status, ...), server_version, set_version(v)
      hold_watch(plural, group=None) -> WatchHold (.release()): that resource's watches lag
      advance_clock(seconds), gc_pod(namespace, name)
      job_controller, kubelet, pod_gc, ttl_controller (the in-server controllers)
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        history_size: int = 10_000,
        pod_grace_cap: float = 0.5,
        bookmark_interval: float = 60.0,
        log_bodies: bool = True,
        server_version: str | None = None,
        job_controller: bool = False,
        kubelet: bool | Behaviour = False,
        terminated_pod_gc_threshold: int = DEFAULT_TERMINATED_POD_GC_THRESHOLD,
        tick_interval: float = 0.1,
    ) -> None:
        self.token = token if token is not None else "kubeapi-" + secrets.token_hex(8)
        self.core = Core(history_size=history_size, pod_grace_cap=pod_grace_cap)
        self.faults = Faults()
        self.watch_holds = WatchHolds()
        if server_version is not None:
            self.core.version = parse_version(server_version)
        self.bookmark_interval = bookmark_interval
        self.log_bodies = log_bodies
        self.requests: list[RequestRecord] = []
        self.errors: list[str] = []  # unexpected server-side exceptions (should stay empty)
        self.port = 0
        self.kubeconfig_path: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        # The in-server controllers a real cluster runs beside the API server.
        self.tick_interval = tick_interval
        self.job_controller = JobController(self.core, enabled=job_controller)
        self.kubelet = Kubelet(self, enabled=bool(kubelet))
        if callable(kubelet):
            self.kubelet.behave(kubelet)
        self.pod_gc = PodGC(self.core, terminated_pod_gc_threshold)
        self.ttl_controller = TTLAfterFinished(self.core)
        self.core.controllers = [
            self.job_controller,
            self.kubelet,
            self.pod_gc,
            self.ttl_controller,
        ]
        for controller in self.core.controllers:
            controller.errors = self.errors

    # -- lifecycle ---------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> KubeAPIServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="kubeapi-server", daemon=True)
        self._thread.start()
        self._started.wait(30)
        if self._start_error is not None:
            raise RuntimeError("kubeapi server failed to start") from self._start_error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as e:  # pragma: no cover - startup failures are reported
            self._start_error = e
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        self.core.loop = asyncio.get_running_loop()
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        """Time-based controller work (deadlines, TTL, retries), every ``tick_interval``."""
        while True:
            await asyncio.sleep(self.tick_interval)
            self._tick()

    def _tick(self) -> None:
        for controller in self.core.controllers:
            try:
                controller.tick()
            except Exception:  # a fixture bug: report it, keep ticking
                self.errors.append(traceback.format_exc())

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        with contextlib.suppress(Exception):
            fut.result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._thread = None

    async def _shutdown(self) -> None:
        self.watch_holds.release_all()  # held watches end like the others
        self.kubelet.stop()
        ticker = getattr(self, "_ticker", None)
        if ticker is not None:
            ticker.cancel()
        self.core.close_watches()
        await asyncio.sleep(0.05)
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._loop is None or threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as e:
                fut.set_exception(e)

        self._loop.call_soon_threadsafe(run)
        return fut.result(30)

    # -- kubeconfig --------------------------------------------------------

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubeapi-test", "cluster": {"server": self.url}}],
            "users": [{"name": "kubeapi-test", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "kubeapi-test",
                    "context": {
                        "cluster": "kubeapi-test",
                        "user": "kubeapi-test",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "kubeapi-test",
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(namespace), sort_keys=False))
        self.kubeconfig_path = path
        return path

    def http(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
        token: str | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, Any, Mapping[str, str]]:
        """One raw HTTP request (from a test thread): returns (status, parsed JSON or text, headers)."""
        import urllib.error
        import urllib.parse
        import urllib.request

        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw, hdrs = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            status, raw, hdrs = e.code, e.read(), e.headers
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return status, parsed, hdrs

    # -- Python API --------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self.core.resource_version

    def _type(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.core.find_type(group, version, plural)
        if rt is None:
            raise ApiError(
                404, f"no resource {plural!r} in {group or 'core'}/{version}", reason="NotFound"
            )
        return rt

    def register_crd(self, source: str | Path | Mapping[str, Any]) -> list[dict[str, Any]]:
        """Create (or replace) CRDs from a YAML file, a YAML string or a dict."""
        if isinstance(source, Mapping):
            docs = [dict(source)]
        else:
            is_text = isinstance(source, str) and (
                "\n" in source or source.lstrip().startswith("{")
            )
            text = str(source) if is_text else Path(source).read_text()
            docs = [d for d in yaml.safe_load_all(text) if d]
        out = []
        for doc in docs:
            if doc.get("kind") != "CustomResourceDefinition":
                raise ValueError(f"not a CustomResourceDefinition: {doc.get('kind')!r}")
            out.append(self.apply(doc))
        return out

    def create(self, manifest: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            rt = self.core.type_for(manifest.get("apiVersion", ""), manifest.get("kind", ""))
            ns = namespace or (manifest.get("metadata") or {}).get("namespace") or "default"
            return self.core.create(rt, ns if rt.namespaced else None, dict(manifest))

        return self._call(run)

    def apply(self, manifest: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Create, or replace the existing object's content (status is not touched)."""

        def run() -> dict[str, Any]:
            rt = self.core.type_for(manifest.get("apiVersion", ""), manifest.get("kind", ""))
            ns = namespace or (manifest.get("metadata") or {}).get("namespace") or "default"
            ns = ns if rt.namespaced else None
            name = (manifest.get("metadata") or {}).get("name", "")
            existing = self.core.find_stored(rt.storage, ns or "", name) if name else None
            if existing is None:
                return self.core.create(rt, ns, dict(manifest))
            body = copy.deepcopy(dict(manifest))
            body.setdefault("metadata", {})["resourceVersion"] = existing["metadata"][
                "resourceVersion"
            ]
            return self.core.update(rt, ns, name, body)

        return self._call(run)

    def get(
        self, group: str, version: str, plural: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        return self._call(
            lambda: self.core.get(self._type(group, version, plural), namespace, name)
        )

    def find(
        self, group: str, version: str, plural: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return self.get(group, version, plural, name, namespace)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def objects(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            rt = self._type(group, version, plural)
            fields = parse_field_selector(field_selector)
            check_field_labels(fields, rt.field_getters, rt.kind)
            items = self.core.list(rt, namespace, parse_label_selector(label_selector), fields)[
                "items"
            ]
            for item in items:
                item.setdefault("apiVersion", rt.api_version)
                item.setdefault("kind", rt.kind)
            return items

        return self._call(run)

    def patch(
        self,
        group: str,
        version: str,
        plural: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return self._call(
            lambda: self.core.patch(
                self._type(group, version, plural),
                namespace,
                name,
                patch_type,
                patch,
                subresource=subresource,
            )
        )

    def patch_status(
        self,
        group: str,
        version: str,
        plural: str,
        name: str,
        status: Mapping[str, Any],
        namespace: str | None = None,
    ) -> dict[str, Any]:
        rt_sub = (
            "status" if self._call(lambda: self._type(group, version, plural).has_status) else None
        )
        return self.patch(
            group, version, plural, name, {"status": dict(status)}, namespace, subresource=rt_sub
        )

    def delete(
        self,
        group: str,
        version: str,
        plural: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]:
        options = {"propagationPolicy": propagation_policy} if propagation_policy else {}
        return self._call(
            lambda: self.core.delete(self._type(group, version, plural), namespace, name, options)[
                1
            ]
        )

    def events(
        self,
        namespace: str | None = None,
        *,
        involved_name: str | None = None,
        reason: str | None = None,
    ) -> list[dict[str, Any]]:
        """Core/v1 Events (also those posted through events.k8s.io/v1)."""
        out = []
        for ev in self.objects("", "v1", "events", namespace):
            if (
                involved_name is not None
                and (ev.get("involvedObject") or {}).get("name") != involved_name
            ):
                continue
            if reason is not None and ev.get("reason") != reason:
                continue
            out.append(ev)
        return out

    def compact(self) -> int:
        """Drop the watch history: watches from older resourceVersions get 410 Gone."""
        return self._call(self.core.compact)

    def clear_requests(self) -> None:
        self.requests.clear()

    def writes(
        self,
        plural: str | None = None,
        *,
        name: str | None = None,
        namespace: str | None = None,
        subresource: str | type[Ellipsis] | None = ...,  # type: ignore[valid-type]
        methods: Iterable[str] = WRITE_METHODS,
    ) -> list[RequestRecord]:
        """Logged write requests, filtered. ``subresource=None`` means the main endpoint only."""
        methods = tuple(methods)
        return [
            r
            for r in list(self.requests)
            if r.method in methods
            and (plural is None or r.plural == plural)
            and (name is None or r.name == name)
            and (namespace is None or r.namespace == namespace)
            and (subresource is ... or r.subresource == subresource)
        ]

    @staticmethod
    def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
        """Poll until ``predicate()`` returns something truthy; return it (or raise TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s: {predicate}")
            time.sleep(interval)

    # -- real-cluster behaviour: version, admission refusals, faults ------------

    @property
    def server_version(self) -> tuple[int, int]:
        """(major, minor) served at /version; Job fields and conditions follow it."""
        return self.core.version

    def set_version(self, version: str) -> None:
        """Serve another Kubernetes version from now on (``"1.25"``, ``"v1.31.2"``)."""
        parsed = parse_version(version)

        def run() -> None:
            self.core.version = parsed

        self._call(run)

    def refuse(
        self,
        namespace: str | None,
        plural: str,
        *,
        status: int = 403,
        reason: str | None = None,
        message: str | None = None,
        match: Callable[[dict[str, Any]], bool] | None = None,
        verbs: str | tuple[str, ...] = "create",
        group: str | None = None,
        count: int | None = None,
        causes: list[Mapping[str, str]] | None = None,
    ) -> Refusal:
        """Refuse writes of ``plural`` in ``namespace`` (None: every namespace) as admission does.

        ``message`` may use ``{name}``, ``{resource}`` and ``{namespace}``; ``match(obj)``
        narrows the rule to some objects; ``count`` limits how often it fires. The answer is
        a ``Status`` with this code, reason and message. Returns the rule (``.remove()``,
        ``.hits``). Applies to the Python API and to pods the Job controller creates too.
        """
        return self.core.admission.refuse(
            namespace, plural, group=group, verbs=verbs, status=status, reason=reason,
            message=message, match=match, count=count, causes=causes,
        )  # fmt: skip

    def inject(
        self,
        status: int | str,
        *,
        method: str | None = None,
        plural: str | None = None,
        namespace: str | None = None,
        path: str | None = None,
        count: int | None = 1,
        retry_after: int = 1,
        message: str | None = None,
        when: Callable[[], bool] | None = None,
    ) -> Fault:
        """Answer matching HTTP requests with ``status`` (429 with Retry-After, 500, 503, ...)
        or ``"drop"`` (close the connection, no response), or with ``"conflict"`` write the
        object the request names first (another writer won the race: a write conditional on
        the older resourceVersion gets the server's 409), ``count`` times (None: until
        ``.remove()``). ``path`` is a regex searched in the request path; ``when()``, called
        on the server's thread, must hold too (it may read the server: ``find``,
        ``objects``)."""
        return self.faults.inject(status, method=method, plural=plural, namespace=namespace,
                                  path=path, count=count, retry_after=retry_after, message=message,
                                  when=when)  # fmt: skip

    def hold_watch(self, plural: str, *, group: str | None = None) -> WatchHold:
        """Hold back every watch of ``plural`` (``group``: None for any): its object events
        wait, in order, until ``.release()``, while the store, GET, LIST and other resources'
        watches go on, as a lagging informer sees a real cluster (``watchlag.py``)."""
        return self.watch_holds.hold(plural, group)

    # -- controllers: clock, pod GC ----------------------------------------------

    def advance_clock(self, seconds: float) -> None:
        """Move the cluster's clock forward (deadlines, TTL, backoff) and let controllers act."""

        def run() -> None:
            self.core.clock.advance(seconds)
            self._tick()

        self._call(run)

    def gc_pod(self, namespace: str, name: str) -> None:
        """Garbage-collect one pod as Pod GC does past its threshold (forced delete;
        finalizers still hold it)."""
        self._call(self.pod_gc.gc_pod, namespace, name)

    # -- stand-ins for the kubelet and the Job controller ----------------------

    def set_pod_log(self, namespace: str, name: str, text: str) -> None:
        def run() -> None:
            self.core.pod_logs[(namespace, name)] = text

        self._call(run)

    def _manual_jobs_only(self) -> None:
        if self.job_controller.enabled:
            raise RuntimeError(
                "start_job/complete_job stand in for a Job controller; this server runs its own "
                "(job_controller=True): let it run the Job, choose the outcome with server.kubelet.behave()"
            )

    def _job_pod(self, namespace: str, job: dict[str, Any], phase: str) -> dict[str, Any]:
        pods_rt = self._type("", "v1", "pods")
        uid = job["metadata"]["uid"]
        for pod in self.core.list(
            pods_rt, namespace, parse_label_selector(f"batch.kubernetes.io/controller-uid={uid}")
        )["items"]:
            return pod
        template = copy.deepcopy(job["spec"]["template"])
        meta = template.get("metadata") or {}
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": job["metadata"]["name"] + "-",
                # The labels the real Job controller adds to every pod it creates.
                "labels": {
                    **(meta.get("labels") or {}),
                    "job-name": job["metadata"]["name"],
                    "batch.kubernetes.io/job-name": job["metadata"]["name"],
                    "controller-uid": uid,
                    "batch.kubernetes.io/controller-uid": uid,
                },
                "annotations": meta.get("annotations") or {},
                "ownerReferences": [
                    {"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
                     "uid": uid, "controller": True, "blockOwnerDeletion": True}
                ],
            },
            "spec": {**template["spec"], "nodeName": "kubeapi-node"},
        }  # fmt: skip
        return self.core.create(pods_rt, namespace, body)

    def start_job(self, namespace: str, name: str) -> dict[str, Any]:
        """What the Job controller and kubelet do first: one Running pod, status.active=1."""
        self._manual_jobs_only()

        def run() -> dict[str, Any]:
            jobs_rt = self._type("batch", "v1", "jobs")
            job = self.core.get(jobs_rt, namespace, name)
            pod = self._job_pod(namespace, job, "Running")
            self._set_pod_status(pod, "Running", None, "", None)
            status = dict(job.get("status") or {})
            status.update({"startTime": status.get("startTime") or now_rfc3339(), "active": 1, "ready": 1,
                           "uncountedTerminatedPods": {}, "terminating": 0})  # fmt: skip
            return self.core.patch(
                jobs_rt, namespace, name, "merge", {"status": status}, subresource="status"
            )

        return self._call(run)

    def complete_job(
        self,
        namespace: str,
        name: str,
        *,
        succeeded: bool = True,
        termination_message: str = "",
        exit_code: int | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Finish a Job the way its controller would: a terminated pod (with the container's
        termination message, its last 4096 bytes as the kubelet keeps) and the Job's final status."""
        self._manual_jobs_only()

        def run() -> dict[str, Any]:
            jobs_rt = self._type("batch", "v1", "jobs")
            job = self.core.get(jobs_rt, namespace, name)
            pod = self._job_pod(namespace, job, "Succeeded" if succeeded else "Failed")
            code = exit_code if exit_code is not None else (0 if succeeded else 1)
            container = job["spec"]["template"]["spec"]["containers"][0]
            message = kubelet_termination_message(
                container, Outcome(exit_code=code, termination_message=termination_message,
                                   logs=self.core.pod_logs.get((namespace, pod["metadata"]["name"]), ""))
            )  # fmt: skip
            self._set_pod_status(pod, "Succeeded" if succeeded else "Failed", code, message, reason)
            now = now_rfc3339()
            status = dict(job.get("status") or {})
            status.setdefault("startTime", now)
            status.update(
                {"active": 0, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}}
            )
            # The conditions the Job controller of this version sets (versions.py).
            targets = self.core.version >= TARGET_CONDITIONS_SINCE
            if succeeded:
                message = "Reached expected number of succeeded pods"
                final = ("SuccessCriteriaMet", "Complete")
                status.update({"succeeded": 1, "completionTime": now})
                why = "CompletionsReached" if targets else ""
            else:
                message = "Job has reached the specified backoff limit"
                final = ("FailureTarget", "Failed")
                status["failed"] = int(status.get("failed") or 0) + 1
                why = reason or "BackoffLimitExceeded"
            status["conditions"] = [
                {"type": ctype, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                 **({"reason": why, "message": message} if why else {})}
                for ctype in (final if targets else final[1:])
            ]  # fmt: skip
            return self.core.patch(
                jobs_rt, namespace, name, "merge", {"status": status}, subresource="status"
            )

        return self._call(run)

    def _set_pod_status(
        self,
        pod: dict[str, Any],
        phase: str,
        exit_code: int | None,
        message: str,
        reason: str | None,
    ) -> None:
        now = now_rfc3339()
        statuses = []
        for c in pod["spec"]["containers"]:
            if exit_code is None:
                state: dict[str, Any] = {"running": {"startedAt": now}}
            else:
                state = {"terminated": {"exitCode": exit_code, "reason": reason or ("Completed" if exit_code == 0 else "Error"),
                                        "startedAt": now, "finishedAt": now,
                                        "containerID": "containerd://" + secrets.token_hex(32)}}  # fmt: skip
                if message:
                    state["terminated"]["message"] = message
            statuses.append({
                "name": c["name"], "image": c["image"], "imageID": "", "ready": exit_code is None,
                "restartCount": 0, "started": exit_code is None, "state": state,
            })  # fmt: skip
        status = {"phase": phase, "startTime": now, "hostIP": "10.0.0.1", "podIP": "10.244.0." + str(random.randint(2, 250)),
                  "qosClass": (pod.get("status") or {}).get("qosClass", "BestEffort"),
                  "containerStatuses": statuses}  # fmt: skip
        self.core.patch(self._type("", "v1", "pods"), pod["metadata"]["namespace"], pod["metadata"]["name"],
                        "merge", {"status": status}, subresource="status")  # fmt: skip

    # -- HTTP --------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = RequestRecord(
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.query.items()},
            status=0,
            content_type=request.headers.get("Content-Type", ""),
            user_agent=request.headers.get("User-Agent", ""),
        )
        try:
            response = await self._dispatch(request, record)
        except _Dropped:
            record.status = -1  # no response: the connection was closed
            self.requests.append(record)
            return web.Response(status=500)
        except ApiError as e:
            response = web.json_response(e.status(), status=e.code, headers=e.headers or None)
        except Exception as e:  # a bug in the fixture: report it loudly, as a 500
            self.errors.append(traceback.format_exc())
            log.exception("kubeapi: internal error on %s %s", request.method, request.path_qs)
            response = web.json_response(
                ApiError(500, f"kubeapi fixture bug: {e!r}").status(), status=500
            )
        if record.status == 0:
            record.status = response.status
            self.requests.append(record)
        return response

    def _auth(self, request: web.Request) -> None:
        if not self.token:
            return
        header = request.headers.get("Authorization", "")
        if header != f"Bearer {self.token}":
            raise ApiError(401, "Unauthorized", reason="Unauthorized")

    async def _dispatch(self, request: web.Request, record: RequestRecord) -> web.StreamResponse:
        path = request.path
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        self._auth(request)
        segs = [s for s in path.split("/") if s]
        if not (len(segs) >= 3 and segs[0] in ("api", "apis")):
            self._inject_fault(request, None)
        if request.method == "GET":
            if segs == ["version"]:
                return web.json_response(version_info(self.core.version))
            if segs == ["api"]:
                return web.json_response(
                    {"kind": "APIVersions", "versions": ["v1"],
                     "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]}
                )  # fmt: skip
            if segs == ["apis"]:
                return web.json_response(self._call(self._group_list))
            if len(segs) == 2 and segs[0] == "api":
                return web.json_response(self._call(self._resource_list, "", segs[1]))
            if len(segs) == 2 and segs[0] == "apis":
                groups = [g for g in self._call(self._group_list)["groups"] if g["name"] == segs[1]]
                if not groups:
                    raise _generic_not_found()
                return web.json_response({"kind": "APIGroup", "apiVersion": "v1", **groups[0]})
            if len(segs) == 3 and segs[0] == "apis":
                return web.json_response(self._call(self._resource_list, segs[1], segs[2]))
        if len(segs) >= 3 and segs[0] == "api":
            group, version, rest = "", segs[1], segs[2:]
        elif len(segs) >= 4 and segs[0] == "apis":
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise _generic_not_found()
        route = self._route(group, version, rest)
        record.group, record.version = group, version
        record.namespace, record.plural = route.namespace, route.rt.plural
        record.name, record.subresource = route.name, route.subresource
        self._inject_fault(request, route)
        return await self._resource_request(request, route, record)

    def _inject_fault(self, request: web.Request, route: _Route | None) -> None:
        plural, namespace = (route.rt.plural, route.namespace) if route else (None, None)
        fault = self.faults.take(request.method, request.path, plural, namespace)
        if fault is None:
            return
        if fault.status == CONFLICT:
            if route is not None and route.name is not None:
                self._call(self._write_first, route, fault)
            return
        if fault.status == DROP:
            if request.transport is not None:
                request.transport.abort()
            raise _Dropped()
        raise fault.error()

    def _write_first(self, route: _Route, fault: Fault) -> None:
        """Another client's write to the object ``route`` names: metadata only, a new
        resourceVersion (a missing object is left to the request's own 404)."""
        assert route.name is not None
        stored = self.core.find_stored(
            route.rt.storage, route.namespace if route.rt.namespaced else "", route.name
        )
        if stored is None:
            return
        touch = {"metadata": {"annotations": {CONFLICT_ANNOTATION: fault.concurrent_write()}}}
        self.core.patch(route.rt, route.namespace, route.name, "merge", touch)

    def _group_list(self) -> dict[str, Any]:
        by_group: dict[str, list[str]] = {}
        for group, version in self.core.types:
            if group:
                by_group.setdefault(group, []).append(version)
        groups = []
        for group, versions in by_group.items():
            versions.sort(key=_version_key, reverse=True)
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        types = self.core.types.get((group, version))
        if not types:
            raise _generic_not_found()
        resources = []
        for rt in types.values():
            entry: dict[str, Any] = {
                "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                "kind": rt.kind, "verbs": list(rt.verbs),
                "storageVersionHash": f"{abs(hash(rt.storage)) % 10**11:011d}",
            }  # fmt: skip
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            for sub in rt.subresources:
                verbs = {
                    "status": ["get", "patch", "update"],
                    "log": ["get"],
                    "finalize": ["update"],
                }[sub]
                resources.append({"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                                  "kind": rt.kind, "verbs": verbs})  # fmt: skip
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def _route(self, group: str, version: str, rest: list[str]) -> _Route:
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace: str | None = rest[1]
            plural, tail = rest[2], rest[3:]
        else:
            namespace = None
            plural, tail = rest[0], rest[1:]
        if len(tail) > 2:
            raise _generic_not_found()
        name = tail[0] if tail else None
        sub = tail[1] if len(tail) > 1 else None
        rt = self._call(self.core.find_type, group, version, plural)
        if rt is None:
            raise _generic_not_found()
        if namespace is not None and not rt.namespaced:
            raise _generic_not_found()
        if rt.namespaced and namespace is None and name is not None:
            raise _generic_not_found()
        if sub is not None and sub not in rt.subresources:
            raise _generic_not_found()
        return _Route(rt, namespace, name, sub)

    @staticmethod
    def _flag(params: Mapping[str, str], key: str) -> bool:
        return params.get(key, "").lower() in ("true", "1")

    @staticmethod
    def _options(params: Mapping[str, str]) -> tuple[bool, str]:
        dry = params.get("dryRun")
        if dry not in (None, "", "All"):
            raise bad_request(f'Invalid dry run value: "{dry}": supported values: "All"')
        fv = params.get("fieldValidation") or "Warn"
        if fv not in ("Ignore", "Warn", "Strict"):
            raise bad_request(
                f'fieldValidation: Unsupported value: {fv!r}: supported values: "Ignore", "Warn", "Strict"'
            )
        manager = params.get("fieldManager", "")
        if len(manager) > 128:
            raise ApiError(
                422, "fieldManager: Too long: may not be more than 128 bytes", reason="Invalid"
            )
        return dry == "All", fv

    async def _read_body(self, request: web.Request, allowed: Iterable[str]) -> Any:
        raw = await request.read()
        if not raw:
            return None
        # An absent Content-Type means the first supported type (JSON), as in kube-apiserver's
        # NegotiateInputSerializer; aiohttp reports it as application/octet-stream.
        ctype = request.content_type if request.headers.get("Content-Type") else "application/json"
        if ctype not in allowed:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types include: {', '.join(allowed)}",
            )
        try:
            if ctype in YAML_TYPES:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise bad_request(f"couldn't get version/kind; json parse error: {e}") from None

    def _selectors(self, rt: ResourceType, params: Mapping[str, str]) -> tuple[Any, Any]:
        try:
            labels = parse_label_selector(params.get("labelSelector"))
            fields = parse_field_selector(params.get("fieldSelector"))
            check_field_labels(fields, rt.field_getters, rt.kind)
        except SelectorError as e:
            raise bad_request(str(e)) from None
        return labels, fields

    def _json(self, body: Any, status: int = 200, warnings: Iterable[str] = ()) -> web.Response:
        resp = web.Response(text=json.dumps(body), status=status, content_type="application/json")
        for w in warnings:
            resp.headers.add("Warning", "299 - " + json.dumps(w))
        return resp

    async def _resource_request(
        self, request: web.Request, route: _Route, record: RequestRecord
    ) -> web.StreamResponse:
        rt, ns, name, sub = route.rt, route.namespace, route.name, route.subresource
        params = request.query
        method = request.method
        verbs = set(rt.verbs)

        if method == "GET":
            if name is None:
                labels, fields = self._selectors(rt, params)
                if self._flag(params, "watch"):
                    if "watch" not in verbs:
                        raise ApiError(
                            405, "the server does not allow this method on the requested resource"
                        )
                    return await self._watch(request, rt, ns, labels, fields, record)
                rv = params.get("resourceVersion")
                self._check_list_rv(rv, params.get("resourceVersionMatch"))
                limit = params.get("limit")
                try:
                    limit_n = int(limit) if limit else None
                except ValueError:
                    raise bad_request(f"limit: Invalid value: {limit!r}") from None
                body = self._call(self.core.list, rt, ns, labels, fields, limit=limit_n,
                                  continue_token=params.get("continue"))  # fmt: skip
                return self._json(body)
            if sub == "log":
                return web.Response(
                    text=self._call(self._pod_log, rt, ns, name), content_type="text/plain"
                )
            return self._json(self._call(self.core.get, rt, ns, name))

        dry_run, fv = self._options(params)
        warnings: list[str] = []

        if method == "POST":
            if name is not None or (rt.namespaced and ns is None):
                raise ApiError(
                    405, "the server does not allow this method on the requested resource"
                )
            body = await self._read_body(request, JSON_TYPES + YAML_TYPES)
            record.body = copy.deepcopy(body) if self.log_bodies else None
            obj = self._call(
                self.core.create,
                rt,
                ns,
                body,
                dry_run=dry_run,
                field_validation=fv,
                warnings=warnings,
            )
            return self._json(obj, 201, warnings)

        if method == "PUT":
            if name is None:
                raise ApiError(
                    405, "the server does not allow this method on the requested resource"
                )
            body = await self._read_body(request, JSON_TYPES + YAML_TYPES)
            record.body = copy.deepcopy(body) if self.log_bodies else None
            obj = self._call(self.core.update, rt, ns, name, body, subresource=sub, dry_run=dry_run,
                             field_validation=fv, warnings=warnings)  # fmt: skip
            return self._json(obj, 200, warnings)

        if method == "PATCH":
            if name is None:
                raise ApiError(
                    405, "the server does not allow this method on the requested resource"
                )
            ctype = request.content_type if request.headers.get("Content-Type") else ""
            if ctype == "application/apply-patch+yaml" or ctype == "application/apply-patch+cbor":
                raise ApiError(
                    415,
                    "server-side apply (application/apply-patch+yaml) is not supported by the kubeapi "
                    "test fixture; use a merge, JSON or strategic merge patch, or test it on a real cluster",
                )
            if ctype not in PATCH_TYPES:
                raise ApiError(
                    415,
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                )
            body = await self._read_body(request, tuple(PATCH_TYPES))
            record.body = copy.deepcopy(body) if self.log_bodies else None
            if sub == "log" or sub == "finalize":
                raise ApiError(
                    405, "the server does not allow this method on the requested resource"
                )
            obj = self._call(self.core.patch, rt, ns, name, PATCH_TYPES[ctype], body, subresource=sub,
                             dry_run=dry_run, field_validation=fv, warnings=warnings)  # fmt: skip
            return self._json(obj, 200, warnings)

        if method == "DELETE":
            body = await self._read_body(request, JSON_TYPES + YAML_TYPES) or {}
            if not isinstance(body, dict):
                raise bad_request("DeleteOptions must be an object")
            record.body = copy.deepcopy(body) if self.log_bodies else None
            options = dict(body)
            for key in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
                if key in params:
                    value: Any = params[key]
                    if key == "gracePeriodSeconds":
                        value = int(value)
                    elif key == "orphanDependents":
                        value = value.lower() == "true"
                    options[key] = value
            if body.get("dryRun"):
                dry_run = True
            if sub is not None:
                raise ApiError(
                    405, "the server does not allow this method on the requested resource"
                )
            if name is None:
                if "deletecollection" not in verbs or (rt.namespaced and ns is None):
                    raise ApiError(
                        405, "the server does not allow this method on the requested resource"
                    )
                labels, fields = self._selectors(rt, params)
                result = self._call(
                    self.core.delete_collection, rt, ns, labels, fields, options, dry_run=dry_run
                )
                return self._json(result)
            code, result = self._call(self.core.delete, rt, ns, name, options, dry_run=dry_run)
            return self._json(result, code)

        raise ApiError(405, "the server does not allow this method on the requested resource")

    def _check_list_rv(self, rv: str | None, match: str | None) -> None:
        if match not in (None, "", "NotOlderThan", "Exact"):
            raise ApiError(
                422, f'resourceVersionMatch: Unsupported value: "{match}"', reason="Invalid"
            )
        if rv in (None, ""):
            if match:
                raise ApiError(
                    422,
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                    reason="Invalid",
                )
            return
        try:
            n = int(rv)  # type: ignore[arg-type]
        except ValueError:
            raise bad_request(
                f'resourceVersion: Invalid value: "{rv}": must be a valid integer'
            ) from None
        current = self.core.resource_version
        if n > current:
            raise ApiError(504, f"Too large resource version: {n}, current: {current}", reason="Timeout",
                           details={"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                                    "retryAfterSeconds": 1})  # fmt: skip
        if match == "Exact" and n != current:
            raise ApiError(410, f"too old resource version: {n} ({current})", reason="Expired")

    def _pod_log(self, rt: ResourceType, ns: str | None, name: str) -> str:
        self.core.get(rt, ns, name)
        return self.core.pod_logs.get((ns or "", name), "")

    # -- watch -------------------------------------------------------------

    async def _watch(
        self,
        request: web.Request,
        rt: ResourceType,
        ns: str | None,
        labels: Any,
        fields: Any,
        record: RequestRecord,
    ) -> web.StreamResponse:
        params = request.query
        rv_param = params.get("resourceVersion") or ""
        bookmarks = self._flag(params, "allowWatchBookmarks")
        send_initial = self._flag(params, "sendInitialEvents")
        if send_initial and params.get("resourceVersionMatch") != "NotOlderThan":
            raise ApiError(
                422,
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                reason="Invalid",
            )
        if send_initial and not bookmarks:
            raise ApiError(
                422,
                "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                reason="Invalid",
            )
        timeout_s = params.get("timeoutSeconds")
        try:
            timeout = float(timeout_s) if timeout_s else random.uniform(1800, 3600)
        except ValueError:
            raise bad_request(f"timeoutSeconds: Invalid value: {timeout_s!r}") from None
        if rv_param:
            try:
                since = int(rv_param)
            except ValueError:
                raise bad_request(
                    f'resourceVersion: Invalid value: "{rv_param}": must be a valid integer'
                ) from None
        else:
            since = None

        queue: asyncio.Queue[Any] = asyncio.Queue()
        core = self.core
        initial: list[dict[str, Any]] = []
        error: dict[str, Any] | None = None
        # Everything below until the first await runs atomically on the loop: no event is lost.
        core.watchers.add(queue)
        current = core.resource_version
        if since is None or since == 0 or send_initial:
            for stored in core.select(rt, ns, labels, fields):
                initial.append({"type": "ADDED", "object": core._present(rt, stored)})
        elif since < core.compacted_rv:
            error = ApiError(
                410,
                f"too old resource version: {since} ({core.compacted_rv + 1})",
                reason="Expired",
            ).status()
        elif since > current:
            error = ApiError(504, f"Too large resource version: {since}, current: {current}", reason="Timeout",
                             details={"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                                      "retryAfterSeconds": 1}).status()  # fmt: skip
        else:
            for ev in core.events_since(since):
                view = core.watch_view(rt, ns, labels, fields, ev)
                if view is not None:
                    initial.append(view)

        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
        except ConnectionResetError:  # the client went away first (an operator was stopped)
            return response
        record.status = 200
        self.requests.append(record)
        loop = asyncio.get_running_loop()

        async def send(event: dict[str, Any]) -> None:
            await response.write(json.dumps(event).encode() + b"\n")

        async def send_object(event: dict[str, Any]) -> None:
            # A held watch (hold_watch) lags: the event waits, and the ones after it queue.
            hold = self.watch_holds.holding(rt.plural, rt.group)
            if hold is not None:
                hold.delayed += 1
            while hold is not None:
                transport = request.transport
                if transport is None or transport.is_closing():
                    raise ConnectionResetError("the client went away while the watch was held")
                await asyncio.sleep(0.02)
                hold = self.watch_holds.holding(rt.plural, rt.group)
            await send(event)

        def bookmark(extra_annotations: dict[str, str] | None = None) -> dict[str, Any]:
            meta: dict[str, Any] = {"resourceVersion": str(core.resource_version)}
            if extra_annotations:
                meta["annotations"] = extra_annotations
            return {
                "type": "BOOKMARK",
                "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta},
            }

        try:
            if error is not None:
                await send({"type": "ERROR", "object": error})
                return response
            for event in initial:
                await send_object(event)
            if send_initial:
                await send(bookmark({"k8s.io/initial-events-end": "true"}))
            deadline = loop.time() + timeout
            next_bookmark = loop.time() + self.bookmark_interval
            while True:
                now = loop.time()
                if now >= deadline:
                    break
                wait = min(deadline - now, 0.5, max(next_bookmark - now, 0.0))
                try:
                    item = await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        break
                    if bookmarks and loop.time() >= next_bookmark:
                        await send(bookmark())
                        next_bookmark = loop.time() + self.bookmark_interval
                    continue
                if item is STOP:
                    break
                if isinstance(item, tuple):  # ("closed", storage): the CRD went away
                    if item[1] == rt.storage:
                        break
                    continue
                view = core.watch_view(rt, ns, labels, fields, item)
                if view is not None:
                    await send_object(view)
        except ConnectionError:
            pass
        finally:
            core.watchers.discard(queue)
        with contextlib.suppress(Exception):
            await response.write_eof()
        return response
