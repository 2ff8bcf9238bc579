"""The sharding benchmark (bench/shards.py) at a toy size: it runs end to end, the merged
report is the single pass's, the ratios and the projection are there, the data is gone;
never how fast."""

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
def test_shards_bench_small_run(tmp_path: Path) -> None:
    out = tmp_path / "shards.json"
    env = dict(os.environ, PYTHONPATH=str(OPERATOR))  # this checkout's driftwarden
    argv = ["--rows", "60000", "--files", "6", "--reference-rows", "20000", "--shards", "3"]
    argv += ["--repeat", "1", "--merge-repeat", "2", "--many", "4", "--many-rows", "8000"]
    argv += ["--deal-files", "50", "--workdir", str(tmp_path / "work"), "--json", str(out)]
    done = subprocess.run(
        [sys.executable, str(BENCH / "shards.py"), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    runs = [(m["workload"], m.get("shard")) for m in results["measurements"]]
    assert runs.count(("shard", 0)) == runs.count(("shard", 2)) == 1
    assert {"startup", "analyze", "profile", "merge", "mergeWork", "manyMerge"} <= {
        workload for workload, _ in runs
    }
    assert all(m["cpuSeconds"] > 0 and m["maxRssBytes"] > 0 for m in results["measurements"])
    # 60,000 rows: more than a column's sample (32,768), so the histograms of the single
    # pass are exact counts the shards only match on the reference's edges.
    [identity] = results["identity"]
    assert identity["mergedVsSinglePass"] == {
        "identical": True,
        "differingFields": [],
        "differingValues": 0,
        "sameVerdictsAndScores": True,
    }
    assert identity["mergedVsOneShardProfile"]["identical"]
    assert identity["mergedProfileBytesIdentical"] is True
    summary = results["summary"]
    for ratio in ("shardsOverProfile", "shardsOverAnalyze", "shardsAndMergeOverAnalyze"):
        assert summary[ratio] > 0
    assert summary["mergeSecondsMedian"] > 0
    assert results["many"]["mergeWork"]["profiles"] == 4
    assert results["many"]["mergeWork"]["rows"] == 8000
    assert results["projection"]["podRows"] == 10**8
    assert results["projection"]["wallSeconds"] > results["projection"]["merge100Seconds"]
    assert [t["met"] for t in results["targets"]][:2] == [True, True]
    assert "| target | measured | met |" in done.stdout
    assert not (tmp_path / "work" / "data").exists()  # deleted without --keep-data


@pytest.mark.slow
def test_shards_bench_without_edges_reports_the_histogram_fields(tmp_path: Path) -> None:
    """``--no-edges``: the shards estimate histograms from samples; the benchmark says
    exactly which fields then differ from the single pass, and nothing else."""
    out = tmp_path / "shards.json"
    env = dict(os.environ, PYTHONPATH=str(OPERATOR))
    argv = ["--rows", "60000", "--files", "4", "--reference-rows", "20000", "--shards", "2"]
    argv += ["--repeat", "1", "--merge-repeat", "1", "--many", "2", "--many-rows", "4000"]
    argv += ["--deal-files", "10", "--no-edges", "--workdir", str(tmp_path / "work")]
    done = subprocess.run(
        [sys.executable, str(BENCH / "shards.py"), *argv, "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [identity] = json.loads(out.read_text())["identity"]
    single = identity["mergedVsSinglePass"]
    assert not single["identical"] and single["sameVerdictsAndScores"]
    assert "features[*].scores.psi" in single["differingFields"]
    assert all(
        field.startswith(("features[*].scores.", "features[*].distribution.current"))
        for field in single["differingFields"]
    )
    assert identity["mergedVsOneShardProfile"]["identical"]
