"""driftwarden.analysis.workers: how many threads, and that they change no result."""

from __future__ import annotations

import json
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.analysis import workers
from driftwarden.errors import ConfigError

from ..cli.test_analyze_cli import driftwarden


@pytest.mark.parametrize(
    ("cpu_max", "v1", "limit"),
    [
        ("max 100000\n", (None, None), None),  # v2, no limit
        ("100000 100000\n", (None, None), 1),  # a pod limited to 1 CPU
        ("150000 100000\n", (None, None), 2),  # 1.5 CPUs: two threads may run
        ("50000 100000\n", (None, None), 1),  # half a CPU still runs one
        (None, ("-1\n", "100000\n"), None),  # v1, no limit
        (None, ("300000\n", "100000\n"), 3),
        (None, (None, None), None),  # no cgroup files
        ("garbage", (None, None), None),
    ],
)
def test_cgroup_cpu_limit_rounds_the_quota_up_to_whole_cpus(cpu_max, v1, limit):
    assert workers.cgroup_cpu_limit(cpu_max, *v1) == limit


def test_thread_count_takes_the_environment_and_refuses_nonsense(monkeypatch):
    monkeypatch.setenv("DRIFTWARDEN_THREADS", "3")
    assert workers.thread_count() == 3
    monkeypatch.setenv("DRIFTWARDEN_THREADS", "0")
    with pytest.raises(ConfigError, match="DRIFTWARDEN_THREADS='0': use a whole number"):
        workers.thread_count()
    monkeypatch.delenv("DRIFTWARDEN_THREADS")
    assert 1 <= workers.thread_count() <= min(workers.usable_cpus(), workers.MAX_THREADS)


def test_map_ordered_keeps_the_order_and_uses_the_threads():
    seen: set[str] = set()
    barrier = threading.Barrier(3, timeout=30)

    def work(item: int) -> int:
        name = threading.current_thread().name
        if name not in seen:
            seen.add(name)
            if len(seen) <= 3:
                barrier.wait()  # three threads at once, or a BrokenBarrierError
        return item * item

    items = list(range(101))
    assert workers.map_ordered(work, items, threads=3) == [k * k for k in items]
    assert len(seen) == 3


def test_map_ordered_raises_the_first_error_of_an_item():
    def work(item: int) -> int:
        if item == 7:
            raise ValueError("item 7")
        return item

    with pytest.raises(ValueError, match="item 7"):
        workers.map_ordered(work, list(range(20)), threads=2)


def _without_timing(report: dict) -> dict:
    report = dict(report)
    for key in ("generatedAt", "durationSeconds"):
        report.pop(key)
    return report


def test_reports_are_identical_whatever_the_number_of_threads(tmp_path):
    # 30 numerical features of 6,000 rows, samples of 1,000 (not exact: the sampling
    # error bounds too), a few drifted, one side of one feature all null.
    rng = np.random.default_rng(16)

    def write(name: str, shift: float) -> str:
        columns = {
            f"f{k:02d}": rng.normal(shift * (k % 4 == 0), 1 + k % 3, 6_000) for k in range(30)
        }
        columns["f05"] = np.round(columns["f05"])  # ties
        table = pa.table(columns).append_column("c", pa.array(rng.choice(["a", "b"], 6_000)))
        if shift:
            table = table.set_column(1, "f01", pa.nulls(6_000, pa.float64()))
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path)
        return str(path)

    reference, current = write("ref", 0.0), write("cur", 1.0)
    config = tmp_path / "monitor.yaml"
    config.write_text("profile:\n  sampleSize: 1000\n")
    reports = []
    for threads in ("1", "3"):
        out = tmp_path / f"out{threads}"
        result = driftwarden(
            "analyze",
            "--reference",
            reference,
            "--current",
            current,
            "--config",
            config,
            "--output",
            out,
            "--no-profile-cache",
            env={"DRIFTWARDEN_THREADS": threads},
        )
        assert result.returncode == 0, result.stderr
        reports.append(_without_timing(json.loads((out / "report.json").read_text())))
    features = reports[0]["features"]
    assert sum(f["drifted"] for f in features) >= 8
    assert all(
        f["errorBound"]["wasserstein"] > 0
        for f in features
        if f["name"][0] == "f" and f["name"] != "f01"
    )
    assert json.dumps(reports[0]) == json.dumps(reports[1])


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_thread_count_exits_2_before_any_data_is_read(tmp_path, value):
    # The data does not exist: the error must be the setting's, found at start-up,
    # not after a scan (or, here, instead of the missing data's).
    missing = tmp_path / "nowhere.parquet"
    result = driftwarden(
        "analyze", "--reference", missing, "--current", missing, "--output", tmp_path / "out",
        env={"DRIFTWARDEN_THREADS": value},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"DRIFTWARDEN_THREADS={value!r}" in last and "nowhere" not in last, last


def test_never_more_threads_than_items(monkeypatch):
    made = []

    class Counted(threading.Thread):
        def __init__(self, *args, **kwargs):
            made.append(kwargs.get("name"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(workers.threading, "Thread", Counted)
    assert workers.map_ordered(lambda item: item * 2, [1, 2, 3], threads=1000) == [2, 4, 6]
    assert len(made) == 3
