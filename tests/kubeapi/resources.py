"""Resource types: the built-in kinds the operator uses, and CRD-defined ones.

Each built-in kind carries the part of its registry strategy that a test can
observe: defaulting, validation, immutable fields, which fields the status
subresource owns, how deletion propagates by default, which field selectors
it supports.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import schema as openapi
from .jobvalidation import completions_update_causes, indexed_job_causes, pod_failure_policy_causes
from .patching import json_equal
from .podenv import field_ref_causes
from .selectors import dig
from .validation import (
    ApiError,
    Cause,
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    forbidden,
    label_value_errors,
    path_segment_name_errors,
    qualified_name_errors,
    validate_labels,
)
from .versions import drop_disabled_job_fields

if TYPE_CHECKING:
    from .core import Core

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

Hook = Callable[..., Any]


def _meta_getters(*extra: str) -> dict[str, Callable[[Mapping[str, Any]], str]]:
    getters: dict[str, Callable[[Mapping[str, Any]], str]] = {
        "metadata.name": lambda o: dig(o, "metadata.name"),
        "metadata.namespace": lambda o: dig(o, "metadata.namespace"),
    }
    for path in extra:
        getters[path] = lambda o, p=path: dig(o, p)
    return getters


@dataclass(eq=False)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    storage: str = ""
    has_generation: bool = False
    unconditional_update: bool = True
    return_deleted_object: bool = False
    default_propagation: str = "Background"
    name_errors: Callable[[str], list[str]] = dns1123_subdomain_errors
    field_getters: dict[str, Callable[[Mapping[str, Any]], str]] = field(
        default_factory=_meta_getters
    )
    # Custom resources only.
    custom: bool = False
    schema: dict[str, Any] | None = None
    crd_name: str = ""
    # Hooks: prepare_create(core, obj), prepare_update(core, new, old),
    # validate(core, obj, old) -> causes, admit_create(core, obj) may raise,
    # grace(obj, options) -> seconds, to_storage(obj), from_storage(obj).
    prepare_create: Hook | None = None
    prepare_update: Hook | None = None
    validate: Hook | None = None
    admit_create: Hook | None = None
    grace: Hook | None = None
    to_storage: Hook | None = None
    from_storage: Hook | None = None

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()
        if not self.storage:
            self.storage = f"{self.group}/{self.plural}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def external(self, stored: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(stored)
        if self.from_storage is not None:
            obj = self.from_storage(obj)
        obj["apiVersion"] = self.api_version
        obj["kind"] = self.kind
        return obj

    def internal(self, external: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(external)
        if self.to_storage is not None:
            obj = self.to_storage(obj)
        else:
            obj["apiVersion"] = self.api_version
            obj["kind"] = self.kind
        return obj


# ---------------------------------------------------------------------------
# Pod specs (shared by Pods and Job templates)


def _image_pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_pod_spec(spec: dict[str, Any], *, for_pod: bool) -> None:
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    if for_pod:
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
        spec["serviceAccount"] = spec["serviceAccountName"]
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            if isinstance(c.get("image"), str):
                c.setdefault("imagePullPolicy", _image_pull_policy(c["image"]))
            c.setdefault("resources", {})
            for env in c.get("env") or []:
                ref = (
                    (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
                )
                if isinstance(ref, dict):
                    ref.setdefault("apiVersion", "v1")  # SetDefaults_ObjectFieldSelector
            for port in c.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
    for vol in spec.get("volumes") or []:
        if isinstance(vol, dict):
            for src in ("secret", "configMap"):
                if isinstance(vol.get(src), dict):
                    vol[src].setdefault("defaultMode", 420)
            if not any(k != "name" for k in vol):
                vol["emptyDir"] = {}


def _check_resources(res: Any, path: str, causes: list[Cause]) -> None:
    if res is None:
        return
    if not isinstance(res, dict):
        causes.append(Cause.invalid(path, res, "must be an object"))
        return
    qty = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[munkMGTPE])?$")
    for part in ("limits", "requests"):
        for name, value in (res.get(part) or {}).items():
            if not qty.match(str(value)):
                causes.append(
                    Cause.invalid(
                        f"{path}.{part}[{name}]",
                        value,
                        "quantities must match the regular expression "
                        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                    )
                )
    for name, limit in (res.get("limits") or {}).items():
        req = (res.get("requests") or {}).get(name)
        if req is not None and _quantity(req) > _quantity(limit):
            causes.append(
                Cause.invalid(
                    f"{path}.requests",
                    req,
                    f"must be less than or equal to {name} limit of {limit}",
                )
            )


_SUFFIX = {
    "": 1, "m": 1e-3, "u": 1e-6, "n": 1e-9, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
    "E": 1e18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip


def _quantity(value: Any) -> float:
    m = re.match(r"^([+-]?[\d.]+(?:[eE][+-]?\d+)?)([A-Za-z]*)$", str(value))
    if not m or m.group(2) not in _SUFFIX:
        return 0.0
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def validate_pod_spec(spec: Any, path: str, *, restart_policies: tuple[str, ...]) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(spec, dict):
        return [Cause.required(path)]
    volumes = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        name = vol.get("name") if isinstance(vol, dict) else None
        if not name:
            causes.append(Cause.required(f"{path}.volumes[{i}].name"))
            continue
        for err in dns1123_label_errors(name):
            causes.append(Cause.invalid(f"{path}.volumes[{i}].name", name, err))
        if name in volumes:
            causes.append(Cause.duplicate(f"{path}.volumes[{i}].name", name))
        volumes.add(name)
    containers = spec.get("containers")
    if not containers:
        causes.append(Cause.required(f"{path}.containers"))
    names: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            cp = f"{path}.{key}[{i}]"
            if not isinstance(c, dict):
                causes.append(Cause.invalid(cp, c, "must be an object"))
                continue
            name = c.get("name")
            if not name:
                causes.append(Cause.required(f"{cp}.name"))
            else:
                for err in dns1123_label_errors(name):
                    causes.append(Cause.invalid(f"{cp}.name", name, err))
                if name in names:
                    causes.append(Cause.duplicate(f"{cp}.name", name))
                names.add(name)
            image = c.get("image")
            if not image or not str(image).strip():
                causes.append(Cause.required(f"{cp}.image"))
            for j, mount in enumerate(c.get("volumeMounts") or []):
                mname = mount.get("name") if isinstance(mount, dict) else None
                if mname not in volumes:
                    causes.append(
                        Cause("FieldValueNotFound", f"{cp}.volumeMounts[{j}].name", "", mname, True)
                    )
                if not (isinstance(mount, dict) and mount.get("mountPath")):
                    causes.append(Cause.required(f"{cp}.volumeMounts[{j}].mountPath"))
            for j, env in enumerate(c.get("env") or []):
                if not (isinstance(env, dict) and env.get("name")):
                    causes.append(Cause.required(f"{cp}.env[{j}].name"))
                    continue
                ref = (env.get("valueFrom") or {}).get("fieldRef")
                if isinstance(ref, dict):
                    causes += field_ref_causes(ref, f"{cp}.env[{j}].valueFrom.fieldRef")
            if "imagePullPolicy" in c and c["imagePullPolicy"] not in (
                "Always",
                "IfNotPresent",
                "Never",
            ):
                causes.append(
                    Cause.not_supported(
                        f"{cp}.imagePullPolicy",
                        c["imagePullPolicy"],
                        ["Always", "IfNotPresent", "Never"],
                    )
                )
            _check_resources(c.get("resources"), f"{cp}.resources", causes)
    rp = spec.get("restartPolicy")
    if rp is None:
        causes.append(
            Cause.required(
                f"{path}.restartPolicy",
                "valid values: " + ", ".join(f'"{p}"' for p in restart_policies),
            )
        )
    elif rp not in restart_policies:
        causes.append(Cause.not_supported(f"{path}.restartPolicy", rp, list(restart_policies)))
    sa = spec.get("serviceAccountName")
    if sa:
        for err in dns1123_subdomain_errors(sa):
            causes.append(Cause.invalid(f"{path}.serviceAccountName", sa, err))
    causes += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for i, tol in enumerate(spec.get("tolerations") or []):
        causes += _toleration_causes(tol, f"{path}.tolerations[{i}]")
    pcn = spec.get("priorityClassName")
    if pcn:
        for err in dns1123_subdomain_errors(str(pcn)):
            causes.append(Cause.invalid(f"{path}.priorityClassName", pcn, err))
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or ads <= 0):
        causes.append(
            Cause.invalid(
                f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive"
            )
        )
    return causes


TAINT_EFFECTS = ["NoExecute", "NoSchedule", "PreferNoSchedule"]


def _toleration_causes(tol: Any, path: str) -> list[Cause]:
    """ValidateTolerations (pkg/apis/core/validation/validation.go), rule for rule."""
    if not isinstance(tol, dict):
        return [Cause.invalid(path, tol, "must be an object")]
    causes: list[Cause] = []
    key, op, value = tol.get("key") or "", tol.get("operator") or "", tol.get("value") or ""
    effect = tol.get("effect") or ""
    if key:
        causes += [Cause.invalid(f"{path}.key", key, e) for e in qualified_name_errors(key)]
    if not key and op != "Exists":
        causes.append(Cause.invalid(f"{path}.operator", op,
                                    'operator must be Exists when `key` is empty, which means "match all values and all keys"'))  # fmt: skip
    if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
        causes.append(Cause.invalid(f"{path}.effect", effect,
                                    "effect must be 'NoExecute' when `tolerationSeconds` is set"))  # fmt: skip
    if op in ("Equal", ""):
        errs = label_value_errors(str(value))
        if errs:
            causes.append(Cause.invalid(f"{path}.operator", value, ";".join(errs)))
    elif op == "Exists":
        if value:
            causes.append(
                Cause.invalid(
                    f"{path}.operator", tol, "value must be empty when `operator` is 'Exists'"
                )
            )
    else:
        causes.append(Cause.not_supported(f"{path}.operator", op, ["Equal", "Exists"]))
    if effect and effect not in TAINT_EFFECTS:
        causes.append(Cause.not_supported(f"{path}.effect", effect, TAINT_EFFECTS))
    return causes


# ---------------------------------------------------------------------------
# PriorityClasses (scheduling.k8s.io/v1)


def priorityclass_validate(
    core: Core, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[Cause]:
    causes: list[Cause] = []
    value = obj.get("value")
    if not isinstance(value, int) or isinstance(value, bool):
        causes.append(Cause.required("value"))
    elif value > 1_000_000_000 and not obj["metadata"].get("name", "").startswith("system-"):
        causes.append(
            Cause.forbidden(
                "value", "maximum allowed value of a user defined priority is 1000000000"
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in ("Never", "PreemptLowerPriority"):
        causes.append(
            Cause.not_supported("preemptionPolicy", policy, ["Never", "PreemptLowerPriority"])
        )
    if old is not None and obj.get("value") != old.get("value"):
        causes.append(Cause.forbidden("value", "may not be changed in an update."))
    return causes


# ---------------------------------------------------------------------------
# Namespaces


def ns_prepare_create(core: Core, obj: dict[str, Any]) -> None:
    obj["spec"] = {"finalizers": ["kubernetes"]}
    obj["status"] = {"phase": "Active"}
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"][
        "name"
    ]


def ns_prepare_update(core: Core, new: dict[str, Any], old: dict[str, Any]) -> None:
    new["spec"] = copy.deepcopy(old.get("spec") or {})
    new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = old["metadata"][
        "name"
    ]


# ---------------------------------------------------------------------------
# Pods


def pod_prepare_create(core: Core, obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        default_pod_spec(spec, for_pod=True)
    obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}


def _qos_class(spec: Any) -> str:
    containers = (spec or {}).get("containers") or [] if isinstance(spec, dict) else []
    any_set, all_guaranteed = False, bool(containers)
    for c in containers:
        res = (c or {}).get("resources") or {} if isinstance(c, dict) else {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        if limits or requests:
            any_set = True
        if not (
            {"cpu", "memory"} <= set(limits)
            and all(requests.get(k, limits[k]) == limits[k] for k in ("cpu", "memory"))
        ):
            all_guaranteed = False
    if all_guaranteed:
        return "Guaranteed"
    return "Burstable" if any_set else "BestEffort"


def pod_admit_create(core: Core, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    sa = (obj.get("spec") or {}).get("serviceAccountName") or "default"
    if core.find_stored("/serviceaccounts", meta["namespace"], sa) is None:
        raise forbidden("", "pods", meta.get("name") or meta.get("generateName", ""),
                        f'error looking up service account {meta["namespace"]}/{sa}: serviceaccount "{sa}" not found')  # fmt: skip


def pod_validate(core: Core, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes = validate_pod_spec(
        obj.get("spec"), "spec", restart_policies=("Always", "OnFailure", "Never")
    )
    if old is not None and isinstance(obj.get("spec"), dict):

        def masked(spec: dict[str, Any]) -> dict[str, Any]:
            spec = copy.deepcopy(spec)
            for key in ("containers", "initContainers"):
                for c in spec.get(key) or []:
                    c.pop("image", None)
            spec.pop("activeDeadlineSeconds", None)
            spec.pop("tolerations", None)
            return spec

        if not json_equal(masked(obj["spec"]), masked(old.get("spec") or {})):
            causes.append(
                Cause.forbidden(
                    "spec",
                    "pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                    "`spec.tolerations` (only additions to existing tolerations),"
                    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                    "previously negative)",
                )
            )
    return causes


def pod_grace(obj: dict[str, Any], options: Mapping[str, Any]) -> int:
    spec = obj.get("spec") or {}
    phase = (obj.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    grace = options.get("gracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    return max(int(grace), 0)


# ---------------------------------------------------------------------------
# Jobs (batch/v1)

JOB_LABELS = (
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "controller-uid",
    "job-name",
)


def job_prepare_create(core: Core, obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    meta = obj["metadata"]
    drop_disabled_job_fields(core.version, spec)
    spec.setdefault("parallelism", 1)
    if spec.get("completionMode", "NonIndexed") == "NonIndexed":
        spec.setdefault("completions", 1)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("backoffLimit", 6 if spec.get("backoffLimitPerIndex") is None else 2147483647)
    spec.setdefault("suspend", False)
    policy = spec.get("podFailurePolicy")
    if core.version >= (1, 29):
        # SetDefaults_Job: with a podFailurePolicy a pod is replaced only once it has failed.
        spec.setdefault("podReplacementPolicy", "Failed" if policy else "TerminatingOrFailed")
    for rule in (policy.get("rules") if isinstance(policy, dict) else None) or []:
        for pattern in (rule.get("onPodConditions") if isinstance(rule, dict) else None) or []:
            if isinstance(pattern, dict):
                pattern.setdefault("status", "True")
    template = spec.setdefault("template", {})
    if not isinstance(template, dict):
        return
    tmeta = template.setdefault("metadata", {})
    tspec = template.setdefault("spec", {})
    if isinstance(tspec, dict):
        default_pod_spec(tspec, for_pod=False)
    if not spec.get("manualSelector"):
        if spec.get("selector"):
            return  # rejected by job_validate
        uid, name = meta["uid"], meta.get("name", "")
        labels = tmeta.setdefault("labels", {})
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    if not meta.get("labels"):
        meta["labels"] = dict(tmeta.get("labels") or {})
    obj["status"] = {}


def job_prepare_update(core: Core, new: dict[str, Any], old: dict[str, Any]) -> None:
    if isinstance(new.get("spec"), dict):
        drop_disabled_job_fields(core.version, new["spec"], old.get("spec") or {})


def _nonneg(spec: dict[str, Any], key: str, causes: list[Cause]) -> None:
    value = spec.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        causes.append(Cause.invalid(f"spec.{key}", value, "must be greater than or equal to 0"))


def job_validate(core: Core, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    meta = obj["metadata"]
    name = meta.get("name", "")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [Cause.required("spec")]
    if old is None:
        for err in label_value_errors(name):
            causes.append(Cause.invalid("metadata.name", name, err))
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    tlabels = (template.get("metadata") or {}).get("labels") or {}
    for key in JOB_LABELS:
        value = tlabels.get(key)
        if isinstance(value, str) and label_value_errors(value):
            causes.append(
                Cause.invalid("spec.template.labels", value, label_value_errors(value)[0])
            )
            break
    if (
        not spec.get("manualSelector")
        and old is None
        and spec.get("selector")
        and not tlabels.get("batch.kubernetes.io/controller-uid")
    ):
        causes.append(
            Cause.invalid("spec.selector", spec["selector"], "`selector` will be auto-generated")
        )
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if any(tlabels.get(k) != v for k, v in selector.items()):
        causes.append(
            Cause.invalid(
                "spec.template.metadata.labels",
                tlabels,
                "`selector` does not match template `labels`",
            )
        )
    for key in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        _nonneg(spec, key, causes)
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or ads < 0):
        causes.append(
            Cause.invalid("spec.activeDeadlineSeconds", ads, "must be greater than or equal to 0")
        )
    mode = spec.get("completionMode")
    if mode not in ("NonIndexed", "Indexed"):
        causes.append(Cause.not_supported("spec.completionMode", mode, ["NonIndexed", "Indexed"]))
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(Cause.required("spec.completions", "when completion mode is Indexed"))
    causes += indexed_job_causes(name, spec) + pod_failure_policy_causes(spec)
    if spec.get("podFailurePolicy") is None and spec.get("podReplacementPolicy") not in (
        ("TerminatingOrFailed", "Failed") if core.version >= (1, 29) else (None,)
    ):
        causes.append(
            Cause.not_supported(
                "spec.podReplacementPolicy",
                spec.get("podReplacementPolicy"),
                ["Failed", "TerminatingOrFailed"],
            )
        )
    causes += validate_pod_spec(
        template.get("spec"), "spec.template.spec", restart_policies=("OnFailure", "Never")
    )
    if old is not None:
        old_spec = old.get("spec") or {}
        causes += completions_update_causes(core.version, spec, old_spec)
        for key in (
            "selector",
            "completionMode",
            "podFailurePolicy",
            "backoffLimitPerIndex",
            "managedBy",
            "successPolicy",
        ):
            if not json_equal(spec.get(key), old_spec.get(key)):
                causes.append(Cause.invalid(f"spec.{key}", spec.get(key), "field is immutable"))
        if not json_equal(spec.get("template"), old_spec.get("template")):
            causes.append(
                Cause.invalid("spec.template", spec.get("template"), "field is immutable")
            )
    return causes


# ---------------------------------------------------------------------------
# ConfigMaps and Secrets

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_SECRET_SIZE = 1024 * 1024


def _config_key_causes(keys: Any, path: str) -> list[Cause]:
    causes = []
    for key in keys:
        if len(key) > 253 or not _CONFIG_KEY.match(key) or key in (".", ".."):
            causes.append(
                Cause.invalid(
                    path,
                    key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                    "is '[-._a-zA-Z0-9]+')",
                )
            )
    return causes


def _check_immutable_data(
    obj: dict[str, Any], old: dict[str, Any] | None, keys: tuple[str, ...]
) -> list[Cause]:
    if old is None:
        return []
    causes = []
    if old.get("immutable") is True:
        if obj.get("immutable") is not True:
            causes.append(
                Cause.forbidden("immutable", "field is immutable when `immutable` is set")
            )
        for key in keys:
            if not json_equal(obj.get(key) or {}, old.get(key) or {}):
                causes.append(Cause.forbidden(key, "field is immutable when `immutable` is set"))
    return causes


def configmap_validate(core: Core, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    causes += _config_key_causes(data, "data")
    causes += _config_key_causes(binary, "binaryData")
    for value in data.values():
        if not isinstance(value, str):
            raise ApiError(
                400,
                f"json: cannot unmarshal {type(value).__name__} into Go struct field ConfigMap.data of type string",
            )
    for key in set(data) & set(binary):
        causes.append(Cause.invalid("data", key, "duplicate of key present in binaryData"))
    for key, value in binary.items():
        _b64(value, f"binaryData[{key}]")
    size = sum(len(k) + len(v) for k, v in data.items()) + sum(
        len(k) + len(v) for k, v in binary.items()
    )
    if size > MAX_SECRET_SIZE:
        causes.append(Cause.too_long("", MAX_SECRET_SIZE))
    causes += _check_immutable_data(obj, old, ("data", "binaryData"))
    return causes


def _b64(value: Any, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ApiError(400, f"illegal base64 data in {where}") from None


def secret_prepare(core: Core, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    obj.setdefault("type", "Opaque")


def secret_validate(core: Core, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    data = obj.get("data") or {}
    causes += _config_key_causes(data, "data")
    total = 0
    for key, value in data.items():
        total += len(_b64(value, f"data[{key}]"))
    if total > MAX_SECRET_SIZE:
        causes.append(Cause.too_long("data", MAX_SECRET_SIZE))
    stype = obj.get("type")
    if stype == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                causes.append(Cause.required(f"data[{key}]"))
    if stype == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in data:
        causes.append(Cause.required("data[.dockerconfigjson]"))
    if old is not None and old.get("type") != stype:
        causes.append(Cause.invalid("type", stype, "field is immutable"))
    causes += _check_immutable_data(obj, old, ("data",))
    return causes


def secret_prepare_update(core: Core, new: dict[str, Any], old: dict[str, Any]) -> None:
    secret_prepare(core, new, old)


# ---------------------------------------------------------------------------
# Events: one storage, two APIs (core/v1 and events.k8s.io/v1)

EVENT_FIELD_MAP = [  # (core/v1, events.k8s.io/v1)
    ("involvedObject", "regarding"),
    ("related", "related"),
    ("message", "note"),
    ("reason", "reason"),
    ("type", "type"),
    ("action", "action"),
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("reportingComponent", "reportingController"),
    ("reportingInstance", "reportingInstance"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
]


def events_to_core(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Event", "metadata": obj.get("metadata", {})}
    for core_key, new_key in EVENT_FIELD_MAP:
        if obj.get(new_key) is not None:
            out[core_key] = obj[new_key]
    return out


def core_to_events(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": obj.get("metadata", {})}
    for core_key, new_key in EVENT_FIELD_MAP:
        if obj.get(core_key) is not None:
            out[new_key] = obj[core_key]
    return out


def _event_common(obj: dict[str, Any], controller_field: str) -> list[Cause]:
    causes: list[Cause] = []
    if not obj.get("reportingComponent"):
        causes.append(Cause.required(controller_field))
    else:
        for err in qualified_name_errors(obj["reportingComponent"]):
            causes.append(Cause.invalid(controller_field, obj["reportingComponent"], err))
    for key, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = obj.get(key) or ""
        if not value:
            causes.append(Cause.required(key))
        elif len(value) > limit:
            causes.append(Cause.invalid(key, "", f"can have at most {limit} characters"))
    if len(obj.get("message") or "") > 1024:
        causes.append(Cause.invalid("message", "", "can have at most 1024 characters"))
    return causes


def core_event_validate(core: Core, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """legacyValidateEvent, as applied to events created through core/v1."""
    causes: list[Cause] = []
    ns = obj["metadata"].get("namespace", "")
    involved_ns = (obj.get("involvedObject") or {}).get("namespace", "")
    if not obj.get("eventTime"):
        if not involved_ns:
            if ns not in ("", "default"):
                causes.append(
                    Cause.invalid(
                        "involvedObject.namespace", involved_ns, "does not match event.namespace"
                    )
                )
        elif ns != involved_ns:
            causes.append(
                Cause.invalid(
                    "involvedObject.namespace", involved_ns, "does not match event.namespace"
                )
            )
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            causes.append(
                Cause.invalid(
                    "involvedObject.namespace", involved_ns, "does not match event.namespace"
                )
            )
        causes += _event_common(obj, "reportingComponent")
    if obj.get("type") not in (None, "", "Normal", "Warning"):
        causes.append(Cause.invalid("type", obj.get("type"), "has invalid value"))
    return causes


def events_v1_validate(core: Core, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateEventCreate for events.k8s.io/v1 (strict). ``obj`` is in core/v1 storage form."""
    causes = core_event_validate(core, obj, old)
    if old is None:
        if not obj.get("eventTime"):
            causes.append(Cause.required("eventTime"))
        if obj.get("type") not in ("Normal", "Warning"):
            causes.append(Cause.invalid("type", "", f"has invalid value: {obj.get('type') or ''}"))
        if obj.get("firstTimestamp"):
            causes.append(Cause.invalid("deprecatedFirstTimestamp", "", "needs to be unset"))
        if obj.get("lastTimestamp"):
            causes.append(Cause.invalid("deprecatedLastTimestamp", "", "needs to be unset"))
        if obj.get("count"):
            causes.append(Cause.invalid("deprecatedCount", "", "needs to be unset"))
        if obj.get("source"):
            causes.append(Cause.invalid("deprecatedSource", "", "needs to be unset"))
    # core_event_validate names the core fields; rename for this API.
    rename = {
        "involvedObject": "regarding",
        "message": "note",
        "reportingComponent": "reportingController",
    }
    for c in causes:
        head, _, rest = c.field.partition(".")
        if head in rename:
            c.field = rename[head] + ("." + rest if rest else "")
    return causes


def event_getters(prefix: str, core_api: bool) -> dict[str, Callable[[Mapping[str, Any]], str]]:
    getters = _meta_getters()
    for sub in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
        getters[f"{prefix}.{sub}"] = lambda o, s=sub: dig(o, f"involvedObject.{s}")
    getters["reason"] = lambda o: dig(o, "reason")
    getters["type"] = lambda o: dig(o, "type")
    if core_api:
        getters["reportingComponent"] = lambda o: dig(o, "reportingComponent")
        getters["source"] = lambda o: dig(o, "source.component")
    else:
        getters["reportingController"] = lambda o: dig(o, "reportingComponent")
    return getters


# ---------------------------------------------------------------------------
# Leases


def lease_validate(core: Core, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes = []
    spec = obj.get("spec") or {}
    for key in ("leaseDurationSeconds", "leaseTransitions"):
        value = spec.get(key)
        if value is not None and (
            not isinstance(value, int) or value < (1 if key == "leaseDurationSeconds" else 0)
        ):
            causes.append(
                Cause.invalid(
                    f"spec.{key}",
                    value,
                    "must be greater than 0"
                    if key == "leaseDurationSeconds"
                    else "must be greater than or equal to 0",
                )
            )
    return causes


# ---------------------------------------------------------------------------
# CustomResourceDefinitions

CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def crd_prepare_create(core: Core, obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    for v in spec.get("versions") or []:
        if isinstance(v, dict):
            v.setdefault("served", False)
            v.setdefault("storage", False)
    obj["metadata"].setdefault("finalizers", [])
    if CRD_FINALIZER not in obj["metadata"]["finalizers"]:
        obj["metadata"]["finalizers"].append(CRD_FINALIZER)
    _crd_status(obj)


def _crd_status(obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    storage = [
        v.get("name")
        for v in spec.get("versions") or []
        if isinstance(v, dict) and v.get("storage")
    ]
    old_stored = (obj.get("status") or {}).get("storedVersions") or []
    now = _now()
    obj["status"] = {
        "acceptedNames": copy.deepcopy(spec.get("names") or {}),
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": list(dict.fromkeys([*old_stored, *storage])),
    }  # fmt: skip


def crd_prepare_update(core: Core, new: dict[str, Any], old: dict[str, Any]) -> None:
    names = (new.get("spec") or {}).get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    new["status"] = copy.deepcopy(old.get("status") or {})
    _crd_status(new)


def crd_validate(core: Core, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [Cause.required("spec")]
    group = spec.get("group") or ""
    if not group:
        causes.append(Cause.required("spec.group"))
    else:
        causes += [Cause.invalid("spec.group", group, e) for e in dns1123_subdomain_errors(group)]
        if "." not in group:
            causes.append(
                Cause.invalid("spec.group", group, "should be a domain with at least one dot")
            )
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    plural = names.get("plural") or ""
    if not plural:
        causes.append(Cause.required("spec.names.plural"))
    else:
        causes += [
            Cause.invalid("spec.names.plural", plural, e) for e in dns1123_label_errors(plural)
        ]
    if not names.get("kind"):
        causes.append(Cause.required("spec.names.kind"))
    elif not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", names["kind"]):
        causes.append(Cause.invalid("spec.names.kind", names["kind"], "must be a valid Kind"))
    for key in ("singular",):
        if names.get(key):
            causes += [
                Cause.invalid(f"spec.names.{key}", names[key], e)
                for e in dns1123_label_errors(names[key])
            ]
    for i, short in enumerate(names.get("shortNames") or []):
        causes += [
            Cause.invalid(f"spec.names.shortNames[{i}]", short, e)
            for e in dns1123_label_errors(short)
        ]
    name = obj["metadata"].get("name")
    if plural and group and name != f"{plural}.{group}":
        causes.append(
            Cause.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            Cause.not_supported("spec.scope", spec.get("scope"), ["Cluster", "Namespaced"])
        )
    if spec.get("preserveUnknownFields"):
        causes.append(
            Cause.invalid(
                "spec.preserveUnknownFields",
                True,
                "must be false in order to use defaults in the schema",
            )
        )
    versions = spec.get("versions")
    if not versions:
        causes.append(
            Cause.invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    else:
        seen = set()
        storage = 0
        for i, v in enumerate(versions):
            vp = f"spec.versions[{i}]"
            if not isinstance(v, dict):
                causes.append(Cause.invalid(vp, v, "must be an object"))
                continue
            vname = v.get("name") or ""
            causes += [Cause.invalid(f"{vp}.name", vname, e) for e in dns1035_label_errors(vname)]
            if vname in seen:
                causes.append(Cause.duplicate(f"{vp}.name", vname))
            seen.add(vname)
            storage += 1 if v.get("storage") else 0
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                causes.append(
                    Cause.required(f"{vp}.schema.openAPIV3Schema", "schemas are required")
                )
            else:
                causes += openapi.check_structural(schema, f"{vp}.schema.openAPIV3Schema")
            subs = v.get("subresources") or {}
            for key in subs:
                if key not in ("status", "scale"):
                    causes.append(
                        Cause.not_supported(f"{vp}.subresources.{key}", key, ["scale", "status"])
                    )
            for j, sel in enumerate(v.get("selectableFields") or []):
                jp = (sel or {}).get("jsonPath", "")
                if not re.fullmatch(r"(\.[A-Za-z0-9_-]+)+", jp):
                    causes.append(
                        Cause.invalid(
                            f"{vp}.selectableFields[{j}].jsonPath",
                            jp,
                            "must be a simple field path",
                        )
                    )
        if storage != 1:
            causes.append(
                Cause.invalid(
                    "spec.versions",
                    versions,
                    "must have exactly one version marked as storage version",
                )
            )
        if not any(isinstance(v, dict) and v.get("served") for v in versions):
            causes.append(
                Cause.invalid(
                    "spec.versions", versions, "must have at least one version marked as served"
                )
            )
    if old is not None:
        old_spec = old.get("spec") or {}
        for key in ("group", "scope"):
            if spec.get(key) != old_spec.get(key):
                causes.append(Cause.invalid(f"spec.{key}", spec.get(key), "field is immutable"))
        if plural != (old_spec.get("names") or {}).get("plural"):
            causes.append(Cause.invalid("spec.names.plural", plural, "field is immutable"))
    return causes


def custom_types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd["spec"]
    names = spec["names"]
    out = []
    for v in spec["versions"]:
        if not v.get("served"):
            continue
        getters = _meta_getters()
        for sel in v.get("selectableFields") or []:
            path = sel["jsonPath"].lstrip(".")
            getters[path] = lambda o, p=path: dig(o, p)
        out.append(
            ResourceType(
                group=spec["group"],
                version=v["name"],
                plural=names["plural"],
                kind=names["kind"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec["scope"] == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(k for k in (v.get("subresources") or {}) if k == "status"),
                has_generation=True,
                unconditional_update=False,
                name_errors=_cr_name_errors(v),
                field_getters=getters,
                custom=True,
                schema=(v.get("schema") or {}).get("openAPIV3Schema"),
                crd_name=crd["metadata"]["name"],
            )
        )
    return out


def _cr_name_errors(version: Mapping[str, Any]) -> Callable[[str], list[str]]:
    meta_schema = (
        ((version.get("schema") or {}).get("openAPIV3Schema") or {}).get("properties") or {}
    ).get("metadata") or {}
    name_schema = (meta_schema.get("properties") or {}).get("name")

    def check(name: str) -> list[str]:
        errs = dns1123_subdomain_errors(name) + path_segment_name_errors(name)
        if name_schema:
            errs += [c.detail for c in openapi.validate(name, name_schema, "metadata.name")]
        return errs

    return check


def _now() -> str:
    from .core import now_rfc3339

    return now_rfc3339()


def builtin_types() -> list[ResourceType]:
    core_event_getters = event_getters("involvedObject", core_api=True)
    new_event_getters = event_getters("regarding", core_api=False)
    return [
        ResourceType(
            "", "v1", "namespaces", "Namespace", False, short_names=("ns",),
            subresources=("status", "finalize"), name_errors=dns1123_label_errors,
            return_deleted_object=True,
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
            field_getters=_meta_getters("status.phase"),
            prepare_create=ns_prepare_create, prepare_update=ns_prepare_update,
        ),
        ResourceType(
            "", "v1", "pods", "Pod", True, short_names=("po",), categories=("all",),
            subresources=("status", "log"), return_deleted_object=True,
            field_getters=_meta_getters(
                "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
                "status.nominatedNodeName",
            ),
            prepare_create=pod_prepare_create, validate=pod_validate,
            admit_create=pod_admit_create, grace=pod_grace,
        ),
        ResourceType(
            "", "v1", "events", "Event", True, short_names=("ev",), storage="/events",
            field_getters=core_event_getters, validate=core_event_validate,
        ),
        ResourceType(
            "events.k8s.io", "v1", "events", "Event", True, short_names=("ev",),
            storage="/events", field_getters=new_event_getters, validate=events_v1_validate,
            to_storage=events_to_core, from_storage=core_to_events,
        ),
        ResourceType(
            "", "v1", "secrets", "Secret", True, field_getters=_meta_getters("type"),
            prepare_create=secret_prepare, prepare_update=secret_prepare_update,
            validate=secret_validate,
        ),
        ResourceType(
            "", "v1", "configmaps", "ConfigMap", True, short_names=("cm",),
            validate=configmap_validate,
        ),
        ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, short_names=("sa",)),
        ResourceType(
            "batch", "v1", "jobs", "Job", True, categories=("all",), subresources=("status",),
            has_generation=True, default_propagation="Orphan",
            field_getters=_meta_getters("status.successful"),
            prepare_create=job_prepare_create, prepare_update=job_prepare_update,
            validate=job_validate,
        ),
        ResourceType(
            "scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, short_names=("pc",),
            unconditional_update=True, validate=priorityclass_validate,
        ),
        ResourceType(
            "coordination.k8s.io", "v1", "leases", "Lease", True, validate=lease_validate,
        ),
        ResourceType(
            "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
            False, short_names=("crd", "crds"), subresources=("status",), has_generation=True,
            unconditional_update=False, prepare_create=crd_prepare_create,
            prepare_update=crd_prepare_update, validate=crd_validate,
        ),
    ]  # fmt: skip
