"""The DriftMonitor CRD as test tools: JSON Schema, defaulting, list-map keys and CEL rules.

A minimal translation of the CRD's openAPIV3Schema, close to what
kube-apiserver does for the parts these tests rely on:

- ``nullable`` adds ``null`` to the type; OpenAPI 3.0 boolean
  ``exclusiveMinimum``/``exclusiveMaximum`` become JSON-Schema numbers;
- objects with ``properties`` refuse unknown fields (kubectl's default strict
  field validation) unless ``x-kubernetes-preserve-unknown-fields``;
- ``default`` values are applied like structural defaulting;
- ``x-kubernetes-list-type: map`` keys must be unique;
- ``x-kubernetes-validations`` are evaluated with cel-python, with ``number``
  fields as CEL doubles as the API server does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from .helpers import CRD_PATH

_COPY = (
    "enum",
    "pattern",
    "required",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
)


def load_crd() -> dict[str, Any]:
    with CRD_PATH.open() as handle:
        return yaml.safe_load(handle)


def open_api_schema(crd: Mapping[str, Any] | None = None) -> dict[str, Any]:
    crd = crd or load_crd()
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def to_json_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for one openAPIV3Schema node."""
    out: dict[str, Any] = {key: copy.deepcopy(node[key]) for key in _COPY if key in node}
    if "type" in node:
        out["type"] = [node["type"], "null"] if node.get("nullable") else node["type"]
    if node.get("exclusiveMinimum") is True:
        out["exclusiveMinimum"] = out.pop("minimum")
    if node.get("exclusiveMaximum") is True:
        out["exclusiveMaximum"] = out.pop("maximum")
    if "properties" in node:
        out["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items()}
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(node.get("additionalProperties"), Mapping):
        out["additionalProperties"] = to_json_schema(node["additionalProperties"])
    if "items" in node:
        out["items"] = to_json_schema(node["items"])
    if "anyOf" in node:
        out["anyOf"] = [to_json_schema(sub) for sub in node["anyOf"]]
    return out


def apply_defaults(value: Any, node: Mapping[str, Any]) -> Any:
    """``value`` with the schema's defaults filled in where fields are absent (a copy)."""
    value = copy.deepcopy(value)
    _default(value, node)
    return value


def _default(value: Any, node: Mapping[str, Any]) -> None:
    if isinstance(value, dict):
        for key, sub in (node.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _default(value[key], sub)
        if isinstance(node.get("additionalProperties"), Mapping):
            for item in value.values():
                _default(item, node["additionalProperties"])
    elif isinstance(value, list) and "items" in node:
        for item in value:
            _default(item, node["items"])


def list_map_errors(value: Any, node: Mapping[str, Any], path: str = "") -> list[str]:
    """Duplicate keys in ``x-kubernetes-list-type: map`` lists."""
    errors: list[str] = []
    if isinstance(value, dict):
        for key, sub in (node.get("properties") or {}).items():
            if key in value:
                errors += list_map_errors(value[key], sub, f"{path}.{key}")
    elif isinstance(value, list) and "items" in node:
        if node.get("x-kubernetes-list-type") == "map":
            keys = [
                tuple(item.get(k) for k in node["x-kubernetes-list-map-keys"]) for item in value
            ]
            if len(keys) != len(set(keys)):
                errors.append(
                    f"{path}: duplicate entries for key {node['x-kubernetes-list-map-keys']}"
                )
        for i, item in enumerate(value):
            errors += list_map_errors(item, node["items"], f"{path}[{i}]")
    return errors


def rules(node: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``x-kubernetes-validations`` rule with the path of the node it sits on."""
    for rule in node.get("x-kubernetes-validations") or []:
        yield path, rule
    for key, sub in (node.get("properties") or {}).items():
        yield from rules(sub, f"{path}.{key}")
    if "items" in node:
        yield from rules(node["items"], f"{path}[]")


def _typed(value: Any, node: Mapping[str, Any] | None) -> Any:
    """Numbers in ``number`` fields as floats (the API server gives CEL doubles there)."""
    node = node or {}
    if isinstance(value, bool):
        return value
    if node.get("type") == "number" and isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        props = node.get("properties") or {}
        extra = (
            node.get("additionalProperties")
            if isinstance(node.get("additionalProperties"), Mapping)
            else None
        )
        return {k: _typed(v, props.get(k, extra)) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v, node.get("items")) for v in value]
    return value


def cel_errors(
    value: Any, node: Mapping[str, Any], path: str = "", *, recurse: bool = True
) -> list[str]:
    """Messages of the CEL rules ``value`` breaks (a rule that cannot be evaluated breaks too).

    ``recurse=False`` evaluates only the rules on ``node`` itself.
    """
    import celpy

    errors: list[str] = []
    if value is None:
        return errors
    env = celpy.Environment()
    for rule in node.get("x-kubernetes-validations") or []:
        program = env.program(env.compile(rule["rule"]))
        try:
            result = program.evaluate({"self": celpy.json_to_cel(_typed(value, node))})
        except Exception as exc:  # evaluation errors reject, as in the API server
            result = exc
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            errors.append(f"{path or '<root>'}: {rule['message']}")
    if not recurse:
        return errors
    if isinstance(value, dict):
        for key, sub in (node.get("properties") or {}).items():
            if key in value:
                errors += cel_errors(value[key], sub, f"{path}.{key}")
    elif isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            errors += cel_errors(item, node["items"], f"{path}[{i}]")
    return errors
