"""Sliding windows through the window cache: every run equals a full, uncached scan."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.profile import loads_profile

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ROWS = 400  # per hourly file; 8 files overflow the 1,000-value samples


def hourly_file(directory: Path, hour: int, rows: int = ROWS, **kwargs) -> Path:
    """One hour of logs: timestamps inside [T0 + hour, T0 + hour + 1h), drifting slowly."""
    rng = np.random.default_rng(hour + 1000)
    seconds = np.sort(rng.integers(0, 3600, rows))
    ts = [T0 + timedelta(hours=hour, seconds=int(s)) for s in seconds]
    income = rng.lognormal(10 + hour / 50, 0.5, rows)
    table = pa.table(
        {
            "ts": pa.array(ts, pa.timestamp("us", "UTC")),
            "income": income,
            "age": pa.array(rng.integers(18, 90, rows), mask=rng.random(rows) < 0.05),
            "plan": rng.choice(["free", "pro", "team", f"promo-{hour % 5}"], rows),
        }
    )
    path = directory / f"h-{hour:03d}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **kwargs)
    return path


def make_data(tmp_path: Path, hours: int) -> tuple[Path, Path]:
    reference, current = tmp_path / "ref", tmp_path / "cur"
    for hour in range(4):
        hourly_file(reference, -100 - hour)
    for hour in range(hours):
        hourly_file(current, hour)
    return reference, current


def config(reference: Path, current: Path, window: str = "8h"):
    return parse_run_config(
        {
            "reference": {"path": str(reference)},
            "current": {"path": str(current), "timestampColumn": "ts", "window": window},
            "profile": {"sampleSize": 1000},
        }
    )


def same_verdict(cached: dict, full: dict) -> None:
    """Every score, statistic and histogram count of the two reports is identical."""
    assert cached["features"] == full["features"]
    assert cached["dataset"] == full["dataset"]
    assert cached["current"]["rows"] == full["current"]["rows"]


def compared(conf, window_end: datetime, cache: Path) -> dict:
    """The report of a run through the window cache, checked against an uncached run."""
    report = analyze(conf, window_end=window_end, profile_cache=str(cache))
    same_verdict(report, analyze(conf, window_end=window_end, profile_cache=None))
    return report


def entries(cache: Path) -> list[str]:
    (space,) = cache.glob("current-*")
    # The manifest and the kept footers are the cache's own records, not profiles.
    return sorted(p.name for p in space.iterdir() if p.name not in ("window.json", "footers.json"))


def test_hourly_runs_equal_full_scans_and_read_one_new_file(tmp_path):
    reference, current = make_data(tmp_path, 30)
    cache = tmp_path / "cache"
    conf = config(reference, current)
    seen = []
    for end in range(8, 31):  # the window of 8 files slides over 30: two promotions
        window_end = T0 + timedelta(hours=end)
        report = compared(conf, window_end, cache)
        assert report["current"]["rows"] == 8 * ROWS
        seen.append(report["current"]["files"])
        # Bounded storage: about 1.5 profiles per file of the window, whatever ran before.
        assert len(entries(cache)) <= 8 * 3 // 2 + 3
    assert seen[0] == {**seen[0], "total": 8, "scanned": 8, "cached": 0, "cacheReads": 0}
    for files in seen[1:]:
        assert (files["total"], files["scanned"], files["cached"]) == (8, 1, 7)
        assert files["cacheReads"] <= 6, files  # O(1), not the window's 8
    assert not [f for f in report["findings"] if f["code"].startswith("ProfileCache")]


def test_files_cut_by_the_window_are_scanned_and_the_rest_cached(tmp_path):
    reference, current = make_data(tmp_path, 12)
    cache, conf = tmp_path / "cache", config(reference, current)
    for end in (T0 + timedelta(hours=10, minutes=20), T0 + timedelta(hours=11, minutes=20)):
        report = compared(conf, end, cache)
    # 9 files meet the window [3:20, 11:20): the first and the last are cut.
    assert report["current"]["files"]["total"] == 9
    assert report["current"]["files"]["scanned"] == 3  # both cut files and the newly whole one
    assert report["current"]["files"]["cached"] == 6


def test_damaged_entries_and_manifest_are_recomputed_with_a_finding(tmp_path):
    reference, current = make_data(tmp_path, 16)
    cache, conf = tmp_path / "cache", config(reference, current)
    end = T0 + timedelta(hours=10)
    analyze(conf, window_end=end, profile_cache=str(cache))
    analyze(conf, window_end=end + timedelta(hours=1), profile_cache=str(cache))
    (space,) = cache.glob("current-*")
    for path in space.glob("*.dwprofile"):
        data = bytearray(path.read_bytes())
        data[-5] ^= 0xFF  # one flipped payload byte in every stored profile
        path.write_bytes(bytes(data))
    end += timedelta(hours=2)
    report = compared(conf, end, cache)
    assert "ProfileCacheInvalid" in {f["code"] for f in report["findings"]}
    assert report["current"]["files"]["scanned"] == 8  # nothing usable was left

    (space / "window.json").write_bytes(b"{not json")
    end += timedelta(hours=1)
    report = compared(conf, end, cache)
    assert "ProfileCacheInvalid" in {f["code"] for f in report["findings"]}

    end += timedelta(hours=1)  # repaired: the next run is quiet and incremental again
    report = analyze(conf, window_end=end, profile_cache=str(cache))
    assert not [f for f in report["findings"] if f["code"].startswith("ProfileCache")]
    assert report["current"]["files"]["scanned"] == 1


def test_a_new_reference_or_a_rewritten_file_invalidates_what_it_changes(tmp_path):
    reference, current = make_data(tmp_path, 12)
    cache, conf = tmp_path / "cache", config(reference, current)
    end = T0 + timedelta(hours=10)
    analyze(conf, window_end=end, profile_cache=str(cache))
    before = entries(cache)

    hourly_file(current, 5, rows=ROWS + 7)  # rewritten in place: new size, new mtime
    report = compared(conf, end, cache)
    assert report["current"]["rows"] == 8 * ROWS + 7
    assert report["current"]["files"]["scanned"] >= 1

    hourly_file(reference, -100, rows=2 * ROWS)  # new reference: new histogram edges
    report = compared(conf, end, cache)
    assert report["current"]["files"]["scanned"] == 8
    assert not set(entries(cache)) & set(before)  # the old context's entries are gone


def test_front_aggregates_are_trimmed_and_dropped_when_a_file_they_rely_on_goes(tmp_path):
    """Front suffixes keep only keys that can reach the window's sample beside the
    newer half; when those newer files are gone, the trimmed suffixes are not used."""
    reference, current = make_data(tmp_path, 12)
    cache, conf = tmp_path / "cache", config(reference, current)
    compared(conf, T0 + timedelta(hours=8), cache)  # front: files 0-3, middle: 4-7
    (space,) = cache.glob("current-*")
    incomes = [loads_profile(path.read_bytes()).columns["income"] for path in space.glob("agg-*")]
    trimmed = [c for c in incomes if c.finite >= 1000 and c.sample.size < 1000]  # type: ignore[union-attr]
    assert trimmed, "no stored aggregate was trimmed"
    for hour in range(4, 9):  # the newer half goes (and the next file never comes)
        (current / f"h-{hour:03d}.parquet").unlink()
    report = compared(conf, T0 + timedelta(hours=9), cache)  # files 1-3: 1,200 rows
    assert report["current"]["rows"] == 3 * ROWS
    assert report["current"]["files"]["scanned"] == 3  # the trimmed front was not used


def test_without_a_window_a_file_is_cached_the_second_time_it_is_seen(tmp_path):
    """A one-off analysis writes no profiles; a file seen again goes through the cache."""
    reference, current = make_data(tmp_path, 6)
    cache = tmp_path / "cache"
    conf = parse_run_config(
        {"reference": {"path": str(reference)}, "current": {"path": str(current)}}
    )

    def run() -> dict:
        report = analyze(conf, profile_cache=str(cache))
        same_verdict(report, analyze(conf, profile_cache=None))
        return report["current"]["files"]

    assert run() == {"total": 6, "scanned": 6, "cached": 0, "cacheReads": 0, "cacheWrites": 0}
    assert entries(cache) == ["seen.json"]  # the small list of seen files, no profile
    assert run()["scanned"] == 6  # seen twice: now profiled into the cache
    assert any(name.endswith(".dwprofile") for name in entries(cache))
    hourly_file(current, 6)
    assert run() | {"cacheReads": 0, "cacheWrites": 0} == {
        "total": 7,
        "scanned": 1,
        "cached": 6,
        "cacheReads": 0,
        "cacheWrites": 0,
    }
    assert run()["scanned"] == 1  # the new file's second sight: scanned once more, stored
    assert run()["scanned"] == 0


def test_a_damaged_list_of_seen_files_is_a_finding_and_a_first_sight(tmp_path):
    reference, current = make_data(tmp_path, 3)
    cache = tmp_path / "cache"
    conf = parse_run_config(
        {"reference": {"path": str(reference)}, "current": {"path": str(current)}}
    )
    analyze(conf, profile_cache=str(cache))
    (seen,) = cache.glob("current-*/seen.json")
    seen.write_text("{not json")
    report = analyze(conf, profile_cache=str(cache))
    assert "ProfileCacheInvalid" in {f["code"] for f in report["findings"]}
    assert report["current"]["files"]["scanned"] == 3
    same_verdict(report, analyze(conf, profile_cache=None))
    again = analyze(conf, profile_cache=str(cache))
    assert "ProfileCacheInvalid" not in {f["code"] for f in again["findings"]}


@pytest.mark.parametrize("window", ["3h", "5h"])
def test_jumps_and_late_files_still_equal_a_full_scan(tmp_path, window):
    """Windows that skip ahead several files, and a file arriving late inside the window."""
    reference, current = make_data(tmp_path, 20)
    cache, conf = tmp_path / "cache", config(reference, current, window)
    for end, late in ((6, None), (7, None), (10, None), (11, 9), (15, None), (16, 14), (20, None)):
        if late is not None:
            hourly_file(current, late, rows=ROWS + 3)
        window_end = T0 + timedelta(hours=end)
        compared(conf, window_end, cache)


def test_an_unusable_cache_location_is_a_finding_and_a_full_scan(tmp_path):
    reference, current = make_data(tmp_path, 10)
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache directory should be")
    conf = config(reference, current)
    report = compared(conf, T0 + timedelta(hours=9), blocked)
    assert "ProfileCacheUnavailable" in {f["code"] for f in report["findings"]}
    assert report["current"]["files"]["scanned"] == 8


def test_kept_footers_follow_the_listing_and_survive_damage(tmp_path):
    """footers.json holds one entry per listed file; damaged, it is read as empty (every
    footer read, the run unchanged) and written anew."""
    reference, current = make_data(tmp_path, 12)
    cache, conf = tmp_path / "cache", config(reference, current)
    compared(conf, T0 + timedelta(hours=10), cache)
    (footers,) = cache.glob("current-*/footers.json")

    def kept() -> list[str]:
        return sorted(Path(item[0]).name for item in json.loads(footers.read_bytes())["files"])

    assert kept() == sorted(p.name for p in current.iterdir())
    footers.write_text("{not json")
    report = compared(conf, T0 + timedelta(hours=11), cache)
    assert report["current"]["files"]["scanned"] == 1
    assert not [f for f in report["findings"] if f["code"].startswith("ProfileCache")]
    assert len(kept()) == 12
    (current / "h-000.parquet").unlink()
    hourly_file(current, 12)
    compared(conf, T0 + timedelta(hours=12), cache)
    assert kept() == sorted(p.name for p in current.iterdir())


@pytest.mark.parametrize(
    "damage",
    [
        "[]",  # valid JSON, not an object
        '{"format": "driftwarden-footers-1", "schemas": [], "files": []}',
        '{"format": "driftwarden-footers-1", "schemas": {}, "files": {"a": 1}}',
        '{"format": "driftwarden-footers-1", "schemas": {}, "files": [["a", 1]]}',
        '{"format": "driftwarden-footers-1", "schemas": {"d": 7}, "files": []}',
    ],
)
def test_kept_footers_of_any_shape_are_read_as_none(tmp_path, damage):
    """Any footers.json that is not the list it should be (valid JSON of another shape
    too) is a full footer read and is written anew, never a run that fails."""
    reference, current = make_data(tmp_path, 12)
    cache, conf = tmp_path / "cache", config(reference, current)
    full = compared(conf, T0 + timedelta(hours=11), tmp_path / "fresh")
    compared(conf, T0 + timedelta(hours=10), cache)
    (footers,) = cache.glob("current-*/footers.json")
    footers.write_text(damage)
    report = compared(conf, T0 + timedelta(hours=11), cache)
    same_verdict(report, full)
    assert len(json.loads(footers.read_bytes())["files"]) == 12
