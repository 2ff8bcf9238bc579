"""A small RBAC authorizer over rendered manifests, as the API server decides.

A request is allowed when a rule of a role bound to the operator's service account
matches its API group, resource (``plural`` or ``plural/subresource``), verb and, where
the rule names them, the object's name. ClusterRoles bound by a ClusterRoleBinding apply
everywhere; Roles (and ClusterRoles) bound by a RoleBinding only in its namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str  # plural, or plural/subresource
    namespace: str | None
    name: str | None

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else " (cluster)"
        name = f" {self.name}" if self.name else ""
        return f"{self.verb} {self.group or 'core'}/{self.resource}{name}{where}"


def _rule_allows(rule: Mapping[str, Any], request: Request) -> bool:
    return (
        request.group in rule.get("apiGroups", [])
        and request.resource in rule.get("resources", [])
        and request.verb in rule.get("verbs", [])
        and (not rule.get("resourceNames") or request.name in rule["resourceNames"])
    )


class Authorizer:
    def __init__(self, docs: Iterable[Mapping[str, Any]], account: str, namespace: str) -> None:
        docs = list(docs)
        roles = {
            (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d.get("rules") or []
            for d in docs
            if d["kind"] in ("Role", "ClusterRole")
        }

        def bound(binding: Mapping[str, Any]) -> bool:
            return any(
                s["kind"] == "ServiceAccount"
                and s["name"] == account
                and s.get("namespace", binding["metadata"].get("namespace")) == namespace
                for s in binding.get("subjects") or []
            )

        self.cluster_rules: list[Mapping[str, Any]] = []
        self.namespace_rules: dict[str, list[Mapping[str, Any]]] = {}
        for binding in docs:
            if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding") or not bound(binding):
                continue
            ref = binding["roleRef"]
            role_namespace = (
                None if ref["kind"] == "ClusterRole" else binding["metadata"]["namespace"]
            )
            rules = roles[(ref["kind"], role_namespace, ref["name"])]
            if binding["kind"] == "ClusterRoleBinding":
                self.cluster_rules.extend(rules)
            else:
                ns = binding["metadata"]["namespace"]
                self.namespace_rules.setdefault(ns, []).extend(rules)

    def allows(self, request: Request) -> bool:
        rules = list(self.cluster_rules)
        if request.namespace:
            rules += self.namespace_rules.get(request.namespace, [])
        return any(_rule_allows(rule, request) for rule in rules)

    def grants(self) -> set[tuple[str | None, str, str, str]]:
        """Every (namespace or None, group, resource, verb) granted."""
        granted = set()
        scoped = [(None, self.cluster_rules), *self.namespace_rules.items()]
        for namespace, rules in scoped:
            for rule in rules:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            granted.add((namespace, group, resource, verb))
        return granted
