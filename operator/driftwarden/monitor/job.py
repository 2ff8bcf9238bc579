"""Job manifests the operator creates: the analysis Job of a slot, the retraining Job of a run.

Both are plain dicts (batch/v1 Job) ready for the Kubernetes API. Names are
deterministic — analysis: monitor + slot, retraining: monitor + run — so a
restarted operator finds the Jobs it created instead of starting them again
(a second create gets 409 AlreadyExists). Both are owned by the DriftMonitor,
so deleting it deletes them.

Storage credentials are never copied into a manifest: the pod gets them from
the Secret named in ``spec.storage.secretRef`` through ``envFrom``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from driftwarden.envchunks import chunked_env
from driftwarden.monitor.outcome import (
    ANALYSIS_CONTAINER,
    FAILED,
    LABEL_PHASE,
    PHASE_SCAN,
    SLOT_ANNOTATION,
    SUCCEEDED,
    RunOutcome,
    job_slot,
    job_state,
)
from driftwarden.monitor.spec import API_VERSION, KIND, Monitor
from driftwarden.monitor.times import format_time, parse_time, utc

MAX_NAME = 63
HASH_LENGTH = 8
TERMINATION_LOG = "/dev/termination-log"
CONFIG_ENV = "DRIFTWARDEN_MONITOR"
# The retraining Job the operator last started (status.lastRetraining: job, run, time),
# as compact JSON: the analysis records it so the trend page can mark retraining starts.
LAST_RETRAINING_ENV = "DRIFTWARDEN_LAST_RETRAINING"
HISTORY_RUNS = 50
RUN_AS = 65532
MAX_FEATURE_LIST = 2048

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_MONITOR = "driftwarden.io/monitor"
LABEL_RUN = "driftwarden.io/run"
# The monitor's uid: a re-created monitor of the same name never sees the old one's Jobs and pods.
LABEL_MONITOR_UID = "driftwarden.io/monitor-uid"
# Holds an analysis Job and its pods until the operator has recorded the run's outcome, so
# ttlSecondsAfterFinished and pod garbage collection cannot delete the result first.
RESULT_FINALIZER = "driftwarden.io/result"
ANNOTATION_GENERATION = "driftwarden.io/monitor-generation"
ANNOTATION_TRIGGERED_BY = "driftwarden.io/triggered-by-run"
ANNOTATION_TRIGGERED_AT = "driftwarden.io/triggered-at"
ANNOTATION_REPORT = "driftwarden.io/report"
ANNOTATION_DRIFT_SHARE = "driftwarden.io/drift-share"
# Why retraining started, when not the features' drift (PredictionDriftDetected,
# PerformanceDegraded: spec.model).
ANNOTATION_TRIGGER_REASON = "driftwarden.io/trigger-reason"
# The slot of the run that triggered a retraining Job: promotion templates render on it.
ANNOTATION_RUN_SLOT = "driftwarden.io/run-slot"
COMPONENT_ANALYSIS = "analysis"
COMPONENT_RETRAINING = "retraining"
# Exit codes of `driftwarden analyze` that a retry cannot fix: 2 bad config, 3 data errors.
NON_RETRYABLE_EXIT_CODES = (2, 3)


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:HASH_LENGTH]


def _name(prefix: str, suffix: str) -> str:
    """``<prefix truncated>-<suffix>``, at most 63 characters and a DNS-1123 label."""
    room = MAX_NAME - len(suffix) - 1
    base = prefix.replace(".", "-")[:room].rstrip("-")
    return f"{base}-{suffix}"


def analysis_job_name(monitor: Monitor, slot: datetime) -> str:
    """``<monitor>-<yyyymmddhhmm>-<hash of uid and slot>``: the same slot always gives the same name.

    The hash covers the monitor's uid (a re-created monitor of the same name does
    not adopt old Jobs) and the exact slot (interval slots need not fall on a minute).
    """
    slot = utc(slot)
    return _name(monitor.name, f"{slot:%Y%m%d%H%M}-{_short_hash(monitor.uid, slot.isoformat())}")


def retraining_job_name(monitor: Monitor, run_job: str) -> str:
    """``<monitor>-retrain-<hash of the run's Job name>``: one retraining Job per run at most."""
    return _name(monitor.name, f"retrain-{_short_hash(run_job)}")


def owner_reference(monitor: Monitor) -> dict[str, Any]:
    """The owner reference that makes a DriftMonitor own (and garbage-collect) a Job."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": monitor.name,
        "uid": monitor.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels(monitor: Monitor, component: str, run: str) -> dict[str, str]:
    """Labels of every Job and pod the operator creates; ``run`` is the analysis Job name."""
    return {
        LABEL_NAME: "driftwarden",
        LABEL_INSTANCE: monitor.name,
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: "driftwarden",
        LABEL_MONITOR: monitor.name,
        LABEL_RUN: run,
        LABEL_MONITOR_UID: monitor.uid,
    }


def analysis_selector(monitor: Monitor) -> str:
    """Label selector of this monitor's analysis Jobs (and their pods)."""
    return f"{LABEL_MONITOR}={monitor.name},{LABEL_COMPONENT}={COMPONENT_ANALYSIS}"


def monitor_config(monitor: Monitor, reference: Mapping[str, Any] | None = None) -> str:
    """The analysis config: compact JSON of the monitor, as the Job reads it.

    ``spec.retraining`` and ``spec.job`` are left out (the analysis uses neither;
    a Job template, tolerations and affinity are unbounded Kubernetes objects, and
    this value is bounded by the CRD to fit the pod's environment), and so is
    ``spec.storage.secretRef``: the pod gets the credentials through ``envFrom``,
    the only place the Secret is named. Non-ASCII stays UTF-8 (``ensure_ascii=False``):
    4 bytes at most per character, where ``\\uXXXX`` escapes would take 12.

    ``reference`` is a promoted reference (``{source: promoted, path}``, see
    :mod:`driftwarden.monitor.reference`): it travels as ``status.reference`` of the
    document, and the Job reads it in place of ``spec.reference.path``.
    """
    spec = {k: copy.deepcopy(v) for k, v in monitor.spec.items() if k not in ("retraining", "job")}
    if isinstance(spec.get("storage"), dict):
        spec["storage"].pop("secretRef", None)
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": monitor.name, "namespace": monitor.namespace, "uid": monitor.uid},
        "spec": spec,
    }
    if reference is not None:
        document["status"] = {"reference": dict(reference)}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def monitor_config_env(
    monitor: Monitor, reference: Mapping[str, Any] | None = None
) -> list[dict[str, str]]:
    """The env entries carrying :func:`monitor_config`: DRIFTWARDEN_MONITOR_CHUNKS and the chunks.

    Each chunk is at most 112 KiB, under Linux's 128 KiB per variable
    (``driftwarden.envchunks``); ``driftwarden analyze --config-env`` joins them.
    """
    return [
        {"name": k, "value": v}
        for k, v in chunked_env(CONFIG_ENV, monitor_config(monitor, reference))
    ]


def run_output(monitor: Monitor, run: str) -> str | None:
    """Where one run writes its report: ``<spec.output.path>/<monitor>/<run>``, or None."""
    base = monitor.output_path
    if not base:
        return None
    return f"{base.rstrip('/')}/{monitor.name}/{run}"


def profile_cache(monitor: Monitor) -> str | None:
    """Where the monitor's runs cache the reference profile: ``<spec.output.path>/<monitor>/profile-cache``.

    Shared by all runs of the monitor, so the reference is scanned once (the cache
    key covers the reference files and the profile settings). None without an output path.
    """
    base = monitor.output_path
    if not base:
        return None
    return f"{base.rstrip('/')}/{monitor.name}/profile-cache"


def history_path(monitor: Monitor) -> str | None:
    """Where the monitor's runs keep their history records: ``<spec.output.path>/<monitor>/history``.

    One small JSON record per run (docs/history.md); each run also draws the last
    :data:`HISTORY_RUNS` of them into history.html next to its report. None without an
    output path.
    """
    base = monitor.output_path
    if not base:
        return None
    return f"{base.rstrip('/')}/{monitor.name}/history"


def last_retraining_env(last_retraining: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The env entry carrying ``status.lastRetraining`` (job, run, time only), or none.

    The analysis Job cannot see the cluster; this is how its history record learns
    which retraining Job had started before it ran. The message is left out: the
    record needs no prose, and the value stays a few hundred bytes.
    """
    if not isinstance(last_retraining, Mapping) or not isinstance(last_retraining.get("job"), str):
        return []
    value = {
        key: str(last_retraining[key])[:253]
        for key in ("job", "run", "time")
        if isinstance(last_retraining.get(key), str) and last_retraining.get(key)
    }
    return [
        {
            "name": LAST_RETRAINING_ENV,
            "value": json.dumps(value, sort_keys=True, separators=(",", ":")),
        }
    ]


def latest_retraining(
    jobs: Iterable[Mapping[str, Any]], recorded: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The newest retraining start the operator knows of, as ``{job, run, time}``.

    ``recorded`` is ``status.lastRetraining``; ``jobs`` the monitor's Jobs (watched, or
    created and not yet watched). A retraining Job newer than the record wins: the
    status write that records it may not be back from the watch when the next slot's
    Job is built, and that Job must still learn of it.
    """
    best: dict[str, Any] | None = None
    if isinstance(recorded, Mapping) and isinstance(recorded.get("job"), str):
        best = {k: recorded.get(k) for k in ("job", "run", "time")}
    for job in jobs:
        meta = job.get("metadata") or {}
        if (meta.get("labels") or {}).get(LABEL_COMPONENT) != COMPONENT_RETRAINING:
            continue
        notes = meta.get("annotations") or {}
        started = parse_time(notes.get(ANNOTATION_TRIGGERED_AT))
        if started is None:
            continue
        if best is None or (parse_time(best.get("time")) or started) < started:
            best = {
                "job": str(meta.get("name") or ""),
                "run": notes.get(ANNOTATION_TRIGGERED_BY),
                "time": format_time(started),
            }
    return best


def analysis_job(
    monitor: Monitor,
    slot: datetime,
    image: str,
    *,
    extra_labels: Mapping[str, str] | None = None,
    pod_failure_policy: bool = True,
    reference: Mapping[str, Any] | None = None,
    last_retraining: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The batch/v1 Job that analyses one schedule slot of a monitor.

    ``reference`` is the promoted reference the run reads instead of ``spec.reference.path``
    (:func:`monitor_config`), None when the spec's reference applies.

    ``image`` is the operator's own image (its entrypoint is ``driftwarden``);
    ``spec.job.image`` overrides it. The current window ends at ``slot``. With
    ``spec.output.path`` the run writes its reports to :func:`run_output` and
    caches the reference profile at :func:`profile_cache`, keeps its history record
    under :func:`history_path` and draws history.html next to its report;
    ``last_retraining`` (``status.lastRetraining``) goes into its env so the record can
    mark retraining starts. ``extra_labels`` (say, an operator instance) never replace driftwarden's own.
    ``pod_failure_policy`` False leaves ``spec.podFailurePolicy`` out, for API servers
    older than 1.26 that would drop it (non-retryable exits then retry up to backoffLimit).

    The Job and its pods carry :data:`RESULT_FINALIZER` (the Job controller copies the
    template's finalizers to each pod): the operator removes it once the run's outcome
    is in the monitor's status, so the result outlives TTLs and pod garbage collection.
    """
    settings = monitor.job
    name = analysis_job_name(monitor, slot)
    slot_text = format_time(slot)
    job_labels = {**(extra_labels or {}), **labels(monitor, COMPONENT_ANALYSIS, name)}
    args = ["analyze", "--config-env", CONFIG_ENV, "--window-end", slot_text]
    output = run_output(monitor, name)
    if output is not None:
        args += ["--output", output, "--profile-cache", str(profile_cache(monitor))]
        args += ["--history", str(history_path(monitor)), "--history-runs", str(HISTORY_RUNS)]
    args += ["--summary-file", TERMINATION_LOG, "--log-format", "json"]
    container: dict[str, Any] = {
        "name": ANALYSIS_CONTAINER,
        "image": settings.image or image,
        "args": args,
        "env": [
            *monitor_config_env(monitor, reference),
            {"name": "DRIFTWARDEN_RUN", "value": name},
            {"name": "DRIFTWARDEN_SLOT", "value": slot_text},
            {"name": "HOME", "value": "/tmp"},
            *last_retraining_env(last_retraining),
        ],
        "resources": copy.deepcopy(dict(settings.resources)),
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if settings.image_pull_policy:
        container["imagePullPolicy"] = settings.image_pull_policy
    secret = monitor.run.storage.secret_name
    if secret:
        container["envFrom"] = [{"secretRef": {"name": secret}}]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        # No service-link variables: the analysis talks to no in-cluster Service by env var.
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if settings.service_account_name:
        pod_spec["serviceAccountName"] = settings.service_account_name
    if settings.node_selector:
        pod_spec["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        pod_spec["tolerations"] = [copy.deepcopy(dict(t)) for t in settings.tolerations]
    if settings.affinity:
        pod_spec["affinity"] = copy.deepcopy(dict(settings.affinity))
    if settings.priority_class_name:
        pod_spec["priorityClassName"] = settings.priority_class_name
    if settings.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [copy.deepcopy(dict(s)) for s in settings.image_pull_secrets]
    pod_meta: dict[str, Any] = {
        "labels": dict(job_labels),
        # The slot on the pod too: the outcome can be read from the pod if the Job is gone.
        "annotations": {**dict(settings.pod_annotations or {}), SLOT_ANNOTATION: slot_text},
        "finalizers": [RESULT_FINALIZER],
    }
    job_spec: dict[str, Any] = {
        "backoffLimit": settings.backoff_limit,
        "activeDeadlineSeconds": settings.active_deadline_seconds,
        "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
    }
    if pod_failure_policy:
        job_spec["podFailurePolicy"] = {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": ANALYSIS_CONTAINER,
                        "operator": "In",
                        "values": list(NON_RETRYABLE_EXIT_CODES),
                    },
                },
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            ]
        }
    job_spec["template"] = {"metadata": pod_meta, "spec": pod_spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": monitor.namespace,
            "labels": job_labels,
            "annotations": {
                SLOT_ANNOTATION: slot_text,
                ANNOTATION_GENERATION: str(monitor.generation),
            },
            "ownerReferences": [owner_reference(monitor)],
            "finalizers": [RESULT_FINALIZER],
        },
        "spec": job_spec,
    }


def _format_share(share: float | None) -> str:
    return "" if share is None else f"{share:.4g}"


def _feature_list(names: Iterable[str], limit: int = MAX_FEATURE_LIST) -> str:
    """Comma-separated names, cut at a name boundary to at most ``limit`` characters."""
    out: list[str] = []
    size = 0
    for name in names:
        extra = len(name) + (1 if out else 0)
        if size + extra > limit:
            break
        out.append(name)
        size += extra
    return ",".join(out)


def _set_env(container: dict[str, Any], values: Mapping[str, str]) -> None:
    env = [
        e
        for e in container.get("env") or []
        if not (isinstance(e, Mapping) and e.get("name") in values)
    ]
    env.extend({"name": k, "value": v} for k, v in values.items())
    container["env"] = env


def retraining_job(
    monitor: Monitor, run: RunOutcome, now: datetime, reason: str | None = None
) -> dict[str, Any]:
    """The retraining Job for a drifted run, built from ``spec.retraining.jobTemplate``.

    Every container (and init container) gets DRIFTWARDEN_MONITOR_NAME,
    DRIFTWARDEN_MONITOR_NAMESPACE, DRIFTWARDEN_RUN, DRIFTWARDEN_SLOT,
    DRIFTWARDEN_REPORT, DRIFTWARDEN_DRIFT_SHARE, DRIFTWARDEN_DRIFTED_FEATURES
    (comma list of the drifted features the summary names, cut at
    2048 characters), DRIFTWARDEN_DRIFTED_FEATURE_COUNT and DRIFTWARDEN_DRIFTED_PREDICTIONS
    (comma list of the drifted prediction and target columns; set only when the run
    compared spec.model's columns) and DRIFTWARDEN_DEGRADED_METRICS (comma list of the
    metrics whose drop degraded the model's performance, empty when none did; set only
    when the run measured performance with spec.model's labels). Raises ValueError
    when the monitor has no retraining template. ``reason`` (the retraining
    decision's, when not plain feature drift) is kept in an annotation, so the record
    rebuilt from the Job says why it started.
    """
    if monitor.retraining is None:
        raise ValueError(f"DriftMonitor {monitor.name} has no spec.retraining.jobTemplate")
    template = copy.deepcopy(dict(monitor.retraining.job_template))
    name = retraining_job_name(monitor, run.job)
    ours = labels(monitor, COMPONENT_RETRAINING, run.job)
    template_meta = template.get("metadata") or {}
    annotations = {
        **(template_meta.get("annotations") or {}),
        ANNOTATION_TRIGGERED_BY: run.job,
        ANNOTATION_TRIGGERED_AT: format_time(now),
        ANNOTATION_REPORT: run.report or "",
        ANNOTATION_DRIFT_SHARE: _format_share(run.drift_share),
    }
    if run.slot is not None:
        annotations[ANNOTATION_RUN_SLOT] = format_time(run.slot)
    if reason is not None:
        annotations[ANNOTATION_TRIGGER_REASON] = reason
    spec = template.get("spec") or {}
    pod_template = spec.setdefault("template", {})
    pod_meta = pod_template.setdefault("metadata", {}) or {}
    pod_template["metadata"] = pod_meta
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **ours}
    if RESULT_FINALIZER in (pod_meta.get("finalizers") or []):
        # The operator releases it only for analysis runs: a retraining pod would stay forever.
        pod_meta["finalizers"] = [f for f in pod_meta["finalizers"] if f != RESULT_FINALIZER]
        if not pod_meta["finalizers"]:
            del pod_meta["finalizers"]
    pod_spec = pod_template.setdefault("spec", {})
    pod_spec.setdefault("restartPolicy", "Never")
    env = {
        "DRIFTWARDEN_MONITOR_NAME": monitor.name,
        "DRIFTWARDEN_MONITOR_NAMESPACE": monitor.namespace,
        "DRIFTWARDEN_RUN": run.job,
        "DRIFTWARDEN_SLOT": format_time(run.slot) if run.slot else "",
        "DRIFTWARDEN_REPORT": run.report or "",
        "DRIFTWARDEN_DRIFT_SHARE": _format_share(run.drift_share),
        "DRIFTWARDEN_DRIFTED_FEATURES": _feature_list(run.drifted_names),
        "DRIFTWARDEN_DRIFTED_FEATURE_COUNT": ""
        if run.drifted_features is None
        else str(run.drifted_features),
    }
    if run.predictions is not None:  # only for runs that compared spec.model's columns
        env["DRIFTWARDEN_DRIFTED_PREDICTIONS"] = _feature_list(run.predictions.drifted_names)
    if run.performance is not None:  # only for runs that measured performance (spec.model)
        metrics = run.performance.get("degradedMetrics") or []
        env["DRIFTWARDEN_DEGRADED_METRICS"] = _feature_list(
            tuple(str(m) for m in metrics) if run.performance.get("degraded") is True else ()
        )
    for key in ("initContainers", "containers"):
        for container in pod_spec.get(key) or []:
            _set_env(container, env)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": monitor.namespace,
            "labels": {**(template_meta.get("labels") or {}), **ours},
            "annotations": annotations,
            "ownerReferences": [owner_reference(monitor)],
        },
        "spec": spec,
    }


def jobs_to_delete(
    monitor: Monitor, jobs: Iterable[Mapping[str, Any]], component: str = COMPONENT_ANALYSIS
) -> list[str]:
    """Names of finished Jobs of ``component`` beyond the history limits, oldest first.

    Keeps the newest ``successfulJobsHistoryLimit`` succeeded and
    ``failedJobsHistoryLimit`` failed Jobs of this monitor and component (analysis or
    retraining: retraining Jobs are cleaned up this way even when their template sets
    no TTL); running Jobs and Jobs of other monitors or components are never listed.
    """

    def order(job: Mapping[str, Any]) -> tuple[str, str]:
        slot = job_slot(job)
        created = str((job.get("metadata") or {}).get("creationTimestamp") or "")
        return (format_time(slot) if slot else "", created)

    mine = []
    for job in jobs:
        job_labels = (job.get("metadata") or {}).get("labels") or {}
        if (
            job_labels.get(LABEL_MONITOR) == monitor.name
            and job_labels.get(LABEL_COMPONENT) == component
            and job_labels.get(LABEL_PHASE) != PHASE_SCAN  # left to its TTL
        ):
            mine.append(job)
    doomed: list[Mapping[str, Any]] = []
    for state, keep in (
        (SUCCEEDED, monitor.job.successful_jobs_history_limit),
        (FAILED, monitor.job.failed_jobs_history_limit),
    ):
        finished = sorted((j for j in mine if job_state(j) == state), key=order, reverse=True)
        doomed.extend(finished[keep:])
    return [str(j["metadata"]["name"]) for j in sorted(doomed, key=order)]
