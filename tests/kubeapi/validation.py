"""Errors (k8s ``Status`` objects) and the metadata validation every kind shares.

Messages follow k8s.io/apimachinery/pkg/util/validation, so a test that
fails here fails with the words a real cluster would use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(DNS1123_LABEL, value):
        errs.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
            f"regex used for validation is '{DNS1123_LABEL}')"
        )
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not re.fullmatch(DNS1123_SUBDOMAIN, value):
        errs.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
            "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
            f"regex used for validation is '{DNS1123_SUBDOMAIN}')"
        )
    return errs


def dns1035_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(DNS1035_LABEL, value):
        errs.append(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
            "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
            f"'abc-123', regex used for validation is '{DNS1035_LABEL}')"
        )
    return errs


def path_segment_name_errors(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    for bad in ("/", "%"):
        if bad in value:
            return [f"may not contain '{bad}'"]
    return []


def qualified_name_errors(value: str) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + e for e in dns1123_subdomain_errors(prefix))
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not re.fullmatch(QUALIFIED_NAME, name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
            f"regex used for validation is '{QUALIFIED_NAME}')"
        )
    return errs


def label_value_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(LABEL_VALUE, value):
        errs.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
            "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
            f"'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')"
        )
    return errs


def fmt_value(value: Any) -> str:
    """Render a value like Go's field.Invalid does (strings quoted, numbers bare)."""
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class Cause:
    """One field error (metav1.StatusCause), rendered as k8s field.Error does."""

    reason: str  # FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, ...
    field: str
    detail: str = ""
    value: Any = None
    has_value: bool = False

    @classmethod
    def invalid(cls, path: str, value: Any, detail: str) -> Cause:
        return cls("FieldValueInvalid", path, detail, value, True)

    @classmethod
    def required(cls, path: str, detail: str = "") -> Cause:
        return cls("FieldValueRequired", path, detail)

    @classmethod
    def forbidden(cls, path: str, detail: str) -> Cause:
        return cls("FieldValueForbidden", path, detail)

    @classmethod
    def not_supported(cls, path: str, value: Any, supported: list[Any]) -> Cause:
        listed = ", ".join(fmt_value(v) for v in supported)
        return cls("FieldValueNotSupported", path, f"supported values: {listed}", value, True)

    @classmethod
    def duplicate(cls, path: str, value: Any) -> Cause:
        return cls("FieldValueDuplicate", path, "", value, True)

    @classmethod
    def too_many(cls, path: str, actual: int, limit: int) -> Cause:
        return cls("FieldValueTooMany", path, f"must have at most {limit} items", actual, True)

    @classmethod
    def too_long(cls, path: str, limit: int) -> Cause:
        return cls("FieldValueTooLong", path, f"may not be more than {limit} bytes")

    @property
    def type_text(self) -> str:
        return {
            "FieldValueInvalid": "Invalid value",
            "FieldValueRequired": "Required value",
            "FieldValueForbidden": "Forbidden",
            "FieldValueNotSupported": "Unsupported value",
            "FieldValueDuplicate": "Duplicate value",
            "FieldValueTooMany": "Too many",
            "FieldValueTooLong": "Too long",
            "FieldValueNotFound": "Not found",
            "FieldValueTypeInvalid": "Invalid value",
        }.get(self.reason, self.reason)

    @property
    def message(self) -> str:
        text = self.type_text
        if self.has_value:
            text += ": " + fmt_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


REASON_FOR_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    504: "Timeout",
}


@dataclass
class ApiError(Exception):
    """An error answered as a k8s ``Status`` object."""

    code: int
    message: str
    reason: str = ""
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.reason:
            self.reason = REASON_FOR_CODE.get(self.code, "")
        super().__init__(self.message)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _gr(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404,
        f'{_gr(group, plural)} "{name}" not found',
        details={"name": name, "group": group, "kind": plural},
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409,
        f'{_gr(group, plural)} "{name}" already exists',
        reason="AlreadyExists",
        details={"name": name, "group": group, "kind": plural},
    )


def conflict(group: str, plural: str, name: str, detail: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {_gr(group, plural)} "{name}": {detail}',
        reason="Conflict",
        details={"name": name, "group": group, "kind": plural},
    )


def invalid(group: str, kind: str, name: str, causes: list[Cause]) -> ApiError:
    gk = f"{kind}.{group}" if group else kind
    rendered = [str(c) for c in causes]
    listed = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    return ApiError(
        422,
        f'{gk} "{name}" is invalid: {listed}',
        reason="Invalid",
        details={
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [
                {"reason": c.reason, "message": c.message, "field": c.field} for c in causes
            ],
        },
    )


def forbidden(group: str, plural: str, name: str, detail: str) -> ApiError:
    """403 as admission answers it: ``pods "NAME" is forbidden: DETAIL``."""
    return ApiError(
        403,
        f'{_gr(group, plural)} "{name}" is forbidden: {detail}',
        reason="Forbidden",
        details={"name": name, "group": group, "kind": plural},
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, reason="BadRequest")


# ---------------------------------------------------------------------------
# ObjectMeta validation (apimachinery/pkg/api/validation/objectmeta.go)


def validate_labels(labels: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if labels is None:
        return causes
    if not isinstance(labels, Mapping):
        return [Cause.invalid(path, labels, "must be a map of strings")]
    for key, value in labels.items():
        for err in qualified_name_errors(key):
            causes.append(Cause.invalid(path, key, err))
        if not isinstance(value, str):
            causes.append(Cause.invalid(f"{path}.{key}", value, "must be a string"))
            continue
        for err in label_value_errors(value):
            causes.append(Cause.invalid(path, value, err))
    return causes


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if annotations is None:
        return causes
    if not isinstance(annotations, Mapping):
        return [Cause.invalid(path, annotations, "must be a map of strings")]
    total = 0
    for key, value in annotations.items():
        for err in qualified_name_errors(key.lower()):
            causes.append(Cause.invalid(path, key, err))
        if not isinstance(value, str):
            causes.append(Cause.invalid(f"{path}.{key}", value, "must be a string"))
            continue
        total += len(key) + len(value)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(Cause.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}


def validate_finalizers(finalizers: Any, path: str) -> list[Cause]:
    if finalizers is None:
        return []
    if not isinstance(finalizers, list):
        return [Cause.invalid(path, finalizers, "must be a list of strings")]
    causes: list[Cause] = []
    seen = set()
    for i, fin in enumerate(finalizers):
        if not isinstance(fin, str):
            causes.append(Cause.invalid(f"{path}[{i}]", fin, "must be a string"))
            continue
        for err in qualified_name_errors(fin):
            causes.append(Cause.invalid(path, fin, err))
        if fin in seen:
            causes.append(Cause.duplicate(f"{path}[{i}]", fin))
        seen.add(fin)
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        causes.append(
            Cause.invalid(
                path,
                finalizers,
                "finalizer orphan and foregroundDeletion cannot be both set",
            )
        )
    return causes


def validate_owner_references(refs: Any, path: str) -> list[Cause]:
    if refs is None:
        return []
    if not isinstance(refs, list):
        return [Cause.invalid(path, refs, "must be a list")]
    causes: list[Cause] = []
    controllers = 0
    for i, ref in enumerate(refs):
        p = f"{path}[{i}]"
        if not isinstance(ref, Mapping):
            causes.append(Cause.invalid(p, ref, "must be an object"))
            continue
        if not ref.get("apiVersion"):
            causes.append(Cause.invalid(f"{p}.apiVersion", "", "version must not be empty"))
        if not ref.get("kind"):
            causes.append(Cause.invalid(f"{p}.kind", "", "kind must not be empty"))
        if not ref.get("name"):
            causes.append(Cause.invalid(f"{p}.name", "", "name must not be empty"))
        if not ref.get("uid"):
            causes.append(Cause.invalid(f"{p}.uid", "", "uid must not be empty"))
        if ref.get("controller"):
            controllers += 1
    if controllers > 1:
        causes.append(
            Cause.invalid(path, refs, "Only one reference can have Controller set to true.")
        )
    return causes


def validate_object_meta(
    meta: Mapping[str, Any],
    *,
    namespaced: bool,
    name_errors: Any,
    creating: bool,
) -> list[Cause]:
    """ValidateObjectMeta: name, namespace, labels, annotations, finalizers, owners."""
    causes: list[Cause] = []
    name = meta.get("name")
    if creating and not name and not meta.get("generateName"):
        causes.append(Cause.required("metadata.name", "name or generateName is required"))
    if name:
        if not isinstance(name, str):
            causes.append(Cause.invalid("metadata.name", name, "must be a string"))
        else:
            for err in name_errors(name):
                causes.append(Cause.invalid("metadata.name", name, err))
    gen = meta.get("generateName")
    if gen and not name:
        # The prefix is validated as a name with its trailing dash allowed.
        probe = gen + "a" if gen.endswith("-") or gen.endswith(".") else gen
        for err in name_errors(probe[:58]):
            causes.append(Cause.invalid("metadata.generateName", gen, err))
    if namespaced:
        ns = meta.get("namespace")
        if not ns:
            causes.append(Cause.required("metadata.namespace"))
        else:
            for err in dns1123_label_errors(ns):
                causes.append(Cause.invalid("metadata.namespace", ns, err))
    elif meta.get("namespace"):
        causes.append(Cause.forbidden("metadata.namespace", "not allowed on this type"))
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    causes += validate_annotations(meta.get("annotations"), "metadata.annotations")
    causes += validate_finalizers(meta.get("finalizers"), "metadata.finalizers")
    causes += validate_owner_references(meta.get("ownerReferences"), "metadata.ownerReferences")
    return causes


OBJECT_META_FIELDS = {
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
}
