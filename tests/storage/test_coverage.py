"""Which files lie whole inside a time window, proved from Parquet metadata alone."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from driftwarden.storage import DatasetSource, StorageOptions, open_dataset
from tests.storage.files import T0, hourly_table, write


def _open(path, start=None, end=None, fmt="parquet"):
    source = DatasetSource(str(path), format=fmt, timestamp_column="ts", start=start, end=end)
    return open_dataset(source, StorageOptions())


def _states(opened):
    return {c.file.path.rsplit("/", 1)[-1]: c.state for c in opened.coverage()}


def test_whole_partial_and_outside_files(tmp_path):
    for day in range(3):  # one file a day, 24 hourly rows, row groups of 6 rows
        table = hourly_table(24, start=T0 + timedelta(days=day))
        pq.write_table(table, tmp_path / f"day-{day}.parquet", row_group_size=6)
    opened = _open(tmp_path, T0 + timedelta(days=1), T0 + timedelta(days=2, hours=12))
    assert _states(opened) == {
        "day-0.parquet": "outside",
        "day-1.parquet": "whole",
        "day-2.parquet": "partial",
    }
    (whole,) = [c for c in opened.coverage() if c.state == "whole"]
    assert whole.first == T0 + timedelta(days=1)
    # Reading a whole file without the filter gives exactly its rows in the window.
    rows = sum(b.num_rows for b in opened.batches(["x"], files=[whole.file], whole=True))
    assert rows == 24
    assert _states(_open(tmp_path)) == dict.fromkeys(_states(opened), "whole")


def test_null_timestamps_and_other_formats_are_never_whole(tmp_path):
    table = hourly_table(24)
    ts = table.column("ts").to_pylist()
    ts[3] = None
    nulls = table.set_column(0, "ts", pa.array(ts, pa.timestamp("us", "UTC")))
    pq.write_table(nulls, tmp_path / "nulls.parquet")
    window = (T0 - timedelta(days=1), T0 + timedelta(days=2))
    assert _states(_open(tmp_path / "nulls.parquet", *window)) == {"nulls.parquet": "partial"}
    write(hourly_table(24), tmp_path / "csv" / "a.csv", "csv")
    assert _states(_open(tmp_path / "csv", *window, fmt="csv")) == {"a.csv": "partial"}


def test_files_of_a_selection_without_rows_are_no_error(tmp_path):
    pq.write_table(hourly_table(24), tmp_path / "a.parquet")
    opened = _open(tmp_path, T0 + timedelta(hours=30), T0 + timedelta(hours=40))
    (placed,) = opened.coverage()
    assert placed.state == "outside"
    assert list(opened.batches(["x"], files=[placed.file])) == []


def test_the_first_timestamp_is_the_least_of_every_row_group(tmp_path):
    """Rows in reverse time order: the last row group holds the earliest timestamp."""
    table = hourly_table(24, start=T0 + timedelta(days=1))
    pq.write_table(table.take(list(range(23, -1, -1))), tmp_path / "rev.parquet", row_group_size=5)
    (placed,) = _open(tmp_path, T0, T0 + timedelta(days=3)).coverage()
    assert (placed.state, placed.first) == ("whole", T0 + timedelta(days=1))
