#!/usr/bin/env python3
"""Put the demo feature logs into an S3 bucket for the end-to-end test.

Run by the e2e seed Job, in the driftwarden image (so pyarrow and the demo
generator are there), with the AWS_* credentials of the bucket in its
environment; the test suite runs it the same way against its SeaweedFS server::

    python seed_data.py --endpoint http://seaweedfs.s3:8333 --bucket driftwarden-e2e

It writes what ``driftwarden demo`` writes — a training set and days of live
traffic, day 5 being a marketing campaign that drifts most features — and uploads
it under ``s3://BUCKET/PREFIX/``: ``reference/train.parquet`` and
``live/date=YYYY-MM-DD/part-0.parquet``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from driftwarden.cli.demo import write_demo_data


def seed(
    endpoint: str, bucket: str, prefix: str, *, region: str = "us-east-1", days: int = 5
) -> list[str]:
    """Generate the demo data and upload it; returns the object keys written."""
    url = urlsplit(endpoint)
    filesystem = pafs.S3FileSystem(
        endpoint_override=url.netloc,
        scheme=url.scheme,
        region=region,
        allow_bucket_creation=True,
        connect_timeout=5,
        request_timeout=30,
    )
    deadline = time.monotonic() + 60  # a server that just started may still be settling
    while True:
        try:
            if filesystem.get_file_info(bucket).type == pafs.FileType.NotFound:
                filesystem.create_dir(bucket)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    destination = f"{bucket}/{prefix.strip('/')}"
    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir)
        write_demo_data(root, days=days)
        pafs.copy_files(str(root / "data"), destination, destination_filesystem=filesystem)
    selector = pafs.FileSelector(destination, recursive=True)
    return sorted(
        info.path for info in filesystem.get_file_info(selector) if info.type == pafs.FileType.File
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--endpoint", required=True, help="S3 endpoint, e.g. http://seaweedfs.s3:8333"
    )
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="demo")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--days", type=int, default=5)
    args = parser.parse_args(argv)
    for key in seed(args.endpoint, args.bucket, args.prefix, region=args.region, days=args.days):
        print(f"s3://{key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
