"""The window cache on object storage (the real S3 server fixture)."""

from __future__ import annotations

from datetime import timedelta

import pyarrow.fs as pafs

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from tests.analysis.test_incremental import T0, hourly_file, same_verdict


def _upload(fs, local_dir, prefix):
    for path in sorted(local_dir.iterdir()):
        with fs.open_output_stream(f"{prefix}/{path.name}") as out:
            out.write(path.read_bytes())


def test_sliding_window_on_s3_equals_full_scans_and_recovers(s3_env, s3_bucket, tmp_path):
    fs = s3_env.filesystem()
    for hour in range(3):
        hourly_file(tmp_path / "ref", -100 - hour)
    for hour in range(9):
        hourly_file(tmp_path / "cur", hour)
    _upload(fs, tmp_path / "ref", f"{s3_bucket}/ref")
    _upload(fs, tmp_path / "cur", f"{s3_bucket}/cur")
    conf = parse_run_config(
        {
            "reference": {"path": f"s3://{s3_bucket}/ref/"},
            "current": {"path": f"s3://{s3_bucket}/cur/", "timestampColumn": "ts", "window": "6h"},
            "storage": {"endpoint": s3_env.endpoint},
            "profile": {"sampleSize": 1000},
        }
    )
    cache = f"s3://{s3_bucket}/cache"
    for end in (6, 7, 8):
        window_end = T0 + timedelta(hours=end)
        report = analyze(conf, window_end=window_end, profile_cache=cache)
        same_verdict(report, analyze(conf, window_end=window_end, profile_cache=None))
    assert report["current"]["files"]["scanned"] == 1

    listing = fs.get_file_info(pafs.FileSelector(f"{s3_bucket}/cache", recursive=True))
    stored = [i.path for i in listing if i.path.endswith(".dwprofile") and "/current-" in i.path]
    for path in stored:  # damage every stored window profile
        with fs.open_output_stream(path) as out:
            out.write(b"not a profile")
    window_end = T0 + timedelta(hours=9)
    report = analyze(conf, window_end=window_end, profile_cache=cache)
    same_verdict(report, analyze(conf, window_end=window_end, profile_cache=None))
    assert "ProfileCacheInvalid" in {f["code"] for f in report["findings"]}
    # Recomputed and replaced: nothing stored is damaged any more.
    listing = fs.get_file_info(pafs.FileSelector(f"{s3_bucket}/cache", recursive=True))
    for info in listing:
        if info.path.endswith(".dwprofile"):
            with fs.open_input_file(info.path) as handle:
                assert handle.read(6) == b"DWPROF"
