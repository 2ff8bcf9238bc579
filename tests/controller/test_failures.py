"""Every failure visible and bounded: refused Jobs, pods that never appear or never schedule,
OOM kills, refused retraining, a status write lost after a retraining Job was created.

The test API server refuses as admission and quota do (``refuse``), its Job controller
posts FailedCreate Events, and its kubelet stand-in reports Unschedulable and OOMKilled.
"""

from __future__ import annotations

from prometheus_client import generate_latest

from tests.controller.conftest import NAMESPACE, G, P, V
from tests.kubeapi.kubelet import Outcome, Unschedulable

QUOTA = (
    'jobs.batch "{name}" is forbidden: exceeded quota: team-quota, requested: count/jobs.batch=1'
)


def _condition(status, kind):
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def _metrics(reconciler) -> str:
    return generate_latest(reconciler.metrics.registry).decode()


def _event_reads(cluster) -> list:
    """The operator's reads of a Job's Events (FailedCreate)."""
    return [r for r in cluster.api.requests if r.plural == "events" and r.method == "GET"]


def _job_posts(cluster) -> list:
    return [
        r
        for r in cluster.api.requests
        if r.method == "POST" and r.plural == "jobs" and r.namespace == NAMESPACE
    ]


def _retraining_template():
    return {
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    # Restricted Pod Security (the Job policy's default) needs a non-root user.
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [
                        {"name": "train", "image": "trainer:1", "command": ["sh", "-c", "true"]}
                    ],
                }
            }
        }
    }


def test_refused_analysis_job_is_reported_once_and_retried_with_backoff(cluster):
    rule = cluster.api.refuse(NAMESPACE, "jobs", status=403, reason="Forbidden", message=QUOTA)
    with cluster.operator() as reconciler:
        cluster.monitor("quota")
        status = cluster.wait_status(
            "quota", lambda s: (_condition(s, "Ready") or {}).get("reason") == "JobRejected"
        )
        ready = _condition(status, "Ready")
        assert ready["status"] == "False" and "exceeded quota: team-quota" in ready["message"]
        assert status["jobCreation"]["failures"] == 1
        # Many ticks inside the backoff window: no new attempt.
        start = reconciler.passes
        cluster.api.wait_for(lambda: reconciler.passes >= start + 10)
        assert len(_job_posts(cluster)) == 1
        # Past the window: one more attempt, refused again; the wait doubles, no new Event.
        cluster.clock.advance(seconds=31)
        cluster.wait_status("quota", lambda s: (s.get("jobCreation") or {}).get("failures") == 2)
        cluster.api.wait_for(
            lambda: (
                'driftwarden_job_create_failures_total{component="analysis",reason="Forbidden"} 2.0'
                in _metrics(reconciler)
            )
        )
        assert len(cluster.events("quota", "JobRejected")) == 1
        # The quota is raised and the spec changes: a new attempt at once, the failure clears.
        rule.remove()
        cluster.api.patch(G, V, P, "quota", {"spec": {"job": {"backoffLimit": 1}}}, NAMESPACE)
        status = cluster.wait_status(
            "quota", lambda s: (s.get("lastRun") or {}).get("outcome") == "Succeeded"
        )
        assert status.get("jobCreation") is None
    (event,) = cluster.events("quota", "JobRejected")
    assert event["type"] == "Warning" and "exceeded quota" in event["message"]


def test_pods_that_cannot_be_created_are_reported_from_the_jobs_events(cluster):
    cluster.api.refuse(
        NAMESPACE,
        "pods",
        status=403,
        message='pods "{name}" is forbidden: exceeded quota: pod-quota, requested: pods=1',
    )
    with cluster.operator() as reconciler:
        cluster.monitor("no-pods")
        status = cluster.wait_status(
            "no-pods",
            lambda s: (_condition(s, "Ready") or {}).get("reason") == "PodCreationFailed",
        )
        assert "exceeded quota: pod-quota" in _condition(status, "Ready")["message"]
        assert status["phase"] == "Running"
        cluster.api.wait_for(lambda: cluster.events("no-pods", "AnalysisStuck"))
        # Passes go by between the reads of the Job's Events (one a tick): the run stays
        # stuck and is said so once, Ready never flipping back in between.
        reads, passes = len(_event_reads(cluster)), reconciler.passes
        cluster.api.wait_for(
            lambda: len(_event_reads(cluster)) >= reads + 3 and reconciler.passes >= passes + 10,
            timeout=30,
        )
        readies = [
            str(w.body) for w in cluster.api.writes("driftmonitors", subresource="status")
            if "'Ready'" in str(w.body)
        ]  # fmt: skip
        stuck = next(i for i, body in enumerate(readies) if "PodCreationFailed" in body)
        assert all("PodCreationFailed" in body for body in readies[stuck:]), readies[stuck:]
        assert _condition(cluster.status("no-pods"), "Ready")["reason"] == "PodCreationFailed"
    assert len(cluster.events("no-pods", "AnalysisStuck")) == 1


def test_unschedulable_pod_is_reported_with_the_schedulers_message(cluster):
    cluster.api.kubelet.behave(
        lambda run: Unschedulable("0/3 nodes are available: 3 Insufficient memory.")
    )
    with cluster.operator():
        cluster.monitor("too-big")
        status = cluster.wait_status(
            "too-big", lambda s: (_condition(s, "Ready") or {}).get("reason") == "Unschedulable"
        )
        assert "3 Insufficient memory" in _condition(status, "Ready")["message"]
        cluster.api.wait_for(lambda: cluster.events("too-big", "AnalysisStuck"))


def test_oom_killed_analysis_says_to_raise_the_memory_limit(cluster):
    cluster.api.kubelet.behave(lambda run: Outcome.oom_killed(logs="reading part-0.parquet"))
    with cluster.operator():
        cluster.monitor("hungry", job={"backoffLimit": 0})
        status = cluster.wait_status(
            "hungry", lambda s: (s.get("lastRun") or {}).get("outcome") == "Failed"
        )
    ready = _condition(status, "Ready")
    assert status["lastRun"]["reason"] == "OutOfMemory" == ready["reason"]
    assert "spec.job.resources.limits.memory" in ready["message"]


def test_refused_retraining_never_blocks_recording_runs(cluster):
    cluster.api.refuse(
        NAMESPACE,
        "jobs",
        status=403,
        message='jobs.batch "{name}" is forbidden: retraining is not allowed here',
        match=lambda job: (
            job["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "retraining"
        ),
    )
    with cluster.operator(allowed_images=("trainer:*",)) as reconciler:
        cluster.monitor(
            "blocked", current="shifted", retraining={"jobTemplate": _retraining_template()}
        )
        status = cluster.wait_status(
            "blocked", lambda s: (s.get("lastRun") or {}).get("outcome") == "Succeeded"
        )
        trigger = _condition(status, "RetrainingTriggered")
        assert (trigger["status"], trigger["reason"]) == ("False", "RetrainingRejected")
        assert "retraining is not allowed here" in trigger["message"]
        first = status["lastRun"]["job"]
        cluster.clock.advance(hours=1)  # the next run is recorded as well
        cluster.wait_status(
            "blocked", lambda s: (s.get("lastRun") or {}).get("job") not in (None, first)
        )
        cluster.api.wait_for(
            lambda: (
                'driftwarden_job_create_failures_total{component="retraining",reason="Forbidden"}'
                in _metrics(reconciler)
            )
        )
        cluster.api.wait_for(lambda: cluster.events("blocked", "RetrainingRejected"))
    assert cluster.jobs("retraining") == []


def test_retraining_is_recorded_even_when_the_status_write_after_its_create_failed(cluster):
    cluster.kubelet.paused = True
    with cluster.operator(allowed_images=("trainer:*",), failures_expected=True) as reconciler:
        cluster.monitor(
            "flaky", current="shifted", retraining={"jobTemplate": _retraining_template()}
        )
        cluster.wait_status("flaky", lambda s: (s.get("currentRun") or {}).get("job"))
        # The next status write — the one recording the run and its retraining — fails.
        fault = cluster.api.inject(500, method="PATCH", path=r"/driftmonitors/flaky/status$")
        cluster.kubelet.paused = False
        cluster.api.wait_for(lambda: fault.hits == 1, timeout=60)
        status = cluster.wait_status("flaky", lambda s: (s.get("lastRetraining") or {}).get("job"))
        cluster.api.wait_for(
            lambda: (
                'driftwarden_retraining_jobs_started_total{monitor="flaky",namespace="ml"} 1.0'
                in _metrics(reconciler)
            )
        )
        cluster.api.wait_for(lambda: cluster.events("flaky", "RetrainingStarted"))
    (retrain,) = cluster.jobs("retraining")
    assert status["lastRetraining"]["job"] == retrain["metadata"]["name"]
    assert len(cluster.events("flaky", "RetrainingStarted")) == 1


def test_failing_retraining_job_is_reported(cluster):
    def behaviour(run):
        if run.pod["metadata"]["labels"].get("app.kubernetes.io/component") == "retraining":
            return Unschedulable("0/3 nodes are available: 3 node(s) had untolerated taint.")
        return cluster.kubelet.run(run)

    cluster.api.kubelet.behave(behaviour)
    with cluster.operator(allowed_images=("trainer:*",)):
        cluster.monitor(
            "stuck-train", current="shifted", retraining={"jobTemplate": _retraining_template()}
        )
        status = cluster.wait_status(
            "stuck-train",
            lambda s: (
                (_condition(s, "RetrainingTriggered") or {}).get("reason")
                == "RetrainingNotStarting"
            ),
        )
        assert "untolerated taint" in _condition(status, "RetrainingTriggered")["message"]
        cluster.api.wait_for(lambda: cluster.events("stuck-train", "RetrainingNotStarting"))
