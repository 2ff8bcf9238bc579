"""read_bytes / write_bytes / join_uri on the local filesystem."""

from __future__ import annotations

import numpy as np
import pytest

from driftwarden.errors import ConfigError
from driftwarden.storage import StorageOptions, join_uri, read_bytes, read_mapped, write_bytes

OPTS = StorageOptions()


def test_round_trip_creates_directories(tmp_path):
    uri = str(tmp_path / "cache" / "ref" / "profile.json")
    assert read_bytes(uri, OPTS) is None
    write_bytes(uri, b'{"v": 1}', OPTS)
    assert read_bytes(uri, OPTS) == b'{"v": 1}'
    write_bytes(uri, b"second", OPTS)  # replaces
    assert read_bytes(uri, OPTS) == b"second"
    # no temporary files left behind
    assert [p.name for p in (tmp_path / "cache" / "ref").iterdir()] == ["profile.json"]


def test_file_uri_and_compressed_names_are_stored_verbatim(tmp_path):
    uri = f"file://{tmp_path}/out/report.json.gz"
    write_bytes(uri, b"not gzip", OPTS)
    assert (tmp_path / "out" / "report.json.gz").read_bytes() == b"not gzip"
    assert read_bytes(uri, OPTS) == b"not gzip"


def test_directory_is_not_an_object(tmp_path):
    assert read_bytes(str(tmp_path), OPTS) is None


def test_pieces_are_written_in_order_and_mapped_back(tmp_path):
    uri = str(tmp_path / "c" / "p.bin")
    assert read_mapped(uri, OPTS) is None
    values = np.arange(4, dtype="<f8")
    write_bytes(uri, [b"head", values.data.cast("B"), memoryview(b"tail")], OPTS)
    mapped = read_mapped(uri, OPTS)
    assert mapped is not None and bytes(mapped) == b"head" + values.tobytes() + b"tail"
    # A mapping stays readable after the object is replaced (written, then renamed).
    write_bytes(uri, b"new", OPTS)
    assert bytes(mapped[:4]) == b"head" and read_mapped(uri, OPTS) == memoryview(b"new")
    assert read_mapped(str(tmp_path), OPTS) is None  # a directory is no object


def test_join_uri():
    assert join_uri("s3://b/reports", "x.json") == "s3://b/reports/x.json"
    assert join_uri("s3://b/reports/", "/run-1/x.json") == "s3://b/reports/run-1/x.json"
    assert join_uri("gs://b", "x") == "gs://b/x"
    assert join_uri("file:///tmp/r/", "x") == "file:///tmp/r/x"
    assert join_uri("/tmp/r", "x.html") == "/tmp/r/x.html"
    assert join_uri("rel/dir/", "x") == "rel/dir/x"
    with pytest.raises(ConfigError):
        join_uri("s3://b/r", "../escape")
    with pytest.raises(ConfigError):
        join_uri("s3://b/r", "")
