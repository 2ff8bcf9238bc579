"""Which reference a monitor's runs use, and its promotion after retraining: pure functions.

``status.reference`` is the reference in use: the one the last successful run used,
or, once a retraining Job succeeded and ``spec.retraining.promoteReference`` moved
the reference, the promoted one the next run will use. ``status.lastPromotion`` is
the record of the last retraining Job the operator promoted from (or tried to): a
Job is looked at once, so a restarted operator never promotes twice from one Job.

The promoted path lives in the status only (the operator never writes the spec and
never reads object storage): it reaches the analysis Job in the config the operator
passes (:func:`config_reference`, then ``driftwarden.monitor.job.monitor_config``).
A promotion holds while ``spec.reference`` stays as it was when it happened (its
hash is ``status.lastPromotion.basis``) and ``promoteReference`` stays set: a person
who edits the reference in the spec gets exactly what they wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from driftwarden.analysis import reference as modes
from driftwarden.analysis.settings import parse_path
from driftwarden.errors import ConfigError
from driftwarden.monitor.job import ANNOTATION_RUN_SLOT, ANNOTATION_TRIGGERED_BY
from driftwarden.monitor.outcome import (
    SUCCEEDED,
    RunOutcome,
    RunReference,
    job_state,
    json_object,
    pod_lags_job,
)
from driftwarden.monitor.runs import metadata_of, name_of
from driftwarden.monitor.spec import Monitor
from driftwarden.monitor.times import format_time, parse_time, utc

PROMOTED = "Promoted"
PROMOTION_FAILED = "PromotionFailed"
SHORT_FINGERPRINT = 12


@dataclass(frozen=True)
class Promotion:
    """The outcome of looking at one succeeded retraining Job: ``status.lastPromotion``.

    ``path`` is None when no promotion happened (``message`` says why).
    """

    job: str
    run: str
    time: datetime
    path: str | None
    basis: str
    message: str

    @property
    def promoted(self) -> bool:
        return self.path is not None

    def to_status(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "run": self.run,
            "time": format_time(self.time),
            "outcome": PROMOTED if self.promoted else PROMOTION_FAILED,
            "path": self.path,
            "basis": self.basis,
            "message": self.message,
        }


def spec_basis(monitor: Monitor) -> str:
    """A short hash of ``spec.reference`` as written: a promotion holds while it is unchanged."""
    text = json.dumps(monitor.spec.get("reference"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- promotion


def _reported_paths(pods: Iterable[Mapping[str, Any]]) -> list[Any]:
    """``reference.path`` values the succeeded pods' containers wrote as termination messages."""
    found = []
    for pod in pods:
        if (pod.get("status") or {}).get("phase") != SUCCEEDED:
            continue
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = ((status or {}).get("state") or {}).get("terminated") or {}
            message = terminated.get("message")
            document = json_object(message) if isinstance(message, str) else None
            if isinstance(document, Mapping) and modes.reported_path(document) is not None:
                found.append(modes.reported_path(document))
    return found


def _checked(path: Any, where: str) -> str:
    value = parse_path(path, where)
    if modes.has_credentials(value):
        raise ConfigError(
            f"{where}: the path holds credentials (user:password@)",
            hint="credentials come from spec.storage.secretRef, never from a path",
        )
    return value


def decide_promotion(
    monitor: Monitor,
    job: Mapping[str, Any] | None,
    pods: Iterable[Mapping[str, Any]],
    last_promotion: Any,
    now: datetime,
) -> Promotion | None:
    """What the newest retraining Job ``job`` (with its ``pods``) does to the reference.

    None while there is nothing to do: no ``promoteReference``, the Job has not
    succeeded (a failed Job never promotes), it was looked at already
    (``last_promotion``), or its pod's final status has not arrived yet. Otherwise a
    :class:`Promotion`: to the path the Job reported (``fromJob``) or, failing that,
    the rendered template; or a failed one whose message says why.
    """
    settings = monitor.retraining.promote if monitor.retraining else None
    if settings is None or job is None or job_state(job) != SUCCEEDED:
        return None
    name = name_of(job)
    if isinstance(last_promotion, Mapping) and last_promotion.get("job") == name:
        return None
    pods = list(pods)
    if settings.from_job and pod_lags_job(job, pods):
        return None  # the pod update with its termination message is on its way
    annotations = metadata_of(job).get("annotations") or {}
    run = str(annotations.get(ANNOTATION_TRIGGERED_BY) or "")
    status = job.get("status") or {}
    time = parse_time(status.get("completionTime")) or utc(now)
    slot = (
        parse_time(annotations.get(ANNOTATION_RUN_SLOT))
        or parse_time(annotations.get("driftwarden.io/triggered-at"))
        or time
    )
    basis = spec_basis(monitor)

    def failed(message: str) -> Promotion:
        return Promotion(name, run, time, None, basis, message)

    if settings.from_job:
        reported = _reported_paths(pods)
        if reported:
            try:
                path = _checked(reported[0], f"retraining Job {name}: reference.path")
            except ConfigError as error:
                return failed(f"{error}; the reference stays where it was")
            return Promotion(name, run, time, path, basis, f"reported by retraining Job {name}")
    if settings.path is None:
        return failed(
            f"retraining Job {name} succeeded but reported no reference path "
            '(write {"reference": {"path": "…"}} to its termination message, or set '
            "spec.retraining.promoteReference.path); the reference stays where it was"
        )
    rendered = modes.render_template(settings.path, slot, run=run, job=name)
    try:
        path = _checked(rendered, "spec.retraining.promoteReference.path")
    except ConfigError as error:
        return failed(f"{error}; the reference stays where it was")
    return Promotion(
        name,
        run,
        time,
        path,
        basis,
        f"spec.retraining.promoteReference.path for the slot {format_time(slot)}",
    )


def promotion_holds(monitor: Monitor, last_promotion: Any) -> bool:
    """True while the last promotion is in force: it moved the reference, ``promoteReference``
    is still set, and ``spec.reference`` is as it was then."""
    record = last_promotion if isinstance(last_promotion, Mapping) else {}
    return (
        record.get("outcome") == PROMOTED
        and isinstance(record.get("path"), str)
        and monitor.retraining is not None
        and monitor.retraining.promote is not None
        and record.get("basis") == spec_basis(monitor)
    )


def config_reference(monitor: Monitor, last_promotion: Any) -> dict[str, Any] | None:
    """The promoted reference to pass to the next analysis Job, or None (the spec's applies)."""
    if not promotion_holds(monitor, last_promotion):
        return None
    return {"source": modes.SOURCE_PROMOTED, "path": str(last_promotion["path"])}


# ---------------------------------------------------------------- status


def last_run_reference(reference: RunReference | None) -> dict[str, Any] | None:
    """``status.lastRun.reference``: compact, ``{source, fingerprint}`` (12 hex digits)."""
    if reference is None:
        return None
    return {
        "source": reference.source,
        "fingerprint": (reference.fingerprint or "")[:SHORT_FINGERPRINT] or None,
    }


def _matches(reported: str | None, full: str) -> bool:
    """True when ``reported`` is ``full`` or ``full`` shortened in the middle with "…"
    (the summary keeps both ends of a long URI)."""
    if reported is None:
        return False
    if reported == full:
        return True
    head, mark, tail = reported.partition("…")
    return (
        bool(mark)
        and len(full) > len(head) + len(tail)
        and full.startswith(head)
        and full.endswith(tail)
    )


def _full_path(reported: str | None, known: list[str]) -> str:
    """The full path behind a reported, possibly shortened, one: a path the operator knows."""
    for path in known:
        if _matches(reported, path):
            return path
    return reported or ""


def _from_run(reference: RunReference, outcome: RunOutcome, since: str) -> dict[str, Any]:
    window = None
    if reference.window_start or reference.window_end:
        window = {"start": reference.window_start, "end": reference.window_end}
    return {
        "source": reference.source,
        "path": modes.redact_uri(reference.path or ""),
        "window": window,
        "fingerprint": reference.fingerprint,
        "since": since,
        "run": outcome.job,
    }


def _spec_reference(monitor: Monitor) -> dict[str, Any]:
    """``status.reference`` naming what the spec declares, before a run has used it."""
    mode = monitor.run.reference_mode
    return {
        "source": modes.source_of_mode(mode),
        "path": modes.redact_uri(monitor.run.reference.path),
        "window": None,
        "fingerprint": None,
        "run": None,
    }


def reference_status(
    monitor: Monitor,
    previous: Mapping[str, Any] | None,
    last_promotion: Mapping[str, Any] | None,
    outcome: RunOutcome | None,
    now: datetime,
) -> dict[str, Any] | None:
    """``status.reference`` after this pass (None: leave the status without one).

    ``last_promotion`` is the promotion record after this pass. ``since`` is when this
    reference came into use: the promotion's time, else the completion of the first
    run that used it. A fixed reference is the same while its path and fingerprint
    are (a rewritten file starts a new one); a rolling or offset reference moves by
    design, so it stays the same while its source and path do.
    """
    prev = dict(previous) if isinstance(previous, Mapping) else None
    promoted = promotion_holds(monitor, last_promotion)
    record = last_promotion if isinstance(last_promotion, Mapping) else {}
    if promoted and not (
        prev
        and prev.get("source") == modes.SOURCE_PROMOTED
        and prev.get("path") == record.get("path")
    ):
        # Just promoted: in use from the promotion on; no run has read it yet.
        prev = {
            "source": modes.SOURCE_PROMOTED,
            "path": record.get("path"),
            "window": None,
            "fingerprint": None,
            "since": record.get("time"),
            "run": None,
        }
    elif not promoted and prev and prev.get("source") == modes.SOURCE_PROMOTED:
        # The promotion ended (spec.reference edited, promoteReference removed).
        prev = {**_spec_reference(monitor), "since": format_time(now)}
    used = outcome.reference if outcome is not None and outcome.succeeded else None
    if used is None or outcome is None:
        return prev
    if promoted and not (
        used.source == modes.SOURCE_PROMOTED and _matches(used.path, str(record.get("path")))
    ):
        return prev  # a run started before the promotion: lastRun.reference tells what it read
    known = [monitor.run.reference.path, monitor.run.current.path]
    if isinstance(record.get("path"), str):
        known.append(record["path"])
    used = replace(used, path=_full_path(used.path, [modes.redact_uri(p) for p in known]))
    fresh = _from_run(used, outcome, format_time(outcome.completion_time or now))
    same = (
        prev is not None
        and prev.get("source") == fresh["source"]
        and prev.get("path") == fresh["path"]
        and (
            fresh["source"] in (modes.ROLLING, modes.OFFSET)
            or prev.get("fingerprint") in (None, fresh["fingerprint"])
        )
    )
    if same and prev is not None and prev.get("since"):
        fresh["since"] = prev["since"]
    return fresh


def with_reference(
    monitor: Monitor,
    previous_status: Mapping[str, Any] | None,
    status: Mapping[str, Any],
    outcome: RunOutcome | None,
    promotion: Promotion | None,
    now: datetime,
) -> dict[str, Any]:
    """``status`` (from :func:`~driftwarden.monitor.status.compute_status`) with the
    reference fields: ``reference``, ``lastPromotion`` and ``lastRun.reference``.

    ``promotion`` is the one decided in this pass, if any; ``outcome`` the run that just
    finished. A ``lastRun`` carried over keeps its reference; a new one gets its run's
    (None, which a merge patch removes, when the run failed or reported none).
    """
    previous = previous_status or {}
    last_promotion = (
        promotion.to_status()
        if promotion is not None
        else previous.get("lastPromotion")
        if isinstance(previous.get("lastPromotion"), Mapping)
        else None
    )
    out = dict(status)
    last_run = out.get("lastRun")
    if outcome is not None and isinstance(last_run, Mapping) and last_run.get("job") == outcome.job:
        reference = outcome.reference if outcome.succeeded else None
        out["lastRun"] = {**last_run, "reference": last_run_reference(reference)}
    else:
        outcome = None  # not recorded (an older run finishing late)
    out["reference"] = reference_status(
        monitor, previous.get("reference"), last_promotion, outcome, now
    )
    out["lastPromotion"] = dict(last_promotion) if last_promotion is not None else None
    return out
