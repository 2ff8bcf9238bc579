"""A stand-in for the scheduler and the kubelet: "runs" pods with an outcome a test chooses.

Each new pod is handed to a *behaviour*, ``behaviour(run: PodRun) -> Outcome | Unschedulable``,
called in a thread of its own:

- ``Waiting(reason, message)``: the pod is bound but its container cannot start (say
  ``ImagePullBackOff``): Pending with a ``waiting`` container state, asked again later. A
  Secret or ConfigMap the container's env needs that is missing gives
  ``CreateContainerConfigError`` before the behaviour is called, as the kubelet does.
- ``Unschedulable(message)``: the pod stays Pending with ``PodScheduled=False``, reason
  ``Unschedulable`` and the scheduler's message (``0/3 nodes are available: ...``); the
  scheduler tries again every ``reschedule_interval`` seconds, as its unschedulable queue does.
- ``Outcome(exit_code, termination_message, logs, reason)``: the pod is bound to a node and
  Running (``run.start()``, which a long behaviour calls itself first), then terminated with
  the container status the kubelet writes: ``terminated`` with exitCode, reason (Completed,
  Error, OOMKilled, ...), message, startedAt/finishedAt; phase Succeeded or Failed.

The termination message follows the kubelet exactly (pkg/kubelet/kuberuntime/
kuberuntime_container.go, constants in pkg/kubelet/container/runtime.go): the LAST 4096
bytes of the termination-message file; with ``terminationMessagePolicy:
FallbackToLogsOnError``, an empty file and a non-zero exit code, the last 80 lines of the log
capped to their last 2048 bytes. Logs are served at ``pods/NAME/log``.

``run.cancelled`` is set when the pod is deleted (its grace period started): a long
behaviour stops and returns the outcome of a killed container.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .podenv import container_env, expand

if TYPE_CHECKING:
    from .server import KubeAPIServer

MAX_TERMINATION_MESSAGE_LENGTH = 1024 * 4  # MaxContainerTerminationMessageLength
MAX_TERMINATION_MESSAGE_LOG_LENGTH = 1024 * 2  # MaxContainerTerminationMessageLogLength
MAX_TERMINATION_MESSAGE_LOG_LINES = 80  # MaxContainerTerminationMessageLogLines
NODE_NAME = "kubeapi-node"
DEFAULT_UNSCHEDULABLE = (
    "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: "
    "3 No preemption victims found for incoming pod."
)


@dataclass
class Outcome:
    """How a pod's (first) container ends."""

    exit_code: int = 0
    termination_message: str | bytes = ""  # what the container wrote to terminationMessagePath
    logs: str = ""
    reason: str | None = None  # default: Completed (0) or Error

    @classmethod
    def oom_killed(cls, logs: str = "") -> Outcome:
        """The kernel's OOM killer ended the container: exit 137, reason OOMKilled."""
        return cls(exit_code=137, reason="OOMKilled", logs=logs)


@dataclass
class Unschedulable:
    """The scheduler found no node: the pod stays Pending."""

    message: str = DEFAULT_UNSCHEDULABLE


@dataclass
class Waiting:
    """The pod is bound but its container cannot start: it stays Pending with a waiting
    container (ImagePullBackOff, ErrImagePull, CreateContainerConfigError, ...); the kubelet
    asks the behaviour again every ``reschedule_interval`` seconds."""

    reason: str = "ImagePullBackOff"
    message: str = ""


@dataclass
class PodRun:
    """One pod handed to a behaviour."""

    pod: dict[str, Any]
    kubelet: Kubelet
    cancelled: threading.Event = field(default_factory=threading.Event)
    started_at: str | None = None

    @property
    def namespace(self) -> str:
        return self.pod["metadata"]["namespace"]

    @property
    def name(self) -> str:
        return self.pod["metadata"]["name"]

    @property
    def container(self) -> dict[str, Any]:
        return self.pod["spec"]["containers"][0]

    def env(self) -> dict[str, str]:
        """The first container's environment as the kubelet builds it: ``envFrom``, ``env``
        values (``$(VAR)`` expanded), fieldRef (downward API), Secret and ConfigMap keys."""

        def build() -> dict[str, str]:
            core = self.kubelet.server.core
            stored = core.find_stored("/pods", self.namespace, self.name)
            pod = stored if stored is not None and stored["metadata"]["uid"] == self.pod["metadata"]["uid"] else self.pod  # fmt: skip
            return container_env(core, pod, self.container)

        return self.kubelet.server._call(build)

    def command_line(self) -> tuple[list[str], list[str]]:
        """The first container's ``command`` and ``args`` with ``$(VAR)`` expanded from its env,
        as the kubelet hands them to the runtime."""
        env = self.env()
        return (
            [expand(str(a), env) for a in self.container.get("command") or []],
            [expand(str(a), env) for a in self.container.get("args") or []],
        )

    def start(self) -> None:
        """Bind the pod to the node and mark it Running (idempotent)."""
        if self.started_at is None:
            self.kubelet._write(self, waiting=Waiting("ContainerCreating"))
            self.started_at = self.kubelet.server.core.clock.rfc3339()
            self.kubelet._write(self, running=True)


Behaviour = Callable[[PodRun], "Outcome | Unschedulable | Waiting"]


def succeed(run: PodRun) -> Outcome:
    """The default behaviour: the container exits 0 at once."""
    return Outcome()


def keep_running(run: PodRun) -> Outcome:
    """A container that runs until its pod is deleted, then exits on SIGTERM (143)."""
    run.start()
    run.cancelled.wait()
    return Outcome(exit_code=143)


def termination_message(container: dict[str, Any], outcome: Outcome) -> str:
    """The ``message`` of the terminated container state, as the kubelet computes it."""
    raw = outcome.termination_message
    data = raw if isinstance(raw, bytes) else raw.encode()
    message = data[-MAX_TERMINATION_MESSAGE_LENGTH:].decode(errors="replace")
    fallback = container.get("terminationMessagePolicy") == "FallbackToLogsOnError"
    if not message and fallback and outcome.exit_code != 0:
        lines = outcome.logs.splitlines(keepends=True)[-MAX_TERMINATION_MESSAGE_LOG_LINES:]
        tail = "".join(lines).encode()[-MAX_TERMINATION_MESSAGE_LOG_LENGTH:]
        message = tail.decode(errors="replace")
    return message


class Kubelet:
    """Runs inside the server: picks up new pods (loop thread), runs behaviours (own threads)."""

    def __init__(self, server: KubeAPIServer, *, enabled: bool = False) -> None:
        self.server = server
        self.enabled = enabled
        self.paused = False  # while True, new pods stay Pending (a node slow to start them)
        self.behaviour: Behaviour = succeed
        self.reschedule_interval = 1.0
        self.errors: list[str] = []
        self.stopped = False  # the server is stopping: behaviours still running write nothing
        self._runs: dict[str, PodRun] = {}  # pod uid -> run
        self._retry_at: dict[str, float] = {}  # unschedulable/waiting pod uid -> next attempt
        self._waiting: set[str] = set()  # bound pods whose container could not start yet

    def behave(self, behaviour: Behaviour) -> None:
        """Use ``behaviour`` for the pods created from now on."""
        self.behaviour = behaviour

    # -- controller protocol (loop thread) ----------------------------------------

    def sync(self) -> None:
        if not self.enabled or self.stopped:
            return
        core = self.server.core
        now = core.clock.time()
        pods = core.objects.get("/pods", {})
        live = set()
        for pod in list(pods.values()):
            uid = pod["metadata"]["uid"]
            live.add(uid)
            run = self._runs.get(uid)
            if pod["metadata"].get("deletionTimestamp"):
                if run is not None:
                    run.cancelled.set()
                continue
            if run is not None or self.paused:
                continue
            if pod["spec"].get("nodeName") and uid not in self._waiting:
                continue
            if (pod.get("status") or {}).get("phase") != "Pending":
                continue
            if self._retry_at.get(uid, 0.0) > now:
                continue
            run = PodRun(pod=_copy(pod), kubelet=self)
            self._runs[uid] = run
            threading.Thread(target=self._run, args=(run, self.behaviour), daemon=True,
                             name=f"kubelet-{run.name}").start()  # fmt: skip
        for uid in list(self._runs):
            if uid not in live:
                self._runs.pop(uid).cancelled.set()
        for uid in list(self._retry_at):
            if uid not in live:
                del self._retry_at[uid]
        self._waiting &= live

    tick = sync

    def stop(self) -> None:
        """The node goes away with the server: running behaviours are cancelled."""
        self.stopped = True
        for run in list(self._runs.values()):
            run.cancelled.set()

    # -- one pod (its own thread) ---------------------------------------------------

    def _run(self, run: PodRun, behaviour: Behaviour) -> None:
        import traceback

        try:
            problem = self.server._call(config_error, self.server.core, run.pod)
            result = Waiting("CreateContainerConfigError", problem) if problem else behaviour(run)
            if isinstance(result, Unschedulable):
                self._write(run, unschedulable=result.message)
                return
            if isinstance(result, Waiting):
                self._write(run, waiting=result, retry=True)
                return
            if not isinstance(result, Outcome):
                raise TypeError(
                    f"a kubelet behaviour returned {result!r}; return Outcome(...), "
                    "Unschedulable(...) or Waiting(...)"
                )
            run.start()
            self._write(run, outcome=result)
        except Exception:  # a bug in a behaviour or the fixture: surfaced through server.errors
            if not self.stopped:  # a write racing the server's shutdown is no bug
                self.errors.append(traceback.format_exc())

    def _write(
        self,
        run: PodRun,
        *,
        running: bool = False,
        outcome: Outcome | None = None,
        unschedulable: str | None = None,
        waiting: Waiting | None = None,
        retry: bool = False,
    ) -> None:
        if self.stopped:
            return

        def apply() -> None:
            core = self.server.core
            uid = run.pod["metadata"]["uid"]
            pod = core.find_stored("/pods", run.namespace, run.name)
            if pod is None or pod["metadata"]["uid"] != uid:
                return
            now = core.clock.rfc3339()
            rt = core.storage_types["/pods"]
            if unschedulable is not None:
                self._runs.pop(uid, None)
                self._retry_at[uid] = core.clock.time() + self.reschedule_interval
                cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": unschedulable, "lastProbeTime": None, "lastTransitionTime": now}  # fmt: skip
                core._system_update(rt, pod, lambda p: p["status"].update(
                    conditions=_merge_conditions(p["status"].get("conditions") or [], [cond])))  # fmt: skip
                return
            if waiting is not None:
                if retry:
                    self._runs.pop(uid, None)
                    self._waiting.add(uid)
                    self._retry_at[uid] = core.clock.time() + self.reschedule_interval
                core._system_update(rt, pod, lambda p: _set_waiting(p, waiting, now))
                return
            self._retry_at.pop(uid, None)
            self._waiting.discard(uid)
            if outcome is not None and outcome.logs:
                core.pod_logs[(run.namespace, run.name)] = outcome.logs
            core._system_update(rt, pod, lambda p: _set_status(p, run, now, outcome))

        self.server._call(apply)


def config_error(core: Any, pod: dict[str, Any]) -> str | None:
    """Why the kubelet cannot build a container's config (CreateContainerConfigError): a
    Secret or ConfigMap the env refers to is missing (unless ``optional``), or lacks the key."""
    namespace = pod["metadata"]["namespace"]
    kinds = {"secret": ("/secrets", "Secret"), "configMap": ("/configmaps", "ConfigMap")}
    for c in pod["spec"].get("containers") or []:
        refs: list[tuple[str, dict[str, Any], str | None]] = []
        for source in c.get("envFrom") or []:
            for kind in kinds:
                if source.get(kind + "Ref"):
                    refs.append((kind, source[kind + "Ref"], None))
        for item in c.get("env") or []:
            for kind in kinds:
                ref = (item.get("valueFrom") or {}).get(kind + "KeyRef")
                if ref:
                    refs.append((kind, ref, ref.get("key")))
        for kind, ref, key in refs:
            if ref.get("optional"):
                continue
            storage, title = kinds[kind]
            found = core.find_stored(storage, namespace, ref.get("name", ""))
            if found is None:
                return f'{title.lower()} "{ref.get("name", "")}" not found'
            if key is not None and key not in (found.get("data") or {}):
                return f"couldn't find key {key} in {title} {namespace}/{ref.get('name', '')}"
    return None


def _set_waiting(pod: dict[str, Any], waiting: Waiting, now: str) -> None:
    """Bound, Pending, every container waiting with ``waiting``'s reason and message."""
    spec, status = pod["spec"], pod.setdefault("status", {})
    spec["nodeName"] = NODE_NAME
    status.update({"phase": "Pending", "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}],
                   "startTime": status.get("startTime") or now})  # fmt: skip
    names = [c["name"] for c in spec["containers"]]
    state: dict[str, Any] = {"reason": waiting.reason}
    if waiting.message:
        state["message"] = waiting.message
    status["containerStatuses"] = [
        {"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "started": False,
         "restartCount": 0, "state": {"waiting": dict(state)}}
        for c in spec["containers"]
    ]  # fmt: skip
    unready = {
        "reason": "ContainersNotReady",
        "message": f"containers with unready status: [{' '.join(names)}]",
    }
    conds = [
        {"type": "PodReadyToStartContainers", "status": "False"},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": "False", **unready},
        {"type": "ContainersReady", "status": "False", **unready},
        {"type": "PodScheduled", "status": "True"},
    ]
    status["conditions"] = _merge_conditions(
        status.get("conditions") or [],
        [{**c, "lastProbeTime": None, "lastTransitionTime": now} for c in conds],
    )


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(obj)


def _merge_conditions(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = {c["type"]: c for c in old}
    for cond in new:
        prev = out.get(cond["type"])
        if prev is not None and prev.get("status") == cond["status"]:
            cond = {**cond, "lastTransitionTime": prev.get("lastTransitionTime")}
        out[cond["type"]] = cond
    return list(out.values())


def _set_status(pod: dict[str, Any], run: PodRun, now: str, outcome: Outcome | None) -> None:
    """What the kubelet reports: Running, or the terminated container and the pod's phase."""
    spec, status = pod["spec"], pod.setdefault("status", {})
    spec["nodeName"] = NODE_NAME  # the binding the scheduler posts
    started = run.started_at or now
    status.update(
        {
            "hostIP": "10.0.0.1",
            "hostIPs": [{"ip": "10.0.0.1"}],
            "startTime": status.get("startTime") or started,
        }
    )
    status.setdefault("podIP", f"10.244.0.{int(secrets.token_hex(1), 16) % 250 + 2}")
    statuses = []
    for i, c in enumerate(spec["containers"]):
        base = {"name": c["name"], "image": c["image"], "imageID": f"{c['image']}@sha256:{'0' * 64}",
                "containerID": "containerd://" + secrets.token_hex(32), "restartCount": 0}  # fmt: skip
        if outcome is None:
            statuses.append(
                {
                    **base,
                    "ready": True,
                    "started": True,
                    "state": {"running": {"startedAt": started}},
                }
            )
            continue
        ended = outcome if i == 0 else Outcome()
        term: dict[str, Any] = {
            "exitCode": ended.exit_code,
            "reason": ended.reason or ("Completed" if ended.exit_code == 0 else "Error"),
            "startedAt": started, "finishedAt": now, "containerID": base["containerID"],
        }  # fmt: skip
        message = termination_message(c, ended)
        if message:
            term["message"] = message
        statuses.append({**base, "ready": False, "started": False, "state": {"terminated": term}})
    status["containerStatuses"] = statuses
    ok = outcome is None or all(s["state"]["terminated"]["exitCode"] == 0 for s in statuses)
    status["phase"] = "Running" if outcome is None else ("Succeeded" if ok else "Failed")
    ready = "True" if outcome is None else "False"
    why = {} if outcome is None else {"reason": "PodCompleted"}
    conds = [
        {"type": "PodReadyToStartContainers", "status": "True" if outcome is None else "False"},
        {"type": "Initialized", "status": "True", **why},
        {"type": "Ready", "status": ready, **why},
        {"type": "ContainersReady", "status": ready, **why},
        {"type": "PodScheduled", "status": "True"},
    ]
    status["conditions"] = _merge_conditions(
        status.get("conditions") or [],
        [{**c, "lastProbeTime": None, "lastTransitionTime": now} for c in conds],
    )
