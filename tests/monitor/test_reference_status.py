"""Promotion after retraining and status.reference, as pure functions (no cluster)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

from driftwarden.monitor.job import (
    ANNOTATION_RUN_SLOT,
    ANNOTATION_TRIGGERED_BY,
    monitor_config,
    retraining_job,
)
from driftwarden.monitor.outcome import outcome_from_summary
from driftwarden.monitor.reference import (
    config_reference,
    decide_promotion,
    reference_status,
    spec_basis,
    with_reference,
)
from driftwarden.monitor.spec import parse_monitor
from driftwarden.monitor.status import compute_status

from .helpers import NOW, RETRAINING, finished_job, manifest, pod, summary

TEMPLATE_PATH = "s3://logs/churn/train/{date}/{hour}/"
FINGERPRINT = "ab" * 32


def promoting(**promote):
    doc = manifest(
        retraining={
            **copy.deepcopy(RETRAINING),
            "promoteReference": promote or {"path": TEMPLATE_PATH},
        }
    )
    return parse_monitor(doc)


def retrain_job(state="Complete", name="churn-retrain-1a2b3c4d"):
    job = finished_job(
        name, state=state, reason=None if state == "Complete" else "BackoffLimitExceeded"
    )
    job["metadata"]["labels"]["app.kubernetes.io/component"] = "retraining"
    job["metadata"]["annotations"] = {
        ANNOTATION_TRIGGERED_BY: "churn-202405011000-abcdef12",
        ANNOTATION_RUN_SLOT: "2024-05-01T10:00:00Z",
    }
    return job


def trained_pod(message):
    found = pod(message)
    found["status"]["containerStatuses"][0]["name"] = "train"
    return found


def run(job="churn-202405011100-0badc0de", slot="2024-05-01T11:00:00Z", **reference):
    reference = {
        "source": "spec",
        "uri": "s3://logs/churn/train/",
        "fingerprint": FINGERPRINT,
        **reference,
    }
    return outcome_from_summary(
        job,
        summary(reference=reference),
        slot=datetime.fromisoformat(slot.replace("Z", "+00:00")),
        completion_time=datetime(2024, 5, 1, 11, 3, tzinfo=UTC),
    )


# ---------------------------------------------------------------- decide_promotion


def test_a_succeeded_retraining_job_promotes_the_rendered_template():
    promotion = decide_promotion(promoting(), retrain_job(), [], None, NOW)
    assert promotion is not None and promotion.promoted
    assert promotion.path == "s3://logs/churn/train/2024-05-01/10/"  # the triggering run's slot
    assert promotion.job == "churn-retrain-1a2b3c4d"
    assert promotion.run == "churn-202405011000-abcdef12"
    assert promotion.to_status()["outcome"] == "Promoted"


def test_a_failed_or_running_retraining_job_never_promotes():
    assert decide_promotion(promoting(), retrain_job("Failed"), [], None, NOW) is None
    running = retrain_job()
    running["status"] = {"active": 1}
    assert decide_promotion(promoting(), running, [], None, NOW) is None
    assert (
        decide_promotion(
            parse_monitor(manifest(retraining=RETRAINING)), retrain_job(), [], None, NOW
        )
        is None
    )


def test_a_job_is_looked_at_once():
    first = decide_promotion(promoting(), retrain_job(), [], None, NOW)
    assert decide_promotion(promoting(), retrain_job(), [], first.to_status(), NOW) is None


def test_the_path_the_job_reports_wins_over_the_template():
    monitor = promoting(path=TEMPLATE_PATH, fromJob=True)
    reported = trained_pod({"reference": {"path": "s3://logs/churn/train/v7/"}})
    promotion = decide_promotion(monitor, retrain_job(), [reported], None, NOW)
    assert promotion.path == "s3://logs/churn/train/v7/"
    silent = trained_pod("training done")  # not JSON: the template applies
    assert decide_promotion(monitor, retrain_job(), [silent], None, NOW).path.endswith("/10/")


def test_a_job_that_reports_nothing_or_something_bad_does_not_move_the_reference():
    only_job = promoting(fromJob=True)
    nothing = decide_promotion(only_job, retrain_job(), [trained_pod(None)], None, NOW)
    assert not nothing.promoted and "reported no reference path" in nothing.message
    for bad, words in (
        ({"reference": {"path": "s3://key:s3cr3tvalue@b/x/"}}, "credentials"),
        ({"reference": {"path": "s3://b/\u0001"}}, "control character"),
        ({"reference": {"path": 7}}, "path or URI"),
    ):
        promotion = decide_promotion(only_job, retrain_job(), [trained_pod(bad)], None, NOW)
        assert not promotion.promoted and words in promotion.message, promotion.message
        assert "s3cr3tvalue" not in promotion.message
        assert promotion.to_status()["outcome"] == "PromotionFailed"


def test_the_promotion_waits_for_the_pod_that_carries_the_message():
    lagging = trained_pod(None)
    lagging["status"] = {
        "phase": "Running",
        "containerStatuses": [{"name": "train", "state": {"running": {}}}],
    }
    assert decide_promotion(promoting(fromJob=True), retrain_job(), [lagging], None, NOW) is None


# ---------------------------------------------------------------- config and status


def test_the_promoted_path_reaches_the_analysis_config_while_the_spec_reference_is_unchanged():
    monitor = promoting()
    record = decide_promotion(monitor, retrain_job(), [], None, NOW).to_status()
    reference = config_reference(monitor, record)
    assert reference == {"source": "promoted", "path": "s3://logs/churn/train/2024-05-01/10/"}
    document = json.loads(monitor_config(monitor, reference))
    assert document["status"]["reference"]["path"] == reference["path"]
    assert document["spec"]["reference"]["path"] == "s3://logs/churn/train/"  # the spec as written
    edited = manifest(
        reference={"path": "s3://logs/churn/train-v2/"},
        retraining={**copy.deepcopy(RETRAINING), "promoteReference": {"path": TEMPLATE_PATH}},
    )
    assert config_reference(parse_monitor(edited), record) is None  # the person's edit wins
    assert config_reference(parse_monitor(manifest(retraining=RETRAINING)), record) is None
    assert config_reference(monitor, {**record, "outcome": "PromotionFailed", "path": None}) is None
    assert "status" not in json.loads(monitor_config(monitor))


def test_status_reference_follows_runs_and_keeps_since_while_the_reference_is_the_same():
    monitor = parse_monitor(manifest())
    first = reference_status(monitor, None, None, run(), NOW)
    assert first == {
        "source": "spec",
        "path": "s3://logs/churn/train/",
        "window": None,
        "fingerprint": FINGERPRINT,
        "since": "2024-05-01T11:03:00Z",
        "run": "churn-202405011100-0badc0de",
    }
    later = run("churn-202405011200-0badc0de", "2024-05-01T12:00:00Z")
    assert reference_status(monitor, first, None, later, NOW)["since"] == first["since"]
    rewritten = run("churn-202405011200-0badc0de", fingerprint="cd" * 32)
    assert reference_status(monitor, first, None, rewritten, NOW)["since"] == "2024-05-01T11:03:00Z"
    assert reference_status(monitor, first, None, rewritten, NOW)["fingerprint"] == "cd" * 32


def test_rolling_references_move_every_run_but_stay_in_use_since_the_first():
    monitor = parse_monitor(manifest(reference={"mode": "rolling"}))
    window = {"start": "2024-04-29T11:00:00Z", "end": "2024-04-30T11:00:00Z"}
    first = reference_status(
        monitor, None, None, run(source="rolling", uri="s3://logs/churn/live/", window=window), NOW
    )
    assert first["window"] == window and first["source"] == "rolling"
    moved = run(
        "churn-202405011200-0badc0de",
        source="rolling",
        uri="s3://logs/churn/live/",
        fingerprint="ef" * 32,
        window={"start": "2024-04-29T12:00:00Z", "end": "2024-04-30T12:00:00Z"},
    )
    second = reference_status(monitor, first, None, moved, NOW)
    assert second["since"] == first["since"] and second["fingerprint"] == "ef" * 32


def test_promotion_shows_at_once_and_an_older_run_does_not_undo_it():
    monitor = promoting()
    before = reference_status(monitor, None, None, run(), NOW)
    record = decide_promotion(monitor, retrain_job(), [], None, NOW).to_status()
    promoted = reference_status(monitor, before, record, None, NOW)
    assert promoted["source"] == "promoted" and promoted["fingerprint"] is None
    assert promoted["since"] == "2024-05-01T10:03:00Z"  # the retraining Job's completion
    # a run created before the promotion finishes after it: the status keeps the promoted one
    assert reference_status(monitor, promoted, record, run(), NOW) == promoted
    used = run(source="promoted", uri=record["path"], fingerprint="12" * 32)
    after = reference_status(monitor, promoted, record, used, NOW)
    assert after["fingerprint"] == "12" * 32 and after["since"] == promoted["since"]
    # the promotion ends when the spec's reference is edited
    edited = parse_monitor(
        manifest(
            reference={"path": "s3://logs/churn/train-v2/"},
            retraining={**copy.deepcopy(RETRAINING), "promoteReference": {"path": TEMPLATE_PATH}},
        )
    )
    back = reference_status(edited, after, record, None, NOW)
    assert back["source"] == "spec" and back["path"] == "s3://logs/churn/train-v2/"


def test_last_run_names_its_reference_compactly_and_a_failed_run_clears_it():
    monitor = parse_monitor(manifest())
    outcome = run()
    status = with_reference(
        monitor, {}, compute_status(monitor, {}, outcome, NOW), outcome, None, NOW
    )
    assert status["lastRun"]["reference"] == {"source": "spec", "fingerprint": FINGERPRINT[:12]}
    failed = outcome_from_summary(
        "churn-202405011200-0badc0de",
        {"v": 1, "error": {"reason": "DataNotFound", "message": "gone"}},
        slot=datetime(2024, 5, 1, 12, tzinfo=UTC),
    )
    after = with_reference(
        monitor, status, compute_status(monitor, status, failed, NOW), failed, None, NOW
    )
    assert after["lastRun"]["reference"] is None  # removed by the merge patch
    assert after["reference"] == status["reference"]  # the reference in use stays


def test_spec_paths_with_credentials_are_redacted_in_status():
    monitor = parse_monitor(manifest())
    used = run(uri="s3://key:secret@logs/churn/train/")
    assert reference_status(monitor, None, None, used, NOW)["path"] == "s3://logs/churn/train/"


def test_retraining_jobs_carry_the_slot_their_template_renders_on():
    monitor = promoting()
    job = retraining_job(monitor, run("churn-202405011000-abcdef12", "2024-05-01T10:00:00Z"), NOW)
    assert job["metadata"]["annotations"][ANNOTATION_RUN_SLOT] == "2024-05-01T10:00:00Z"


def test_a_long_path_shortened_in_the_summary_is_recorded_whole():
    long_path = "s3://logs/" + "deep/" * 60 + "train/"
    doc = manifest(
        reference={"path": long_path},
        retraining={**copy.deepcopy(RETRAINING), "promoteReference": {"fromJob": True}},
    )
    monitor = parse_monitor(doc)
    shortened = long_path[:50] + "…" + long_path[-50:]
    assert reference_status(monitor, None, None, run(uri=shortened), NOW)["path"] == long_path
    # and a promoted one is recognised by its two ends
    record = {
        "job": "j",
        "run": "r",
        "time": "2024-05-01T10:03:00Z",
        "outcome": "Promoted",
        "path": long_path.replace("train", "v2"),
        "basis": spec_basis(monitor),
    }
    promoted_short = record["path"][:40] + "…" + record["path"][-40:]
    status = reference_status(
        monitor, None, record, run(source="promoted", uri=promoted_short), NOW
    )
    assert status["source"] == "promoted" and status["path"] == record["path"]
    assert status["fingerprint"] == FINGERPRINT
