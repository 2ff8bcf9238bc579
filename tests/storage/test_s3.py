"""The storage layer against a real S3 server (SeaweedFS, signatures checked)."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from driftwarden.errors import DataFormatError, DataNotFoundError, StorageError
from driftwarden.storage import (
    DatasetSource,
    StorageOptions,
    open_dataset,
    read_bytes,
    write_bytes,
)
from tests.storage.files import T0, hourly_table, rows


def _options(server) -> StorageOptions:
    return StorageOptions(endpoint=server.endpoint)


def _put_parquet(server, key: str, table: pa.Table, **kw) -> None:
    # Written the way a user's pipeline would: pyarrow's S3 filesystem with
    # the endpoint and credentials passed explicitly.
    pq.write_table(table, key, filesystem=server.filesystem(), **kw)


def test_parquet_prefix_round_trip(s3_env, s3_bucket):
    first, second = hourly_table(30), hourly_table(20, start=T0 + timedelta(days=2))
    _put_parquet(s3_env, f"{s3_bucket}/live/part-0.parquet", first)
    _put_parquet(s3_env, f"{s3_bucket}/live/part-1.parquet", second)
    s3_env.filesystem().open_output_stream(f"{s3_bucket}/live/_SUCCESS").close()

    opened = open_dataset(DatasetSource(f"s3://{s3_bucket}/live/"), _options(s3_env))
    assert [f.uri for f in opened.files] == [
        f"s3://{s3_bucket}/live/part-0.parquet",
        f"s3://{s3_bucket}/live/part-1.parquet",
    ]
    assert all(f.size > 0 and f.mtime is not None for f in opened.files)
    assert opened.count_rows() == 50
    expected = pa.concat_tables([first, second]).select(["ts", "x", "plan"]).to_pylist()
    assert rows(opened.batches(["ts", "x", "plan"])) == expected
    dict_batches = list(opened.batches(["plan"], dictionary_columns=["plan"]))
    assert pa.types.is_dictionary(dict_batches[0].schema.field("plan").type)
    again = open_dataset(DatasetSource(f"s3://{s3_bucket}/live"), _options(s3_env))
    assert again.fingerprint() == opened.fingerprint()


def test_hive_partitions_and_window_on_s3(s3_env, s3_bucket):
    for day in range(3):
        table = hourly_table(24, start=T0 + timedelta(days=day))
        date = (T0 + timedelta(days=day)).date().isoformat()
        _put_parquet(s3_env, f"{s3_bucket}/logs/date={date}/p.parquet", table)
    source = DatasetSource(
        f"s3://{s3_bucket}/logs/",
        timestamp_column="ts",
        start=T0 + timedelta(days=1, hours=12),
        end=T0 + timedelta(days=2, hours=6),
    )
    opened = open_dataset(source, _options(s3_env))
    assert opened.schema.field("date").type == pa.string()
    got = rows(opened.batches(["date", "x"]))
    assert len(got) == 18
    assert {r["date"] for r in got} == {"2024-01-02", "2024-01-03"}
    by_partition = DatasetSource(
        f"s3://{s3_bucket}/logs/", timestamp_column="date", start=T0 + timedelta(days=2)
    )
    assert open_dataset(by_partition, _options(s3_env)).count_rows() == 24


def test_csv_glob_on_s3(s3_env, s3_bucket):
    filesystem = s3_env.filesystem()
    for name in ("a.csv", "b.csv", "c.txt"):
        with filesystem.open_output_stream(f"{s3_bucket}/csv/{name}") as out:
            pacsv.write_csv(hourly_table(5), out)
    opened = open_dataset(
        DatasetSource(f"s3://{s3_bucket}/csv/*.csv", format="csv"), _options(s3_env)
    )
    assert len(opened.files) == 2
    assert [r["x"] for r in rows(opened.batches(["x"]))] == [0.0, 1.0, 2.0, 3.0, 4.0] * 2


def test_endpoint_and_region_from_environment(s3_env, s3_bucket, monkeypatch):
    _put_parquet(s3_env, f"{s3_bucket}/env/a.parquet", hourly_table(3))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint)
    opened = open_dataset(DatasetSource(f"s3://{s3_bucket}/env/"), StorageOptions())
    assert opened.count_rows() == 3


def test_read_write_bytes_round_trip(s3_env, s3_bucket):
    uri = f"s3://{s3_bucket}/cache/ref/profile.json"
    options = _options(s3_env)
    assert read_bytes(uri, options) is None
    write_bytes(uri, b'{"profile": 1}', options)
    assert read_bytes(uri, options) == b'{"profile": 1}'
    write_bytes(uri, b"x" * 3_000_000, options)
    assert read_bytes(uri, options) == b"x" * 3_000_000
    assert read_bytes(f"s3://{s3_bucket}/cache/ref", options) is None  # a prefix is no object


def test_wrong_secret_is_access_denied_without_leaking_it(s3_env, s3_bucket, monkeypatch):
    _put_parquet(s3_env, f"{s3_bucket}/x/a.parquet", hourly_table(3))
    wrong = "not-the-right-secret-0123456789"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    options = _options(s3_env)
    calls = [
        lambda: open_dataset(DatasetSource(f"s3://{s3_bucket}/x/"), options),
        lambda: open_dataset(DatasetSource(f"s3://{s3_bucket}/x/a.parquet"), options),
        lambda: read_bytes(f"s3://{s3_bucket}/x/a.parquet", options),
        lambda: write_bytes(f"s3://{s3_bucket}/x/b.json", b"{}", options),
    ]
    for call in calls:
        with pytest.raises(StorageError) as info:
            call()
        message = str(info.value)
        assert "access denied" in message
        assert "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" in message
        assert f"s3://{s3_bucket}/x" in message
        assert wrong not in message and s3_env.secret_key not in message
        assert s3_env.access_key not in message


def test_anonymous_access_is_denied(s3_env, s3_bucket):
    _put_parquet(s3_env, f"{s3_bucket}/x/a.parquet", hourly_table(3))
    options = StorageOptions(endpoint=s3_env.endpoint, anonymous=True)
    with pytest.raises(StorageError, match=r"access denied .* anonymous access"):
        open_dataset(DatasetSource(f"s3://{s3_bucket}/x/a.parquet"), options)


def test_unreachable_endpoint_fails_fast(s3_env):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    with pytest.raises(StorageError) as info:
        open_dataset(DatasetSource("s3://bucket/prefix/"), StorageOptions(endpoint=endpoint))
    assert time.monotonic() - began < 10
    message = str(info.value)
    assert endpoint in message and "spec.storage.endpoint" in message
    with pytest.raises(StorageError, match="cannot reach storage endpoint"):
        read_bytes("s3://bucket/x.json", StorageOptions(endpoint=endpoint, max_attempts=1))


def test_missing_bucket_and_prefix(s3_env, s3_bucket):
    options = _options(s3_env)
    with pytest.raises(DataNotFoundError) as info:
        open_dataset(DatasetSource("s3://no-such-bucket-dw/x/", label="reference data"), options)
    assert "reference data not found: s3://no-such-bucket-dw/x/" in str(info.value)
    assert "bucket 'no-such-bucket-dw' does not exist" in str(info.value)
    with pytest.raises(DataNotFoundError, match=f"s3://{s3_bucket}/missing/"):
        open_dataset(DatasetSource(f"s3://{s3_bucket}/missing/"), options)
    with pytest.raises(DataNotFoundError, match="no files match"):
        open_dataset(DatasetSource(f"s3://{s3_bucket}/missing/*.parquet"), options)


def test_write_to_missing_bucket(s3_env):
    with pytest.raises(DataNotFoundError, match=r"s3://no-such-bucket-dw/r\.json .*does not exist"):
        write_bytes("s3://no-such-bucket-dw/r.json", b"{}", _options(s3_env))


def test_corrupt_object_names_the_s3_uri(s3_env, s3_bucket):
    _put_parquet(s3_env, f"{s3_bucket}/bad/a.parquet", hourly_table(3))
    with s3_env.filesystem().open_output_stream(f"{s3_bucket}/bad/b.parquet") as out:
        out.write(b"id,value\n1,2\n")
    with pytest.raises(DataFormatError) as info:
        open_dataset(DatasetSource(f"s3://{s3_bucket}/bad/"), _options(s3_env))
    assert f"s3://{s3_bucket}/bad/b.parquet" in str(info.value)
    assert "is it really parquet?" in str(info.value)
