"""TTL after finished: a finished Job is deleted ttlSecondsAfterFinished later (cluster clock),
its pods with it."""

from __future__ import annotations

from .manifests import job, job_pods, wait_condition
from .server import KubeAPIServer


def test_finished_job_is_deleted_after_its_ttl_with_its_pods(kube_cluster: KubeAPIServer) -> None:
    kube_cluster.create(job("short-lived", ttlSecondsAfterFinished=100))
    wait_condition(kube_cluster, "short-lived", "Complete")
    assert job_pods(kube_cluster, "short-lived")
    kube_cluster.advance_clock(50)
    assert kube_cluster.find("batch", "v1", "jobs", "short-lived", "default") is not None
    kube_cluster.advance_clock(51)
    kube_cluster.wait_for(
        lambda: kube_cluster.find("batch", "v1", "jobs", "short-lived", "default") is None
    )
    kube_cluster.wait_for(lambda: not job_pods(kube_cluster, "short-lived"))


def test_ttl_applies_to_failed_jobs_and_not_to_jobs_without_one(
    kube_cluster: KubeAPIServer,
) -> None:
    from .kubelet import Outcome

    kube_cluster.kubelet.behave(lambda run: Outcome(exit_code=1))
    kube_cluster.create(job("failed", backoffLimit=0, ttlSecondsAfterFinished=0))
    kube_cluster.create(job("kept", backoffLimit=0))
    wait_condition(kube_cluster, "kept", "Failed")
    kube_cluster.wait_for(
        lambda: kube_cluster.find("batch", "v1", "jobs", "failed", "default") is None
    )
    kube_cluster.advance_clock(3600)
    assert kube_cluster.find("batch", "v1", "jobs", "kept", "default") is not None
