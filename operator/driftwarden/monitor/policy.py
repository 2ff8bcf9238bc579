"""What a DriftMonitor may make the operator create: the Job policy, as pure checks.

The operator creates Jobs with its own service account, so whatever a monitor's
author writes into ``spec.job`` or ``spec.retraining.jobTemplate`` runs with the
operator's power to create Jobs, not the author's. This module keeps that power
from leaking: a person who may only create DriftMonitors in a namespace gets no
pod they could not otherwise get there. Every Job manifest passes
:func:`check_job` before it is created; a violation stops the create.

The policy inputs are explicit (:class:`Policy`): nothing here reads the cluster.
The controller builds them from the operator's flags and from the monitor's
Namespace, whose annotations only people who may edit Namespace objects (cluster
admins, not monitor authors) can set:

``driftwarden.io/pod-security``
    ``restricted`` (the default, also for a missing or unknown value),
    ``baseline`` or ``privileged``: the Pod Security Standard the Jobs' pods
    are held to (kubernetes.io/docs/concepts/security/pod-security-standards).
``driftwarden.io/allowed-service-accounts``
    comma-separated ServiceAccount names (or ``*``) pods may run as besides
    ``default``.
``driftwarden.io/allowed-secrets``
    comma-separated Secret names (or ``*``) whose data pods may read through
    ``env``, ``envFrom`` or volumes. The analysis Job's ``spec.storage.secretRef``
    is always allowed: its container runs the operator's code only.

Images must match the operator's own image or a pattern of ``--allowed-images``,
priority classes must be listed in ``--allowed-priority-classes``. Some things
are never allowed, whatever the level: ``system-`` priority classes, tolerations
of control-plane or cordoned nodes (or of every taint), ``nodeName`` (it skips the
scheduler and its taints), a namespace other than the monitor's, Job pod
selectors (a Job adopts every pod its selector matches) and Jobs handed to
another controller (``spec.managedBy``).

Each control of the Pod Security Standards is one ``_check_*`` function over the
pod spec and its annotations, checked at ``baseline`` and/or ``restricted`` as the
standard lists it (kubernetes.io/docs/concepts/security/pod-security-standards as of
Kubernetes 1.31: the AppArmor fields, the keepalive sysctls, container_engine_t). Where
the standard and a runtime differ in spelling (CAP_-prefixed or lower-case capabilities)
the check compares literally, as Pod Security Admission does, and so refuses.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from driftwarden.monitor.status import FAILED, READY, set_condition

PRIVILEGED = "privileged"
BASELINE = "baseline"
RESTRICTED = "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)  # most to least permissive

POD_SECURITY_ANNOTATION = "driftwarden.io/pod-security"
SERVICE_ACCOUNTS_ANNOTATION = "driftwarden.io/allowed-service-accounts"
SECRETS_ANNOTATION = "driftwarden.io/allowed-secrets"
DEFAULT_SERVICE_ACCOUNT = "default"

# Pod Security Standards, baseline: capabilities a container may add (the runtime's defaults).
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
# Baseline: the "safe" sysctls, namespaced and isolated from other pods on the node.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
# Restricted: the only volume sources (hostPath is baseline's own control).
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_ANNOTATIONS = (
    "seccomp.security.alpha.kubernetes.io/pod",
    "container.seccomp.security.alpha.kubernetes.io/",
)
# Taints a monitor's pods never tolerate: control-plane nodes and cordoned nodes.
FORBIDDEN_TOLERATIONS = frozenset(
    {
        "node-role.kubernetes.io/control-plane",
        "node-role.kubernetes.io/master",
        "node.kubernetes.io/unschedulable",
    }
)
JOB_CONTROLLER = "kubernetes.io/job-controller"  # the only spec.managedBy a Job may name
CONTAINER_KINDS = ("initContainers", "containers", "ephemeralContainers")
CHART_IMAGES = "the chart value jobPolicy.allowedImages (--allowed-images)"
CHART_PRIORITIES = "the chart value jobPolicy.allowedPriorityClasses (--allowed-priority-classes)"


NEVER = "never allowed for DriftMonitor Jobs"


@dataclass(frozen=True)
class Violation:
    """One thing a Job may not do.

    ``path`` of the field, ``rule`` (camelCase), ``message`` (what and why) and
    ``remedy``: how an admin allows it, or :data:`NEVER`.
    """

    path: str
    rule: str
    message: str
    remedy: str = NEVER

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Policy:
    """What Jobs in one namespace may use.

    ``level``: the Pod Security Standard pods are held to. ``operator_image``:
    always allowed. ``allowed_images``: glob patterns (``*`` matches ``/`` too,
    so end a registry pattern with ``/``). ``allowed_service_accounts``: names
    besides ``default``, ``*`` for any. ``allowed_priority_classes``: names.
    ``allowed_secrets``: Secrets the pods may read (env, envFrom, volumes), ``*``
    for any.
    """

    namespace: str
    level: str = RESTRICTED
    operator_image: str = ""
    allowed_images: tuple[str, ...] = ()
    allowed_priority_classes: tuple[str, ...] = ()
    allowed_service_accounts: frozenset[str] = field(default_factory=frozenset)
    allowed_secrets: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"pod security level must be one of {', '.join(LEVELS)}")


# ---------------------------------------------------------------- namespace settings


def namespace_level(annotations: Mapping[str, str] | None) -> str:
    """The level a Namespace's ``driftwarden.io/pod-security`` annotation asks for.

    Missing or unknown values give ``restricted``: a typo never loosens the policy.
    """
    value = str((annotations or {}).get(POD_SECURITY_ANNOTATION) or "").strip().lower()
    return value if value in LEVELS else RESTRICTED


def _annotated_names(annotations: Mapping[str, str] | None, key: str) -> frozenset[str]:
    value = str((annotations or {}).get(key) or "")
    return frozenset(n.strip() for n in value.split(",") if n.strip())


def namespace_service_accounts(annotations: Mapping[str, str] | None) -> frozenset[str]:
    """The names in a Namespace's ``driftwarden.io/allowed-service-accounts`` annotation."""
    return _annotated_names(annotations, SERVICE_ACCOUNTS_ANNOTATION)


def namespace_secrets(annotations: Mapping[str, str] | None) -> frozenset[str]:
    """The names in a Namespace's ``driftwarden.io/allowed-secrets`` annotation."""
    return _annotated_names(annotations, SECRETS_ANNOTATION)


# ---------------------------------------------------------------- small readers


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _containers(pod_spec: Mapping[str, Any], where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in CONTAINER_KINDS:
        for i, container in enumerate(_list(pod_spec.get(kind))):
            yield f"{where}.{kind}[{i}]", _map(container)


def _security_contexts(
    pod_spec: Mapping[str, Any], where: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The pod's securityContext, then each container's."""
    yield f"{where}.securityContext", _map(pod_spec.get("securityContext"))
    for path, container in _containers(pod_spec, where):
        yield f"{path}.securityContext", _map(container.get("securityContext"))


def _raise_to(level: str, namespace: str) -> str:
    return f"kubectl annotate namespace {namespace} {POD_SECURITY_ANNOTATION}={level} --overwrite"


# ---------------------------------------------------------------- Pod Security Standards controls
# Each control yields (path, message) for what it refuses; _pod_security adds the rule and the remedy.

Finding = tuple[str, str]


def _check_host_process(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for path, context in _security_contexts(spec, where):
        if _map(context.get("windowsOptions")).get("hostProcess") is True:
            yield (
                f"{path}.windowsOptions.hostProcess",
                "Windows HostProcess containers are not allowed",
            )


def _check_host_namespaces(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            yield f"{where}.{key}", "sharing the node's namespace is not allowed"


def _check_privileged(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for path, container in _containers(spec, where):
        if _map(container.get("securityContext")).get("privileged") is True:
            yield f"{path}.securityContext.privileged", "privileged containers are not allowed"


def _added_capabilities(
    spec: Mapping[str, Any], where: str, allowed: frozenset[str], among: frozenset[str] | None
) -> Iterator[Finding]:
    """Added capabilities outside ``allowed`` (only those in ``among``, when given)."""
    for path, container in _containers(spec, where):
        added = _list(_map(_map(container.get("securityContext")).get("capabilities")).get("add"))
        extra = sorted(
            str(c) for c in added if str(c) not in allowed and (among is None or str(c) in among)
        )
        if extra:
            yield (
                f"{path}.securityContext.capabilities.add",
                f"adding {', '.join(extra)} is not allowed (allowed: {', '.join(sorted(allowed))})",
            )


def _check_capabilities_baseline(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    yield from _added_capabilities(spec, where, BASELINE_CAPABILITIES, None)


def _check_host_path(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for i, volume in enumerate(_list(spec.get("volumes"))):
        if _map(volume).get("hostPath") is not None:
            path = _map(_map(volume).get("hostPath")).get("path")
            yield f"{where}.volumes[{i}].hostPath", f"hostPath volumes ({path!r}) are not allowed"


def _check_host_ports(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for path, container in _containers(spec, where):
        for j, port in enumerate(_list(container.get("ports"))):
            host_port = _map(port).get("hostPort")
            if host_port not in (None, 0):
                yield f"{path}.ports[{j}].hostPort", f"host port {host_port} is not allowed"


def _check_apparmor(
    spec: Mapping[str, Any], annotations: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for key, value in annotations.items():
        if key.startswith(APPARMOR_ANNOTATION) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            yield (
                f"{where.rsplit('.spec', 1)[0]}.metadata.annotations[{key}]",
                f"AppArmor profile {value!r} is not allowed (runtime/default or localhost/*)",
            )
    for path, context in _security_contexts(spec, where):
        kind = _map(context.get("appArmorProfile")).get("type")
        if kind is not None and kind not in ("RuntimeDefault", "Localhost"):
            yield f"{path}.appArmorProfile.type", f"AppArmor profile type {kind!r} is not allowed"


def _check_selinux(spec: Mapping[str, Any], _: Mapping[str, str], where: str) -> Iterator[Finding]:
    for path, context in _security_contexts(spec, where):
        options = _map(context.get("seLinuxOptions"))
        if str(options.get("type") or "") not in SELINUX_TYPES:
            yield (
                f"{path}.seLinuxOptions.type",
                f"SELinux type {options.get('type')!r} is not allowed",
            )
        for key in ("user", "role"):
            if options.get(key):
                yield f"{path}.seLinuxOptions.{key}", f"setting the SELinux {key} is not allowed"


def _check_proc_mount(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for path, container in _containers(spec, where):
        mount = _map(container.get("securityContext")).get("procMount")
        if mount not in (None, "Default"):
            yield f"{path}.securityContext.procMount", f"procMount {mount!r} is not allowed"


def _seccomp_types(spec: Mapping[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    for path, context in _security_contexts(spec, where):
        yield f"{path}.seccompProfile.type", _map(context.get("seccompProfile")).get("type")


def _check_seccomp_baseline(
    spec: Mapping[str, Any], annotations: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for path, kind in _seccomp_types(spec, where):
        if kind == "Unconfined":
            yield path, "the Unconfined seccomp profile is not allowed"
    for key, value in annotations.items():
        if key.startswith(SECCOMP_ANNOTATIONS) and value == "unconfined":
            yield (
                f"{where.rsplit('.spec', 1)[0]}.metadata.annotations[{key}]",
                "the unconfined seccomp profile is not allowed",
            )


def _check_sysctls(spec: Mapping[str, Any], _: Mapping[str, str], where: str) -> Iterator[Finding]:
    for i, sysctl in enumerate(_list(_map(spec.get("securityContext")).get("sysctls"))):
        name = _map(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            yield f"{where}.securityContext.sysctls[{i}]", f"sysctl {name!r} is not in the safe set"


def _check_volume_types(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for i, volume in enumerate(_list(spec.get("volumes"))):
        sources = sorted(k for k in _map(volume) if k != "name")
        bad = [s for s in sources if s not in RESTRICTED_VOLUMES and s != "hostPath"]
        if bad:
            yield (
                f"{where}.volumes[{i}].{bad[0]}",
                f"{bad[0]} volumes are not allowed (allowed: {', '.join(sorted(RESTRICTED_VOLUMES))})",
            )


def _check_privilege_escalation(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for path, container in _containers(spec, where):
        if _map(container.get("securityContext")).get("allowPrivilegeEscalation") is not False:
            yield (
                f"{path}.securityContext.allowPrivilegeEscalation",
                "must be false",
            )


def _check_run_as_non_root(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    pod_value = _map(spec.get("securityContext")).get("runAsNonRoot")
    for path, container in _containers(spec, where):
        value = _map(container.get("securityContext")).get("runAsNonRoot")
        if value is False or (value is None and pod_value is not True):
            yield (
                f"{path}.securityContext.runAsNonRoot",
                "must be true (here or in the pod's securityContext); set runAsUser to the image's non-root user",
            )


def _check_run_as_user(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for path, context in _security_contexts(spec, where):
        if context.get("runAsUser") == 0:
            yield f"{path}.runAsUser", "running as user 0 (root) is not allowed"


def _check_seccomp_restricted(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    types = list(_seccomp_types(spec, where))
    pod_path, pod_type = types[0]
    for path, kind in types[1:]:
        if kind is None and pod_type is None:
            yield (
                path,
                "a seccomp profile is required: RuntimeDefault or Localhost (here or for the pod)",
            )
        elif kind not in (None, "RuntimeDefault", "Localhost", "Unconfined"):
            yield path, f"seccomp profile {kind!r} is not allowed (RuntimeDefault or Localhost)"
    # Unconfined is the baseline control's to report.
    if pod_type not in (None, "RuntimeDefault", "Localhost", "Unconfined"):
        yield pod_path, f"seccomp profile {pod_type!r} is not allowed (RuntimeDefault or Localhost)"


def _check_capabilities_restricted(
    spec: Mapping[str, Any], _: Mapping[str, str], where: str
) -> Iterator[Finding]:
    for path, container in _containers(spec, where):
        dropped = _list(
            _map(_map(container.get("securityContext")).get("capabilities")).get("drop")
        )
        if "ALL" not in dropped:
            yield f"{path}.securityContext.capabilities.drop", "must include ALL"
    # Capabilities beyond the baseline set are the baseline control's to report.
    yield from _added_capabilities(spec, where, RESTRICTED_CAPABILITIES, BASELINE_CAPABILITIES)


Control = Callable[[Mapping[str, Any], Mapping[str, str], str], Iterable[Finding]]
# (rule, the lowest level that enforces it, check); a restricted namespace enforces all.
POD_SECURITY_CONTROLS: tuple[tuple[str, str, Control], ...] = (
    ("hostProcess", BASELINE, _check_host_process),
    ("hostNamespaces", BASELINE, _check_host_namespaces),
    ("privileged", BASELINE, _check_privileged),
    ("capabilities", BASELINE, _check_capabilities_baseline),
    ("hostPathVolumes", BASELINE, _check_host_path),
    ("hostPorts", BASELINE, _check_host_ports),
    ("appArmor", BASELINE, _check_apparmor),
    ("seLinux", BASELINE, _check_selinux),
    ("procMount", BASELINE, _check_proc_mount),
    ("seccomp", BASELINE, _check_seccomp_baseline),
    ("sysctls", BASELINE, _check_sysctls),
    ("volumeTypes", RESTRICTED, _check_volume_types),
    ("privilegeEscalation", RESTRICTED, _check_privilege_escalation),
    ("runAsNonRoot", RESTRICTED, _check_run_as_non_root),
    ("runAsUser", RESTRICTED, _check_run_as_user),
    ("seccompRestricted", RESTRICTED, _check_seccomp_restricted),
    ("capabilitiesRestricted", RESTRICTED, _check_capabilities_restricted),
)


def _enforced(control_level: str, level: str) -> bool:
    return LEVELS.index(level) >= LEVELS.index(control_level)


def _pod_security(
    spec: Mapping[str, Any], annotations: Mapping[str, str], where: str, policy: Policy
) -> list[Violation]:
    out = []
    for rule, control_level, check in POD_SECURITY_CONTROLS:
        if not _enforced(control_level, policy.level):
            continue
        # The level at which this control is no longer enforced: what an admin would set.
        looser = LEVELS[LEVELS.index(control_level) - 1]
        for path, message in check(spec, annotations, where):
            out.append(
                Violation(
                    path,
                    rule,
                    f"{message} (Pod Security Standard {policy.level}: {rule})",
                    _raise_to(looser, policy.namespace),
                )
            )
    return out


# ---------------------------------------------------------------- the operator's own rules


def image_allowed(image: str, policy: Policy) -> bool:
    """The operator's own image, or one matching a pattern of ``allowed_images``."""
    return image == policy.operator_image or any(
        fnmatch.fnmatchcase(image, pattern) for pattern in policy.allowed_images
    )


def _check_images(spec: Mapping[str, Any], where: str, policy: Policy) -> Iterator[Violation]:
    for path, container in _containers(spec, where):
        image = str(container.get("image") or "")
        if not image_allowed(image, policy):
            allowed = ", ".join([policy.operator_image, *policy.allowed_images])
            yield Violation(
                f"{path}.image",
                "image",
                f"image {image!r} is not allowed (allowed: {allowed})",
                f"add a pattern such as {_suggest_pattern(image)!r} to {CHART_IMAGES}",
            )


def _suggest_pattern(image: str) -> str:
    """The image's repository with any tag or digest: ``registry/team/app:*`` style."""
    repository = image.split("@", 1)[0]
    slash = repository.rfind("/")
    if ":" in repository[slash + 1 :]:
        repository = repository[: repository.rfind(":")]
    return f"{repository}:*" if "@" not in image else f"{repository}@*"


def _check_service_account(
    spec: Mapping[str, Any], where: str, policy: Policy
) -> Iterator[Violation]:
    # serviceAccount is the deprecated alias; the API server copies it into serviceAccountName.
    for key in ("serviceAccountName", "serviceAccount"):
        name = spec.get(key)
        if not name or name == DEFAULT_SERVICE_ACCOUNT:
            continue
        if name in policy.allowed_service_accounts or "*" in policy.allowed_service_accounts:
            continue
        yield Violation(
            f"{where}.{key}",
            "serviceAccount",
            f"service account {name!r} is not allowed in namespace {policy.namespace}",
            f"kubectl annotate namespace {policy.namespace} "
            f"{SERVICE_ACCOUNTS_ANNOTATION}={name} --overwrite (a comma list of names)",
        )


def _secret_references(spec: Mapping[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    """(path, Secret name) of every Secret whose data reaches the pod's containers.

    imagePullSecrets are not listed: the kubelet uses them, the containers never see them.
    """
    for path, container in _containers(spec, where):
        for i, source in enumerate(_list(container.get("envFrom"))):
            ref = _map(_map(source).get("secretRef"))
            if ref:
                yield f"{path}.envFrom[{i}].secretRef.name", ref.get("name")
        for i, variable in enumerate(_list(container.get("env"))):
            ref = _map(_map(_map(variable).get("valueFrom")).get("secretKeyRef"))
            if ref:
                yield f"{path}.env[{i}].valueFrom.secretKeyRef.name", ref.get("name")
    for i, volume in enumerate(_list(spec.get("volumes"))):
        volume = _map(volume)
        if "secret" in volume:
            yield (
                f"{where}.volumes[{i}].secret.secretName",
                _map(volume["secret"]).get("secretName"),
            )
        for j, source in enumerate(_list(_map(volume.get("projected")).get("sources"))):
            if "secret" in _map(source):
                yield (
                    f"{where}.volumes[{i}].projected.sources[{j}].secret.name",
                    _map(_map(source)["secret"]).get("name"),
                )


def _check_secrets(spec: Mapping[str, Any], where: str, policy: Policy) -> Iterator[Violation]:
    if "*" in policy.allowed_secrets:
        return
    for path, name in _secret_references(spec, where):
        if name not in policy.allowed_secrets:
            yield Violation(
                path,
                "secrets",
                f"reading Secret {name!r} is not allowed in namespace {policy.namespace}",
                f"kubectl annotate namespace {policy.namespace} {SECRETS_ANNOTATION}={name} "
                "--overwrite (a comma list of names)",
            )


def _check_priority_class(
    spec: Mapping[str, Any], where: str, policy: Policy
) -> Iterator[Violation]:
    name = spec.get("priorityClassName")
    if not name:
        return
    if str(name).startswith("system-"):
        yield Violation(
            f"{where}.priorityClassName",
            "priorityClass",
            f"priority class {name!r} is reserved for the cluster's own components",
        )
    elif name not in policy.allowed_priority_classes:
        allowed = ", ".join(policy.allowed_priority_classes) or "none"
        yield Violation(
            f"{where}.priorityClassName",
            "priorityClass",
            f"priority class {name!r} is not allowed (allowed: {allowed})",
            f"add it to {CHART_PRIORITIES}",
        )


def _check_scheduling(spec: Mapping[str, Any], where: str) -> Iterator[Violation]:
    if spec.get("nodeName"):
        yield Violation(
            f"{where}.nodeName",
            "nodeName",
            "nodeName bypasses the scheduler and its taints; use nodeSelector or affinity",
        )
    for i, toleration in enumerate(_list(spec.get("tolerations"))):
        toleration = _map(toleration)
        key = toleration.get("key") or ""
        if not key and toleration.get("operator") == "Exists":
            yield Violation(
                f"{where}.tolerations[{i}]",
                "tolerations",
                "a toleration without a key tolerates every taint (control-plane and cordoned "
                "nodes included); name the taint's key",
            )
        elif key in FORBIDDEN_TOLERATIONS:
            yield Violation(
                f"{where}.tolerations[{i}].key",
                "tolerations",
                f"tolerating {key!r} would place the pod on control-plane or cordoned nodes",
            )


def _check_template_metadata(
    metadata: Mapping[str, Any], where: str, namespace: str
) -> Iterator[Violation]:
    for key in sorted(k for k in metadata if k not in ("labels", "annotations")):
        if key == "namespace" and metadata[key] in (None, "", namespace):
            continue
        yield Violation(
            f"{where}.{key}",
            "namespace" if key == "namespace" else "templateMetadata",
            f"a pod template may set only labels and annotations, not {key} ({metadata[key]!r})"
            + (f": Jobs run in the monitor's namespace {namespace}" if key == "namespace" else ""),
        )


# ---------------------------------------------------------------- entry points


def check_pod_template(
    template: Mapping[str, Any], policy: Policy, where: str = "spec.template"
) -> list[Violation]:
    """Every way a pod template (``{metadata, spec}``) breaks ``policy``; empty when it may run."""
    metadata = _map(template.get("metadata"))
    spec = _map(template.get("spec"))
    annotations = {str(k): str(v) for k, v in _map(metadata.get("annotations")).items()}
    spec_where = f"{where}.spec"
    return [
        *_check_template_metadata(metadata, f"{where}.metadata", policy.namespace),
        *_pod_security(spec, annotations, spec_where, policy),
        *_check_images(spec, spec_where, policy),
        *_check_service_account(spec, spec_where, policy),
        *_check_secrets(spec, spec_where, policy),
        *_check_priority_class(spec, spec_where, policy),
        *_check_scheduling(spec, spec_where),
    ]


def check_job(job: Mapping[str, Any], policy: Policy) -> list[Violation]:
    """Every way a batch/v1 Job manifest breaks ``policy``; the operator creates it only when empty."""
    out: list[Violation] = []
    namespace = _map(job.get("metadata")).get("namespace")
    if namespace not in (None, policy.namespace):
        out.append(
            Violation(
                "metadata.namespace",
                "namespace",
                f"Jobs of a monitor run in its namespace {policy.namespace}, not {namespace}",
            )
        )
    spec = _map(job.get("spec"))
    for key in ("manualSelector", "selector"):
        if spec.get(key) not in (None, False):
            out.append(
                Violation(
                    f"spec.{key}",
                    "podSelector",
                    "a Job would adopt (and may delete) every pod its own selector matches; "
                    "leave the selector to Kubernetes",
                )
            )
    if spec.get("managedBy") not in (None, JOB_CONTROLLER):
        out.append(
            Violation(
                "spec.managedBy",
                "managedBy",
                f"a Job handed to another controller ({spec['managedBy']!r}) escapes this "
                "policy and the namespace's own controls; leave it to Kubernetes' Job controller",
            )
        )
    out.extend(check_pod_template(_map(spec.get("template")), policy, "spec.template"))
    return out


def with_restricted_defaults(job: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``job`` with the restricted fields that have one safe value filled in where unset.

    Fills: the pod's ``seccompProfile: RuntimeDefault`` (when neither the pod nor any
    container names a profile), and per container ``allowPrivilegeEscalation: false``
    and ``capabilities.drop: [ALL]``. These never stop a workload that the
    restricted standard admits. ``runAsNonRoot``/``runAsUser`` are never filled in:
    whether an image runs as a non-root user only its author knows.
    """
    out = copy.deepcopy(dict(job))
    pod_spec = out.get("spec", {}).get("template", {}).get("spec")
    if not isinstance(pod_spec, dict):
        return out
    named = [kind for path, kind in _seccomp_types(pod_spec, "") if kind is not None]
    if not named:
        context = pod_spec.setdefault("securityContext", {})
        if isinstance(context, dict):
            context["seccompProfile"] = {"type": "RuntimeDefault"}
    for kind in CONTAINER_KINDS:
        for container in _list(pod_spec.get(kind)):
            if not isinstance(container, dict):
                continue
            context = container.setdefault("securityContext", {})
            if not isinstance(context, dict):
                continue
            context.setdefault("allowPrivilegeEscalation", False)
            capabilities = context.setdefault("capabilities", {})
            if isinstance(capabilities, dict) and not capabilities.get("drop"):
                capabilities["drop"] = ["ALL"]
    return out


# Where the analysis Job's fields come from in the monitor's spec (monitor/job.py builds it).
_ANALYSIS_FIELDS = (
    ("spec.template.spec.containers[0].image", "spec.job.image"),
    ("spec.template.spec.serviceAccountName", "spec.job.serviceAccountName"),
    ("spec.template.spec.priorityClassName", "spec.job.priorityClassName"),
    ("spec.template.spec.tolerations", "spec.job.tolerations"),
    ("spec.template.spec.nodeSelector", "spec.job.nodeSelector"),
    ("spec.template.spec.affinity", "spec.job.affinity"),
    ("spec.template.metadata.annotations", "spec.job.podAnnotations"),
)


def in_analysis_spec(violations: Iterable[Violation]) -> list[Violation]:
    """The analysis Job's violations named by the ``spec.job`` field the author wrote."""
    out = []
    for violation in violations:
        path = violation.path
        for built, written in _ANALYSIS_FIELDS:
            if path == built or path.startswith((built + ".", built + "[")):
                path = written + path[len(built) :]
                break
        out.append(replace(violation, path=path))
    return out


def describe(
    violations: Iterable[Violation], limit: int = 4, prefix: str = "", max_chars: int = 1000
) -> str:
    """One message for a condition or an Event: the first ``limit`` violations, then how to allow them.

    ``prefix`` goes before each field path (say, where the template sits in the
    monitor's spec). Each distinct remedy is said once, after the violations. The
    result has at most ``max_chars`` characters, so a condition and an Event (both
    bounded by the API) hold the same text.
    """
    # What no admin can allow first: the author has to change those whatever happens.
    items = sorted(violations, key=lambda v: v.remedy != NEVER)
    out = ""
    # Fewer violations rather than a cut remedy: what to do matters more than a long list.
    for count in range(min(limit, len(items)), 0, -1):
        out = _describe(items, count, prefix)
        if len(out) <= max_chars:
            return out
    return out if len(out) <= max_chars else out[: max_chars - 1] + "…"


def _describe(items: list[Violation], count: int, prefix: str) -> str:
    shown = items[:count]
    text = "; ".join(f"{prefix}{v}" for v in shown)
    if len(items) > count:
        text += f"; and {len(items) - count} more"
    remedies = list(dict.fromkeys(v.remedy for v in shown))
    allowed = [r for r in remedies if r != NEVER]
    never = f" (some are {NEVER})" if NEVER in remedies else ""
    return f"{text}. To allow{never}: {'; '.join(allowed)}" if allowed else f"{text} ({NEVER})"


# ---------------------------------------------------------------- status


POLICY_VIOLATION = "PolicyViolation"


def blocked_status(
    status: Mapping[str, Any], blocked: Mapping[str, str], now: datetime, generation: int
) -> dict[str, Any]:
    """``status`` with a False ``PolicyViolation`` condition for each refused Job.

    ``blocked`` maps a condition type to its message: ``Ready`` when the analysis
    Job was refused (the phase becomes ``Failed``: no run can start), and
    ``RetrainingTriggered`` when a retraining Job was (the analysis goes on).
    """
    out = dict(status)
    conditions = out.get("conditions")
    for kind, message in blocked.items():
        conditions = set_condition(
            conditions, kind, "False", POLICY_VIOLATION, message, now, generation
        )
        if kind == READY:
            out["phase"] = FAILED
    out["conditions"] = conditions
    return out
