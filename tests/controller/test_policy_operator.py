"""The Job policy in the running operator: a hostile monitor gets no Job, an admin's opt-in does.

Kopf + driftwarden against the test API server, as in test_operator.py. The monitor is the
one of issue 7: written by someone who may only create DriftMonitors in the namespace.
"""

from __future__ import annotations

import asyncio
from typing import Any

from driftwarden.controller.admission import namespace_policy
from driftwarden.controller.config import OperatorConfig
from driftwarden.controller.kube import KubeApi
from driftwarden.monitor.policy import Policy, check_job
from tests.controller.conftest import NAMESPACE
from tests.monitor.test_policy import HOSTILE_JOB, HOSTILE_TEMPLATE


def _condition(status, kind):
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def _namespace_reads(cluster) -> int:
    return sum(
        1
        for r in cluster.api.requests
        if r.plural == "namespaces" and r.method == "GET" and r.name == NAMESPACE
    )


def _job_creates(cluster) -> list[Any]:
    return [r for r in cluster.api.requests if r.plural == "jobs" and r.method == "POST"]


def _annotate_namespace(cluster, **annotations: str) -> None:
    cluster.api.patch("", "v1", "namespaces", NAMESPACE, {"metadata": {"annotations": annotations}})


def test_hostile_analysis_settings_create_no_job_and_say_why_once(cluster):
    with cluster.operator():
        cluster.monitor("hostile", job=HOSTILE_JOB)
        status = cluster.wait_status(
            "hostile", lambda s: (_condition(s, "Ready") or {}).get("reason") == "PolicyViolation"
        )
        # Several more reconciliations (each reads the Namespace before it would create).
        seen = _namespace_reads(cluster)
        cluster.api.wait_for(lambda: _namespace_reads(cluster) >= seen + 3, timeout=30)
        events = cluster.api.wait_for(lambda: cluster.events("hostile", "PolicyViolation"))
    assert not _job_creates(cluster) and not cluster.jobs()
    ready = _condition(status, "Ready")
    assert ready["status"] == "False"
    assert status["phase"] == "Failed"
    message = ready["message"]
    for field in (
        "spec.job.priorityClassName: ",
        "spec.job.image: ",
        "spec.job.podAnnotations[container.apparmor.security.beta.kubernetes.io/analyze]: ",
    ):
        assert field in message, message
    assert "more. To allow (some are never allowed for DriftMonitor Jobs): " in message
    assert "jobPolicy.allowedImages" in message
    (event,) = events  # one Event per distinct problem, not one per tick
    assert event["type"] == "Warning" and event["message"] == message[: len(event["message"])]


def test_hostile_retraining_template_is_refused_and_the_analysis_goes_on(cluster):
    with cluster.operator():
        cluster.monitor("hostile", current="shifted", retraining={"jobTemplate": HOSTILE_TEMPLATE})
        status = cluster.wait_status(
            "hostile",
            lambda s: (
                (_condition(s, "RetrainingTriggered") or {}).get("reason") == "PolicyViolation"
            ),
        )
        (event,) = cluster.api.wait_for(lambda: cluster.events("hostile", "PolicyViolation"))
    assert status["lastRun"]["outcome"] == "Succeeded" and status["lastRun"]["drifted"]
    assert status["phase"] == "Drifted"
    assert _condition(status, "Ready")["status"] == "True"
    assert "lastRetraining" not in status
    assert not cluster.jobs("retraining")
    assert [
        r.body["metadata"]["labels"]["app.kubernetes.io/component"] for r in _job_creates(cluster)
    ] == ["analysis"]
    message = _condition(status, "RetrainingTriggered")["message"]
    for field in (
        "spec.retraining.jobTemplate.spec.template.spec.priorityClassName",
        "spec.retraining.jobTemplate.spec.template.spec.tolerations[0].key",
        "spec.retraining.jobTemplate.spec.template.spec.hostNetwork",
    ):
        assert field in message, message
    assert event["type"] == "Warning"


def test_what_the_admins_allow_runs(cluster):
    """A namespace opted out to baseline with an allowed service account, an allowed image."""
    root_trainer = {
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    # Runs as the image's user (root): fine at baseline, refused at restricted.
                    "containers": [
                        {"name": "train", "image": "trainer:1", "command": ["sh", "-c", "true"]}
                    ],
                }
            }
        }
    }
    cluster.api.create(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "drift-reader", "namespace": NAMESPACE},
        }
    )
    with cluster.operator(allowed_images=("trainer:*",)):
        cluster.monitor(
            "allowed",
            current="shifted",
            job={"serviceAccountName": "drift-reader"},
            retraining={"jobTemplate": root_trainer},
        )
        cluster.wait_status(
            "allowed", lambda s: (_condition(s, "Ready") or {}).get("reason") == "PolicyViolation"
        )
        assert not cluster.jobs()
        _annotate_namespace(
            cluster,
            **{
                "driftwarden.io/allowed-service-accounts": "drift-reader",
                "driftwarden.io/pod-security": "baseline",
            },
        )
        status = cluster.wait_status(
            "allowed", lambda s: (s.get("lastRetraining") or {}).get("job")
        )
    (analysis,) = cluster.jobs()
    assert analysis["spec"]["template"]["spec"]["serviceAccountName"] == "drift-reader"
    (retraining,) = cluster.jobs("retraining")
    # At baseline the operator fills in nothing: the template is the author's.
    assert "securityContext" not in retraining["spec"]["template"]["spec"]["containers"][0]
    assert _condition(status, "RetrainingTriggered")["reason"] == "RetrainingStarted"


def test_restricted_retraining_gets_the_safe_defaults_filled_in(cluster):
    non_root_trainer = {
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [
                        {"name": "train", "image": "trainer:1", "command": ["sh", "-c", "true"]}
                    ],
                }
            }
        }
    }
    with cluster.operator(allowed_images=("trainer:*",)):
        cluster.monitor("trainer", current="shifted", retraining={"jobTemplate": non_root_trainer})
        cluster.wait_status("trainer", lambda s: (s.get("lastRetraining") or {}).get("job"))
    (retraining,) = cluster.jobs("retraining")
    pod = retraining["spec"]["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    # The monitor's spec is never written: the defaults live in the Job only.
    assert "seccompProfile" not in str(cluster.get("trainer")["spec"])
    # Every Job the operator created, as the API server stored it, passes restricted.
    policy = Policy(
        NAMESPACE,
        operator_image="driftwarden:test",
        allowed_images=("trainer:*",),
        allowed_secrets=frozenset({"s3-credentials"}),
    )
    for job in cluster.jobs() + cluster.jobs("retraining"):
        assert "manualSelector" not in job["spec"]
        del job["spec"]["selector"]  # generated by the API server, not sent by the operator
        assert check_job(job, policy) == [], job["metadata"]["name"]


def test_the_policy_comes_from_the_namespace_and_a_missing_one_gives_restricted(
    kube_api, kube_client
):
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "team",
                "annotations": {
                    "driftwarden.io/pod-security": "baseline",
                    "driftwarden.io/allowed-service-accounts": "trainer",
                    "driftwarden.io/allowed-secrets": "s3-credentials",
                },
            },
        }
    )
    config = OperatorConfig(
        image="op:1", allowed_images=("r/*",), allowed_priority_classes=("low",)
    )
    api = KubeApi(kube_client)
    team = asyncio.run(namespace_policy(api, config, "team", ("storage",)))
    assert (team.level, team.operator_image, team.allowed_images) == ("baseline", "op:1", ("r/*",))
    assert team.allowed_service_accounts == {"trainer"}
    assert team.allowed_secrets == {"s3-credentials", "storage"}
    assert team.allowed_priority_classes == ("low",)
    gone = asyncio.run(namespace_policy(api, config, "gone"))
    assert (gone.level, gone.allowed_service_accounts, gone.allowed_secrets) == (
        "restricted",
        frozenset(),
        frozenset(),
    )
