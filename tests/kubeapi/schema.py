"""The openAPIV3Schema subset that apiextensions-apiserver enforces on custom resources.

Written here rather than with a JSON-Schema library because kube-apiserver's
rules differ from any JSON-Schema draft (structural schemas, pruning,
defaulting, ``nullable``, ``x-kubernetes-*`` extensions) and because tests
want the real field paths and messages (``spec.size: Invalid value: 20:
spec.size in body should be less than or equal to 10``).

Not evaluated: ``x-kubernetes-validations`` (CEL rules). They are accepted in
a CRD, as a real server does, but never checked here: test them on a real
cluster (the kind-based e2e).
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import re
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from .validation import OBJECT_META_FIELDS, Cause, dns1123_subdomain_errors, fmt_value

TYPES = ("object", "array", "string", "integer", "number", "boolean")
FORBIDDEN_KEYWORDS = (
    "$ref",
    "$schema",
    "id",
    "definitions",
    "dependencies",
    "patternProperties",
    "additionalItems",
)
VALUE_VALIDATION_KEYWORDS = ("allOf", "anyOf", "oneOf", "not")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------------------
# Structural schema check (for CRD admission)


def check_structural(schema: Any, path: str) -> list[Cause]:
    """Errors that make kube-apiserver reject a CRD version's openAPIV3Schema."""
    causes: list[Cause] = []
    if not isinstance(schema, Mapping):
        return [Cause.required(path)]
    if schema.get("type") != "object":
        causes.append(
            Cause.invalid(_join(path, "type"), schema.get("type"), "must be object at the root")
        )
    _check_node(schema, path, causes, root=True, in_value_validation=False, under_meta=False)
    meta = (schema.get("properties") or {}).get("metadata")
    if isinstance(meta, Mapping):
        allowed = {"type", "properties", "description"}
        extra = set(meta) - allowed
        if extra or set(meta.get("properties") or {}) - {"name", "generateName"}:
            causes.append(
                Cause.forbidden(
                    _join(path, "properties[metadata]"),
                    "must not specify anything other than name and generateName, "
                    "but metadata is implicitly specified",
                )
            )
    return causes


def _check_node(
    s: Mapping[str, Any],
    path: str,
    causes: list[Cause],
    *,
    root: bool = False,
    in_value_validation: bool,
    under_meta: bool,
) -> None:
    for kw in FORBIDDEN_KEYWORDS:
        if kw in s:
            causes.append(Cause.forbidden(_join(path, kw), f"{kw} is not supported"))
    t = s.get("type")
    int_or_string = s.get("x-kubernetes-int-or-string")
    preserve = s.get("x-kubernetes-preserve-unknown-fields")
    if t is not None and t not in TYPES:
        causes.append(Cause.not_supported(_join(path, "type"), t, list(TYPES)))
    if int_or_string and t:
        causes.append(
            Cause.forbidden(
                _join(path, "type"), "must be empty if x-kubernetes-int-or-string is true"
            )
        )
    if not in_value_validation and not t and not int_or_string and not preserve:
        causes.append(
            Cause.required(_join(path, "type"), "must not be empty for specified object fields")
        )
    if preserve is False:
        causes.append(
            Cause.invalid(
                _join(path, "x-kubernetes-preserve-unknown-fields"),
                False,
                "must be true or undefined",
            )
        )
    if s.get("uniqueItems") is True:
        causes.append(
            Cause.forbidden(
                _join(path, "uniqueItems"),
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    props = s.get("properties")
    addl = s.get("additionalProperties")
    if props is not None and addl is not None:
        causes.append(
            Cause.forbidden(
                _join(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            )
        )
    if addl is False:
        causes.append(
            Cause.forbidden(
                _join(path, "additionalProperties"), "additionalProperties cannot be set to false"
            )
        )
    if (props is not None or isinstance(addl, Mapping)) and t not in (None, "object"):
        causes.append(
            Cause.invalid(_join(path, "type"), t, "must be object if properties are specified")
        )
    if t == "array" and not in_value_validation:
        items = s.get("items")
        if items is None:
            causes.append(Cause.required(_join(path, "items"), "must be specified"))
        elif not isinstance(items, Mapping):
            causes.append(
                Cause.forbidden(
                    _join(path, "items"), "items must be a schema object and not an array"
                )
            )
    if s.get("x-kubernetes-embedded-resource"):
        if t != "object":
            causes.append(
                Cause.invalid(
                    _join(path, "type"),
                    t,
                    "must be object if x-kubernetes-embedded-resource is true",
                )
            )
        if not props and not preserve:
            causes.append(
                Cause.required(
                    _join(path, "properties"),
                    "must not be empty if x-kubernetes-embedded-resource is true without "
                    "x-kubernetes-preserve-unknown-fields",
                )
            )
    list_type = s.get("x-kubernetes-list-type")
    if list_type is not None:
        if list_type not in ("atomic", "set", "map"):
            causes.append(
                Cause.not_supported(
                    _join(path, "x-kubernetes-list-type"), list_type, ["atomic", "set", "map"]
                )
            )
        if t != "array":
            causes.append(
                Cause.invalid(
                    _join(path, "type"), t, "must be array if x-kubernetes-list-type is specified"
                )
            )
        if list_type == "map":
            keys = s.get("x-kubernetes-list-map-keys")
            if not keys:
                causes.append(
                    Cause.required(
                        _join(path, "x-kubernetes-list-map-keys"),
                        "must not be empty if x-kubernetes-list-type is map",
                    )
                )
            item = s.get("items") or {}
            for key in keys or []:
                item_prop = (item.get("properties") or {}).get(key)
                if item_prop is None:
                    causes.append(
                        Cause.invalid(
                            _join(path, "x-kubernetes-list-map-keys"),
                            keys,
                            f"entries must all be names of item properties: {key}",
                        )
                    )
                elif key not in (item.get("required") or []) and "default" not in item_prop:
                    causes.append(
                        Cause.required(
                            _join(path, "items.properties." + key),
                            "all map keys must be required or have a default value",
                        )
                    )
    if "default" in s:
        if under_meta:
            causes.append(Cause.forbidden(_join(path, "default"), "must not be set under metadata"))
        elif not in_value_validation:
            default = copy.deepcopy(s["default"])
            if not (default is None and s.get("nullable")):
                removed: list[str] = []
                prune(default, s, "", removed)
                if removed:
                    causes.append(
                        Cause.invalid(
                            _join(path, "default"),
                            s["default"],
                            f"must not have unknown fields: {', '.join(removed)}",
                        )
                    )
                for cause in validate(default, s, "<default>"):
                    causes.append(Cause.invalid(_join(path, "default"), s["default"], str(cause)))
    for key, sub in (props or {}).items():
        if isinstance(sub, Mapping):
            _check_node(
                sub,
                f"{path}.properties[{key}]",
                causes,
                in_value_validation=in_value_validation,
                under_meta=under_meta or (root and key == "metadata"),
            )
        else:
            causes.append(
                Cause.invalid(f"{path}.properties[{key}]", sub, "must be a schema object")
            )
    if isinstance(addl, Mapping):
        _check_node(
            addl,
            _join(path, "additionalProperties"),
            causes,
            in_value_validation=in_value_validation,
            under_meta=under_meta,
        )
    items = s.get("items")
    if isinstance(items, Mapping):
        _check_node(
            items,
            _join(path, "items"),
            causes,
            in_value_validation=in_value_validation,
            under_meta=under_meta,
        )
    for kw in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(kw) or []):
            if isinstance(sub, Mapping):
                _check_node(
                    sub,
                    f"{path}.{kw}[{i}]",
                    causes,
                    in_value_validation=True,
                    under_meta=under_meta,
                )
    if isinstance(s.get("not"), Mapping):
        _check_node(
            s["not"], _join(path, "not"), causes, in_value_validation=True, under_meta=under_meta
        )


# ---------------------------------------------------------------------------
# Pruning (unknown fields are dropped, as with preserveUnknownFields: false)


def prune(
    value: Any, s: Mapping[str, Any] | None, path: str, removed: list[str], *, root: bool = False
) -> None:
    if s is None:
        return
    if isinstance(value, dict):
        embedded = root or s.get("x-kubernetes-embedded-resource")
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        preserve = s.get("x-kubernetes-preserve-unknown-fields")
        for key in list(value):
            sub_path = _join(path, key)
            if embedded and key in ("apiVersion", "kind"):
                continue
            if embedded and key == "metadata":
                _prune_meta(value[key], sub_path, removed)
                continue
            if key in props:
                prune(value[key], props[key], sub_path, removed)
            elif isinstance(addl, Mapping):
                prune(value[key], addl, sub_path, removed)
            elif addl is True or preserve:
                continue
            else:
                removed.append(sub_path)
                del value[key]
    elif isinstance(value, list):
        items = s.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                prune(item, items, f"{path}[{i}]", removed)


def _prune_meta(meta: Any, path: str, removed: list[str]) -> None:
    if isinstance(meta, dict):
        for key in list(meta):
            if key not in OBJECT_META_FIELDS:
                removed.append(_join(path, key))
                del meta[key]


# ---------------------------------------------------------------------------
# Defaulting


def apply_defaults(value: Any, s: Mapping[str, Any] | None) -> None:
    """Prune non-nullable nulls without defaults, then apply defaults (structural part only)."""
    if s is None:
        return
    if isinstance(value, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for key, prop in props.items():
            if key in value and value[key] is None and not prop.get("nullable"):
                if "default" in prop:
                    value[key] = copy.deepcopy(prop["default"])
                else:
                    del value[key]
            elif key not in value and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
        for key, item in value.items():
            if key in props:
                apply_defaults(item, props[key])
            elif isinstance(addl, Mapping):
                apply_defaults(item, addl)
    elif isinstance(value, list):
        items = s.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                if item is None and "default" in items and not items.get("nullable"):
                    value[i] = copy.deepcopy(items["default"])
                else:
                    apply_defaults(item, items)


# ---------------------------------------------------------------------------
# Validation


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value: Any, t: str) -> bool:
    actual = _type_of(value)
    if t == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    if t == "number":
        return actual in ("integer", "number")
    return actual == t


def _type_error(path: str, value: Any, t: str) -> Cause:
    actual = _type_of(value)
    return Cause(
        "FieldValueTypeInvalid",
        path,
        f'{path} in body must be of type {t}: "{actual}"',
        actual,
        True,
    )


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$")
_DURATION = re.compile(
    r"^[-+]?(\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h|d|w|"
    r"nanoseconds?|microseconds?|milliseconds?|seconds?|sec|minutes?|min|hours?|hr|days?|weeks?|wk)\s*)+$"
)
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}([0-9A-Fa-f]{2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _format_ok(fmt: str, value: str) -> bool:
    try:
        if fmt in ("date-time", "datetime"):
            if not _DATE_TIME.match(value):
                return False
            date.fromisoformat(value[:10])
            return True
        if fmt == "date":
            date.fromisoformat(value)
            return len(value) == 10
        if fmt == "duration":
            return bool(_DURATION.match(value))
        if fmt == "byte":
            base64.b64decode(value, validate=True)
            return True
        if fmt in ("uuid", "uuid3", "uuid4", "uuid5"):
            u = uuid.UUID(value)
            return fmt == "uuid" or u.version == int(fmt[-1])
        if fmt == "ipv4":
            ipaddress.IPv4Address(value)
            return True
        if fmt == "ipv6":
            ipaddress.IPv6Address(value)
            return True
        if fmt == "cidr":
            ipaddress.ip_network(value, strict=False)
            return "/" in value
        if fmt == "hostname":
            return not dns1123_subdomain_errors(value.lower()) or value == ""
        if fmt == "mac":
            return bool(_MAC.match(value))
        if fmt == "email":
            return bool(_EMAIL.match(value))
    except (ValueError, binascii.Error):
        return False
    return True  # unknown formats are not validated, as in kube-openapi


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def validate(value: Any, s: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    _validate(value, s, path, causes)
    return causes


def _validate(value: Any, s: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    if value is None and s.get("nullable"):
        return
    t = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        if not (_is_type(value, "integer") or _is_type(value, "string")):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    path,
                    f'{path} in body must be of type integer,string: "{_type_of(value)}"',
                    _type_of(value),
                    True,
                )
            )
            return
    elif t and not _is_type(value, t):
        causes.append(_type_error(path, value, t))
        return

    if "enum" in s and value not in s["enum"]:
        causes.append(Cause.not_supported(path, value, list(s["enum"])))

    if isinstance(value, str):
        n = len(value)
        if "maxLength" in s and n > s["maxLength"]:
            causes.append(Cause.too_long(path, s["maxLength"]))
        if "minLength" in s and n < s["minLength"]:
            causes.append(
                Cause.invalid(
                    path, value, f"{path} in body should be at least {s['minLength']} chars long"
                )
            )
        if "pattern" in s and not re.search(s["pattern"], value):
            causes.append(
                Cause.invalid(path, value, f"{path} in body should match '{s['pattern']}'")
            )
        if "format" in s and not _format_ok(s["format"], value):
            causes.append(
                Cause.invalid(
                    path, value, f"{path} in body must be of type {s['format']}: {fmt_value(value)}"
                )
            )
    if _type_of(value) in ("integer", "number"):
        if "maximum" in s:
            if s.get("exclusiveMaximum") and not value < s["maximum"]:
                causes.append(
                    Cause.invalid(
                        path, value, f"{path} in body should be less than {_num(s['maximum'])}"
                    )
                )
            elif value > s["maximum"]:
                causes.append(
                    Cause.invalid(
                        path,
                        value,
                        f"{path} in body should be less than or equal to {_num(s['maximum'])}",
                    )
                )
        if "minimum" in s:
            if s.get("exclusiveMinimum") and not value > s["minimum"]:
                causes.append(
                    Cause.invalid(
                        path, value, f"{path} in body should be greater than {_num(s['minimum'])}"
                    )
                )
            elif value < s["minimum"]:
                causes.append(
                    Cause.invalid(
                        path,
                        value,
                        f"{path} in body should be greater than or equal to {_num(s['minimum'])}",
                    )
                )
        if s.get("multipleOf"):
            q = value / s["multipleOf"]
            if abs(q - round(q)) > 1e-9:
                causes.append(
                    Cause.invalid(
                        path,
                        value,
                        f"{path} in body should be a multiple of {_num(s['multipleOf'])}",
                    )
                )
    if isinstance(value, list):
        if "maxItems" in s and len(value) > s["maxItems"]:
            causes.append(Cause.too_many(path, len(value), s["maxItems"]))
        if "minItems" in s and len(value) < s["minItems"]:
            causes.append(
                Cause.invalid(
                    path, len(value), f"{path} in body should have at least {s['minItems']} items"
                )
            )
        items = s.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                _validate(item, items, f"{path}[{i}]", causes)
        list_type = s.get("x-kubernetes-list-type")
        if list_type == "set":
            seen: list[Any] = []
            for i, item in enumerate(value):
                if item in seen:
                    causes.append(Cause.duplicate(f"{path}[{i}]", item))
                seen.append(item)
        elif list_type == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            seen_keys: list[tuple[Any, ...]] = []
            for i, item in enumerate(value):
                if not isinstance(item, Mapping):
                    continue
                k = tuple(item.get(key) for key in keys)
                if k in seen_keys:
                    shown = {key: item.get(key) for key in keys}
                    causes.append(Cause.duplicate(f"{path}[{i}]", shown))
                seen_keys.append(k)
    if isinstance(value, dict):
        props = s.get("properties") or {}
        for req in s.get("required") or []:
            if req not in value:
                causes.append(Cause.required(_join(path, req)))
        if "maxProperties" in s and len(value) > s["maxProperties"]:
            causes.append(Cause.too_many(path, len(value), s["maxProperties"]))
        if "minProperties" in s and len(value) < s["minProperties"]:
            causes.append(
                Cause.invalid(
                    path,
                    len(value),
                    f"{path} in body should have at least {s['minProperties']} properties",
                )
            )
        addl = s.get("additionalProperties")
        for key, item in value.items():
            sub = _join(path, key)
            if key in props:
                _validate(item, props[key], sub, causes)
            elif isinstance(addl, Mapping):
                _validate(item, addl, sub, causes)
        if s.get("x-kubernetes-embedded-resource"):
            for key in ("apiVersion", "kind"):
                if not value.get(key):
                    causes.append(Cause.required(_join(path, key), "must not be empty"))
    for sub_schema in s.get("allOf") or []:
        _validate(value, sub_schema, path, causes)
    if s.get("anyOf") and not any(not validate(value, sub, path) for sub in s["anyOf"]):
        causes.append(
            Cause.invalid(path, value, f"{path} in body must validate at least one schema (anyOf)")
        )
    if s.get("oneOf"):
        matching = sum(1 for sub in s["oneOf"] if not validate(value, sub, path))
        if matching != 1:
            causes.append(
                Cause.invalid(
                    path, value, f"{path} in body must validate one and only one schema (oneOf)"
                )
            )
    if isinstance(s.get("not"), Mapping) and not validate(value, s["not"], path):
        causes.append(
            Cause.invalid(path, value, f"{path} in body should not validate the schema (not)")
        )
