"""The 10^8-row benchmark (bench/huge.py) at a toy size: it runs end to end, checks what
it should (cached reference, row counts) and deletes its data; never how fast or lean."""

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
def test_huge_bench_small_run(tmp_path: Path) -> None:
    out = tmp_path / "huge.json"
    env = dict(os.environ, PYTHONPATH=str(OPERATOR))  # this checkout's driftwarden
    argv = ["--rows", "20000", "--huge-rows", "50000", "--repeat", "1", "--scan-huge"]
    argv += ["--workdir", str(tmp_path / "work"), "--json", str(out)]
    done = subprocess.run(
        [sys.executable, str(BENCH / "huge.py"), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["driftwarden"] == str(OPERATOR / "driftwarden" / "__init__.py")
    runs = {(m["workload"], m["rows"]) for m in results["measurements"]}
    assert runs == {("scan", 20000), ("analyze", 20000), ("analyze", 50000), ("scan", 50000)}
    assert all(m["cpu_seconds"] > 0 and m["max_rss_bytes"] > 0 for m in results["measurements"])
    assert results["data"]["50000"]["reference"] is None  # only current rows at the big size
    assert [t["met"] is not None for t in results["targets"]] == [True] * 4
    assert "| target | measured | status |" in done.stdout
    assert not (tmp_path / "work" / "data").exists()  # deleted without --keep-data
