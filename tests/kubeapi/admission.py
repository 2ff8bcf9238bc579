"""Admission: the checks a real API server runs after an object passed validation.

- Refusal rules a test installs (``KubeAPIServer.refuse``) stand in for ResourceQuota,
  LimitRange, RBAC-denied or webhook-denied requests: per namespace, resource and verb,
  answered with the ``Status`` object a real server sends (kind Status, status Failure,
  reason, code, message, details).
- Priority admission (mutating, so before the name is generated): a pod naming an unknown
  PriorityClass is forbidden, a known one sets ``spec.priority``.
- Pod Security Admission ``enforce`` from the namespace's label (``pss.py`` holds the checks).

Pod creation by the Job controller stand-in goes through the same chain, so a refused pod
shows up as a ``FailedCreate`` Event on the Job, as on a real cluster.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import pss
from .validation import REASON_FOR_CODE, ApiError, forbidden

if TYPE_CHECKING:
    from .core import Core
    from .resources import ResourceType

VERBS = ("create", "update", "patch", "delete")
_ids = itertools.count(1)


@dataclass
class Refusal:
    """One refusal rule. ``remove()`` uninstalls it; ``hits`` counts the requests it refused."""

    namespace: str | None
    plural: str
    group: str | None
    verbs: tuple[str, ...]
    status: int
    reason: str
    message: str | None
    match: Callable[[dict[str, Any]], bool] | None
    count: int | None
    causes: list[dict[str, str]] = field(default_factory=list)
    hits: int = 0
    id: int = field(default_factory=lambda: next(_ids))
    _owner: Admission | None = field(default=None, repr=False)

    def applies(
        self, verb: str, rt: ResourceType, namespace: str | None, obj: dict[str, Any]
    ) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        if verb not in self.verbs or rt.plural != self.plural:
            return False
        if self.group is not None and rt.group != self.group:
            return False
        if self.namespace is not None and (namespace or "") != self.namespace:
            return False
        return self.match is None or bool(self.match(obj))

    def error(self, rt: ResourceType, obj: dict[str, Any]) -> ApiError:
        meta = obj.get("metadata") or {}
        name = meta.get("name") or meta.get("generateName") or ""
        resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
        message = (
            self.message or '{resource} "{name}" is forbidden: refused by a test admission rule'
        ).format(name=name, resource=resource, namespace=meta.get("namespace", ""))
        details: dict[str, Any] = {"name": name, "group": rt.group, "kind": rt.plural}
        if self.causes:
            details["causes"] = list(self.causes)
        return ApiError(self.status, message, reason=self.reason, details=details)

    def remove(self) -> None:
        if self._owner is not None:
            self._owner.remove(self)


class Admission:
    """The admission chain of one server (thread-safe: tests add rules from their thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.refusals: list[Refusal] = []

    def refuse(
        self,
        namespace: str | None,
        plural: str,
        *,
        group: str | None = None,
        verbs: str | tuple[str, ...] = "create",
        status: int = 403,
        reason: str | None = None,
        message: str | None = None,
        match: Callable[[dict[str, Any]], bool] | None = None,
        count: int | None = None,
        causes: list[Mapping[str, str]] | None = None,
    ) -> Refusal:
        verbs = (verbs,) if isinstance(verbs, str) else tuple(verbs)
        unknown = [v for v in verbs if v not in VERBS]
        if unknown:
            raise ValueError(f"refuse(verbs=...): unknown verb(s) {unknown}; use {VERBS}")
        if not 400 <= status <= 599:
            raise ValueError(f"refuse(status={status}): an admission refusal is a 4xx or 5xx code")
        rule = Refusal(
            namespace, plural, group, verbs, status, reason or REASON_FOR_CODE.get(status, "Forbidden"),
            message, match, count, [dict(c) for c in causes or []], _owner=self,
        )  # fmt: skip
        with self._lock:
            self.refusals.append(rule)
        return rule

    def remove(self, rule: Refusal) -> None:
        with self._lock:
            self.refusals = [r for r in self.refusals if r.id != rule.id]

    def mutate(self, core: Core, verb: str, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Mutating admission (before the name is generated): Priority for pods."""
        if rt.storage == "/pods" and verb == "create":
            admit_priority(core, obj)

    def review(
        self, core: Core, verb: str, rt: ResourceType, namespace: str | None, obj: dict[str, Any]
    ) -> None:
        """Validating admission: raise the ApiError of the first check that refuses ``obj``."""
        if rt.storage == "/pods" and verb == "create":
            pss.enforce(core, obj)
        with self._lock:
            rules = list(self.refusals)
        for rule in rules:
            if rule.applies(verb, rt, namespace, obj):
                rule.hits += 1
                raise rule.error(rt, obj)


def admit_priority(core: Core, pod: dict[str, Any]) -> None:
    """The Priority admission plugin: resolve priorityClassName into spec.priority."""
    spec = pod.get("spec") or {}
    name = spec.get("priorityClassName")
    if not name:
        return
    pc = core.find_stored("scheduling.k8s.io/priorityclasses", "", name)
    if pc is None:
        meta = pod["metadata"]
        raise forbidden("", "pods", meta.get("name") or meta.get("generateName", ""),
                        f"no PriorityClass with name {name} was found")  # fmt: skip
    spec["priority"] = pc.get("value", 0)
    spec.setdefault("preemptionPolicy", pc.get("preemptionPolicy", "PreemptLowerPriority"))
