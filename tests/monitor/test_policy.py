"""The Job policy: every Pod Security Standards control and every operator rule, passing and failing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from driftwarden.monitor.job import analysis_job, retraining_job
from driftwarden.monitor.outcome import RunOutcome
from driftwarden.monitor.policy import (
    BASELINE,
    NEVER,
    POD_SECURITY_CONTROLS,
    PRIVILEGED,
    RESTRICTED,
    Policy,
    check_job,
    check_pod_template,
    describe,
    image_allowed,
    in_analysis_spec,
    namespace_level,
    namespace_secrets,
    namespace_service_accounts,
    with_restricted_defaults,
)
from driftwarden.monitor.spec import parse_monitor

from .helpers import EXAMPLES, load_yaml_documents, manifest, with_retraining

IMAGE = "ghcr.io/driftwarden/driftwarden:0.1.0"
SLOT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def policy(level: str = RESTRICTED, **changes: Any) -> Policy:
    return Policy(namespace="ml", level=level, operator_image=IMAGE, **changes)


def compliant_pod() -> dict[str, Any]:
    """A pod template that passes "restricted"; each test breaks one thing."""
    return {
        "metadata": {"labels": {"team": "growth"}},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "train",
                    "image": IMAGE,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def rules(violations) -> set[str]:
    return {v.rule for v in violations}


def test_the_compliant_pod_passes_every_level():
    for level in (RESTRICTED, BASELINE, PRIVILEGED):
        assert check_pod_template(compliant_pod(), policy(level)) == []


def _set(pod: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b[0].c`` in ``pod``, creating mappings on the way."""
    node: Any = pod
    parts = path.replace("]", "").replace("[", ".").split(".")
    for i, part in enumerate(parts):
        key: Any = int(part) if part.isdigit() else part
        if i == len(parts) - 1:
            node[key] = value
        else:
            if isinstance(key, str) and key not in node:
                node[key] = {}
            node = node[key]


C = "spec.containers[0]"
# (rule, the lowest level enforcing it, change that breaks it, change that keeps it passing)
CASES: list[tuple[str, str, tuple[str, Any], tuple[str, Any]]] = [
    (
        "hostProcess",
        BASELINE,
        (f"{C}.securityContext.windowsOptions", {"hostProcess": True}),
        (f"{C}.securityContext.windowsOptions", {"hostProcess": False}),
    ),
    ("hostNamespaces", BASELINE, ("spec.hostNetwork", True), ("spec.hostNetwork", False)),
    ("hostNamespaces", BASELINE, ("spec.hostPID", True), ("spec.hostPID", False)),
    ("hostNamespaces", BASELINE, ("spec.hostIPC", True), ("spec.hostIPC", False)),
    (
        "privileged",
        BASELINE,
        (f"{C}.securityContext.privileged", True),
        (f"{C}.securityContext.privileged", False),
    ),
    (
        "capabilities",
        BASELINE,
        (f"{C}.securityContext.capabilities.add", ["SYS_ADMIN"]),
        (f"{C}.securityContext.capabilities.add", ["NET_BIND_SERVICE"]),
    ),
    (
        "hostPathVolumes",
        BASELINE,
        ("spec.volumes[0]", {"name": "root", "hostPath": {"path": "/"}}),
        ("spec.volumes[0]", {"name": "cache", "emptyDir": {}}),
    ),
    (
        "hostPorts",
        BASELINE,
        (f"{C}.ports", [{"containerPort": 80, "hostPort": 80}]),
        (f"{C}.ports", [{"containerPort": 80, "hostPort": 0}]),
    ),
    (
        "appArmor",
        BASELINE,
        (
            "metadata.annotations",
            {"container.apparmor.security.beta.kubernetes.io/train": "unconfined"},
        ),
        (
            "metadata.annotations",
            {"container.apparmor.security.beta.kubernetes.io/train": "localhost/train"},
        ),
    ),
    (
        "appArmor",
        BASELINE,
        ("spec.securityContext.appArmorProfile", {"type": "Unconfined"}),
        ("spec.securityContext.appArmorProfile", {"type": "RuntimeDefault"}),
    ),
    (
        "seLinux",
        BASELINE,
        (f"{C}.securityContext.seLinuxOptions", {"type": "spc_t"}),
        (f"{C}.securityContext.seLinuxOptions", {"type": "container_t", "level": "s0:c1"}),
    ),
    (
        "seLinux",
        BASELINE,
        ("spec.securityContext.seLinuxOptions", {"user": "system_u"}),
        ("spec.securityContext.seLinuxOptions", {"level": "s0:c1,c2"}),
    ),
    (
        "procMount",
        BASELINE,
        (f"{C}.securityContext.procMount", "Unmasked"),
        (f"{C}.securityContext.procMount", "Default"),
    ),
    (
        "seccomp",
        BASELINE,
        (f"{C}.securityContext.seccompProfile", {"type": "Unconfined"}),
        (f"{C}.securityContext.seccompProfile", {"type": "Localhost", "localhostProfile": "p"}),
    ),
    (
        "seccomp",
        BASELINE,
        ("metadata.annotations", {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}),
        ("metadata.annotations", {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}),
    ),
    (
        "sysctls",
        BASELINE,
        ("spec.securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
        ("spec.securityContext.sysctls", [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]),
    ),
    (
        "volumeTypes",
        RESTRICTED,
        ("spec.volumes[0]", {"name": "n", "nfs": {"server": "nfs", "path": "/x"}}),
        ("spec.volumes[0]", {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}),
    ),
    (
        "privilegeEscalation",
        RESTRICTED,
        (f"{C}.securityContext.allowPrivilegeEscalation", True),
        (f"{C}.securityContext.allowPrivilegeEscalation", False),
    ),
    (
        "runAsNonRoot",
        RESTRICTED,
        ("spec.securityContext.runAsNonRoot", False),
        (f"{C}.securityContext.runAsNonRoot", True),
    ),
    (
        "runAsUser",
        RESTRICTED,
        (f"{C}.securityContext.runAsUser", 0),
        (f"{C}.securityContext.runAsUser", 65532),
    ),
    (
        "seccompRestricted",
        RESTRICTED,
        ("spec.securityContext.seccompProfile", None),
        (f"{C}.securityContext.seccompProfile", {"type": "RuntimeDefault"}),
    ),
    (
        "capabilitiesRestricted",
        RESTRICTED,
        (f"{C}.securityContext.capabilities.drop", ["NET_RAW"]),
        (f"{C}.securityContext.capabilities.drop", ["ALL", "NET_RAW"]),
    ),
    (
        "capabilitiesRestricted",
        RESTRICTED,
        (f"{C}.securityContext.capabilities.add", ["CHOWN"]),
        (f"{C}.securityContext.capabilities.add", ["NET_BIND_SERVICE"]),
    ),
]


def test_every_pod_security_control_has_a_case():
    assert {rule for rule, *_ in CASES} == {rule for rule, _, _ in POD_SECURITY_CONTROLS}


@pytest.mark.parametrize(("rule", "lowest", "bad", "good"), CASES, ids=[c[0] for c in CASES])
def test_pod_security_control(rule, lowest, bad, good):
    broken, fine = compliant_pod(), compliant_pod()
    _set(broken, *bad)
    _set(fine, *good)
    found = check_pod_template(broken, policy(RESTRICTED))
    assert rules(found) == {rule}, found
    assert check_pod_template(fine, policy(RESTRICTED)) == []
    # Enforced from its own level up, not below: an admin's opt-out lowers exactly this.
    looser = PRIVILEGED if lowest == BASELINE else BASELINE
    assert rules(check_pod_template(broken, policy(lowest))) == {rule}
    assert check_pod_template(broken, policy(looser)) == []
    (violation,) = found
    assert f"kubectl annotate namespace ml driftwarden.io/pod-security={looser}" in violation.remedy


def test_init_and_ephemeral_containers_are_checked_like_containers():
    pod = compliant_pod()
    pod["spec"]["initContainers"] = [
        {"name": "init", "image": IMAGE, "securityContext": {"privileged": True}}
    ]
    paths = {v.path for v in check_pod_template(pod, policy(BASELINE))}
    assert paths == {"spec.template.spec.initContainers[0].securityContext.privileged"}


def test_images_come_from_the_operator_or_the_allowlist():
    pod = compliant_pod()
    pod["spec"]["containers"][0]["image"] = "evil.example.com/miner:latest"
    (violation,) = check_pod_template(pod, policy())
    assert violation.rule == "image"
    assert violation.path == "spec.template.spec.containers[0].image"
    assert "jobPolicy.allowedImages" in violation.remedy
    assert "'evil.example.com/miner:*'" in violation.remedy
    assert check_pod_template(pod, policy(allowed_images=("evil.example.com/miner:*",))) == []
    assert image_allowed(IMAGE, policy())
    assert not image_allowed("ghcr.io/driftwarden/driftwarden:0.2.0", policy())
    assert image_allowed(
        "registry.example.com/ml/a/b:1", policy(allowed_images=("registry.example.com/ml/*",))
    )
    assert not image_allowed(
        "registry.example.com.evil.io/x:1", policy(allowed_images=("registry.example.com/*",))
    )


@pytest.mark.parametrize("key", ["serviceAccountName", "serviceAccount"])
def test_service_accounts_other_than_default_need_the_namespace_annotation(key):
    pod = compliant_pod()
    pod["spec"][key] = "deployer"
    (violation,) = check_pod_template(pod, policy())
    assert violation.rule == "serviceAccount"
    assert "driftwarden.io/allowed-service-accounts=deployer" in violation.remedy
    assert check_pod_template(pod, policy(allowed_service_accounts=frozenset({"deployer"}))) == []
    assert check_pod_template(pod, policy(allowed_service_accounts=frozenset({"*"}))) == []
    pod["spec"][key] = "default"
    assert check_pod_template(pod, policy()) == []


@pytest.mark.parametrize(
    ("where", "reference"),
    [
        ("containers[0].envFrom", [{"secretRef": {"name": "db-admin"}}]),
        (
            "containers[0].env",
            [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db-admin", "key": "p"}}}],
        ),
        ("volumes", [{"name": "s", "secret": {"secretName": "db-admin"}}]),
        (
            "volumes",
            [{"name": "s", "projected": {"sources": [{"secret": {"name": "db-admin"}}]}}],
        ),
    ],
)
def test_secrets_reach_pods_only_when_the_namespace_allows_them(where, reference):
    pod = compliant_pod()
    _set(pod, f"spec.{where}", reference)
    (violation,) = check_pod_template(pod, policy(PRIVILEGED))
    assert violation.rule == "secrets"
    assert violation.path.startswith(f"spec.template.spec.{where}")
    assert "driftwarden.io/allowed-secrets=db-admin" in violation.remedy
    assert check_pod_template(pod, policy(allowed_secrets=frozenset({"db-admin"}))) == []
    assert check_pod_template(pod, policy(allowed_secrets=frozenset({"*"}))) == []
    # Pull secrets are the kubelet's: the containers never see them.
    pod = compliant_pod()
    pod["spec"]["imagePullSecrets"] = [{"name": "regcred"}]
    assert check_pod_template(pod, policy()) == []


def test_priority_classes_from_the_allowlist_and_never_system_ones():
    pod = compliant_pod()
    pod["spec"]["priorityClassName"] = "batch-low"
    (violation,) = check_pod_template(pod, policy())
    assert violation.rule == "priorityClass"
    assert "jobPolicy.allowedPriorityClasses" in violation.remedy
    assert check_pod_template(pod, policy(allowed_priority_classes=("batch-low",))) == []
    pod["spec"]["priorityClassName"] = "system-node-critical"
    listed = policy(PRIVILEGED, allowed_priority_classes=("system-node-critical",))
    (violation,) = check_pod_template(pod, listed)
    assert violation.remedy == NEVER


@pytest.mark.parametrize(
    "toleration",
    [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"},
        {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists"},
        {"operator": "Exists"},
    ],
)
def test_tolerations_of_control_plane_or_every_taint_are_never_allowed(toleration):
    pod = compliant_pod()
    pod["spec"]["tolerations"] = [toleration]
    assert rules(check_pod_template(pod, policy(PRIVILEGED))) == {"tolerations"}
    pod["spec"]["tolerations"] = [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert check_pod_template(pod, policy()) == []


def test_node_name_is_never_allowed():
    pod = compliant_pod()
    pod["spec"]["nodeName"] = "control-plane-1"
    assert rules(check_pod_template(pod, policy(PRIVILEGED))) == {"nodeName"}


def test_pod_template_metadata_holds_only_labels_annotations_and_the_own_namespace():
    pod = compliant_pod()
    pod["metadata"]["namespace"] = "ml"
    assert check_pod_template(pod, policy()) == []
    pod["metadata"]["namespace"] = "kube-system"
    assert rules(check_pod_template(pod, policy(PRIVILEGED))) == {"namespace"}
    pod["metadata"] = {"ownerReferences": [{"kind": "Deployment"}]}
    assert rules(check_pod_template(pod, policy(PRIVILEGED))) == {"templateMetadata"}


def test_jobs_run_in_the_monitors_namespace_and_keep_their_own_selector():
    job = {"metadata": {"namespace": "ml"}, "spec": {"template": compliant_pod()}}
    assert check_job(job, policy()) == []
    foreign = copy.deepcopy(job)
    foreign["metadata"]["namespace"] = "kube-system"
    assert rules(check_job(foreign, policy(PRIVILEGED))) == {"namespace"}
    adopting = copy.deepcopy(job)
    adopting["spec"]["manualSelector"] = True
    adopting["spec"]["selector"] = {"matchLabels": {"app": "payments"}}
    assert [v.path for v in check_job(adopting, policy(PRIVILEGED))] == [
        "spec.manualSelector",
        "spec.selector",
    ]
    elsewhere = copy.deepcopy(job)
    elsewhere["spec"]["managedBy"] = "kueue.x-k8s.io/multikueue"
    assert rules(check_job(elsewhere, policy(PRIVILEGED))) == {"managedBy"}
    elsewhere["spec"]["managedBy"] = "kubernetes.io/job-controller"
    assert check_job(elsewhere, policy()) == []


def test_namespace_annotations_give_the_level_and_the_service_accounts():
    assert namespace_level(None) == RESTRICTED
    assert namespace_level({"driftwarden.io/pod-security": "baseline"}) == BASELINE
    assert namespace_level({"driftwarden.io/pod-security": "Privileged "}) == PRIVILEGED
    assert namespace_level({"driftwarden.io/pod-security": "privilegd"}) == RESTRICTED
    assert namespace_service_accounts(
        {"driftwarden.io/allowed-service-accounts": "trainer, drift-reader,,"}
    ) == {"trainer", "drift-reader"}
    assert namespace_service_accounts({}) == frozenset()
    assert namespace_secrets({"driftwarden.io/allowed-secrets": "s3-credentials"}) == {
        "s3-credentials"
    }
    with pytest.raises(ValueError):
        Policy(namespace="ml", level="none")


# The monitor of issue 7: written by someone who may only create DriftMonitors in "ml".
HOSTILE_TEMPLATE: dict[str, Any] = {
    "spec": {
        "template": {
            "metadata": {
                "annotations": {"container.apparmor.security.beta.kubernetes.io/x": "unconfined"}
            },
            "spec": {
                "restartPolicy": "Never",
                "hostNetwork": True,
                "hostPID": True,
                "serviceAccountName": "namespace-admin",
                "priorityClassName": "system-node-critical",
                "tolerations": [
                    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}
                ],
                "containers": [
                    {
                        "name": "x",
                        "image": "evil.example.com/root:latest",
                        "securityContext": {"privileged": True},
                        "envFrom": [{"secretRef": {"name": "db-admin"}}],
                        "volumeMounts": [{"name": "host", "mountPath": "/host"}],
                    }
                ],
                "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
            },
        }
    }
}
HOSTILE_JOB: dict[str, Any] = {
    "image": "evil.example.com/root:latest",
    "serviceAccountName": "namespace-admin",
    "priorityClassName": "system-node-critical",
    "podAnnotations": {"container.apparmor.security.beta.kubernetes.io/analyze": "unconfined"},
    "tolerations": [{"key": "node-role.kubernetes.io/master", "operator": "Exists"}],
}


def _outcome(job: str) -> RunOutcome:
    return RunOutcome(
        job=job, outcome="Succeeded", reason="Succeeded", message="drift", drifted=True
    )


def test_the_hostile_monitor_gets_neither_job_even_from_a_privileged_namespace():
    doc = with_retraining(jobTemplate=HOSTILE_TEMPLATE)
    doc["spec"]["job"] = HOSTILE_JOB
    monitor = parse_monitor(doc)
    retraining = retraining_job(monitor, _outcome("churn-1"), SLOT)
    analysis = analysis_job(monitor, SLOT, IMAGE)

    found = check_job(retraining, policy())
    assert rules(found) >= {
        "hostNamespaces",
        "privileged",
        "hostPathVolumes",
        "appArmor",
        "image",
        "serviceAccount",
        "priorityClass",
        "tolerations",
        "runAsNonRoot",
    }
    storage = frozenset({"s3-credentials"})  # the controller always allows it for analysis
    assert rules(check_job(analysis, policy(allowed_secrets=storage))) == {
        "appArmor",
        "image",
        "serviceAccount",
        "priorityClass",
        "tolerations",
    }
    # A namespace opted out to privileged still never gets these.
    for job in (retraining, analysis):
        assert rules(check_job(job, policy(PRIVILEGED))) - {"secrets"} == {
            "image",
            "serviceAccount",
            "priorityClass",
            "tolerations",
        }
    assert rules(check_job(retraining, policy(PRIVILEGED))) >= {"secrets"}
    message = describe(found)
    # What no admin can allow comes first: the author must change it in any case.
    assert message.startswith("spec.template.spec.priorityClassName: priority class")
    assert "; and " in message and "more. To allow (some are never allowed" in message
    assert message.endswith(
        "kubectl annotate namespace ml driftwarden.io/pod-security=privileged --overwrite"
    )
    privileged = check_job(retraining, policy(PRIVILEGED))
    assert "To allow (some are never allowed for DriftMonitor Jobs): " in describe(privileged)


def test_analysis_violations_name_the_spec_job_field_the_author_wrote():
    doc = manifest(job=HOSTILE_JOB)
    analysis = analysis_job(parse_monitor(doc), SLOT, IMAGE)
    storage = frozenset({"s3-credentials"})
    paths = {v.path for v in in_analysis_spec(check_job(analysis, policy(allowed_secrets=storage)))}
    assert paths == {
        "spec.job.image",
        "spec.job.serviceAccountName",
        "spec.job.priorityClassName",
        "spec.job.tolerations[0].key",
        "spec.job.podAnnotations[container.apparmor.security.beta.kubernetes.io/analyze]",
    }


def test_the_analysis_job_passes_restricted_with_only_its_storage_secret_allowed():
    monitor = parse_monitor(manifest())
    job = analysis_job(monitor, SLOT, IMAGE)
    storage = frozenset({"s3-credentials"})
    assert check_job(job, Policy("ml", operator_image=IMAGE, allowed_secrets=storage)) == []
    assert rules(check_job(job, Policy("ml", operator_image=IMAGE))) == {"secrets"}
    pod = job["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False
    assert pod["automountServiceAccountToken"] is False


def _example_monitors():
    for path in EXAMPLES:
        for doc in load_yaml_documents(path):
            if isinstance(doc, dict) and doc.get("kind") == "DriftMonitor":
                yield pytest.param(doc, id=f"{path.name}:{doc['metadata']['name']}")


@pytest.mark.parametrize("doc", list(_example_monitors()))
def test_every_example_passes_restricted(doc):
    """At level restricted, with only what each example's comments ask an admin to allow."""
    monitor = parse_monitor({**doc, "metadata": {**doc["metadata"], "uid": "u"}})
    accounts = frozenset(filter(None, [monitor.job.service_account_name]))
    # The analysis Job's storage Secret is always allowed (the controller adds it).
    storage = frozenset(filter(None, [monitor.run.storage.secret_name]))
    analysis = analysis_job(monitor, SLOT, IMAGE)
    assert (
        check_job(analysis, policy(allowed_service_accounts=accounts, allowed_secrets=storage))
        == []
    )
    if monitor.retraining is not None:
        job = retraining_job(monitor, _outcome(f"{monitor.name}-1"), SLOT)
        pod = job["spec"]["template"]["spec"]
        images = tuple(c["image"] for c in pod["containers"])
        secrets = frozenset(
            s["secretRef"]["name"] for c in pod["containers"] for s in c.get("envFrom") or []
        )
        # Checked as written, without the defaults the operator fills in.
        assert check_job(job, policy(allowed_images=images, allowed_secrets=secrets)) == []


def test_restricted_defaults_fill_only_the_fields_with_one_safe_value():
    bare = {
        "spec": {
            "template": {
                "spec": {
                    "securityContext": {"runAsNonRoot": True},
                    "containers": [{"name": "train", "image": IMAGE}],
                }
            }
        }
    }
    filled = with_restricted_defaults(bare)
    assert check_job(filled, policy()) == []
    assert "securityContext" not in bare["spec"]["template"]["spec"]["containers"][0]
    pod = filled["spec"]["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    # What the author set is kept, so the check still refuses it; runAsNonRoot is never invented.
    explicit = copy.deepcopy(bare)
    pod = explicit["spec"]["template"]["spec"]
    pod["securityContext"] = {}
    pod["containers"][0]["securityContext"] = {
        "allowPrivilegeEscalation": True,
        "seccompProfile": {"type": "Unconfined"},
    }
    assert rules(check_job(with_restricted_defaults(explicit), policy())) == {
        "privilegeEscalation",
        "runAsNonRoot",
        "seccomp",
    }


@pytest.mark.parametrize("capability", ["CAP_SYS_ADMIN", "sys_admin", "CAP_CHOWN"])
def test_capabilities_are_compared_literally_so_other_spellings_are_refused(capability):
    pod = compliant_pod()
    pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = [capability]
    assert rules(check_pod_template(pod, policy(BASELINE))) == {"capabilities"}
