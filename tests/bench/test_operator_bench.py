"""The operator-at-scale benchmark (bench/operator_scale.py): its accounting, and a small run.

The small run keeps the harness from rotting: it checks that every phase produced
its figures and that the counts add up, never how fast anything was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftwarden.report.summary import parse_summary

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from operator_cluster import SUMMARY_MESSAGE, Slot, monitor_names  # noqa: E402
from operator_measure import (  # noqa: E402
    CATEGORIES,
    endpoint,
    latency_summary,
    percentile,
    requests_in_window,
)
from operator_report import BEGIN, END, splice  # noqa: E402


@dataclass
class Record:
    method: str
    plural: str | None = "jobs"
    name: str | None = None
    subresource: str | None = None
    time: float = 10.0
    user_agent: str = "kopf/1"
    watch: bool = False

    @property
    def is_watch(self) -> bool:
        return self.watch


def test_requests_are_counted_by_kind_and_the_target_leaves_out_creates_and_status_patches():
    records = [
        Record("GET"),  # LIST jobs
        Record("GET", "driftmonitors", name="m"),
        Record("GET", watch=True),
        Record("PATCH", "driftmonitors", name="m", subresource="status"),
        Record("POST", "events"),
        Record("PATCH", "driftmonitors", name="m"),
        Record("DELETE", name="j"),
        Record("GET", time=20.0),  # after the window
        Record("GET", user_agent="driftwarden-bench"),  # the benchmark's own
    ]
    found = requests_in_window(records, 9.0, 11.0, "driftwarden-bench")
    assert found["counts"] == {
        "reads": 2,
        "watches": 1,
        "statusPatches": 1,
        "creates": 1,
        "otherWrites": 2,
    }
    assert found["total"] == 7
    assert found["targetRate"] == pytest.approx(5 / 2)
    assert found["byEndpoint"]["LIST jobs"] == 1
    assert found["byEndpoint"]["GET driftmonitors"] == 1
    assert found["byEndpoint"]["WATCH jobs"] == 1
    assert endpoint(Record("PATCH", "driftmonitors", "m", "status")) == "PATCH driftmonitors/status"


def test_percentiles_are_nearest_rank_and_unrecorded_jobs_count_as_missing():
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    summary = latency_summary(
        {"a": 1.0, "b": 2.0, "c": 3.0}, {"a": (1.5, "Succeeded"), "b": (4.0, "Failed")}
    )
    assert (summary["finished"], summary["recorded"], summary["missing"]) == (3, 2, 1)
    assert summary["outcomes"] == {"Succeeded": 1, "Failed": 1}
    assert summary["p99Seconds"] == 2.0


def test_the_stand_in_summary_is_one_the_operator_accepts():
    assert parse_summary(SUMMARY_MESSAGE)["drifted"] is False


def test_seeded_schedule_has_no_slot_due_for_23_hours():
    from datetime import UTC, datetime

    from croniter import croniter

    now = datetime(2026, 12, 5, 0, 30, 15, tzinfo=UTC)
    slot = Slot.an_hour_ago(now)
    assert slot.iso == "2026-12-04T23:30:00Z"
    assert croniter(slot.cron, now).get_prev(datetime) == slot.last
    assert (croniter(slot.cron, now).get_next(datetime) - now).total_seconds() > 22 * 3600
    assert {ns for ns, _ in monitor_names(7, ["a", "b", "c"])} == {"a", "b", "c"}


def test_splice_replaces_only_the_marked_section():
    text = f"# Results\n\nabove\n\n{BEGIN}\nold\n{END}\n\nbelow\n"
    new = splice(text, f"{BEGIN}\nnew\n{END}")
    assert "old" not in new and "new" in new and "above" in new and "below" in new
    assert splice("# Results\n", f"{BEGIN}\nx\n{END}").endswith(f"{END}\n")


@pytest.mark.slow
def test_a_small_run_measures_every_phase(tmp_path):
    results_path = tmp_path / "results.json"
    monitors, latency_jobs, unrelated = 20, 5, 50
    process = subprocess.run(
        [
            sys.executable,
            str(BENCH / "operator_scale.py"),
            "--monitors", str(monitors), "--namespaces", "3",
            "--unrelated-jobs", str(unrelated), "--latency-jobs", str(latency_jobs),
            "--burst-jobs", str(latency_jobs),
            "--window", "3", "--idle-window", "2", "--jobs-window", "2",
            "--settle", "0.5", "--quiet", "1", "--tick", "1",
            "--reconcile-timeout", "120", "--latency-timeout", "120",
            "--workdir", str(tmp_path / "work"),
            "--json", str(results_path), "--no-markdown",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads(results_path.read_text())
    assert "error" not in results and not results.get("fixtureErrors")
    assert results["operator"]["package"].endswith("driftwarden")
    phases = results["phases"]
    for name in ("idle", "monitors", "monitorsAndJobs"):
        rss, requests = phases[name]["rss"], phases[name]["requests"]
        assert rss["samples"] > 0 and 0 < rss["rssMedianBytes"] <= rss["hwmBytes"]
        assert set(requests["counts"]) == set(CATEGORIES)
        assert sum(requests["counts"].values()) == requests["total"]
        assert sum(requests["byEndpoint"].values()) == requests["total"]
    assert phases["monitors"]["reconciled"] == monitors
    # No count is asserted: an operator fed by watches rightly makes no request at steady state.
    for name in ("latency", "burst"):
        latency = phases[name]
        assert latency["finished"] == latency["recorded"] == latency_jobs
        # Counts only: whether each was read right is the operator's tests' business.
        assert sum(latency["outcomes"].values()) == latency_jobs
        assert 0 <= latency["p50Seconds"] <= latency["p99Seconds"]
        assert latency["recordingPatchP50Seconds"] is not None  # the recording write was found
        assert None not in latency["secondsInFinishOrder"]
        assert latency["fixture"]["samples"] > 0
    assert phases["monitors"]["fixture"]["samples"] > 0
    assert [t["value"] is not None for t in results["targets"]] == [True] * 5
