"""The operator's RBAC: exactly what it needs, in the scope it serves, never Secrets."""

from __future__ import annotations

import pytest

from tests.chart.helpers import CUSTOM_VALUES, NAMESPACE, RELEASE, find, one, render
from tests.chart.rbac import Authorizer, Request

# What the operator and kopf call in each namespace they serve (see templates/rbac.yaml).
NAMESPACED = {
    ("driftwarden.io", "driftmonitors"): {"get", "list", "watch", "patch"},
    ("driftwarden.io", "driftmonitors/status"): {"get", "patch", "update"},
    ("driftwarden.io", "driftmonitors/finalizers"): {"update"},
    ("batch", "jobs"): {"get", "list", "watch", "create", "delete"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
}
CRDS = {("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"}}
NAMESPACES = {("", "namespaces"): {"list", "watch"}}
# The Job policy reads each served Namespace's annotations (cluster-scoped objects).
JOB_POLICY = {("", "namespaces"): {"get"}}
RENDERS = {
    "defaults": None,
    "custom": CUSTOM_VALUES,
    "cluster-wide-peering": {"replicaCount": 2},
    "namespaced-single": {"watchNamespaces": ["ml"]},
}


def _grants(rules):
    """{(group, resource): verbs} of a rule list, ignoring resourceNames."""
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


def _roles(docs):
    return [d for d in docs if d["kind"] in ("Role", "ClusterRole")]


@pytest.mark.parametrize("values", sorted(RENDERS))
def test_no_role_grants_secrets_wildcards_or_escalation(values):
    for role in _roles(render(RENDERS[values])):
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], (role["metadata"]["name"], rule)
            assert not {"secrets", "secrets/*"} & set(rule["resources"])
            assert not {"bind", "escalate", "impersonate"} & set(rule["verbs"])
            assert not {"configmaps", "serviceaccounts", "serviceaccounts/token"} & set(
                rule["resources"]
            )


def test_cluster_wide_operator_gets_exactly_what_it_uses():
    docs = render()
    operator = one(docs, "ClusterRole", RELEASE)
    assert _grants(operator["rules"]) == NAMESPACED | CRDS | JOB_POLICY
    assert not find(docs, "Role") and not find(docs, "RoleBinding")
    binding = one(docs, "ClusterRoleBinding", RELEASE)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": RELEASE,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}
    ]


def test_cluster_wide_peering_may_touch_only_its_own_peering_object():
    operator = one(render({"replicaCount": 2}), "ClusterRole", RELEASE)
    peering = [r for r in operator["rules"] if r["apiGroups"] == ["kopf.dev"]]
    assert peering == [
        {
            "apiGroups": ["kopf.dev"],
            "resources": ["clusterkopfpeerings"],
            "verbs": ["list", "watch"],
        },
        {
            "apiGroups": ["kopf.dev"],
            "resources": ["clusterkopfpeerings"],
            "resourceNames": [RELEASE],
            "verbs": ["get", "patch"],
        },
    ]


def test_namespaced_mode_grants_per_namespace_roles_and_only_discovery_cluster_wide():
    docs = render(CUSTOM_VALUES)
    operator = one(docs, "ClusterRole", RELEASE)
    assert _grants(operator["rules"]) == CRDS | {("", "namespaces"): {"list", "watch", "get"}}
    (policy,) = [
        r for r in operator["rules"] if "get" in r["verbs"] and r["resources"] == ["namespaces"]
    ]
    assert policy["resourceNames"] == ["a", "b"]  # only the namespaces it serves
    roles = {r["metadata"]["namespace"]: r for r in find(docs, "Role")}
    assert set(roles) == {"a", "b"}
    for role in roles.values():
        assert _grants(role["rules"]) == NAMESPACED | {
            ("kopf.dev", "kopfpeerings"): {"list", "watch", "get", "patch"}
        }
    bindings = {b["metadata"]["namespace"]: b for b in find(docs, "RoleBinding")}
    assert set(bindings) == {"a", "b"}
    for namespace, binding in bindings.items():
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["roleRef"]["name"] == roles[namespace]["metadata"]["name"]
        assert binding["subjects"][0]["namespace"] == NAMESPACE


def test_the_operator_can_work_only_in_the_namespaces_it_serves():
    auth = Authorizer(render(CUSTOM_VALUES), RELEASE, NAMESPACE)

    assert auth.allows(Request("create", "batch", "jobs", "a", None))
    assert not auth.allows(Request("create", "batch", "jobs", "kube-system", None))
    assert not auth.allows(Request("list", "batch", "jobs", None, None))
    assert not auth.allows(Request("patch", "kopf.dev", "kopfpeerings", "a", "someone-else"))


def test_aggregated_roles_give_people_driftmonitor_access_only():
    docs = render()
    edit = one(docs, "ClusterRole", f"{RELEASE}-edit")
    view = one(docs, "ClusterRole", f"{RELEASE}-view")
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    for role in (edit, view):
        assert {g for r in role["rules"] for g in r["apiGroups"]} == {"driftwarden.io"}
    assert _grants(view["rules"]) == {
        ("driftwarden.io", "driftmonitors"): {"get", "list", "watch"},
        ("driftwarden.io", "driftmonitors/status"): {"get", "list", "watch"},
    }
    docs = render({"rbac": {"aggregateToDefaultRoles": False}})
    assert [r["metadata"]["name"] for r in find(docs, "ClusterRole")] == [RELEASE]


def test_rbac_and_service_account_can_be_left_to_the_cluster_admin():
    docs = render({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "ops"}})
    assert not _roles(docs) and not find(docs, "ServiceAccount")
    assert not [d for d in docs if d["kind"].endswith("Binding")]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "ops"
