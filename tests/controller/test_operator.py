"""The operator end to end: kopf + driftwarden against the test API server, analysis Jobs
really run (by the kubelet stand-in) on data in a real S3 server."""

from __future__ import annotations

import json

import pyarrow.fs as pafs
from prometheus_client import generate_latest

from tests.controller.conftest import NAMESPACE, G, P, V


def _condition(status, kind):
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def _metrics(reconciler) -> str:
    return generate_latest(reconciler.metrics.registry).decode()


def _spec_writes(cluster, name):
    return [r for r in cluster.api.writes(P, name=name, subresource=None) if r.touches("spec")]


def test_healthy_run_sets_status_events_and_metrics(cluster):
    with cluster.operator() as reconciler:
        cluster.monitor("churn")
        status = cluster.wait_status("churn", lambda s: (s.get("lastRun") or {}).get("outcome"))
        assert status["phase"] == "Healthy"
        assert _condition(status, "Ready")["status"] == "True"
        assert _condition(status, "Drifted")["status"] == "False"
        last = status["lastRun"]
        assert last["rows"] == {"reference": 2000, "current": 2000}
        assert last["totalFeatures"] == 3 and last["driftedFeatures"] == 0
        assert last["report"].startswith(f"s3://{cluster.bucket}/reports/")
        # The run's trend page sits next to its report, and the status links it.
        assert last["history"] == last["report"].removesuffix("report.json") + "history.html"
        page = last["history"].removeprefix("s3://")
        assert cluster.s3.filesystem().get_file_info(page).size > 10_000
        records = cluster.s3.filesystem().get_file_info(
            pafs.FileSelector(f"{cluster.bucket}/reports/churn/history")
        )
        assert [r.base_name for r in records] == [f"20261123T100000Z-{last['job']}.json"]
        assert status["observedGeneration"] == cluster.get("churn")["metadata"]["generation"]
        assert status["nextRunTime"] == "2026-11-23T11:00:00Z"
        cluster.api.wait_for(lambda: cluster.events("churn", "NoDrift"))
        assert cluster.events("churn", "AnalysisStarted")
        cluster.api.wait_for(lambda: "driftwarden_dataset_drifted" in _metrics(reconciler))
        metrics = _metrics(reconciler)
        assert (
            f'driftwarden_dataset_drifted{{monitor="churn",namespace="{NAMESPACE}"}} 0.0' in metrics
        )
        assert (
            'driftwarden_feature_drift_score{feature="income",method="wasserstein",monitor="churn"'
            in metrics
        )
        assert (
            'driftwarden_rows_analyzed{monitor="churn",namespace="ml",side="current"} 2000.0'
            in metrics
        )
    (job,) = cluster.jobs()
    assert job["metadata"]["ownerReferences"][0]["uid"] == cluster.get("churn")["metadata"]["uid"]
    assert not _spec_writes(cluster, "churn")
    assert json.dumps(cluster.get("churn")["spec"]).count("secretKey") == 0


def test_drifted_run_starts_retraining_once_and_respects_cooldown(cluster):
    template = {
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    # Restricted Pod Security (the Job policy's default) needs a non-root user.
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [
                        {
                            "name": "train",
                            "image": "trainer:1",
                            "command": ["sh", "-c", "echo retraining for $DRIFTWARDEN_RUN"],
                        }
                    ],
                }
            }
        }
    }
    with cluster.operator(allowed_images=("trainer:*",)) as reconciler:
        cluster.monitor(
            "churn", current="shifted", retraining={"cooldown": "24h", "jobTemplate": template}
        )
        status = cluster.wait_status("churn", lambda s: (s.get("lastRetraining") or {}).get("job"))
        assert status["phase"] == "Drifted"
        assert _condition(status, "Drifted")["status"] == "True"
        assert _condition(status, "RetrainingTriggered")["status"] == "True"
        (retrain,) = cluster.jobs("retraining")
        env = {
            e["name"]: e.get("value")
            for e in retrain["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        first_run = status["lastRun"]["job"]
        assert env["DRIFTWARDEN_RUN"] == first_run and env["DRIFTWARDEN_REPORT"].endswith(
            "report.json"
        )
        assert retrain["metadata"]["ownerReferences"][0]["kind"] == "DriftMonitor"
        cluster.api.wait_for(lambda: cluster.events("churn", "RetrainingStarted"))
        assert cluster.events("churn", "DriftDetected")

        cluster.clock.advance(hours=1)  # next slot, still drifted, inside the cooldown
        status = cluster.wait_status(
            "churn", lambda s: (s.get("lastRun") or {}).get("job") not in (None, first_run)
        )
        assert len(cluster.jobs("retraining")) == 1
        cluster.api.wait_for(lambda: cluster.events("churn", "RetrainingSkipped"))
        # The second run learnt of the retraining the first started: its history marks it.
        second = next(j for j in cluster.jobs() if j["metadata"]["name"] != first_run)
        second_env = {
            e["name"]: e.get("value")
            for e in second["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert json.loads(second_env["DRIFTWARDEN_LAST_RETRAINING"]) == {
            "job": retrain["metadata"]["name"],
            "run": first_run,
            "time": status["lastRetraining"]["time"],
        }
        trend = json.loads(
            cluster.s3.filesystem()
            .open_input_file(
                status["lastRun"]["history"].removeprefix("s3://").replace(".html", ".json")
            )
            .read()
        )
        assert [r["retrainingStarted"] for r in trend["runs"]] == [
            [retrain["metadata"]["name"]],
            [],
        ]

        cluster.clock.advance(hours=25)  # cooldown over
        cluster.api.wait_for(lambda: len(cluster.jobs("retraining")) == 2, timeout=45)
        # The counter follows the status write that records the Job: wait for it, don't sample.
        cluster.api.wait_for(
            lambda: (
                'driftwarden_retraining_jobs_started_total{monitor="churn",namespace="ml"} 2.0'
                in _metrics(reconciler)
            )
        )
    assert len(cluster.jobs()) == 3  # one analysis Job per slot, never a duplicate


def test_failed_job_reports_why_and_counts_a_failure(cluster):
    with cluster.operator() as reconciler:
        cluster.monitor("broken", current="no-such-prefix")
        status = cluster.wait_status(
            "broken", lambda s: (s.get("lastRun") or {}).get("outcome") == "Failed"
        )
        assert status["phase"] == "Failed"
        ready = _condition(status, "Ready")
        assert ready["status"] == "False" and "no-such-prefix" in ready["message"]
        (event,) = cluster.api.wait_for(lambda: cluster.events("broken", "AnalysisFailed"))
        assert "no-such-prefix" in event["message"] and event["type"] == "Warning"
        assert (
            'driftwarden_analysis_failures_total{monitor="broken",namespace="ml"} 1.0'
            in _metrics(reconciler)
        )
        assert status["failures"] == 1


def test_invalid_spec_sets_a_condition_and_an_event_and_starts_nothing(cluster):
    with cluster.operator():
        cluster.monitor("bad-cron", interval=None, schedule="0 25 * * *")
        status = cluster.wait_status("bad-cron", lambda s: _condition(s, "Ready"))
        ready = _condition(status, "Ready")
        assert ready["status"] == "False" and ready["reason"] == "InvalidSpec"
        assert "spec.schedule" in ready["message"]
        cluster.api.wait_for(lambda: cluster.events("bad-cron", "InvalidSpec"))
    assert cluster.jobs() == []


def test_suspend_stops_new_runs_until_resumed(cluster):
    with cluster.operator():
        cluster.monitor("paused", suspend=True)
        status = cluster.wait_status("paused", lambda s: s.get("phase") == "Suspended")
        assert status.get("nextRunTime") is None
        cluster.clock.advance(hours=2)
        cluster.api.wait_for(lambda: cluster.status("paused").get("phase") == "Suspended")
        assert cluster.jobs() == []
        cluster.api.patch(G, V, P, "paused", {"spec": {"suspend": False}}, NAMESPACE)
        cluster.wait_status(
            "paused", lambda s: (s.get("lastRun") or {}).get("outcome") == "Succeeded"
        )
    assert len(cluster.jobs()) == 1


def test_delete_removes_jobs_and_metrics(cluster):
    with cluster.operator() as reconciler:
        cluster.monitor("temp")
        cluster.wait_status("temp", lambda s: (s.get("lastRun") or {}).get("outcome"))
        assert 'monitor="temp"' in _metrics(reconciler)
        cluster.api.delete(G, V, P, "temp", NAMESPACE)
        cluster.api.wait_for(lambda: not cluster.api.find(G, V, P, "temp", NAMESPACE))
        cluster.api.wait_for(lambda: cluster.jobs() == [])
        cluster.api.wait_for(lambda: 'monitor="temp"' not in _metrics(reconciler))


def test_restart_mid_run_neither_duplicates_the_job_nor_loses_the_result(cluster):
    cluster.kubelet.paused = True  # the Job stays pending while the first operator runs
    with cluster.operator():
        cluster.monitor("restart")
        (job,) = cluster.api.wait_for(lambda: cluster.jobs())
        cluster.wait_status("restart", lambda s: (s.get("currentRun") or {}).get("job"))
        # kopf posts Events from a queue after the status patch: an operator stopped
        # right after the patch may never post it, so wait for it before stopping.
        cluster.api.wait_for(lambda: cluster.events("restart", "AnalysisStarted"))
    # The operator is down; the Job runs and finishes meanwhile.
    cluster.kubelet.paused = False
    cluster.api.wait_for(lambda: job["metadata"]["name"] in cluster.kubelet.ran, timeout=60)
    with cluster.operator():
        status = cluster.wait_status(
            "restart", lambda s: (s.get("lastRun") or {}).get("outcome") == "Succeeded"
        )
        assert status["lastRun"]["job"] == job["metadata"]["name"]
        assert status.get("currentRun") is None
        cluster.api.wait_for(lambda: cluster.events("restart", "NoDrift"))
    assert [j["metadata"]["name"] for j in cluster.jobs()] == [job["metadata"]["name"]]
    assert len(cluster.events("restart", "NoDrift")) == 1
    assert len(cluster.events("restart", "AnalysisStarted")) == 1


def test_concurrency_cap_holds_back_extra_analysis_jobs(cluster):
    cluster.kubelet.paused = True
    with cluster.operator(max_concurrent_jobs=1):
        cluster.monitor("first")
        cluster.api.wait_for(lambda: len(cluster.jobs()) == 1)
        cluster.monitor("second")
        cluster.wait_status("second", lambda s: s.get("phase"))
        assert len(cluster.jobs()) == 1  # the cap holds while the first Job runs
        cluster.kubelet.paused = False
        cluster.wait_status(
            "second", lambda s: (s.get("lastRun") or {}).get("outcome") == "Succeeded"
        )
    assert len(cluster.jobs()) == 2


def test_history_limit_deletes_old_analysis_jobs(cluster):
    with cluster.operator():
        cluster.monitor("short-memory", job={"successfulJobsHistoryLimit": 1})
        first = cluster.wait_status(
            "short-memory", lambda s: (s.get("lastRun") or {}).get("outcome")
        )["lastRun"]["job"]
        cluster.clock.advance(hours=1)
        cluster.wait_status(
            "short-memory", lambda s: (s.get("lastRun") or {}).get("job") not in (None, first)
        )
        cluster.api.wait_for(
            lambda: (
                [j["metadata"]["name"] for j in cluster.jobs()] != []
                and first not in [j["metadata"]["name"] for j in cluster.jobs()]
            )
        )
    assert len(cluster.jobs()) == 1


def test_missed_slots_run_once_not_in_a_burst(cluster):
    with cluster.operator():
        cluster.monitor("sleepy")
        first = cluster.wait_status("sleepy", lambda s: (s.get("lastRun") or {}).get("outcome"))[
            "lastRun"
        ]["job"]
    cluster.clock.advance(hours=10)  # the operator was down for ten slots
    with cluster.operator():
        status = cluster.wait_status(
            "sleepy", lambda s: (s.get("lastRun") or {}).get("job") not in (None, first)
        )
        assert status["lastRun"]["slot"] == "2026-11-23T20:00:00Z"
    assert len(cluster.jobs()) == 2


def test_a_kopf_finalizer_left_by_a_peering_operator_is_removed_standalone(cluster):
    """Upgrading from an operator that ran kopf timers (or with peering) leaves its finalizer
    on every monitor; the standalone operator needs none and must not leave deletes hanging."""
    cluster.monitor("upgraded")
    cluster.api.patch(
        G, V, P, "upgraded", {"metadata": {"finalizers": ["driftwarden.io/finalizer"]}}, NAMESPACE
    )
    with cluster.operator():
        cluster.api.wait_for(lambda: not cluster.get("upgraded")["metadata"].get("finalizers"))
        cluster.api.delete(G, V, P, "upgraded", NAMESPACE)
        cluster.api.wait_for(lambda: not cluster.api.find(G, V, P, "upgraded", NAMESPACE))
