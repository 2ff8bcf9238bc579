from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from driftwarden.errors import ConfigError
from driftwarden.monitor.backoff import record_failure
from driftwarden.monitor.outcome import FeatureResult, outcome_from_job
from driftwarden.monitor.retraining import decide_retraining, retraining_record
from driftwarden.monitor.spec import parse_monitor
from driftwarden.monitor.status import (
    MAX_FEATURES,
    STATUS_FIELDS,
    compute_status,
    get_condition,
    invalid_spec_status,
    is_new_outcome,
    last_slot,
    set_condition,
    suspended_status,
)

from .helpers import BASE, finished_job, manifest, pod, running_job, summary, with_retraining

T0 = datetime(2024, 5, 1, 10, 3, 30, tzinfo=UTC)
MONITOR = parse_monitor(BASE)


def cond(status, kind):
    found = get_condition(status["conditions"], kind)
    assert found is not None, kind
    return found


def drifted_outcome(name="churn-202405011000-abcdef12", slot="2024-05-01T10:00:00Z", **changes):
    return outcome_from_job(finished_job(name, slot=slot), pod(summary(**changes)))


def failed_outcome(name="churn-202405011100-bbbbbbbb", slot="2024-05-01T11:00:00Z"):
    error = {
        "v": 1,
        "error": {
            "reason": "StorageUnavailable",
            "message": "endpoint http://minio:9000 refused the connection",
        },
    }
    return outcome_from_job(
        finished_job(name, state="Failed", reason="BackoffLimitExceeded", slot=slot),
        pod(error, exit_code=4),
    )


# ---------------------------------------------------------------- set_condition


def test_new_condition_gets_now_as_transition_time():
    conditions = set_condition([], "Ready", "True", "RunSucceeded", "ok", T0, 3)
    assert conditions == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "RunSucceeded",
            "message": "ok",
            "lastTransitionTime": "2024-05-01T10:03:30Z",
            "observedGeneration": 3,
        }
    ]


def test_unchanged_status_keeps_transition_time_but_updates_the_rest():
    first = set_condition([], "Ready", "False", "DataNotFound", "no rows", T0, 3)
    later = set_condition(
        first, "Ready", "False", "StorageUnavailable", "refused", T0 + timedelta(hours=1), 4
    )
    assert later[0]["lastTransitionTime"] == "2024-05-01T10:03:30Z"
    assert (later[0]["reason"], later[0]["message"], later[0]["observedGeneration"]) == (
        "StorageUnavailable",
        "refused",
        4,
    )


def test_flipped_status_moves_transition_time():
    first = set_condition([], "Ready", "False", "DataNotFound", "no rows", T0, 3)
    flipped = set_condition(
        first, "Ready", "True", "RunSucceeded", "ok", T0 + timedelta(hours=1), 3
    )
    assert flipped[0]["lastTransitionTime"] == "2024-05-01T11:03:30Z"


def test_other_conditions_are_kept_and_input_untouched():
    other = {"type": "Custom", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}
    conditions = [other]
    out = set_condition(conditions, "Ready", "True", "RunSucceeded", "ok", T0, 1)
    assert out[0] == other and out[1]["type"] == "Ready"
    assert conditions == [other]


def test_condition_status_must_be_a_kubernetes_value():
    with pytest.raises(ValueError):
        set_condition([], "Ready", "Yes", "X", "", T0, 1)


def test_long_messages_are_bounded():
    out = set_condition([], "Ready", "False", "X", "m" * 5000, T0, 1)
    assert len(out[0]["message"]) <= 1024


# ---------------------------------------------------------------- compute_status


def test_brand_new_monitor_with_first_job_running():
    status = compute_status(MONITOR, None, None, T0, running_job())
    assert status["phase"] == "Running"
    assert status["observedGeneration"] == 3
    assert status["currentRun"] == {
        "job": "churn-202405011100-0badc0de",
        "slot": "2024-05-01T11:00:00Z",
        "startTime": "2024-05-01T11:00:03Z",
        "phase": "Analyzing",
    }
    assert cond(status, "Ready")["status"] == "Unknown"
    assert cond(status, "Ready")["reason"] == "FirstRunInProgress"
    assert cond(status, "Drifted")["status"] == "Unknown"
    assert cond(status, "RetrainingTriggered")["reason"] == "NotConfigured"
    assert status["nextRunTime"] == "2024-05-01T11:00:00Z"
    assert status["failures"] == 0
    assert status["lastRun"] is None


def test_pending_before_anything_ran():
    status = compute_status(MONITOR, {}, None, T0)
    assert status["phase"] == "Pending"
    assert cond(status, "Ready")["reason"] == "Pending"


def test_drifted_run():
    status = compute_status(MONITOR, None, drifted_outcome(), T0)
    assert status["phase"] == "Drifted"
    assert status["currentRun"] is None
    assert cond(status, "Ready")["status"] == "True"
    assert cond(status, "Drifted")["status"] == "True"
    assert cond(status, "Drifted")["reason"] == "DriftDetected"
    assert "income, plan" in cond(status, "Drifted")["message"]
    assert all(c["observedGeneration"] == 3 for c in status["conditions"])
    last = status["lastRun"]
    assert last["job"] == "churn-202405011000-abcdef12"
    assert last["slot"] == "2024-05-01T10:00:00Z"
    assert last["outcome"] == "Succeeded"
    assert last["rows"] == {"reference": 10000, "current": 2500}
    assert (last["driftShare"], last["driftedFeatures"], last["totalFeatures"]) == (0.5, 2, 4)
    assert last["completionTime"] == "2024-05-01T10:03:00Z"
    assert status["lastSuccessfulRunTime"] == "2024-05-01T10:03:00Z"
    # most drifted first: the KS p-value 1e-4 against 0.01 beats JS 0.3 against 0.1
    assert [f["name"] for f in status["features"]] == ["income", "plan", "tenure", "age"]


def test_healthy_run():
    status = compute_status(MONITOR, None, drifted_outcome(drifted=False), T0)
    assert status["phase"] == "Healthy"
    assert cond(status, "Drifted")["status"] == "False"
    assert cond(status, "Drifted")["reason"] == "NoDrift"


def test_features_are_bounded():
    features = [
        {
            "name": f"f{i:02d}",
            "kind": "numerical",
            "method": "psi",
            "score": i / 100,
            "threshold": 0.2,
            "drifted": i >= 20,
        }
        for i in range(50)
    ]
    outcome = drifted_outcome(
        features=features, totalFeatures=50, driftedFeatures=30, driftShare=0.6
    )
    status = compute_status(MONITOR, None, outcome, T0)
    assert len(status["features"]) == MAX_FEATURES
    assert status["features"][0]["name"] == "f49"
    assert all(f["drifted"] for f in status["features"])


def test_failure_after_success_keeps_the_drift_verdict_and_counts_once():
    ok = compute_status(MONITOR, None, drifted_outcome(), T0)
    later = T0 + timedelta(hours=1)
    failed = compute_status(MONITOR, ok, failed_outcome(), later)
    assert failed["phase"] == "Failed"
    assert failed["failures"] == 1
    ready = cond(failed, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "StorageUnavailable")
    assert "refused the connection" in ready["message"]
    assert ready["lastTransitionTime"] == "2024-05-01T11:03:30Z"
    assert cond(failed, "Drifted") == cond(ok, "Drifted")  # last successful verdict, untouched
    assert failed["features"] == ok["features"]
    assert failed["lastSuccessfulRunTime"] == ok["lastSuccessfulRunTime"]
    # fields a failed run lacks are cleared (None = remove, as a merge patch does)
    assert failed["lastRun"]["driftShare"] is None and failed["lastRun"]["rows"] is None
    # re-observing the same Job changes nothing
    assert compute_status(MONITOR, failed, failed_outcome(), later) == failed
    again = compute_status(
        MONITOR,
        failed,
        failed_outcome("churn-202405011200-cccccccc", "2024-05-01T12:00:00Z"),
        later + timedelta(hours=1),
    )
    assert again["failures"] == 2
    assert cond(again, "Ready")["lastTransitionTime"] == "2024-05-01T11:03:30Z"
    recovered = compute_status(
        MONITOR,
        again,
        drifted_outcome("churn-202405011300-dddddddd", "2024-05-01T13:00:00Z", drifted=False),
        later + timedelta(hours=2),
    )
    assert recovered["failures"] == 0
    assert recovered["phase"] == "Healthy"
    assert cond(recovered, "Ready")["lastTransitionTime"] == "2024-05-01T13:03:30Z"
    assert cond(recovered, "Drifted")["lastTransitionTime"] == "2024-05-01T13:03:30Z"


def test_ready_transition_time_is_kept_across_successful_runs():
    first = compute_status(MONITOR, None, drifted_outcome(), T0)
    second = compute_status(
        MONITOR,
        first,
        drifted_outcome("churn-202405011100-eeeeeeee", "2024-05-01T11:00:00Z"),
        T0 + timedelta(hours=1),
    )
    assert cond(second, "Ready")["lastTransitionTime"] == cond(first, "Ready")["lastTransitionTime"]
    assert (
        cond(second, "Drifted")["lastTransitionTime"]
        == cond(first, "Drifted")["lastTransitionTime"]
    )
    assert second["lastRun"]["job"] == "churn-202405011100-eeeeeeee"


def test_an_older_run_finishing_late_does_not_replace_a_newer_result():
    newer = compute_status(
        MONITOR, None, drifted_outcome("churn-202405011100-ffffffff", "2024-05-01T11:00:00Z"), T0
    )
    stale = drifted_outcome("churn-202405011000-abcdef12", "2024-05-01T10:00:00Z", drifted=False)
    assert not is_new_outcome(newer, stale)
    after = compute_status(MONITOR, newer, stale, T0)
    assert after["lastRun"] == newer["lastRun"]


def test_running_after_a_result_keeps_the_verdict():
    done = compute_status(MONITOR, None, drifted_outcome(), T0)
    running = compute_status(MONITOR, done, None, T0 + timedelta(hours=1), running_job())
    assert running["phase"] == "Running"
    assert cond(running, "Ready")["status"] == "True"
    assert running["lastRun"] == done["lastRun"]
    finished = compute_status(
        MONITOR,
        running,
        drifted_outcome("churn-202405011100-0badc0de", "2024-05-01T11:00:00Z"),
        T0 + timedelta(hours=1),
        running_job(),
    )
    assert finished["currentRun"] is None  # the running Job is the one that finished


def test_stuck_pod_is_shown_on_ready():
    status = compute_status(
        MONITOR,
        None,
        None,
        T0,
        running_job(),
        current_problem='CreateContainerConfigError: secret "s3-credentials" not found',
    )
    ready = cond(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "JobNotStarting")
    assert "s3-credentials" in ready["message"]


def test_retraining_conditions():
    monitor = parse_monitor(with_retraining())
    outcome = drifted_outcome()
    pending = compute_status(monitor, None, outcome, T0)
    assert cond(pending, "RetrainingTriggered")["status"] == "Unknown"
    decision = decide_retraining(monitor, outcome, None, T0)
    record = retraining_record(
        {"metadata": {"name": "churn-retrain-1234abcd"}}, outcome, decision, T0
    )
    started = compute_status(monitor, None, outcome, T0, retraining=record)
    trig = cond(started, "RetrainingTriggered")
    assert (trig["status"], trig["reason"]) == ("True", "RetrainingStarted")
    assert started["lastRetraining"] == record.to_status()
    # the next drifted run within the cooldown
    nxt = drifted_outcome("churn-202405011100-12121212", "2024-05-01T11:00:00Z")
    cooled = compute_status(monitor, started, nxt, T0 + timedelta(hours=1))
    trig = cond(cooled, "RetrainingTriggered")
    assert (trig["status"], trig["reason"]) == ("False", "CooldownActive")
    assert cooled["lastRetraining"] == record.to_status()
    # re-observing the run that triggered it keeps the True condition
    same = compute_status(monitor, started, outcome, T0 + timedelta(minutes=5))
    assert cond(same, "RetrainingTriggered")["status"] == "True"
    # undrifted run
    calm = compute_status(monitor, started, replace(nxt, drifted=False), T0 + timedelta(hours=1))
    assert cond(calm, "RetrainingTriggered")["reason"] == "NotDrifted"


def test_retraining_disabled_condition():
    monitor = parse_monitor(with_retraining(enabled=False))
    status = compute_status(monitor, None, drifted_outcome(), T0)
    assert cond(status, "RetrainingTriggered")["reason"] == "Disabled"


def test_suspended_status_keeps_results_and_the_running_job():
    running = compute_status(
        MONITOR, compute_status(MONITOR, None, drifted_outcome(), T0), None, T0, running_job()
    )
    suspended_monitor = parse_monitor(manifest(suspend=True))
    status = suspended_status(suspended_monitor, running, T0 + timedelta(minutes=1))
    assert status["phase"] == "Suspended"
    assert status["nextRunTime"] is None
    assert status["currentRun"] == running["currentRun"]
    assert status["lastRun"] == running["lastRun"]
    assert cond(status, "Ready")["status"] == "True"
    # compute_status of a suspended monitor says Suspended too
    assert compute_status(suspended_monitor, running, None, T0)["phase"] == "Suspended"


def test_invalid_spec_status():
    ok = compute_status(MONITOR, None, drifted_outcome(), T0)
    status = invalid_spec_status(
        4,
        ok,
        ConfigError("spec.schedule: cannot read 'x'", hint="write 0 * * * *"),
        T0 + timedelta(hours=1),
    )
    assert status["phase"] == "Failed"
    assert status["observedGeneration"] == 4
    assert status["nextRunTime"] is None
    ready = cond(status, "Ready")
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == (
        "False",
        "InvalidSpec",
        4,
    )
    assert ready["message"] == "spec.schedule: cannot read 'x' (write 0 * * * *)"
    assert status["lastRun"] == ok["lastRun"]
    assert invalid_spec_status(1, None, "bad", T0)["conditions"][0]["message"] == "bad"


def test_compute_status_is_pure():
    previous = compute_status(MONITOR, None, drifted_outcome(), T0)
    snapshot = repr(previous)
    a = compute_status(MONITOR, previous, failed_outcome(), T0 + timedelta(hours=1))
    b = compute_status(MONITOR, previous, failed_outcome(), T0 + timedelta(hours=1))
    assert a == b
    assert repr(previous) == snapshot


def test_is_new_outcome_and_last_slot():
    outcome = drifted_outcome()
    assert is_new_outcome(None, outcome)
    status = compute_status(MONITOR, None, outcome, T0)
    assert not is_new_outcome(status, outcome)
    assert is_new_outcome(status, failed_outcome())
    assert last_slot(None) is None
    assert last_slot(status) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    running = compute_status(MONITOR, status, None, T0, running_job())
    assert last_slot(running) == datetime(2024, 5, 1, 11, tzinfo=UTC)


def test_feature_ordering_handles_missing_scores():
    outcome = drifted_outcome()
    features = (
        FeatureResult("b", "numerical", "psi", None, 0.2, False),
        FeatureResult("a", "numerical", "psi", 0.1, None, False),
        FeatureResult("c", "numerical", "psi", 0.3, 0.2, True),
    )
    status = compute_status(MONITOR, None, replace(outcome, features=features), T0)
    assert [f["name"] for f in status["features"]] == ["c", "a", "b"]


def test_status_fields_of_others_are_left_alone():
    previous = {"kopf": {"progress": {"x": 1}}, "phase": "Pending"}
    status = compute_status(MONITOR, previous, drifted_outcome(), T0)
    assert "kopf" not in status
    assert set(status) == set(STATUS_FIELDS)
    assert set(invalid_spec_status(1, previous, "bad", T0)) == set(STATUS_FIELDS)
    assert set(suspended_status(parse_monitor(manifest(suspend=True)), previous, T0)) == set(
        STATUS_FIELDS
    )


def test_p_value_methods_rank_by_their_p_value_not_their_statistic():
    features = [
        {"name": "weak", "kind": "numerical", "method": "ks", "score": 0.30, "pValue": 0.009,
         "threshold": 0.01, "drifted": True},
        {"name": "strong", "kind": "numerical", "method": "ks", "score": 0.05, "pValue": 1e-12,
         "threshold": 0.01, "drifted": True},
    ]  # fmt: skip
    outcome = drifted_outcome(features=features, totalFeatures=2, driftedFeatures=2, driftShare=1.0)
    status = compute_status(MONITOR, None, outcome, T0)
    assert [f["name"] for f in status["features"]] == ["strong", "weak"]


def test_refused_create_is_ready_false_job_rejected_until_a_create_succeeds():
    record = record_failure(
        None,
        job="churn-202405011000-abcdef12",
        code=403,
        reason="Forbidden",
        message="exceeded quota: team-quota",
        generation=MONITOR.generation,
        now=T0,
    )
    refused = compute_status(MONITOR, None, None, T0, job_creation=record)
    ready = cond(refused, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "JobRejected")
    assert "403 Forbidden" in ready["message"] and "exceeded quota" in ready["message"]
    assert refused["phase"] == "Failed" and refused["jobCreation"] == record
    started = compute_status(MONITOR, refused, None, T0, running_job())
    assert (
        started["jobCreation"] is None and cond(started, "Ready")["reason"] == "FirstRunInProgress"
    )


def test_pod_problem_reason_reaches_ready():
    status = compute_status(
        MONITOR,
        None,
        None,
        T0,
        running_job(),
        current_problem=("Unschedulable", "0/3 nodes are available"),
    )
    ready = cond(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Unschedulable")


def test_retraining_problem_sets_retraining_triggered_false_and_clears_when_it_starts():
    monitor = parse_monitor(with_retraining())
    outcome = drifted_outcome()
    rejected = compute_status(
        monitor, None, outcome, T0, retraining_problem=("RetrainingRejected", "forbidden")
    )
    trig = cond(rejected, "RetrainingTriggered")
    assert (trig["status"], trig["reason"], trig["message"]) == (
        "False",
        "RetrainingRejected",
        "forbidden",
    )
    assert rejected["lastRun"]["job"] == outcome.job  # the run is recorded all the same
    decision = decide_retraining(monitor, outcome, None, T0)
    record = retraining_record({"metadata": {"name": "churn-retrain-1"}}, outcome, decision, T0)
    started = compute_status(monitor, None, outcome, T0, retraining=record)
    stuck = compute_status(
        monitor, started, None, T0, retraining_problem=("RetrainingNotStarting", "taint")
    )
    assert cond(stuck, "RetrainingTriggered")["reason"] == "RetrainingNotStarting"
    going = compute_status(monitor, stuck, None, T0)
    assert cond(going, "RetrainingTriggered")["status"] == "True"


def test_last_run_links_its_history_page_and_drops_a_stale_one():
    page = "s3://logs/churn/drift-reports/churn/churn-202405011000-abcdef12/history.html"
    status = compute_status(MONITOR, None, drifted_outcome(history=page), T0)
    assert status["lastRun"]["history"] == page
    # The next run wrote no page (an older image, no output path): no link to the old one.
    later = drifted_outcome(name="churn-202405011100-bbbbbbbb", slot="2024-05-01T11:00:00Z")
    status = compute_status(MONITOR, status, later, T0 + timedelta(hours=1))
    assert status["lastRun"]["history"] is None
