"""Parse and validate a DriftMonitor manifest into plain, typed values.

The CRD schema catches what it can at ``kubectl apply`` time; this module is the
complete check, run by the operator on every change and by ``driftwarden
validate``. The analysis-relevant part of the spec (sources, storage, features,
detection, profile, output) is parsed by :mod:`driftwarden.analysis.settings`,
the very code the analysis Job runs, so the operator never accepts a spec the
Job would refuse.

Every problem is a :class:`~driftwarden.errors.ConfigError` naming the field
path and saying how to fix it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from driftwarden.analysis import model_settings, settings
from driftwarden.analysis import reference as reference_modes
from driftwarden.analysis.settings import RunConfig, as_mapping, check_keys
from driftwarden.documents import check_depth
from driftwarden.durations import parse_duration
from driftwarden.errors import ConfigError
from driftwarden.monitor.debounce import AlertingSettings, parse_alerting
from driftwarden.monitor.schedule import Schedule, parse_cron, parse_interval

GROUP = "driftwarden.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "DriftMonitor"
PLURAL = "driftmonitors"

# Monitor names go into label values (driftwarden.io/monitor), which hold at most 63 characters.
MAX_NAME_LENGTH = 63
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A Kubernetes resource quantity (resource.Quantity), as the CRD's pattern has it.
QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# As the CRD bounds spec.schedule (it travels to the analysis pod with the spec).
MAX_SCHEDULE_LENGTH = 256
DEFAULT_COOLDOWN = timedelta(hours=24)
DEFAULT_RESOURCES: Mapping[str, Any] = {
    "requests": {"cpu": "500m", "memory": "512Mi"},
    "limits": {"memory": "2Gi"},
}
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
RETRAINING_RESTART_POLICIES = ("Never", "OnFailure")

_SPEC_KEYS = {
    "schedule",
    "interval",
    "suspend",
    "storage",
    "reference",
    "current",
    "features",
    "detection",
    "model",
    "profile",
    "retraining",
    "output",
    "job",
    "alerting",
}
_JOB_KEYS = {
    "image",
    "imagePullPolicy",
    "imagePullSecrets",
    "resources",
    "activeDeadlineSeconds",
    "backoffLimit",
    "ttlSecondsAfterFinished",
    "serviceAccountName",
    "nodeSelector",
    "tolerations",
    "affinity",
    "priorityClassName",
    "podAnnotations",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "parallelism",
}
# spec.job.parallelism: at most this many shards (the CRD's bound); "auto" picks from bytes.
MAX_PARALLELISM = 1000
AUTO = "auto"


@dataclass(frozen=True)
class PromoteReference:
    """``spec.retraining.promoteReference``: where the reference moves once retraining succeeds.

    ``path`` is a template on the triggering run's slot (see
    :func:`driftwarden.analysis.reference.render_template`); with ``from_job`` the
    retraining Job may name the path itself in its termination message, which wins.
    """

    path: str | None = None
    from_job: bool = False


@dataclass(frozen=True)
class RetrainingSettings:
    """``spec.retraining``: the Job to start when a run drifts, and how often at most."""

    enabled: bool
    cooldown: timedelta
    job_template: Mapping[str, Any]
    promote: PromoteReference | None = None


@dataclass(frozen=True)
class JobSettings:
    """``spec.job``: how analysis Jobs are run. Kubernetes-typed values are kept as given."""

    image: str | None = None
    image_pull_policy: str | None = None
    image_pull_secrets: tuple[Mapping[str, Any], ...] = ()
    resources: Mapping[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_RESOURCES))
    active_deadline_seconds: int = 3600
    backoff_limit: int = 2
    ttl_seconds_after_finished: int = 86400
    service_account_name: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    affinity: Mapping[str, Any] | None = None
    priority_class_name: str | None = None
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    successful_jobs_history_limit: int = 3
    failed_jobs_history_limit: int = 3
    # Shards of the current window's scan (docs/sharding.md): 1 is one analysis pod, as
    # before; N > 1 or "auto" runs an Indexed Job of shard pods, then a merge Job.
    parallelism: int | str = 1

    @property
    def sharded(self) -> bool:
        """True when runs scan through shard pods (parallelism N > 1 or auto)."""
        return self.parallelism != 1


@dataclass(frozen=True)
class Monitor:
    """A parsed DriftMonitor: identity, schedule, the run it asks for and how to run it."""

    name: str
    namespace: str
    uid: str
    generation: int
    schedule: Schedule
    suspend: bool
    run: RunConfig
    retraining: RetrainingSettings | None
    job: JobSettings
    spec: Mapping[str, Any]  # the spec as given, for the analysis Job's DRIFTWARDEN_MONITOR
    # spec.alerting: how many runs drift must persist (monitor/debounce.py); last, with a default
    alerting: AlertingSettings = field(default_factory=AlertingSettings)

    @property
    def output_path(self) -> str | None:
        """``spec.output.path``: where run reports go, or None when none are kept."""
        return self.run.output

    @property
    def retraining_enabled(self) -> bool:
        return self.retraining is not None and self.retraining.enabled


# ---------------------------------------------------------------- small readers


def _int(value: Any, where: str, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"{where}: expected an integer {bound}, got {value!r}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _string_map(value: Any, where: str) -> dict[str, str]:
    section = as_mapping(value, where)
    bad = [k for k, v in section.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise ConfigError(
            f"{where}: keys and values must be strings; {bad[0]!r} is not",
            hint="quote numbers and booleans",
        )
    return dict(section)


def _list_of_mappings(value: Any, where: str) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigError(f"{where}: expected a list of mappings, got {value!r}")
    return tuple(copy.deepcopy(v) for v in value)


# ---------------------------------------------------------------- sections


def parse_metadata(manifest: Mapping[str, Any]) -> tuple[str, str, str, int]:
    """``(name, namespace, uid, generation)``; namespace defaults to ``default`` as in kubectl."""
    api_version = manifest.get("apiVersion", API_VERSION)
    kind = manifest.get("kind", KIND)
    if api_version != API_VERSION or kind != KIND:
        raise ConfigError(
            f"apiVersion/kind: expected {API_VERSION} {KIND}, got {api_version} {kind}",
            hint="this is not a DriftMonitor",
        )
    meta = as_mapping(manifest.get("metadata"), "metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError("metadata.name: a name is required")
    if len(name) > MAX_NAME_LENGTH or not DNS1123_SUBDOMAIN.match(name):
        raise ConfigError(
            f"metadata.name: {name!r} is not a valid monitor name",
            hint=f"use at most {MAX_NAME_LENGTH} lower-case letters, digits, '-' and '.', starting and ending alphanumeric",
        )
    namespace = meta.get("namespace") or "default"
    if not isinstance(namespace, str) or not DNS1123_LABEL.match(namespace):
        raise ConfigError(f"metadata.namespace: {namespace!r} is not a valid namespace")
    uid = meta.get("uid") or ""
    generation = meta.get("generation") or 0
    if not isinstance(uid, str) or isinstance(generation, bool) or not isinstance(generation, int):
        raise ConfigError("metadata: uid must be a string and generation an integer")
    return name, namespace, uid, generation


def parse_schedule(spec: Mapping[str, Any]) -> Schedule:
    """``spec.schedule`` (cron, UTC) or ``spec.interval`` (duration, >= 1m): exactly one."""
    has_cron = spec.get("schedule") is not None
    has_interval = spec.get("interval") is not None
    if has_cron == has_interval:
        raise ConfigError(
            "spec: set exactly one of schedule and interval"
            + (" (both are set)" if has_cron else ""),
            hint="schedule: '0 * * * *' runs hourly on the hour (UTC); interval: 30m runs every 30 minutes",
        )
    if has_cron:
        cron = spec["schedule"]
        if isinstance(cron, str) and len(cron) > MAX_SCHEDULE_LENGTH:
            raise ConfigError(
                f"spec.schedule: {len(cron)} characters is too long for a cron expression",
                hint=f"at most {MAX_SCHEDULE_LENGTH} characters",
            )
        return Schedule(cron=parse_cron(cron))
    return Schedule(interval=parse_interval(spec["interval"]))


def parse_suspend(spec: Mapping[str, Any]) -> bool:
    value = spec.get("suspend", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(f"spec.suspend: expected true or false, got {value!r}")
    return value


def parse_output(spec: Mapping[str, Any]) -> str | None:
    """``spec.output.path``: a directory URI for reports, or None."""
    section = as_mapping(spec.get("output"), "spec.output")
    check_keys(section, {"path"}, "spec.output")
    if section.get("path") is None:
        return None
    # Shorter than other paths: the Job appends /<monitor>/<run> (settings.MAX_OUTPUT_PATH_LENGTH).
    return settings.parse_path(section["path"], "spec.output.path", settings.MAX_OUTPUT_PATH_LENGTH)


def parse_retraining(spec: Mapping[str, Any]) -> RetrainingSettings | None:
    """``spec.retraining``; None when no jobTemplate is given (and retraining is not asked for)."""
    where = "spec.retraining"
    section = as_mapping(spec.get("retraining"), where)
    check_keys(section, {"enabled", "cooldown", "jobTemplate", "promoteReference"}, where)
    enabled = section.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise ConfigError(f"{where}.enabled: expected true or false, got {enabled!r}")
    raw_cooldown = section.get("cooldown")
    cooldown = (
        DEFAULT_COOLDOWN
        if raw_cooldown is None
        else parse_duration(raw_cooldown, field=f"{where}.cooldown")
    )
    promote = parse_promote_reference(spec)
    template = section.get("jobTemplate")
    if promote is not None and template is None:
        raise ConfigError(
            f"{where}.promoteReference: promotion follows a retraining Job, but {where}.jobTemplate is missing",
            hint="add a jobTemplate, or remove promoteReference",
        )
    if template is None:
        if enabled:
            raise ConfigError(
                f"{where}.enabled: retraining is enabled but {where}.jobTemplate is missing",
                hint="add a jobTemplate (a batch/v1 Job spec) or set enabled: false",
            )
        return None
    return RetrainingSettings(
        enabled=True if enabled is None else enabled,
        cooldown=cooldown,
        job_template=parse_job_template(template, f"{where}.jobTemplate"),
        promote=promote,
    )


def parse_promote_reference(spec: Mapping[str, Any]) -> PromoteReference | None:
    """``spec.retraining.promoteReference``: a path template and/or ``fromJob``; None when absent.

    Only a fixed reference moves: a rolling or offset one follows the current data.
    """
    where = "spec.retraining.promoteReference"
    retraining = as_mapping(spec.get("retraining"), "spec.retraining")
    if retraining.get("promoteReference") is None:
        return None
    section = as_mapping(retraining["promoteReference"], where)
    check_keys(section, {"path", "fromJob"}, where)
    from_job = section.get("fromJob", False)
    if not isinstance(from_job, bool):
        raise ConfigError(f"{where}.fromJob: expected true or false, got {from_job!r}")
    path = section.get("path")
    if path is not None:
        path = settings.parse_path(path, f"{where}.path")
        reference_modes.check_template(path, f"{where}.path", settings.MAX_PATH_LENGTH)
        if reference_modes.has_credentials(path):
            raise ConfigError(
                f"{where}.path: the path holds credentials (user:password@)",
                hint="credentials come from spec.storage.secretRef, never from a path",
            )
    if path is None and not from_job:
        raise ConfigError(
            f"{where}: nothing to promote to",
            hint="set path (a template such as s3://logs/churn/train/{date}/), fromJob: true, or both",
        )
    mode = as_mapping(spec.get("reference"), "spec.reference").get("mode") or reference_modes.FIXED
    if mode != reference_modes.FIXED:
        raise ConfigError(
            f"{where}: {'an' if mode == 'offset' else 'a'} {mode} reference follows the current "
            "data and is never promoted",
            hint="use spec.reference.mode: fixed with a path, or remove promoteReference",
        )
    return PromoteReference(path=path, from_job=from_job)


def parse_job_template(value: Any, where: str) -> dict[str, Any]:
    """Check the parts of a Job template the operator relies on; return a normalised deep copy.

    A missing pod ``restartPolicy`` becomes ``Never`` (a Job refuses the Pod default ``Always``).
    """
    template = copy.deepcopy(dict(as_mapping(value, where)))
    check_keys(template, {"metadata", "spec"}, where)
    meta = as_mapping(template.get("metadata"), f"{where}.metadata")
    check_keys(meta, {"labels", "annotations"}, f"{where}.metadata")
    _string_map(meta.get("labels"), f"{where}.metadata.labels")
    _string_map(meta.get("annotations"), f"{where}.metadata.annotations")
    job_spec = as_mapping(template.get("spec"), f"{where}.spec")
    pod_template = as_mapping(job_spec.get("template"), f"{where}.spec.template")
    pod_spec = as_mapping(pod_template.get("spec"), f"{where}.spec.template.spec")
    containers = pod_spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise ConfigError(
            f"{where}.spec.template.spec.containers: at least one container is required",
            hint="e.g. containers: [{name: train, image: registry/train:1.0, args: [...]}]",
        )
    for i, container in enumerate(containers):
        cwhere = f"{where}.spec.template.spec.containers[{i}]"
        container = as_mapping(container, cwhere)
        if not isinstance(container.get("name"), str) or not container.get("name"):
            raise ConfigError(f"{cwhere}.name: a container name is required")
        if not isinstance(container.get("image"), str) or not container.get("image"):
            raise ConfigError(f"{cwhere}.image: a container image is required")
        if container.get("env") is not None and not isinstance(container.get("env"), list):
            raise ConfigError(f"{cwhere}.env: expected a list of {{name, value}} entries")
    restart = pod_spec.get("restartPolicy")
    if restart is None:
        template["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    elif restart not in RETRAINING_RESTART_POLICIES:
        raise ConfigError(
            f"{where}.spec.template.spec.restartPolicy: {restart!r} is not allowed in a Job",
            hint="use Never or OnFailure",
        )
    return template


def parse_job(spec: Mapping[str, Any]) -> JobSettings:
    """``spec.job``: image override, resources, limits and scheduling of analysis Jobs."""
    where = "spec.job"
    section = as_mapping(spec.get("job"), where)
    check_keys(section, _JOB_KEYS, where)
    defaults = JobSettings()
    values: dict[str, Any] = {}
    if section.get("image") is not None:
        values["image"] = _string(section["image"], f"{where}.image")
    if section.get("imagePullPolicy") is not None:
        if section["imagePullPolicy"] not in PULL_POLICIES:
            raise ConfigError(
                f"{where}.imagePullPolicy: {section['imagePullPolicy']!r} is not a pull policy",
                hint=f"use one of {', '.join(PULL_POLICIES)}",
            )
        values["image_pull_policy"] = section["imagePullPolicy"]
    values["image_pull_secrets"] = _list_of_mappings(
        section.get("imagePullSecrets"), f"{where}.imagePullSecrets"
    )
    if section.get("resources") is not None:
        resources = as_mapping(section["resources"], f"{where}.resources")
        check_keys(resources, {"requests", "limits", "claims"}, f"{where}.resources")
        for part in ("requests", "limits"):
            for key, quantity in as_mapping(
                resources.get(part), f"{where}.resources.{part}"
            ).items():
                if isinstance(quantity, bool) or not (
                    isinstance(quantity, int)
                    or (isinstance(quantity, str) and QUANTITY.match(quantity))
                ):
                    raise ConfigError(
                        f"{where}.resources.{part}.{key}: {quantity!r} is not a quantity",
                        hint="write e.g. cpu: 500m, memory: 1Gi",
                    )
        values["resources"] = copy.deepcopy(dict(resources))
    for key, attr, low, high in (
        ("activeDeadlineSeconds", "active_deadline_seconds", 1, None),
        ("backoffLimit", "backoff_limit", 0, 100),
        ("ttlSecondsAfterFinished", "ttl_seconds_after_finished", 60, None),
        ("successfulJobsHistoryLimit", "successful_jobs_history_limit", 0, 100),
        ("failedJobsHistoryLimit", "failed_jobs_history_limit", 0, 100),
    ):
        if section.get(key) is not None:
            values[attr] = _int(section[key], f"{where}.{key}", low, high)
    account = section.get("serviceAccountName")
    if account:
        if not isinstance(account, str) or not DNS1123_SUBDOMAIN.match(account):
            raise ConfigError(
                f"{where}.serviceAccountName: {account!r} is not a valid ServiceAccount name"
            )
        values["service_account_name"] = account
    values["node_selector"] = _string_map(section.get("nodeSelector"), f"{where}.nodeSelector")
    values["tolerations"] = _list_of_mappings(section.get("tolerations"), f"{where}.tolerations")
    if section.get("affinity") is not None:
        values["affinity"] = copy.deepcopy(
            dict(as_mapping(section["affinity"], f"{where}.affinity"))
        )
    if section.get("priorityClassName"):
        values["priority_class_name"] = _string(
            section["priorityClassName"], f"{where}.priorityClassName"
        )
    values["pod_annotations"] = _string_map(
        section.get("podAnnotations"), f"{where}.podAnnotations"
    )
    if section.get("parallelism") is not None:
        values["parallelism"] = parse_parallelism(section["parallelism"], f"{where}.parallelism")
    return JobSettings(**{**defaults.__dict__, **values})


def parse_parallelism(value: Any, where: str) -> int | str:
    """``spec.job.parallelism``: 1 … :data:`MAX_PARALLELISM`, or ``auto``."""
    if value == AUTO:
        return AUTO
    if isinstance(value, str):
        raise ConfigError(
            f"{where}: {value!r} is neither a number nor auto",
            hint=f"give a shard count 1 … {MAX_PARALLELISM}, or auto",
        )
    return _int(value, where, 1, MAX_PARALLELISM)


def check_sharding(job: JobSettings, run: RunConfig) -> None:
    """A sharded scan writes its shard profiles under spec.output.path and carries feature
    drift only (spec.model reads the rows itself): refuse what it cannot run."""
    if not job.sharded:
        return
    where = "spec.job.parallelism"
    if run.output is None:
        raise ConfigError(
            f"{where}: {job.parallelism!r} needs spec.output.path, where the shard profiles "
            "are written before the merge",
            hint="set spec.output.path, or parallelism 1",
        )
    if run.settings.model is not None:
        raise ConfigError(
            f"{where}: {job.parallelism!r} cannot run with spec.model, which reads the rows "
            "itself (shard profiles carry feature drift only)",
            hint="use parallelism 1 for a monitor with spec.model",
        )


def _require_sources(spec: Mapping[str, Any]) -> None:
    missing = [key for key in ("reference", "current") if spec.get(key) is None]
    if missing:
        raise ConfigError(
            f"spec: missing {' and '.join('spec.' + key for key in missing)}",
            hint="both spec.reference.path and spec.current.path are required",
        )


def _parse_reference(spec: Mapping[str, Any]) -> object:
    """``spec.reference``; its modes check ``spec.current`` too, whose own errors come separately."""
    try:
        current = settings.parse_source(spec.get("current"), "spec.current")
    except ConfigError:
        current = settings.SourceConfig(path="-", timestamp_column="-", window=timedelta(0))
    return settings.parse_reference(spec["reference"], current)


def _analysis_sections(spec: Mapping[str, Any]) -> list[Callable[[], object]]:
    """Each analysis section parsed on its own, so one bad section does not hide the next."""
    return [
        lambda: _require_sources(spec),
        lambda: spec.get("reference") is not None and _parse_reference(spec),
        lambda: (
            spec.get("current") is not None
            and settings.parse_source(spec["current"], "spec.current")
        ),
        lambda: settings.parse_storage(spec.get("storage")),
        lambda: settings.parse_features(spec.get("features")),
        lambda: settings.parse_detection(spec.get("detection")),
        lambda: model_settings.parse_model(spec.get("model")),
        lambda: settings.parse_profile(spec.get("profile")),
        lambda: parse_output(spec),
    ]


def _problems(manifest: Any) -> tuple[list[ConfigError], Monitor | None]:
    errors: list[ConfigError] = []

    def attempt(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ConfigError as exc:
            errors.append(exc)
            return None

    if not isinstance(manifest, Mapping):
        return [ConfigError(f"manifest: expected a mapping, got {type(manifest).__name__}")], None
    try:  # before anything recursive (deepcopy, json.dumps) walks it
        check_depth(manifest.get("spec"), "spec")
    except ConfigError as error:
        return [error], None
    meta = attempt(lambda: parse_metadata(manifest))
    spec_value = manifest.get("spec")
    if not isinstance(spec_value, Mapping):
        errors.append(
            ConfigError(
                "spec: a spec is required", hint="see examples/ for a complete DriftMonitor"
            )
        )
        return errors, None
    spec: Mapping[str, Any] = spec_value
    attempt(lambda: check_keys(spec, _SPEC_KEYS, "spec"))
    schedule = attempt(lambda: parse_schedule(spec))
    suspend = attempt(lambda: parse_suspend(spec))
    for section in _analysis_sections(spec):
        attempt(section)
    retraining = attempt(lambda: parse_retraining(spec))
    job = attempt(lambda: parse_job(spec))
    alerting = attempt(lambda: parse_alerting(spec))
    if errors:
        return errors, None
    run = settings.parse_run_config(spec)
    assert meta is not None and schedule is not None and job is not None
    try:
        check_sharding(job, run)
    except ConfigError as error:
        return [error], None
    name, namespace, uid, generation = meta
    monitor = Monitor(
        name=name,
        namespace=namespace,
        uid=uid,
        generation=generation,
        schedule=schedule,
        suspend=bool(suspend),
        run=run,
        retraining=retraining,
        job=job,
        spec=copy.deepcopy(dict(spec)),
        alerting=alerting or AlertingSettings(),
    )
    return [], monitor


def validate_manifest(manifest: Any) -> list[str]:
    """Every problem found in a DriftMonitor manifest, one message each; empty when valid.

    Sections are checked independently, so a person fixing a file sees all
    broken sections at once (within a section, the first problem).
    """
    errors, _ = _problems(manifest)
    return [str(e) for e in errors]


def parse_monitor(manifest: Mapping[str, Any]) -> Monitor:
    """Parse a DriftMonitor manifest (as read from the API or a file) into a :class:`Monitor`.

    Raises ConfigError naming the field and the fix; when several sections are
    broken, the message lists them all, separated by ``; ``.
    """
    errors, monitor = _problems(manifest)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError("; ".join(str(e) for e in errors))
    assert monitor is not None
    return monitor
