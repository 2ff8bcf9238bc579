"""One reconciliation of one DriftMonitor: observe, decide (pure ``monitor`` functions), act.

Every trigger — the monitor's timer, a change of it, a Job or pod of it changing —
ends here, under a per-monitor lock. What the cluster holds is read from kopf's
watch-fed indexes (:mod:`~driftwarden.controller.cache`), never listed per tick, and
the monitor is the body kopf hands the handler, never fetched: a tick on which
nothing changed makes no API request at all. What has been done is read back from
the cluster each time, so a restarted operator picks up exactly where the last one
stopped:

* analysis Job names are deterministic per slot, so creating one that exists is a no-op;
* a finished run is recorded once: ``is_new_outcome`` compares it with ``status.lastRun``;
* analysis Jobs and their pods carry the ``driftwarden.io/result`` finalizer until
  their run is in the status, so TTLs and pod GC cannot lose a result; a run named in
  ``status.currentRun`` whose Job and pods vanished anyway ends as ``ResultLost``
  (never re-run);
* retraining Jobs are recorded from the cluster: one that exists but is not named in
  ``status.lastRetraining`` is recorded (Event, counter) on the next pass, so a failed
  status write loses nothing;
* the status is written with the body's resourceVersion as a precondition, and
  Events and counters follow only a successful write: a decision taken on a stale
  copy is dropped (409) and taken again from the fresh one the watch delivers;
* a Job's start (``AnalysisStarted``, a sharded run's ``ShardsMerging``) is announced by
  the write that first shows it (``status.currentRun.phase``, or its run recorded), not
  by its create: a pass whose write conflicted finds the Job existing, and the next
  write announces it instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

import kopf
from kubernetes.client.exceptions import ApiException

from driftwarden.controller.admission import admit_analysis, admit_retraining
from driftwarden.controller.cache import ClusterView, monitor_uid, slim_job
from driftwarden.controller.config import OperatorConfig
from driftwarden.controller.kube import KubeApi, Refusal, refusal
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
    suspended_status,
)
from driftwarden.monitor.backoff import POLICY_CAP, may_attempt, record_failure
from driftwarden.monitor.creation import (
    newest_failed_create,
    owned_pods,
    pods_counted,
    reported_stuck,
    stuck_creating,
)
from driftwarden.monitor.debounce import Step, pending_message
from driftwarden.monitor.job import (
    COMPONENT_ANALYSIS,
    COMPONENT_RETRAINING,
    RESULT_FINALIZER,
    latest_retraining,
)
from driftwarden.monitor.model_status import prediction_events, prediction_pending
from driftwarden.monitor.multivariate import MULTIVARIATE_DRIFT
from driftwarden.monitor.outcome import (
    FAILED,
    SLOT_ANNOTATION,
    SUCCEEDED,
    job_state,
    newest_pod,
    outcome_from_pods,
    pod_lags_job,
    pod_problem,
    result_lost,
)
from driftwarden.monitor.performance_status import performance_events, performance_pending
from driftwarden.monitor.policy import POLICY_VIOLATION, blocked_status
from driftwarden.monitor.reference import (
    Promotion,
    config_reference,
    decide_promotion,
    with_reference,
)
from driftwarden.monitor.retraining import (
    COOLDOWN,
    REJECTED,
    RetrainingRecord,
    newest_retraining_job,
    retraining_trouble,
    unrecorded_retraining,
)
from driftwarden.monitor.retraining import (
    START as RETRAINING_START,
)
from driftwarden.monitor.runs import (
    Run,
    component_of,
    group_runs,
    is_settled,
    metadata_of,
    name_of,
    pods_of_job,
)
from driftwarden.monitor.shards import (
    ANNOTATION_SHARDS,
    is_scan,
    last_scanned_bytes,
    last_shard_total,
    merge_job,
    newly_started,
    pod_slots,
    run_of,
    scan_failed,
    scan_job,
    shard_count,
    shard_progress,
    shards_of,
    status_with_shards,
)
from driftwarden.monitor.spec import Monitor
from driftwarden.monitor.status import (
    READY,
    RETRAINING_TRIGGERED,
    Problem,
    drift_step,
    get_condition,
    unconfirmed_drift,
)
from driftwarden.monitor.times import parse_time

log = logging.getLogger("driftwarden.controller")


@dataclass
class Event:
    """A Kubernetes Event to post on the monitor."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Pass:
    """What one reconciliation found and decided, gathered for the status write."""

    events: list[Event] = field(default_factory=list)
    after_write: list[Callable[[], None]] = field(default_factory=list)
    outcome: RunOutcome | None = None
    record: RetrainingRecord | None = None
    retraining_problem: Problem | None = None
    job_creation: dict[str, Any] | None = None
    blocked: dict[str, str] = field(default_factory=dict)  # condition → why the Job policy refused
    promotion: Promotion | None = None  # a succeeded retraining Job moved the reference
    # Why some shard pods of a scan Job cannot be created while its others run (quota).
    refused: str | None = None


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def status_patch(previous: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch that sets each field of ``status`` on ``previous`` to exactly it.

    A merge patch keeps every key it does not name, so an object field (``currentRun``,
    ``lastRun``, their ``shards``, ...) whose new value lacks a key the stored one has
    would keep that key: a sharded run's ``shards`` stayed on the unsharded run that
    followed it, and the status read back never matched the one computed, so every pass
    wrote it again. Such keys are sent as null (removed). Top-level fields ``status`` does
    not name are left alone: they are not the operator's (kopf's, say).
    """
    patch: dict[str, Any] = {}
    for key, value in status.items():
        old = previous.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            patch[key] = {
                **{stale: None for stale in old if stale not in value},
                **status_patch(old, value),
            }
        else:
            patch[key] = value
    return patch


def merge_patched(target: Any, patch: Any) -> Any:
    """``target`` after the JSON merge patch ``patch`` (RFC 7386), as the API server applies
    it: a null removes its key, an object merges key by key, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patched(result.get(key), value)
    return result


def _ready_message(status: Mapping[str, Any] | None) -> str | None:
    condition = get_condition((status or {}).get("conditions"), READY)
    return None if condition is None else condition.get("message")


class _Unasked:
    """The answer of a question not asked this pass (the Events are read once a tick)."""


UNASKED = _Unasked()


def _stuck_episode(status: Mapping[str, Any]) -> tuple[Any, Any]:
    """Ready's reason and the run in progress: ``AnalysisStuck`` is said once per run and
    reason, not once per message (a quota's names each refused pod, a new one each retry)."""
    current = status.get("currentRun")
    run = current.get("job") if isinstance(current, Mapping) else None
    condition = get_condition(status.get("conditions"), READY)
    return (None if condition is None else condition.get("reason")), run


def _condition_message(status: Mapping[str, Any] | None, kind: str) -> str | None:
    condition = get_condition((status or {}).get("conditions"), kind)
    return None if condition is None else condition.get("message")


def outcome_events(outcome: RunOutcome, step: Step | None = None) -> list[Event]:
    """The Events that tell people how a run ended; ``step`` is what it did to the debounced
    verdict (spec.alerting): a drift not confirmed yet, or a clean run that does not end a
    Drifted state yet, is a Normal ``DriftPending`` / ``RecoveryPending`` Event, not a Warning."""
    if not outcome.succeeded:
        return [
            Event(
                "Warning", "AnalysisFailed", f"analysis Job {outcome.job} failed: {outcome.message}"
            )
        ]
    share = "?" if outcome.drift_share is None else f"{outcome.drift_share:.2f}"
    counts = f"{outcome.drifted_features}/{outcome.total_features} features drifted (share {share})"
    pending = None if step is None else pending_message(step)
    if step is not None and not step.confirmed and (outcome.drifted or pending):
        reason = "RecoveryPending" if step.after.drifted else "DriftPending"
        return [Event("Normal", reason, f"{counts}; {pending or unconfirmed_drift(step)}")]
    if outcome.drifted:
        names = ", ".join(f.name for f in outcome.features if f.drifted)
        return [
            Event(
                "Warning",
                "DriftDetected",
                f"{counts}: {names}; report {outcome.report or 'not written'}",
            ),
            *multivariate_events(outcome),
        ]
    return [Event("Normal", "NoDrift", f"{counts}; dataset below its drift share")]


def multivariate_events(outcome: RunOutcome) -> list[Event]:
    """A Warning ``MultivariateDrift`` when the joint detector drifted the run: the features
    move together differently, even where none of them drifts alone."""
    joint = outcome.multivariate
    if joint is None or not joint.drifted:
        return []
    return [
        Event(
            "Warning",
            MULTIVARIATE_DRIFT,
            f"{joint.text()} in run {outcome.job} ({joint.features} features, KS statistic "
            f"{'?' if joint.statistic is None else f'{joint.statistic:.3g}'}); "
            f"report {outcome.report or 'not written'}",
        )
    ]


def promotion_events(promotion: Promotion | None) -> list[Event]:
    """The Event that tells people the reference moved after retraining (or why it did not)."""
    if promotion is None:
        return []
    if not promotion.promoted:
        return [Event("Warning", "ReferencePromotionFailed", promotion.message)]
    return [
        Event(
            "Normal",
            "ReferencePromoted",
            f"retraining Job {promotion.job} succeeded: the reference is now "
            f"{promotion.path} ({promotion.message})",
        )
    ]


def _started(job: Mapping[str, Any]) -> tuple[str, str]:
    """The reason and message of the Event that says an analysis, scan or merge Job started."""
    slot = metadata_of(job).get("annotations", {}).get(SLOT_ANNOTATION)
    if is_scan(job):
        return (
            "AnalysisStarted",
            f"scan Job {name_of(job)} created for slot {slot}: {shards_of(job)} shard pods "
            f"profile the window, then run {run_of(job)} merges them",
        )
    if ANNOTATION_SHARDS in (metadata_of(job).get("annotations") or {}):
        return (
            "ShardsMerging",
            f"analysis Job {name_of(job)} created for slot {slot}: it merges "
            f"{shards_of(job)} shard profiles into the report",
        )
    return "AnalysisStarted", f"analysis Job {name_of(job)} created for slot {slot}"


PASSES_AT_ONCE = 8  # concurrent reconciliations (see Reconciler.__init__)


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
        # Sent only to API servers that keep it (1.26+); read from /version at startup.
        self.pod_failure_policy = True
        # backoffLimitPerIndex for sharded runs' scan Jobs (1.29+); read from /version too.
        self.per_index = True
        self._locks: dict[str, asyncio.Lock] = {}
        # At most this many passes at once. A restart or a fresh apply of 1,000 monitors
        # starts 1,000 passes together; unbounded, their requests, responses and Events in
        # flight at the same moment leave the allocator's arenas fragmented (tens of MiB
        # that are never returned). The per-object waits are cheap parked coroutines.
        self._passes = asyncio.Semaphore(PASSES_AT_ONCE)
        self.passes = 0  # reconciliations finished (tests wait for ticks with it)
        # Jobs this process created that the watch has not delivered yet (monitor uid →
        # name → Job): counted against the cap and seen by the next pass meanwhile.
        self._created: dict[str, dict[str, dict[str, Any]]] = {}
        # Creates sent but not answered yet, counted against the cap before the await.
        self._in_flight = 0
        # When each Job without pods was last asked for its FailedCreate Events.
        self._events_checked: dict[tuple[str, str], datetime] = {}
        # Finalizer removals and deletes already sent, by (kind, namespace, name, resourceVersion):
        # until the watch shows the change, the next pass must not send them again.
        self._sent: set[tuple[str, str, str, str]] = set()
        # (resourceVersion a status write started from, the body it produced): a handler
        # still holding the older body reconciles from the newer one instead.
        self._written: dict[str, tuple[str, Mapping[str, Any]]] = {}

    # ---------------------------------------------------------------- concurrency cap

    def active_jobs(self, view: ClusterView) -> int:
        """Pods of unfinished analysis Jobs (watch) + of ones created but not yet watched + of
        creates in flight: a sharded run's scan Job counts its shards (the cap counts pods)."""
        counted = view.unfinished()
        for uid, jobs in self._created.items():
            watched = {name_of(j) for j in view.jobs_of(uid)}
            for name, job in jobs.items():
                if name not in watched and component_of(job) == COMPONENT_ANALYSIS:
                    key = (str(metadata_of(job).get("namespace") or ""), name)
                    counted.setdefault(key, pod_slots(job))
        return sum(counted.values()) + self._in_flight

    def _jobs(self, uid: str, view: ClusterView) -> list[dict[str, Any]]:
        """The monitor's Jobs: the watched ones, plus its creates the watch has not shown yet."""
        watched = {name_of(j): j for j in view.jobs_of(uid)}
        created = self._created.get(uid)
        if created:
            for name in [n for n in created if n in watched]:
                del created[name]  # the watch has it now and stays authoritative
            if not created:
                self._created.pop(uid, None)
        return [*watched.values(), *(created or {}).values()]

    # ---------------------------------------------------------------- entry points

    async def reconcile(self, body: Mapping[str, Any], view: ClusterView) -> None:
        """Bring one monitor's Jobs and status up to date, from the body kopf handed over."""
        uid = str(metadata_of(body).get("uid") or "")
        lock = self._locks.setdefault(uid, asyncio.Lock())
        async with lock:
            if metadata_of(body).get("deletionTimestamp"):
                return
            written = self._written.get(uid)
            if written is not None:
                if written[0] == metadata_of(body).get("resourceVersion"):
                    body = written[1]  # our own write is newer than what the handler holds
                else:
                    self._written.pop(uid, None)
            try:
                async with self._passes:
                    await self._reconcile(dict(body), view)
                self.passes += 1
            except ApiException as error:
                if error.status != 409:
                    raise
                # The monitor changed under us: the watch delivers the new version, which
                # triggers another pass. Nothing was announced for the dropped decision.
                log.debug("status write conflicted; the next event reconciles again")

    def forget(self, namespace: str, name: str, uid: str) -> None:
        """Drop what is kept for a deleted monitor."""
        self._locks.pop(uid, None)
        self._created.pop(uid, None)
        self._written.pop(uid, None)
        self.metrics.forget(namespace, name)

    async def release_orphan(self, obj: Mapping[str, Any], kind: str, view: ClusterView) -> bool:
        """Remove the result finalizer from a Job or pod whose monitor is gone; True if it did."""
        if RESULT_FINALIZER not in (metadata_of(obj).get("finalizers") or []):
            return False
        uid = monitor_uid(obj)
        owner = view.monitor(uid) if uid else None
        if owner is not None and not metadata_of(owner).get("deletionTimestamp"):
            return False
        await self._unfinalize(kind, obj)
        return True

    # ---------------------------------------------------------------- the steps

    async def _reconcile(self, body: dict[str, Any], view: ClusterView) -> None:
        meta = body["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], str(meta.get("uid") or "")
        previous: dict[str, Any] = dict(body.get("status") or {})
        now = self.clock()
        try:
            monitor = parse_monitor(body)
        except ConfigError as error:
            status = invalid_spec_status(int(meta.get("generation") or 0), previous, error, now)
            events: list[Event] = (
                []
                if _ready_message(previous) == str(error)
                else [Event("Warning", "InvalidSpec", str(error))]
            )
            await self._apply(body, previous, status, Pass(events=events))
            return

        jobs = self._jobs(uid, view)
        pods = view.pods_of(uid)
        runs = group_runs(jobs, pods)
        work = Pass(job_creation=previous.get("jobCreation"))

        newest = max(runs.values(), key=Run.order) if runs else None
        # A Job seen Complete before its pod's final update (two watches, no ordering) is
        # still in flight: its result is read when the pod's event arrives, meanwhile it
        # stays status.currentRun (ResultLost still guards it) and no next slot starts.
        lagging = (
            newest is not None and newest.job is not None and pod_lags_job(newest.job, newest.pods)
        )
        running = (
            newest.job
            if newest
            and newest.job
            and (
                lagging
                or (
                    not is_finished(newest.job)
                    and not metadata_of(newest.job).get("deletionTimestamp")
                )
            )
            else None
        )
        candidate = self._finished_outcome(newest, previous, runs, now)
        if candidate is not None and is_new_outcome(previous, candidate):
            work.outcome = candidate
            step = drift_step(monitor, previous, candidate)
            await self._maybe_retrain(monitor, candidate, previous, now, work, step)
            outcome = candidate
            work.after_write.append(lambda: self.metrics.observe_outcome(namespace, name, outcome))
            work.events[:0] = (
                outcome_events(candidate, step)
                + [Event(*event) for event in prediction_events(candidate, previous, monitor)]
                + [Event(*event) for event in performance_events(candidate, previous, monitor)]
            )
        self._record_retraining(monitor, jobs, pods, previous, work)
        retrained = newest_retraining_job(jobs)
        work.promotion = decide_promotion(
            monitor,
            retrained,
            pods_of_job(pods, name_of(retrained)) if retrained is not None else [],
            previous.get("lastPromotion"),
            now,
        )
        work.events.extend(promotion_events(work.promotion))

        problem: Problem | None = None
        if running is not None and newest is not None:
            problem = pod_problem(newest_pod(newest.pods))
            if problem is None and not newest.pods:
                problem = await self._stuck_creating(running, newest.name, previous)
        if newest is not None and newest.scanning and work.outcome is None and candidate is None:
            running, problem = await self._scanning(monitor, newest, previous, now, view, work)
        if running is None and not monitor.suspend:
            running = await self._maybe_start(monitor, previous, runs, now, view, work)

        status = compute_status(
            monitor,
            previous,
            work.outcome,
            now,
            running,
            work.record,
            current_problem=problem,
            job_creation=work.job_creation,
            retraining_problem=work.retraining_problem,
        )
        if monitor.suspend:
            status = suspended_status(monitor, status, now)
        status = blocked_status(status, work.blocked, now, monitor.generation)
        status = self._with_shards(status, runs, newest, work.outcome, work.refused)
        refused = ((status.get("currentRun") or {}).get("shards") or {}).get("refused")
        if refused and not ((previous.get("currentRun") or {}).get("shards") or {}).get("refused"):
            # Once per episode, not per refused pod: the run goes on, slower (posted after
            # the status write, as every Event of a pass).
            work.events.append(Event("Warning", "ShardPodsRefused", str(refused)))
        status = with_reference(monitor, previous, status, work.outcome, work.promotion, now)
        if problem and _stuck_episode(previous) != _stuck_episode(status):
            work.events.append(Event("Warning", "AnalysisStuck", f"{problem[0]}: {problem[1]}"))
        if work.retraining_problem and _condition_message(
            previous, RETRAINING_TRIGGERED
        ) != _condition_message(status, RETRAINING_TRIGGERED):
            work.events.append(
                Event("Warning", work.retraining_problem[0], work.retraining_problem[1])
            )
        self._announce(monitor, previous, status, self._jobs(uid, view), work)
        written = await self._apply(body, previous, status, work)
        await self._release_settled(runs, written)
        await self._clean_history(monitor, jobs)
        self._observe_schedule(monitor, now)

    def _finished_outcome(
        self,
        newest: Run | None,
        previous: Mapping[str, Any],
        runs: Mapping[str, Run],
        now: datetime,
    ) -> RunOutcome | None:
        """The outcome of the newest run if it finished, from its Job or (Job gone) its pods.

        The run in flight per ``status.currentRun`` that left nothing behind is lost.
        """
        current = (
            previous.get("currentRun") if isinstance(previous.get("currentRun"), Mapping) else None
        )
        last = previous.get("lastRun") if isinstance(previous.get("lastRun"), Mapping) else {}
        if (
            current
            and current.get("job")
            and current.get("job") not in runs
            and current.get("job") != (last or {}).get("job")
        ):
            return result_lost(str(current["job"]), parse_time(current.get("slot")), now)
        if newest is None:
            return None
        if newest.scanning:
            return self._scan_outcome(newest, now)
        if newest.job is None and newest.scan is None and newest.scan_pods and not newest.pods:
            # Only shard pods are left: the scan Job was deleted before the merge started
            # (they go with it). Lost, as a deleted analysis Job's run; without this the
            # status let go of the run and its slot ran again.
            return result_lost(newest.name, newest.slot, now)
        if newest.job is not None:
            if is_finished(newest.job):
                if pod_lags_job(newest.job, newest.pods):
                    return None  # the pod's own watch event triggers the pass that records it
                return outcome_from_job(newest.job, pick_pod(newest.pods))
            if not metadata_of(newest.job).get("deletionTimestamp"):
                return None
            # Deleted before it finished (by hand): what its pods say, else lost.
            return outcome_from_pods(newest.name, newest.slot, newest.pods) or result_lost(
                newest.name, newest.slot, now
            )
        return outcome_from_pods(newest.name, newest.slot, newest.pods)

    @staticmethod
    def _scan_outcome(run: Run, now: datetime) -> RunOutcome | None:
        """A sharded run still scanning ends here only if its scan Job failed (or was
        deleted unfinished); a scan that succeeded goes on to the merge Job."""
        scan = run.scan
        assert scan is not None
        if job_state(scan) == FAILED:
            # The failed pod's final update may lag the Job's (two watches): its message
            # names the problem, so wait for it while the pods are there.
            if run.scan_pods and not any(
                (p.get("status") or {}).get("phase") == "Failed" for p in run.scan_pods
            ):
                return None
            return scan_failed(run.name, scan, run.scan_pods)
        if not is_finished(scan) and metadata_of(scan).get("deletionTimestamp"):
            return result_lost(run.name, run.slot, now)
        return None

    async def _refusal(
        self, job: Mapping[str, Any], *, since: datetime | None = None
    ) -> str | _Unasked | None:
        """Why the Job controller cannot create a Job's pods, from its newest FailedCreate
        Event (quota, service account, priority class, Pod Security admission …); None if it
        posted none (``since``: none seen after it).

        Asked only once the Job is a tick old, and then at most once a tick: a request for a
        problem, not a poll; :data:`UNASKED` when it was not asked (the caller keeps what
        it said last).
        """
        namespace, name = str(metadata_of(job).get("namespace") or ""), name_of(job)
        created = parse_time(metadata_of(job).get("creationTimestamp"))
        tick = timedelta(seconds=self.config.tick_seconds)
        now = datetime.now(
            UTC
        )  # compared with server timestamps: wall time, not the schedule clock
        if created is None or now - created < tick:
            return UNASKED
        last = self._events_checked.get((namespace, name))
        if last is not None and now - last < tick:
            return UNASKED
        self._events_checked[(namespace, name)] = now
        if len(self._events_checked) > 10_000:  # bounded: forget the oldest half
            for key in sorted(self._events_checked, key=self._events_checked.__getitem__)[:5_000]:
                del self._events_checked[key]
        try:
            events = await self.api.job_events(namespace, name)
        except ApiException as error:
            log.warning("cannot read the Job's Events", extra={"job": name, "code": error.status})
            return UNASKED
        newest = newest_failed_create(events, job, since)
        return None if newest is None else str(newest.get("message"))

    async def _has_pods_now(self, job: Mapping[str, Any]) -> bool | None:
        """True when the API server holds a pod of the Job, read after its Events: the
        watch that showed none may lag them (a pod is stored before a later refusal is
        posted). None when the read failed: nothing learnt, the last answer stands."""
        namespace, uid = str(metadata_of(job).get("namespace") or ""), metadata_of(job).get("uid")
        if not uid:
            return False
        try:
            pods = await self.api.job_pods(namespace, str(uid))
        except ApiException as error:
            log.warning(
                "cannot read the Job's pods", extra={"job": name_of(job), "code": error.status}
            )
            return None
        return bool(owned_pods(pods, job))

    async def _stuck_creating(
        self, job: Mapping[str, Any], run: str, previous: Mapping[str, Any]
    ) -> Problem | None:
        """``PodCreationFailed`` when a Job the watch shows without pods made none: its status
        counts none, it has a FailedCreate Event and the API server holds none of its pods
        (:mod:`~driftwarden.monitor.creation`). Between reads of the Events the last
        answer for ``run`` stands."""
        if pods_counted(job):
            return None
        refusal = await self._refusal(job)
        if isinstance(refusal, _Unasked):
            return reported_stuck(previous, run)
        if refusal is None:
            return None
        made = await self._has_pods_now(job)
        if made is None:
            return reported_stuck(previous, run)
        return None if made else stuck_creating(refusal)

    async def _scanning(
        self,
        monitor: Monitor,
        run: Run,
        previous: Mapping[str, Any],
        now: datetime,
        view: ClusterView,
        work: Pass,
    ) -> tuple[dict[str, Any] | None, Problem | None]:
        """A sharded run in its scan phase: start the merge once every shard succeeded.

        Returns the Job that stands for the run in ``status.currentRun`` (the merge Job,
        else the scan Job under the run's name) and why its pods cannot start, if so.
        """
        scan = run.scan
        assert scan is not None and run.slot is not None
        # A refused merge create waits out its backoff (status.jobCreation), as a start does.
        if job_state(scan) == SUCCEEDED and may_attempt(work.job_creation, monitor.generation, now):
            merge = await self._create(
                monitor,
                merge_job(
                    monitor,
                    run.slot,
                    self.config.image,
                    shards_of(scan),
                    **self._analysis_options(monitor, previous, view, work),
                ),
                previous,
                now,
                view,
                work,
            )
            if merge is not None:
                return merge, None
        problem = pod_problem(newest_pod(run.scan_pods))
        if problem is None and not is_finished(scan):
            problem, work.refused = await self._unmade_shards(run, previous)
        as_run = {"metadata": {**metadata_of(scan), "name": run.name}, "status": scan.get("status")}
        return as_run, problem

    async def _unmade_shards(
        self, run: Run, previous: Mapping[str, Any]
    ) -> tuple[Problem | None, str | None]:
        """A scan Job with fewer live pods than it wants, and FailedCreate Events: stuck
        (``PodCreationFailed``, as :meth:`_stuck_creating`) when it made no pod at all;
        otherwise the shard pods a quota refuses while the others run (admitting k of N):
        the run goes on, N/k times slower, so it is said (``currentRun.shards.refused``).

        Only refusals after the newest pod's creation count. One read of the Events serves
        both; between reads (once a tick) the previous pass's answers for this run stand, so
        the status does not flicker.
        """
        scan = run.scan
        assert scan is not None
        progress = shard_progress(scan, run.scan_pods)
        # completions = parallelism = shards: every index not done yet wants a pod.
        wanted = progress["total"] - progress["succeeded"]
        live = [
            p
            for p in run.scan_pods
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not metadata_of(p).get("deletionTimestamp")
        ]
        if len(live) >= wanted:
            return None, None
        unmade = not run.scan_pods and not pods_counted(scan)  # as far as the watch shows
        current = previous.get("currentRun")
        before = None
        if isinstance(current, Mapping) and current.get("job") == run.name:
            before = (current.get("shards") or {}).get("refused")
        created = [parse_time(metadata_of(p).get("creationTimestamp")) for p in run.scan_pods]
        since = max((t for t in created if t is not None), default=None)
        refusal = await self._refusal(scan, since=since)
        if isinstance(refusal, _Unasked):
            stuck = reported_stuck(previous, run.name) if unmade else None
            return stuck, None if stuck else (str(before) if before else None)
        if refusal is None:
            return None, None
        if unmade:
            made = await self._has_pods_now(scan)
            if made is False:
                return stuck_creating(refusal), None
            # The watches lag the Events and a pod is there (or the read failed): nothing new
            # is said until they show it (the progress would read 0 active beside "the
            # others run").
            kept = reported_stuck(previous, run.name) if made is None else None
            return kept, str(before) if before else None
        return None, (
            "the Job controller cannot create some shard pods while the others run: " + refusal
        )

    @staticmethod
    def _with_shards(
        status: Mapping[str, Any],
        runs: Mapping[str, Run],
        newest: Run | None,
        outcome: RunOutcome | None,
        refused: str | None = None,
    ) -> dict[str, Any]:
        """Shard progress on ``status.currentRun`` (with ``refused``, why some of its shard
        pods cannot be created) and on a ``lastRun`` recorded now."""
        current = status.get("currentRun")
        progress = None
        if (
            newest is not None
            and newest.scan is not None
            and isinstance(current, Mapping)
            and current.get("job") == newest.name
        ):
            progress = shard_progress(newest.scan, newest.scan_pods)
            if refused:
                progress["refused"] = refused
        final = None
        recorded = runs.get(outcome.job) if outcome is not None else None
        if recorded is not None and recorded.scan is not None:
            final = shard_progress(recorded.scan, recorded.scan_pods, final=True)
        return status_with_shards(status, progress, final)

    async def _maybe_retrain(
        self,
        monitor: Monitor,
        outcome: RunOutcome,
        previous: Mapping[str, Any],
        now: datetime,
        work: Pass,
        step: Step,
    ) -> None:
        decision = decide_retraining(
            monitor,
            outcome,
            previous.get("lastRetraining"),
            now,
            unconfirmed=unconfirmed_drift(step),
            predictions_pending=prediction_pending(monitor, previous, outcome),
            performance_pending=performance_pending(monitor, previous, outcome),
        )
        if decision.reason == COOLDOWN:
            work.events.append(Event("Normal", "RetrainingSkipped", decision.message))
        if not decision.start:
            return
        manifest, violation = await admit_retraining(
            self.api,
            self.config,
            outcome.job,
            retraining_job(
                monitor,
                outcome,
                now,
                None if decision.reason == RETRAINING_START else decision.reason,
            ),
        )
        if violation:  # the run is recorded as usual; the next drifted run tries again
            work.blocked[RETRAINING_TRIGGERED] = violation
            work.events.append(Event("Warning", POLICY_VIOLATION, violation))
            return
        try:
            job, _ = await self.api.create_job(monitor.namespace, manifest)
        except ApiException as error:
            if error.status is None or error.status >= 500 or error.status == 429:
                raise  # the API server is in trouble: kopf retries the handler
            refused = refusal(error)
            self.metrics.job_create_failures.labels(COMPONENT_RETRAINING, refused.reason).inc()
            work.retraining_problem = (
                REJECTED,
                f"the API server refused retraining Job {name_of(manifest)} for run {outcome.job} "
                f"({refused.code} {refused.reason}): {refused.message}",
            )
            return
        self._remember(monitor.uid, job)

    def _record_retraining(
        self,
        monitor: Monitor,
        jobs: list[dict[str, Any]],
        pods: list[dict[str, Any]],
        previous: Mapping[str, Any],
        work: Pass,
    ) -> None:
        """Record a retraining Job the cluster holds but the status does not name yet, and
        report trouble of the newest one (pods refused or unschedulable, the Job failed)."""
        newest = newest_retraining_job(jobs)
        last = previous.get("lastRetraining")
        record = unrecorded_retraining(
            newest, last if isinstance(last, Mapping) else None, self.clock()
        )
        if record is not None:
            work.record = record
            work.events.append(
                Event(
                    "Normal",
                    "RetrainingStarted",
                    f"retraining Job {record.job} created (the API server accepted it): "
                    f"{record.message}",
                )
            )
            ns, name = monitor.namespace, monitor.name
            work.after_write.append(lambda: self.metrics.retraining.labels(ns, name).inc())
        if work.retraining_problem is None and newest is not None:
            work.retraining_problem = retraining_trouble(newest, pods_of_job(pods, name_of(newest)))

    async def _maybe_start(
        self,
        monitor: Monitor,
        previous: Mapping[str, Any],
        runs: Mapping[str, Run],
        now: datetime,
        view: ClusterView,
        work: Pass,
    ) -> dict[str, Any] | None:
        started = [
            s for s in (last_slot(previous), *(r.slot for r in runs.values())) if s is not None
        ]
        slot = latest_due_slot(monitor.schedule, now, max(started) if started else None)
        if slot is None:
            return None
        if not may_attempt(work.job_creation, monitor.generation, now):
            return None  # a refused create waits out its backoff (status.jobCreation)
        if not monitor.job.sharded:
            manifest = analysis_job(
                monitor,
                slot,
                self.config.image,
                **self._analysis_options(monitor, previous, view, work),
            )
            return await self._create(monitor, manifest, previous, now, view, work)
        count = shard_count(
            monitor.job.parallelism,
            last_scanned_bytes(previous),
            self.config.max_concurrent_jobs,
            last_total=last_shard_total(previous),
        )
        manifest = scan_job(
            monitor,
            slot,
            self.config.image,
            count,
            per_index=self.per_index,
            # The merge's reference (a promoted one too): the pods look its profile up.
            **self._analysis_options(monitor, previous, view, work),
        )
        job = await self._create(monitor, manifest, previous, now, view, work)
        if job is None:
            return None
        # The run is named by its merge Job (status.currentRun), which comes once the shards did.
        return {"metadata": {**metadata_of(job), "name": run_of(job)}, "status": job.get("status")}

    def _analysis_options(
        self,
        monitor: Monitor,
        previous: Mapping[str, Any],
        view: ClusterView,
        work: Pass,
    ) -> dict[str, Any]:
        """The options of a run's analysis Job: the reference it reads and the last retraining."""
        return {
            "pod_failure_policy": self.pod_failure_policy,
            "reference": config_reference(
                monitor,
                work.promotion.to_status()
                if work.promotion is not None
                else previous.get("lastPromotion"),
            ),
            "last_retraining": latest_retraining(
                self._jobs(monitor.uid, view), previous.get("lastRetraining")
            ),
        }

    async def _create(
        self,
        monitor: Monitor,
        built: dict[str, Any],
        previous: Mapping[str, Any],
        now: datetime,
        view: ClusterView,
        work: Pass,
    ) -> dict[str, Any] | None:
        """Admit and create an analysis, scan or merge Job within the cap (counted in pods);
        the created (or existing) Job, or None when capped, blocked or refused."""
        slots = pod_slots(built)
        if self._capped(monitor, view, slots):
            return None
        manifest, violation = await admit_analysis(self.api, self.config, monitor, built)
        if violation:
            # Backed off like a refused create: a blocked monitor must not read its
            # Namespace on every tick (1,000 of them would be a request storm).
            earlier = previous.get("jobCreation")
            work.job_creation = record_failure(
                earlier if isinstance(earlier, Mapping) else None,
                job=name_of(manifest),
                code=None,
                reason=POLICY_VIOLATION,
                message=violation,
                generation=monitor.generation,
                now=now,
                cap=POLICY_CAP,
            )
            # Ready=False PolicyViolation comes from the record (compute_status).
            if not (isinstance(earlier, Mapping) and earlier.get("message") == violation):
                work.events.append(
                    Event("Warning", POLICY_VIOLATION, violation)
                )  # once per problem
            return None
        # Checked again after the await above, and reserved before the create is awaited:
        # no other pass can take the same place.
        if self._capped(monitor, view, slots):
            return None
        self._in_flight += slots
        try:
            job, _ = await self.api.create_job(monitor.namespace, manifest)
        except ApiException as error:
            if error.status is None or error.status >= 500 or error.status == 429:
                raise  # the API server is in trouble, not the Job: kopf retries the handler
            self._refused(monitor, manifest, refusal(error), previous, now, work)
            return None
        finally:
            self._in_flight -= slots
        self._remember(monitor.uid, job)
        work.job_creation = None
        # Its start Event and counter come from the status write that shows it (_announce).
        return job

    def _announce(
        self,
        monitor: Monitor,
        previous: Mapping[str, Any],
        status: Mapping[str, Any],
        jobs: list[dict[str, Any]],
        work: Pass,
    ) -> None:
        """Start Events and counters for the Jobs this status write shows first: the Job
        created now, or one whose write conflicted (409) on an earlier pass, whose
        announcement would otherwise be lost (creating it again finds it existing)."""
        started = newly_started(previous, status, jobs)
        work.events[:0] = [Event("Normal", *_started(job)) for job in started]
        ns, name = monitor.namespace, monitor.name
        for _ in started:
            work.after_write.append(lambda: self.metrics.jobs_started.labels(ns, name).inc())

    def _capped(self, monitor: Monitor, view: ClusterView, pods: int = 1) -> bool:
        """True when ``pods`` more analysis pods would exceed --max-concurrent-jobs (unfinished
        analysis Jobs' pods and ones being created)."""
        if self.active_jobs(view) + pods <= self.config.max_concurrent_jobs:
            return False
        log.info(
            "analysis slot due but the concurrency cap is reached; waiting",
            extra={
                "monitor": f"{monitor.namespace}/{monitor.name}",
                "cap": self.config.max_concurrent_jobs,
            },
        )
        return True

    def _refused(
        self,
        monitor: Monitor,
        manifest: Mapping[str, Any],
        refused: Refusal,
        previous: Mapping[str, Any],
        now: datetime,
        work: Pass,
    ) -> None:
        """A refused analysis Job: backoff in the status, a metric, one Warning per new problem."""
        before = (
            previous.get("jobCreation")
            if isinstance(previous.get("jobCreation"), Mapping)
            else None
        )
        work.job_creation = record_failure(
            before,
            job=name_of(manifest),
            code=refused.code,
            reason=refused.reason,
            message=refused.message,
            generation=monitor.generation,
            now=now,
        )
        self.metrics.job_create_failures.labels(COMPONENT_ANALYSIS, refused.reason).inc()
        if before is None or before.get("message") != refused.message:
            work.events.append(
                Event(
                    "Warning",
                    "JobRejected",
                    f"the API server refused analysis Job {name_of(manifest)} "
                    f"({refused.code} {refused.reason}): {refused.message}",
                )
            )

    def _remember(self, uid: str, job: Mapping[str, Any]) -> None:
        self._created.setdefault(uid, {})[name_of(job)] = slim_job(job)

    async def _apply(
        self,
        body: Mapping[str, Any],
        previous: Mapping[str, Any],
        status: Mapping[str, Any],
        work: Pass,
    ) -> Mapping[str, Any]:
        """Write the status if it changed (conditional on the body's resourceVersion), then
        announce: Events and counters only for a decision that was written."""
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        patch = status_patch(previous, status)
        # What the server will hold: written only when that differs from what it holds now
        # (a value of None and a key left out are the same there).
        merged: dict[str, Any] = merge_patched(previous, patch)
        if not _same(merged, dict(previous)):
            rv = meta.get("resourceVersion")
            written = await self.api.patch_monitor_status(namespace, name, patch, rv)
            if written is not None and rv:
                self._written[str(meta.get("uid") or "")] = (str(rv), written)
        self.metrics.observe_status(namespace, name, merged)
        for announce in work.after_write:
            announce()
        for event in work.events:
            log.info(
                event.message, extra={"monitor": f"{namespace}/{name}", "reason": event.reason}
            )
            kopf.event(
                cast(kopf.Body, dict(body)),
                type=event.type,
                reason=event.reason,
                message=event.message[:1000],
            )
        return merged

    async def _release_settled(self, runs: Mapping[str, Run], status: Mapping[str, Any]) -> None:
        """Remove the result finalizer from Jobs and pods whose run the status records."""
        for run in runs.values():
            if not is_settled(run.name, run.slot, status):
                continue
            for kind, obj in [("jobs", run.job), *(("pods", p) for p in run.pods)]:
                if obj is not None and RESULT_FINALIZER in (
                    metadata_of(obj).get("finalizers") or []
                ):
                    await self._unfinalize(kind, obj)

    async def _unfinalize(self, kind: str, obj: Mapping[str, Any]) -> None:
        namespace, name = str(metadata_of(obj).get("namespace")), name_of(obj)
        await self._send_once(
            "unfinalize-" + kind,
            obj,
            lambda: self.api.remove_finalizer(kind, namespace, name, RESULT_FINALIZER),
        )

    async def _send_once(
        self, action: str, obj: Mapping[str, Any], send: Callable[[], Any]
    ) -> None:
        """Send a request for ``obj`` once per version of it; a failed one may be sent again."""
        if not self._once(action, obj):
            return
        try:
            await send()
        except BaseException:
            self._sent.discard(self._key(action, obj))
            raise

    @staticmethod
    def _key(action: str, obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
        meta = metadata_of(obj)
        return (action, str(meta.get("namespace")), name_of(obj), str(meta.get("resourceVersion")))

    def _once(self, action: str, obj: Mapping[str, Any]) -> bool:
        """True the first time ``action`` is asked for this version of ``obj``."""
        key = self._key(action, obj)
        if key in self._sent:
            return False
        if len(self._sent) > 50_000:  # versions the watch has long replaced
            self._sent.clear()
        self._sent.add(key)
        return True

    async def _clean_history(self, monitor: Monitor, jobs: list[dict[str, Any]]) -> None:
        doomed = [
            *jobs_to_delete(monitor, jobs),
            *jobs_to_delete(monitor, jobs, COMPONENT_RETRAINING),
        ]
        for job in jobs:
            if name_of(job) in doomed and not metadata_of(job).get("deletionTimestamp"):
                await self._send_once(
                    "delete", job, partial(self.api.delete_job, monitor.namespace, name_of(job))
                )

    def _observe_schedule(self, monitor: Monitor, now: datetime) -> None:
        first = next_slot(monitor.schedule, now)
        period = (next_slot(monitor.schedule, first) - first).total_seconds()
        self.metrics.observe_schedule_period(monitor.namespace, monitor.name, period)
