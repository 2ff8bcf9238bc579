"""kopf handlers: small functions that route every trigger to the Reconciler.

Registered into an explicit registry by :func:`register`, so the operator's
settings (timer interval, namespaces) are known when the decorators run.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from driftwarden.controller.config import GROUP, PLURAL, VERSION, OperatorConfig
from driftwarden.controller.reconcile import Reconciler
from driftwarden.monitor.job import (
    COMPONENT_ANALYSIS,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    LABEL_MONITOR,
)

PREFIX = "driftwarden.io"
MANAGED_JOBS = {LABEL_MANAGED_BY: "driftwarden", LABEL_COMPONENT: COMPONENT_ANALYSIS}


def configure_settings(settings: kopf.OperatorSettings) -> None:
    """kopf's own bookkeeping under the driftwarden.io prefix; nothing written to the spec."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.posting.level = logging.INFO
    # Events are posted by the reconciler itself, with reasons people can filter on.
    settings.posting.enabled = True
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60


def register(
    registry: kopf.OperatorRegistry, reconciler: Reconciler, config: OperatorConfig
) -> None:
    """Register every handler of the operator into ``registry``."""
    monitors = (GROUP, VERSION, PLURAL)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In a pod the service account; elsewhere $KUBECONFIG, read now rather than at import.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_settings(settings)

    @kopf.on.resume(*monitors, registry=registry)
    @kopf.on.create(*monitors, registry=registry)
    @kopf.on.update(*monitors, field="spec", registry=registry)
    async def monitor_changed(namespace: str | None, name: str, **_: Any) -> None:
        assert namespace is not None  # DriftMonitors are namespaced
        await reconciler.reconcile(namespace, name)

    @kopf.timer(*monitors, interval=config.tick_seconds, sharp=False, registry=registry)
    async def monitor_tick(namespace: str | None, name: str, **_: Any) -> None:
        assert namespace is not None  # DriftMonitors are namespaced
        await reconciler.reconcile(namespace, name)

    @kopf.on.delete(*monitors, optional=True, registry=registry)
    def monitor_deleted(namespace: str | None, name: str, **_: Any) -> None:
        # Owner references delete the monitor's Jobs; only our metrics remain to drop.
        assert namespace is not None  # DriftMonitors are namespaced
        reconciler.forget(namespace, name)

    @kopf.on.event("batch", "v1", "jobs", labels=MANAGED_JOBS, registry=registry)
    async def job_event(
        event: kopf.RawEvent, body: kopf.Body, namespace: str | None, **_: Any
    ) -> None:
        deleted = event.get("type") == "DELETED"
        reconciler.track_job(body, deleted=deleted)
        monitor = (body.get("metadata", {}).get("labels") or {}).get(LABEL_MONITOR)
        if monitor and not deleted and body.get("status", {}).get("conditions"):
            # A Job reached a condition (Complete/Failed): record its outcome now, not at the next tick.
            assert namespace is not None  # Jobs are namespaced
            await reconciler.reconcile(namespace, monitor)
