"""What a finished analysis Job says: its Job status and its pod's termination message.

``driftwarden analyze`` writes a compact JSON summary to ``/dev/termination-log``
(see :mod:`driftwarden.report.summary`) and exits with

====  =====================================================
0     the run completed (drifted or not)
1     anything else (a bug, an unexpected error)
2     bad configuration (the spec or flags)
3     data errors (missing path, empty window, unreadable files, schema)
4     storage errors (unreachable, access denied)
====  =====================================================

On error the summary file holds ``{"v": 1, "error": {"reason": ..., "message": ...}}``.
Kubernetes keeps at most 4096 bytes of a termination message; with
``terminationMessagePolicy: FallbackToLogsOnError`` a container that wrote none
gets the tail of its log instead. Everything read here is treated as untrusted:
whatever it holds, the result is a :class:`RunOutcome`, never an exception.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from driftwarden.monitor.multivariate import MultivariateOutcome, multivariate_outcome
from driftwarden.monitor.times import parse_time
from driftwarden.report.performance_summary import performance_status, performance_text
from driftwarden.report.rootcause_summary import root_cause_status, root_cause_text

ANALYSIS_CONTAINER = "analyze"
SLOT_ANNOTATION = "driftwarden.io/slot"
# A sharded run's scan Job and its pods (monitor/shards.py): analysis by component, so the
# watch and the cap see them, but no run of their own and no place in the history limits.
LABEL_PHASE = "driftwarden.io/phase"
PHASE_SCAN = "scan"
MAX_MESSAGE = 512
SUMMARY_VERSION = 1
# A summary is a few levels deep; anything deeper is not one. Checked before json.loads,
# whose recursion would otherwise raise RecursionError on a message of 4,096 brackets.
MAX_SUMMARY_DEPTH = 32
# spec.model: 16 predictions and a target at most.
MAX_MODEL_COLUMNS = 17
RESULT_LOST = "ResultLost"
OUT_OF_MEMORY = "OutOfMemory"
UNSCHEDULABLE = "Unschedulable"
POD_CREATION_FAILED = "PodCreationFailed"
JOB_NOT_STARTING = "JobNotStarting"

SUCCEEDED = "Succeeded"
FAILED = "Failed"

_REASON = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
EXIT_REASONS = {1: "AnalysisError", 2: "InvalidSpec", 3: "DataError", 4: "StorageUnavailable"}
# Waiting reasons of a container that will not get better by waiting.
STUCK_REASONS = frozenset(
    {
        "CreateContainerConfigError",
        "CreateContainerError",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CrashLoopBackOff",
    }
)
_JOB_FAILURE_MESSAGES = {
    "DeadlineExceeded": "the analysis did not finish within spec.job.activeDeadlineSeconds",
    "BackoffLimitExceeded": "the analysis pod failed more often than spec.job.backoffLimit allows",
    "PodFailurePolicy": "the analysis failed in a way retrying cannot fix",
}


@dataclass(frozen=True)
class FeatureResult:
    """One feature's verdict, as in the summary and ``status.features``."""

    name: str
    kind: str
    method: str
    score: float | None
    threshold: float | None
    drifted: bool
    p_value: float | None = None  # of p-value methods, which it judges (score is the statistic)

    def to_status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


@dataclass(frozen=True)
class ModelColumnResult:
    """One prediction or target column's verdict, as in the summary and ``status.model.predictions``."""

    name: str
    role: str  # prediction | target
    method: str
    score: float | None
    threshold: float | None
    drifted: bool
    p_value: float | None = None

    def to_status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


@dataclass(frozen=True)
class PredictionsResult:
    """Prediction and target drift of a run (``summary.predictions``; spec.model)."""

    drifted: bool  # a prediction or the target drifted
    prediction_drifted: bool
    target_drifted: bool | None  # None: the target was not compared
    retrain: bool  # spec.model.retrainOnPredictionDrift, as the run saw it
    columns: tuple[ModelColumnResult, ...] = ()
    truncated: int = 0

    @property
    def drifted_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.drifted)

    def to_status(self) -> dict[str, Any]:
        """``status.model.predictions``: the verdicts and the columns (at most 17, bounded)."""
        return {
            "drifted": self.drifted,
            "predictionDrifted": self.prediction_drifted,
            "targetDrifted": self.target_drifted,
            "driftedColumns": sum(1 for c in self.columns if c.drifted),
            "columns": [c.to_status() for c in self.columns[:MAX_MODEL_COLUMNS]],
        }


def predictions_result(value: Any) -> PredictionsResult | None:
    """The summary's ``predictions`` as a :class:`PredictionsResult`; None when absent or unreadable."""
    if not isinstance(value, Mapping) or not isinstance(value.get("drifted"), bool):
        return None
    columns = []
    raw = value.get("columns")
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        columns.append(
            ModelColumnResult(
                name=_bounded(item["name"], 128),
                role="target" if item.get("role") == "target" else "prediction",
                method=_bounded(str(item.get("method") or ""), 32),
                score=_float(item.get("score")),
                threshold=_float(item.get("threshold")),
                drifted=item.get("drifted") is True,
                p_value=_float(item.get("pValue")),
            )
        )
    target = value.get("targetDrifted")
    return PredictionsResult(
        drifted=value["drifted"],
        prediction_drifted=value.get("predictionDrifted") is True,
        target_drifted=target if isinstance(target, bool) else None,
        retrain=value.get("retrain") is True,
        columns=tuple(columns[:MAX_MODEL_COLUMNS]),
        truncated=_count(value.get("truncated")) or 0,
    )


def predictions_text(result: PredictionsResult) -> str:
    """One phrase on prediction and target drift, e.g. ``prediction drift: churn_score``."""
    names = result.drifted_names
    if not result.drifted:
        return "no prediction drift"
    shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
    what = (
        "prediction and target drift"
        if result.prediction_drifted and result.target_drifted
        else "target drift"
        if result.target_drifted
        else "prediction drift"
    )
    return f"{what}: {shown}" if shown else what


@dataclass(frozen=True)
class RunReference:
    """Which reference a run used, as its summary reports it (``summary.reference``)."""

    source: str  # spec | rolling | offset | promoted
    path: str | None = None  # redacted by the analysis
    fingerprint: str | None = None
    window_start: str | None = None
    window_end: str | None = None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def run_reference(value: Any) -> RunReference | None:
    """The summary's ``reference`` as a :class:`RunReference`; None when absent or unreadable."""
    if not isinstance(value, Mapping) or not isinstance(value.get("source"), str):
        return None
    raw_window = value.get("window")
    window: Mapping[str, Any] = raw_window if isinstance(raw_window, Mapping) else {}
    return RunReference(
        source=_bounded(value["source"], 32),
        path=_text(value.get("uri"), 1024),
        fingerprint=_text(value.get("fingerprint"), 64),
        window_start=_text(window.get("start"), 40),
        window_end=_text(window.get("end"), 40),
    )


@dataclass(frozen=True)
class RunOutcome:
    """The result of one finished analysis Job.

    ``outcome`` is ``Succeeded`` only when the Job completed *and* its summary
    could be read. ``reason`` is CamelCase and machine-readable (``Succeeded``,
    ``DeadlineExceeded``, ``DataNotFound``, ``InvalidSummary`` …); ``message``
    is one bounded line for people.
    """

    job: str
    outcome: str
    reason: str
    message: str
    slot: datetime | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    drifted: bool = False
    drift_share: float | None = None
    drifted_features: int | None = None
    total_features: int | None = None
    rows_reference: int | None = None
    rows_current: int | None = None
    report: str | None = None
    features: tuple[FeatureResult, ...] = ()
    truncated: int = 0
    errors: tuple[str, ...] = ()
    exit_code: int | None = None
    duration_seconds: float | None = None
    reference: RunReference | None = None
    # The run's trend page (history.html), failed runs included, when the Job wrote one.
    history: str | None = None
    # Prediction and target drift (spec.model), None when the run compared no model column.
    predictions: PredictionsResult | None = None
    # status.model.rootCause (report/rootcause_summary.py); None without spec.model's root cause
    root_cause: Mapping[str, Any] | None = None
    # status.model.performance (report/performance_summary.py); None without spec.model's labels
    performance: Mapping[str, Any] | None = None
    # spec.model.multivariate's verdict (monitor/multivariate.py); None without the detector.
    multivariate: MultivariateOutcome | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome == SUCCEEDED

    @property
    def drifted_names(self) -> tuple[str, ...]:
        """Names of the drifted features listed in the summary (it may be truncated)."""
        return tuple(f.name for f in self.features if f.drifted)


# ---------------------------------------------------------------- Job and pod status


def _condition(job: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def job_state(job: Mapping[str, Any]) -> str | None:
    """``Succeeded``, ``Failed``, or None while the Job is still running.

    The terminal ``Complete``/``Failed`` conditions decide; a status with a
    success count but no conditions (old or minimal API servers) counts as done,
    except for a sharded run's scan Job, where it means some shards only.
    """
    if _condition(job, "Complete") is not None:
        return SUCCEEDED
    if _condition(job, "Failed") is not None:
        return FAILED
    if ((job.get("metadata") or {}).get("labels") or {}).get(LABEL_PHASE) == PHASE_SCAN:
        # A sharded run's Indexed scan Job: a success count is some shards, not all.
        return None
    status = job.get("status") or {}
    if (
        isinstance(status.get("succeeded"), int)
        and status["succeeded"] >= 1
        and not status.get("active")
    ):
        return SUCCEEDED
    return None


def is_finished(job: Mapping[str, Any]) -> bool:
    """True once the Job succeeded or failed for good."""
    return job_state(job) is not None


def job_slot(job: Mapping[str, Any]) -> datetime | None:
    """The schedule slot a Job ran for, from its ``driftwarden.io/slot`` annotation."""
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    return parse_time(annotations.get(SLOT_ANNOTATION))


def _container_status(pod: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not pod:
        return None
    statuses = [
        s
        for s in (pod.get("status") or {}).get("containerStatuses") or []
        if isinstance(s, Mapping)
    ]
    for status in statuses:
        if status.get("name") == ANALYSIS_CONTAINER:
            return status
    return statuses[0] if statuses else None


def _terminated(pod: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    status = _container_status(pod)
    if status is None:
        return None
    for key in ("state", "lastState"):
        terminated = (status.get(key) or {}).get("terminated")
        if isinstance(terminated, Mapping):
            return terminated
    return None


def pick_pod(pods: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The pod whose termination message tells the Job's result: the last one to finish.

    A Job with retries has several pods; prefer the one that succeeded, then the
    most recently finished (or created).
    """

    def key(pod: Mapping[str, Any]) -> tuple[int, str, str]:
        terminated = _terminated(pod) or {}
        succeeded = (pod.get("status") or {}).get("phase") == "Succeeded"
        finished = str(terminated.get("finishedAt") or "")
        created = str((pod.get("metadata") or {}).get("creationTimestamp") or "")
        return (1 if succeeded else 0, finished, created)

    candidates = [p for p in pods if isinstance(p, Mapping)]
    return max(candidates, key=key) if candidates else None


def pod_lags_job(job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> bool:
    """True while the watched pods lag a succeeded Job: wait for them before reading the result.

    Jobs and pods arrive through two watches with no ordering between them, so the
    Job's ``Complete`` condition can be seen before the pod update that shows its
    terminated container and termination message. The Job controller marks a Job
    complete only once a pod's phase is Succeeded, and the kubelet writes the phase
    and the container states in one update: that update is on its way. So while the
    Job succeeded, no cached pod shows success yet (phase Succeeded, or a container
    terminated with exit code 0), and some pod has still not finished (no terminated
    container, phase neither Succeeded nor Failed), the pod cache lags the Job.

    Never True for a failed Job (its pods may never report: a lost node), nor once
    no pod is left unfinished (nothing more will come: the result is read as it is).
    """
    if job_state(job) != SUCCEEDED:
        return False
    cached = [p for p in pods if isinstance(p, Mapping)]

    def phase(pod: Mapping[str, Any]) -> Any:
        return (pod.get("status") or {}).get("phase")

    def succeeded(pod: Mapping[str, Any]) -> bool:
        terminated = _terminated(pod)
        return phase(pod) == SUCCEEDED or (
            terminated is not None and terminated.get("exitCode") == 0
        )

    def unfinished(pod: Mapping[str, Any]) -> bool:
        return _terminated(pod) is None and phase(pod) not in (SUCCEEDED, FAILED)

    return not any(succeeded(p) for p in cached) and any(unfinished(p) for p in cached)


def stuck_reason(pod: Mapping[str, Any] | None) -> str | None:
    """Why a running Job's pod cannot start (missing Secret, image pull …), or None.

    A pod waiting on ``CreateContainerConfigError`` (say, the storage Secret is
    missing) never fails by itself: the Job just runs into its deadline. The
    controller shows this early, as a message on the Ready condition and an Event.
    """
    status = _container_status(pod)
    if status is None:
        return None
    waiting = (status.get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason")
    if reason in STUCK_REASONS:
        return _bounded(f"{reason}: {waiting.get('message') or 'no message'}")
    return None


def newest_pod(pods: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The most recently created pod: the one whose trouble is current (not an older retry's)."""
    candidates = [p for p in pods if isinstance(p, Mapping)]

    def key(pod: Mapping[str, Any]) -> tuple[str, str]:
        meta = pod.get("metadata") or {}
        return (str(meta.get("creationTimestamp") or ""), str(meta.get("name") or ""))

    return max(candidates, key=key) if candidates else None


def pod_problem(pod: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """``(reason, message)`` when a pod cannot run: not schedulable, or its container cannot start.

    ``Unschedulable`` comes with the scheduler's message from the ``PodScheduled``
    condition (insufficient resources, taints, node selectors); a container stuck
    waiting (missing Secret, image pull error) is ``JobNotStarting``.
    """
    if not pod or (pod.get("status") or {}).get("phase") not in (None, "Pending", "Running"):
        return None
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if (
            isinstance(cond, Mapping)
            and cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            return UNSCHEDULABLE, _bounded(
                f"the pod cannot be scheduled: {cond.get('message') or 'no message'}"
            )
    stuck = stuck_reason(pod)
    return (JOB_NOT_STARTING, stuck) if stuck else None


def outcome_from_pods(
    job_name: str, slot: datetime | None, pods: Iterable[Mapping[str, Any]]
) -> RunOutcome | None:
    """The outcome of a run whose Job is gone, from the pods it left (held by the result finalizer).

    A pod that succeeded means the run completed; otherwise the newest finished pod
    tells why the run failed. None while no pod has finished.
    """
    finished = [
        p
        for p in pods
        if isinstance(p, Mapping) and (p.get("status") or {}).get("phase") in (SUCCEEDED, FAILED)
    ]
    if not finished:
        return None
    succeeded = any((p.get("status") or {}).get("phase") == SUCCEEDED for p in finished)
    state = "Complete" if succeeded else "Failed"
    stand_in = {
        "metadata": {
            "name": job_name,
            "annotations": {SLOT_ANNOTATION: slot.isoformat()} if slot else {},
        },
        "status": {"conditions": [{"type": state, "status": "True", "reason": "PodFailed"}]},
    }
    return outcome_from_job(stand_in, pick_pod(finished))


def result_lost(job_name: str, slot: datetime | None, now: datetime) -> RunOutcome:
    """A run whose Job and pods vanished before the operator read them: failed, never re-run."""
    return RunOutcome(
        job=job_name,
        outcome=FAILED,
        reason=RESULT_LOST,
        message=(
            f"analysis Job {job_name} and its pods were deleted before the operator recorded "
            "the result (was the driftwarden.io/result finalizer removed by hand?); "
            "the slot is not run again: the next slot runs on schedule"
        ),
        slot=slot,
        completion_time=now,
    )


# ---------------------------------------------------------------- summary


def _bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message_line(raw: str) -> str:
    """One line for people from a message that is not a summary.

    With FallbackToLogsOnError the message is the tail of the log, where the last
    line says what went wrong (a traceback ends with the exception) and the first
    may be cut in the middle; JSON log records give their ``message``.
    """
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    try:
        record = json.loads(line)
    except ValueError:
        return _bounded(line)
    if isinstance(record, Mapping):
        for key in ("message", "msg", "error"):
            if isinstance(record.get(key), str) and record[key]:
                return _bounded(record[key])
    return _bounded(line)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        value = float(value)
    except OverflowError:  # an int beyond float range, e.g. 1 followed by 400 zeros
        return None
    return value if math.isfinite(value) else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _features(value: Any) -> tuple[FeatureResult, ...]:
    out = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        out.append(
            FeatureResult(
                name=item["name"],
                kind=str(item.get("kind") or ""),
                method=str(item.get("method") or ""),
                score=_float(item.get("score")),
                threshold=_float(item.get("threshold")),
                drifted=item.get("drifted") is True,
                p_value=_float(item.get("pValue")),
            )
        )
    return tuple(out)


def _nesting_depth(text: str) -> int:
    """The deepest nesting of JSON arrays/objects in ``text`` (brackets inside strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def json_object(text: str) -> Mapping[str, Any] | None:
    """An untrusted message (a termination message) as a JSON object; None when it is not one."""
    if _nesting_depth(text) > MAX_SUMMARY_DEPTH:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, Mapping) else None


def _decode(text: str) -> tuple[Mapping[str, Any] | None, str | None]:
    """``(summary, None)``, or ``(None, why)`` when ``text`` is not a summary.

    ``why`` is None when the text is not even meant as one (a log tail, a
    traceback): the message itself then says more than a parse error would.
    The report layer's :func:`~driftwarden.report.summary.parse_summary` does the
    checking where it is installed.
    """
    if _nesting_depth(text) > MAX_SUMMARY_DEPTH:
        return None, f"the termination message nests deeper than {MAX_SUMMARY_DEPTH} levels"
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(data, Mapping) or "v" not in data:
        return None, None
    parse_summary: Callable[[str], Any] | None
    try:
        from driftwarden.report.summary import parse_summary as checker
    except ImportError:  # the report layer is optional for this module
        parse_summary = None
    else:
        parse_summary = checker
    if parse_summary is not None:
        try:
            checked = parse_summary(text)
        except Exception as exc:  # any refusal means "not a summary"
            return None, str(exc)
        return (checked if isinstance(checked, Mapping) else data), None
    if data.get("v") != SUMMARY_VERSION:
        return (
            None,
            f"the drift summary has version {data.get('v')!r}; this operator reads {SUMMARY_VERSION}",
        )
    if "error" not in data and not isinstance(data.get("drifted"), bool):
        return None, "the drift summary has no drifted verdict"
    return data, None


def _error_text(error: Any) -> str:
    """One per-feature error of a summary (``{code, message, feature}`` or text) as a line."""
    if isinstance(error, Mapping):
        message = str(error.get("message") or error.get("code") or "")
        feature = error.get("feature")
        return f"{feature}: {message}" if feature else message
    return str(error)


def outcome_from_summary(
    job_name: str,
    summary: Mapping[str, Any],
    *,
    succeeded: bool = True,
    exit_code: int | None = 0,
    slot: datetime | None = None,
    start_time: datetime | None = None,
    completion_time: datetime | None = None,
) -> RunOutcome:
    """A RunOutcome from an already decoded summary dict (the shape of report.summary)."""
    common: dict[str, Any] = {
        "job": job_name,
        "slot": slot,
        "start_time": start_time,
        "completion_time": completion_time,
        "exit_code": exit_code,
        "duration_seconds": _float(summary.get("durationSeconds")),
        "history": summary.get("history") if isinstance(summary.get("history"), str) else None,
    }
    error = summary.get("error")
    if error is not None:
        error = error if isinstance(error, Mapping) else {"message": str(error)}
        reason = error.get("reason")
        if not isinstance(reason, str) or not _REASON.match(reason):
            reason = EXIT_REASONS.get(exit_code or 1, "AnalysisError")
        return RunOutcome(
            outcome=FAILED,
            reason=reason,
            message=_bounded(str(error.get("message") or "the analysis failed without a message")),
            **common,
        )
    if not succeeded:
        return RunOutcome(
            outcome=FAILED,
            reason=EXIT_REASONS.get(exit_code or 1, "AnalysisError"),
            message="the analysis wrote a result but its Job failed",
            **common,
        )
    raw_rows = summary.get("rows")
    rows: Mapping[str, Any] = raw_rows if isinstance(raw_rows, Mapping) else {}
    features = _features(summary.get("features"))
    drifted_count = _count(summary.get("driftedFeatures"))
    total = _count(summary.get("totalFeatures"))
    share = _float(summary.get("driftShare"))
    drifted = summary.get("drifted") is True
    report = summary.get("report") if isinstance(summary.get("report"), str) else None
    listed_errors = summary.get("errors")
    raw_errors = listed_errors if isinstance(listed_errors, list) else []
    errors = tuple(_bounded(_error_text(e), 256) for e in raw_errors if e)[:20]
    verdict = "drift detected" if drifted else "no drift"
    message = f"{verdict}: {drifted_count if drifted_count is not None else '?'} of {total if total is not None else '?'} features drifted"
    if share is not None:
        message += f" (share {share:.2f})"
    predictions = predictions_result(summary.get("predictions"))
    if predictions is not None:
        message += "; " + predictions_text(predictions)
    performance = performance_status(summary.get("performance"))
    if (measured := performance_text(performance)) is not None:
        message += "; " + measured
    root_cause = root_cause_status(summary.get("rootCause"))
    if (cause := root_cause_text(root_cause)) is not None:
        message += "; " + cause
    joint = multivariate_outcome(summary.get("multivariate"))
    if joint is not None and (joint.drifted or joint.skipped):
        message += f"; {joint.text()}"
    if errors:
        message += f"; {len(errors)} feature(s) could not be compared"
    return RunOutcome(
        outcome=SUCCEEDED,
        reason=SUCCEEDED,
        message=message,
        drifted=drifted,
        drift_share=share,
        drifted_features=drifted_count,
        total_features=total,
        rows_reference=_count(rows.get("reference")),
        rows_current=_count(rows.get("current")),
        report=report,
        features=features,
        truncated=_count(summary.get("truncated")) or 0,
        errors=errors,
        reference=run_reference(summary.get("reference")),
        predictions=predictions,
        root_cause=root_cause,
        performance=performance,
        multivariate=joint,
        **common,
    )


def outcome_from_job(job: Mapping[str, Any], pod: Mapping[str, Any] | None) -> RunOutcome:
    """The outcome of a finished analysis Job, from its status and (if still there) its pod.

    Raises ValueError when the Job has not finished (see :func:`is_finished`).
    A Job that succeeded but left no readable summary is a Failed run
    (``InvalidSummary``); a failed Job's reason is the summary's error reason,
    else the exit code's meaning, else the Job condition's reason
    (``DeadlineExceeded``, ``BackoffLimitExceeded`` …).
    """
    state = job_state(job)
    if state is None:
        raise ValueError("the Job has not finished")
    meta = job.get("metadata") or {}
    status = job.get("status") or {}
    name = str(meta.get("name") or "")
    failed_condition = _condition(job, "Failed") or {}
    complete_condition = _condition(job, "Complete") or {}
    completion = parse_time(
        status.get("completionTime")
        or complete_condition.get("lastTransitionTime")
        or failed_condition.get("lastTransitionTime")
    )
    terminated = _terminated(pod) or {}
    exit_code = terminated.get("exitCode") if isinstance(terminated.get("exitCode"), int) else None
    raw_message = terminated.get("message")
    raw: str = raw_message if isinstance(raw_message, str) else ""
    times: dict[str, Any] = {
        "slot": job_slot(job),
        "start_time": parse_time(status.get("startTime")),
        "completion_time": completion or parse_time(terminated.get("finishedAt")),
    }
    summary, problem = _decode(raw.strip()) if raw.strip() else (None, None)
    if summary is not None:
        return outcome_from_summary(
            name, summary, succeeded=state == SUCCEEDED, exit_code=exit_code, **times
        )
    if state == SUCCEEDED:
        detail = problem or (_message_line(raw) if raw.strip() else "no termination message")
        return RunOutcome(
            job=name,
            outcome=FAILED,
            reason="InvalidSummary",
            message=_bounded(f"the analysis Job completed without a readable summary: {detail}"),
            exit_code=exit_code,
            **times,
        )
    job_reason = failed_condition.get("reason")
    if terminated.get("reason") == "OOMKilled":
        return RunOutcome(
            job=name,
            outcome=FAILED,
            reason=OUT_OF_MEMORY,
            message=_bounded(
                "the analysis container was killed for using more memory than its limit "
                "(OOMKilled); raise spec.job.resources.limits.memory (and requests.memory), "
                "or narrow the window or the features analysed"
            ),
            exit_code=exit_code,
            **times,
        )
    if exit_code in EXIT_REASONS and job_reason not in ("DeadlineExceeded",):
        reason = EXIT_REASONS[exit_code]
    elif isinstance(job_reason, str) and job_reason:
        reason = job_reason
    else:
        reason = "JobFailed"
    detail = _message_line(raw) if raw.strip() else ""
    if not detail:
        detail = str(failed_condition.get("message") or "") or _JOB_FAILURE_MESSAGES.get(
            reason, "the analysis Job failed"
        )
    if reason in _JOB_FAILURE_MESSAGES and _JOB_FAILURE_MESSAGES[reason] not in detail:
        detail = f"{_JOB_FAILURE_MESSAGES[reason]}: {detail}"
    if exit_code is not None and exit_code != 0:
        detail = f"{detail} (exit code {exit_code})"
    return RunOutcome(
        job=name,
        outcome=FAILED,
        reason=reason,
        message=_bounded(detail),
        exit_code=exit_code,
        **times,
    )
