"""The sliding-window benchmark (bench/incremental.py) at a toy size: it runs end to end,
its steady runs scan one file each and equal the full scans; never how fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
OPERATOR = BENCH.parent / "operator"


@pytest.mark.slow
def test_incremental_bench_small_run(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(OPERATOR))  # this checkout's driftwarden
    argv = ["--window-files", "6", "--rows-per-file", "500", "--steady", "5", "--checks", "1"]
    done = subprocess.run(
        [sys.executable, str(BENCH / "incremental.py"), *argv, "--workdir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("\n{\n") :])
    assert summary["equalToFullScan"] and not summary["mismatches"]
    assert summary["steadyScanned"] == [1]
    assert summary["runs"]["steady"]["count"] == 5
    assert summary["runs"]["full"]["count"] == 2 and summary["runs"]["uncached"]["count"] == 1
    assert set(summary["ratios"]["uncached"]) == {"wall", "cpu", "duration"}
