"""Debounced alerting (spec.alerting): the pure state machine and the status it writes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from driftwarden.errors import ConfigError
from driftwarden.monitor.debounce import (
    DRIFTED,
    HEALTHY,
    MAX_FEATURE_STREAKS,
    MAX_RECENT_RUNS,
    AlertingSettings,
    AlertState,
    advance,
    parse_alerting,
    pending_message,
    state_from_status,
)
from driftwarden.monitor.outcome import FAILED, SUCCEEDED, FeatureResult, RunOutcome
from driftwarden.monitor.retraining import DRIFT_PENDING, START, decide_retraining
from driftwarden.monitor.spec import parse_monitor, validate_manifest
from driftwarden.monitor.status import compute_status, drift_step, get_condition, unconfirmed_drift
from tests.kubeapi.patching import merge_patch

from .helpers import ROOT, load_yaml_documents, manifest, with_retraining
from .test_crd import SCHEMA, apply_defaults, example_monitors, node, schema_errors

SLOT0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)


def features(*drifted: str, clean: tuple[str, ...] = ()) -> tuple[FeatureResult, ...]:
    return tuple(
        FeatureResult(
            name, "numerical", "psi", 0.5 if name in drifted else 0.01, 0.2, name in drifted
        )
        for name in (*drifted, *clean)
    )


def run(i: int, *drifted: str, total: int = 4, share: float = 0.5, ok: bool = True) -> RunOutcome:
    """Run ``i`` (hourly slots) whose drifted features are ``drifted``; the Job's verdict
    is driftShare over ``total`` features, as the analysis computes it."""
    slot = SLOT0 + timedelta(hours=i)
    common = {
        "job": f"churn-{slot:%Y%m%d%H%M}-0000000{i % 10}",
        "slot": slot,
        "start_time": slot + timedelta(seconds=5),
        "completion_time": slot + timedelta(minutes=3),
    }
    if not ok:
        return RunOutcome(outcome=FAILED, reason="StorageUnavailable", message="down", **common)
    count = len(drifted)
    clean = tuple(f"ok{j}" for j in range(total - count))
    return RunOutcome(
        outcome=SUCCEEDED,
        reason=SUCCEEDED,
        message="…",
        drifted=count > 0 and count / total >= share,
        drift_share=count / total,
        drifted_features=count,
        total_features=total,
        features=features(*drifted, clean=clean),
        **common,
    )


def walk(settings: AlertingSettings, runs, share: float = 0.5) -> list[str]:
    """The debounced state after each run, carried from step to step as the status would."""
    state: AlertState | None = None
    seen = []
    for outcome in runs:
        state = advance(settings, share, state, outcome).after
        seen.append(state.state)
    return seen


# ---------------------------------------------------------------- spec


def test_defaults_act_on_every_run():
    settings = parse_alerting({})
    assert settings == AlertingSettings(1, 1, 1) and settings.immediate
    assert parse_monitor(manifest()).alerting == settings


def test_alerting_settings_are_parsed_and_bounded():
    monitor = parse_monitor(
        manifest(alerting={"driftAfterRuns": 3, "recoverAfterRuns": 2, "featureDriftAfterRuns": 2})
    )
    assert monitor.alerting == AlertingSettings(3, 2, 2)
    assert not monitor.alerting.immediate


@pytest.mark.parametrize(
    ("alerting", "expected"),
    [
        (
            {"driftAfterRuns": 0},
            "spec.alerting.driftAfterRuns: expected an integer in [1, 100], got 0",
        ),
        ({"recoverAfterRuns": 101}, "spec.alerting.recoverAfterRuns"),
        ({"featureDriftAfterRuns": True}, "spec.alerting.featureDriftAfterRuns"),
        ({"driftAfterRuns": "3"}, "spec.alerting.driftAfterRuns"),
        ({"afterRuns": 3}, "spec.alerting: unknown field(s) afterRuns"),
        ([3], "spec.alerting: expected a mapping"),
    ],
)
def test_bad_alerting_settings_name_the_field(alerting, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_alerting({"alerting": alerting})
    assert any(expected in problem for problem in validate_manifest(manifest(alerting=alerting)))


# ---------------------------------------------------------------- the state machine


def test_defaults_follow_each_run_exactly():
    runs = [run(0, "a", "b"), run(1), run(2, "a", "b"), run(3, "a", "b"), run(4)]
    assert walk(AlertingSettings(), runs) == [DRIFTED, HEALTHY, DRIFTED, DRIFTED, HEALTHY]


def test_drift_must_persist_n_runs():
    settings = AlertingSettings(drift_after_runs=3)
    state = None
    seen = []
    for i in range(4):
        step = advance(settings, 0.5, state, run(i, "a", "b"))
        state = step.after
        seen.append((state.state, state.drifted_runs, step.began, step.confirmed))
    assert seen == [
        (HEALTHY, 1, False, False),
        (HEALTHY, 2, False, False),
        (DRIFTED, 3, True, True),
        (DRIFTED, 4, False, True),
    ]
    assert state is not None and state.streak_start == "2024-05-01T00:00:00Z"


def test_a_clean_run_restarts_the_count():
    settings = AlertingSettings(drift_after_runs=3)
    runs = [run(0, "a", "b"), run(1, "a", "b"), run(2), run(3, "a", "b"), run(4, "a", "b")]
    assert walk(settings, runs) == [HEALTHY] * 5
    state = None
    for outcome in runs:
        state = advance(settings, 0.5, state, outcome).after
    assert state is not None and state.drifted_runs == 2
    assert state.streak_start == "2024-05-01T03:00:00Z"


def test_failed_runs_neither_count_nor_reset():
    settings = AlertingSettings(drift_after_runs=2, recover_after_runs=2)
    runs = [
        run(0, "a", "b"),
        run(1, ok=False),  # does not reset the drift streak
        run(2, "a", "b"),  # second drifted run: Drifted
        run(3),
        run(4, ok=False),  # does not reset the clean streak either
        run(5),
    ]
    assert walk(settings, runs) == [HEALTHY, HEALTHY, DRIFTED, DRIFTED, DRIFTED, HEALTHY]
    failed = advance(settings, 0.5, AlertState(DRIFTED, 0, 1), run(6, ok=False))
    assert failed.after == AlertState(DRIFTED, 0, 1) and not failed.counted


def test_recovery_needs_m_clean_runs():
    settings = AlertingSettings(recover_after_runs=2)
    runs = [run(0, "a", "b"), run(1), run(2, "a", "b"), run(3), run(4), run(5, "a", "b")]
    assert walk(settings, runs) == [DRIFTED, DRIFTED, DRIFTED, DRIFTED, HEALTHY, DRIFTED]
    step = advance(settings, 0.5, AlertState(DRIFTED, 1, 0), run(9))
    assert step.after.state == DRIFTED and not step.confirmed
    assert pending_message(step) == (
        "clean in 1 of 2 required runs (spec.alerting.recoverAfterRuns); the monitor stays Drifted"
    )
    assert advance(settings, 0.5, step.after, run(10)).recovered


def test_pending_message_counts_the_runs():
    step = advance(
        AlertingSettings(drift_after_runs=3), 0.5, AlertState(HEALTHY, 1, 0), run(1, "a", "b")
    )
    assert pending_message(step) == "drifted in 2 of 3 required runs (spec.alerting.driftAfterRuns)"
    assert pending_message(advance(AlertingSettings(), 0.5, None, run(0, "a", "b"))) is None


def test_a_flapping_feature_does_not_count():
    # driftShare 0.25 of 4 features: any one drifted feature makes the run's own verdict drift.
    settings = AlertingSettings(feature_drift_after_runs=2)
    flapping = [run(i, "a" if i % 2 == 0 else "b", share=0.25) for i in range(6)]
    assert all(r.drifted for r in flapping)
    assert walk(settings, flapping, share=0.25) == [HEALTHY] * 6
    # A feature that keeps drifting counts from its second run on.
    steady = [run(i, "a", share=0.25) for i in range(3)]
    assert walk(settings, steady, share=0.25) == [HEALTHY, DRIFTED, DRIFTED]


def test_feature_persistence_needs_enough_persistent_features_for_the_share():
    settings = AlertingSettings(feature_drift_after_runs=2)
    # a persists, b and c take turns: 1 of 4 persistent < driftShare 0.5
    runs = [run(0, "a", "b"), run(1, "a", "c"), run(2, "a", "b"), run(3, "a", "b")]
    states = walk(settings, runs)
    assert states == [HEALTHY, HEALTHY, HEALTHY, DRIFTED]  # a and b both persist at run 3
    step = advance(settings, 0.5, None, run(0, "a", "b"))
    assert dict(step.after.features) == {"a": 1, "b": 1} and step.persistent == ()


def test_feature_streaks_are_bounded_and_unlisted_drift_counts():
    settings = AlertingSettings(feature_drift_after_runs=2)
    many = [f"feature-{i:02d}" for i in range(30)]
    first = advance(settings, 0.5, None, run(0, *many, total=40))
    assert len(first.after.features) == MAX_FEATURE_STREAKS
    # 30 features drift at once, more than are tracked: the 20 untracked ones count.
    assert first.counted and first.after.state == DRIFTED
    one = advance(settings, 0.5, None, run(0, "feature-00", total=2))
    assert not one.counted and dict(one.after.features) == {"feature-00": 1}
    # The summary listed only 5 of 25 drifted features (4 KiB): the unlisted 20 count.
    listed = run(5, *many[:5], total=40)
    unlisted = RunOutcome(**{**listed.__dict__, "drifted": True, "drifted_features": 25})
    assert advance(settings, 0.5, None, unlisted).counted


def test_state_is_read_from_the_status_only():
    """An operator restarted between runs continues the count from the status it wrote."""
    settings = AlertingSettings(drift_after_runs=2, feature_drift_after_runs=2)
    step = advance(settings, 0.5, None, run(0, "a", "b"))  # not counted: streaks of 1
    step = advance(settings, 0.5, step.after, run(1, "a", "b"))
    restored = state_from_status(json.loads(json.dumps({"alerting": step.after.to_status()})))
    assert restored == step.after
    assert advance(settings, 0.5, restored, run(2, "a", "b")).after.state == DRIFTED


def test_a_status_from_before_debouncing_keeps_its_verdict():
    drifted = {"conditions": [{"type": "Drifted", "status": "True"}]}
    assert state_from_status(drifted) == AlertState(DRIFTED, 1, 0)
    healthy = {"conditions": [{"type": "Drifted", "status": "False"}]}
    assert state_from_status(healthy) == AlertState(HEALTHY, 0, 1)
    assert state_from_status({"conditions": [{"type": "Drifted", "status": "Unknown"}]}) is None
    assert state_from_status({"alerting": {"state": "Sideways"}}) is None
    # M = 2 after an upgrade: a Drifted monitor needs two clean runs.
    settings = AlertingSettings(recover_after_runs=2)
    assert advance(settings, 0.5, state_from_status(drifted), run(0)).after.state == DRIFTED


# ---------------------------------------------------------------- the status


def cond(status, kind):
    found = get_condition(status["conditions"], kind)
    assert found is not None
    return found


def statuses(doc, runs, start=None):
    monitor = parse_monitor(doc)
    status = start
    out = []
    for outcome in runs:
        now = outcome.completion_time + timedelta(seconds=30)
        # written as the operator writes it: a JSON merge patch of the status
        status = merge_patch(
            status or {}, json.loads(json.dumps(compute_status(monitor, status, outcome, now)))
        )
        out.append(status)
    return out


def test_status_turns_drifted_at_the_nth_run():
    doc = manifest(alerting={"driftAfterRuns": 3})
    first, second, third, fourth = statuses(doc, [run(i, "a", "b") for i in range(4)])
    for status, count in ((first, 1), (second, 2)):
        assert status["phase"] == "Healthy"
        assert status["lastRun"]["drifted"] is True  # the run's own verdict stays raw
        drifted = cond(status, "Drifted")
        assert (drifted["status"], drifted["reason"]) == ("False", "DriftPending")
        assert drifted["message"].startswith(f"drifted in {count} of 3 required runs")
        assert "driftingSince" not in status
    assert third["phase"] == "Drifted"
    assert (cond(third, "Drifted")["status"], cond(third, "Drifted")["reason"]) == (
        "True",
        "DriftDetected",
    )
    assert cond(third, "Drifted")["lastTransitionTime"] == "2024-05-01T02:03:30Z"
    assert third["alerting"] == {
        "state": "Drifted",
        "driftedRuns": 3,
        "cleanRuns": 0,
        "streakStart": "2024-05-01T00:00:00Z",
    }
    since = {
        "job": third["lastRun"]["job"],
        "slot": "2024-05-01T02:00:00Z",
        "time": "2024-05-01T02:03:00Z",
        "firstDriftedSlot": "2024-05-01T00:00:00Z",
    }
    assert third["driftingSince"] == since
    assert fourth["driftingSince"] == since  # kept while it stays Drifted
    assert [r["job"] for r in fourth["recentRuns"]] == [
        s["lastRun"]["job"] for s in (fourth, third, second, first)
    ]


def test_status_hysteresis_and_failed_runs():
    doc = manifest(alerting={"recoverAfterRuns": 2})
    runs = [run(0, "a", "b"), run(1), run(2, ok=False), run(3)]
    drifted, clean, failed, recovered = statuses(doc, runs)
    assert drifted["phase"] == "Drifted"
    assert clean["phase"] == "Drifted" and clean["lastRun"]["drifted"] is False
    pending = cond(clean, "Drifted")
    assert (pending["status"], pending["reason"]) == ("True", "RecoveryPending")
    assert pending["message"].startswith("clean in 1 of 2 required runs")
    assert pending["lastTransitionTime"] == cond(drifted, "Drifted")["lastTransitionTime"]
    assert failed["phase"] == "Failed" and failed["alerting"] == clean["alerting"]
    assert cond(failed, "Drifted") == pending
    assert recovered["phase"] == "Healthy"
    assert (cond(recovered, "Drifted")["status"], cond(recovered, "Drifted")["reason"]) == (
        "False",
        "NoDrift",
    )
    assert "driftingSince" not in recovered
    assert [r["outcome"] for r in recovered["recentRuns"]] == [
        "Succeeded",
        "Failed",
        "Succeeded",
        "Succeeded",
    ]
    assert recovered["recentRuns"][1] == {
        "job": failed["lastRun"]["job"],
        "slot": "2024-05-01T02:00:00Z",
        "outcome": "Failed",
        "reason": "StorageUnavailable",
    }


def test_recording_a_run_twice_counts_it_once():
    doc = manifest(alerting={"driftAfterRuns": 2})
    monitor = parse_monitor(doc)
    outcome = run(0, "a", "b")
    once = compute_status(monitor, None, outcome, outcome.completion_time)
    twice = compute_status(monitor, once, outcome, outcome.completion_time)
    assert twice["alerting"] == once["alerting"] and twice["alerting"]["driftedRuns"] == 1
    assert twice["recentRuns"] == once["recentRuns"] and len(once["recentRuns"]) == 1
    assert twice["phase"] == "Healthy"


def test_defaults_write_the_same_verdict_as_before():
    drifted, clean = statuses(manifest(), [run(0, "a", "b"), run(1)])
    assert drifted["phase"] == "Drifted" and cond(drifted, "Drifted")["reason"] == "DriftDetected"
    assert cond(drifted, "Drifted")["message"] == (
        f"2 of 4 features drifted (share 0.50) in run {drifted['lastRun']['job']}: a, b"
    )
    assert clean["phase"] == "Healthy" and cond(clean, "Drifted")["reason"] == "NoDrift"


def test_recent_runs_are_bounded_newest_first():
    runs = [run(i, "a", "b") if i % 3 else run(i) for i in range(25)]
    last = statuses(manifest(), runs)[-1]
    assert len(last["recentRuns"]) == MAX_RECENT_RUNS
    assert [r["job"] for r in last["recentRuns"]] == [r.job for r in reversed(runs[-10:])]
    assert last["recentRuns"][0] == {
        "job": runs[24].job,
        "slot": "2024-05-02T00:00:00Z",
        "outcome": "Succeeded",
        "drifted": False,
        "driftShare": 0.0,
        "driftedFeatures": 0,
    }


@pytest.mark.parametrize(
    ("name_length", "whole_bound", "added_bound"),
    [(94, 10 * 1024, 3 * 1024), (30, 7 * 1024, 2560)],
)
def test_status_stays_small_with_many_long_feature_names(name_length, whole_bound, added_bound):
    """30 drifting features of 32 (the summary keeps names to 94 characters), feature
    persistence on, 25 runs: the runs, streaks and driftingSince add a bounded few KiB.
    (Most of the whole is status.features: 20 names, as before.)"""
    names = [f"{i:02d}-" + "x" * (name_length - 3) for i in range(30)]
    doc = manifest(
        alerting={"driftAfterRuns": 3, "recoverAfterRuns": 2, "featureDriftAfterRuns": 2}
    )
    last = statuses(doc, [run(i, *names[i % 2 :], total=32) for i in range(25)])[-1]
    added = {k: last[k] for k in ("alerting", "driftingSince", "recentRuns")}
    whole = len(json.dumps(last, separators=(",", ":")).encode())
    extra = len(json.dumps(added, separators=(",", ":")).encode())
    assert len(last["alerting"]["features"]) == MAX_FEATURE_STREAKS
    assert len(last["features"]) == 20 and len(last["recentRuns"]) == MAX_RECENT_RUNS
    assert last["phase"] == "Drifted"
    assert extra < added_bound, extra
    assert whole < whole_bound, whole


def test_retraining_waits_for_the_debounced_drift():
    doc = with_retraining()
    doc["spec"]["alerting"] = {"driftAfterRuns": 2}
    monitor = parse_monitor(doc)
    first = run(0, "a", "b")
    step = drift_step(monitor, None, first)
    decision = decide_retraining(
        monitor, first, None, first.completion_time, unconfirmed=unconfirmed_drift(step)
    )
    assert decision.reason == DRIFT_PENDING
    assert decision.message == (
        f"run {first.job} found drift, but drifted in 1 of 2 required runs (spec.alerting.driftAfterRuns)"
    )
    status = compute_status(monitor, None, first, first.completion_time)
    trigger = cond(status, "RetrainingTriggered")
    assert (trigger["status"], trigger["reason"]) == ("False", DRIFT_PENDING)
    second = run(1, "a", "b")
    step = drift_step(monitor, status, second)
    assert step.confirmed and unconfirmed_drift(step) is None
    decision = decide_retraining(monitor, second, None, second.completion_time, unconfirmed=None)
    assert decision.reason == START
    status = compute_status(monitor, status, second, second.completion_time)
    assert cond(status, "RetrainingTriggered")["reason"] == "RetrainingPending"


def test_a_flapping_feature_leaves_no_streak_behind_in_the_written_status():
    """The status is written as a merge patch: a streak that ended must be removed, not kept."""
    doc = manifest(alerting={"featureDriftAfterRuns": 2}, detection={"driftShare": 0.25})
    runs = [run(i, "a", share=0.25) if i % 2 == 0 else run(i, share=0.25) for i in range(5)]
    written = statuses(doc, runs)
    assert [s["phase"] for s in written] == ["Healthy"] * 5
    assert [s["alerting"].get("features") for s in written[:2]] == [
        [{"name": "a", "runs": 1}],
        None,
    ]
    assert "streakStart" not in written[1]["alerting"]


# ---------------------------------------------------------------- CRD and example


def test_crd_defaults_mean_the_operator_defaults():
    alerting = node("spec.alerting")["properties"]
    defaults = AlertingSettings()
    for key, attr in (
        ("driftAfterRuns", "drift_after_runs"),
        ("recoverAfterRuns", "recover_after_runs"),
        ("featureDriftAfterRuns", "feature_drift_after_runs"),
    ):
        assert alerting[key]["default"] == getattr(defaults, attr)
        assert (alerting[key]["minimum"], alerting[key]["maximum"]) == (1, 100)


def test_the_example_is_valid_and_keeps_its_settings_through_the_api_server_defaults():
    (doc,) = [d for d in load_yaml_documents(ROOT / "examples" / "debounced-alerting.yaml")]
    assert schema_errors(doc) == [] and validate_manifest(doc) == []
    stored = parse_monitor(apply_defaults(doc, SCHEMA))
    assert stored.alerting == parse_monitor(doc).alerting == AlertingSettings(3, 2, 2)
    for name, example in example_monitors():
        # every other example keeps acting on each run's own verdict
        if name != "debounced-alerting.yaml":
            assert parse_monitor(apply_defaults(example, SCHEMA)).alerting.immediate, name


def test_lowering_a_setting_takes_effect_with_the_next_run_and_says_so():
    pending = statuses(
        manifest(alerting={"driftAfterRuns": 3}), [run(0, "a", "b"), run(1, "a", "b")]
    )[-1]
    lowered = parse_monitor(manifest(alerting={"driftAfterRuns": 2}))
    status = compute_status(lowered, pending, None, SLOT0 + timedelta(hours=1, minutes=10))
    assert status["phase"] == "Healthy"
    assert cond(status, "Drifted")["message"].startswith(
        "drifted in 2 runs (spec.alerting.driftAfterRuns is now 2: applies from the next run)"
    )
    after = merge_patch(
        pending,
        json.loads(
            json.dumps(compute_status(lowered, pending, run(2), SLOT0 + timedelta(hours=2)))
        ),
    )
    assert after["phase"] == "Healthy" and after["alerting"]["driftedRuns"] == 0
