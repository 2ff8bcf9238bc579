"""Promotion after retraining through the real operator: a retraining Job that succeeds moves
the reference (status.reference, the next analysis Job's config); one that fails does not.

The retraining containers run as local processes (the kubelet stand-in); the analysis Jobs
read real Parquet files from the S3 server, so the promoted reference is really read.
"""

from __future__ import annotations

import json

from tests.controller.conftest import _put

SLOT_DATE = "2026-11-23"  # the test clock's day: the first run's slot renders on it


def _condition(status, kind):
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def _template(command, args=None):
    container = {"name": "train", "image": "trainer:1", "command": command}
    if args is not None:
        container["args"] = args
    return {
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [container],
                }
            },
        }
    }


def _config(job) -> dict:
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    return json.loads(next(e["value"] for e in env if e["name"] == "DRIFTWARDEN_MONITOR"))


def _run_jobs(cluster) -> list[dict]:
    return sorted(cluster.jobs(), key=lambda j: j["metadata"]["annotations"]["driftwarden.io/slot"])


def _first_run_and_retraining(cluster, name, retraining):
    """Create a drifted monitor and wait until its retraining Job has finished."""
    cluster.monitor(name, current="shifted", retraining=retraining)
    status = cluster.wait_status(name, lambda s: (s.get("lastRetraining") or {}).get("job"))
    assert status["phase"] == "Drifted"
    assert status["lastRun"]["reference"]["source"] == "spec"
    # (status.reference may already show the promotion: the retraining Job can be that quick)
    (retrain,) = cluster.jobs("retraining")
    cluster.api.wait_for(lambda: retrain["metadata"]["name"] in cluster.kubelet.ran, timeout=45)
    return status, retrain["metadata"]["name"]


def test_a_succeeded_retraining_promotes_the_template_and_the_next_run_reads_it(cluster):
    fs = cluster.s3.filesystem()
    # The data the new model was trained on: the shifted distribution the live data now has.
    _put(fs, f"{cluster.bucket}/train-{SLOT_DATE}/part-0.parquet", shift=15, seed=4)
    retraining = {
        "jobTemplate": _template(["sh", "-c", "echo trained"]),
        "promoteReference": {"path": f"s3://{cluster.bucket}/train-{{date}}/"},
    }
    with cluster.operator(allowed_images=("trainer:*",)):
        first, retrain = _first_run_and_retraining(cluster, "promo", retraining)
        promoted_path = f"s3://{cluster.bucket}/train-{SLOT_DATE}/"
        status = cluster.wait_status(
            "promo", lambda s: (s.get("reference") or {}).get("source") == "promoted"
        )
        assert status["reference"]["path"] == promoted_path
        assert status["reference"]["since"]
        assert status["lastPromotion"]["job"] == retrain
        assert status["lastPromotion"]["outcome"] == "Promoted"
        assert status["lastPromotion"]["run"] == first["lastRun"]["job"]
        (event,) = cluster.api.wait_for(lambda: cluster.events("promo", "ReferencePromoted"))
        assert promoted_path in event["message"]

    # A restarted operator (a new process, nothing kept in memory) reads it from the status.
    with cluster.operator(allowed_images=("trainer:*",)):
        cluster.clock.advance(hours=1)  # the next slot reads the promoted reference
        status = cluster.wait_status(
            "promo",
            lambda s: (s.get("lastRun") or {}).get("job") not in (None, first["lastRun"]["job"]),
        )
        assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
        assert status["lastRun"]["reference"]["source"] == "promoted"
        assert status["phase"] == "Healthy"  # the live data matches what the model learned
        assert status["reference"]["source"] == "promoted"
        assert status["reference"]["fingerprint"].startswith(
            status["lastRun"]["reference"]["fingerprint"]
        )
        assert status["reference"]["run"] == status["lastRun"]["job"]
    before, after = _run_jobs(cluster)
    assert "status" not in _config(before)
    assert _config(after)["status"] == {"reference": {"source": "promoted", "path": promoted_path}}
    assert _config(after)["spec"]["reference"]["path"] == f"s3://{cluster.bucket}/train/"
    assert len(cluster.events("promo", "ReferencePromoted")) == 1


def test_the_retraining_job_reports_the_reference_in_its_termination_message(cluster):
    fs = cluster.s3.filesystem()
    _put(fs, f"{cluster.bucket}/models/v7/data.parquet", shift=15, seed=5)
    reported = json.dumps({"reference": {"path": f"s3://{cluster.bucket}/models/v7/"}})
    # The kubelet stand-in maps the declared terminationMessagePath where it appears in args.
    retraining = {
        "jobTemplate": _template(
            ["sh", "-c", 'printf "%s" "$0" > "$1"'], [reported, "/dev/termination-log"]
        ),
        "promoteReference": {"fromJob": True},
    }
    with cluster.operator(allowed_images=("trainer:*",)):
        _first_run_and_retraining(cluster, "reported", retraining)
        status = cluster.wait_status(
            "reported", lambda s: (s.get("reference") or {}).get("source") == "promoted"
        )
        assert status["reference"]["path"] == f"s3://{cluster.bucket}/models/v7/"
        cluster.clock.advance(hours=1)
        status = cluster.wait_status(
            "reported",
            lambda s: ((s.get("lastRun") or {}).get("reference") or {}).get("source") == "promoted",
        )
        assert status["phase"] == "Healthy"
    assert _config(_run_jobs(cluster)[-1])["status"]["reference"]["path"].endswith("/models/v7/")


def test_a_failed_retraining_never_moves_the_reference(cluster):
    retraining = {
        "jobTemplate": _template(["sh", "-c", "exit 1"]),
        "promoteReference": {"path": f"s3://{cluster.bucket}/train-{{date}}/"},
    }
    with cluster.operator(allowed_images=("trainer:*",)):
        first, _ = _first_run_and_retraining(cluster, "nopromo", retraining)
        status = cluster.wait_status(
            "nopromo",
            lambda s: (
                (_condition(s, "RetrainingTriggered") or {}).get("reason") == "RetrainingFailed"
            ),
        )
        assert "lastPromotion" not in status
        assert status["reference"]["source"] == "spec"
        assert status["reference"]["path"] == f"s3://{cluster.bucket}/train/"
        cluster.clock.advance(hours=1)
        status = cluster.wait_status(
            "nopromo",
            lambda s: (s.get("lastRun") or {}).get("job") not in (None, first["lastRun"]["job"]),
        )
        assert status["lastRun"]["reference"]["source"] == "spec"
        assert status["reference"]["source"] == "spec"
        assert "lastPromotion" not in status
    assert all("status" not in _config(job) for job in cluster.jobs())
    assert not cluster.events("nopromo", "ReferencePromoted")
