"""driftwarden.native._ecdf against the numpy code it replaces, on the same arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from driftwarden import native
from driftwarden.stats.inference import (
    _ecdf_spread,
    ks_and_wasserstein_unscaled_sorted,
    ks_statistic_sorted,
    wasserstein_unscaled_sorted,
)

ecdf = native.load("_ecdf")
pytestmark = pytest.mark.skipif(ecdf is None, reason="compiled kernels off or not built")

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@given(hnp.arrays(np.float64, st.integers(0, 40), elements=FLOATS))
def test_is_sorted_equals_numpy(values):
    assert ecdf.is_sorted(values) == bool((values[1:] >= values[:-1]).all())


@given(hnp.arrays(np.float64, st.integers(0, 40), elements=st.sampled_from([-1.0, -0.0, 0.0, 2.0])))
def test_is_sorted_equals_numpy_on_sorted_ties_and_signed_zeros(values):
    values.sort()
    assert ecdf.is_sorted(values) == bool((values[1:] >= values[:-1]).all())


def test_is_sorted_refuses_what_is_not_contiguous_float64():
    with pytest.raises(TypeError, match="expected float64 values, got format 'l'"):
        ecdf.is_sorted(np.arange(3))
    with pytest.raises(TypeError, match="expected a contiguous float64 array"):
        ecdf.is_sorted(np.arange(6.0)[::2])
    with pytest.raises(TypeError, match="expected a contiguous float64 array"):
        ecdf.is_sorted("abc")


# ks_wasserstein: samples in ascending order, finite (the caller's contract). Small
# integer values make ties within and across the samples; `scale` spreads them out.
TIED = st.integers(-12, 12)


def _sorted_sample(draw, size, scale, offset):
    values = draw(hnp.arrays(np.float64, size, elements=TIED))
    return np.sort(values * scale + offset)


@st.composite
def sample_pairs(draw):
    n = draw(st.integers(1, 300))
    m = n if draw(st.booleans()) else draw(st.integers(1, 300))
    scale = draw(st.sampled_from([1.0, 0.1, 1e-300, 3.7e5]))
    offset = draw(st.sampled_from([0.0, -0.0, 1e12, -5.5]))
    shift = draw(st.sampled_from([0.0, 0.5, 3.0]))
    return _sorted_sample(draw, n, scale, offset), _sorted_sample(draw, m, scale, offset + shift)


def _assert_equals_numpy(a, b):
    ks, w1 = ecdf.ks_wasserstein(a, b)
    assert ks == ks_statistic_sorted(a, b)  # bit for bit
    expected = wasserstein_unscaled_sorted(a, b)
    assert w1 == pytest.approx(expected, rel=1e-12, abs=1e-300)


@given(sample_pairs())
def test_ks_wasserstein_equals_numpy_with_ties_equal_and_unequal_sizes(pair):
    _assert_equals_numpy(*pair)
    _assert_equals_numpy(*reversed(pair))


@pytest.mark.parametrize("shift", [0.0, 0.004, 0.05, 1.0])
@pytest.mark.parametrize("sizes", [(32_768, 32_768), (32_768, 30_001), (1_000, 32_768)])
def test_ks_wasserstein_equals_numpy_on_profile_sized_samples(shift, sizes):
    # Equal sizes take the grid of stretches, the others one merge; rounding to 1e-3
    # leaves many ties across the samples.
    rng = np.random.default_rng(7)
    a = np.sort(rng.normal(size=sizes[0]).round(3))
    b = np.sort(rng.normal(shift, 1.0, size=sizes[1]))
    _assert_equals_numpy(a, b)
    _assert_equals_numpy(b, a)
    _assert_equals_numpy(a, a.copy())


@pytest.mark.parametrize("size", [1, 8, 33, 4_100, 32_768, 32_771])
def test_ks_wasserstein_equal_sizes_sum_in_eight_lanes_in_order(size):
    # The grid scan adds the W1 terms a chunk at a time (native/_ecdf.c dw_w1_chunk): the
    # total must be the one of a single pass, lane k % 8 in ascending k, tail in lane 0.
    rng = np.random.default_rng(size)
    a, b = np.sort(rng.normal(size=size)), np.sort(rng.normal(0.1, 2.0, size=size))
    terms = np.abs(a - b)
    whole = size - size % 8
    lanes = [0.0] * 8
    for k in range(whole):
        lanes[k % 8] += terms[k]
    for term in terms[whole:]:
        lanes[0] += term
    total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + (
        (lanes[4] + lanes[5]) + (lanes[6] + lanes[7])
    )
    ks, w1 = ecdf.ks_wasserstein(a, b)
    assert w1 == total / size
    assert ks == ks_statistic_sorted(a, b)


def test_ks_wasserstein_on_single_values_and_disjoint_samples():
    one, two = np.array([1.0]), np.array([2.0])
    assert ecdf.ks_wasserstein(one, two) == (1.0, 1.0)
    assert ecdf.ks_wasserstein(one, one) == (0.0, 0.0)
    assert ecdf.ks_wasserstein(np.array([-0.0]), np.array([0.0])) == (0.0, 0.0)
    low, high = np.arange(5.0), np.arange(5.0) + 100
    assert ecdf.ks_wasserstein(low, high) == (1.0, 100.0)


def test_ks_and_wasserstein_leave_infinite_values_to_numpy():
    # The kernel takes finite values only; the dispatcher hands ±inf to numpy.
    a = np.array([-np.inf, 0.0, 1.0])
    b = np.array([0.5, 2.0, np.inf])
    ks, _ = ks_and_wasserstein_unscaled_sorted(a, b)
    assert ks == ks_statistic_sorted(a, b)


def test_ks_wasserstein_refuses_empty_and_mistyped_samples():
    with pytest.raises(ValueError, match="sizes 0 and 1: each needs a value"):
        ecdf.ks_wasserstein(np.empty(0), np.ones(1))
    with pytest.raises(TypeError, match="ks_wasserstein: expected float64 values"):
        ecdf.ks_wasserstein(np.ones(2), np.arange(2))


@given(
    hnp.arrays(np.float64, st.integers(2, 400), elements=st.floats(-1e6, 1e6)),
)
def test_spread_sum_equals_numpy(values):
    values.sort()
    spread = _ecdf_spread(values.size)
    expected = float(np.einsum("i,i->", np.diff(values), spread))
    assert ecdf.spread_sum(values, spread) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_spread_sum_refuses_mismatched_weights():
    with pytest.raises(ValueError, match="spread_sum: 3 values need 2 weights, got 3"):
        ecdf.spread_sum(np.ones(3), np.ones(3))
