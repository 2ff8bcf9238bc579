"""Admission refusals configured per namespace, resource and verb: the Status a real server sends."""

from __future__ import annotations

from typing import Any

import kubernetes.client as k8s
import pytest
from kubernetes.client.rest import ApiException

from .server import KubeAPIServer

TEMPLATE = {
    "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
}


def job(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": TEMPLATE, **spec}}  # fmt: skip


def test_quota_refusal_is_a_real_status_object(kube_api: KubeAPIServer) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}})
    rule = kube_api.refuse(
        "ml", "jobs", status=403, reason="Forbidden",
        message='{resource} "{name}" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1, used: count/jobs.batch=5, limited: count/jobs.batch=5',
    )  # fmt: skip
    status, body, _ = kube_api.http("POST", "/apis/batch/v1/namespaces/ml/jobs", job("x"))
    assert status == 403
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'jobs.batch "x" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1, '
                   "used: count/jobs.batch=5, limited: count/jobs.batch=5",
        "reason": "Forbidden", "code": 403, "details": {"name": "x", "group": "batch", "kind": "jobs"},
    }  # fmt: skip
    # Other namespaces, other resources and other verbs are not refused.
    assert kube_api.http("POST", "/apis/batch/v1/namespaces/default/jobs", job("x"))[0] == 201
    assert (
        kube_api.http("POST", "/api/v1/namespaces/ml/configmaps", {"metadata": {"name": "c"}})[0]
        == 201
    )
    assert rule.hits == 1
    rule.remove()
    assert kube_api.http("POST", "/apis/batch/v1/namespaces/ml/jobs", job("x"))[0] == 201


def test_refusal_matches_objects_and_verbs_and_counts(
    kube_api: KubeAPIServer, kube_client: Any
) -> None:
    batch = k8s.BatchV1Api(kube_client)
    kube_api.refuse(None, "jobs", status=422, reason="Invalid", message='{resource} "{name}" is invalid: denied by policy',
                    match=lambda obj: obj["metadata"]["name"].startswith("bad"), count=1)  # fmt: skip
    with pytest.raises(ApiException) as err:
        batch.create_namespaced_job("default", job("bad-1"))
    assert err.value.status == 422 and "denied by policy" in err.value.body
    batch.create_namespaced_job("default", job("bad-2"))  # count exhausted
    batch.create_namespaced_job("default", job("good"))
    kube_api.refuse("default", "jobs", verbs=("delete",))
    with pytest.raises(ApiException) as err:
        batch.delete_namespaced_job("good", "default")
    assert err.value.status == 403 and err.value.reason == "Forbidden"


def test_refusal_applies_to_the_python_api_and_rejects_bad_rules(kube_api: KubeAPIServer) -> None:
    from .validation import ApiError

    kube_api.refuse("default", "configmaps")
    with pytest.raises(ApiError) as err:
        kube_api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    assert err.value.code == 403
    with pytest.raises(ValueError, match="unknown verb"):
        kube_api.refuse("default", "jobs", verbs="get")
    with pytest.raises(ValueError, match="4xx or 5xx"):
        kube_api.refuse("default", "jobs", status=200)
