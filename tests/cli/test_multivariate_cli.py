"""``driftwarden analyze --config`` with spec.model.multivariate: a correlation-only drift
fails the run with --fail-on-drift, and the table, report and summary say it was joint."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from driftwarden.report import parse_summary
from tests.cli.test_analyze_cli import driftwarden


def _write(path, rng, rho: float) -> None:
    n = 20_000
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho * rho) * rng.normal(size=n)
    pq.write_table(pa.table({"temperature": x, "pressure": y}), path)


def test_a_joint_drift_fails_the_run_and_names_the_detector(tmp_path):
    rng = np.random.default_rng(41)
    _write(tmp_path / "ref.parquet", rng, 0.9)
    _write(tmp_path / "cur.parquet", rng, -0.9)
    config = tmp_path / "monitor.yaml"
    spec = {
        "interval": "1h",
        "reference": {"path": str(tmp_path / "ref.parquet")},
        "current": {"path": str(tmp_path / "cur.parquet")},
        "model": {"multivariate": {"features": ["temperature", "pressure"], "sampleRows": 2000}},
    }
    config.write_text(yaml.safe_dump({"spec": spec}))  # a bare spec is a valid --config
    out, summary_file = tmp_path / "out", tmp_path / "summary.json"
    result = driftwarden(
        "analyze",
        "--config",
        config,
        "--output",
        out,
        "--no-profile-cache",
        "--summary-file",
        summary_file,
        "--fail-on-drift",
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("DRIFT DETECTED: 0/2 features drifted")
    assert "JOINT DRIFT (multivariate, temperature, pressure): KS p-value" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["driftedBy"] == ["multivariate"]
    assert report["multivariate"]["rows"]["reference"] == 2000
    assert 'id="multivariate"' in (out / "report.html").read_text()
    summary = parse_summary(summary_file.read_text())
    assert summary["drifted"] is True and summary["multivariate"]["drifted"] is True
