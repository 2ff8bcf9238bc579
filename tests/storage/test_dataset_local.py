"""open_dataset over real local files: formats, discovery, schemas, windows, projection."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.errors import DataNotFoundError, SchemaError
from driftwarden.storage import DatasetSource, StorageOptions, open_dataset
from tests.storage.files import T0, hourly_table, rows, write

OPTS = StorageOptions()


@pytest.mark.parametrize(
    ("fmt", "name", "declared"),
    [
        ("parquet", "f.parquet", "parquet"),
        ("arrow", "f.feather", "feather"),
        ("arrow", "f.arrow", "arrow"),
        ("arrow", "f.ipc", "ipc"),
        ("csv", "f.csv", "csv"),
        ("jsonl", "f.jsonl", "jsonl"),
        ("jsonl", "f.json", "json"),
    ],
)
def test_each_format_reads_back_all_rows(tmp_path, fmt, name, declared):
    table = hourly_table(10)
    path = write(table, tmp_path / name, fmt)
    opened = open_dataset(DatasetSource(str(path), format=declared), OPTS)
    assert opened.count_rows() == 10
    got = rows(opened.batches(["x", "plan"]))
    assert got == table.select(["x", "plan"]).to_pylist()
    assert [f.path for f in opened.files] == [str(path)]
    assert opened.files[0].size == path.stat().st_size


def test_projection_returns_only_requested_columns(tmp_path):
    write(hourly_table(5), tmp_path / "a.parquet", "parquet")
    opened = open_dataset(DatasetSource(str(tmp_path)), OPTS)
    batches = list(opened.batches(["plan"]))
    assert all(b.schema.names == ["plan"] for b in batches)
    assert set(opened.schema.names) == {"ts", "x", "plan"}


def test_dictionary_columns_come_back_dictionary_encoded(tmp_path):
    write(hourly_table(9), tmp_path / "a.parquet", "parquet")
    opened = open_dataset(DatasetSource(str(tmp_path)), OPTS)
    batches = list(opened.batches(["plan", "x"], dictionary_columns=["plan"]))
    assert batches and all(pa.types.is_dictionary(b.schema.field("plan").type) for b in batches)
    assert not pa.types.is_dictionary(batches[0].schema.field("x").type)
    assert sorted(rows(batches), key=lambda r: r["x"])[0] == {"plan": "free", "x": 0.0}
    # Without the option the same column is plain strings.
    plain = list(opened.batches(["plan"]))
    assert pa.types.is_string(plain[0].schema.field("plan").type)


def test_dictionary_columns_for_csv_are_encoded_too(tmp_path):
    write(hourly_table(6), tmp_path / "a.csv", "csv")
    opened = open_dataset(DatasetSource(str(tmp_path), format="csv"), OPTS)
    batches = list(opened.batches(["plan"], dictionary_columns=["plan"]))
    assert pa.types.is_dictionary(batches[0].schema.field("plan").type)
    assert [r["plan"] for r in rows(batches)] == ["free", "pro", "team"] * 2


def test_directory_skips_hidden_markers_and_other_extensions(tmp_path):
    write(hourly_table(4), tmp_path / "part-0.parquet", "parquet")
    write(hourly_table(3), tmp_path / "sub" / "part-1.parquet", "parquet")
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / "_metadata").write_bytes(b"junk")
    (tmp_path / ".part-0.parquet.crc").write_bytes(b"junk")
    (tmp_path / "README.md").write_text("not data")
    write(hourly_table(2), tmp_path / "_temporary" / "0" / "part-9.parquet", "parquet")
    opened = open_dataset(DatasetSource(str(tmp_path)), OPTS)
    assert [os.path.relpath(f.path, tmp_path) for f in opened.files] == [
        "part-0.parquet",
        "sub/part-1.parquet",
    ]
    assert opened.count_rows() == 7


def test_directory_without_extensions_takes_all_visible_files(tmp_path):
    write(hourly_table(4), tmp_path / "part-00000", "parquet")
    write(hourly_table(2), tmp_path / "part-00001", "parquet")
    assert open_dataset(DatasetSource(str(tmp_path)), OPTS).count_rows() == 6


def test_relative_home_and_file_uri_paths(tmp_path, monkeypatch):
    write(hourly_table(3), tmp_path / "d" / "a.parquet", "parquet")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for uri in ("d", "./d/", "~/d", f"file://{tmp_path}/d", f"{tmp_path}/d/a.parquet"):
        assert open_dataset(DatasetSource(uri), OPTS).count_rows() == 3, uri


def test_globs_single_level_recursive_and_directories(tmp_path):
    for day in ("2024-01-01", "2024-01-02", "2024-02-01"):
        write(hourly_table(2), tmp_path / f"day={day}" / "a.parquet", "parquet")
        write(hourly_table(1), tmp_path / f"day={day}" / "deep" / "b.parquet", "parquet")
    count = lambda pattern: open_dataset(DatasetSource(str(tmp_path / pattern)), OPTS).count_rows()  # noqa: E731
    assert count("day=2024-01-0?/*.parquet") == 4
    assert count("day=2024-01-*/**/*.parquet") == 6
    assert count("**/b.parquet") == 3
    assert count("day=2024-0[1]-01") == 3  # a matched directory takes the files below it
    with pytest.raises(DataNotFoundError, match=r"no files match .*day=1999"):
        count("day=1999-*/*.parquet")


def test_hive_partitions_become_columns(tmp_path):
    write(hourly_table(2), tmp_path / "date=2024-01-01" / "region=eu" / "p.parquet", "parquet")
    write(hourly_table(3), tmp_path / "date=2024-01-02" / "region=us" / "p.parquet", "parquet")
    write(
        hourly_table(1), tmp_path / "date=2024-01-02" / "region=us%2Fwest" / "p.parquet", "parquet"
    )
    opened = open_dataset(DatasetSource(str(tmp_path)), OPTS)
    assert opened.schema.field("date").type == pa.string()
    got = rows(opened.batches(["date", "region"]))
    assert sorted({(r["date"], r["region"]) for r in got}) == [
        ("2024-01-01", "eu"),
        ("2024-01-02", "us"),
        ("2024-01-02", "us/west"),
    ]
    # A window on the partition column (ISO date strings) selects whole directories.
    windowed = open_dataset(
        DatasetSource(str(tmp_path), timestamp_column="date", start=T0 + timedelta(days=1)), OPTS
    )
    assert windowed.count_rows() == 4
    # partitioning=None keeps only the files' own columns.
    flat = open_dataset(DatasetSource(str(tmp_path), partitioning=None), OPTS)
    assert "date" not in flat.schema.names


def test_integer_hive_partitions_are_int32(tmp_path):
    write(hourly_table(2), tmp_path / "hour=1" / "p.parquet", "parquet")
    write(hourly_table(2), tmp_path / "hour=12" / "p.parquet", "parquet")
    opened = open_dataset(DatasetSource(str(tmp_path)), OPTS)
    assert opened.schema.field("hour").type == pa.int32()
    assert sorted(r["hour"] for r in rows(opened.batches(["hour"]))) == [1, 1, 12, 12]


def test_added_column_and_widened_types_unify(tmp_path):
    old = pa.table({"x": pa.array([1, 2], pa.int32()), "plan": ["a", "b"]})
    new = pa.table(
        {"x": pa.array([3.5]), "plan": pa.array(["c"]).dictionary_encode(), "extra": [7]}
    )
    pq.write_table(old, tmp_path / "1.parquet")
    pq.write_table(new, tmp_path / "2.parquet")
    opened = open_dataset(DatasetSource(str(tmp_path)), OPTS)
    assert opened.schema.field("x").type == pa.float64()
    assert opened.schema.field("plan").type == pa.string()
    assert rows(opened.batches(["x", "plan", "extra"])) == [
        {"x": 1.0, "plan": "a", "extra": None},
        {"x": 2.0, "plan": "b", "extra": None},
        {"x": 3.5, "plan": "c", "extra": 7},
    ]


def test_conflicting_types_name_column_types_and_files(tmp_path):
    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "1.parquet")
    pq.write_table(pa.table({"x": ["a"]}), tmp_path / "2.parquet")
    with pytest.raises(SchemaError) as info:
        open_dataset(DatasetSource(str(tmp_path)), OPTS)
    message = str(info.value)
    assert "'x'" in message and "int64" in message and "string" in message
    assert str(tmp_path / "1.parquet") in message and str(tmp_path / "2.parquet") in message


def _window_source(path, column, **kw):
    return DatasetSource(
        str(path),
        timestamp_column=column,
        start=T0 + timedelta(hours=6),
        end=T0 + timedelta(hours=18),
        **kw,
    )


@pytest.mark.parametrize(
    "ts_type",
    [
        pa.timestamp("us", "UTC"),
        pa.timestamp("ns"),
        pa.timestamp("s"),
        pa.timestamp("ms", "Asia/Tokyo"),
    ],
    ids=str,
)
def test_window_on_timestamp_types(tmp_path, ts_type):
    table = hourly_table(48)
    table = table.set_column(0, "ts", table.column("ts").cast(ts_type))
    pq.write_table(table, tmp_path / "a.parquet")
    opened = open_dataset(_window_source(tmp_path, "ts"), OPTS)
    assert opened.count_rows() == 12
    got = rows(opened.batches(["x"]))
    assert [r["x"] for r in got] == [float(h) for h in range(6, 18)]


def test_window_with_sub_second_bounds_on_second_timestamps(tmp_path):
    table = pa.table({"ts": pa.array([0, 1, 2, 3], pa.timestamp("s"))})
    pq.write_table(table, tmp_path / "a.parquet")
    epoch = datetime(1970, 1, 1)  # naive bounds mean UTC
    source = DatasetSource(
        str(tmp_path),
        timestamp_column="ts",
        start=epoch + timedelta(seconds=0.5),
        end=epoch + timedelta(seconds=2.5),
    )
    assert open_dataset(source, OPTS).count_rows() == 2  # t = 1 and t = 2


def test_window_on_date32(tmp_path):
    days = [T0.date() + timedelta(days=d) for d in range(5)]
    pq.write_table(
        pa.table({"d": pa.array(days, pa.date32()), "v": range(5)}), tmp_path / "a.parquet"
    )
    source = DatasetSource(
        str(tmp_path),
        timestamp_column="d",
        start=T0 + timedelta(days=1),
        end=T0 + timedelta(days=3, hours=1),  # midnight of day 3 is inside
    )
    assert [r["v"] for r in rows(open_dataset(source, OPTS).batches(["v"]))] == [1, 2, 3]


@pytest.mark.parametrize("zoned", [True, False])
def test_window_on_iso_strings(tmp_path, zoned):
    stamps = [T0 + timedelta(hours=h) for h in range(48)]
    text = [
        s.isoformat().replace("+00:00", "Z") if zoned else s.replace(tzinfo=None).isoformat(sep=" ")
        for s in stamps
    ]
    pq.write_table(pa.table({"ts": text, "x": range(48)}), tmp_path / "a.parquet")
    opened = open_dataset(_window_source(tmp_path, "ts"), OPTS)
    assert opened.schema.field("ts").type == pa.string()
    assert [r["x"] for r in rows(opened.batches(["x"]))] == list(range(6, 18))


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "arrow"])
def test_window_on_text_and_ipc_formats(tmp_path, fmt):
    write(hourly_table(48), tmp_path / f"a.{'arrow' if fmt == 'arrow' else fmt}", fmt)
    opened = open_dataset(_window_source(tmp_path, "ts", format=fmt), OPTS)
    assert opened.count_rows() == 12
    assert [r["x"] for r in rows(opened.batches(["x"]))] == [float(h) for h in range(6, 18)]


def test_window_only_start_or_only_end(tmp_path):
    write(hourly_table(48), tmp_path / "a.parquet", "parquet")
    after = DatasetSource(str(tmp_path), timestamp_column="ts", start=T0 + timedelta(hours=40))
    before = DatasetSource(str(tmp_path), timestamp_column="ts", end=T0 + timedelta(hours=2))
    assert open_dataset(after, OPTS).count_rows() == 8
    assert open_dataset(before, OPTS).count_rows() == 2


def test_window_filter_prunes_row_groups(tmp_path):
    # Two row groups, one per day; the window covers only the second day.
    pq.write_table(hourly_table(48), tmp_path / "a.parquet", row_group_size=24)
    source = DatasetSource(
        str(tmp_path),
        timestamp_column="ts",
        start=T0 + timedelta(days=1),
        end=T0 + timedelta(days=2),
    )
    opened = open_dataset(source, OPTS)
    expr = opened.filter_expression()
    fragment = next(iter(opened._dataset.get_fragments()))
    kept = fragment.split_by_row_group(filter=expr, schema=opened.schema)
    assert len(kept) == 1
    assert opened.count_rows() == 24


def test_empty_window_is_data_not_found(tmp_path):
    write(hourly_table(4), tmp_path / "a.parquet", "parquet")
    source = DatasetSource(
        str(tmp_path),
        timestamp_column="ts",
        start=T0 + timedelta(days=30),
        end=T0 + timedelta(days=31),
    )
    opened = open_dataset(source, OPTS)
    assert opened.count_rows() == 0
    with pytest.raises(DataNotFoundError, match=r"no rows in the time window \[2024-01-31"):
        list(opened.batches(["x"]))


def test_fingerprint_tracks_files_format_and_window(tmp_path):
    path = write(hourly_table(4), tmp_path / "a.parquet", "parquet")
    source = DatasetSource(str(tmp_path), timestamp_column="ts", start=T0)
    first = open_dataset(source, OPTS).fingerprint()
    assert first == open_dataset(source, OPTS).fingerprint()
    assert len(first) == 64 and int(first, 16) >= 0
    other_window = DatasetSource(
        str(tmp_path), timestamp_column="ts", start=T0 + timedelta(hours=1)
    )
    assert open_dataset(other_window, OPTS).fingerprint() != first
    write(hourly_table(5), path, "parquet")  # rewritten: other size and mtime
    os.utime(path, ns=(1, 1))
    assert open_dataset(source, OPTS).fingerprint() != first


def test_hive_default_partition_is_null(tmp_path):
    write(hourly_table(2), tmp_path / "region=eu" / "p.parquet", "parquet")
    write(hourly_table(1), tmp_path / "region=__HIVE_DEFAULT_PARTITION__" / "p.parquet", "parquet")
    opened = open_dataset(DatasetSource(str(tmp_path)), OPTS)
    assert sorted(rows(opened.batches(["region"])), key=str) == [
        {"region": "eu"},
        {"region": "eu"},
        {"region": None},
    ]


def test_a_directory_symlink_loop_reads_each_file_once(tmp_path):
    data = tmp_path / "data"
    write(hourly_table(7), data / "day=1" / "a.parquet", "parquet")
    os.symlink(data, data / "day=1" / "loop")  # points back at an ancestor
    opened = open_dataset(DatasetSource(str(data)), OPTS)
    assert [f.path for f in opened.files] == [str(data / "day=1" / "a.parquet")]
    assert opened.count_rows() == 7
    assert len(rows(opened.batches(["x"]))) == 7


def test_two_links_into_a_loop_list_in_linear_time_and_keep_the_real_path(tmp_path):
    # Following links blindly, two of them make the listing exponential in the depth.
    data = tmp_path / "data"
    write(hourly_table(7), data / "day=1" / "a.parquet", "parquet")
    os.symlink(data, data / "day=1" / "loop")
    os.symlink(data / "day=1", data / "alias")  # sorts before day=1: still not kept
    opened = open_dataset(DatasetSource(str(data)), OPTS)
    assert [f.path for f in opened.files] == [str(data / "day=1" / "a.parquet")]
    assert opened.count_rows() == 7


def test_distinct_files_behind_symlinks_are_all_read(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    write(hourly_table(3), elsewhere / "b.parquet", "parquet")
    data = tmp_path / "data"
    write(hourly_table(4), data / "a.parquet", "parquet")
    os.symlink(elsewhere / "b.parquet", data / "b.parquet")
    opened = open_dataset(DatasetSource(str(data)), OPTS)
    assert opened.count_rows() == 7
