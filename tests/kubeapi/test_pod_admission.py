"""Pod admission: Pod Security "restricted"/"baseline" enforcement, PriorityClass, ServiceAccount."""

from __future__ import annotations

from typing import Any

from .server import KubeAPIServer

RESTRICTED_SC = {
    "allowPrivilegeEscalation": False, "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
}  # fmt: skip


def pod(name: str, sc: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox", **({"securityContext": sc} if sc else {})}
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def namespace(kube_api: KubeAPIServer, name: str, level: str) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": name, "labels": {"pod-security.kubernetes.io/enforce": level}}})  # fmt: skip


def test_restricted_namespace_refuses_a_default_pod_with_every_check_named(
    kube_api: KubeAPIServer,
) -> None:
    namespace(kube_api, "locked", "restricted")
    status, body, _ = kube_api.http("POST", "/api/v1/namespaces/locked/pods", pod("p"))
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'pods "p" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "main" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "main" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "main" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "main" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )  # fmt: skip
    assert (
        kube_api.http("POST", "/api/v1/namespaces/locked/pods", pod("ok", RESTRICTED_SC))[0] == 201
    )


def test_restricted_refuses_host_access_even_with_a_restricted_security_context(
    kube_api: KubeAPIServer,
) -> None:
    namespace(kube_api, "locked", "restricted")
    hostile = pod("h", {**RESTRICTED_SC, "privileged": True}, hostNetwork=True, hostPID=True,
                  volumes=[{"name": "root", "hostPath": {"path": "/"}}])  # fmt: skip
    status, body, _ = kube_api.http("POST", "/api/v1/namespaces/locked/pods", hostile)
    assert status == 403
    for words in ("host namespaces (hostNetwork=true, hostPID=true)", "privileged (container \"main\"",
                  'hostPath volumes (volume "root")', 'restricted volume types (volume "root" uses restricted volume type "hostPath")'):  # fmt: skip
        assert words in body["message"]


def test_baseline_allows_what_restricted_refuses_but_not_host_access(
    kube_api: KubeAPIServer,
) -> None:
    namespace(kube_api, "base", "baseline")
    assert kube_api.http("POST", "/api/v1/namespaces/base/pods", pod("plain"))[0] == 201
    status, body, _ = kube_api.http(
        "POST", "/api/v1/namespaces/base/pods", pod("net", hostNetwork=True)
    )
    assert (
        status == 403
        and 'violates PodSecurity "baseline:latest": host namespaces' in body["message"]
    )


def test_unknown_priority_class_is_forbidden_and_a_known_one_sets_priority(
    kube_api: KubeAPIServer,
) -> None:
    status, body, _ = kube_api.http(
        "POST", "/api/v1/namespaces/default/pods", pod("p", priorityClassName="batch-low")
    )
    assert status == 403
    assert (
        body["message"] == 'pods "p" is forbidden: no PriorityClass with name batch-low was found'
    )
    kube_api.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                     "metadata": {"name": "batch-low"}, "value": 100})  # fmt: skip
    created = kube_api.create(
        {"apiVersion": "v1", "kind": "Pod", **pod("p", priorityClassName="batch-low")}
    )
    assert created["spec"]["priority"] == 100
    system = kube_api.create(
        {"apiVersion": "v1", "kind": "Pod", **pod("s", priorityClassName="system-node-critical")}
    )
    assert system["spec"]["priority"] == 2000001000


def test_missing_service_account_is_forbidden(kube_api: KubeAPIServer) -> None:
    status, body, _ = kube_api.http(
        "POST", "/api/v1/namespaces/default/pods", pod("p", serviceAccountName="runner")
    )
    assert status == 403
    assert 'serviceaccount "runner" not found' in body["message"]
