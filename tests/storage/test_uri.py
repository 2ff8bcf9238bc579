"""URI → filesystem mapping, endpoint/region resolution and redaction."""

from __future__ import annotations

import os

import pyarrow.fs as pafs
import pytest

from driftwarden.errors import ConfigError
from driftwarden.storage import StorageOptions, redact, resolve_filesystem
from driftwarden.storage.uri import effective_endpoint, effective_region, parse_endpoint


def test_local_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cases = {
        "data/x.parquet": f"{tmp_path}/data/x.parquet",
        "/abs/dir/": "/abs/dir",
        "~/logs": f"{tmp_path}/home/logs",
        "file:///abs/with%20space/f.csv": "/abs/with space/f.csv",
        "file://localhost/abs/f.csv": "/abs/f.csv",
        "data/*.parquet": f"{tmp_path}/data/*.parquet",
    }
    for uri, expected in cases.items():
        filesystem, path = resolve_filesystem(uri, StorageOptions())
        assert isinstance(filesystem, pafs.LocalFileSystem), uri
        assert path == expected, uri


def test_s3_uri_maps_bucket_and_key():
    filesystem, path = resolve_filesystem(
        "s3://logs/churn/live/",
        StorageOptions(endpoint="http://127.0.0.1:9000", region="eu-west-1"),
    )
    assert isinstance(filesystem, pafs.S3FileSystem)
    assert path == "logs/churn/live"
    assert filesystem.region == "eu-west-1"
    _, path = resolve_filesystem("s3a://logs", StorageOptions(endpoint="http://127.0.0.1:9000"))
    assert path == "logs"


def test_gs_uri_maps_to_gcs():
    filesystem, path = resolve_filesystem("gs://bucket/a/b.parquet", StorageOptions(anonymous=True))
    assert type(filesystem).__name__ == "GcsFileSystem"
    assert path == "bucket/a/b.parquet"


def test_unknown_scheme_names_uri_and_supported_schemes():
    with pytest.raises(ConfigError) as info:
        resolve_filesystem("hdfs://namenode/logs", StorageOptions())
    message = str(info.value)
    assert "hdfs://namenode/logs" in message
    assert "s3://" in message and "gs://" in message and "file://" in message


def test_credentials_in_uri_are_rejected_and_not_echoed():
    with pytest.raises(ConfigError) as info:
        resolve_filesystem("s3://AKIAXXXX:topsecret@bucket/x", StorageOptions())
    assert "topsecret" not in str(info.value)
    assert "s3://bucket/x" in str(info.value)


@pytest.mark.parametrize("bad", ["s3://", "s3:///key", ""])
def test_missing_bucket_or_path_is_config_error(bad):
    with pytest.raises(ConfigError):
        resolve_filesystem(bad, StorageOptions())


def test_redact_strips_userinfo():
    assert redact("s3://key:secret@bucket/p/") == "s3://bucket/p/"
    assert redact("http://user:pw@minio:9000") == "http://minio:9000"
    assert redact("/local/path@2024") == "/local/path@2024"
    assert redact("s3://bucket/a@b") == "s3://bucket/a@b"


def test_parse_endpoint():
    assert parse_endpoint("http://minio:9000") == ("http", "minio:9000")
    assert parse_endpoint("https://s3.example.com/") == ("https", "s3.example.com")
    assert parse_endpoint("minio:9000") == ("https", "minio:9000")
    with pytest.raises(ConfigError, match="http:// or https://"):
        parse_endpoint("ftp://minio")
    with pytest.raises(ConfigError, match="without a path"):
        parse_endpoint("http://minio:9000/bucket")
    with pytest.raises(ConfigError) as info:
        parse_endpoint("http://u:hunter2@minio:9000")
    assert "hunter2" not in str(info.value)


def test_environment_fallbacks(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    assert effective_endpoint(StorageOptions()) is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://a:1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert effective_endpoint(StorageOptions()) == "http://a:1"
    assert effective_region(StorageOptions()) == "ap-south-1"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://b:2")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert effective_endpoint(StorageOptions()) == "http://b:2"
    assert effective_region(StorageOptions()) == "eu-central-1"
    explicit = StorageOptions(endpoint="http://c:3", region="us-west-2")
    assert effective_endpoint(explicit) == "http://c:3"
    assert effective_region(explicit) == "us-west-2"
    filesystem, _ = resolve_filesystem("s3://bucket/x", StorageOptions())
    assert filesystem.region == "eu-central-1"
    assert os.environ["AWS_ENDPOINT_URL_S3"] == "http://b:2"


def test_wildcard_bucket_is_rejected():
    from driftwarden.storage import DatasetSource, open_dataset

    with pytest.raises(ConfigError, match=r"wildcards in the bucket name.*s3://logs-\*/x"):
        open_dataset(
            DatasetSource("s3://logs-*/x/*.parquet"), StorageOptions(endpoint="http://127.0.0.1:1")
        )
