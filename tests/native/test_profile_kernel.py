"""driftwarden.native._profile against the numpy code it replaces and against exact sums.

Counts, extremes and gathered values must be identical to numpy's; the shifted sums
within the bound the kernel's docstring states (any summation order's)."""

from __future__ import annotations

import mmap
import platform
import re
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from driftwarden import native
from driftwarden.profile.numeric import _add_histogram

kernel = native.load("_profile")
# madvise(MADV_POPULATE_WRITE) came with Linux 5.14; elsewhere populate() does nothing.
_HAS_POPULATE_WRITE = sys.platform == "linux" and tuple(
    int(part) for part in re.findall(r"\d+", platform.release())[:2]
) >= (5, 14)
pytestmark = pytest.mark.skipif(kernel is None, reason="compiled kernels off or not built")

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
ANY = st.floats(allow_nan=True, allow_infinity=True, width=64)
# Few distinct values: ties with the edges, signed zeros.
TIES = st.sampled_from([-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0])
EPS = 2.0**-53
# Exact fractions over ~1,000 values take longer than hypothesis's deadline on a loaded host.
NO_DEADLINE = settings(deadline=None)


def _sizes():
    # Around the kernel's block (512) and lane (8) sizes, and a few long ones.
    return st.one_of(st.integers(1, 40), st.integers(500, 530), st.integers(1020, 1100))


def _exact(values: np.ndarray) -> tuple[Fraction, Fraction, Fraction, Fraction]:
    """Σ(v − v0) and Σ(v − v0)² exactly, and the bounds the kernel promises for them."""
    shift = Fraction(float(values[0]))
    terms = [Fraction(float(v)) - shift for v in values]
    n = len(terms)
    absolute = sum(abs(t) for t in terms)
    squares = sum(t * t for t in terms)
    # (n − 1) additions plus the rounding of each difference (and of each square), and
    # per term the absolute error of a result below the normal range (2^-1074).
    tiny = n * Fraction(2) ** -1074
    return sum(terms), squares, (n + 1) * EPS * absolute + tiny, (n + 3) * EPS * squares + tiny


def _check(values: np.ndarray, edges: np.ndarray) -> None:
    counts = np.arange(edges.size + 1, dtype=np.int64)  # added to, not overwritten
    expected = counts.copy()
    result = kernel.observe(values, edges, counts)
    if not np.isfinite(values).all():
        assert result is None
        assert counts.tolist() == expected.tolist()  # untouched: numpy redoes the batch
        return
    with np.errstate(over="ignore"):
        overflow = not np.isfinite(np.einsum("i,i->", values - values[0], values - values[0]))
    if overflow:
        assert result is None
        return
    assert result is not None
    lo, hi, s1, s2 = result
    assert (lo, hi) == (values.min(), values.max())
    _add_histogram(expected, values, edges)
    assert counts.tolist() == expected.tolist()
    total, squares, bound1, bound2 = _exact(values)
    assert abs(Fraction(s1) - total) <= bound1
    assert abs(Fraction(s2) - squares) <= bound2


@NO_DEADLINE
@given(
    hnp.arrays(np.float64, _sizes(), elements=FINITE),
    hnp.arrays(np.float64, st.integers(0, 12), elements=FINITE),
)
def test_observe_equals_numpy_and_exact_sums_on_any_finite_values(values, edges):
    _check(values, np.sort(edges))


@NO_DEADLINE
@given(
    hnp.arrays(np.float64, _sizes(), elements=TIES),
    hnp.arrays(np.float64, st.integers(0, 6), elements=TIES),
)
def test_observe_counts_ties_and_signed_zeros_as_numpy_on_any_edges(values, edges):
    # Unsorted and repeated edges too: the counts follow numpy's formula whatever they are.
    _check(values, edges)


@NO_DEADLINE
@given(hnp.arrays(np.float64, _sizes(), elements=ANY), st.integers(0, 1_000_000))
def test_observe_refuses_non_finite_batches_without_changing_the_counts(values, seed):
    rng = np.random.default_rng(seed)
    values[rng.integers(values.size)] = rng.choice([np.nan, np.inf, -np.inf])
    _check(values, np.array([-1.0, 0.0, 1.0]))


@NO_DEADLINE
@given(st.integers(1, 3000), st.integers(0, 1_000_000))
def test_moments_with_mean_1e9_and_spread_1_stay_within_the_bound(n, seed):
    values = 1e9 + np.random.default_rng(seed).normal(0, 1, n)
    _check(values, np.quantile(values, [0.1, 0.5, 0.9]))


def test_moments_of_a_long_batch_are_close_to_exact_in_practice():
    # The stated bound is any order's; blocked lanes do far better: ~1e-14 relative.
    values = 1e9 + np.random.default_rng(7).normal(0, 1, 20_000)
    _, _, s1, s2 = kernel.observe(values, None, None)
    total, squares, _, _ = _exact(values)
    assert abs(Fraction(s2) - squares) <= 1e-13 * squares
    assert abs(Fraction(s1) - total) <= 1e-13 * sum(
        abs(Fraction(v) - Fraction(values[0])) for v in values
    )


def test_observe_handles_many_edges_and_huge_offsets():
    values = np.random.default_rng(3).normal(0, 1, 5000) * 1e300
    _check(values, np.linspace(-3e300, 3e300, 200))  # more edges than the stack holds
    _check(np.array([-1e308, 1e308]), np.array([0.0]))  # the square overflows


def test_observe_takes_garbage_edges_without_harm():
    # A cached reference's edges are counted on before its checksum is compared
    # (analysis/run.py): any bit patterns (NaN, infinities, subnormals, in any order)
    # must give numpy's counts, and no crash.
    rng = np.random.default_rng(11)
    garbage = np.frombuffer(rng.bytes(8 * 300), dtype="<f8")
    named = np.array([np.nan, np.inf, -np.inf, 0.5, -0.5, np.nan, 5e-324])
    for edges in (garbage, named, np.concatenate([named, garbage])):
        _check(rng.normal(0, 1, 1000), edges)


def test_observe_refuses_wrong_arguments_by_name():
    values = np.arange(4.0)
    with pytest.raises(ValueError, match="values is empty"):
        kernel.observe(np.empty(0), None, None)
    with pytest.raises(ValueError, match="counts has 3 bins for 3 edges"):
        kernel.observe(values, np.arange(3.0), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="both be given"):
        kernel.observe(values, np.arange(3.0), None)
    with pytest.raises(TypeError, match="observe: counts: expected a contiguous writable int64"):
        counts = np.zeros(4, np.int64)
        counts.flags.writeable = False
        kernel.observe(values, np.arange(3.0), counts)
    with pytest.raises(TypeError, match="observe: values: expected float64 values"):
        kernel.observe(np.arange(4), None, None)


@NO_DEADLINE
@given(
    hnp.arrays(np.float64, st.integers(0, 600), elements=ANY),
    st.integers(0, 1_000_000),
    st.integers(0, 5),
)
def test_take_gathers_what_fancy_indexing_does(values, seed, offset):
    rng = np.random.default_rng(seed)
    positions = np.flatnonzero(rng.random(values.size) < 0.37)
    out = np.full(offset + positions.size + 3, 7.0)
    expected = out.copy()
    expected[offset : offset + positions.size] = values[positions]
    kernel.take(values, positions, out, offset)
    assert out.tobytes() == expected.tobytes()  # NaN payloads and signed zeros too


def test_take_refuses_positions_outside_the_values_or_the_output():
    values, out = np.arange(5.0), np.zeros(4)
    with pytest.raises(ValueError, match=r"positions\[1\] = 5 is outside values \(size 5\)"):
        kernel.take(values, np.array([0, 5]), out, 0)
    with pytest.raises(ValueError, match=r"positions\[0\] = -1 is outside"):
        kernel.take(values, np.array([-1]), out, 0)
    with pytest.raises(ValueError, match="3 values do not fit at offset 2 of out"):
        kernel.take(values, np.array([0, 1, 2]), out, 2)
    with pytest.raises(TypeError, match="take: out: expected a contiguous writable float64"):
        kernel.take(values, np.array([0]), np.zeros(4)[::2], 0)


def test_populate_faults_pages_in_without_changing_them():
    # A fresh private mapping, as profile/reserve.py hands it over, and an ordinary
    # array whose first and last pages are shared with other allocations.
    pages = np.frombuffer(mmap.mmap(-1, 5 * mmap.PAGESIZE, flags=mmap.MAP_PRIVATE))
    pages[::7] = np.arange(pages[::7].size, dtype=np.float64)
    before = pages.tobytes()
    assert kernel.populate(pages) is _HAS_POPULATE_WRITE
    assert pages.tobytes() == before
    values = np.random.default_rng(0).normal(size=3000)
    before = values.tobytes()
    kernel.populate(values[1:])  # not page-aligned: only the whole pages inside
    assert values.tobytes() == before
    assert kernel.populate(np.empty(0)) is False
    with pytest.raises(TypeError, match="populate: out: expected a contiguous writable float64"):
        frozen = np.zeros(600)
        frozen.flags.writeable = False
        kernel.populate(frozen)


@NO_DEADLINE
@given(st.integers(0, 1_000_000), st.integers(1, 40), st.integers(1, 30))
def test_fill_moves_what_fancy_indexing_does_row_by_row(seed, width, spare):
    rng = np.random.default_rng(seed)
    head, tail = rng.normal(size=(5, width)), rng.normal(size=(5, spare))
    tail[0, 0] = -0.0  # signed zeros and NaN payloads move as they are
    holes = rng.choice(width, size=min(width, spare), replace=False)
    fill = rng.choice(spare, size=holes.size, replace=False)
    rows = np.array([0, 2, 3])
    expected = head.copy()
    for row in rows:
        expected[row, holes] = tail[row, fill]
    kernel.fill(head, tail, rows, holes, fill)
    assert head.tobytes() == expected.tobytes()


def test_fill_refuses_indexes_outside_the_blocks_before_moving_anything():
    head, tail = np.zeros((2, 4)), np.ones((2, 3))
    one = np.array([1])
    with pytest.raises(ValueError, match=r"rows\[0\] = 2 is outside head and tail \(2 rows\)"):
        kernel.fill(head, tail, np.array([2]), one, one)
    with pytest.raises(ValueError, match=r"holes\[1\] = 4 is outside head \(4 columns\)"):
        kernel.fill(head, tail, np.array([0, 1]), np.array([0, 4]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"fill\[0\] = -1 is outside tail \(3 columns\)"):
        kernel.fill(head, tail, one, one, np.array([-1]))
    with pytest.raises(ValueError, match="2 holes but 1 values to fill them"):
        kernel.fill(head, tail, one, np.array([0, 1]), one)
    with pytest.raises(ValueError, match="fill: head: expected 2 dimensions, got 1"):
        kernel.fill(np.zeros(4), tail, one, one, one)
    assert not head.any()  # nothing moved


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**62),
    st.integers(0, 5_000),
    st.integers(-(2**63), 2**63 - 1),
    st.binary(max_size=16),
)
def test_row_keys_are_the_numpy_keys_bit_for_bit(start, count, seed, stream):
    from driftwarden.profile.sampling import RowKeys

    keys = RowKeys(seed, stream)
    out = np.full(count, np.nan)
    kernel.row_keys(out, start, int(keys._salt))
    assert out.tobytes() == keys._computed(start, count).tobytes()
    assert keys.of(start, count).tobytes() == out.tobytes()


def test_row_keys_refuses_a_read_only_or_non_float64_output():
    with pytest.raises(TypeError, match="row_keys: out"):
        kernel.row_keys(np.zeros(4, dtype=np.int64), 0, 1)
    frozen = np.zeros(4)
    frozen.flags.writeable = False
    with pytest.raises(TypeError, match="row_keys: out"):
        kernel.row_keys(frozen, 0, 1)
