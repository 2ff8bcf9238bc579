"""A sharded run end to end (spec.job.parallelism, issue 11.3): the operator runs the scan as
an Indexed Job whose pods (run as processes by the kubelet stand-in) each profile a shard of
the window from S3, then the merge Job writes the report; retries, failures and the cap."""

from __future__ import annotations

import json
import threading

from tests.controller.conftest import NAMESPACE, _put
from tests.kubeapi.kubelet import Outcome

INDEX = "batch.kubernetes.io/job-completion-index"
FILES = 5


def _data(cluster, prefix: str = "many") -> str:
    fs = cluster.s3.filesystem()
    for i in range(FILES):
        _put(fs, f"{cluster.bucket}/{prefix}/part-{i}.parquet", shift=15, seed=10 + i, n=400 + i)
    return prefix


def _finished(cluster, name: str, timeout: float = 120) -> dict:
    return cluster.wait_status(
        name, lambda s: (s.get("lastRun") or {}).get("outcome"), timeout=timeout
    )


def _pods(cluster, monitor: str, phase: str | None = "scan") -> list[dict]:
    selector = f"app.kubernetes.io/instance={monitor}"
    pods = cluster.api.objects("", "v1", "pods", NAMESPACE, label_selector=selector)
    return [
        p
        for p in pods
        if ((p["metadata"].get("labels") or {}).get("driftwarden.io/phase") == phase)
    ]


def _report(cluster, status: dict) -> dict:
    path = status["lastRun"]["report"].removeprefix("s3://")
    with cluster.s3.filesystem().open_input_stream(path) as stream:
        return json.loads(stream.read())


def test_a_sharded_run_reaches_the_status_and_report_of_the_unsharded_run(cluster):
    current = _data(cluster)
    with cluster.operator():
        cluster.monitor("whole", current=current)
        cluster.monitor("split", current=current, job={"parallelism": 3})
        cluster.monitor("auto", current=current, job={"parallelism": "auto"})
        whole, split = _finished(cluster, "whole"), _finished(cluster, "split")
        auto = _finished(cluster, "auto")
    assert split["lastRun"]["outcome"] == whole["lastRun"]["outcome"] == "Succeeded"
    for key in ("drifted", "rows", "driftShare", "driftedFeatures", "totalFeatures"):
        assert split["lastRun"][key] == whole["lastRun"][key], key
    assert split["lastRun"]["rows"]["current"] == sum(400 + i for i in range(FILES))
    assert split["lastRun"]["drifted"] is True
    assert split["features"] == whole["features"]
    assert split["phase"] == whole["phase"]
    # Every row is in the sample: the merged profiles give the data run's statistics exactly.
    assert _report(cluster, split)["features"] == _report(cluster, whole)["features"]
    shards = split["lastRun"]["shards"]
    assert {k: shards[k] for k in ("total", "succeeded", "failed", "active")} == {
        "total": 3,
        "succeeded": 3,
        "failed": 0,
        "active": 0,
    }
    sizes = [
        cluster.s3.filesystem().get_file_info(f"{cluster.bucket}/{current}/part-{i}.parquet").size
        for i in range(FILES)
    ]
    assert shards["bytes"] == sum(sizes)
    assert "shards" not in whole["lastRun"]
    # auto: a first run is one shard, which measures the bytes the next run's count follows.
    assert auto["lastRun"]["shards"]["total"] == 1
    assert auto["lastRun"]["shards"]["bytes"] == sum(sizes)
    assert auto["lastRun"]["driftShare"] == whole["lastRun"]["driftShare"]
    scan_pods = _pods(cluster, "split")
    assert sorted(p["metadata"]["labels"][INDEX] for p in scan_pods) == ["0", "1", "2"]
    assert len(_pods(cluster, "split", None)) == 1  # the merge pod
    assert len(_pods(cluster, "whole", None)) == 1 and not _pods(cluster, "whole")


def test_a_shard_failing_once_reruns_that_index_only(cluster):
    current = _data(cluster)
    failed: list[str] = []
    lock = threading.Lock()

    def fail_index_1_once(run):
        labels = run.pod["metadata"].get("labels") or {}
        with lock:
            if labels.get(INDEX) == "1" and not failed:
                failed.append(run.name)
                return Outcome(exit_code=1, termination_message="transient: connection reset")
        return None

    cluster.kubelet.override(fail_index_1_once)
    with cluster.operator():
        cluster.monitor("flaky", current=current, job={"parallelism": 3, "backoffLimit": 2})
        status = _finished(cluster, "flaky")
    assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
    indexes = sorted(p["metadata"]["labels"][INDEX] for p in _pods(cluster, "flaky"))
    assert indexes == ["0", "1", "1", "2"]  # only index 1 ran again
    shards = status["lastRun"]["shards"]
    assert shards["succeeded"] == 3 and shards["failed"] == 1
    assert status["lastRun"]["rows"]["current"] == sum(400 + i for i in range(FILES))


def test_an_index_failing_for_good_fails_the_run_naming_it(cluster):
    current = _data(cluster)

    def index_2_always_fails(run):
        if (run.pod["metadata"].get("labels") or {}).get(INDEX) == "2":
            return Outcome(exit_code=1, termination_message="disk full on node-7")
        return None

    cluster.kubelet.override(index_2_always_fails)
    with cluster.operator():
        cluster.monitor("broken", current=current, job={"parallelism": 3, "backoffLimit": 1})
        status = _finished(cluster, "broken")
        cluster.api.wait_for(lambda: cluster.events("broken", "AnalysisFailed"), timeout=60)
    last = status["lastRun"]
    assert last["outcome"] == "Failed"
    assert "shard index(es) 2 of 3" in last["message"], last["message"]
    assert "disk full on node-7" in last["message"]
    assert last["shards"]["failedIndexes"] == "2"
    # No merge Job: the run failed at its scan.
    assert not _pods(cluster, "broken", None)
    assert "currentRun" not in status or not status.get("currentRun")


def _unfinished(job: dict) -> bool:
    return not any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def test_the_cap_counts_pods_not_jobs(cluster):
    current = _data(cluster)
    with cluster.operator(max_concurrent_jobs=3):
        cluster.monitor("wide", current=current, job={"parallelism": 5})  # clamped to the cap
        cluster.monitor("narrow-0")
        cluster.monitor("narrow-1")
        for name in ("wide", "narrow-0", "narrow-1"):
            _finished(cluster, name, timeout=180)
    # Replay the server's history: the pods of unfinished analysis Jobs never exceed 3.
    weights: dict[str, int] = {}
    most = 0
    for event in list(cluster.api.core.history):
        obj = event.obj
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        if obj.get("kind") not in (None, "Job") or labels.get("app.kubernetes.io/component") != (
            "analysis"
        ):
            continue
        if "template" not in (obj.get("spec") or {}):
            continue  # a pod
        if event.type == "DELETED" or not _unfinished(obj):
            weights.pop(meta["name"], None)
        else:
            weights[meta["name"]] = int(obj["spec"].get("parallelism") or 1)
        most = max(most, sum(weights.values()))
    assert most <= 3
    assert sorted(p["metadata"]["labels"][INDEX] for p in _pods(cluster, "wide")) == [
        "0",
        "1",
        "2",
    ]
