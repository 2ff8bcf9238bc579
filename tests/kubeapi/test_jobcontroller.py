"""The Job controller stand-in: pods from the template, completions, backoffLimit,
podFailurePolicy, activeDeadlineSeconds, suspend, and the Job's status."""

from __future__ import annotations

import itertools
import threading

from .kubelet import Outcome, PodRun, keep_running
from .manifests import condition, job, job_pods, wait_condition, wait_status
from .server import KubeAPIServer


def test_pods_come_from_the_template_with_the_controllers_labels_owner_and_finalizer(
    kube_cluster: KubeAPIServer,
) -> None:
    gate = threading.Event()
    kube_cluster.kubelet.behave(lambda run: (run.start(), gate.wait(10), Outcome())[-1])
    created = kube_cluster.create(job("pi", template_meta={
        "labels": {"app": "pi"}, "annotations": {"team": "ml"}, "finalizers": ["example.com/keep"]}))  # fmt: skip
    uid = created["metadata"]["uid"]
    (pod,) = kube_cluster.wait_for(lambda: job_pods(kube_cluster, "pi"))
    meta = pod["metadata"]
    assert meta["name"].startswith("pi-") and len(meta["name"]) == len("pi-") + 5
    assert meta["generateName"] == "pi-"
    assert meta["labels"] == {"app": "pi", "job-name": "pi", "batch.kubernetes.io/job-name": "pi",
                              "controller-uid": uid, "batch.kubernetes.io/controller-uid": uid}  # fmt: skip
    assert meta["annotations"] == {"team": "ml"}
    assert meta["finalizers"] == ["example.com/keep", "batch.kubernetes.io/job-tracking"]
    assert meta["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": uid,
                                        "controller": True, "blockOwnerDeletion": True}]  # fmt: skip
    running = wait_status(kube_cluster, "pi", "ready", 1)
    assert running["status"]["active"] == 1 and running["status"]["startTime"]
    gate.set()
    done = wait_condition(kube_cluster, "pi", "Complete")
    assert done["status"]["succeeded"] == 1 and done["status"]["completionTime"]
    assert "active" not in done["status"]
    assert condition(done, "SuccessCriteriaMet")["reason"] == "CompletionsReached"
    # Counted: the job-tracking finalizer is gone, the template's own stays.
    kube_cluster.wait_for(
        lambda: job_pods(kube_cluster, "pi")[0]["metadata"]["finalizers"] == ["example.com/keep"]
    )
    assert {e["reason"] for e in kube_cluster.events("default", involved_name="pi")} >= {
        "SuccessfulCreate",
        "Completed",
    }


def test_parallelism_bounds_active_pods_until_completions_are_reached(
    kube_cluster: KubeAPIServer,
) -> None:
    gate = threading.Event()
    kube_cluster.kubelet.behave(lambda run: (run.start(), gate.wait(10), Outcome())[-1])
    kube_cluster.create(job("batch", completions=3, parallelism=2))
    wait_status(kube_cluster, "batch", "active", 2)
    assert len(job_pods(kube_cluster, "batch")) == 2
    gate.set()
    done = wait_condition(kube_cluster, "batch", "Complete")
    assert done["status"]["succeeded"] == 3 and len(job_pods(kube_cluster, "batch")) == 3


def test_backoff_limit_counts_failed_pods_with_the_pod_backoff_on_the_cluster_clock(
    kube_cluster: KubeAPIServer,
) -> None:
    kube_cluster.kubelet.behave(lambda run: Outcome(exit_code=1))
    kube_cluster.create(job("flaky", backoffLimit=1))
    wait_status(kube_cluster, "flaky", "failed", 1)
    assert len(job_pods(kube_cluster, "flaky")) == 1  # the next pod waits 10 s of cluster time
    kube_cluster.advance_clock(10)
    failed = wait_condition(kube_cluster, "flaky", "Failed")
    assert failed["status"]["failed"] == 2 and len(job_pods(kube_cluster, "flaky")) == 2
    assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"
    assert condition(failed, "Failed")["message"] == "Job has reached the specified backoff limit"
    assert condition(failed, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    assert kube_cluster.events("default", involved_name="flaky", reason="BackoffLimitExceeded")


def test_pod_failure_policy_fails_the_job_or_ignores_the_failure(
    kube_cluster: KubeAPIServer,
) -> None:
    codes = itertools.chain([5, 42], itertools.repeat(0))
    kube_cluster.kubelet.behave(lambda run: Outcome(exit_code=next(codes)))
    policy = {"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [5]}},
    ]}  # fmt: skip
    kube_cluster.create(job("policy", backoffLimit=6, podFailurePolicy=policy))
    failed = wait_condition(kube_cluster, "policy", "Failed")
    cond = condition(failed, "Failed")
    assert cond["reason"] == "PodFailurePolicy"
    pods = sorted(
        job_pods(kube_cluster, "policy"), key=lambda p: p["metadata"]["creationTimestamp"]
    )
    assert cond["message"].startswith("Container main for pod default/policy-")
    assert cond["message"].endswith("failed with exit code 42 matching FailJob rule at index 0")
    assert failed["status"]["failed"] == 1 and len(pods) == 2  # exit 5 was ignored, not counted


def test_active_deadline_fails_the_job_and_deletes_its_pods(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.kubelet.behave(keep_running)
    kube_cluster.create(job("slow", activeDeadlineSeconds=30))
    wait_status(kube_cluster, "slow", "ready", 1)
    kube_cluster.advance_clock(31)
    failed = wait_condition(kube_cluster, "slow", "Failed")
    assert condition(failed, "Failed")["reason"] == "DeadlineExceeded"
    assert condition(failed, "Failed")["message"] == "Job was active longer than specified deadline"
    assert failed["status"]["failed"] == 1 and "active" not in failed["status"]
    kube_cluster.wait_for(lambda: not job_pods(kube_cluster, "slow"))
    (deleted,) = kube_cluster.events("default", involved_name="slow", reason="SuccessfulDelete")
    assert deleted["message"].startswith("Deleted pod: slow-")


def test_suspended_job_creates_no_pods_until_resumed(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.create(job("later", suspend=True))
    suspended = wait_condition(kube_cluster, "later", "Suspended")
    assert condition(suspended, "Suspended")["reason"] == "JobSuspended"
    assert job_pods(kube_cluster, "later") == [] and "startTime" not in suspended["status"]
    kube_cluster.patch("batch", "v1", "jobs", "later", {"spec": {"suspend": False}}, "default")
    done = wait_condition(kube_cluster, "later", "Complete")
    assert done["status"]["startTime"] and done["status"]["succeeded"] == 1
    resumed = next(c for c in done["status"]["conditions"] if c["type"] == "Suspended")
    assert resumed["status"] == "False" and resumed["reason"] == "JobResumed"


def test_pods_of_a_deleted_job_lose_the_tracking_finalizer(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.kubelet.behave(keep_running)
    kube_cluster.create(job("gone"))
    (pod,) = kube_cluster.wait_for(lambda: job_pods(kube_cluster, "gone"))
    kube_cluster.delete("batch", "v1", "jobs", "gone", "default", propagation_policy="Background")
    kube_cluster.wait_for(
        lambda: kube_cluster.find("", "v1", "pods", pod["metadata"]["name"], "default") is None
    )


def test_pods_orphaned_by_a_job_deletion_lose_the_tracking_finalizer(
    kube_cluster: KubeAPIServer,
) -> None:
    kube_cluster.kubelet.behave(keep_running)
    kube_cluster.create(job("left"))
    wait_status(kube_cluster, "left", "ready", 1)  # running, not yet counted: the finalizer holds
    kube_cluster.delete("batch", "v1", "jobs", "left", "default")  # batch/v1 default: Orphan
    (pod,) = kube_cluster.wait_for(
        lambda: [
            p for p in job_pods(kube_cluster, "left") if "ownerReferences" not in p["metadata"]
        ]
    )
    assert "finalizers" not in pod["metadata"]


def test_run_is_a_pod_handle(kube_cluster: KubeAPIServer) -> None:
    seen: list[tuple[str, str, str]] = []

    def behaviour(run: PodRun) -> Outcome:
        seen.append((run.namespace, run.name, run.container["name"]))
        return Outcome()

    kube_cluster.kubelet.behave(behaviour)
    kube_cluster.create(job("handle"))
    wait_condition(kube_cluster, "handle", "Complete")
    (pod,) = job_pods(kube_cluster, "handle")
    assert seen == [("default", pod["metadata"]["name"], "main")]


def _deleted_while_running(kube_cluster: KubeAPIServer, name: str, **spec: object) -> dict:
    """Create Job ``name`` whose pod ignores SIGTERM (for the test's duration) and is held by
    a finalizer, delete the pod, and return the Job once its status shows it terminating."""
    gate = threading.Event()
    kube_cluster.kubelet.behave(lambda run: (run.start(), gate.wait(120), Outcome())[-1])
    kube_cluster.create(job(name, template_meta={"finalizers": ["example.com/keep"]}, **spec))
    wait_status(kube_cluster, name, "ready", 1)
    (pod,) = job_pods(kube_cluster, name)
    kube_cluster.delete("", "v1", "pods", pod["metadata"]["name"], "default")
    return wait_status(kube_cluster, name, "terminating", 1)


def test_a_deleted_pod_is_replaced_at_once_with_terminating_or_failed(
    kube_cluster: KubeAPIServer,
) -> None:
    status = _deleted_while_running(kube_cluster, "swap")["status"]
    assert status["failed"] == 1  # counted at once; the replacement waits the pod backoff
    kube_cluster.advance_clock(10)
    status = wait_status(kube_cluster, "swap", "active", 1)["status"]
    assert status["terminating"] == 1 and len(job_pods(kube_cluster, "swap")) == 2


def test_a_deleted_pod_is_replaced_once_terminated_with_policy_failed(
    kube_cluster: KubeAPIServer,
) -> None:
    status = _deleted_while_running(kube_cluster, "hold", podReplacementPolicy="Failed")["status"]
    # Not counted, not replaced while terminating (no backoff to wait for: nothing failed).
    assert "active" not in status and "failed" not in status
    kube_cluster.advance_clock(10)
    kube_cluster.wait_for(lambda: kube_cluster.get("batch", "v1", "jobs", "hold", "default")["status"].get("terminating") == 1)  # fmt: skip
    assert len(job_pods(kube_cluster, "hold")) == 1
