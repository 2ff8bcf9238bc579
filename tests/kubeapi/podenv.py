"""A container's environment as the kubelet builds it (``makeEnvironmentVariables`` in
pkg/kubelet/kubelet_pods.go; https://kubernetes.io/docs/tasks/inject-data-application/
environment-variable-expose-pod-information/ and .../define-environment-variable-container/).

Order and rules: ``envFrom`` sources first (ConfigMap/Secret keys, with ``prefix``), then
``env`` entries, later ones overriding earlier ones; ``value`` with ``$(VAR)`` expanded from
the variables defined before it (``$$`` escapes, unknown references stay as written);
``valueFrom.fieldRef`` (the downward API: ``metadata.name``, ``metadata.namespace``,
``metadata.uid``, ``metadata.labels['k']``, ``metadata.annotations['k']``, ``spec.nodeName``,
``spec.serviceAccountName``, ``status.hostIP``, ``status.podIP``; a missing label or
annotation gives ""), ``secretKeyRef`` (decoded), ``configMapKeyRef``. A missing
non-optional Secret/ConfigMap never gets here: the kubelet stand-in reports
CreateContainerConfigError first (``kubelet.config_error``). The kubelet expands ``$(VAR)``
in ``command`` and ``args`` with the same variables (``expand``).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from .validation import Cause, qualified_name_errors

ENV_FIELD_PATHS = [  # validEnvDownwardAPIFieldPathExpressions, sorted as the server lists them
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
]
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
_REFERENCE = re.compile(r"\$\$|\$\(([^)]*)\)")


def field_ref_value(pod: dict[str, Any], path: str) -> str:
    """The downward-API value of ``fieldPath`` ``path`` for ``pod`` (ExtractFieldPathAsString)."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    m = _SUBSCRIPT.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.hostIPs": ",".join(i.get("ip", "") for i in status.get("hostIPs") or []),
        "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or []),
    }
    if path not in simple:
        raise ValueError(
            f"fieldRef.fieldPath {path!r} is not supported in env (the API refuses it)"
        )
    return str(simple[path] or "")


def field_ref_causes(ref: dict[str, Any], where: str) -> list[Cause]:
    """``validateObjectFieldSelector`` for an env ``fieldRef`` at ``where``: a supported path,
    or labels/annotations with a subscript that is a qualified name."""
    path = ref.get("fieldPath")
    at = f"{where}.fieldPath"
    if not isinstance(path, str) or not path:
        return [Cause.required(at)]
    m = _SUBSCRIPT.match(path)
    if m:
        key = m.group(2).lower() if m.group(1) == "annotations" else m.group(2)
        return [Cause.invalid(at, key, err) for err in qualified_name_errors(key)]
    if path in ENV_FIELD_PATHS:
        return []
    return [Cause.not_supported(at, path, ENV_FIELD_PATHS)]


def expand(value: str, defined: dict[str, str]) -> str:
    """``$(VAR)`` references in ``value`` replaced from ``defined`` (``$$`` → ``$``; unknown
    references stay as written), as the kubelet expands env values, command and args."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return defined[name] if name in defined else m.group(0)

    return _REFERENCE.sub(one, value)


def _data(core: Any, namespace: str, kind: str, name: str) -> dict[str, str]:
    storage = "/secrets" if kind == "secret" else "/configmaps"
    found = core.find_stored(storage, namespace, name) or {}
    data = dict(found.get("data") or {})
    if kind == "secret":
        return {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
    return {k: str(v) for k, v in data.items()}


def container_env(core: Any, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """The environment the kubelet gives ``container`` of ``pod`` (call on the loop thread)."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for kind in ("configMap", "secret"):
            ref = source.get(kind + "Ref")
            if ref:
                for key, value in _data(core, namespace, kind.lower(), ref.get("name", "")).items():
                    env[prefix + key] = value
    for item in container.get("env") or []:
        name = item["name"]
        source = item.get("valueFrom")
        if not source:
            env[name] = expand(str(item.get("value") or ""), env)
        elif source.get("fieldRef"):
            env[name] = field_ref_value(pod, source["fieldRef"].get("fieldPath", ""))
        else:
            for kind in ("configMap", "secret"):
                ref = source.get(kind + "KeyRef")
                if ref:
                    data = _data(core, namespace, kind.lower(), ref.get("name", ""))
                    if ref.get("key") in data:
                        env[name] = data[ref["key"]]
    return env
