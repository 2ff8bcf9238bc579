"""Profiles round-trip through their file format; damaged files say so."""

import gzip

import numpy as np
import pyarrow as pa
import pytest

from driftwarden.errors import ProfileError
from driftwarden.profile import (
    ColumnPlan,
    ProfileOptions,
    build_profile,
    dumps_profile,
    loads_profile,
)


def _dataset_profile():
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "x": rng.normal(size=5000),
            "c": pa.array(rng.choice(["a", "b"], 5000)).dictionary_encode(),
            "ids": [f"u{i}" for i in range(5000)],
        }
    )
    plan = [
        ColumnPlan("x", "numerical"),
        ColumnPlan("c", "categorical"),
        ColumnPlan("ids", "categorical"),
    ]
    return build_profile(
        table.to_batches(1000), plan, ProfileOptions(sample_size=1000, max_categories=100)
    )


def test_round_trip_keeps_every_number():
    profile = _dataset_profile()
    back = loads_profile(dumps_profile(profile))
    assert back.rows == profile.rows and back.options == profile.options
    x, bx = profile.columns["x"], back.columns["x"]
    # The same (value, key) pairs; the file keeps them in ascending order of value.
    order = np.argsort(x.sample, kind="stable")
    assert np.array_equal(x.sample[order], bx.sample) and np.array_equal(x.keys[order], bx.keys)
    assert np.all(np.diff(bx.sample) >= 0)
    assert (x.mean, x.m2, x.finite) == (bx.mean, bx.m2, bx.finite)
    assert back.columns["c"].counts == profile.columns["c"].counts
    assert back.columns["ids"].count_of("u1") == profile.columns["ids"].count_of("u1")
    assert not back.columns["ids"].exact


def test_profile_file_is_small():
    assert len(dumps_profile(_dataset_profile(), keep_keys=False)) < 40_000


@pytest.mark.parametrize(
    "data,match",
    [
        (b"not gzip", "not a readable driftwarden profile"),
        (gzip.compress(b'{"format": "other"}'), "not a driftwarden profile"),
        (gzip.compress(b'{"format": "driftwarden-profile", "version": 99}'), "version 99"),
        (
            gzip.compress(b'{"format": "driftwarden-profile", "version": 1, "options": {}}'),
            "damaged",
        ),
    ],
)
def test_bad_profile_files_name_the_source(data, match):
    with pytest.raises(ProfileError, match=match) as error:
        loads_profile(data, source="s3://cache/ref.profile")
    assert "s3://cache/ref.profile" in str(error.value)


def test_truncated_profile_file_is_reported():
    data = dumps_profile(_dataset_profile())
    with pytest.raises(ProfileError, match="not a readable"):
        loads_profile(data[: len(data) // 2])


def test_any_damaged_byte_is_a_profile_error_never_another_exception():
    data = dumps_profile(_dataset_profile(), keep_keys=False)
    rng = np.random.default_rng(5)
    for position in rng.choice(len(data), size=60, replace=False):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        try:
            loads_profile(bytes(damaged), source="cache")
        except ProfileError as error:
            assert "cache" in str(error)


def test_a_corrupt_deflate_stream_is_a_profile_error():
    data = dumps_profile(_dataset_profile())
    damaged = data[:10] + bytes(b ^ 0x5A for b in data[10:40]) + data[40:]
    with pytest.raises(ProfileError, match="not a readable"):
        loads_profile(damaged)


def test_inconsistent_arrays_are_a_profile_error():
    profile = _dataset_profile()
    x = profile.columns["x"]
    x.bin_counts = np.zeros(3, dtype=np.int64)
    x.edges = np.array([0.0, 1.0, 2.0, 3.0])
    with pytest.raises(ProfileError, match="damaged"):
        loads_profile(dumps_profile(profile))


def test_samples_load_as_views_of_the_file_without_copies():
    data = dumps_profile(_dataset_profile(), keep_keys=False)
    x = loads_profile(data).columns["x"]
    assert not x.sample.flags.owndata and not x.sample.flags.writeable
    assert x.sorted_sample is x.sample  # stored sorted: nothing to sort again


def test_version_1_files_are_still_read():
    import base64
    import json

    sample = np.array([3.0, 1.0, 2.0])
    document = {
        "format": "driftwarden-profile",
        "version": 1,
        "options": {"sampleSize": 10, "maxCategories": 5, "seed": 0},
        "rows": 3,
        "metadata": {},
        "columns": {
            "x": {
                "kind": "numerical",
                "sampleSize": 10,
                "rows": 3,
                "nulls": 0,
                "nan": 0,
                "posInf": 0,
                "negInf": 0,
                "finite": 3,
                "min": 1.0,
                "max": 3.0,
                "mean": 2.0,
                "m2": 2.0,
                "sample": base64.b64encode(sample.tobytes()).decode(),
                "keys": None,
                "edges": None,
                "binCounts": None,
            }
        },
    }
    profile = loads_profile(gzip.compress(json.dumps(document).encode()))
    x = profile.columns["x"]
    assert x.sample.tolist() == [3.0, 1.0, 2.0] and x.sorted_sample.tolist() == [1.0, 2.0, 3.0]
    assert x.rounded == 0 and x.mean == 2.0
