"""Start the operator: kopf's loop, the metrics endpoint, health probes."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import datetime

import kopf
from prometheus_client import start_http_server

from driftwarden.controller.config import OperatorConfig
from driftwarden.controller.handlers import register
from driftwarden.controller.kube import KubeApi, load_client_config
from driftwarden.controller.metrics import Metrics
from driftwarden.controller.reconcile import Reconciler
from driftwarden.controller.ticker import Ticker

log = logging.getLogger("driftwarden.controller")


def build(
    config: OperatorConfig,
    clock: Callable[[], datetime] | None = None,
    *,
    peering: bool = False,
) -> tuple[kopf.OperatorRegistry, Reconciler]:
    """A registry with every handler, bound to one Reconciler (``clock`` for tests that move time).

    ``peering``: schedules ticked by kopf's per-monitor timers, which kopf pauses while
    another replica leads, instead of the operator-wide :class:`Ticker`.
    """
    load_client_config()
    metrics = Metrics()
    reconciler = Reconciler(KubeApi(), metrics, config, **({"clock": clock} if clock else {}))
    registry = kopf.OperatorRegistry()
    ticker = None if peering else Ticker(reconciler, config.tick_seconds)
    register(registry, reconciler, config, ticker)
    return registry, reconciler


def run_operator(
    config: OperatorConfig, *, peering: str | None = None, priority: int | None = None
) -> None:
    """Run until stopped (SIGINT/SIGTERM).

    ``peering`` names a kopf peering object: replicas sharing it elect one active
    operator, the one with the highest ``priority``; kopf pauses *all* replicas of
    equal priority, so without an explicit one each replica draws a random priority.
    """
    if peering is not None and priority is None:
        priority = secrets.randbelow(1_000_000) + 1
    registry, reconciler = build(config, peering=peering is not None)
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
            standalone=peering is None,
            peering_name=peering,
            priority=priority or 0,
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            liveness_endpoint=f"http://0.0.0.0:{config.health_port}/healthz",
        )
    )
