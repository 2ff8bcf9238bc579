"""Numerical profiles: exact while small, bounded and mergeable when large."""

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from driftwarden import stats
from driftwarden.profile import NumericProfile
from driftwarden.profile.sampling import RowKeys


def _profile(values, sample_size=1000, edges=None, seed=0):
    profile = NumericProfile(sample_size)
    if edges is not None:
        profile = profile.with_edges(np.asarray(edges, float))
    profile.update(pa.array(values, type=pa.float64()), RowKeys(seed))
    return profile


def test_small_column_is_held_exactly():
    values = np.random.default_rng(1).normal(5, 2, 700)
    profile = _profile(values)
    assert profile.exact
    assert sorted(profile.sample) == sorted(values)
    assert profile.mean == pytest.approx(values.mean(), rel=1e-12)
    assert profile.std == pytest.approx(values.std(), rel=1e-9)
    assert (profile.minimum, profile.maximum) == (values.min(), values.max())


def test_moments_stay_precise_with_a_large_offset():
    values = 1e9 + np.random.default_rng(2).normal(0, 1, 5000)
    profile = NumericProfile(100)
    rng = RowKeys(0)
    for chunk in np.array_split(values, 7):
        profile.update(pa.array(chunk), rng)
    assert profile.std == pytest.approx(values.std(), rel=1e-6)


def test_nulls_nan_and_infinities_are_counted_apart():
    profile = _profile([1.0, None, float("nan"), float("inf"), float("-inf"), 2.0], edges=[1.5])
    assert (
        profile.rows,
        profile.nulls,
        profile.nan,
        profile.pos_inf,
        profile.neg_inf,
        profile.finite,
    ) == (6, 1, 1, 1, 1, 2)
    assert profile.missing == 2
    assert profile.bin_counts.tolist() == [2, 2]  # -inf and 1.0 | 2.0 and +inf
    assert sorted(profile.sample) == [1.0, 2.0]


def test_integer_columns_are_profiled_as_numbers():
    profile = NumericProfile(10)
    profile.update(pa.array([1, 2, None, 4], type=pa.int32()), RowKeys(0))
    assert profile.finite == 3 and profile.mean == pytest.approx(7 / 3)


def test_histogram_bins_are_left_closed():
    profile = _profile([0.0, 1.0, 1.0, 2.0, 3.0], edges=[1.0, 3.0])
    assert profile.bin_counts.tolist() == [1, 3, 1]
    assert profile.bin_masses(np.array([1.0, 3.0])).tolist() == [1, 3, 1]


def test_bin_masses_from_an_exact_sample_equal_numpy_histogram():
    values = np.random.default_rng(3).normal(size=900)
    profile = _profile(values)
    edges = profile.quantile_edges(10)
    expected, _ = np.histogram(values, bins=np.concatenate(([-np.inf], edges, [np.inf])))
    # numpy's bins are also left-closed except the last, which holds +inf only here
    assert profile.bin_masses(edges).tolist() == expected.tolist()


def test_quantile_edges_of_a_discrete_column_collapse_to_its_steps():
    profile = _profile([0.0] * 50 + [1.0] * 30 + [2.0] * 20)
    assert profile.quantile_edges(10).tolist() == [1.0, 2.0]


def test_sample_is_bounded_and_uniform_on_large_columns():
    values = np.random.default_rng(4).normal(size=300_000)
    profile = NumericProfile(20_000)
    rng = RowKeys(0)
    for chunk in np.array_split(values, 30):
        profile.update(pa.array(chunk), rng)
    assert profile.sample.size == 20_000 and not profile.exact
    # The sample's CDF is within the DKW bound of the column's (99% confidence).
    d = sps.ks_2samp(profile.sample, values).statistic
    assert d <= stats.dkw_bound(20_000)


def test_sampling_error_bound_holds_across_repetitions():
    """The stated bound (DKW at 99%) holds in at least 97 of 100 independent samples."""
    population = np.random.default_rng(5).lognormal(size=200_000)
    bound = stats.dkw_bound(2000)
    misses = 0
    for seed in range(100):
        profile = NumericProfile(2000)
        profile.update(pa.array(population), RowKeys(seed))
        misses += sps.ks_2samp(profile.sample, population).statistic > bound
    assert misses <= 3


def _split_profiles(values: np.ndarray, cuts: list[int], sample_size: int, edges):
    parts = np.split(values, sorted(set(c % (values.size + 1) for c in cuts)))
    profiles = [_profile(part, sample_size, edges, seed=i) for i, part in enumerate(parts)]
    merged = profiles[0]
    for other in profiles[1:]:
        merged = merged.merge(other)
    return merged


finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
any_floats = st.one_of(
    finite_floats, st.just(float("nan")), st.just(float("inf")), st.just(float("-inf"))
)


@settings(max_examples=60, deadline=None)
@given(st.lists(any_floats, min_size=1, max_size=300), st.lists(st.integers(0, 400), max_size=5))
def test_merging_shards_equals_profiling_the_whole(values, cuts):
    values = np.array(values)
    edges = [-10.0, 0.0, 10.0]
    whole = _profile(values, 1000, edges)
    merged = _split_profiles(values, cuts, 1000, edges)
    for attr in ("rows", "nulls", "nan", "pos_inf", "neg_inf", "finite"):
        assert getattr(merged, attr) == getattr(whole, attr)
    assert merged.bin_counts.tolist() == whole.bin_counts.tolist()
    assert sorted(merged.sample) == sorted(whole.sample)  # both exact: the whole column
    if whole.finite:
        assert (merged.minimum, merged.maximum) == (whole.minimum, whole.maximum)
        assert math.isclose(merged.mean, whole.mean, rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(merged.m2, whole.m2, rel_tol=1e-6, abs_tol=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(finite_floats, min_size=50, max_size=400), st.lists(st.integers(0, 400), max_size=4)
)
def test_merged_sample_stays_a_bounded_subset_when_shards_overflow(values, cuts):
    values = np.array(values)
    merged = _split_profiles(values, cuts, 32, None)
    assert merged.sample.size == min(32, values.size)
    assert np.isin(merged.sample, values).all()
    assert merged.finite == values.size


def test_merge_refuses_different_edges_or_sample_sizes():
    with pytest.raises(ValueError, match="bin edges"):
        _profile([1.0], edges=[0.0]).merge(_profile([1.0], edges=[0.5]))
    with pytest.raises(ValueError, match="sample sizes"):
        _profile([1.0], 10).merge(_profile([1.0], 20))


@pytest.mark.parametrize("dtype", [pa.int64(), pa.uint64()])
def test_64_bit_integers_beyond_2_to_the_53_are_rounded_and_counted(dtype):
    big = [2**53 + 1, 2**62 + 12345, 7, None] + (
        [2**64 - 1] if dtype == pa.uint64() else [-(2**63)]
    )
    profile = NumericProfile(10)
    profile.update(pa.array(big, type=dtype), RowKeys(0))
    assert profile.rounded == 3 and profile.finite == 4 and profile.nulls == 1
    assert profile.maximum == float(max(v for v in big if v is not None))
    assert profile.merge(profile).rounded == 6


def test_small_64_bit_integers_are_exact_and_not_counted():
    profile = NumericProfile(10)
    profile.update(pa.array([2**53, -(2**53), 1], type=pa.int64()), RowKeys(0))
    assert profile.rounded == 0 and profile.maximum == 2**53


def test_full_sample_updated_in_place_keeps_the_same_bottom_k_set():
    from driftwarden.profile.sampling import bottom_k as _bottom_k
    from driftwarden.profile.sampling import replace_in_place as _replace_in_place

    rng = np.random.default_rng(3)
    sample, keys = rng.normal(size=500), rng.random(500)
    picked = rng.normal(size=80)
    picked_keys = rng.random(80) * keys.max()
    expected, expected_keys = _bottom_k(
        np.concatenate([sample, picked]), np.concatenate([keys, picked_keys]), 500
    )
    buffer, buffer_keys = sample.copy(), keys.copy()
    _replace_in_place(buffer, buffer_keys, picked, picked_keys)
    np.testing.assert_array_equal(np.sort(buffer), np.sort(expected))
    np.testing.assert_array_equal(np.sort(buffer_keys), np.sort(expected_keys))
    # keys still travel with their values
    order = np.argsort(buffer_keys)
    np.testing.assert_array_equal(buffer[order], expected[np.argsort(expected_keys)])


def test_drop_keys_lets_sorted_sample_sort_in_place_and_still_merges_whole():
    values = np.random.default_rng(4).normal(size=3000)
    profile = _profile(values, sample_size=1000)
    before = np.sort(profile.sample)
    sample = profile.sample
    profile.drop_keys()
    assert profile.keys.size == profile.sample.size and not profile.keys.any()
    np.testing.assert_array_equal(profile.sorted_sample, before)
    # Sorted where it lies, by the comparison's thread: no second array of the sample.
    assert profile.sorted_sample is sample and profile.sample is sample
    merged = profile.merge(_profile(values[:10], sample_size=1000))
    assert merged.sample.size == 1000


def test_sorted_sample_copies_a_sample_whose_keys_still_count():
    values = np.random.default_rng(5).normal(size=3000)
    profile = _profile(values, sample_size=1000)
    sample, keys = profile.sample.copy(), profile.keys.copy()
    np.testing.assert_array_equal(profile.sorted_sample, np.sort(sample))
    # Keys and sample stay aligned for a later merge.
    np.testing.assert_array_equal(profile.sample, sample)
    np.testing.assert_array_equal(profile.keys, keys)


def test_sorted_histogram_counts_what_a_pass_per_edge_counts():
    # bin_masses counts on the sorted sample by binary search; ties at an edge go right.
    from driftwarden.profile.numeric import _histogram, _sorted_histogram

    rng = np.random.default_rng(8)
    for _ in range(200):
        values = np.sort(np.round(rng.normal(size=int(rng.integers(0, 500))), 1))
        edges = np.unique(np.round(rng.normal(size=int(rng.integers(1, 12))), 1))
        if values.size:
            edges = np.unique(np.concatenate([edges, values[rng.integers(0, values.size, 3)]]))
        assert _sorted_histogram(values, edges).tolist() == _histogram(values, edges).tolist()


@settings(max_examples=80, deadline=None)
@given(st.lists(any_floats, min_size=1, max_size=60))
def test_counts_and_extremes_equal_numpy_whatever_mix_of_non_finite_values(values):
    # Finite extremes prove a batch finite (the fast path); one NaN or ±inf anywhere
    # must still be found and counted, and left out of min, max and the sample.
    values = np.array(values)
    profile = _profile(values, 1000, [0.0])
    finite = values[np.isfinite(values)]
    assert (profile.nan, profile.pos_inf, profile.neg_inf, profile.finite) == (
        int(np.isnan(values).sum()),
        int((values == np.inf).sum()),
        int((values == -np.inf).sum()),
        finite.size,
    )
    assert sorted(profile.sample) == sorted(finite)
    if finite.size:
        assert (profile.minimum, profile.maximum) == (finite.min(), finite.max())


@pytest.mark.parametrize("n", [*range(1, 130), 1000, 4095, 32767, 32768, 32769, 99991])
def test_quantile_positions_read_what_numpy_quantile_returns(n):
    from driftwarden.profile.numeric import _inverted_cdf_positions

    ordered = np.sort(np.random.default_rng(n).normal(size=n))
    for bins in (2, 3, 7, 10, 13, 20, 64, 100, 999, 1000):
        levels = np.arange(1, bins) / bins
        expected = np.quantile(ordered, levels, method="inverted_cdf")
        assert np.array_equal(ordered[_inverted_cdf_positions(n, bins)], expected)
