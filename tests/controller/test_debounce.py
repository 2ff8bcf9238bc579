"""Debounced alerting (spec.alerting) end to end: the real operator against the test API
server, analysis Jobs really run by the kubelet stand-in on data in the S3 server, the data
changed between runs. The debounce state lives in the status, so a second operator process
continues the count of the first."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client import generate_latest

from driftwarden.controller.metrics import gauges_from_status
from driftwarden.controller.reconcile import outcome_events
from driftwarden.monitor.debounce import AlertingSettings, AlertState, advance
from driftwarden.monitor.outcome import SUCCEEDED, FeatureResult, RunOutcome
from tests.controller.conftest import NAMESPACE
from tests.controller.test_failures import _retraining_template


def _condition(status, kind):
    return next(c for c in status.get("conditions") or [] if c["type"] == kind)


def _gauge(reconciler, name: str, monitor: str) -> float | None:
    text = generate_latest(reconciler.metrics.registry).decode()
    prefix = f'{name}{{monitor="{monitor}",namespace="{NAMESPACE}"}} '
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


class Feed:
    """The current window of one monitor: rewritten before each run with chosen features shifted."""

    def __init__(self, cluster, prefix: str) -> None:
        self.cluster = cluster
        self.fs = cluster.s3.filesystem()
        self.dir = f"{cluster.bucket}/{prefix}"
        self.runs = 0

    def write(self, *shifted: str) -> None:
        """Replace the window's data: ``shifted`` features moved far, the others as the reference."""
        rng = np.random.default_rng(100 + self.runs)
        n = 2000
        income = 15 if "income" in shifted else 0
        tenure = 15 if "tenure" in shifted else 0
        plan = [0.2, 0.3, 0.5] if "plan" in shifted else [0.5, 0.3, 0.2]
        table = pa.table(
            {
                "income": rng.normal(50 + income, 10, n),
                "tenure": rng.gamma(2.0, 10.0 + tenure, n),
                "plan": rng.choice(["basic", "pro", "team"], n, p=plan),
            }
        )
        if self.runs:
            self.fs.delete_file(f"{self.dir}/part-{self.runs - 1}.parquet")
        # A new name each time: a run never mistakes the new data for the old.
        with self.fs.open_output_stream(f"{self.dir}/part-{self.runs}.parquet") as sink:
            pq.write_table(table, sink)
        self.runs += 1

    def next_run(self, name: str, *shifted: str) -> dict:
        """Write the data, move the clock to the next slot, wait for that run's result."""
        before = (self.cluster.status(name).get("lastRun") or {}).get("job")
        self.write(*shifted)
        if before is not None:
            self.cluster.clock.advance(hours=1)
        return self.cluster.wait_status(
            name, lambda s: (s.get("lastRun") or {}).get("job") not in (None, before), timeout=90
        )


def test_drift_must_persist_three_runs_and_recovery_two(cluster):
    """N=3: Drifted, the Warning and retraining only at the third drifted run; M=2: one clean
    run keeps it Drifted, the second ends it. The operator is restarted between runs."""
    feed = Feed(cluster, "debounced")
    all_shifted = ("income", "tenure", "plan")
    with cluster.operator(allowed_images=("trainer:*",)) as reconciler:
        cluster.monitor(
            "churn",
            current="debounced",
            alerting={"driftAfterRuns": 3, "recoverAfterRuns": 2},
            retraining={"cooldown": "1h", "jobTemplate": _retraining_template()},
        )
        first = feed.next_run("churn", *all_shifted)
        assert first["lastRun"]["drifted"] is True  # the run's own verdict, raw
        assert first["phase"] == "Healthy"
        drifted = _condition(first, "Drifted")
        assert (drifted["status"], drifted["reason"]) == ("False", "DriftPending")
        assert drifted["message"].startswith("drifted in 1 of 3 required runs")
        assert _condition(first, "RetrainingTriggered")["reason"] == "DriftPending"
        assert first["alerting"] == {
            "state": "Healthy",
            "driftedRuns": 1,
            "cleanRuns": 0,
            "streakStart": first["lastRun"]["slot"],
        }
        cluster.api.wait_for(lambda: _gauge(reconciler, "driftwarden_run_drifted", "churn") == 1)
        assert _gauge(reconciler, "driftwarden_dataset_drifted", "churn") == 0
        assert _gauge(reconciler, "driftwarden_drifted_runs", "churn") == 1
        cluster.api.wait_for(lambda: cluster.events("churn", "DriftPending"))

        second = feed.next_run("churn", *all_shifted)
        assert second["phase"] == "Healthy"
        assert _condition(second, "Drifted")["message"].startswith(
            "drifted in 2 of 3 required runs"
        )
        # Events are posted after the status write; wait for the second before this
        # operator stops, or a stop in between drops it (Events are best effort).
        cluster.api.wait_for(lambda: len(cluster.events("churn", "DriftPending")) == 2)
    # A new operator process: the count continues from the status, not from memory.
    with cluster.operator(allowed_images=("trainer:*",)) as reconciler:
        third = feed.next_run("churn", *all_shifted)
        assert third["phase"] == "Drifted"
        drifted = _condition(third, "Drifted")
        assert (drifted["status"], drifted["reason"]) == ("True", "DriftDetected")
        assert third["driftingSince"] == {
            "job": third["lastRun"]["job"],
            "slot": third["lastRun"]["slot"],
            "time": third["lastRun"]["completionTime"],
            "firstDriftedSlot": first["lastRun"]["slot"],
        }
        cluster.api.wait_for(lambda: len(cluster.jobs("retraining")) == 1)
        (retrain,) = cluster.jobs("retraining")
        env = {
            e["name"]: e.get("value")
            for e in retrain["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["DRIFTWARDEN_RUN"] == third["lastRun"]["job"]
        cluster.api.wait_for(lambda: cluster.events("churn", "DriftDetected"))
        assert len(cluster.events("churn", "DriftPending")) == 2
        cluster.api.wait_for(
            lambda: _gauge(reconciler, "driftwarden_dataset_drifted", "churn") == 1
        )
        assert (
            _gauge(reconciler, "driftwarden_drifting_since_timestamp_seconds", "churn") is not None
        )

        clean = feed.next_run("churn")
        assert clean["lastRun"]["drifted"] is False
        assert clean["phase"] == "Drifted"  # hysteresis: one clean run is not enough
        drifted = _condition(clean, "Drifted")
        assert (drifted["status"], drifted["reason"]) == ("True", "RecoveryPending")
        assert drifted["message"].startswith("clean in 1 of 2 required runs")
        assert clean["driftingSince"] == third["driftingSince"]
        cluster.api.wait_for(lambda: cluster.events("churn", "RecoveryPending"))
        cluster.api.wait_for(lambda: _gauge(reconciler, "driftwarden_run_drifted", "churn") == 0)
        assert _gauge(reconciler, "driftwarden_dataset_drifted", "churn") == 1

        recovered = feed.next_run("churn")
        assert recovered["phase"] == "Healthy"
        assert _condition(recovered, "Drifted")["reason"] == "NoDrift"
        assert "driftingSince" not in recovered
        cluster.api.wait_for(
            lambda: _gauge(reconciler, "driftwarden_dataset_drifted", "churn") == 0
        )
        assert _gauge(reconciler, "driftwarden_drifting_since_timestamp_seconds", "churn") is None
        assert [r["drifted"] for r in recovered["recentRuns"]] == [False, False, True, True, True]
    assert len(cluster.jobs("retraining")) == 1  # only the confirmed drift retrained
    assert len(cluster.events("churn", "DriftDetected")) == 1


def test_a_flapping_feature_does_not_flip_the_monitor(cluster):
    """driftShare 0.3: one drifted feature of three makes a run's own verdict drift. With
    featureDriftAfterRuns 2, income drifting every other run never makes the monitor Drifted;
    drifting in two runs in a row does."""
    feed = Feed(cluster, "flapping")
    with cluster.operator() as reconciler:
        cluster.monitor(
            "flap",
            current="flapping",
            detection={"driftShare": 0.3},
            alerting={"featureDriftAfterRuns": 2},
        )
        seen = []
        for shifted in (("income",), (), ("income",), ()):
            status = feed.next_run("flap", *shifted)
            seen.append((status["lastRun"]["drifted"], status["phase"]))
        assert seen == [
            (True, "Healthy"),
            (False, "Healthy"),
            (True, "Healthy"),
            (False, "Healthy"),
        ]
        assert not cluster.events("flap", "DriftDetected")
        assert len(cluster.events("flap", "DriftPending")) == 2
        assert _condition(status, "Drifted")["status"] == "False"

        feed.next_run("flap", "income")
        steady = feed.next_run("flap", "income")
        assert steady["phase"] == "Drifted"
        assert steady["alerting"]["features"] == [{"name": "income", "runs": 2}]
        cluster.api.wait_for(lambda: cluster.events("flap", "DriftDetected"))
        cluster.api.wait_for(lambda: _gauge(reconciler, "driftwarden_dataset_drifted", "flap") == 1)


# ---------------------------------------------------------------- gauges and Events, pure


def test_gauges_follow_the_debounced_state_and_keep_the_raw_verdict():
    last = {"outcome": "Succeeded", "completionTime": "2026-01-01T03:00:00Z", "drifted": True}
    pending = gauges_from_status(
        {"lastRun": last, "alerting": {"state": "Healthy", "driftedRuns": 2, "cleanRuns": 0}}
    )
    assert (pending.dataset_drifted, pending.run_drifted, pending.drifted_runs) == (0.0, 1.0, 2.0)
    assert pending.drifting_since is None
    drifted = gauges_from_status(
        {
            "lastRun": {**last, "drifted": False},
            "alerting": {"state": "Drifted", "driftedRuns": 0, "cleanRuns": 1},
            "driftingSince": {
                "job": "j",
                "slot": "2026-01-01T01:00:00Z",
                "time": "2026-01-01T01:03:00Z",
            },
        },
        pending,
    )
    assert (drifted.dataset_drifted, drifted.run_drifted, drifted.clean_runs) == (1.0, 0.0, 1.0)
    assert drifted.drifting_since == 1767229380.0
    healthy = gauges_from_status(
        {"lastRun": {**last, "drifted": False}, "alerting": {"state": "Healthy", "cleanRuns": 2}},
        drifted,
    )
    assert healthy.dataset_drifted == 0.0 and healthy.drifting_since is None
    # A failed run keeps the verdict; a status from before debouncing has the run's verdict.
    failed = gauges_from_status({"lastRun": {"outcome": "Failed"}}, drifted)
    assert failed.dataset_drifted == 1.0 and failed.drifting_since == drifted.drifting_since
    assert gauges_from_status({"lastRun": last}).dataset_drifted == 1.0


def test_events_follow_the_debounced_state():
    def outcome(drifted: bool) -> RunOutcome:
        feature = FeatureResult("income", "numerical", "psi", 0.5 if drifted else 0.1, 0.2, drifted)
        count = 1 if drifted else 0
        return RunOutcome(
            "churn-1",
            SUCCEEDED,
            SUCCEEDED,
            "…",
            drifted=drifted,
            drift_share=count / 2,
            drifted_features=count,
            total_features=2,
            features=(feature,),
        )

    def reasons(settings, before, drifted):
        step = advance(settings, 0.5, before, outcome(drifted))
        return [(e.type, e.reason, e.message) for e in outcome_events(outcome(drifted), step)]

    defaults = AlertingSettings()
    # The defaults post exactly what they always did (and so does a call without a step).
    assert reasons(defaults, None, True) == [
        (e.type, e.reason, e.message) for e in outcome_events(outcome(True))
    ]
    assert reasons(defaults, None, True)[0][:2] == ("Warning", "DriftDetected")
    assert reasons(defaults, AlertState("Drifted", 1, 0), False)[0][:2] == ("Normal", "NoDrift")
    three = AlertingSettings(drift_after_runs=3, recover_after_runs=2)
    assert reasons(three, None, True) == [
        (
            "Normal",
            "DriftPending",
            "1/2 features drifted (share 0.50); drifted in 1 of 3 required runs "
            "(spec.alerting.driftAfterRuns)",
        )
    ]
    assert reasons(three, AlertState("Healthy", 2, 0), True)[0][:2] == ("Warning", "DriftDetected")
    assert reasons(three, AlertState("Drifted", 3, 0), False)[0][:2] == (
        "Normal",
        "RecoveryPending",
    )
    assert reasons(three, AlertState("Drifted", 0, 1), False)[0][:2] == ("Normal", "NoDrift")
    flapping = AlertingSettings(feature_drift_after_runs=2)
    (event,) = reasons(flapping, None, True)
    assert event[:2] == ("Normal", "DriftPending") and "featureDriftAfterRuns" in event[2]
