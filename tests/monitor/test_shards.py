"""spec.job.parallelism, the scan (Indexed) Job and merge Job manifests, shard progress."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from driftwarden.errors import ConfigError
from driftwarden.monitor.job import analysis_job, analysis_job_name
from driftwarden.monitor.shards import (
    GIB,
    LABEL_PHASE,
    is_scan,
    last_scanned_bytes,
    last_shard_total,
    merge_job,
    newly_started,
    run_of,
    run_phase,
    scan_failed,
    scan_job,
    scan_job_name,
    shard_count,
    shard_progress,
    shards_of,
    status_with_shards,
)
from driftwarden.monitor.spec import parse_monitor, validate_manifest

from .helpers import manifest

SLOT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
IMAGE = "ghcr.io/example/driftwarden:0.1.0"


def sharded(parallelism, **changes):
    doc = manifest(**changes)
    doc["spec"]["job"] = {"parallelism": parallelism}
    return doc


def test_parallelism_parses_counts_and_auto_and_refuses_the_rest():
    assert parse_monitor(manifest()).job.parallelism == 1
    assert not parse_monitor(manifest()).job.sharded
    assert parse_monitor(sharded(4)).job.parallelism == 4
    assert parse_monitor(sharded("auto")).job.sharded
    for bad, words in (
        (0, "spec.job.parallelism"),
        (1001, "spec.job.parallelism"),
        ("4", "neither a number nor auto"),
        (True, "spec.job.parallelism"),
    ):
        problems = validate_manifest(sharded(bad))
        assert problems and words in problems[0], (bad, problems)


def test_sharding_needs_an_output_path_and_no_model():
    problems = validate_manifest(sharded(3, output=None))
    assert (
        problems
        == [
            "spec.job.parallelism: 3 needs spec.output.path, where the shard profiles are written "
            "before the merge (hint: set spec.output.path, or parallelism 1)"
        ]
        or "needs spec.output.path" in problems[0]
    )
    model = {"predictions": [{"column": "churn_score", "kind": "score"}]}
    problems = validate_manifest(sharded("auto", model=model))
    assert problems and "cannot run with spec.model" in problems[0], problems
    assert validate_manifest(sharded(1, output=None)) == []


@pytest.mark.parametrize(
    ("parallelism", "last", "cap", "expected"),
    [
        (4, None, 10, 4),
        (4, None, 3, 3),  # the cap counts pods: more shards could never start
        ("auto", None, 10, 1),  # first run: one shard, its bytes recorded
        ("auto", 1, 10, 1),
        ("auto", GIB, 10, 1),
        ("auto", GIB + 1, 10, 2),
        ("auto", 7 * GIB, 10, 7),
        ("auto", 70 * GIB, 10, 10),
        ("auto", 0, 10, 1),
    ],
)
def test_shard_count_rule(parallelism, last, cap, expected):
    assert shard_count(parallelism, last, cap) == expected


def test_auto_without_bytes_keeps_the_last_runs_count():
    # A failed scan measured no bytes: the next run keeps its shards instead of one pod.
    assert shard_count("auto", None, 10, last_total=6) == 6
    assert shard_count("auto", None, 4, last_total=6) == 4
    assert shard_count("auto", 3 * GIB, 10, last_total=6) == 3
    assert shard_count(2, None, 10, last_total=6) == 2


def test_last_scanned_bytes_reads_the_last_run():
    assert last_scanned_bytes({"lastRun": {"shards": {"bytes": 5}}}) == 5
    assert last_scanned_bytes({"lastRun": {"job": "x"}}) is None
    assert last_scanned_bytes(None) is None
    assert last_scanned_bytes({"lastRun": {"shards": {"bytes": True}}}) is None
    assert last_shard_total({"lastRun": {"shards": {"total": 4}}}) == 4


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def test_scan_job_is_an_indexed_job_of_profile_pods_for_the_run():
    monitor = parse_monitor(sharded(3))
    job = scan_job(monitor, SLOT, IMAGE, 3)
    run = analysis_job_name(monitor, SLOT)
    assert job["metadata"]["name"] == scan_job_name(monitor, SLOT) != run
    assert len(job["metadata"]["name"]) <= 63 and job["metadata"]["name"].endswith("-scan")
    assert is_scan(job) and run_of(job) == run and shards_of(job) == 3
    assert job["spec"]["template"]["metadata"]["labels"][LABEL_PHASE] == "scan"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 3
    assert spec["backoffLimitPerIndex"] == monitor.job.backoff_limit
    assert spec["maxFailedIndexes"] == 0
    assert "finalizers" not in job["metadata"]
    assert "finalizers" not in spec["template"]["metadata"]
    args = container(job)["args"]
    assert args[:5] == [
        "profile",
        "--config-env",
        "DRIFTWARDEN_MONITOR",
        "--input",
        "s3://logs/churn/live/",
    ]
    assert args[args.index("--shards") + 1] == "3"
    assert args[args.index("--output") + 1] == (
        f"s3://logs/churn/drift-reports/churn/{run}/shards/shard-{{shard}}.dwprofile"
    )
    # The base manifest has a 24h current window: every shard closes it at the slot.
    assert args[args.index("--window-end") + 1] == "2024-05-01T10:00:00Z"
    # Same pod as the analysis: image, resources, security, config env.
    base = container(analysis_job(monitor, SLOT, IMAGE))
    for key in ("image", "resources", "securityContext", "env"):
        assert container(job)[key] == base[key]
    old = scan_job(monitor, SLOT, IMAGE, 3, per_index=False)
    assert "backoffLimitPerIndex" not in old["spec"] and "maxFailedIndexes" not in old["spec"]
    assert old["spec"]["backoffLimit"] == monitor.job.backoff_limit * 3


def test_the_scan_job_name_leaves_room_for_the_pod_hostnames_index():
    doc = sharded(1000)
    doc["metadata"]["name"] = "m" * 63
    monitor = parse_monitor(doc)
    name = scan_job_name(monitor, SLOT)
    # Kubernetes sets each pod's hostname to <job>-<index> (a DNS label, at most 63).
    assert len(f"{name}-999") <= 63 and name.endswith("-scan") and name.startswith("mmm")
    assert scan_job_name(monitor, SLOT) == name != scan_job_name(monitor, SLOT.replace(hour=11))


def test_no_window_end_without_a_window():
    doc = sharded(2)
    doc["spec"]["current"] = {"path": "s3://logs/churn/live/"}
    job = scan_job(parse_monitor(doc), SLOT, IMAGE, 2)
    assert "--window-end" not in container(job)["args"]


def test_merge_job_is_the_analysis_job_reading_the_shard_profiles():
    monitor = parse_monitor(sharded(3))
    job = merge_job(monitor, SLOT, IMAGE, 3)
    plain = analysis_job(monitor, SLOT, IMAGE)
    assert job["metadata"]["name"] == plain["metadata"]["name"]
    assert job["metadata"]["finalizers"] == plain["metadata"]["finalizers"]
    args = container(job)["args"]
    at = args.index("--current-profiles")
    # One {shard} pattern and the count, which analyze expands to shard-0 … shard-2: the
    # pattern is where the scan pods wrote (their --output).
    pattern = args[at + 1]
    scan = container(scan_job(monitor, SLOT, IMAGE, 3))["args"]
    assert pattern == scan[scan.index("--output") + 1]
    assert pattern.endswith("/shards/shard-{shard}.dwprofile")
    assert args[at + 2 : at + 4] == ["--shards", "3"]
    # The reference's shards, which the scan wrote if the profile cache missed.
    assert args[at + 4] == "--reference-shards"
    assert args[at + 5] == pattern.replace("/shard-{shard}.", "/reference-{shard}.")
    assert args[at + 6] == "--summary-file"
    added = ("--current-profiles", pattern, "--shards", "3", "--reference-shards", args[at + 5])
    assert [a for a in args if a not in added] == container(plain)["args"]


def test_a_thousand_shards_keep_the_merge_jobs_arguments_short():
    """1,000 shards with a long output path: the merge Job's arguments are those of 1 shard
    but for the count, not 1,000 URIs (ARG_MAX, the API server's object size)."""
    doc = sharded(1000)
    doc["spec"]["output"]["path"] = "s3://" + "long-bucket-name/" * 12 + "reports"
    monitor = parse_monitor(doc)
    size = [
        len(json.dumps(container(merge_job(monitor, SLOT, IMAGE, n))["args"])) for n in (1, 1000)
    ]
    assert size[1] - size[0] == len("1000") - len("1")


def test_scan_pods_look_the_reference_up_in_the_runs_profile_cache():
    monitor = parse_monitor(sharded(3))
    run = analysis_job_name(monitor, SLOT)
    args = container(scan_job(monitor, SLOT, IMAGE, 3))["args"]
    plain = container(analysis_job(monitor, SLOT, IMAGE))["args"]
    cache = plain[plain.index("--profile-cache") + 1]
    assert args[args.index("--profile-cache") + 1] == cache  # the merge's cache
    assert args[args.index("--reference-output") + 1] == (
        f"s3://logs/churn/drift-reports/churn/{run}/shards/reference-{{shard}}.dwprofile"
    )
    # A promoted reference reaches the scan pods' config as it reaches the merge's.
    promoted = {"source": "promoted", "path": "s3://logs/churn/train-2024-05/"}
    env = container(scan_job(monitor, SLOT, IMAGE, 3, reference=promoted))["env"]
    merge_env = container(merge_job(monitor, SLOT, IMAGE, 3, reference=promoted))["env"]
    assert [e for e in env if e["name"].startswith("DRIFTWARDEN_MONITOR")] == [
        e for e in merge_env if e["name"].startswith("DRIFTWARDEN_MONITOR")
    ]
    assert "train-2024-05" in json.dumps(env)


def test_rolling_references_stay_on_the_merge_pod():
    monitor = parse_monitor(sharded(3, reference={"mode": "rolling"}))
    args = container(scan_job(monitor, SLOT, IMAGE, 3))["args"]
    assert "--profile-cache" not in args and "--reference-output" not in args
    assert "--reference-shards" not in container(merge_job(monitor, SLOT, IMAGE, 3))["args"]


def _pod(index, phase, message="", finished="2024-05-01T10:05:00Z"):
    return {
        "metadata": {
            "name": f"scan-{index}-{phase.lower()}",
            "labels": {"batch.kubernetes.io/job-completion-index": str(index)},
            "creationTimestamp": finished,
        },
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "analyze",
                    "state": {
                        "terminated": {
                            "exitCode": 0 if phase == "Succeeded" else 3,
                            "message": message,
                            "finishedAt": finished,
                        }
                    },
                }
            ],
        },
    }


def test_shard_progress_counts_indexes_and_the_bytes_scanned():
    monitor = parse_monitor(sharded(4))
    job = scan_job(monitor, SLOT, IMAGE, 4)
    job["status"] = {"completedIndexes": "0,2-3", "active": 1, "failed": 1}
    assert shard_progress(job, []) == {
        "total": 4,
        "succeeded": 3,
        "failed": 1,
        "active": 1,
        "failedIndexes": None,
    }
    pods = [_pod(i, "Succeeded", json.dumps({"bytes": 100 * (i + 1)})) for i in range(4)]
    pods.append(_pod(1, "Failed", "boom"))
    # Three of four indexes done: no bytes, they would undercount the window.
    assert shard_progress(job, pods, final=True)["bytes"] is None
    job["status"]["completedIndexes"] = "0-3"
    assert shard_progress(job, pods, final=True)["bytes"] == 1000
    pods[0] = _pod(0, "Succeeded", "not json")
    assert shard_progress(job, pods, final=True)["bytes"] is None


def test_a_failed_scan_fails_the_run_naming_the_index_and_the_pods_message():
    monitor = parse_monitor(sharded(3))
    job = scan_job(monitor, SLOT, IMAGE, 3)
    job["status"] = {
        "failed": 2,
        "failedIndexes": "1",
        "conditions": [{"type": "Failed", "status": "True", "reason": "FailedIndexes"}],
    }
    summary = json.dumps(
        {"version": 1, "error": {"reason": "DataNotFound", "message": "no files at s3://x"}}
    )
    outcome = scan_failed(
        analysis_job_name(monitor, SLOT), job, [_pod(0, "Succeeded"), _pod(1, "Failed", summary)]
    )
    assert outcome.job == analysis_job_name(monitor, SLOT)
    assert not outcome.succeeded
    assert outcome.message.startswith("the shard scan failed at shard index(es) 1 of 3: ")
    assert "no files at s3://x" in outcome.message or outcome.reason == "DataNotFound"


def test_status_with_shards_sets_only_the_runs_given():
    status = {"currentRun": {"job": "a"}, "lastRun": {"job": "b"}}
    out = status_with_shards(status, {"total": 2}, None)
    assert out["currentRun"]["shards"] == {"total": 2} and "shards" not in out["lastRun"]
    assert status_with_shards({"currentRun": None}, {"total": 2}, {"total": 2}) == {
        "currentRun": None
    }


def test_shard_config_with_parallelism_is_refused_by_validate_never_silently():
    with pytest.raises(ConfigError, match=r"spec\.job\.parallelism"):
        parse_monitor(sharded(2, output=None))


def _slim(job, status=None):
    return {"metadata": job["metadata"], "status": status or {}}


def test_a_scan_job_and_its_pods_group_into_the_run_it_names():
    from driftwarden.monitor.job import jobs_to_delete
    from driftwarden.monitor.outcome import job_state
    from driftwarden.monitor.runs import group_runs

    monitor = parse_monitor(sharded(2))
    scan = _slim(scan_job(monitor, SLOT, IMAGE, 2), {"succeeded": 1})
    run = analysis_job_name(monitor, SLOT)
    pod = {
        "metadata": {
            "name": f"{scan['metadata']['name']}-0-abcde",
            "labels": {
                **scan["metadata"]["labels"],
                "batch.kubernetes.io/job-name": scan["metadata"]["name"],
                "batch.kubernetes.io/job-completion-index": "0",
            },
            "annotations": dict(scan["metadata"]["annotations"]),
        },
        "status": {"phase": "Succeeded"},
    }
    runs = group_runs([scan], [pod])
    assert list(runs) == [run]
    assert runs[run].scanning and runs[run].scan_pods == [pod] and runs[run].slot == SLOT
    # One shard done, no conditions: not the whole scan (a plain Job would count as done).
    assert job_state(scan) is None
    merge = _slim(merge_job(monitor, SLOT, IMAGE, 2))
    runs = group_runs([merge, scan], [pod])
    assert list(runs) == [run] and not runs[run].scanning and runs[run].job == merge
    # Finished scan Jobs are left to their TTL, outside the history limits.
    done = {"conditions": [{"type": "Complete", "status": "True"}]}
    assert jobs_to_delete(monitor, [_slim(scan_job(monitor, SLOT, IMAGE, 2), done)]) == []


def test_a_jobs_start_is_announced_by_the_first_status_showing_it():
    monitor = parse_monitor(sharded(2))
    scan = _slim(scan_job(monitor, SLOT, IMAGE, 2))
    merge = _slim(merge_job(monitor, SLOT, IMAGE, 2))
    plain = _slim(analysis_job(parse_monitor(manifest()), SLOT, IMAGE))
    run = analysis_job_name(monitor, SLOT)
    assert [run_phase(j) for j in (scan, merge, plain)] == ["Scanning", "Merging", "Analyzing"]

    def current(phase=None, job=run):
        return {"currentRun": {"job": job, **({"phase": phase} if phase else {})}}

    def names(jobs):
        return [j["metadata"]["name"] for j in jobs]

    jobs = [merge, scan]
    assert names(newly_started({}, current("Scanning"), [scan])) == [names([scan])[0]]
    # The merge's start: shown by the write that moves the run to Merging, and again by the
    # next one if that write conflicted (previous still says Scanning) — never twice.
    assert names(newly_started(current("Scanning"), current("Merging"), jobs)) == [run]
    assert newly_started(current("Merging"), current("Merging"), jobs) == []
    # Created and conflicted before any write showed the run: both, the scan first.
    assert names(newly_started({}, current("Merging"), jobs)) == names([scan, merge])
    # A run recorded by the first write that shows it: its Jobs were never announced.
    recorded = {"lastRun": {"job": run}, "currentRun": None}
    assert names(newly_started(current("Scanning"), recorded, jobs)) == [run]
    assert newly_started({"lastRun": {"job": run}}, recorded, jobs) == []
    # Unsharded: the analysis Job once; a currentRun an older operator wrote (no phase)
    # had its Jobs announced at their create.
    name = plain["metadata"]["name"]
    assert names(newly_started({}, current("Analyzing", name), [plain])) == [name]
    assert newly_started(current(None, name), current("Analyzing", name), [plain]) == []
    assert newly_started(current(None), current("Merging"), jobs) == []
    # A Job gone (ResultLost) is not announced.
    assert newly_started({}, recorded, []) == []
