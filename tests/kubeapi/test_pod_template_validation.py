"""Job create validation of the pod template, as kube-apiserver's ValidatePodSpec does (422 with causes)."""

from __future__ import annotations

from typing import Any

import pytest

from .server import KubeAPIServer


def create_job(kube_api: KubeAPIServer, **pod_spec: Any) -> tuple[int, Any]:
    container = {"name": "main", "image": "busybox", **pod_spec.pop("container", {})}
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container], **pod_spec}}}}  # fmt: skip
    status, answer, _ = kube_api.http("POST", "/apis/batch/v1/namespaces/default/jobs", body)
    return status, answer


def fields(answer: dict[str, Any]) -> list[str]:
    return [c["field"] for c in answer["details"]["causes"]]


@pytest.mark.parametrize(
    ("pod_spec", "field", "words"),
    [
        ({"nodeSelector": {"bad key!": "x"}}, "spec.template.spec.nodeSelector", "name part must consist"),
        ({"nodeSelector": {"disk": "not valid!"}}, "spec.template.spec.nodeSelector", "a valid label must be"),
        ({"tolerations": [{"operator": "Equal", "value": "x"}]}, "spec.template.spec.tolerations[0].operator",
         "operator must be Exists when `key` is empty"),
        ({"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
         "spec.template.spec.tolerations[0].operator", "value must be empty when `operator` is 'Exists'"),
        ({"tolerations": [{"key": "k", "operator": "Like"}]}, "spec.template.spec.tolerations[0].operator",
         'supported values: "Equal", "Exists"'),
        ({"tolerations": [{"key": "k", "operator": "Exists", "effect": "Sometimes"}]},
         "spec.template.spec.tolerations[0].effect", "supported values"),
        ({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]},
         "spec.template.spec.tolerations[0].effect", "effect must be 'NoExecute' when `tolerationSeconds` is set"),
        ({"tolerations": [{"key": "bad key", "operator": "Exists"}]}, "spec.template.spec.tolerations[0].key",
         "name part must consist"),
        ({"container": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}},
         "spec.template.spec.containers[0].resources.requests", "must be less than or equal to cpu limit of 1"),
        ({"priorityClassName": "Not_Valid"}, "spec.template.spec.priorityClassName", "RFC 1123 subdomain"),
    ],
)  # fmt: skip
def test_invalid_pod_template_is_refused_with_the_field(
    kube_api: KubeAPIServer, pod_spec: dict[str, Any], field: str, words: str
) -> None:
    status, answer = create_job(kube_api, **pod_spec)
    assert status == 422 and answer["reason"] == "Invalid"
    assert field in fields(answer)
    assert words in answer["message"] and answer["message"].startswith('Job.batch "j" is invalid: ')


def test_valid_scheduling_fields_pass(kube_api: KubeAPIServer) -> None:
    status, answer = create_job(
        kube_api,
        nodeSelector={"kubernetes.io/os": "linux"},
        tolerations=[{"operator": "Exists"}, {"key": "gpu", "operator": "Equal", "value": "a100", "effect": "NoSchedule"},
                     {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}],
        priorityClassName="batch-low",
        container={"resources": {"requests": {"memory": "512Mi"}, "limits": {"memory": "1Gi"}}},
    )  # fmt: skip
    assert status == 201, answer
