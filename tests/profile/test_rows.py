"""The row sample: whole complete rows, a bottom-k sample by row key, mergeable and serialisable."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.profile import (
    ColumnPlan,
    DatasetProfile,
    ProfileOptions,
    build_profile,
    dumps_profile,
    loads_profile,
)
from driftwarden.profile.rows import RowSample, read_order
from driftwarden.profile.sampling import RowKeys

FEATURES = ("x", "y")
PLAN = [ColumnPlan("x", "numerical"), ColumnPlan("y", "numerical"), ColumnPlan("c", "categorical")]


def _table(seed: int, rows: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    y = 0.8 * x + 0.6 * rng.normal(size=rows)
    y[rng.random(rows) < 0.1] = np.nan  # incomplete rows never enter
    x_arr = pa.array(x, mask=rng.random(rows) < 0.05)  # nulls too
    y[rng.random(rows) < 0.01] = np.inf
    return pa.table({"x": x_arr, "y": y, "c": pa.array(rng.choice(["a", "b"], rows))})


def _options(size: int) -> ProfileOptions:
    return ProfileOptions(sample_size=256, row_features=FEATURES, row_sample_size=size)


def _expected(table: pa.Table, stream: bytes, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The bottom-``size`` complete rows by key, computed directly on the whole table."""
    keys = RowKeys(0, stream).of(0, table.num_rows)
    matrix = np.column_stack(
        [table.column(n).to_numpy(zero_copy_only=False).astype(float) for n in FEATURES]
    )
    complete = np.isfinite(matrix).all(axis=1)
    order = np.argsort(keys[complete])[:size]
    return matrix[complete][order], keys[complete][order]


@pytest.mark.parametrize("batch", [1000, 37, 20000])
def test_row_sample_is_the_bottom_k_complete_rows_whatever_the_batches(batch: int) -> None:
    table = _table(1, 20000)
    profile = build_profile(
        table.to_batches(max_chunksize=batch), PLAN, _options(500), stream=b"file"
    )
    values, keys = _expected(table, b"file", 500)
    assert profile.row_sample is not None
    np.testing.assert_array_equal(profile.row_sample.keys, keys)
    np.testing.assert_array_equal(profile.row_sample.values, values)
    assert np.isfinite(profile.row_sample.values).all()


def test_rows_stay_together() -> None:
    table = pa.table({"x": np.arange(5000.0), "y": -np.arange(5000.0)})
    plan = [ColumnPlan("x", "numerical"), ColumnPlan("y", "numerical")]
    profile = build_profile(table.to_batches(max_chunksize=333), plan, _options(200))
    assert profile.row_sample is not None
    values = profile.row_sample.values
    np.testing.assert_array_equal(values[:, 1], -values[:, 0])


def test_small_data_keeps_every_complete_row() -> None:
    table = _table(2, 300)
    profile = build_profile(table.to_batches(max_chunksize=50), PLAN, _options(10_000))
    values, _ = _expected(table, b"", 10_000)
    assert profile.row_sample is not None
    assert profile.row_sample.rows == values.shape[0] < 300


def test_column_groups_feed_the_row_sample_from_the_group_holding_its_features() -> None:
    table = _table(3, 4000)
    names = read_order(["c", "y", "x"], FEATURES)
    assert names[:2] == ["x", "y"]
    groups = [
        batch
        for group in (names[:2], names[2:])
        for batch in table.select(group).to_batches(max_chunksize=700)
    ]
    profile = build_profile(groups, PLAN, _options(300))
    whole = build_profile(table.to_batches(max_chunksize=700), PLAN, _options(300))
    assert profile.row_sample is not None and whole.row_sample is not None
    assert profile.row_sample.equals(whole.row_sample)
    assert profile.rows == 4000


def _files(seeds: list[int]) -> list[DatasetProfile]:
    return [
        build_profile(
            _table(seed, 3000).to_batches(max_chunksize=512),
            PLAN,
            _options(400),
            stream=f"file-{seed}".encode(),
        )
        for seed in seeds
    ]


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(5)), cut=st.integers(1, 4))
def test_merge_is_order_and_grouping_free(order: list[int], cut: int) -> None:
    pieces = _files([10, 11, 12, 13, 14])
    in_order = pieces[0]
    for piece in pieces[1:]:
        in_order = in_order.merge(piece)
    shuffled = [pieces[i] for i in order]
    left, right = shuffled[0], shuffled[cut]
    for piece in shuffled[1:cut]:
        left = left.merge(piece)
    for piece in shuffled[cut + 1 :]:
        right = right.merge(piece)
    merged = right.merge(left)
    assert in_order.row_sample is not None and merged.row_sample is not None
    assert merged.row_sample.equals(in_order.row_sample)
    # …and equals the bottom-k of the union of every file's complete rows.
    union = [_expected(_table(s, 3000), f"file-{s}".encode(), 400) for s in [10, 11, 12, 13, 14]]
    values = np.concatenate([u[0] for u in union])
    keys = np.concatenate([u[1] for u in union])
    first = np.argsort(keys)[:400]
    np.testing.assert_array_equal(merged.row_sample.keys, keys[first])
    np.testing.assert_array_equal(merged.row_sample.values, values[first])


@pytest.mark.parametrize("keep_keys", [True, False])
def test_serialize_round_trip_keeps_the_row_sample(keep_keys: bool) -> None:
    profile = _files([20])[0]
    loaded = loads_profile(dumps_profile(profile, keep_keys=keep_keys, sort=keep_keys))
    assert loaded.options == profile.options
    assert loaded.row_sample is not None and profile.row_sample is not None
    assert loaded.row_sample.equals(profile.row_sample)
    # A loaded sample merges like the one it was written from.
    other = _files([21])[0]
    assert loaded.merge(other).row_sample.equals(profile.merge(other).row_sample)  # type: ignore[union-attr]


def test_profiles_without_a_row_sample_write_no_row_fields() -> None:
    table = _table(4, 100)
    profile = build_profile(table.to_batches(), PLAN, ProfileOptions(sample_size=256))
    assert profile.row_sample is None
    data = dumps_profile(profile)
    assert b"rowFeatures" not in data and loads_profile(data).row_sample is None


def test_merging_row_samples_of_other_features_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot merge row samples"):
        RowSample(("x", "y"), 10).merge(RowSample(("x", "z"), 10))
    with pytest.raises(ValueError, match="cannot merge profiles"):
        _files([1])[0].merge(
            build_profile(_table(1, 10).to_batches(), PLAN, ProfileOptions(sample_size=256))
        )
