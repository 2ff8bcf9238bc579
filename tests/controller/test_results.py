"""Durable results and ownership: a run's outcome survives pod GC and Job TTLs, a run that
vanished anyway is reported (never silently re-run), and a re-created monitor starts clean.

The operator is stopped while the cluster's controllers (Job controller, kubelet, pod GC,
TTL-after-finished) act, as happens on a real cluster during an operator upgrade or crash.
"""

from __future__ import annotations

from tests.controller.conftest import NAMESPACE, G, P, V

RESULT_FINALIZER = "driftwarden.io/result"


def _job_posts(cluster) -> list:
    return [
        r
        for r in cluster.api.requests
        if r.method == "POST" and r.plural == "jobs" and r.status == 201
    ]


def _pods(cluster, job_name: str) -> list[dict]:
    return cluster.api.objects(
        "", "v1", "pods", NAMESPACE, label_selector=f"batch.kubernetes.io/job-name={job_name}"
    )


def _finished(job: dict) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def _start_one_run_then_stop(cluster, name: str) -> str:
    """Start a monitor's first Job with the kubelet paused, then stop the operator."""
    cluster.kubelet.paused = True
    with cluster.operator():
        cluster.monitor(name)
        cluster.wait_status(name, lambda s: (s.get("currentRun") or {}).get("job"))
    (job,) = cluster.jobs()
    return job["metadata"]["name"]


def test_result_outlives_pod_gc_and_the_job_ttl(cluster):
    job_name = _start_one_run_then_stop(cluster, "durable")
    cluster.kubelet.paused = False
    cluster.api.wait_for(
        lambda: _finished(cluster.api.get("batch", "v1", "jobs", job_name, NAMESPACE)), timeout=60
    )
    # While the operator is down, pod GC and the TTL controller delete the run's objects.
    for pod in _pods(cluster, job_name):
        cluster.api.gc_pod(NAMESPACE, pod["metadata"]["name"])
    cluster.api.advance_clock(86400 + 60)  # past spec.job.ttlSecondsAfterFinished
    job = cluster.api.get("batch", "v1", "jobs", job_name, NAMESPACE)
    assert (
        job["metadata"].get("deletionTimestamp")
        and RESULT_FINALIZER in job["metadata"]["finalizers"]
    )
    with cluster.operator():
        status = cluster.wait_status("durable", lambda s: (s.get("lastRun") or {}).get("outcome"))
        # Recorded: the finalizers go and the objects with them.
        cluster.api.wait_for(lambda: not cluster.jobs() and not _pods(cluster, job_name))
    assert status["lastRun"]["job"] == job_name
    assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
    assert status["lastRun"]["rows"] == {"reference": 2000, "current": 2000}
    assert len(_job_posts(cluster)) == 1  # the slot was not run again


def test_a_run_that_vanished_is_reported_as_lost_not_rerun(cluster):
    job_name = _start_one_run_then_stop(cluster, "vanished")
    # Someone strips the finalizers and deletes the Job and its pods while the operator is down.
    cluster.api.patch(
        "batch", "v1", "jobs", job_name, {"metadata": {"finalizers": None}}, NAMESPACE
    )
    cluster.api.delete("batch", "v1", "jobs", job_name, NAMESPACE, propagation_policy="Background")
    cluster.api.wait_for(lambda: not cluster.jobs())

    def strip_pods():
        for pod in _pods(cluster, job_name):
            name = pod["metadata"]["name"]
            cluster.api.patch("", "v1", "pods", name, {"metadata": {"finalizers": None}}, NAMESPACE)
            if cluster.api.find("", "v1", "pods", name, NAMESPACE):
                cluster.api.delete("", "v1", "pods", name, NAMESPACE)
        return not _pods(cluster, job_name)

    cluster.api.wait_for(strip_pods)
    cluster.kubelet.paused = False
    with cluster.operator() as reconciler:
        status = cluster.wait_status("vanished", lambda s: (s.get("lastRun") or {}).get("outcome"))
        start = reconciler.passes
        cluster.api.wait_for(lambda: reconciler.passes >= start + 10)
        cluster.api.wait_for(lambda: cluster.events("vanished", "AnalysisFailed"))
    assert (status["lastRun"]["job"], status["lastRun"]["reason"]) == (job_name, "ResultLost")
    assert status.get("currentRun") is None
    assert cluster.jobs() == [] and len(_job_posts(cluster)) == 1


def test_a_recreated_monitor_of_the_same_name_starts_clean(cluster):
    with cluster.operator():
        cluster.monitor("again")
        old = cluster.wait_status("again", lambda s: (s.get("lastRun") or {}).get("outcome"))
        old_job = old["lastRun"]["job"]
        # Deleted with its Jobs orphaned (kubectl delete --cascade=orphan), then created anew.
        cluster.api.delete(G, V, P, "again", NAMESPACE, propagation_policy="Orphan")
        cluster.api.wait_for(
            lambda: cluster.api.find(G, V, P, "again", NAMESPACE) is None, timeout=30
        )
        cluster.monitor("again", current="shifted")
        status = cluster.wait_status("again", lambda s: (s.get("lastRun") or {}).get("outcome"))
    assert status["lastRun"]["job"] != old_job
    assert status["lastRun"]["drifted"] is True  # its own run, not the old monitor's
    assert old_job in {j["metadata"]["name"] for j in cluster.jobs()}  # the orphan is left alone
    orphan = cluster.api.get("batch", "v1", "jobs", old_job, NAMESPACE)
    assert RESULT_FINALIZER not in (orphan["metadata"].get("finalizers") or [])


def test_pod_failure_policy_is_sent_only_to_servers_that_keep_it(cluster):
    cluster.api.set_version("1.25")
    with cluster.operator():
        cluster.monitor("old-server")
        cluster.wait_status("old-server", lambda s: (s.get("lastRun") or {}).get("outcome"))
    (post,) = _job_posts(cluster)
    assert "podFailurePolicy" not in post.body["spec"]
    assert post.body["spec"]["template"]["spec"]["enableServiceLinks"] is False
