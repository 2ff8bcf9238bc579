import copy
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from driftwarden.monitor.job import (
    analysis_job,
    analysis_job_name,
    jobs_to_delete,
    latest_retraining,
    monitor_config,
    retraining_job,
    retraining_job_name,
    run_output,
)
from driftwarden.monitor.outcome import FeatureResult, RunOutcome
from driftwarden.monitor.spec import parse_monitor

from .helpers import BASE, UID, finished_job, manifest, running_job, with_retraining

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SLOT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
IMAGE = "ghcr.io/example/driftwarden:0.1.0"


def monitor_named(name: str, uid: str = UID):
    doc = manifest()
    doc["metadata"]["name"] = name
    doc["metadata"]["uid"] = uid
    return parse_monitor(doc)


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def test_analysis_job_name_is_deterministic_and_readable():
    monitor = parse_monitor(BASE)
    name = analysis_job_name(monitor, SLOT)
    assert name == analysis_job_name(
        parse_monitor(BASE), datetime(2024, 5, 1, 12, 0, tzinfo=UTC) - timedelta(hours=2)
    )
    assert name.startswith("churn-202405011000-")
    assert DNS1123_LABEL.match(name)
    assert analysis_job(monitor, SLOT, IMAGE) == analysis_job(parse_monitor(BASE), SLOT, IMAGE)


def test_analysis_job_name_differs_per_slot_and_per_monitor_uid():
    monitor = parse_monitor(BASE)
    names = {analysis_job_name(monitor, SLOT + timedelta(minutes=30 * i)) for i in range(10)}
    assert len(names) == 10
    assert analysis_job_name(monitor_named("churn", uid="other-uid"), SLOT) != analysis_job_name(
        monitor, SLOT
    )
    # sub-minute interval slots share yyyymmddhhmm but not the name
    assert analysis_job_name(monitor, SLOT) != analysis_job_name(
        monitor, SLOT + timedelta(seconds=30)
    )


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "churn",
        "x" * 63,
        "a.b.c-d",
        "model-" + "9" * 57,
        "a" * 40 + "-" + "b" * 22,
        "ab.-cd".replace(".-", "-"),
    ],
)
def test_generated_names_fit_in_63_characters_and_are_dns_labels(name):
    monitor = monitor_named(name)
    for job_name in (analysis_job_name(monitor, SLOT), retraining_job_name(monitor, "some-run")):
        assert len(job_name) <= 63
        assert DNS1123_LABEL.match(job_name), job_name


def test_long_names_stay_unique_through_the_hash():
    a = monitor_named("x" * 60 + "a", uid="uid-a")
    b = monitor_named("x" * 60 + "b", uid="uid-b")
    assert analysis_job_name(a, SLOT) != analysis_job_name(b, SLOT)


def test_owner_reference_points_at_the_monitor():
    job = analysis_job(parse_monitor(BASE), SLOT, IMAGE)
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "driftwarden.io/v1alpha1",
            "kind": "DriftMonitor",
            "name": "churn",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert job["metadata"]["namespace"] == "ml"


def test_labels_and_annotations():
    job = analysis_job(
        parse_monitor(BASE), SLOT, IMAGE, extra_labels={"team": "ml", "app.kubernetes.io/name": "x"}
    )
    name = job["metadata"]["name"]
    expected = {
        "app.kubernetes.io/name": "driftwarden",
        "app.kubernetes.io/component": "analysis",
        "app.kubernetes.io/managed-by": "driftwarden",
        "driftwarden.io/monitor": "churn",
        "driftwarden.io/run": name,
    }
    labels = job["metadata"]["labels"]
    assert expected.items() <= labels.items()
    assert labels["team"] == "ml"
    assert job["spec"]["template"]["metadata"]["labels"] == labels
    assert job["metadata"]["annotations"]["driftwarden.io/slot"] == "2024-05-01T10:00:00Z"
    assert all(len(v) <= 63 for v in labels.values())


def test_container_args_are_the_analyze_contract():
    monitor = parse_monitor(BASE)
    job = analysis_job(monitor, SLOT, IMAGE)
    name = job["metadata"]["name"]
    c = container(job)
    assert c["name"] == "analyze"
    assert c["image"] == IMAGE
    assert c["args"] == [
        "analyze",
        "--config-env",
        "DRIFTWARDEN_MONITOR",
        "--window-end",
        "2024-05-01T10:00:00Z",
        "--output",
        f"s3://logs/churn/drift-reports/churn/{name}",
        "--profile-cache",
        "s3://logs/churn/drift-reports/churn/profile-cache",
        "--history",
        "s3://logs/churn/drift-reports/churn/history",
        "--history-runs",
        "50",
        "--summary-file",
        "/dev/termination-log",
        "--log-format",
        "json",
    ]
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_no_output_path_means_no_output_flag():
    job = analysis_job(parse_monitor(manifest(output=None)), SLOT, IMAGE)
    assert "--output" not in container(job)["args"]
    assert "--profile-cache" not in container(job)["args"]
    assert "--history" not in container(job)["args"]


def test_last_retraining_reaches_the_run_without_its_message():
    record = {
        "job": "churn-retrain-1a2b3c4d",
        "run": "churn-202405010900-aaaa",
        "time": "2024-05-01T09:05:00Z",
        "reason": "DriftDetected",
        "message": "2 of 5 features drifted: income, plan",
    }
    env = {
        e["name"]: e.get("value")
        for e in container(analysis_job(parse_monitor(BASE), SLOT, IMAGE, last_retraining=record))[
            "env"
        ]
    }
    assert json.loads(env["DRIFTWARDEN_LAST_RETRAINING"]) == {
        "job": "churn-retrain-1a2b3c4d",
        "run": "churn-202405010900-aaaa",
        "time": "2024-05-01T09:05:00Z",
    }
    # No retraining yet (or a status that is not a mapping): no variable at all.
    for nothing in (None, "junk", {"time": "x"}):
        env = container(analysis_job(parse_monitor(BASE), SLOT, IMAGE, last_retraining=nothing))[
            "env"
        ]
        assert "DRIFTWARDEN_LAST_RETRAINING" not in {e["name"] for e in env}
    assert run_output(parse_monitor(manifest(output=None)), "run") is None


def test_config_env_is_compact_json_of_the_monitor():
    monitor = parse_monitor(with_retraining())
    env = {e["name"]: e.get("value") for e in container(analysis_job(monitor, SLOT, IMAGE))["env"]}
    document = json.loads(env["DRIFTWARDEN_MONITOR"])
    assert document["apiVersion"] == "driftwarden.io/v1alpha1"
    assert document["kind"] == "DriftMonitor"
    assert document["metadata"] == {"name": "churn", "namespace": "ml", "uid": UID}
    assert document["spec"]["reference"] == BASE["spec"]["reference"]
    assert "retraining" not in document["spec"]
    assert " " not in monitor_config(parse_monitor(BASE)).split('"schedule":')[0]
    assert env["HOME"] == "/tmp"
    # the analysis side re-parses it with the same settings code
    reparsed = parse_monitor(document).run
    assert reparsed.reference == monitor.run.reference
    assert reparsed.settings == monitor.run.settings
    assert reparsed.storage.endpoint == monitor.run.storage.endpoint


def test_secret_is_referenced_never_inlined():
    job = analysis_job(parse_monitor(BASE), SLOT, IMAGE)
    c = container(job)
    assert c["envFrom"] == [{"secretRef": {"name": "s3-credentials"}}]
    # the Secret is named once, in envFrom: not in the copied spec, env, labels or annotations
    assert json.dumps(job).count("s3-credentials") == 1
    assert not any(e["name"].startswith("AWS_") for e in c["env"])
    assert all("valueFrom" not in e for e in c["env"])
    config = json.loads({e["name"]: e.get("value") for e in c["env"]}["DRIFTWARDEN_MONITOR"])
    assert config["spec"]["storage"] == {"endpoint": "http://minio:9000", "region": "us-east-1"}


def test_anonymous_storage_has_no_env_from():
    job = analysis_job(parse_monitor(manifest(storage={"anonymous": True})), SLOT, IMAGE)
    assert "envFrom" not in container(job)


def test_pod_is_locked_down():
    job = analysis_job(parse_monitor(BASE), SLOT, IMAGE)
    pod_spec = job["spec"]["template"]["spec"]
    c = container(job)
    assert pod_spec["restartPolicy"] == "Never"
    assert pod_spec["automountServiceAccountToken"] is False
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 65532
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod_spec["volumes"] == [{"name": "tmp", "emptyDir": {}}]


def test_job_limits_and_defaults():
    job = analysis_job(parse_monitor(BASE), SLOT, IMAGE)
    spec = job["spec"]
    assert (
        spec["backoffLimit"],
        spec["activeDeadlineSeconds"],
        spec["ttlSecondsAfterFinished"],
    ) == (2, 3600, 86400)
    assert container(job)["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"memory": "2Gi"},
    }
    assert "serviceAccountName" not in spec["template"]["spec"]
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob"
    assert rules[0]["onExitCodes"] == {
        "containerName": "analyze",
        "operator": "In",
        "values": [2, 3],
    }


def test_job_settings_reach_the_pod():
    monitor = parse_monitor(
        manifest(
            job={
                "image": "registry/custom:1",
                "imagePullPolicy": "Always",
                "imagePullSecrets": [{"name": "regcred"}],
                "resources": {
                    "requests": {"cpu": "1", "memory": "1Gi"},
                    "limits": {"memory": "4Gi"},
                },
                "activeDeadlineSeconds": 900,
                "backoffLimit": 0,
                "ttlSecondsAfterFinished": 600,
                "serviceAccountName": "reader",
                "nodeSelector": {"pool": "batch"},
                "tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
                "affinity": {"nodeAffinity": {}},
                "priorityClassName": "low",
                "podAnnotations": {"sidecar.istio.io/inject": "false"},
            }
        )
    )
    job = analysis_job(monitor, SLOT, IMAGE)
    pod = job["spec"]["template"]
    c = container(job)
    assert c["image"] == "registry/custom:1"
    assert c["imagePullPolicy"] == "Always"
    assert c["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"memory": "4Gi"},
    }
    assert (
        job["spec"]["activeDeadlineSeconds"],
        job["spec"]["backoffLimit"],
        job["spec"]["ttlSecondsAfterFinished"],
    ) == (
        900,
        0,
        600,
    )
    assert pod["spec"]["serviceAccountName"] == "reader"
    assert pod["spec"]["nodeSelector"] == {"pool": "batch"}
    assert pod["spec"]["tolerations"] == [
        {"key": "batch", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["spec"]["affinity"] == {"nodeAffinity": {}}
    assert pod["spec"]["priorityClassName"] == "low"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["metadata"]["annotations"] == {
        "sidecar.istio.io/inject": "false",
        "driftwarden.io/slot": "2024-05-01T10:00:00Z",
    }


def test_manifest_does_not_alias_monitor_state():
    monitor = parse_monitor(BASE)
    job = analysis_job(monitor, SLOT, IMAGE)
    container(job)["resources"]["requests"]["cpu"] = "99"
    assert container(analysis_job(monitor, SLOT, IMAGE))["resources"]["requests"]["cpu"] == "500m"


# ---------------------------------------------------------------- retraining


def drifted_run(job: str = "churn-202405011000-abcdef12", names=("income", "plan")) -> RunOutcome:
    return RunOutcome(
        job=job,
        outcome="Succeeded",
        reason="Succeeded",
        message="drift",
        slot=SLOT,
        drifted=True,
        drift_share=0.5,
        drifted_features=len(names),
        total_features=4,
        report="s3://logs/churn/drift-reports/churn/run/report.json",
        features=tuple(FeatureResult(n, "numerical", "psi", 0.5, 0.2, True) for n in names),
    )


def test_retraining_job_from_template():
    monitor = parse_monitor(with_retraining())
    run = drifted_run()
    job = retraining_job(monitor, run, datetime(2024, 5, 1, 10, 5, tzinfo=UTC))
    meta = job["metadata"]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert meta["name"] == retraining_job_name(monitor, run.job)
    assert meta["name"].startswith("churn-retrain-")
    assert meta["ownerReferences"][0]["uid"] == UID
    assert meta["labels"]["team"] == "growth"
    assert meta["labels"]["app.kubernetes.io/component"] == "retraining"
    assert meta["labels"]["driftwarden.io/run"] == run.job
    assert meta["annotations"]["driftwarden.io/triggered-by-run"] == run.job
    assert meta["annotations"]["driftwarden.io/report"] == run.report
    assert meta["annotations"]["driftwarden.io/drift-share"] == "0.5"
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"]["driftwarden.io/monitor"] == "churn"
    assert pod["spec"]["restartPolicy"] == "Never"
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env == {
        "EPOCHS": "3",
        "DRIFTWARDEN_MONITOR_NAME": "churn",
        "DRIFTWARDEN_MONITOR_NAMESPACE": "ml",
        "DRIFTWARDEN_RUN": run.job,
        "DRIFTWARDEN_SLOT": "2024-05-01T10:00:00Z",
        "DRIFTWARDEN_REPORT": run.report,
        "DRIFTWARDEN_DRIFT_SHARE": "0.5",
        "DRIFTWARDEN_DRIFTED_FEATURES": "income,plan",
        "DRIFTWARDEN_DRIFTED_FEATURE_COUNT": "2",
    }


def test_retraining_job_is_deterministic_per_run():
    monitor = parse_monitor(with_retraining())
    now = datetime(2024, 5, 1, 10, 5, tzinfo=UTC)
    assert retraining_job(monitor, drifted_run(), now) == retraining_job(
        monitor, drifted_run(), now
    )
    assert retraining_job_name(monitor, "run-a") != retraining_job_name(monitor, "run-b")


def test_retraining_env_reaches_every_container_and_replaces_duplicates():
    doc = with_retraining()
    pod_spec = doc["spec"]["retraining"]["jobTemplate"]["spec"]["template"]["spec"]
    pod_spec["containers"].append(
        {
            "name": "sidecar",
            "image": "busybox",
            "env": [{"name": "DRIFTWARDEN_RUN", "value": "stale"}],
        }
    )
    pod_spec["initContainers"] = [{"name": "fetch", "image": "busybox"}]
    job = retraining_job(parse_monitor(doc), drifted_run(), datetime(2024, 5, 1, tzinfo=UTC))
    spec = job["spec"]["template"]["spec"]
    for c in spec["containers"] + spec["initContainers"]:
        names = [e["name"] for e in c["env"]]
        assert len(names) == len(set(names))
        assert {e["name"]: e["value"] for e in c["env"]}["DRIFTWARDEN_RUN"] == drifted_run().job


def test_drifted_feature_list_is_truncated_at_a_name():
    names = tuple(f"feature_{i:04d}_" + "x" * 40 for i in range(200))
    job = retraining_job(
        parse_monitor(with_retraining()), drifted_run(names=names), datetime(2024, 5, 1, tzinfo=UTC)
    )
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    listed = env["DRIFTWARDEN_DRIFTED_FEATURES"]
    assert 0 < len(listed) <= 2048
    assert all(part in names for part in listed.split(","))
    assert env["DRIFTWARDEN_DRIFTED_FEATURE_COUNT"] == "200"


def test_retraining_job_without_template_is_an_error():
    with pytest.raises(ValueError, match=r"no spec\.retraining\.jobTemplate"):
        retraining_job(parse_monitor(BASE), drifted_run(), datetime(2024, 5, 1, tzinfo=UTC))


def test_retraining_job_does_not_modify_the_template():
    monitor = parse_monitor(with_retraining())
    retraining_job(monitor, drifted_run(), datetime(2024, 5, 1, tzinfo=UTC))
    assert monitor.retraining is not None
    env = monitor.retraining.job_template["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "EPOCHS", "value": "3"}]


# ---------------------------------------------------------------- history


def test_jobs_to_delete_keeps_the_newest_per_outcome():
    monitor = parse_monitor(
        manifest(job={"successfulJobsHistoryLimit": 2, "failedJobsHistoryLimit": 1})
    )
    jobs = [finished_job(f"ok-{h}", slot=f"2024-05-01T{h:02d}:00:00Z") for h in range(5)]
    jobs += [
        finished_job(
            f"bad-{h}",
            state="Failed",
            reason="BackoffLimitExceeded",
            slot=f"2024-05-01T{h:02d}:30:00Z",
        )
        for h in range(3)
    ]
    jobs.append(running_job("running"))
    other = finished_job("other-monitor")
    other["metadata"]["labels"]["driftwarden.io/monitor"] = "else"
    jobs.append(other)
    assert jobs_to_delete(monitor, jobs) == ["ok-0", "bad-0", "ok-1", "bad-1", "ok-2"]


def test_the_analyze_command_reads_the_job_it_is_given(monkeypatch):
    """The Job's args and env, fed to the real `driftwarden analyze` parser, give the monitor's run."""
    import driftwarden.cli.analyze as cli_analyze
    import driftwarden.cli.main as cli_main

    monitor = parse_monitor(manifest(job={"image": "x"}))
    job = analysis_job(monitor, SLOT, IMAGE)
    c = container(job)
    for entry in c["env"]:
        monkeypatch.setenv(entry["name"], entry["value"])
    args = cli_main.build_parser().parse_args(c["args"])
    config, identity = cli_analyze.build_config(args)
    assert identity == {"name": "churn", "namespace": "ml"}
    assert config.reference == monitor.run.reference
    assert config.current == monitor.run.current
    assert config.settings == monitor.run.settings
    assert config.output == run_output(monitor, job["metadata"]["name"])
    assert args.summary_file == "/dev/termination-log"
    assert args.window_end == "2024-05-01T10:00:00Z"
    assert args.profile_cache == "s3://logs/churn/drift-reports/churn/profile-cache"


def test_analysis_job_holds_its_result_and_names_its_monitors_uid():
    job = analysis_job(parse_monitor(manifest()), SLOT, IMAGE)
    template = job["spec"]["template"]
    assert (
        job["metadata"]["finalizers"]
        == template["metadata"]["finalizers"]
        == ["driftwarden.io/result"]
    )
    assert job["metadata"]["labels"]["driftwarden.io/monitor-uid"] == UID
    assert template["metadata"]["labels"]["driftwarden.io/monitor-uid"] == UID
    assert template["metadata"]["annotations"]["driftwarden.io/slot"] == "2024-05-01T10:00:00Z"
    assert template["spec"]["enableServiceLinks"] is False


def test_pod_failure_policy_can_be_left_out_for_old_servers():
    monitor = parse_monitor(manifest())
    assert "podFailurePolicy" in analysis_job(monitor, SLOT, IMAGE)["spec"]
    assert (
        "podFailurePolicy"
        not in analysis_job(monitor, SLOT, IMAGE, pod_failure_policy=False)["spec"]
    )


def test_retraining_jobs_beyond_the_history_limits_are_deleted():
    doc = with_retraining()
    doc["spec"]["job"] = {"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 1}
    monitor = parse_monitor(doc)
    jobs = []
    for hour in range(10, 14):
        job = finished_job(f"churn-retrain-{hour}", slot=f"2024-05-01T{hour}:00:00Z")
        job["metadata"]["labels"]["app.kubernetes.io/component"] = "retraining"
        job["metadata"]["creationTimestamp"] = f"2024-05-01T{hour}:00:01Z"
        jobs.append(job)
    assert jobs_to_delete(monitor, jobs) == []  # analysis history is separate
    assert jobs_to_delete(monitor, jobs, "retraining") == [
        "churn-retrain-10",
        "churn-retrain-11",
        "churn-retrain-12",
    ]


def test_latest_retraining_prefers_a_newer_job_than_the_status_records():
    recorded = {
        "job": "churn-retrain-old",
        "run": "r1",
        "time": "2024-05-01T08:00:00Z",
        "reason": "x",
    }
    newer = {
        "metadata": {
            "name": "churn-retrain-new",
            "labels": {"app.kubernetes.io/component": "retraining"},
            "annotations": {
                "driftwarden.io/triggered-by-run": "r2",
                "driftwarden.io/triggered-at": "2024-05-01T09:00:00Z",
            },
        }
    }
    older = copy.deepcopy(newer)
    older["metadata"]["name"] = "churn-retrain-older"
    older["metadata"]["annotations"]["driftwarden.io/triggered-at"] = "2024-05-01T07:00:00Z"
    analysis = running_job()
    assert latest_retraining([analysis, older], recorded) == {
        "job": "churn-retrain-old",
        "run": "r1",
        "time": "2024-05-01T08:00:00Z",
    }
    assert latest_retraining([older, newer], recorded) == {
        "job": "churn-retrain-new",
        "run": "r2",
        "time": "2024-05-01T09:00:00Z",
    }
    assert latest_retraining([analysis], None) is None
