import json
from datetime import UTC, datetime

import pytest

from driftwarden.monitor.outcome import (
    MAX_MESSAGE,
    is_finished,
    job_state,
    newest_pod,
    outcome_from_job,
    outcome_from_pods,
    outcome_from_summary,
    pick_pod,
    pod_lags_job,
    pod_problem,
    result_lost,
    stuck_reason,
)

from .helpers import finished_job, pod, running_job, summary


def test_successful_run_with_summary():
    outcome = outcome_from_job(finished_job(), pod(summary()))
    assert outcome.succeeded
    assert outcome.outcome == "Succeeded"
    assert outcome.reason == "Succeeded"
    assert outcome.job == "churn-202405011000-abcdef12"
    assert outcome.slot == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert outcome.start_time == datetime(2024, 5, 1, 10, 0, 5, tzinfo=UTC)
    assert outcome.completion_time == datetime(2024, 5, 1, 10, 3, tzinfo=UTC)
    assert outcome.drifted is True
    assert (outcome.drift_share, outcome.drifted_features, outcome.total_features) == (0.5, 2, 4)
    assert (outcome.rows_reference, outcome.rows_current) == (10000, 2500)
    assert outcome.report.startswith("s3://")
    assert [f.name for f in outcome.features] == ["age", "income", "plan", "tenure"]
    assert outcome.drifted_names == ("income", "plan")
    assert outcome.duration_seconds == 12.5
    assert outcome.exit_code == 0
    assert "2 of 4 features drifted" in outcome.message


def test_undrifted_run():
    outcome = outcome_from_job(
        finished_job(), pod(summary(drifted=False, driftShare=0.0, driftedFeatures=0))
    )
    assert outcome.succeeded and not outcome.drifted
    assert outcome.message.startswith("no drift")


def test_error_summary_gives_its_reason_and_message():
    error = {
        "v": 1,
        "error": {
            "reason": "DataNotFound",
            "message": "s3://logs/churn/live/ holds no rows in [2024-04-30T10:00Z, 2024-05-01T10:00Z)",
        },
    }
    outcome = outcome_from_job(
        finished_job(state="Failed", reason="PodFailurePolicy"), pod(error, exit_code=3)
    )
    assert not outcome.succeeded
    assert outcome.reason == "DataNotFound"
    assert "holds no rows" in outcome.message
    assert outcome.exit_code == 3


def test_error_summary_without_usable_reason_falls_back_to_the_exit_code():
    outcome = outcome_from_job(
        finished_job(state="Failed", reason="BackoffLimitExceeded"),
        pod({"v": 1, "error": {"reason": "not a reason!", "message": "denied"}}, exit_code=4),
    )
    assert outcome.reason == "StorageUnavailable"
    assert outcome.message == "denied"


@pytest.mark.parametrize(
    "garbage",
    [
        'Traceback (most recent call last):\n  File "x", line 1\nMemoryError: cannot allocate',
        "{not json",
        "[1, 2, 3]",
        json.dumps({"v": 2, "drifted": True}),
        json.dumps({"v": 1, "drifted": "yes"}),
        "\x00\x01binary\xff",
        "",
    ],
)
def test_completed_job_without_a_readable_summary_is_a_failed_run(garbage):
    outcome = outcome_from_job(finished_job(), pod(garbage))
    assert not outcome.succeeded
    assert outcome.reason == "InvalidSummary"
    assert "\n" not in outcome.message
    assert len(outcome.message) <= MAX_MESSAGE


def test_traceback_tail_gives_its_last_line():
    log_tail = 'Traceback (most recent call last):\n  File "x", line 1\nMemoryError: cannot allocate 4 GiB\n'
    outcome = outcome_from_job(
        finished_job(state="Failed", reason="BackoffLimitExceeded"), pod(log_tail, exit_code=1)
    )
    assert outcome.reason == "AnalysisError"
    assert "MemoryError: cannot allocate 4 GiB" in outcome.message
    assert "exit code 1" in outcome.message


def test_json_log_tail_gives_the_record_message():
    tail = '{"level": "info", "message": "reading"}\n{"level": "error", "message": "bucket logs does not exist"}'
    outcome = outcome_from_job(
        finished_job(state="Failed", reason="BackoffLimitExceeded"), pod(tail, exit_code=4)
    )
    assert outcome.reason == "StorageUnavailable"
    assert outcome.message.startswith("bucket logs does not exist")


def test_huge_garbage_message_is_bounded():
    outcome = outcome_from_job(finished_job(), pod("x" * 100_000))
    assert len(outcome.message) <= MAX_MESSAGE


def test_summary_of_4096_bytes_is_read():
    features = [
        {
            "name": f"feature_{i:03d}",
            "kind": "numerical",
            "method": "psi",
            "score": 0.01 * i,
            "threshold": 0.2,
            "drifted": i % 3 == 0,
        }
        for i in range(200)
    ]
    doc = summary(features=[], truncated=0, totalFeatures=200, driftedFeatures=67, driftShare=0.335)
    text = json.dumps(doc, separators=(",", ":"))
    kept = []
    for feature in features:
        candidate = json.dumps(
            {**doc, "features": [*kept, feature], "truncated": len(features) - len(kept) - 1},
            separators=(",", ":"),
        )
        if len(candidate.encode()) > 4096:
            break
        kept.append(feature)
        text = candidate
    text = text + " " * (4096 - len(text.encode()))  # exactly the kubelet's limit
    assert len(text.encode()) == 4096
    outcome = outcome_from_job(finished_job(), pod(text))
    assert outcome.succeeded
    assert len(outcome.features) == len(kept)
    assert outcome.truncated == len(features) - len(kept)


def test_summary_cut_by_the_kubelet_is_garbage_not_a_crash():
    text = json.dumps(summary())[:-40]
    outcome = outcome_from_job(finished_job(), pod(text))
    assert outcome.reason == "InvalidSummary"


def test_summary_that_breaks_the_report_contract_says_why():
    outcome = outcome_from_job(finished_job(), pod(summary(v=2)))
    assert outcome.reason == "InvalidSummary"
    assert "version 2" in outcome.message
    outcome = outcome_from_job(finished_job(), pod(summary(totalFeatures=9)))
    assert outcome.reason == "InvalidSummary"
    assert "totalFeatures" in outcome.message


def test_per_feature_errors_become_lines():
    doc = summary(
        errors=[{"code": "AllNull", "message": "only nulls in the window", "feature": "age"}]
    )
    outcome = outcome_from_job(finished_job(), pod(doc))
    assert outcome.succeeded
    assert outcome.errors == ("age: only nulls in the window",)
    assert "1 feature(s) could not be compared" in outcome.message


def test_wrong_types_inside_a_summary_are_dropped():
    doc = summary(
        driftShare="half",
        driftedFeatures=-1,
        rows="many",
        report=42,
        features=[{"name": 3}, "x", {"name": "ok", "score": float("inf")}],
    )
    outcome = outcome_from_summary("run", doc)
    assert outcome.succeeded
    assert outcome.drift_share is None and outcome.drifted_features is None
    assert outcome.rows_reference is None and outcome.report is None
    assert [(f.name, f.score) for f in outcome.features] == [("ok", None)]


def test_deadline_exceeded_without_a_pod():
    outcome = outcome_from_job(finished_job(state="Failed", reason="DeadlineExceeded"), None)
    assert outcome.reason == "DeadlineExceeded"
    assert "activeDeadlineSeconds" in outcome.message
    assert outcome.exit_code is None


def test_deadline_wins_over_the_killed_pods_exit_code():
    outcome = outcome_from_job(
        finished_job(state="Failed", reason="DeadlineExceeded"), pod(None, exit_code=1)
    )
    assert outcome.reason == "DeadlineExceeded"


def test_backoff_limit_exceeded_with_exit_code_names_the_class_of_error():
    outcome = outcome_from_job(
        finished_job(state="Failed", reason="BackoffLimitExceeded"), pod(None, exit_code=2)
    )
    assert outcome.reason == "InvalidSpec"


def test_failed_job_with_unknown_exit_code_keeps_the_job_reason():
    outcome = outcome_from_job(
        finished_job(state="Failed", reason="BackoffLimitExceeded"), pod(None, exit_code=137)
    )
    assert outcome.reason == "BackoffLimitExceeded"
    assert "backoffLimit" in outcome.message
    assert "exit code 137" in outcome.message


def test_unfinished_job_is_refused():
    assert not is_finished(running_job())
    with pytest.raises(ValueError):
        outcome_from_job(running_job(), None)


def test_job_state_without_conditions():
    job = running_job()
    job["status"] = {"succeeded": 1}
    assert job_state(job) == "Succeeded"
    job["status"] = {"failed": 1, "active": 1}
    assert job_state(job) is None


def test_pick_pod_prefers_the_successful_then_latest():
    first = pod(None, exit_code=4)
    second = pod(summary(), exit_code=0)
    second["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] = (
        "2024-05-01T10:01:00Z"
    )
    third = pod(None, exit_code=4)
    third["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] = (
        "2024-05-01T10:09:00Z"
    )
    assert pick_pod([first, second, third]) is second
    assert pick_pod([first, third]) is third
    assert pick_pod([]) is None


def test_stuck_reason_reports_pods_that_cannot_start():
    waiting = {
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "analyze",
                    "state": {
                        "waiting": {
                            "reason": "CreateContainerConfigError",
                            "message": 'secret "s3-credentials" not found',
                        }
                    },
                }
            ],
        }
    }
    assert stuck_reason(waiting) == 'CreateContainerConfigError: secret "s3-credentials" not found'
    waiting["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] = "ContainerCreating"
    assert stuck_reason(waiting) is None
    assert stuck_reason(None) is None


def test_error_summary_written_by_the_report_layer_round_trips():
    import driftwarden.report.summary as report_summary
    from driftwarden.errors import StorageError

    text = report_summary.dump_summary(
        report_summary.build_error_summary(
            StorageError.reason, "access denied to s3://logs/ with the given credentials"
        )
    )
    outcome = outcome_from_job(
        finished_job(state="Failed", reason="BackoffLimitExceeded"), pod(text, exit_code=4)
    )
    assert outcome.reason == "StorageUnavailable"
    assert outcome.message == "access denied to s3://logs/ with the given credentials"


def test_deeply_nested_termination_message_is_an_invalid_summary_not_a_crash():
    for text in ("[" * 4096, '{"v": 1, "x": ' + "[" * 2000 + "]" * 2000 + "}"):
        outcome = outcome_from_job(finished_job(), pod(text))
        assert (outcome.outcome, outcome.reason) == ("Failed", "InvalidSummary")
    assert "nests deeper than" in outcome.message


def test_nesting_depth_ignores_brackets_inside_strings():
    text = json.dumps(summary(report="s3://b/[[[[{{{{" * 40))
    assert outcome_from_job(finished_job(), pod(text)).succeeded


def test_oom_killed_analysis_is_out_of_memory_with_what_to_change():
    killed = pod(None, exit_code=137)
    killed["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] = "OOMKilled"
    outcome = outcome_from_job(finished_job(state="Failed", reason="BackoffLimitExceeded"), killed)
    assert (outcome.outcome, outcome.reason) == ("Failed", "OutOfMemory")
    assert "spec.job.resources.limits.memory" in outcome.message


def _pending(name: str, created: str, **status) -> dict:
    return {"metadata": {"name": name, "creationTimestamp": created}, "status": status}


def test_pod_problem_is_read_from_the_newest_pod():
    old_failed = _pending(
        "old",
        "2024-05-01T10:00:02Z",
        phase="Pending",
        containerStatuses=[
            {
                "name": "analyze",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "x"}},
            }
        ],
    )
    unschedulable = _pending(
        "new",
        "2024-05-01T10:05:00Z",
        phase="Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory.",
            }
        ],
    )
    newest = newest_pod([unschedulable, old_failed])
    assert newest is unschedulable
    reason, message = pod_problem(newest)
    assert reason == "Unschedulable" and "Insufficient memory" in message
    assert pod_problem(old_failed)[0] == "JobNotStarting"
    assert pod_problem(pod(summary())) is None  # a finished pod has no problem to report


def test_outcome_from_pods_when_the_job_is_gone():
    slot = datetime(2024, 5, 1, 10, tzinfo=UTC)
    done = pod(summary())
    outcome = outcome_from_pods("churn-202405011000-abcdef12", slot, [pod("boom", 1), done])
    assert outcome.succeeded and outcome.slot == slot and outcome.drifted_features == 2
    failed = outcome_from_pods(
        "churn-x",
        slot,
        [pod('{"v": 1, "error": {"reason": "DataNotFound", "message": "no files"}}', 3)],
    )
    assert (failed.outcome, failed.reason) == ("Failed", "DataNotFound")
    running = _pending("p", "2024-05-01T10:00:02Z", phase="Running")
    assert outcome_from_pods("churn-x", slot, [running]) is None


def test_result_lost_is_a_failure_naming_the_run():
    slot = datetime(2024, 5, 1, 10, tzinfo=UTC)
    lost = result_lost("churn-x", slot, slot)
    assert (lost.outcome, lost.reason, lost.slot) == ("Failed", "ResultLost", slot)
    assert "churn-x" in lost.message


# ---------------------------------------------------------------- pod cache lagging the Job


def _running_pod(name: str = "churn-pod") -> dict:
    return {
        "metadata": {"name": name, "creationTimestamp": "2024-05-01T10:00:02Z"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "analyze", "state": {"running": {"startedAt": "2024-05-01T10:00:04Z"}}}
            ],
        },
    }


def test_a_complete_job_whose_pod_still_shows_running_waits_for_the_pod():
    assert pod_lags_job(finished_job(), [_running_pod()])


def test_a_terminated_pod_is_read_even_before_its_phase_says_succeeded():
    assert not pod_lags_job(finished_job(), [pod(summary(), phase="Running")])
    assert not pod_lags_job(finished_job(), [pod(summary())])


def test_a_failed_job_never_waits_for_its_pods():
    job = finished_job(state="Failed", reason="DeadlineExceeded")
    assert not pod_lags_job(job, [_running_pod()])


def test_a_complete_job_without_pods_does_not_wait():
    assert not pod_lags_job(finished_job(), [])


def test_a_failed_retry_does_not_stand_for_the_pod_that_succeeded():
    error = {"v": 1, "error": {"reason": "DataError", "message": "flaky read"}}
    retried = [pod(error, exit_code=3), _running_pod("churn-pod-2")]
    assert pod_lags_job(finished_job(), retried)
    # Once no pod is left that could still report, the result is read as it is.
    assert not pod_lags_job(finished_job(), [pod(error, exit_code=3)])


def test_a_running_job_is_not_lagged_by_its_pods():
    assert not pod_lags_job(running_job(), [_running_pod()])


def test_the_history_page_reaches_the_outcome_of_successful_and_failed_runs():
    page = "s3://logs/churn/drift-reports/churn/run/history.html"
    ok = outcome_from_job(finished_job(), pod(summary(history=page)))
    assert ok.history == page
    failed = outcome_from_job(
        finished_job(state="Failed", reason="PodFailurePolicy"),
        pod({"v": 1, "history": page, "error": {"reason": "DataNotFound", "message": "x"}}, 3),
    )
    assert not failed.succeeded and failed.history == page
    assert outcome_from_job(finished_job(), pod(summary())).history is None
