"""Root cause end to end: the real operator against the test API server, the analysis Job
run by the kubelet stand-in on Parquet files in the S3 server. The model's score rests on
``tenure``, which moves a little, never on ``income``, which moves a lot: the status names
tenure as the top cause, in status.model.rootCause and in the run's message."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def _put(fs, path: str, *, tenure_shift: float, income_shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 4000
    tenure = rng.normal(24 + tenure_shift, 8, n)
    table = pa.table(
        {
            "income": rng.normal(50 + income_shift, 10, n),
            "tenure": tenure,
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "churn_score": 1 / (1 + np.exp((tenure - 24) / 4)),
        }
    )
    with fs.open_output_stream(path) as sink:
        pq.write_table(table, sink)


def test_status_names_the_top_cause(cluster):
    fs = cluster.s3.filesystem()
    _put(fs, f"{cluster.bucket}/rc-train/part-0.parquet", tenure_shift=0, income_shift=0, seed=1)
    _put(fs, f"{cluster.bucket}/rc-live/part-0.parquet", tenure_shift=4, income_shift=30, seed=2)
    with cluster.operator():
        cluster.monitor(
            "churn-cause",
            current="rc-live",
            reference={"path": f"s3://{cluster.bucket}/rc-train/"},
            model={"predictions": [{"column": "churn_score", "kind": "score"}]},
        )
        status = cluster.wait_status("churn-cause", lambda s: s.get("lastRun"), timeout=90)
        events = cluster.api.wait_for(
            lambda: cluster.events("churn-cause", "PredictionDriftDetected")
        )
    assert status["lastRun"]["outcome"] == "Succeeded", status["lastRun"]
    cause = status["model"]["rootCause"]
    assert cause["triggered"] is True
    assert cause["causes"][0]["feature"] == "tenure"
    assert cause["summary"].startswith("top cause: tenure (")
    assert cause["summary"] in status["lastRun"]["message"]
    # The Event on-call gets says it too.
    assert "top cause: tenure (" in events[0]["message"]
    # income drifted far more, and ranks below: it carries no weight for the score.
    assert {f["name"]: f["drifted"] for f in status["features"]}["income"] is True
