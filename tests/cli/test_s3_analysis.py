"""A whole analysis against a real S3 server: data, reports and the profile cache in buckets."""

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def _put_parquet(filesystem, path, shift=0.0, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    table = pa.table(
        {"income": rng.normal(50 + shift, 10, n), "plan": rng.choice(["a", "b", "c"], n)}
    )
    with filesystem.open_output_stream(path) as sink:
        pq.write_table(table, sink)


def _analyze(server, *args, secret=None):
    env = {
        **os.environ,
        **server.env(),
        "AWS_EC2_METADATA_DISABLED": "true",
        "DRIFTWARDEN_PROFILE_CACHE": "",
    }
    if secret is not None:
        env["AWS_SECRET_ACCESS_KEY"] = secret
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "driftwarden.cli.main",
            "analyze",
            "--endpoint",
            server.endpoint,
            "--region",
            server.region,
            "--quiet",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_analysis_reads_and_writes_s3_with_user_credentials(s3_server, s3_bucket):
    fs = s3_server.filesystem()
    _put_parquet(fs, f"{s3_bucket}/train/part-0.parquet", seed=1)
    _put_parquet(fs, f"{s3_bucket}/train/part-1.parquet", seed=2)
    _put_parquet(fs, f"{s3_bucket}/live/part-0.parquet", shift=8.0, seed=3)
    common = [
        "--reference",
        f"s3://{s3_bucket}/train/",
        "--current",
        f"s3://{s3_bucket}/live/",
        "--output",
        f"s3://{s3_bucket}/reports/run-1/",
        "--profile-cache",
        f"s3://{s3_bucket}/cache/",
    ]
    first = _analyze(s3_server, *common)
    assert first.returncode == 0, first.stderr
    with fs.open_input_file(f"{s3_bucket}/reports/run-1/report.json") as handle:
        report = json.loads(handle.read())
    assert report["reference"]["rows"] == 6000 and report["current"]["rows"] == 3000
    assert report["features"][0]["name"] == "income" and report["features"][0]["drifted"]
    assert not report["reference"]["profileCached"]
    cached = fs.get_file_info(pa.fs.FileSelector(f"{s3_bucket}/cache/"))
    references = [i for i in cached if i.base_name.startswith("reference-")]
    assert len(references) == 1 and references[0].size > 0
    # The current window's per-file profiles go to a directory of their own.
    assert [i.base_name[:8] for i in cached if i.type == pa.fs.FileType.Directory] == ["current-"]
    for name in ("report.html", "summary.json"):
        assert fs.get_file_info(f"{s3_bucket}/reports/run-1/{name}").size > 0

    second = _analyze(s3_server, *common)
    assert second.returncode == 0, second.stderr
    with fs.open_input_file(f"{s3_bucket}/reports/run-1/report.json") as handle:
        assert json.loads(handle.read())["reference"]["profileCached"]


def test_wrong_secret_is_refused_without_leaking_it(s3_server, s3_bucket):
    fs = s3_server.filesystem()
    _put_parquet(fs, f"{s3_bucket}/train/part-0.parquet")
    result = _analyze(
        s3_server,
        "--reference",
        f"s3://{s3_bucket}/train/",
        "--current",
        f"s3://{s3_bucket}/train/",
        secret="definitely-wrong-secret",
    )
    assert result.returncode == 4, result.stderr
    assert "definitely-wrong-secret" not in result.stderr + result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert "AWS_SECRET_ACCESS_KEY" in last or "credentials" in last


def test_missing_prefix_in_a_bucket_is_a_data_error(s3_server, s3_bucket):
    fs = s3_server.filesystem()
    _put_parquet(fs, f"{s3_bucket}/train/part-0.parquet")
    result = _analyze(
        s3_server,
        "--reference",
        f"s3://{s3_bucket}/train/",
        "--current",
        f"s3://{s3_bucket}/nothing-here/",
    )
    assert result.returncode == 3, result.stderr
    assert f"s3://{s3_bucket}/nothing-here/" in result.stderr


def test_shard_profiles_go_through_s3(s3_server, s3_bucket):
    """``driftwarden profile`` writes its shard to a bucket; analyze reads them from there."""
    fs = s3_server.filesystem()
    for index in range(3):
        _put_parquet(
            fs, f"{s3_bucket}/live/part-{index}.parquet", shift=8.0, n=1000, seed=10 + index
        )
    _put_parquet(fs, f"{s3_bucket}/train/part-0.parquet", seed=1)
    env = {**os.environ, **server_env(s3_server)}
    storage = ["--endpoint", s3_server.endpoint, "--region", s3_server.region]
    shards = [f"s3://{s3_bucket}/profiles/shard-{index}.dwprofile" for index in range(2)]
    for index, uri in enumerate(shards):
        written = subprocess.run(
            [
                sys.executable,
                "-m",
                "driftwarden.cli.main",
                "profile",
                *storage,
                "--input",
                f"s3://{s3_bucket}/live/",
                "--shard",
                f"{index}/2",
                "--output",
                uri,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert written.returncode == 0, written.stderr
        assert s3_server.secret_key not in written.stderr
    result = _analyze(
        s3_server,
        "--reference",
        f"s3://{s3_bucket}/train/",
        "--current-profiles",
        *shards,
        "--output",
        f"s3://{s3_bucket}/reports/sharded/",
    )
    assert result.returncode == 0, result.stderr
    with fs.open_input_file(f"{s3_bucket}/reports/sharded/report.json") as handle:
        report = json.loads(handle.read())
    assert report["current"]["rows"] == 3000 and report["current"]["format"] == "profile"
    assert report["features"][0]["name"] == "income" and report["features"][0]["drifted"]


def server_env(server):
    return {**server.env(), "AWS_EC2_METADATA_DISABLED": "true", "DRIFTWARDEN_PROFILE_CACHE": ""}
