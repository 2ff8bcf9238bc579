"""Rolling and offset references on real Parquet files: exactly the expected rows, the
expected verdicts on weekly seasonality, and a profile cache that never serves another
window's profile nor grows with every run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.report import build_summary, validate_report

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
DAYS = 15
PER_HOUR = 20
END = datetime(2026, 11, 14, tzinfo=UTC)  # Saturday 00:00: the current window is Friday


def _write_hourly(root) -> None:
    """One file per day; PER_HOUR rows at each full hour (so window edges hit rows exactly).

    ``hour`` is the row's hour since T0 (it tells which rows a window read); ``load`` is
    high on Fridays and Saturdays: weekly seasonality.
    """
    rng = np.random.default_rng(7)
    for day in range(DAYS):
        hours = np.repeat(np.arange(day * 24, day * 24 + 24), PER_HOUR)
        weekday = (T0 + timedelta(days=day)).weekday()
        load = rng.normal(100.0 if weekday in (4, 5) else 20.0, 5.0, hours.size)
        table = pa.table(
            {
                "ts": pa.array(
                    [T0 + timedelta(hours=int(h)) for h in hours], pa.timestamp("us", tz="UTC")
                ),
                "hour": hours.astype("float64"),
                "load": load,
            }
        )
        path = root / f"day={day:02d}" / "part.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    _write_hourly(root)
    return root


def _config(logs, reference, window="24h"):
    return parse_run_config(
        {
            "reference": reference,
            "current": {"path": str(logs), "timestampColumn": "ts", "window": window},
            "features": {"include": ["hour", "load"]},
        }
    )


def _hours(end: datetime, start: datetime) -> tuple[float, float]:
    """Minimum and maximum ``hour`` of the rows in [start, end)."""
    return (start - T0) / timedelta(hours=1), (end - T0) / timedelta(hours=1) - 1


def _side(report, side):
    feature = next(f for f in report["features"] if f["name"] == "hour")
    return feature[side]["min"], feature[side]["max"], report[side]["rows"]


def test_rolling_reads_exactly_the_previous_window(logs, tmp_path):
    report = analyze(_config(logs, {"mode": "rolling"}), window_end=END, profile_cache=None)
    validate_report(report)
    day = timedelta(days=1)
    assert _side(report, "reference") == (*_hours(END - day, END - 2 * day), 24 * PER_HOUR)
    assert _side(report, "current") == (*_hours(END, END - day), 24 * PER_HOUR)
    assert report["reference"]["source"] == "rolling"
    assert report["reference"]["window"] == {
        "column": "ts",
        "start": "2026-11-12T00:00:00Z",
        "end": "2026-11-13T00:00:00Z",
    }
    assert report["reference"]["uri"] == report["current"]["uri"]
    load = next(f for f in report["features"] if f["name"] == "load")
    assert load["drifted"]  # a busy Friday against a quiet Thursday: the sudden change


def test_offset_reads_the_same_window_a_week_earlier(logs):
    config = _config(logs, {"mode": "offset", "offset": "7d"})
    report = analyze(config, window_end=END, profile_cache=None)
    week, day = timedelta(days=7), timedelta(days=1)
    assert _side(report, "reference") == (*_hours(END - week, END - week - day), 24 * PER_HOUR)
    assert _side(report, "current") == (*_hours(END, END - day), 24 * PER_HOUR)
    assert report["reference"]["source"] == "offset"
    load = next(f for f in report["features"] if f["name"] == "load")
    assert not load["drifted"]  # Friday against last Friday: weekly seasonality stays quiet


def test_offset_with_a_window_of_hours(logs):
    """Edges inside a file: [end - 7d - 6h, end - 7d) of the hourly rows, no more."""
    end = END + timedelta(hours=15)
    report = analyze(
        _config(logs, {"mode": "offset", "offset": "7d"}, window="6h"),
        window_end=end,
        profile_cache=None,
    )
    week, six = timedelta(days=7), timedelta(hours=6)
    assert _side(report, "reference") == (*_hours(end - week, end - week - six), 6 * PER_HOUR)


def test_the_summary_names_the_reference_the_run_used(logs):
    report = analyze(_config(logs, {"mode": "rolling"}), window_end=END, profile_cache=None)
    summary = build_summary(report, None)
    assert summary["reference"] == {
        "source": "rolling",
        "uri": str(logs),
        "fingerprint": report["reference"]["fingerprint"],
        "window": {"start": "2026-11-12T00:00:00Z", "end": "2026-11-13T00:00:00Z"},
    }


def test_a_fixed_reference_reports_no_window_and_source_spec(logs):
    report = analyze(
        _config(logs, {"path": str(logs / "day=00")}), window_end=END, profile_cache=None
    )
    assert report["reference"]["source"] == "spec" and report["reference"]["window"] is None
    assert report["reference"]["rows"] == 24 * PER_HOUR


# ---------------------------------------------------------------- the profile cache


def test_windowed_references_go_through_their_own_window_cache(logs, tmp_path):
    """A rolling reference is profiled file by file through reference-window-*/: a run
    reads only the files that entered its window, and equals an uncached run."""
    cache = tmp_path / "cache"
    config = _config(logs, {"mode": "rolling"}, window="48h")

    def run(end: datetime) -> dict:
        report = analyze(config, window_end=end, profile_cache=str(cache))
        plain = analyze(config, window_end=end, profile_cache=None)
        assert report["features"] == plain["features"]
        assert (report["reference"]["rows"], report["current"]["rows"]) == (
            plain["reference"]["rows"],
            plain["current"]["rows"],
        )
        assert plain["reference"]["files"]["cacheWrites"] == 0
        return report

    first = run(END)
    assert not first["reference"]["profileCached"]
    assert first["reference"]["files"] == {**first["reference"]["files"], "total": 2, "scanned": 2}
    retried = run(END)  # a retried pod: everything from the cache
    assert retried["reference"]["profileCached"]
    assert retried["reference"]["files"]["scanned"] == 0
    day = timedelta(days=1)
    moved = run(END + day)  # one day-file entered the reference window, one left
    assert (moved["reference"]["files"]["scanned"], moved["reference"]["files"]["cached"]) == (1, 1)
    assert _side(moved, "reference") == (*_hours(END - day, END - 3 * day), 48 * PER_HOUR)
    offset = analyze(
        _config(logs, {"mode": "offset", "offset": "7d"}), window_end=END, profile_cache=str(cache)
    )
    assert not offset["reference"]["profileCached"]
    # The current side of a windowed reference is not cached (its edges move every
    # run), and nothing piles up as single files: only the reference's window caches,
    # and the current side's kept Parquet footers (no profile).
    spaces = {p.name.rsplit("-", 1)[0]: p for p in cache.iterdir()}
    assert sorted(spaces) == ["current", "reference-window"]
    assert [p.name for p in spaces["current"].iterdir()] == ["footers.json"]
    assert not first["current"]["files"]["cached"]


def test_fixed_references_keep_their_keyed_entries(logs, tmp_path):
    cache = tmp_path / "cache"
    config = _config(logs, {"path": str(logs / "day=00")})
    analyze(config, window_end=END, profile_cache=str(cache))
    analyze(config, window_end=END + timedelta(days=1), profile_cache=str(cache))
    (entry,) = cache.glob("reference-*")
    assert entry.name.startswith("reference-") and "latest" not in entry.name
    assert analyze(config, window_end=END, profile_cache=str(cache))["reference"]["profileCached"]
