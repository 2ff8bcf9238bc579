"""Prediction drift alone, end to end: the real operator against the test API server, the
analysis Job really run by the kubelet stand-in on Parquet files in the S3 server. The
features stay unchanged while the model's score moves: the monitor is Drifted by its
predictions, retraining starts (spec.model.retrainOnPredictionDrift), and a monitor that
switches that off reports the same drift but starts nothing."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client import generate_latest

from tests.controller.conftest import NAMESPACE
from tests.controller.test_failures import _retraining_template


def _put(fs, path: str, *, score_shift: float, seed: int, n: int = 2000) -> None:
    rng = np.random.default_rng(seed)
    score = np.clip(rng.beta(2, 6, n) + score_shift, 0, 1)
    table = pa.table(
        {
            "income": rng.normal(50, 10, n),
            "tenure": rng.gamma(2.0, 10.0, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "churn_score": score,
        }
    )
    with fs.open_output_stream(path) as sink:
        pq.write_table(table, sink)


def _condition(status, kind):
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def _gauge(reconciler, line_prefix: str) -> float | None:
    for line in generate_latest(reconciler.metrics.registry).decode().splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def _retraining_jobs(cluster, monitor: str) -> list[dict]:
    return [
        job
        for job in cluster.jobs("retraining")
        if job["metadata"]["labels"].get("driftwarden.io/monitor") == monitor
    ]


def test_prediction_drift_alone_makes_the_monitor_drifted_and_starts_retraining(cluster):
    fs = cluster.s3.filesystem()
    _put(fs, f"{cluster.bucket}/model-train/part-0.parquet", score_shift=0, seed=11)
    _put(fs, f"{cluster.bucket}/model-live/part-0.parquet", score_shift=0.3, seed=12)
    model = {"predictions": [{"column": "churn_score", "kind": "score"}]}
    common = {
        "current": "model-live",
        "reference": {"path": f"s3://{cluster.bucket}/model-train/"},
        "retraining": {"cooldown": "1h", "jobTemplate": _retraining_template()},
    }
    with cluster.operator(allowed_images=("trainer:*",)) as reconciler:
        cluster.monitor("churn-model", model=model, **common)
        cluster.monitor("churn-quiet", model={**model, "retrainOnPredictionDrift": False}, **common)
        status = cluster.wait_status("churn-model", lambda s: s.get("lastRun"), timeout=90)

        # The features did not move: the run's own feature verdict is no drift ...
        assert status["lastRun"]["drifted"] is False
        assert status["lastRun"]["driftedFeatures"] == 0
        assert {f["name"] for f in status["features"]} == {"income", "tenure", "plan"}
        assert _condition(status, "Drifted")["status"] == "False"
        # ... but the model's output did, and that is the monitor's state.
        predictions = status["model"]["predictions"]
        assert predictions["drifted"] is True
        assert predictions.get("targetDrifted") is None  # not compared: removed from the status
        (column,) = predictions["columns"]
        assert (column["name"], column["role"], column["drifted"]) == (
            "churn_score",
            "prediction",
            True,
        )
        assert status["phase"] == "Drifted"
        condition = _condition(status, "PredictionDrifted")
        assert (condition["status"], condition["reason"]) == ("True", "PredictionDriftDetected")
        assert "churn_score" in condition["message"]
        assert "prediction drift: churn_score" in status["lastRun"]["message"]

        # Retraining starts from the prediction drift alone, and says so.
        cluster.api.wait_for(lambda: len(_retraining_jobs(cluster, "churn-model")) == 1)
        (job,) = _retraining_jobs(cluster, "churn-model")
        env = {
            e["name"]: e.get("value")
            for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["DRIFTWARDEN_DRIFTED_PREDICTIONS"] == "churn_score"
        assert env["DRIFTWARDEN_DRIFTED_FEATURE_COUNT"] == "0"
        status = cluster.wait_status(
            "churn-model",
            lambda s: (_condition(s, "RetrainingTriggered") or {}).get("status") == "True",
        )
        assert status["lastRetraining"]["reason"] == "PredictionDriftDetected"
        cluster.api.wait_for(lambda: cluster.events("churn-model", "PredictionDriftDetected"))
        labels = f'namespace="{NAMESPACE}"'
        cluster.api.wait_for(
            lambda: (
                _gauge(
                    reconciler, f'driftwarden_prediction_drifted{{monitor="churn-model",{labels}}}'
                )
                == 1
            )
        )
        assert _gauge(reconciler, "driftwarden_prediction_drift_score{") is not None

        # The same drift with retrainOnPredictionDrift: false is reported, never retrained on.
        quiet = cluster.wait_status("churn-quiet", lambda s: s.get("lastRun"), timeout=90)
        assert quiet["model"]["predictions"]["drifted"] is True
        assert quiet["phase"] == "Drifted"
        trigger = _condition(quiet, "RetrainingTriggered")
        assert (trigger["status"], trigger["reason"]) == ("False", "NotDrifted")
        cluster.api.wait_for(lambda: cluster.events("churn-quiet", "PredictionDriftDetected"))
        assert _retraining_jobs(cluster, "churn-quiet") == []
