"""Bad inputs on the local filesystem: each error names the input and says what to do."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.errors import ConfigError, DataFormatError, DataNotFoundError, SchemaError
from driftwarden.storage import DatasetSource, StorageOptions, open_dataset
from tests.storage.files import T0, hourly_table, write

OPTS = StorageOptions()


def test_missing_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataNotFoundError) as info:
        open_dataset(DatasetSource(str(missing), label="reference data"), OPTS)
    assert str(info.value).startswith(f"reference data not found: {missing}")
    assert "check the path" in str(info.value)


def test_empty_directory_and_only_markers(tmp_path):
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(DataNotFoundError, match=f"no data files under {tmp_path}"):
        open_dataset(DatasetSource(str(tmp_path)), OPTS)


def test_empty_file(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"")
    with pytest.raises(DataNotFoundError, match=rf"{path} is an empty file"):
        open_dataset(DatasetSource(str(path), format="csv"), OPTS)


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_files_with_zero_rows(tmp_path, fmt):
    write(hourly_table(0), tmp_path / f"a.{fmt}", fmt)
    with pytest.raises(DataNotFoundError, match=r"holds no rows \(1 file\(s\), all empty\)"):
        open_dataset(DatasetSource(str(tmp_path), format=fmt), OPTS)


def test_header_only_csv_has_no_rows_when_scanned(tmp_path):
    (tmp_path / "a.csv").write_text("ts,x\n")
    opened = open_dataset(DatasetSource(str(tmp_path), format="csv"), OPTS)
    assert opened.count_rows() == 0
    with pytest.raises(DataNotFoundError, match="holds no rows"):
        list(opened.batches(["x"]))


def test_truncated_parquet_names_file_and_format(tmp_path):
    good = write(hourly_table(100), tmp_path / "good.parquet", "parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:-30])
    with pytest.raises(DataFormatError) as info:
        open_dataset(DatasetSource(str(tmp_path)), OPTS)
    message = str(info.value)
    assert str(bad) in message and "parquet" in message
    assert "is it really parquet? set the files' real format" in message


def test_csv_declared_as_parquet(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataFormatError, match=r"cannot read .*data\.parquet as parquet"):
        open_dataset(DatasetSource(str(path)), OPTS)


def test_parquet_declared_as_arrow(tmp_path):
    path = write(hourly_table(3), tmp_path / "x.feather", "parquet")
    with pytest.raises(DataFormatError, match=r"x\.feather as arrow.*is it really arrow"):
        open_dataset(DatasetSource(str(path), format="feather"), OPTS)


def test_corrupt_page_found_at_scan_names_the_file(tmp_path):
    table = pa.table({"v": pa.array(range(20_000), pa.int64())})
    write(hourly_table(10), tmp_path / "a-good.parquet", "parquet")
    path = tmp_path / "b-bad.parquet"
    pq.write_table(table, path, compression="snappy")
    data = bytearray(path.read_bytes())
    # Scribble over the data pages but keep the footer: the schema still reads.
    footer_len = int.from_bytes(data[-8:-4], "little")
    for i in range(20, len(data) - footer_len - 8 - 20):
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    opened = open_dataset(DatasetSource(str(tmp_path), partitioning=None), OPTS)
    with pytest.raises(DataFormatError) as info:
        list(opened.batches(["v"]))
    assert str(path) in str(info.value)


def test_malformed_jsonl(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(DataFormatError, match=rf"{path} as jsonl"):
        open_dataset(DatasetSource(str(path), format="jsonl"), OPTS)


def test_ragged_csv(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataFormatError, match=rf"{path} as csv.*Expected 2 columns"):
        open_dataset(DatasetSource(str(path), format="csv"), OPTS)


def test_unknown_format_lists_formats(tmp_path):
    with pytest.raises(ConfigError) as info:
        open_dataset(DatasetSource(str(tmp_path), format="orc"), OPTS)
    assert "'orc'" in str(info.value)
    for name in ("parquet", "arrow", "csv", "jsonl"):
        assert name in str(info.value)


def test_unknown_partitioning(tmp_path):
    with pytest.raises(ConfigError, match="'directory'"):
        open_dataset(DatasetSource(str(tmp_path), partitioning="directory"), OPTS)


def test_missing_timestamp_column_lists_available(tmp_path):
    write(hourly_table(3), tmp_path / "a.parquet", "parquet")
    with pytest.raises(SchemaError) as info:
        open_dataset(DatasetSource(str(tmp_path), timestamp_column="event_time"), OPTS)
    message = str(info.value)
    assert "'event_time'" in message and "available: ts, x, plan" in message


def test_unsupported_timestamp_type(tmp_path):
    write(hourly_table(3), tmp_path / "a.parquet", "parquet")
    with pytest.raises(SchemaError, match=r"'x'.*double"):
        open_dataset(DatasetSource(str(tmp_path), timestamp_column="x", start=T0), OPTS)


def test_requested_column_missing(tmp_path):
    write(hourly_table(3), tmp_path / "a.parquet", "parquet")
    opened = open_dataset(DatasetSource(str(tmp_path)), OPTS)
    with pytest.raises(SchemaError, match=r"no column\(s\) 'income'.*available: ts, x, plan"):
        opened.batches(["x", "income"])  # raised at the call, before iterating


def test_window_without_column_and_inverted_window(tmp_path):
    with pytest.raises(ConfigError, match="no timestamp column"):
        open_dataset(DatasetSource(str(tmp_path), start=T0), OPTS)
    with pytest.raises(ConfigError, match="time window is empty"):
        open_dataset(
            DatasetSource(str(tmp_path), timestamp_column="ts", start=T0, end=T0 - timedelta(1)),
            OPTS,
        )


def test_mixed_zoned_and_naive_strings_fail_readably(tmp_path):
    pq.write_table(
        pa.table({"ts": ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00"]}), tmp_path / "a.parquet"
    )
    source = DatasetSource(str(tmp_path), timestamp_column="ts", start=T0)
    with pytest.raises(DataFormatError, match=r"timestamp column .ts. .*a\.parquet.*one form"):
        list(open_dataset(source, OPTS).batches(["ts"]))
