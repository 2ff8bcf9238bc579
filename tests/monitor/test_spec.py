from datetime import timedelta

import pytest

from driftwarden.analysis.settings import parse_run_config
from driftwarden.errors import ConfigError
from driftwarden.monitor.spec import parse_monitor, validate_manifest

from .helpers import BASE, RETRAINING, UID, manifest, with_retraining


def test_parse_base_manifest():
    monitor = parse_monitor(BASE)
    assert (monitor.name, monitor.namespace, monitor.uid, monitor.generation) == (
        "churn",
        "ml",
        UID,
        3,
    )
    assert monitor.schedule.cron == "0 * * * *"
    assert monitor.suspend is False
    assert monitor.run == parse_run_config(BASE["spec"])  # exactly the analysis settings code
    assert monitor.output_path == "s3://logs/churn/drift-reports/"
    assert monitor.retraining is None
    assert not monitor.retraining_enabled
    assert monitor.job.active_deadline_seconds == 3600
    assert monitor.job.resources["requests"] == {"cpu": "500m", "memory": "512Mi"}


def test_interval_instead_of_schedule():
    monitor = parse_monitor(manifest(schedule=None, interval="30m"))
    assert monitor.schedule.interval == timedelta(minutes=30)
    assert monitor.schedule.cron is None


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"schedule": None}, "exactly one of schedule and interval"),
        ({"interval": "1h"}, "both are set"),
        ({"schedule": "every hour"}, "spec.schedule"),
        ({"schedule": None, "interval": "20s"}, "minimum of 1m"),
        ({"suspend": "yes"}, "spec.suspend"),
        ({"reference": None}, "spec.reference"),
        ({"current": {"path": "s3://x/", "window": "1h"}}, "timestampColumn"),
        ({"detection": {"numerical": {"method": "magic"}}}, "spec.detection.numerical.method"),
        (
            {"detection": {"numerical": {"method": "ks", "threshold": 2}}},
            "spec.detection.numerical.threshold",
        ),
        ({"output": {"path": ""}}, "spec.output.path"),
        ({"output": {"dir": "s3://x"}}, "spec.output: unknown field"),
        ({"job": {"backoffLimit": -1}}, "spec.job.backoffLimit"),
        ({"job": {"ttlSecondsAfterFinished": 0}}, "spec.job.ttlSecondsAfterFinished"),
        ({"job": {"imagePullPolicy": "Sometimes"}}, "spec.job.imagePullPolicy"),
        ({"job": {"nodeSelector": {"gpu": True}}}, "spec.job.nodeSelector"),
        ({"job": {"resources": {"requests": {"cpu": ["1"]}}}}, "spec.job.resources.requests.cpu"),
        ({"job": {"serviceAccountName": "Not_Valid"}}, "spec.job.serviceAccountName"),
        ({"job": {"replicas": 3}}, "spec.job: unknown field"),
        ({"surprise": 1}, "spec: unknown field(s) surprise"),
        ({"storage": {"secretRef": {}}}, "spec.storage.secretRef.name"),
        ({"storage": {"anonymous": "false"}}, "spec.storage.anonymous"),
        ({"retraining": {"cooldown": "soon"}}, "spec.retraining.cooldown"),
        # What the analysis cannot run: non-finite numbers, durations past ten years,
        # control characters and lengths beyond the bounds of the travelling spec.
        (
            {"detection": {"numerical": {"method": "psi", "threshold": float("nan")}}},
            "spec.detection.numerical.threshold: expected a finite number",
        ),
        (
            {"detection": {"categorical": {"threshold": float("inf")}}},
            "spec.detection.categorical.threshold: expected a finite number",
        ),
        ({"detection": {"driftShare": 10**400}}, "spec.detection.driftShare"),
        ({"schedule": None, "interval": "99999999999w"}, "spec.interval: '99999999999w' is longer"),
        ({"schedule": None, "interval": 1e309}, "spec.interval"),
        (
            {"current": {"path": "s3://x/", "timestampColumn": "ts", "window": "3654d"}},
            "spec.current.window: '3654d' is longer than ten years",
        ),
        ({"schedule": "0 * * * *" + " " * 300}, "spec.schedule: 309 characters is too long"),
        ({"features": {"exclude": ["id\x1b[2J"]}}, "spec.features.exclude[0]"),
        ({"features": {"include": [f"c{i}" for i in range(65)]}}, "spec.features.include: 65"),
        ({"reference": {"path": "s3://" + "x" * 1100}}, "spec.reference.path: 1105 characters"),
        ({"storage": {"region": "r" * 65}}, "spec.storage.region"),
    ],
)
def test_bad_specs_name_the_field(changes, words):
    doc = manifest(**changes)
    with pytest.raises(ConfigError) as info:
        parse_monitor(doc)
    assert words in str(info.value)
    assert any(words in problem for problem in validate_manifest(doc))


@pytest.mark.parametrize(
    ("meta", "words"),
    [
        ({"namespace": "ml"}, "metadata.name"),
        ({"name": "x" * 64}, "at most 63"),
        ({"name": "Churn_Model"}, "metadata.name"),
    ],
)
def test_bad_metadata(meta, words):
    doc = manifest()
    doc["metadata"] = meta
    with pytest.raises(ConfigError, match=words):
        parse_monitor(doc)


def test_wrong_kind_is_refused():
    doc = manifest()
    doc["kind"] = "CronJob"
    assert any("apiVersion/kind" in p for p in validate_manifest(doc))


def test_missing_namespace_defaults_like_kubectl():
    doc = manifest()
    del doc["metadata"]["namespace"]
    assert parse_monitor(doc).namespace == "default"


def test_validate_manifest_reports_every_broken_section():
    doc = manifest(
        schedule="not cron",
        detection={"correction": "holm"},
        profile={"bins": 1},
        job={"backoffLimit": "two"},
    )
    problems = validate_manifest(doc)
    joined = "\n".join(problems)
    for field in (
        "spec.schedule",
        "spec.detection.correction",
        "spec.profile.bins",
        "spec.job.backoffLimit",
    ):
        assert field in joined
    assert len(problems) == 4
    with pytest.raises(ConfigError) as info:
        parse_monitor(doc)
    assert all(p in str(info.value) for p in problems)


def test_validate_manifest_on_valid_and_garbage():
    assert validate_manifest(BASE) == []
    assert validate_manifest("spec: nope") != []
    assert validate_manifest(
        {"apiVersion": "driftwarden.io/v1alpha1", "kind": "DriftMonitor", "metadata": {"name": "a"}}
    ) == ["spec: a spec is required (see examples/ for a complete DriftMonitor)"]


def test_problems_carry_a_fix():
    problems = validate_manifest(manifest(schedule=None))
    assert "interval: 30m" in problems[0]


def test_retraining_defaults_enabled_when_template_is_set():
    monitor = parse_monitor(with_retraining())
    assert monitor.retraining is not None
    assert monitor.retraining.enabled
    assert monitor.retraining.cooldown == timedelta(hours=24)
    assert monitor.retraining_enabled


def test_retraining_cooldown_default_and_disable():
    doc = with_retraining(enabled=False)
    del doc["spec"]["retraining"]["cooldown"]
    monitor = parse_monitor(doc)
    assert monitor.retraining is not None
    assert not monitor.retraining.enabled
    assert monitor.retraining.cooldown == timedelta(hours=24)


def test_retraining_enabled_without_template_is_refused():
    with pytest.raises(ConfigError, match="jobTemplate is missing"):
        parse_monitor(manifest(retraining={"enabled": True}))
    assert parse_monitor(manifest(retraining={"enabled": False})).retraining is None


def test_retraining_template_needs_containers():
    doc = with_retraining()
    doc["spec"]["retraining"]["jobTemplate"]["spec"]["template"]["spec"]["containers"] = []
    with pytest.raises(ConfigError, match=r"containers: at least one container"):
        parse_monitor(doc)


def test_retraining_template_restart_policy():
    doc = with_retraining()
    pod_spec = doc["spec"]["retraining"]["jobTemplate"]["spec"]["template"]["spec"]
    pod_spec["restartPolicy"] = "Always"
    with pytest.raises(ConfigError, match="use Never or OnFailure"):
        parse_monitor(doc)
    del pod_spec["restartPolicy"]
    monitor = parse_monitor(doc)
    assert monitor.retraining is not None
    assert monitor.retraining.job_template["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "restartPolicy" not in pod_spec  # the input is not modified


def test_retraining_template_container_needs_image_and_name():
    doc = with_retraining()
    doc["spec"]["retraining"]["jobTemplate"]["spec"]["template"]["spec"]["containers"] = [
        {"name": "x"}
    ]
    with pytest.raises(ConfigError, match=r"containers\[0\].image"):
        parse_monitor(doc)


def test_retraining_bad_cooldown():
    with pytest.raises(ConfigError, match=r"spec\.retraining\.cooldown"):
        parse_monitor(with_retraining(cooldown="tomorrow"))


def test_job_settings_are_parsed():
    monitor = parse_monitor(
        manifest(
            job={
                "image": "registry/driftwarden:dev",
                "resources": {"requests": {"cpu": "2"}},
                "activeDeadlineSeconds": 600,
                "backoffLimit": 0,
                "ttlSecondsAfterFinished": 3600,
                "serviceAccountName": "drift-reader",
                "nodeSelector": {"pool": "batch"},
                "tolerations": [{"key": "batch", "operator": "Exists"}],
                "successfulJobsHistoryLimit": 1,
                "failedJobsHistoryLimit": 0,
            }
        )
    )
    job = monitor.job
    assert job.image == "registry/driftwarden:dev"
    assert job.resources == {"requests": {"cpu": "2"}}  # replaces the default as a whole
    assert (job.active_deadline_seconds, job.backoff_limit, job.ttl_seconds_after_finished) == (
        600,
        0,
        3600,
    )
    assert job.service_account_name == "drift-reader"
    assert job.node_selector == {"pool": "batch"}
    assert job.tolerations == ({"key": "batch", "operator": "Exists"},)
    assert (job.successful_jobs_history_limit, job.failed_jobs_history_limit) == (1, 0)


def test_parse_does_not_share_state_with_the_input():
    doc = with_retraining()
    monitor = parse_monitor(doc)
    doc["spec"]["reference"]["path"] = "s3://elsewhere/"
    doc["spec"]["retraining"]["jobTemplate"]["metadata"]["labels"]["team"] = "other"
    assert monitor.spec["reference"]["path"] == "s3://logs/churn/train/"
    assert monitor.retraining is not None
    assert monitor.retraining.job_template["metadata"]["labels"]["team"] == "growth"
    assert RETRAINING["jobTemplate"]["metadata"]["labels"]["team"] == "growth"


def test_a_spec_nested_deeper_than_python_recurses_is_refused_not_crashed():
    # The API server admits JSON thousands of levels deep in fields the CRD leaves
    # open (a retraining Job template); deepcopy and json.dumps would recurse out.
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    doc = manifest()
    doc["spec"]["retraining"] = {"jobTemplate": {"spec": {"template": {"metadata": deep}}}}
    with pytest.raises(ConfigError, match="spec: nested deeper than 64 levels"):
        parse_monitor(doc)
    assert validate_manifest(doc) == ["spec: nested deeper than 64 levels"]
