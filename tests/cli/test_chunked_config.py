"""A spec too long for one environment variable runs: the analysis Job's env, as a process gets it.

The Job is built by the operator's own ``analysis_job``; its container runs here as
the kubelet stand-in runs it (tests/controller/kubelet.py): this interpreter's
``driftwarden``, the Job's ``args`` with the termination-message path remapped, and
the Job's ``env`` values over the test's environment. Linux itself checks the
variables at ``execve``, so a chunk over MAX_ARG_STRLEN would fail here as on a node.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.monitor.job import CONFIG_ENV, TERMINATION_LOG, analysis_job, monitor_config
from driftwarden.monitor.spec import parse_monitor
from driftwarden.report import load_report, parse_summary

SLOT = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
ROWS = 300
# Long names of 4-byte UTF-8 characters, the costliest a column name can be.
NUMERICAL = [f"n{i:03d}" + "\U0001f600" * 120 for i in range(300)]
CATEGORICAL = [f"c{i:03d}" + "\U0001f600" * 120 for i in range(40)]  # integer-coded


def write_data(path: Path, shift: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {name: rng.normal(shift, 1, ROWS) for name in NUMERICAL}
    columns.update({name: rng.integers(0, 5, ROWS) for name in CATEGORICAL})
    pq.write_table(pa.table(columns), path)
    return path


def job_process_env(job: dict[str, Any]) -> dict[str, str]:
    """What the kubelet stand-in hands the container: the Job's env values over ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["DRIFTWARDEN_PROFILE_CACHE"] = ""
    for item in job["spec"]["template"]["spec"]["containers"][0]["env"]:
        env[item["name"]] = item["value"]
    return env


@pytest.fixture
def wide_monitor(tmp_path):
    reference = write_data(tmp_path / "reference.parquet", 0.0, 1)
    current = write_data(tmp_path / "current.parquet", 1.0, 2)
    return parse_monitor(
        {
            "apiVersion": "driftwarden.io/v1alpha1",
            "kind": "DriftMonitor",
            "metadata": {"name": "wide", "namespace": "ml", "uid": "0f6c5a2e-1d1b-4e6c-9e9e-1"},
            "spec": {
                "interval": "1h",
                "reference": {"path": str(reference)},
                "current": {"path": str(current)},
                "features": {"include": NUMERICAL + CATEGORICAL, "categorical": CATEGORICAL},
                "detection": {
                    "overrides": [
                        {"feature": name, "method": "ks", "threshold": 0.01}
                        for name in NUMERICAL[:200]
                    ]
                },
                "output": {"path": str(tmp_path / "reports")},
            },
        }
    )


def test_a_multi_chunk_config_runs_end_to_end_from_the_jobs_env(tmp_path, wide_monitor):
    job = analysis_job(wide_monitor, SLOT, "ghcr.io/driftwarden/driftwarden:test")
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = job_process_env(job)
    assert int(env[f"{CONFIG_ENV}_CHUNKS"]) >= 3  # ~290 KB of config
    summary_file = tmp_path / "termination-log"
    args = [str(summary_file) if a == TERMINATION_LOG else a for a in container["args"]]
    result = subprocess.run(
        [sys.executable, "-m", "driftwarden.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = parse_summary(summary_file.read_text())
    assert summary["totalFeatures"] == len(NUMERICAL) + len(CATEGORICAL)
    output = tmp_path / "reports" / "wide" / job["metadata"]["name"]
    report = load_report((output / "report.json").read_text())
    features = {f["name"]: f for f in report["features"]}
    # The whole spec arrived: the last override, the last categorical column, the monitor.
    assert features[NUMERICAL[199]]["method"] == "ks"
    assert features[NUMERICAL[199]]["threshold"] == 0.01
    assert features[NUMERICAL[200]]["method"] == "wasserstein"
    assert features[CATEGORICAL[-1]]["kind"] == "categorical"
    assert report["monitor"] == {"name": "wide", "namespace": "ml"}


def test_the_same_config_in_one_variable_cannot_start_a_process(wide_monitor):
    # What chunking avoids: Linux refuses the exec (E2BIG) of a variable over 128 KiB.
    single = {**os.environ, CONFIG_ENV: monitor_config(wide_monitor)}
    assert len(single[CONFIG_ENV].encode()) > 128 * 1024
    with pytest.raises(OSError) as refused:
        subprocess.run([sys.executable, "-c", "pass"], env=single, check=False)
    assert refused.value.errno == errno.E2BIG


def test_analyze_names_the_missing_chunk(tmp_path, wide_monitor):
    job = analysis_job(wide_monitor, SLOT, "ghcr.io/driftwarden/driftwarden:test")
    env = job_process_env(job)
    del env[f"{CONFIG_ENV}_1"]
    result = subprocess.run(
        [sys.executable, "-m", "driftwarden.cli.main", "analyze", "--config-env", CONFIG_ENV],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"{CONFIG_ENV}_1 is not set or empty" in result.stderr
    assert json.dumps(NUMERICAL[0], ensure_ascii=False) not in result.stderr  # no spec dump
