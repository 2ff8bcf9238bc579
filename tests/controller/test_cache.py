"""The slim copies kept in the operator's indexes, and how Jobs and pods are tied to a monitor."""

from driftwarden.controller.cache import ClusterView, monitor_uid, slim_job, slim_pod
from driftwarden.monitor.runs import group_runs, is_settled, pods_of_job


def _job(name="churn-1", uid_label="u-1", owner_uid=None):
    meta = {
        "name": name,
        "namespace": "ml",
        "labels": {"app.kubernetes.io/component": "analysis"},
        "annotations": {"driftwarden.io/slot": "2024-05-01T10:00:00Z", "other.io/x": "y"},
    }
    if uid_label:
        meta["labels"]["driftwarden.io/monitor-uid"] = uid_label
    if owner_uid:
        meta["ownerReferences"] = [
            {"kind": "DriftMonitor", "uid": owner_uid, "controller": True, "name": "churn"}
        ]
    env = [{"name": "DRIFTWARDEN_MONITOR", "value": "x" * 100_000}]
    return {
        "metadata": meta,
        "spec": {"template": {"spec": {"containers": [{"name": "analyze", "env": env}]}}},
        "status": {"active": 1, "uncountedTerminatedPods": {}},
    }


def test_slim_job_keeps_what_the_reconciler_reads_and_drops_the_template():
    slim = slim_job(_job())
    assert "spec" not in slim and len(str(slim)) < 1000
    assert slim["metadata"]["annotations"] == {"driftwarden.io/slot": "2024-05-01T10:00:00Z"}
    assert slim["status"] == {"active": 1}


def test_slim_job_keeps_the_pods_a_job_counts_going_or_gone():
    """What says a Job made pods (monitor/creation.py): terminating ones, and finished ones
    the Job controller has not counted yet."""
    job = _job()
    job["status"] = {
        "terminating": 1,
        "uncountedTerminatedPods": {"failed": ["p"], "succeeded": []},
    }
    assert slim_job(job)["status"] == {
        "terminating": 1,
        "uncountedTerminatedPods": {"failed": ["p"]},
    }


def test_slim_pod_keeps_phase_conditions_and_container_states():
    pod = {
        "metadata": {"name": "p", "labels": {"job-name": "churn-1"}},
        "spec": {"containers": [{"name": "analyze"}]},
        "status": {
            "phase": "Failed",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                {"name": "analyze", "image": "i", "state": {"terminated": {"exitCode": 3}}}
            ],
        },
    }
    slim = slim_pod(pod)
    assert "spec" not in slim
    assert slim["status"]["containerStatuses"] == [
        {"name": "analyze", "state": {"terminated": {"exitCode": 3}}}
    ]


def test_owner_is_the_uid_label_else_the_controller_owner_reference():
    assert monitor_uid(_job()) == "u-1"
    assert monitor_uid(_job(uid_label=None, owner_uid="u-2")) == "u-2"
    assert monitor_uid(_job(uid_label=None)) is None


def test_view_reads_plain_mappings_and_runs_group_jobs_with_their_pods():
    job = slim_job(_job())
    pod = {
        "metadata": {
            "name": "p",
            "labels": {"job-name": "churn-1", "app.kubernetes.io/component": "analysis"},
        }
    }
    orphan_pod = {
        "metadata": {
            "name": "q",
            "labels": {
                "job-name": "churn-0",
                "app.kubernetes.io/component": "analysis",
            },
            "annotations": {"driftwarden.io/slot": "2024-05-01T09:00:00Z"},
        }
    }
    view = ClusterView(
        jobs={"u-1": [job]},
        pods={"u-1": [pod, orphan_pod]},
        active={"active": [("ml", "churn-1"), ("ml", "churn-2-scan", 4)]},
    )
    # The cap counts pods: a scan Job of 4 shards weighs 4 (an entry without a weight 1).
    assert view.jobs_of("u-2") == []
    assert view.unfinished() == {("ml", "churn-1"): 1, ("ml", "churn-2-scan"): 4}
    runs = group_runs(view.jobs_of("u-1"), view.pods_of("u-1"))
    assert runs["churn-1"].pods == [pod] and runs["churn-0"].job is None
    assert pods_of_job(view.pods_of("u-1"), "churn-0") == [orphan_pod]
    status = {"lastRun": {"job": "churn-1", "slot": "2024-05-01T10:00:00Z"}}
    assert is_settled("churn-1", runs["churn-1"].slot, status)
    assert is_settled("churn-0", runs["churn-0"].slot, status)  # older than the recorded run
    assert not is_settled("churn-2", None, {})


def test_a_view_made_while_kopfs_indexes_are_empty_sees_what_the_watch_adds_later():
    # kopf's own index: empty, it is falsy. A view must keep it, not swap it for a dict that
    # stays empty, or a pass run after the first Job was watched sees no Job at all.
    from kopf._core.engines.indexing import OperatorIndexer

    indexers = {name: OperatorIndexer() for name in ("driftwarden_jobs", "driftwarden_pods")}
    kwargs = {name: indexer.index for name, indexer in indexers.items()}
    assert not kwargs["driftwarden_jobs"]  # the case: an empty index is falsy
    view = ClusterView.from_kwargs(kwargs)
    assert view.jobs_of("u-1") == [] and view.unfinished() == {}
    job = slim_job(_job())
    indexers["driftwarden_jobs"].replace(("ml", "churn-1", "job-uid"), {"u-1": job})
    indexers["driftwarden_pods"].replace(("ml", "p", "pod-uid"), {"u-1": {"metadata": {}}})
    assert view.jobs_of("u-1") == [job]
    assert view.pods_of("u-1") == [{"metadata": {}}]
    # An index the handler was not given stays an empty mapping.
    assert view.monitor("u-1") is None
