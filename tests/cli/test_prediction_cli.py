"""``driftwarden analyze --config`` with spec.model: the table and the summary carry the
prediction verdict, apart from the features'."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftwarden.report import parse_summary
from tests.cli.test_analyze_cli import driftwarden


def _write(path, rng, shift: float) -> None:
    n = 3000
    pq.write_table(
        pa.table({"x": rng.normal(0, 1, n), "score": np.clip(rng.beta(2, 6, n) + shift, 0, 1)}),
        path,
    )


def test_analyze_reports_prediction_drift_apart_from_the_features(tmp_path):
    rng = np.random.default_rng(31)
    _write(tmp_path / "ref.parquet", rng, 0.0)
    _write(tmp_path / "cur.parquet", rng, 0.3)
    config = tmp_path / "monitor.yaml"
    config.write_text(f"""
apiVersion: driftwarden.io/v1alpha1
kind: DriftMonitor
metadata: {{name: churn, namespace: ml}}
spec:
  interval: 1h
  reference: {{path: {tmp_path / "ref.parquet"}}}
  current: {{path: {tmp_path / "cur.parquet"}}}
  model:
    predictions: [{{column: score, kind: score, method: psi, threshold: 0.1}}]
""")
    out = tmp_path / "out"
    summary_file = tmp_path / "summary.json"
    result = driftwarden(
        "analyze",
        "--config",
        config,
        "--output",
        out,
        "--no-profile-cache",
        "--summary-file",
        summary_file,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("no dataset drift: 0/1 features drifted")
    assert "PREDICTION DRIFT: 1/1 prediction and target columns drifted" in result.stdout
    (row,) = [
        line for line in result.stdout.splitlines() if line.split()[:2] == ["score", "prediction"]
    ]
    assert row.rstrip().endswith("YES")
    report = json.loads((out / "report.json").read_text())
    assert [c["name"] for c in report["predictions"]["columns"]] == ["score"]
    summary = parse_summary(summary_file.read_text())
    assert summary["predictions"]["drifted"] is True
    assert summary["predictions"]["columns"][0]["name"] == "score"
