"""Row keys and the shared (aligned) bottom-k selection equal per-column sampling."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.profile import ColumnPlan, NumericProfile, ProfileOptions, build_profile
from driftwarden.profile.sampling import AlignedSampler, RowKeys, bottom_k

K = 64


def _columns(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    clean = rng.normal(size=rows)
    holes = rng.normal(size=rows)
    holes[rng.random(rows) < 0.1] = np.nan
    late = rng.normal(size=rows)
    late[rows * 3 // 4 : rows * 3 // 4 + 1] = (
        np.inf
    )  # finite until three quarters in: leaves the aligned group
    return {"clean": clean, "holes": holes, "late": late, "ints": rng.integers(0, 9, rows)}


def _batches(columns: dict[str, np.ndarray], sizes: list[int]):
    start = 0
    for size in sizes:
        yield pa.record_batch(
            {name: pa.array(v[start : start + size]) for name, v in columns.items()}
        )
        start += size


def _sizes(rows: int, draw: np.random.Generator) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < rows:
        sizes.append(min(int(draw.integers(1, 3 * K)), rows - sum(sizes)))
    return sizes


def _expected(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Per definition: the finite values of the K smallest-keyed rows with a finite value."""
    finite = np.isfinite(values)
    sample, _ = bottom_k(values[finite], keys[finite], K)
    return np.sort(sample)


def test_row_keys_are_uniform_and_a_function_of_position():
    keys = RowKeys(7, b"file").of(0, 200_000)
    assert keys.min() >= 0.0 and keys.max() < 1.0
    counts, _ = np.histogram(keys, bins=20, range=(0, 1))
    # Chi-square with 19 degrees of freedom: 43.8 is its 0.1% critical value.
    assert ((counts - 10_000) ** 2 / 10_000).sum() < 43.8
    assert np.array_equal(RowKeys(7, b"file").of(1000, 50), keys[1000:1050])
    assert not np.array_equal(RowKeys(7, b"other").of(0, 50), keys[:50])
    assert not np.array_equal(RowKeys(8, b"file").of(0, 50), keys[:50])


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 6 * K), seed=st.integers(0, 2**16))
def test_build_profile_samples_the_smallest_keys_of_every_column(rows, seed):
    rng = np.random.default_rng(seed)
    columns = _columns(rng, rows)
    plan = [ColumnPlan(name, "numerical") for name in columns]
    options = ProfileOptions(sample_size=K, seed=seed)
    profile = build_profile(_batches(columns, _sizes(rows, rng)), plan, options, stream=b"s")
    keys = RowKeys(seed, b"s").of(0, rows)
    for name, values in columns.items():
        column = profile.columns[name]
        assert isinstance(column, NumericProfile)
        assert np.array_equal(np.sort(column.sample), _expected(values.astype(float), keys)), name
        assert column.sample.size == min(K, int(np.isfinite(values).sum()))
        if name != "ints":  # distinct values: each names its row, whose key must travel along
            row_of = {float(v): i for i, v in enumerate(values)}
            rows_sampled = [row_of[float(v)] for v in column.sample]
            assert np.array_equal(column.keys, keys[rows_sampled]), name


def test_columns_without_gaps_sample_the_same_rows():
    rng = np.random.default_rng(3)
    rows = 5_000
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    batches = _batches({"a": a, "b": b}, _sizes(rows, rng))
    plan = [ColumnPlan("a", "numerical"), ColumnPlan("b", "numerical")]
    profile = build_profile(batches, plan, ProfileOptions(sample_size=K), stream=b"x")
    pa_, pb = profile.columns["a"], profile.columns["b"]
    assert isinstance(pa_, NumericProfile) and isinstance(pb, NumericProfile)
    rows_of_a = {float(v): i for i, v in enumerate(a)}
    picked = np.array([rows_of_a[float(v)] for v in pa_.sample])
    assert np.array_equal(pb.sample, b[picked])  # same rows, same slots


def test_batch_boundaries_do_not_change_the_sample():
    rng = np.random.default_rng(4)
    columns = {"a": rng.normal(size=3_000)}
    plan = [ColumnPlan("a", "numerical")]
    options = ProfileOptions(sample_size=K)
    one = build_profile(_batches(columns, [3_000]), plan, options, stream=b"f")
    many = build_profile(_batches(columns, _sizes(3_000, rng)), plan, options, stream=b"f")
    assert np.array_equal(
        np.sort(one.columns["a"].sample),  # type: ignore[union-attr]
        np.sort(many.columns["a"].sample),  # type: ignore[union-attr]
    )


def test_column_groups_each_keep_their_own_selection():
    """Wide data arrives in column groups, each a full pass over the same rows."""
    rng = np.random.default_rng(5)
    columns = {name: rng.normal(size=1_000) for name in "abcd"}
    plan = [ColumnPlan(name, "numerical") for name in columns]
    sizes = _sizes(1_000, rng)

    def grouped():
        yield from _batches({n: columns[n] for n in "ab"}, sizes)
        yield from _batches({n: columns[n] for n in "cd"}, sizes)

    options = ProfileOptions(sample_size=K)
    profile = build_profile(grouped(), plan, options, stream=b"g")
    keys = RowKeys(0, b"g").of(0, 1_000)
    for name, values in columns.items():
        assert np.array_equal(np.sort(profile.columns[name].sample), _expected(values, keys))  # type: ignore[union-attr]
    assert profile.rows == 1_000


@pytest.mark.parametrize("sizes", [[K], [K // 2, K // 2], [3 * K], [K - 1, 2, K]])
def test_aligned_sampler_keeps_the_k_smallest_keys(sizes):
    source = RowKeys(1)
    sampler, start, seen = AlignedSampler(K), 0, []
    for size in sizes:
        keys = source.of(start, size)
        sampler.step(keys)
        seen.append(keys)
        start += size
    everything = np.concatenate(seen)
    assert np.array_equal(np.sort(sampler.keys), np.sort(everything)[:K])
