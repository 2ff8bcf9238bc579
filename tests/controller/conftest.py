"""A cluster for the operator: the test API server (with its Job controller, pod GC and TTL
controller) and the CRD, data in S3, and a kubelet that runs each pod as a local process."""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kopf
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kopf.testing import KopfRunner

from driftwarden.controller.config import OperatorConfig
from driftwarden.controller.runner import build
from tests.controller.kubelet import Kubelet

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "ml"
G, V, P = "driftwarden.io", "v1alpha1", "driftmonitors"


@dataclass
class Clock:
    """The operator's notion of now; tests move it to reach the next schedule slot."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 10, 30, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _put(fs, path: str, *, shift: float, seed: int, n: int = 2000) -> None:
    rng = np.random.default_rng(seed)
    table = pa.table(
        {
            "income": rng.normal(50 + shift, 10, n),
            "tenure": rng.gamma(2.0, 10.0 + shift, n),
            "plan": rng.choice(
                ["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2] if shift == 0 else [0.2, 0.3, 0.5]
            ),
        }
    )
    with fs.open_output_stream(path) as sink:
        pq.write_table(table, sink)


@dataclass
class Cluster:
    api: Any
    bucket: str
    s3: Any
    clock: Clock
    kubelet: Kubelet
    workdir: Path

    def monitor(self, name: str, *, current: str = "live", **spec: Any) -> dict[str, Any]:
        body = {
            "apiVersion": f"{G}/{V}",
            "kind": "DriftMonitor",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "interval": "1h",
                "storage": {
                    "endpoint": self.s3.endpoint,
                    "region": self.s3.region,
                    "secretRef": {"name": "s3-credentials"},
                },
                "reference": {"path": f"s3://{self.bucket}/train/"},
                "current": {"path": f"s3://{self.bucket}/{current}/"},
                "output": {"path": f"s3://{self.bucket}/reports/"},
                **spec,
            },
        }
        return self.api.create(body)

    def get(self, name: str) -> dict[str, Any]:
        return self.api.get(G, V, P, name, NAMESPACE)

    def status(self, name: str) -> dict[str, Any]:
        found = self.api.find(G, V, P, name, NAMESPACE)
        return (found or {}).get("status") or {}

    def wait_status(self, name: str, predicate, timeout: float = 45.0) -> dict[str, Any]:
        return self.api.wait_for(
            lambda: (lambda s: s if predicate(s) else None)(self.status(name)), timeout=timeout
        )

    def jobs(self, component: str = "analysis") -> list[dict[str, Any]]:
        return self.api.objects(
            "batch",
            "v1",
            "jobs",
            NAMESPACE,
            label_selector=f"app.kubernetes.io/component={component}",
        )

    def events(self, name: str, reason: str | None = None) -> list[dict[str, Any]]:
        return self.api.events(NAMESPACE, involved_name=name, reason=reason)

    @contextlib.contextmanager
    def operator(self, *, failures_expected: bool = False, **overrides: Any) -> Iterator[Any]:
        """The real operator (kopf + driftwarden's handlers) in this process, with the test clock.

        A reconciliation that raised (logged by kopf for a handler, by the ticker for a
        tick) fails the test unless ``failures_expected``: the operator carries on after
        one, so nothing else would show it.
        """
        config = OperatorConfig(image="driftwarden:test", tick_seconds=0.3, **overrides)
        registry, reconciler = build(config, clock=self.clock)
        previous_default = kopf.get_default_registry()
        failures = _FailureLog()
        watched = [logging.getLogger(name) for name in ("driftwarden.controller", "kopf.objects")]
        for logger in watched:
            logger.addHandler(failures)
        try:
            with KopfRunner(["run", "--standalone", "-A"], registry=registry, timeout=60) as runner:
                self.api.wait_for(
                    lambda: any(r.is_watch and r.plural == P for r in self.api.requests), timeout=20
                )
                yield reconciler
        finally:
            for logger in watched:
                logger.removeHandler(failures)
            # KopfRunner makes the given registry kopf's default; later `kopf run` tests must not
            # inherit it, even when this test failed inside the block.
            kopf.set_default_registry(previous_default)
        assert runner.exception is None, runner.exception
        assert failures_expected or not failures.records, failures.records[:3]


class _FailureLog(logging.Handler):
    """Keeps the messages of failed reconciliations (ERROR and above)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()} {record.exc_text or ''}")


@pytest.fixture
def cluster(kube_api, s3_server, s3_bucket, tmp_path) -> Iterator[Cluster]:
    kube_api.register_crd(ROOT / "crds" / "driftmonitor.yaml")
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s3-credentials", "namespace": NAMESPACE},
            "data": {
                k: base64.b64encode(v.encode()).decode()
                for k, v in s3_server.env().items()
                if k.startswith("AWS_") and "KEY" in k
            },
        }
    )
    fs = s3_server.filesystem()
    _put(fs, f"{s3_bucket}/train/part-0.parquet", shift=0, seed=1)
    _put(fs, f"{s3_bucket}/live/part-0.parquet", shift=0, seed=2)
    _put(fs, f"{s3_bucket}/shifted/part-0.parquet", shift=15, seed=3)
    workdir = tmp_path / "kubelet"
    workdir.mkdir()
    env = {
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(workdir),
        "DRIFTWARDEN_PROFILE_CACHE": "",
    }
    with Kubelet(kube_api, workdir, env) as kubelet:
        yield Cluster(kube_api, s3_bucket, s3_server, Clock(), kubelet, workdir)
