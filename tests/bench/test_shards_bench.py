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
    projected = results["projection"]
    if projected["wallSeconds"] is None:  # a toy size under load: start-up's noise wins
        assert "too few to project" in projected["reason"]
    else:
        assert projected["wallSeconds"] == projected["podSeconds"] + projected["merge100Seconds"]
        assert projected["podSeconds"] > 0 and projected["merge100Seconds"] > 0
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


def _measured(profile_cpu: float, shard_cpu: float) -> dict:
    """The parts of a run's results that :func:`shards.projection` reads."""
    workloads = {
        "startup": {"cpuMedian": 0.5},
        "profile": {"cpuMedian": profile_cpu},
        "shard": {"cpuMedian": shard_cpu},
        "manyMerge": {"wallMedian": 4.0},
    }
    return {
        "summary": {"workloads": workloads},
        "many": {"deal": {"dealMedianSeconds": 0.25}},
        "data": {"current": {"bytesOnDisk": 10**9}},
    }


def test_projection_scales_the_rows_cpu_time_to_a_pod_of_10_8_rows() -> None:
    sys.path.insert(0, str(BENCH))
    import shards

    # 10^6 rows: 2.5 s of CPU beyond start-up in one pass, 0.625 s in each of 4 shards.
    projected = shards.projection(_measured(3.0, 1.125), rows=10**6, shards=4)
    assert projected["podSeconds"] == pytest.approx(0.5 + 2.5e-6 * 10**8 + 0.25)
    assert projected["wallSeconds"] == pytest.approx(projected["podSeconds"] + 4.0)
    assert projected["linearity"] == pytest.approx(1.0)
    assert projected["podBytes"] == pytest.approx(10**9 * 100)


def test_projection_refuses_a_run_whose_rows_cost_less_than_start_up() -> None:
    sys.path.insert(0, str(BENCH))
    import shards

    projected = shards.projection(_measured(0.4, 0.6), rows=60_000, shards=3)
    assert projected["wallSeconds"] is None
    assert "60,000 rows" in projected["reason"]
