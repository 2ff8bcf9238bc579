"""The three patch formats kube-apiserver accepts as JSON.

* JSON merge patch (RFC 7386): ``application/merge-patch+json``.
* JSON patch (RFC 6902): ``application/json-patch+json``. A failed ``test``
  or a missing path is a 422, as on a real server (kopf relies on that).
* Strategic merge patch: ``application/strategic-merge-patch+json``, only for
  built-in kinds (custom resources answer 415, as a real server does). Lists
  with a Kubernetes merge key are merged by that key (``containers`` by
  ``name``, ``conditions`` by ``type``, ``ownerReferences`` by ``uid``, ...),
  ``metadata.finalizers`` is merged as a set (so a strategic patch cannot drop
  a finalizer by omitting it, as on a real cluster), and the ``$patch:
  delete|replace`` and ``$deleteFromPrimitiveList/...`` directives work.
  ``$retainKeys`` and ``$setElementOrder`` are accepted and ignored.
"""

from __future__ import annotations

import copy
from typing import Any

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}
PRIMITIVE_SET_PATHS = {("metadata", "finalizers")}


class PatchError(Exception):
    """The patch applies to nothing (422) or is malformed (400, when ``bad_request``)."""

    def __init__(self, message: str, *, bad_request: bool = False) -> None:
        super().__init__(message)
        self.bad_request = bad_request


def json_equal(a: Any, b: Any) -> bool:
    """Equality with JSON types: ``True`` is not ``1``; ``1`` equals ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------------------
# RFC 7386


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---------------------------------------------------------------------------
# RFC 6902


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError(f"invalid JSON pointer: {path!r}", bad_request=True)
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(
            f'JSON pointer must be empty or start with a "/": {path!r}', bad_request=True
        )
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"Unable to access invalid index: {token}: {path}")
    idx = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if idx > limit:
        raise PatchError(f"Unable to access invalid index: {idx}: {path}")
    return idx


def _parent(doc: Any, parts: list[str], path: str, op: str) -> Any:
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict):
            if part not in cur:
                raise PatchError(
                    f'{op} operation does not apply: doc is missing path: "{path}": missing value'
                )
            cur = cur[part]
        elif isinstance(cur, list):
            cur = cur[_index(cur, part, path, allow_end=False)]
        else:
            raise PatchError(
                f'{op} operation does not apply: doc is missing path: "{path}": missing value'
            )
    return cur


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, path, op)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(
                f'{op} operation does not apply: doc is missing path: "{path}": missing value'
            )
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, allow_end=False)]
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, path, op)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), value)
    else:
        raise PatchError(
            f'{op} operation does not apply: doc is missing path: "{path}": missing value'
        )
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise PatchError(f"{op} operation does not apply: cannot remove the whole document")
    parent = _parent(doc, parts, path, op)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(
                f'{op} operation does not apply: doc is missing path: "{path}": missing value'
            )
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, path, allow_end=False))
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch", bad_request=True
        )
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}", bad_request=True)
        kind = op["op"]
        path = op.get("path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{kind} operation does not apply: missing value", bad_request=True)
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path, "replace")
            if _pointer(path):
                parent = _parent(doc, _pointer(path), path, "replace")
                last = _pointer(path)[-1]
                if isinstance(parent, dict):
                    parent[last] = copy.deepcopy(op["value"])
                else:
                    parent[_index(parent, last, path, allow_end=False)] = copy.deepcopy(op["value"])
            else:
                doc = copy.deepcopy(op["value"])
        elif kind == "move":
            src = op.get("from")
            doc, value = _remove(doc, src, "move")
            doc = _add(doc, path, value, "move")
        elif kind == "copy":
            value = copy.deepcopy(_get(doc, op.get("from"), "copy"))
            doc = _add(doc, path, value, "copy")
        elif kind == "test":
            try:
                have = _get(doc, path, "test")
            except PatchError:
                raise PatchError(f"testing value {path} failed: test failed") from None
            if not json_equal(have, op["value"]):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}", bad_request=True)
    return doc


# ---------------------------------------------------------------------------
# Strategic merge patch (built-in kinds only)

_DELETE = object()


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return copy.deepcopy(value)


def strategic_merge_patch(target: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object", bad_request=True)
    result = _smp_map(target if isinstance(target, dict) else {}, patch, path)
    return {} if result is _DELETE else result


def _smp_map(orig: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _strip_directives(patch)
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive}", bad_request=True)
    result = copy.deepcopy(orig)
    for key, pv in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [x for x in result[field] if x not in (pv or [])]
            continue
        if key.startswith("$"):
            continue
        sub = (*path, key)
        if pv is None:
            result.pop(key, None)
        elif isinstance(pv, dict):
            ov = result.get(key)
            merged = _smp_map(ov if isinstance(ov, dict) else {}, pv, sub)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(pv, list):
            result[key] = _smp_list(result.get(key), pv, sub)
        else:
            result[key] = pv
    return result


def _smp_list(orig: Any, patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    orig_list = copy.deepcopy(orig) if isinstance(orig, list) else []
    if path in PRIMITIVE_SET_PATHS:
        return orig_list + [x for x in patch if x not in orig_list]
    key = MERGE_KEYS.get(path[-1])
    if key is None or not all(isinstance(x, dict) for x in patch):
        return _strip_directives(patch)
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [_strip_directives(x) for x in patch if x.get("$patch") != "replace"]
    out = orig_list
    for item in patch:
        mk = item.get(key)
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == mk), None)
        if item.get("$patch") == "delete":
            out = [x for x in out if not (isinstance(x, dict) and x.get(key) == mk)]
        elif idx is None:
            out.append(_strip_directives(item))
        else:
            out[idx] = _smp_map(out[idx], item, path)
    return out
