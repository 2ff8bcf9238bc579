"""A performance drop alone, end to end: the real operator against the test API server, the
analysis Job really run by the kubelet stand-in on Parquet prediction and label logs in the
S3 server. Features and predictions keep their distribution while the delayed labels
disagree with the model far more often: the monitor is Drifted by its performance,
retraining starts (spec.model.performance.retrainOnDegradation) with the degraded metrics
in the Job's environment, and a monitor that switches that off starts nothing."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.controller.test_failures import _retraining_template
from tests.controller.test_prediction_drift import _condition, _retraining_jobs


def _put(fs, bucket: str, part: str, *, wrong: float, seed: int, first_id: int) -> None:
    """2,000 predictions under ``part`` and their labels, a ``wrong`` share of them disagreeing."""
    n = 2000
    rng = np.random.default_rng(seed)
    pred = rng.choice([0, 1], n, p=[0.7, 0.3])
    ids = np.arange(first_id, first_id + n)
    table = pa.table(
        {
            "request_id": ids,
            "income": rng.normal(50, 10, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "churn_predicted": pred,
        }
    )
    truth = np.where(rng.random(n) < wrong, 1 - pred, pred)
    with fs.open_output_stream(f"{bucket}/{part}/part-0.parquet") as sink:
        pq.write_table(table, sink)
    with fs.open_output_stream(f"{bucket}/outcomes/{part}.parquet") as sink:
        pq.write_table(pa.table({"request_id": ids, "churned": truth}), sink)


def test_a_performance_drop_alone_starts_retraining_unless_switched_off(cluster):
    fs = cluster.s3.filesystem()
    _put(fs, cluster.bucket, "perf-train", wrong=0.1, seed=21, first_id=0)
    _put(fs, cluster.bucket, "perf-live", wrong=0.35, seed=22, first_id=100_000)
    model = {
        "predictions": [{"column": "churn_predicted", "kind": "label"}],
        "idColumn": "request_id",
        "labels": {"path": f"s3://{cluster.bucket}/outcomes/", "labelColumn": "churned"},
        "performance": {},
    }
    common = {
        "current": "perf-live",
        "reference": {"path": f"s3://{cluster.bucket}/perf-train/"},
        "retraining": {"cooldown": "1h", "jobTemplate": _retraining_template()},
    }
    with cluster.operator(allowed_images=("trainer:*",)):
        cluster.monitor("churn-perf", model=model, **common)
        cluster.monitor(
            "churn-perf-quiet",
            model={**model, "performance": {"retrainOnDegradation": False}},
            **common,
        )
        status = cluster.wait_status("churn-perf", lambda s: s.get("lastRun"), timeout=90)

        # Neither the features nor the predictions moved ...
        assert status["lastRun"]["drifted"] is False
        assert status["model"]["predictions"]["drifted"] is False
        # ... but the model got worse, and that is the monitor's state.
        performance = status["model"]["performance"]
        assert performance["degraded"] is True, performance
        assert performance["degradedMetrics"] == ["accuracy"]
        assert performance["state"] == "Degraded"
        assert status["phase"] == "Drifted"
        condition = _condition(status, "PerformanceDegraded")
        assert (condition["status"], condition["reason"]) == ("True", "PerformanceDropped")

        # Retraining starts from the performance drop alone, and says so.
        cluster.api.wait_for(lambda: len(_retraining_jobs(cluster, "churn-perf")) == 1)
        (job,) = _retraining_jobs(cluster, "churn-perf")
        env = {
            e["name"]: e.get("value")
            for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["DRIFTWARDEN_DEGRADED_METRICS"] == "accuracy"
        assert env["DRIFTWARDEN_DRIFTED_FEATURE_COUNT"] == "0"
        assert env["DRIFTWARDEN_DRIFTED_PREDICTIONS"] == ""
        status = cluster.wait_status(
            "churn-perf",
            lambda s: (_condition(s, "RetrainingTriggered") or {}).get("status") == "True",
        )
        assert status["lastRetraining"]["reason"] == "PerformanceDegraded"
        assert "performance degraded" in status["lastRetraining"]["message"]

        # The same drop with retrainOnDegradation: false is reported, never retrained on.
        quiet = cluster.wait_status("churn-perf-quiet", lambda s: s.get("lastRun"), timeout=90)
        assert quiet["model"]["performance"]["degraded"] is True
        assert quiet["phase"] == "Drifted"
        trigger = _condition(quiet, "RetrainingTriggered")
        assert (trigger["status"], trigger["reason"]) == ("False", "NotDrifted")
        cluster.api.wait_for(lambda: cluster.events("churn-perf-quiet", "PerformanceDegraded"))
        assert _retraining_jobs(cluster, "churn-perf-quiet") == []
