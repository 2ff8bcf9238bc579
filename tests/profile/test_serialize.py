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
    assert np.array_equal(x.sample, bx.sample) and np.array_equal(x.keys, bx.keys)
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
