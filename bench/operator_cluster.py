"""The cluster side of the operator benchmark: the API-server fixture and what is put in it.

Everything here talks to ``tests/kubeapi``'s ``KubeAPIServer`` through its Python API
(not logged as HTTP requests, so it never counts as the operator's traffic), except
:class:`StatusWatch`, an HTTP watch whose requests carry :data:`BENCH_AGENT` as their
User-Agent so the request accounting can leave them out.

The one step that stands in for a cluster running a Job is :func:`finish_job`: keep it
the only place that does, so a new fixture API (a Job controller and kubelet stand-in)
needs one change here.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

REPO_DIR = Path(__file__).resolve().parents[1]
if str(REPO_DIR) not in sys.path:  # `tests.kubeapi` lives at the repository root
    sys.path.insert(0, str(REPO_DIR))

from tests.kubeapi.server import KubeAPIServer  # noqa: E402

G, V, P = "driftwarden.io", "v1alpha1", "driftmonitors"
CRD = REPO_DIR / "crds" / "driftmonitor.yaml"
BENCH_AGENT = "driftwarden-bench"
LATENCY_NAMESPACE = "bench-latency"
BURST_NAMESPACE = "bench-burst"
# Large enough that no watch of the operator is ever sent 410 Gone by the fixture
# because the benchmark's own writes (monitors, 5,000 Jobs) pushed its position out.
HISTORY_SIZE = 500_000
T = TypeVar("T")

# A valid analysis summary (driftwarden.report.summary.parse_summary accepts it; the smoke
# test checks that): what an analysis container writes as its termination message.
SUMMARY: dict[str, Any] = {
    "v": 1,
    "drifted": False,
    "driftShare": 0.0,
    "driftedFeatures": 0,
    "totalFeatures": 2,
    "rows": {"reference": 10000, "current": 2500},
    "report": "s3://bench/reports/report.json",
    "features": [
        {"name": "income", "kind": "numerical", "method": "ks", "score": 0.01,
         "threshold": 0.05, "drifted": False, "pValue": 0.6},
        {"name": "plan", "kind": "categorical", "method": "jensenshannon", "score": 0.02,
         "threshold": 0.1, "drifted": False},
    ],
    "truncated": 0,
    "errors": [],
    "durationSeconds": 1.5,
}  # fmt: skip
SUMMARY_MESSAGE = json.dumps(SUMMARY, separators=(",", ":"))


def start_server() -> KubeAPIServer:
    """A fresh API server with the DriftMonitor CRD registered (bodies of writes are logged:
    the latency phase finds the status patch that recorded each Job)."""
    server = KubeAPIServer(history_size=HISTORY_SIZE).start()
    server.register_crd(CRD)
    return server


def create_namespace(server: KubeAPIServer, name: str) -> None:
    server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


@dataclass(frozen=True)
class Slot:
    """A daily cron schedule whose last slot is an hour ago and whose next is 23 hours away.

    Monitors seeded with ``status.lastRun`` at :attr:`last` have no run due for the
    whole benchmark, whatever time of day it starts; monitors without a status run
    :attr:`last` at once (a new monitor runs its latest past slot).
    """

    last: datetime

    @classmethod
    def an_hour_ago(cls, now: datetime | None = None) -> Slot:
        moment = (now or datetime.now(UTC)) - timedelta(hours=1)
        return cls(moment.replace(second=0, microsecond=0))

    @property
    def cron(self) -> str:
        return f"{self.last.minute} {self.last.hour} * * *"

    @property
    def iso(self) -> str:
        return self.last.strftime("%Y-%m-%dT%H:%M:%SZ")


def monitor_manifest(name: str, namespace: str, slot: Slot) -> dict[str, Any]:
    """A DriftMonitor that no one runs for real: its storage is never read by the benchmark."""
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "DriftMonitor",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedule": slot.cron,
            "storage": {"region": "us-east-1"},
            "reference": {"path": f"s3://bench/{namespace}/{name}/reference/"},
            "current": {"path": f"s3://bench/{namespace}/{name}/current/"},
            "output": {"path": f"s3://bench/{namespace}/{name}/reports/"},
        },
    }


def seeded_status(name: str, slot: Slot) -> dict[str, Any]:
    """A status saying ``slot`` already ran and succeeded (as after an earlier operator's run)."""
    return {
        "lastRun": {
            "job": f"{name}-seeded",
            "slot": slot.iso,
            "startTime": slot.iso,
            "completionTime": slot.iso,
            "outcome": "Succeeded",
            "reason": "Succeeded",
            "drifted": False,
            "message": "no drift: 0 of 2 features drifted (share 0.00)",
        }
    }


def monitor_names(count: int, namespaces: list[str]) -> list[tuple[str, str]]:
    """``count`` (namespace, name) pairs spread round-robin over ``namespaces``."""
    return [(namespaces[i % len(namespaces)], f"m-{i:05d}") for i in range(count)]


def in_parallel(work: Callable[[T], object], items: Iterable[T]) -> None:
    """``work`` on every item from several threads.

    The fixture re-runs its in-server controllers (garbage collector, namespace
    lifecycle) over *every* object after a write, coalescing the writes that arrive
    before that pass starts; one write at a time, 5,000 Jobs take minutes, from 16
    threads a few seconds.
    """
    with ThreadPoolExecutor(16, thread_name_prefix="bench-write") as pool:
        for _ in pool.map(work, items):
            pass


def seed_monitors(server: KubeAPIServer, monitors: list[tuple[str, str]], slot: Slot) -> None:
    """Create the monitors with a status that says their last slot already ran."""

    def seed(monitor: tuple[str, str]) -> None:
        namespace, name = monitor
        server.create(monitor_manifest(name, namespace, slot))
        server.patch_status(G, V, P, name, seeded_status(name, slot), namespace)

    in_parallel(seed, monitors)


def create_monitors(server: KubeAPIServer, monitors: list[tuple[str, str]], slot: Slot) -> None:
    """Create monitors without a status: each runs ``slot`` as soon as the operator sees it."""
    in_parallel(lambda m: server.create(monitor_manifest(m[1], m[0], slot)), monitors)


def delete_monitors(server: KubeAPIServer, monitors: list[tuple[str, str]]) -> None:
    """Delete monitors (their Jobs follow by owner reference, through the fixture's GC)."""
    in_parallel(lambda m: server.delete(G, V, P, m[1], m[0]), monitors)


def reconciled(server: KubeAPIServer, monitors: set[tuple[str, str]]) -> int:
    """How many of ``monitors`` carry a status for their current generation."""
    count = 0
    for obj in server.objects(G, V, P):
        meta = obj["metadata"]
        observed = (obj.get("status") or {}).get("observedGeneration")
        if (meta["namespace"], meta["name"]) in monitors and observed == meta.get("generation"):
            count += 1
    return count


def unrelated_job(name: str) -> dict[str, Any]:
    """A batch Job nothing of driftwarden's selects (no driftwarden labels)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "etl", "team": "data"}},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "etl"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "etl", "image": "busybox:1.36", "command": ["true"]}],
                },
            }
        },
    }


def create_unrelated_jobs(server: KubeAPIServer, count: int, namespaces: list[str]) -> None:
    in_parallel(
        lambda i: server.create(unrelated_job(f"etl-{i:05d}"), namespaces[i % len(namespaces)]),
        range(count),
    )


def owner_name(obj: dict[str, Any]) -> str | None:
    """The name of the DriftMonitor that owns ``obj`` (a Job), from its ownerReferences."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == "DriftMonitor":
            return str(ref.get("name"))
    return None


@dataclass
class FixtureProbe:
    """Times a trivial call into the fixture every ``interval`` s: how long its event loop,
    which also serves the operator, keeps a request waiting. ``samples``: (time.time(), s)."""

    server: KubeAPIServer
    interval: float = 0.25
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> FixtureProbe:
        threading.Thread(target=self._run, name="bench-probe", daemon=True).start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            began = time.monotonic()
            try:
                self.server.find("", "v1", "namespaces", "default")
            except Exception:  # stopping: the loop is gone
                return
            self.samples.append((time.time(), time.monotonic() - began))

    def stop(self) -> None:
        self._stop.set()


def finish_job(server: KubeAPIServer, namespace: str, name: str) -> None:
    """Run a Job to success in the cluster: its pod starts, then ends with a valid summary.

    The single stand-in for the Job controller and kubelet (switch it here when the
    fixture grows its own): a pod of the Job terminates with exit code 0 and the
    summary as its termination message, and the Job gets its Complete condition.
    """
    server.start_job(namespace, name)
    server.complete_job(namespace, name, termination_message=SUMMARY_MESSAGE, exit_code=0)


@dataclass
class StatusWatch:
    """Watches DriftMonitors of one namespace over HTTP and notes when each Job's run is recorded.

    ``recorded[job] = (time.time() the event arrived, lastRun.outcome)`` for the
    first event whose ``status.lastRun.job`` names that Job.
    """

    server: KubeAPIServer
    namespace: str
    timeout_seconds: int
    recorded: dict[str, tuple[float, str]] = field(default_factory=dict)
    error: str | None = None
    _thread: threading.Thread | None = None

    def start(self) -> StatusWatch:
        since = self.server.resource_version
        url = (
            f"{self.server.url}/apis/{G}/{V}/namespaces/{self.namespace}/{P}"
            f"?watch=true&resourceVersion={since}&timeoutSeconds={self.timeout_seconds}"
        )
        request = urllib.request.Request(
            url,
            headers={"Authorization": f"Bearer {self.server.token}", "User-Agent": BENCH_AGENT},
        )
        self._thread = threading.Thread(
            target=self._run, args=(request,), name="bench-status-watch", daemon=True
        )
        self._thread.start()
        return self

    def _run(self, request: urllib.request.Request) -> None:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds + 30) as response:
                for line in response:
                    arrived = time.time()
                    event = json.loads(line)
                    status = (event.get("object") or {}).get("status") or {}
                    last = status.get("lastRun") or {}
                    job = last.get("job")
                    if job and job not in self.recorded:
                        self.recorded[job] = (arrived, str(last.get("outcome")))
        except Exception as error:  # reported in the results, never raised in a thread
            self.error = f"{type(error).__name__}: {error}"
