"""One reconciliation of one DriftMonitor: observe, decide (pure ``monitor`` functions), act.

Every trigger — the monitor's timer, a change of its spec, a Job of it finishing —
ends here, under a per-monitor lock, starting from a fresh read of the monitor. What
has been done is read back from the cluster each time (the Jobs that exist, the status
written), never remembered in memory, so a restarted operator picks up exactly where
the last one stopped:

* analysis Job names are deterministic per slot, so creating one that exists is a no-op;
* a finished Job is recorded once: ``is_new_outcome`` compares it with ``status.lastRun``;
* a retraining Job's name is deterministic per run, and ``status.lastRetraining.run``
  stops a second one for the same run.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from driftwarden.controller.admission import admit_analysis, admit_retraining
from driftwarden.controller.config import OperatorConfig
from driftwarden.controller.kube import KubeApi
from driftwarden.controller.metrics import Metrics
from driftwarden.errors import ConfigError
from driftwarden.monitor import (
    RunOutcome,
    analysis_job,
    compute_status,
    decide_retraining,
    invalid_spec_status,
    is_finished,
    is_new_outcome,
    jobs_to_delete,
    last_slot,
    latest_due_slot,
    next_slot,
    outcome_from_job,
    parse_monitor,
    pick_pod,
    retraining_job,
    retraining_record,
    stuck_reason,
    suspended_status,
)
from driftwarden.monitor.job import analysis_selector
from driftwarden.monitor.outcome import job_slot
from driftwarden.monitor.policy import POLICY_VIOLATION, blocked_status
from driftwarden.monitor.retraining import COOLDOWN, START
from driftwarden.monitor.spec import Monitor
from driftwarden.monitor.status import READY, RETRAINING_TRIGGERED, get_condition

log = logging.getLogger("driftwarden.controller")

MonitorKey = tuple[str, str]


@dataclass
class Event:
    """A Kubernetes Event to post on the monitor."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Observation:
    """What the cluster holds for one monitor at the start of a reconciliation."""

    jobs: list[dict[str, Any]]
    newest: dict[str, Any] | None = None
    running: dict[str, Any] | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _newest_job(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    def order(job: Mapping[str, Any]) -> tuple[datetime, str]:
        slot = job_slot(job) or datetime.min.replace(tzinfo=UTC)
        return slot, str((job.get("metadata") or {}).get("creationTimestamp") or "")

    return max(jobs, key=order) if jobs else None


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def outcome_events(outcome: RunOutcome) -> list[Event]:
    """The Events that tell people how a run ended."""
    if not outcome.succeeded:
        return [
            Event(
                "Warning", "AnalysisFailed", f"analysis Job {outcome.job} failed: {outcome.message}"
            )
        ]
    share = "?" if outcome.drift_share is None else f"{outcome.drift_share:.2f}"
    counts = f"{outcome.drifted_features}/{outcome.total_features} features drifted (share {share})"
    if outcome.drifted:
        names = ", ".join(f.name for f in outcome.features if f.drifted)
        return [
            Event(
                "Warning",
                "DriftDetected",
                f"{counts}: {names}; report {outcome.report or 'not written'}",
            )
        ]
    return [Event("Normal", "NoDrift", f"{counts}; dataset below its drift share")]


class Reconciler:
    """Reconciles monitors; shared by every kopf handler of one operator process."""

    def __init__(
        self,
        api: KubeApi,
        metrics: Metrics,
        config: OperatorConfig,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.metrics = metrics
        self.config = config
        self.clock = clock
        self._locks: dict[MonitorKey, asyncio.Lock] = {}
        # Analysis Jobs not yet finished, over all monitors, for max_concurrent_jobs.
        self.active_jobs: set[MonitorKey] = set()

    def track_job(self, job: Mapping[str, Any], deleted: bool = False) -> None:
        """Keep ``active_jobs`` current from the Job watch."""
        key = ((job.get("metadata") or {}).get("namespace") or "", _name(job))
        if deleted or is_finished(job):
            self.active_jobs.discard(key)
        else:
            self.active_jobs.add(key)

    async def reconcile(self, namespace: str, name: str) -> None:
        """Bring one monitor's Jobs and status up to date."""
        lock = self._locks.setdefault((namespace, name), asyncio.Lock())
        async with lock:
            body = await self.api.get_monitor(namespace, name)
            if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
                return
            await self._reconcile(body)

    def forget(self, namespace: str, name: str) -> None:
        """Drop what is kept for a deleted monitor."""
        self._locks.pop((namespace, name), None)
        self.metrics.forget(namespace, name)

    # ---------------------------------------------------------------- the steps

    async def _reconcile(self, body: dict[str, Any]) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        previous: dict[str, Any] = dict(body.get("status") or {})
        now = self.clock()
        try:
            monitor = parse_monitor(body)
        except ConfigError as error:
            status = invalid_spec_status(
                int(body["metadata"].get("generation") or 0), previous, error, now
            )
            events: list[Event] = (
                []
                if _ready_message(previous) == str(error)
                else [Event("Warning", "InvalidSpec", str(error))]
            )
            await self._apply(body, previous, status, events)
            return

        observed = await self._observe(monitor)
        events = []
        blocked: dict[str, str] = {}  # condition type -> why the Job policy refused a Job
        outcome: RunOutcome | None = None
        record = None
        newest = observed.newest
        if newest is not None and is_finished(newest):
            candidate = outcome_from_job(newest, pick_pod(observed.pods))
            if is_new_outcome(previous, candidate):
                outcome = candidate
                record = await self._maybe_retrain(monitor, outcome, previous, now, events, blocked)
                self.metrics.observe_outcome(namespace, name, outcome)
                events[:0] = outcome_events(outcome)

        running = observed.running
        problem = stuck_reason(pick_pod(observed.pods)) if running is not None else None
        if running is None and not monitor.suspend:
            running = await self._maybe_start(monitor, previous, observed, now, events, blocked)

        status = compute_status(
            monitor, previous, outcome, now, running, record, current_problem=problem
        )
        if monitor.suspend:
            status = suspended_status(monitor, status, now)
        status = blocked_status(status, blocked, now, monitor.generation)
        if problem and _ready_message(previous) != _ready_message(status):
            events.append(Event("Warning", "AnalysisStuck", problem))
        await self._apply(body, previous, status, events)
        await self._clean_history(monitor, observed.jobs)
        self._observe_schedule(monitor, now)

    async def _observe(self, monitor: Monitor) -> Observation:
        jobs = await self.api.list_jobs(monitor.namespace, analysis_selector(monitor))
        newest = _newest_job(jobs)
        observation = Observation(jobs=jobs, newest=newest)
        if newest is not None:
            if not is_finished(newest):
                observation.running = newest
            observation.pods = await self.api.list_pods(
                monitor.namespace, f"job-name={_name(newest)}"
            )
        return observation

    async def _maybe_retrain(
        self,
        monitor: Monitor,
        outcome: RunOutcome,
        previous: Mapping[str, Any],
        now: datetime,
        events: list[Event],
        blocked: dict[str, str],
    ) -> Any:
        decision = decide_retraining(monitor, outcome, previous.get("lastRetraining"), now)
        if decision.reason == COOLDOWN:
            events.append(Event("Normal", "RetrainingSkipped", decision.message))
        if decision.reason != START:
            return None
        manifest, refusal = await admit_retraining(
            self.api, self.config, outcome.job, retraining_job(monitor, outcome, now)
        )
        if refusal:  # the run is recorded as usual; the next drifted run tries again
            blocked[RETRAINING_TRIGGERED] = refusal
            events.append(Event("Warning", POLICY_VIOLATION, refusal))
            return None
        job, created = await self.api.create_job(monitor.namespace, manifest)
        if created:
            self.metrics.retraining.labels(monitor.namespace, monitor.name).inc()
            events.append(
                Event(
                    "Normal",
                    "RetrainingStarted",
                    f"retraining Job {_name(job)} started: {decision.message}",
                )
            )
        return retraining_record(job, outcome, decision, now)

    async def _maybe_start(
        self,
        monitor: Monitor,
        previous: Mapping[str, Any],
        observed: Observation,
        now: datetime,
        events: list[Event],
        blocked: dict[str, str],
    ) -> dict[str, Any] | None:
        started = [
            s for s in (last_slot(previous), *(job_slot(j) for j in observed.jobs)) if s is not None
        ]
        slot = latest_due_slot(monitor.schedule, now, max(started) if started else None)
        if slot is None:
            return None
        if len(self.active_jobs) >= self.config.max_concurrent_jobs:
            log.info(
                "analysis slot due but the concurrency cap is reached; waiting",
                extra={
                    "monitor": f"{monitor.namespace}/{monitor.name}",
                    "cap": self.config.max_concurrent_jobs,
                },
            )
            return None
        manifest, refusal = await admit_analysis(
            self.api, self.config, monitor, analysis_job(monitor, slot, self.config.image)
        )
        if refusal:
            blocked[READY] = refusal
            if _ready_message(previous) != refusal:  # one Event per distinct problem
                events.append(Event("Warning", POLICY_VIOLATION, refusal))
            return None
        job, created = await self.api.create_job(monitor.namespace, manifest)
        self.track_job(job)
        if created:
            self.metrics.jobs_started.labels(monitor.namespace, monitor.name).inc()
            events.append(
                Event(
                    "Normal",
                    "AnalysisStarted",
                    f"analysis Job {_name(job)} started for slot {slot.isoformat()}",
                )
            )
        return job

    async def _apply(
        self,
        body: Mapping[str, Any],
        previous: Mapping[str, Any],
        status: Mapping[str, Any],
        events: list[Event],
    ) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if not _same({k: previous.get(k) for k in status}, dict(status)):
            await self.api.patch_monitor_status(namespace, name, status)
        merged = {**previous, **{k: v for k, v in status.items() if v is not None}}
        self.metrics.observe_status(namespace, name, merged)
        for event in events:
            log.info(
                event.message, extra={"monitor": f"{namespace}/{name}", "reason": event.reason}
            )
            kopf.event(
                cast(kopf.Body, dict(body)),
                type=event.type,
                reason=event.reason,
                message=event.message[:1000],
            )

    async def _clean_history(self, monitor: Monitor, jobs: list[dict[str, Any]]) -> None:
        for job_name in jobs_to_delete(monitor, jobs):
            await self.api.delete_job(monitor.namespace, job_name)

    def _observe_schedule(self, monitor: Monitor, now: datetime) -> None:
        first = next_slot(monitor.schedule, now)
        period = (next_slot(monitor.schedule, first) - first).total_seconds()
        self.metrics.schedule_period.labels(monitor.namespace, monitor.name).set(period)


def _ready_message(status: Mapping[str, Any] | None) -> str | None:
    condition = get_condition((status or {}).get("conditions"), READY)
    return None if condition is None else condition.get("message")
