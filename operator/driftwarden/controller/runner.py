"""Start the operator: kopf's loop, the metrics endpoint, health probes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import kopf
from prometheus_client import start_http_server

from driftwarden.controller.config import OperatorConfig
from driftwarden.controller.handlers import register
from driftwarden.controller.kube import KubeApi, load_client_config
from driftwarden.controller.metrics import Metrics
from driftwarden.controller.reconcile import Reconciler

log = logging.getLogger("driftwarden.controller")


def build(
    config: OperatorConfig, clock: Callable[[], datetime] | None = None
) -> tuple[kopf.OperatorRegistry, Reconciler]:
    """A registry with every handler, bound to one Reconciler (``clock`` for tests that move time)."""
    load_client_config()
    metrics = Metrics()
    reconciler = Reconciler(KubeApi(), metrics, config, **({"clock": clock} if clock else {}))
    registry = kopf.OperatorRegistry()
    register(registry, reconciler, config)
    return registry, reconciler


def run_operator(
    config: OperatorConfig, *, standalone: bool = True, peering: str | None = None
) -> None:
    """Run until stopped (SIGINT/SIGTERM). ``peering`` enables leader election among replicas."""
    registry, reconciler = build(config)
    start_http_server(config.metrics_port, registry=reconciler.metrics.registry)
    log.info(
        "driftwarden operator starting",
        extra={
            "namespaces": list(config.namespaces) or "all",
            "metricsPort": config.metrics_port,
            "healthPort": config.health_port,
            "image": config.image,
        },
    )
    asyncio.run(
        kopf.operator(
            registry=registry,
            standalone=standalone if peering is None else False,
            peering_name=peering,
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            liveness_endpoint=f"http://0.0.0.0:{config.health_port}/healthz",
        )
    )
