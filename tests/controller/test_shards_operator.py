"""A sharded run end to end (spec.job.parallelism, issue 11.3): the operator runs the scan as
an Indexed Job whose pods (run as processes by the kubelet stand-in) each profile a shard of
the window from S3, then the merge Job writes the report; retries, failures and the cap."""

from __future__ import annotations

import json
import threading

import pytest

from driftwarden.sources import without_source
from tests.controller.conftest import NAMESPACE, G, P, V, _put
from tests.kubeapi.kubelet import Outcome, keep_running

INDEX = "batch.kubernetes.io/job-completion-index"
LABEL_PHASE = "driftwarden.io/phase"
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
    # Every row is in the sample: the merged profiles give the data run's report exactly,
    # findings included, but for the current side's source (SOURCE_FIELDS) and the monitor.
    split_report, whole_report = _report(cluster, split), _report(cluster, whole)
    assert split_report.pop("monitor") != whole_report.pop("monitor")
    assert without_source(split_report) == without_source(whole_report)
    assert split_report["current"]["format"] == "profile"
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


def _scan_jobs(cluster, monitor: str) -> list[dict]:
    return [
        j
        for j in cluster.jobs()
        if j["metadata"]["labels"].get("driftwarden.io/phase") == "scan"
        and j["metadata"]["labels"]["app.kubernetes.io/instance"] == monitor
    ]


def test_before_1_29_the_shards_share_one_backoff_budget(cluster):
    cluster.api.set_version("1.28")  # backoffLimitPerIndex is dropped by this server
    current = _data(cluster)
    failed: list[str] = []
    lock = threading.Lock()

    def fail_index_0_once(run):
        with lock:
            if (run.pod["metadata"].get("labels") or {}).get(INDEX) == "0" and not failed:
                failed.append(run.name)
                return Outcome(exit_code=1, termination_message="transient")
        return None

    cluster.kubelet.override(fail_index_0_once)
    with cluster.operator():
        cluster.monitor("older", current=current, job={"parallelism": 2, "backoffLimit": 1})
        status = _finished(cluster, "older")
    assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
    (scan,) = _scan_jobs(cluster, "older")
    assert "backoffLimitPerIndex" not in scan["spec"]
    assert scan["spec"]["backoffLimit"] == 2  # 1 retry per shard, over both shards
    assert sorted(p["metadata"]["labels"][INDEX] for p in _pods(cluster, "older")) == [
        "0",
        "0",
        "1",
    ]


def _put_timed(cluster, prefix: str) -> None:
    """Four half-day files of stamped rows from 16:00 on the 21st: the 24 h window before
    the 10:00 slot on the 23rd cuts two of them, holds one whole and leaves one out."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs = cluster.s3.filesystem()
    for part in range(4):
        rng = np.random.default_rng(40 + part)
        n = 300
        start = np.datetime64("2026-11-21T16:00:00") + np.timedelta64(12 * part, "h")
        stamps = start + np.sort(rng.integers(0, 12 * 3600, n)).astype("timedelta64[s]")
        table = pa.table(
            {
                "ts": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                "income": rng.normal(60, 10, n),
                "tenure": rng.gamma(2.0, 10.0, n),
                "plan": rng.choice(["basic", "pro", "team"], n),
            }
        )
        with fs.open_output_stream(f"{cluster.bucket}/{prefix}/part-{part}.parquet") as sink:
            pq.write_table(table, sink)


def _windowed(cluster, name: str, job: dict) -> None:
    body = {
        "apiVersion": "driftwarden.io/v1alpha1",
        "kind": "DriftMonitor",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "interval": "1h",
            "storage": {
                "endpoint": cluster.s3.endpoint,
                "region": cluster.s3.region,
                "secretRef": {"name": "s3-credentials"},
            },
            "reference": {"path": f"s3://{cluster.bucket}/train/"},
            "current": {
                "path": f"s3://{cluster.bucket}/timed/",
                "timestampColumn": "ts",
                "window": "24h",
            },
            "output": {"path": f"s3://{cluster.bucket}/reports/"},
            "job": job,
        },
    }
    cluster.api.create(body)


def test_a_windowed_sharded_run_reads_the_rows_of_its_window(cluster):
    _put_timed(cluster, "timed")
    with cluster.operator():
        _windowed(cluster, "win-whole", {})
        _windowed(cluster, "win-split", {"parallelism": 3})
        whole, split = _finished(cluster, "win-whole"), _finished(cluster, "win-split")
    assert split["lastRun"]["outcome"] == whole["lastRun"]["outcome"] == "Succeeded", (
        split["lastRun"],
        whole["lastRun"],
    )
    # Part of the first file in the window, all of the second, part of the third.
    rows = whole["lastRun"]["rows"]["current"]
    assert 300 < rows < 900
    for key in ("rows", "driftShare", "driftedFeatures", "totalFeatures"):
        assert split["lastRun"][key] == whole["lastRun"][key], key
    split_report, whole_report = _report(cluster, split), _report(cluster, whole)
    assert split_report["features"] == whole_report["features"]
    assert split_report["current"]["window"] == whole_report["current"]["window"]


def _facts(pod: dict) -> dict:
    (state,) = pod["status"]["containerStatuses"]
    return json.loads(state["state"]["terminated"]["message"])


def _listing(cluster, prefix: str) -> dict[str, bytes]:
    import pyarrow.fs as pafs

    fs = cluster.s3.filesystem()
    found = fs.get_file_info(pafs.FileSelector(f"{cluster.bucket}/{prefix}", allow_not_found=True))
    out = {}
    for info in found:
        if info.type != pafs.FileType.File:
            continue  # the unsharded run's current-window cache: not compared
        with fs.open_input_stream(info.path) as stream:
            out[info.base_name] = stream.read()
    return out


def test_the_scan_pods_build_the_reference_then_count_on_its_cached_edges(cluster):
    """Issue 11.3, the reference: a first run's shard pods miss the reference profile cache,
    each profiles its share of the reference, and the merge caches their merge (the bytes the
    unsharded run caches); the next run's pods find it and count their histograms on its
    edges, so with samples smaller than the data the report is the unsharded run's."""
    current = _data(cluster)
    fs = cluster.s3.filesystem()
    for i in range(3):
        _put(fs, f"{cluster.bucket}/bigtrain/part-{i}.parquet", shift=0, seed=70 + i, n=600 + i)
    spec = {
        "reference": {"path": f"s3://{cluster.bucket}/bigtrain/"},
        "profile": {"sampleSize": 1000},  # the least; ~2,000 rows a side
    }
    with cluster.operator():
        cluster.monitor("ref-whole", current=current, **spec)
        cluster.monitor("ref-split", current=current, job={"parallelism": 3}, **spec)
        whole, split = _finished(cluster, "ref-whole"), _finished(cluster, "ref-split")
        assert split["lastRun"]["outcome"] == "Succeeded", split["lastRun"]
        first_run = split["lastRun"]["job"]
        facts = [_facts(p) for p in _pods(cluster, "ref-split")]
        assert sorted(f["reference"] for f in facts) == ["shard"] * 3
        shards = _listing(cluster, f"reports/ref-split/{first_run}/shards")
        assert sorted(n for n in shards if n.startswith("reference-")) == [
            f"reference-{i}.dwprofile" for i in range(3)
        ]
        # The merge cached the reference's shards merged: the unsharded run's entry, byte for byte.
        cached = _listing(cluster, "reports/ref-split/profile-cache")
        assert len(cached) == 1 and cached == _listing(cluster, "reports/ref-whole/profile-cache")
        first_split, first_whole = _report(cluster, split), _report(cluster, whole)
        assert first_split["reference"] == first_whole["reference"]
        assert first_split["reference"]["profileCached"] is False
        assert first_split["reference"]["rows"] == sum(600 + i for i in range(3))

        cluster.clock.advance(hours=1)
        whole = cluster.wait_status(
            "ref-whole",
            lambda s: (s.get("lastRun") or {}).get("job") not in (None, whole["lastRun"]["job"]),
            timeout=120,
        )
        split = cluster.wait_status(
            "ref-split",
            lambda s: (s.get("lastRun") or {}).get("job") not in (None, first_run),
            timeout=120,
        )
    assert split["lastRun"]["outcome"] == "Succeeded", split["lastRun"]
    second = [
        p
        for p in _pods(cluster, "ref-split")
        if p["metadata"]["labels"].get("driftwarden.io/run") == split["lastRun"]["job"]
    ]
    assert sorted(_facts(p)["reference"] for p in second) == ["cached"] * 3
    assert not [
        n
        for n in _listing(cluster, f"reports/ref-split/{split['lastRun']['job']}/shards")
        if n.startswith("reference-")
    ]
    split_report, whole_report = _report(cluster, split), _report(cluster, whole)
    assert split_report["reference"]["profileCached"] is True
    numerical = [f for f in split_report["features"] if f["kind"] == "numerical"]
    assert numerical and not any(f["exact"] for f in numerical)  # samples of 1,000
    assert split_report["features"] == whole_report["features"]
    assert split_report["dataset"] == whole_report["dataset"]
    for key in ("rows", "driftShare", "driftedFeatures", "totalFeatures"):
        assert split["lastRun"][key] == whole["lastRun"][key], key


def test_a_conflicting_status_write_loses_no_start_event(cluster):
    """Events follow a successful status write; a write that conflicts (409: another writer
    came first) announces nothing, and the next pass, finding the Job already created,
    announces it then: the scan's AnalysisStarted, the merge's ShardsMerging and an unsharded
    run's AnalysisStarted each come once, and the started-Jobs counter counts each Job once."""
    from prometheus_client import generate_latest

    current = _data(cluster)
    analysis = "app.kubernetes.io/component=analysis"

    def jobs_of(monitor: str, scan: bool) -> list[dict]:
        """The monitor's scan Jobs, or its other analysis Jobs (merge or unsharded)."""
        # Called on the API server's thread too (a fault's `when`): it reads its state directly.
        selector = f"{analysis},app.kubernetes.io/instance={monitor}"
        jobs = cluster.api.objects("batch", "v1", "jobs", NAMESPACE, label_selector=selector)
        return [j for j in jobs if (j["metadata"]["labels"].get(LABEL_PHASE) == "scan") == scan]

    def status_write(monitor: str) -> dict:
        return {"method": "PATCH", "plural": "driftmonitors", "path": f"/{monitor}/status$"}

    # The first status write after each Job's create: another writer comes first.
    faults = [
        cluster.api.inject(
            "conflict",
            **status_write("racy"),
            when=lambda: bool(jobs_of("racy", scan=True)) and not jobs_of("racy", scan=False),
        ),
        cluster.api.inject(
            "conflict", **status_write("racy"), when=lambda: bool(jobs_of("racy", scan=False))
        ),
        cluster.api.inject(
            "conflict", **status_write("plain"), when=lambda: bool(jobs_of("plain", scan=False))
        ),
    ]
    with cluster.operator() as reconciler:
        cluster.monitor("racy", current=current, job={"parallelism": 2})
        cluster.monitor("plain", current=current)
        for name in ("racy", "plain"):
            assert _finished(cluster, name)["lastRun"]["outcome"] == "Succeeded"
            # The outcome's Event is the pass's last: wait for it, then count the starts.
            cluster.api.wait_for(lambda n=name: cluster.events(n, "DriftDetected"), timeout=60)
        cluster.api.wait_for(lambda: cluster.events("racy", "ShardsMerging"), timeout=60)
        metrics = generate_latest(reconciler.metrics.registry).decode()
    assert [f.hits for f in faults] == [1, 1, 1]
    (scan,) = jobs_of("racy", scan=True)
    (merge,) = jobs_of("racy", scan=False)
    (plain,) = jobs_of("plain", scan=False)
    started = cluster.events("racy", "AnalysisStarted")
    assert [e["message"].split()[2] for e in started] == [scan["metadata"]["name"]]
    merging = cluster.events("racy", "ShardsMerging")
    assert [e["message"].split()[2] for e in merging] == [merge["metadata"]["name"]]
    started = cluster.events("plain", "AnalysisStarted")
    assert [e["message"].split()[2] for e in started] == [plain["metadata"]["name"]]
    total = "driftwarden_analysis_jobs_started_total"
    assert f'{total}{{monitor="racy",namespace="ml"}} 2.0' in metrics
    assert f'{total}{{monitor="plain",namespace="ml"}} 1.0' in metrics


def test_a_scan_job_deleted_mid_run_loses_the_run_and_the_next_slot_runs(cluster):
    """Someone deletes the scan Job while its shards run (kubectl delete job, a namespace
    cleanup): its pods go with it, no merge can start, and the run ends ResultLost (never
    re-run, as a deleted analysis Job); the next slot runs on schedule."""
    current = _data(cluster)
    cluster.kubelet.paused = True  # the shard pods stay Pending: the scan is mid-run
    with cluster.operator():
        cluster.monitor("cut", current=current, job={"parallelism": 2})
        cluster.wait_status("cut", lambda s: (s.get("currentRun") or {}).get("phase") == "Scanning")
        (scan,) = _scan_jobs(cluster, "cut")
        cluster.api.delete(
            "batch", "v1", "jobs", scan["metadata"]["name"], NAMESPACE,
            propagation_policy="Background",
        )  # fmt: skip
        lost = _finished(cluster, "cut")["lastRun"]
        cluster.kubelet.paused = False
        assert (lost["outcome"], lost["reason"]) == ("Failed", "ResultLost"), lost
        assert not [j for j in cluster.jobs() if j["metadata"]["name"] == lost["job"]]
        cluster.clock.advance(hours=1)
        after = cluster.wait_status(
            "cut", lambda s: (s.get("lastRun") or {}).get("job") not in (None, lost["job"]),
            timeout=120,
        )  # fmt: skip
    assert after["lastRun"]["outcome"] == "Succeeded", after["lastRun"]
    assert after["lastRun"]["slot"] > lost["slot"]
    # The lost slot was not run again (its scan Job was created once).
    name = scan["metadata"]["name"]
    history = list(cluster.api.core.history)
    assert len([e for e in history if e.type == "ADDED" and e.obj["metadata"]["name"] == name]) == 1


def test_a_restart_between_scan_and_merge_starts_the_merge_once(cluster):
    """The operator is down when the scan finishes: the next one finds the succeeded scan
    (no status says Merging yet), creates the merge Job once and announces it once."""
    current = _data(cluster)
    cluster.kubelet.paused = True
    with cluster.operator():
        cluster.monitor("restart", current=current, job={"parallelism": 2})
        cluster.wait_status(
            "restart", lambda s: (s.get("currentRun") or {}).get("phase") == "Scanning"
        )
        cluster.api.wait_for(lambda: cluster.events("restart", "AnalysisStarted"))
    # Down: the shards run and the scan succeeds meanwhile.
    cluster.kubelet.paused = False
    (scan,) = _scan_jobs(cluster, "restart")
    cluster.api.wait_for(
        lambda: (
            not _unfinished(
                cluster.api.get("batch", "v1", "jobs", scan["metadata"]["name"], NAMESPACE)
            )
        ),
        timeout=120,
    )
    assert not [j for j in cluster.jobs() if j["metadata"]["labels"].get(LABEL_PHASE) != "scan"]
    with cluster.operator():
        status = _finished(cluster, "restart")
        cluster.api.wait_for(lambda: cluster.events("restart", "DriftDetected"), timeout=60)
    assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
    merges = [j for j in cluster.jobs() if j["metadata"]["labels"].get(LABEL_PHASE) != "scan"]
    assert [j["metadata"]["name"] for j in merges] == [status["lastRun"]["job"]]
    assert len(_pods(cluster, "restart", None)) == 1  # one merge pod ever ran
    assert len(cluster.events("restart", "ShardsMerging")) == 1
    assert len(cluster.events("restart", "AnalysisStarted")) == 1


def test_shard_pods_refused_by_a_quota_are_reported_and_the_scan_goes_on_once_allowed(cluster):
    """A ResourceQuota refusing the scan Job's pods (403 exceeded quota): the Job controller
    posts FailedCreate, the run says PodCreationFailed with the quota's message (and one
    AnalysisStuck Event) while it scans; once the quota allows them the shards run."""
    current = _data(cluster)
    quota = cluster.api.refuse(
        NAMESPACE,
        "pods",
        status=403,
        message='pods "{name}" is forbidden: exceeded quota: shard-quota, requested: pods=1',
        match=lambda pod: (pod["metadata"].get("labels") or {}).get(LABEL_PHASE) == "scan",
    )

    def ready(status: dict) -> dict:
        return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})

    with cluster.operator():
        cluster.monitor("quota", current=current, job={"parallelism": 2})
        stuck = cluster.wait_status(
            "quota", lambda s: ready(s).get("reason") == "PodCreationFailed", timeout=60
        )
        assert "exceeded quota: shard-quota" in ready(stuck)["message"]
        assert stuck["currentRun"]["phase"] == "Scanning"
        assert stuck["currentRun"]["shards"]["active"] == 0
        cluster.api.wait_for(lambda: cluster.events("quota", "AnalysisStuck"), timeout=60)
        quota.remove()
        status = _finished(cluster, "quota")
    assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
    assert status["lastRun"]["shards"]["succeeded"] == 2
    assert quota.hits > 0


def _refused(status: dict) -> str | None:
    return ((status.get("currentRun") or {}).get("shards") or {}).get("refused")


def _pod_reads(cluster) -> list:
    """The operator's reads of a Job's pods past its watch (``controller-uid`` selector)."""
    return [
        r
        for r in cluster.api.requests
        if r.plural == "pods" and not r.is_watch and "controller-uid" in str(r.query)
    ]


def _admit_shard_zero_only(cluster):
    """A quota (403 exceeded quota) admitting shard 0's pod and refusing the others'."""
    return cluster.api.refuse(
        NAMESPACE,
        "pods",
        status=403,
        message='pods "{name}" is forbidden: exceeded quota: shard-quota, requested: pods=1',
        match=lambda pod: (
            (pod["metadata"].get("labels") or {}).get(LABEL_PHASE) == "scan"
            and (pod["metadata"].get("annotations") or {}).get(INDEX) != "0"
        ),
    )


def test_a_quota_admitting_some_shard_pods_is_reported_while_the_others_run(cluster):
    """A quota admitting 1 of 3 shard pods: the run goes on (no failure, Ready untouched) and
    says so once, currentRun.shards.refused and one ShardPodsRefused Warning with the
    quota's message; once the quota frees up every shard runs and the run succeeds."""
    current = _data(cluster)
    quota = _admit_shard_zero_only(cluster)
    cluster.kubelet.paused = True  # shard 0 holds its place in the quota meanwhile
    try:
        with cluster.operator():
            cluster.monitor("partial", current=current, job={"parallelism": 3})
            seen = cluster.wait_status(
                "partial",
                lambda s: ((s.get("currentRun") or {}).get("shards") or {}).get("refused"),
                timeout=60,
            )
            shards = seen["currentRun"]["shards"]
            assert "exceeded quota: shard-quota" in shards["refused"]
            assert shards["active"] == 1 and shards["total"] == 3
            assert seen["currentRun"]["phase"] == "Scanning"
            ready = next(c for c in seen["conditions"] if c["type"] == "Ready")
            assert ready["reason"] != "PodCreationFailed"
            (warning,) = cluster.api.wait_for(
                lambda: cluster.events("partial", "ShardPodsRefused"), timeout=60
            )
            assert (
                warning["type"] == "Warning" and "exceeded quota: shard-quota" in warning["message"]
            )
            quota.remove()
            cluster.kubelet.paused = False
            status = _finished(cluster, "partial")
    finally:
        cluster.kubelet.paused = False
    assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
    assert status["lastRun"]["shards"]["succeeded"] == 3
    assert "refused" not in status["lastRun"]["shards"]
    assert len(cluster.events("partial", "ShardPodsRefused")) == 1
    assert quota.hits > 0
    # Some shard pods ran all along: never stuck (the Events were posted long before the run
    # finished, so waiting for it waited for them).
    assert not cluster.events("partial", "AnalysisStuck")
    assert not [c for c in status["conditions"] if c["reason"] == "PodCreationFailed"], status[
        "conditions"
    ]


@pytest.mark.parametrize(
    "lagging", [("pods",), ("pods", "jobs")], ids=["pod-watch-lags", "job-and-pod-watches-lag"]
)
def test_a_partially_admitted_scan_is_not_stuck_while_the_operators_watches_lag(cluster, lagging):
    """One Job-controller sync creates shard 0's pod and is refused shard 1's (FailedCreate),
    and the operator's watch of pods (and of Jobs) has not shown it yet: the Events it reads
    are ahead of its watches. The scan made a pod, so it is not stuck (the Job's status
    counts it; else the Job's pods read after the Events show it): no PodCreationFailed, no
    AnalysisStuck, the refusal reported as currentRun.shards.refused; once the watches catch
    up and the quota frees up, the run succeeds."""
    current = _data(cluster)
    quota = _admit_shard_zero_only(cluster)
    cluster.kubelet.paused = True
    holds = [cluster.api.hold_watch(plural) for plural in lagging]

    def ready(status: dict) -> dict:
        return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})

    try:
        with cluster.operator():
            cluster.monitor("lagging", current=current, job={"parallelism": 3})
            # The server holds shard 0's pod and the refusal of shard 1 ...
            cluster.api.wait_for(
                lambda: _pods(cluster, "lagging") and cluster.api.events(NAMESPACE, reason="FailedCreate"),
                timeout=60,
            )  # fmt: skip
            # ... and the operator has read the Events since, twice: it said stuck, or the
            # refusal (the Job's status counts shard 0), or it read the Job's pods (the
            # watch of Jobs lags too) and found shard 0's.
            cluster.api.wait_for(
                lambda: (
                    ready(cluster.status("lagging")).get("reason") == "PodCreationFailed"
                    or _refused(cluster.status("lagging"))
                    or len(_pod_reads(cluster)) >= 2
                ),
                timeout=60,
            )
            seen = cluster.status("lagging")
            assert ready(seen).get("reason") != "PodCreationFailed", ready(seen)
            assert all(hold.delayed > 0 for hold in holds)  # the watches did lag the Events
            if "jobs" not in lagging:
                assert "exceeded quota: shard-quota" in _refused(
                    cluster.wait_status("lagging", _refused)
                )
            for hold in holds:
                hold.release()
            quota.remove()
            cluster.kubelet.paused = False
            status = _finished(cluster, "lagging")
    finally:
        for hold in holds:
            hold.release()
        cluster.kubelet.paused = False
    assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
    assert not cluster.events("lagging", "AnalysisStuck")


def test_an_overloaded_api_server_429_delays_the_sharded_run_but_duplicates_nothing(cluster):
    """API Priority and Fairness answers 429 to Job creates and status writes: the operator
    retries (kopf's handler retry, the next tick) and the run completes with one scan Job,
    one merge Job and one Event of each start."""
    current = _data(cluster)
    creates = cluster.api.inject(429, method="POST", plural="jobs", count=3, retry_after=1)
    writes = cluster.api.inject(
        429, method="PATCH", plural="driftmonitors", path="/busy/status$", count=3, retry_after=1
    )
    with cluster.operator(failures_expected=True):
        cluster.monitor("busy", current=current, job={"parallelism": 2})
        status = _finished(cluster, "busy")
        cluster.api.wait_for(lambda: cluster.events("busy", "DriftDetected"), timeout=60)
    assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
    assert (creates.hits, writes.hits) == (3, 3)
    assert len(_scan_jobs(cluster, "busy")) == 1
    assert (
        len([j for j in cluster.jobs() if j["metadata"]["labels"].get(LABEL_PHASE) != "scan"]) == 1
    )
    assert len(cluster.events("busy", "AnalysisStarted")) == 1
    assert len(cluster.events("busy", "ShardsMerging")) == 1


def test_a_switch_to_one_shard_leaves_no_sharded_keys_and_no_repeated_writes(cluster):
    """The spec goes from parallelism 2 to 1 while a sharded run is in flight; the pass that
    records it also starts the next, unsharded run. The status is a merge patch, where a key
    the patch lacks is kept: the new currentRun must not keep the old run's ``shards`` (and
    the operator, seeing its own status differ from what it computes, would write it again
    every pass), so every key the old entry had and the new one lacks is sent as null."""
    current = _data(cluster)
    merges: list[str] = []
    lock = threading.Lock()

    def hold_the_next_run(run):
        """The first run's merge pod runs; the next run's pod keeps running, so its status
        stays the same from pass to pass."""
        if (run.pod["metadata"].get("labels") or {}).get(LABEL_PHASE) == "scan":
            return None
        with lock:
            merges.append(run.name)
            if len(merges) == 1:
                return None
        return keep_running(run)

    cluster.kubelet.override(hold_the_next_run)
    cluster.kubelet.paused = True  # the shards stay Pending until the spec has changed
    with cluster.operator() as reconciler:
        cluster.monitor("switch", current=current, job={"parallelism": 2})
        scanning = cluster.wait_status(
            "switch", lambda s: ((s.get("currentRun") or {}).get("shards") or {}).get("total")
        )
        first = scanning["currentRun"]["job"]
        cluster.api.patch(G, V, P, "switch", {"spec": {"job": {"parallelism": 1}}}, NAMESPACE)
        cluster.clock.advance(hours=1)  # the next slot is due when the first run is recorded
        cluster.kubelet.paused = False
        status = cluster.wait_status(
            "switch",
            lambda s: (
                (s.get("lastRun") or {}).get("job") == first
                and (s.get("currentRun") or {}).get("job") not in (None, first)
            ),
            timeout=120,
        )
        # The next run's pod runs (held): from now on nothing changes, so nothing is written.
        cluster.api.wait_for(lambda: len(merges) >= 2, timeout=60)
        second = status["currentRun"]["job"]
        cluster.api.wait_for(
            lambda: [
                p
                for p in cluster.api.objects(
                    "", "v1", "pods", NAMESPACE, label_selector=f"job-name={second}"
                )
                if (p.get("status") or {}).get("phase") == "Running"
            ],
            timeout=60,
        )
        settled = reconciler.passes
        cluster.api.wait_for(lambda: reconciler.passes >= settled + 2, timeout=60)
        before = len(cluster.api.writes(P, name="switch", subresource="status"))
        status = cluster.status("switch")
        start = reconciler.passes
        cluster.api.wait_for(lambda: reconciler.passes >= start + 5, timeout=60)
        after = cluster.api.writes(P, name="switch", subresource="status")
    # One pass recorded the first run and started the second: its write drops the old keys.
    switched = next(
        w.body["status"]
        for w in after
        if (w.body["status"].get("lastRun") or {}).get("job") == first
        and (w.body["status"].get("currentRun") or {}).get("job") == second
    )
    assert "shards" in switched["currentRun"], switched["currentRun"]
    assert switched["currentRun"]["shards"] is None
    # Before the fix every pass wrote the same patch again (the stale key never went away).
    assert [w.body for w in after[before:]] == []
    assert status["lastRun"]["shards"]["total"] == 2, status["lastRun"]
    assert set(status["currentRun"]) == {"job", "slot", "startTime", "phase"}, status["currentRun"]
    assert not _scan_jobs(cluster, "switch")[1:]  # the second run has no scan Job
