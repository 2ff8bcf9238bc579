"""Pods the Job controller cannot create: the Job exists, has no active pod, and carries a
Warning FailedCreate Event with the API server's message, retried until the cause is gone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .manifests import job, job_pods, wait_condition
from .server import KubeAPIServer


def failed_create(server: KubeAPIServer, name: str, namespace: str = "default") -> dict[str, Any]:
    (event,) = server.wait_for(
        lambda: server.events(namespace, involved_name=name, reason="FailedCreate"), timeout=30
    )
    return event


def test_pod_quota_refusal_shows_as_failed_create_until_lifted(kube_cluster: KubeAPIServer) -> None:
    rule = kube_cluster.refuse(
        "default", "pods",
        message='{resource} "{name}" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=10, limited: pods=10',
    )  # fmt: skip
    kube_cluster.create(job("quota"))
    event = failed_create(kube_cluster, "quota")
    assert event["type"] == "Warning" and event["source"] == {"component": "job-controller"}
    assert event["involvedObject"]["kind"] == "Job" and event["involvedObject"]["name"] == "quota"
    assert event["message"].startswith('Error creating: pods "quota-')
    assert event["message"].endswith(
        '" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=10, limited: pods=10'
    )
    kube_cluster.wait_for(lambda: rule.hits >= 2)  # the controller retries
    status = kube_cluster.get("batch", "v1", "jobs", "quota", "default").get("status") or {}
    assert "active" not in status and job_pods(kube_cluster, "quota") == []
    rule.remove()
    wait_condition(kube_cluster, "quota", "Complete")


# Mutating admission (ServiceAccount, Priority) runs before the pod's name is generated, so
# it names the generateName prefix; validating admission (Pod Security, quota) the full name.
@pytest.mark.parametrize(
    ("setup", "pod", "named", "words"),
    [
        (None, {"priorityClassName": "batch-low"}, 'pods "refused-" ',
         "is forbidden: no PriorityClass with name batch-low was found"),
        (None, {"serviceAccountName": "analysis"}, 'pods "refused-" ',
         'is forbidden: error looking up service account default/analysis: serviceaccount "analysis" not found'),
        ({"pod-security.kubernetes.io/enforce": "restricted"}, {}, r'pods "refused-[a-z0-9]{5}" ',
         'is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false'),
    ],
)  # fmt: skip
def test_admission_refusing_the_pod_shows_as_failed_create(
    kube_cluster: KubeAPIServer,
    setup: dict[str, str] | None,
    pod: dict[str, Any],
    named: str,
    words: str,
) -> None:
    if setup:
        kube_cluster.patch("", "v1", "namespaces", "default", {"metadata": {"labels": setup}})
    kube_cluster.create(job("refused", pod=pod))  # the Job itself is valid and accepted
    event = failed_create(kube_cluster, "refused")
    assert re.match("Error creating: " + named, event["message"]) and words in event["message"]
    assert job_pods(kube_cluster, "refused") == []


def test_repeated_failures_are_counted_then_combined_like_the_event_correlator(
    kube_cluster: KubeAPIServer,
) -> None:
    kube_cluster.job_controller.create_retry_cap = 0.25  # retry quickly: many distinct pod names
    rule = kube_cluster.refuse(
        "default", "pods", message='{resource} "{name}" is forbidden: exceeded quota: pods'
    )
    kube_cluster.create(job("noisy"))
    kube_cluster.wait_for(lambda: rule.hits >= 14, timeout=30)
    events = kube_cluster.wait_for(lambda: [
        e for e in kube_cluster.events("default", involved_name="noisy", reason="FailedCreate")
        if e["message"].startswith("(combined from similar events): Error creating: ")
    ])  # fmt: skip
    assert len(events) == 1 and events[0]["count"] >= 1
    assert len(kube_cluster.events("default", involved_name="noisy", reason="FailedCreate")) == 11
