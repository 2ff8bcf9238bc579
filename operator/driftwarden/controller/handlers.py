"""kopf handlers: small functions that route every trigger to the Reconciler.

Registered into an explicit registry by :func:`register`, so the operator's
settings (timer interval, namespaces) are known when the decorators run.

What is watched, and at what cost:

* DriftMonitors: one watch. Only ``on.event`` is registered — no create/update/resume
  handlers — so kopf keeps no ``last-handled-configuration`` copy of the spec in an
  annotation (a large spec would overflow the 256 KiB annotation budget) and no
  progress annotations. Schedules are decided by one operator-wide
  :class:`~driftwarden.controller.ticker.Ticker`; with peering, by a kopf timer per
  monitor instead (kopf pauses those during a peering freeze), whose finalizer is
  then kopf's only mark on a monitor.
* Jobs and pods: one watch each, filtered on the server by
  ``app.kubernetes.io/managed-by=driftwarden`` (``settings.watching.label_selectors``),
  feeding kopf indexes (:mod:`~driftwarden.controller.cache`). kopf fills every index
  from its initial list before any handler runs, so the concurrency cap is right
  from the first reconciliation after a restart.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from driftwarden.controller.cache import ACTIVE, ClusterView, monitor_uid, slim_job, slim_pod
from driftwarden.controller.config import GROUP, PLURAL, VERSION, OperatorConfig
from driftwarden.controller.reconcile import Reconciler
from driftwarden.controller.ticker import Ticker
from driftwarden.monitor.job import (
    COMPONENT_ANALYSIS,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
)
from driftwarden.monitor.outcome import is_finished
from driftwarden.monitor.shards import pod_slots

log = logging.getLogger("driftwarden.controller")

PREFIX = "driftwarden.io"
MANAGED = {LABEL_MANAGED_BY: "driftwarden"}
MANAGED_SELECTOR = f"{LABEL_MANAGED_BY}=driftwarden"
ANALYSIS = {**MANAGED, LABEL_COMPONENT: COMPONENT_ANALYSIS}
JOBS = ("batch", "v1", "jobs")
PODS = ("", "v1", "pods")


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
    # Server-side filtering: the API server sends only driftwarden's own Jobs and pods.
    settings.watching.label_selectors[JOBS] = MANAGED_SELECTOR
    settings.watching.label_selectors[PODS] = MANAGED_SELECTOR


def register(
    registry: kopf.OperatorRegistry,
    reconciler: Reconciler,
    config: OperatorConfig,
    ticker: Ticker | None = None,
) -> None:
    """Register every handler of the operator into ``registry``.

    With a ``ticker`` the schedules are ticked by it (standalone); without, by a kopf
    timer per monitor (peering: kopf pauses them while another replica leads).
    """
    monitors = (GROUP, VERSION, PLURAL)

    def tick_from_here(kwargs: Any) -> None:
        if ticker is not None:
            ticker.ensure_started(kwargs)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In a pod the service account; elsewhere $KUBECONFIG, read now rather than at import.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_settings(settings)
        version = await reconciler.api.server_version()
        # podFailurePolicy is beta (on by default) from 1.26; 1.25 drops it silently.
        reconciler.pod_failure_policy = version is None or version >= (1, 26)
        # backoffLimitPerIndex is beta (on by default) from 1.29; older servers drop it, and
        # a sharded run's backoffLimit then covers all its shards (monitor/shards.py).
        reconciler.per_index = version is None or version >= (1, 29)
        log.info(
            "API server version read",
            extra={
                "version": version,
                "podFailurePolicy": reconciler.pod_failure_policy,
                "backoffLimitPerIndex": reconciler.per_index,
            },
        )

    # ------------------------------------------------------------ indexes (watch-fed caches)
    # kopf passes each index to every handler as a keyword argument named by its id.

    @kopf.index(*JOBS, labels=MANAGED, registry=registry, id="driftwarden_jobs")
    def driftwarden_jobs(body: kopf.Body, **_: Any) -> dict[str, Any]:
        uid = monitor_uid(body)
        return {uid: slim_job(body)} if uid else {}

    @kopf.index(*JOBS, labels=ANALYSIS, registry=registry, id="unfinished_analysis_jobs")
    def unfinished_analysis_jobs(body: kopf.Body, **_: Any) -> dict[str, Any]:
        if is_finished(body):
            return {}  # an empty mapping drops the Job's entry (None would keep the old one)
        # With the pods it runs at once: the concurrency cap counts pods (a scan Job's shards).
        return {ACTIVE: (body.metadata.namespace, body.metadata.name, pod_slots(body))}

    @kopf.index(*PODS, labels=MANAGED, registry=registry, id="driftwarden_pods")
    def driftwarden_pods(body: kopf.Body, **_: Any) -> dict[str, Any]:
        uid = monitor_uid(body)
        return {uid: slim_pod(body)} if uid else {}

    @kopf.index(*monitors, registry=registry, id="monitors_by_uid")
    def monitors_by_uid(body: kopf.Body, **_: Any) -> dict[str, Any]:
        return {body.metadata.uid: body}

    # ------------------------------------------------------------ monitors

    @kopf.on.event(*monitors, registry=registry)
    async def monitor_event(event: kopf.RawEvent, body: kopf.Body, **kwargs: Any) -> None:
        tick_from_here(kwargs)
        view = ClusterView.from_kwargs(kwargs)
        if event.get("type") == "DELETED":
            uid = str(body.metadata.uid)
            reconciler.forget(str(body.metadata.namespace), str(body.metadata.name), uid)
            # The Jobs go with their owner (garbage collection); their results are not needed.
            for job in view.jobs_of(uid):
                await reconciler.release_orphan(job, "jobs", view)
            for pod in view.pods_of(uid):
                await reconciler.release_orphan(pod, "pods", view)
            return
        await reconciler.reconcile(body, view)

    if ticker is None:

        @kopf.timer(*monitors, interval=config.tick_seconds, sharp=False, registry=registry)
        async def monitor_tick(body: kopf.Body, **kwargs: Any) -> None:
            await reconciler.reconcile(body, ClusterView.from_kwargs(kwargs))

    else:

        @kopf.on.cleanup(registry=registry)
        async def stop_ticker(**_: Any) -> None:
            await ticker.stop()

    # ------------------------------------------------------------ Jobs and pods of monitors

    async def owned_changed(event: kopf.RawEvent, body: kopf.Body, kind: str, kwargs: Any) -> None:
        tick_from_here(kwargs)
        view = ClusterView.from_kwargs(kwargs)
        if event.get("type") == "DELETED":
            return
        if await reconciler.release_orphan(body, kind, view):
            return
        uid = monitor_uid(body)
        owner = view.monitor(uid) if uid else None
        # The initial listing is covered by each monitor's own first event.
        if owner is not None and event.get("type") is not None:
            # A Job or pod of this monitor changed (finished, failed, stuck): act now, not
            # at the next tick, so a finished run is recorded within seconds.
            await reconciler.reconcile(owner, view)

    @kopf.on.event(*JOBS, labels=MANAGED, registry=registry)
    async def job_event(event: kopf.RawEvent, body: kopf.Body, **kwargs: Any) -> None:
        await owned_changed(event, body, "jobs", kwargs)

    @kopf.on.event(*PODS, labels=MANAGED, registry=registry)
    async def pod_event(event: kopf.RawEvent, body: kopf.Body, **kwargs: Any) -> None:
        await owned_changed(event, body, "pods", kwargs)
