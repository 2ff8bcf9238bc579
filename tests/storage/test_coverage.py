"""Which files lie whole inside a time window, proved from Parquet metadata alone."""

from __future__ import annotations

import os
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.errors import DataFormatError
from driftwarden.storage import DatasetSource, StorageOptions, open_dataset
from tests.storage.files import T0, hourly_table, write


def _open(path, start=None, end=None, fmt="parquet"):
    source = DatasetSource(str(path), format=fmt, timestamp_column="ts", start=start, end=end)
    return open_dataset(source, StorageOptions())


def _states(opened):
    return {c.file.path.rsplit("/", 1)[-1]: c.state for c in opened.coverage()}


def _write_with_a_null_timestamp(path):
    """24 hourly rows whose fourth timestamp is null, as Parquet at ``path``."""
    table = hourly_table(24)
    ts = table.column("ts").to_pylist()
    ts[3] = None
    pq.write_table(table.set_column(0, "ts", pa.array(ts, pa.timestamp("us", "UTC"))), path)


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
    _write_with_a_null_timestamp(tmp_path / "nulls.parquet")
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


# ---- kept footers: a later opening places seen files without reading their footers


def _kept(path, start, end, footers):
    source = DatasetSource(str(path), timestamp_column="ts", start=start, end=end)
    return open_dataset(source, StorageOptions(), footers)


def _placed(opened):
    return [(c.file.path, c.state, c.first) for c in opened.coverage()]


def test_kept_footers_place_files_as_their_footers_do(tmp_path):
    """Every window edge against every row group edge: the kept statistics give Arrow's
    placement (state and first timestamp), the same schema and row counts."""
    for day in range(3):
        table = hourly_table(24, start=T0 + timedelta(days=day))
        pq.write_table(table, tmp_path / f"day-{day}.parquet", row_group_size=6)
    reverse = hourly_table(12, start=T0 + timedelta(days=3))
    pq.write_table(
        reverse.take(list(range(11, -1, -1))), tmp_path / "rev.parquet", row_group_size=5
    )
    learnt = _open(tmp_path, T0, T0 + timedelta(days=1)).footer_facts()
    assert len(learnt) == 4 and all(f.ranges is not None for f in learnt.values())
    edges = [T0 + timedelta(hours=h, microseconds=u) for h in range(0, 90, 5) for u in (-1, 0, 1)]
    for start, end in [(a, b) for a in edges[::2] for b in edges if a < b] + [(None, edges[40])]:
        plain, kept = _open(tmp_path, start, end), _kept(tmp_path, start, end, learnt)
        assert _placed(kept) == _placed(plain), (start, end)
        assert kept.schema.equals(plain.schema, check_metadata=True)
        assert [kept.file_rows(f) for f in kept.files] == [plain.file_rows(f) for f in plain.files]


def test_kept_footers_are_not_read_again_and_a_rewritten_file_is_read(tmp_path):
    """A file whose path, size and modification time match its kept footer is placed
    without being opened: here its bytes are garbage and the window still places it.
    A rewritten file (new size) is read again."""
    for hour in (0, 1, 2):
        pq.write_table(hourly_table(1, T0 + timedelta(hours=hour)), tmp_path / f"h{hour}.parquet")
    window = (T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    learnt = _open(tmp_path, *window).footer_facts()
    garbage = tmp_path / "h0.parquet"
    stat = garbage.stat()
    garbage.write_bytes(b"\0" * stat.st_size)
    os.utime(garbage, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _states(_kept(tmp_path, *window, learnt)) == {
        "h0.parquet": "outside",
        "h1.parquet": "whole",
        "h2.parquet": "whole",
    }
    pq.write_table(hourly_table(2, T0 + timedelta(hours=2)), tmp_path / "h2.parquet")
    kept = _kept(tmp_path, *window, learnt)
    (rewritten,) = [f for f in kept.files if f.path.endswith("h2.parquet")]
    assert kept.file_rows(rewritten) == 2  # from its new footer, not the kept one
    with pytest.raises(DataFormatError):  # without kept footers the garbage is read
        _open(tmp_path, *window)


def test_footers_that_do_not_decide_are_left_to_arrow(tmp_path):
    """Null timestamps, or a file whose timestamp unit is not the dataset's: no kept
    statistics decide, Arrow places the file (reading its footer) as without them."""
    _write_with_a_null_timestamp(tmp_path / "n.parquet")
    window = (T0 - timedelta(days=1), T0 + timedelta(days=3))
    learnt = _open(tmp_path / "n.parquet", *window).footer_facts()
    assert [f.ranges for f in learnt.values()] == [None]
    assert _states(_kept(tmp_path / "n.parquet", *window, learnt)) == {"n.parquet": "partial"}

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    pq.write_table(hourly_table(24), mixed / "us.parquet")
    nanos = hourly_table(24, start=T0 + timedelta(days=1))
    nanos = nanos.set_column(0, "ts", nanos.column("ts").cast(pa.timestamp("ns", "UTC")))
    pq.write_table(nanos, mixed / "ns.parquet")
    for window in [
        (T0, T0 + timedelta(days=2)),
        (T0 + timedelta(hours=30), T0 + timedelta(days=3)),
    ]:
        plain = _open(mixed, *window)
        assert str(plain.schema.field("ts").type) == "timestamp[ns, tz=UTC]"
        assert _placed(_kept(mixed, *window, plain.footer_facts())) == _placed(plain)


@settings(max_examples=60, deadline=None)
@given(
    seconds=st.lists(st.integers(0, 20_000), min_size=1, max_size=40),
    group=st.integers(1, 12),
    bounds=st.tuples(st.integers(-100, 21_000), st.integers(1, 21_000)),
    unit=st.sampled_from(["s", "ms", "us", "ns"]),
)
def test_kept_footers_place_random_files_as_arrow_does(
    tmp_path_factory, seconds, group, bounds, unit
):
    """Any timestamps (any order, any row groups, any unit) against any window."""
    directory = tmp_path_factory.mktemp("random")
    ts = pa.array([T0 + timedelta(seconds=s) for s in seconds], pa.timestamp("us", "UTC"))
    table = pa.table({"ts": ts.cast(pa.timestamp(unit, "UTC")), "x": [1.0] * len(seconds)})
    pq.write_table(table, directory / "f.parquet", row_group_size=group)
    start = T0 + timedelta(seconds=bounds[0], microseconds=7)
    end = start + timedelta(seconds=bounds[1])
    plain = _open(directory, start, end)
    assert _placed(_kept(directory, start, end, plain.footer_facts())) == _placed(plain)
