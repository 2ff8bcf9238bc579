"""Real analysis runs of one monitor, one per hourly slot, keeping their history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

START = datetime(2026, 11, 1, tzinfo=UTC)


def driftwarden(*args: Any, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command in a fresh interpreter, as the analysis Job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "driftwarden.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "DRIFTWARDEN_PROFILE_CACHE": "", **(env or {})},
        timeout=180,
    )


def write_data(path: Path | str, shift: float = 0.0, *, seed: int, n: int = 2000, filesystem=None):
    rng = np.random.default_rng(seed)
    table = pa.table(
        {
            "income": rng.normal(50 + 10 * shift, 10, n),
            "age": rng.normal(40, 12, n),
            # a shifted window also moves the plan mix: 2 of 3 features drift, the dataset too
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.7, 0.2, 0.1] if shift else None),
        }
    )
    if filesystem is None:
        pq.write_table(table, path)
    else:
        with filesystem.open_output_stream(str(path)) as sink:
            pq.write_table(table, sink)


def slot(i: int) -> datetime:
    return START + timedelta(hours=i)


def run_name(i: int) -> str:
    return f"churn-{slot(i):%Y%m%d%H%M}-{i:08x}"


def analyze_run(
    i: int,
    reference: str,
    current: str,
    output_base: str,
    *extra: str,
    env: dict[str, str] | None = None,
    retraining: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``i`` of monitor churn as its Job would: <base>/churn/<run>, <base>/churn/history."""
    run_env = {"DRIFTWARDEN_RUN": run_name(i), **(env or {})}
    if retraining is not None:
        run_env["DRIFTWARDEN_LAST_RETRAINING"] = json.dumps(retraining)
    return driftwarden(
        "analyze",
        "--reference",
        reference,
        "--current",
        current,
        "--window-end",
        f"{slot(i):%Y-%m-%dT%H:%M:%SZ}",
        "--output",
        f"{output_base}/churn/{run_name(i)}",
        "--history",
        f"{output_base}/churn/history",
        "--quiet",
        "--no-profile-cache",
        *extra,
        env=run_env,
    )


def local_monitor(tmp_path: Path, shifts: list[float | None]) -> Path:
    """Runs of a monitor on local files; a None shift is a run whose data is missing (fails).

    Run 2 (when there is one) finds that retraining ``churn-retrain-1`` was started
    by run 1. Returns the output base (``<base>/churn/...``).
    """
    data = tmp_path / "data"
    data.mkdir()
    write_data(data / "ref.parquet", seed=0)
    out = tmp_path / "out"
    retrain = {
        "job": "churn-retrain-1",
        "run": run_name(1),
        "time": f"{slot(1):%Y-%m-%dT%H:%M:%SZ}",
    }
    for i, shift in enumerate(shifts):
        current = data / f"cur-{i}.parquet"
        if shift is not None:
            write_data(current, shift, seed=i + 1)
        result = analyze_run(
            i,
            str(data / "ref.parquet"),
            str(current),
            str(out),
            "--summary-file",
            str(tmp_path / f"summary-{i}.json"),
            retraining=retrain if i >= 2 else None,
        )
        assert result.returncode == (0 if shift is not None else 3), result.stderr[-2000:]
    return out
