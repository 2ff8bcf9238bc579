"""Hypothesis tests and effect sizes on samples and counts.

The sample-based functions run on the values a profile retained: all of them when
the column fitted in the profile's sample (then they equal scipy on the full data),
otherwise a uniform random sample of the column, which keeps the tests valid (their
p-values refer to the sample size, so large data does not make every feature
"significant") and bounds the error of the statistic, see docs/statistics.md.

Only numpy is used: importing ``scipy.stats`` costs about a second and
``scipy.special`` half of that, most of a small run. The distributions come from
:mod:`driftwarden.stats.distributions` and :mod:`driftwarden.stats.kolmogorov`; results
equal scipy.stats' to 1e-9 (tests/stats/test_against_scipy.py).

KS and Wasserstein take *sorted* samples (``*_sorted``): profiles keep their sample
sorted once, so a comparison costs one binary search of one sample in the other (KS)
and one pass over both (Wasserstein) instead of sorting 65,536 values twice per
feature as scipy does.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftwarden import native
from driftwarden.stats.distributions import chi2_sf, normal_sf
from driftwarden.stats.kolmogorov import kolmogorov_sf, two_sample_exact_sf
from driftwarden.stats.results import TestResult

# scipy's ks_2samp(method="auto") is exact while both samples hold at most this many values.
KS_EXACT_MAX = 10_000


def _sorted_input(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError(f"{name} needs at least one value on each side")
    return array


def ks_statistic_sorted(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """sup |F_a − F_b| of two samples in ascending order, bit for bit scipy's.

    scipy evaluates both ECDFs at every value of either sample. The supremum is
    attained at one of them, and only two kinds can attain it: each distinct value v of
    ``b`` (F_a(v) − F_b(v)), and the last value of ``a`` before v, where F_a has risen as
    far as it will while F_b still holds its previous step (the other values of ``a``
    only come closer from below, which the step at v itself bounds). Both need only how
    many values of ``a`` lie at or below (``right``) and below (``left``) each v, and
    each candidate is those two counts divided as scipy divides them.

    Counting by binary search for all 32,768 values of a profile's sample was still
    most of a comparison, so the counts are first taken at every
    :data:`KS_GRID_STEP`-th v only: between two such points both ECDFs are monotone,
    which bounds every candidate inside, and only the few stretches whose bound beats
    the best value already found are counted in full (about 3% of them on samples of
    the same distribution, fewer under drift). The result is exact either way.
    """
    n, m = a.size, b.size
    last = np.empty(m, dtype=bool)  # the last of each run of equal values of b
    np.not_equal(b[1:], b[:-1], out=last[:-1])
    last[-1] = True
    # F_b at its k-th distinct value is (k + 1) / m without ties, else (ends[k] + 1) / m;
    # taken only where a candidate needs it.
    ends = None if last.all() else np.flatnonzero(last)
    values = b if ends is None else b[ends]
    f_b = _StepHeights(ends, m)
    count = values.size
    if count <= 4 * KS_GRID_STEP:
        return _ks_candidates(a, values, f_b, np.arange(count))
    grid = np.arange(0, count, KS_GRID_STEP)
    if grid[-1] != count - 1:
        grid = np.append(grid, count - 1)
    right, left = _counts_in(a, values[grid])
    f_grid = f_b[grid]
    found = max(float(np.max(np.abs(right / n - f_grid))), float(left[0] / n))
    # Between grid points g < h: right ≤ right(h), left(k+1) ≤ right(h), f_b(g) ≤ f_b ≤ f_b(h).
    bound = np.maximum(right[1:] / n - f_grid[:-1], f_grid[1:] - right[:-1] / n)
    open_ = np.flatnonzero(bound > found)
    if open_.size == 0:
        return found
    # Every index of the open stretches, each stretch with its closing grid point.
    starts, stops = grid[open_], grid[open_ + 1] + 1
    lengths = stops - starts
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    picked = np.arange(int(lengths.sum())) + offsets
    return max(found, _ks_candidates(a, values, f_b, picked))


# The grid of ks_statistic_sorted: counts by binary search at every 32nd value first.
KS_GRID_STEP = 32


class _StepHeights:
    """F_b at distinct values of b by index: ``(index + 1) / m``, or through the last
    positions ``ends`` of runs of ties; the same division scipy does."""

    def __init__(self, ends: NDArray[np.intp] | None, m: int) -> None:
        self.ends, self.m = ends, m

    def __getitem__(self, index: NDArray[np.intp]) -> NDArray[np.float64]:
        below = index + 1 if self.ends is None else self.ends[index] + 1
        return below / self.m


def _counts_in(
    a: NDArray[np.float64], values: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """How many values of sorted ``a`` are ≤ and < each of ascending ``values``."""
    right = np.searchsorted(a, values, side="right")
    # The counts differ only where a value also occurs in a.
    shared = a.take(right - 1, mode="clip") == values
    shared &= right > 0
    left = np.searchsorted(a, values, side="left") if shared.any() else right
    return right, left


def _ks_candidates(
    a: NDArray[np.float64],
    values: NDArray[np.float64],
    f_b: _StepHeights,
    picked: NDArray[np.intp],
) -> float:
    """The largest candidate of :func:`ks_statistic_sorted` among ``picked`` indices of
    ``values`` (ascending runs of consecutive indices; index 0 adds F_a below it)."""
    n = a.size
    right, left = _counts_in(a, values[picked])
    f = f_b[picked]
    best = float(np.max(np.abs(right / n - f)))
    if picked.size > 1:
        # The last value of a before values[k + 1], for k whose successor is picked too.
        follows = picked[1:] == picked[:-1] + 1
        before = left[1:] / n - f[:-1]
        best = max(best, float(np.max(before, where=follows, initial=0.0)))
    if picked[0] == 0:
        best = max(best, float(left[0] / n))
    return best


def wasserstein_unscaled_sorted(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """W1 between the empirical distributions of two samples in ascending order.

    In its quantile form, W1 = ∫₀¹ |Q_a(u) − Q_b(u)| du (equal to scipy's ∫|F_a − F_b| dx).
    For samples of equal size both quantile functions step at i/n, so W1 is the mean
    of |a_i − b_i|. Otherwise they step on the union of the grids i/n and j/m; in units
    of 1/(n·m) those are the integers i·m and j·n, whose merged order is known without
    sorting (i·m has ⌈i·m/n⌉ − 1 grid points j·n below it), so every piece of the
    integral is one gather: linear time, no merge of the samples.
    """
    n, m = a.size, b.size
    if n == m:
        return float(np.abs(a - b).sum()) / n
    i = np.arange(1, n + 1, dtype=np.int64)
    j = np.arange(1, m + 1, dtype=np.int64)
    steps = np.empty(n + m, dtype=np.int64)
    # Positions in the merged grid: a's steps go before b's where they coincide.
    steps[(i - 1) + (i * m + n - 1) // n - 1] = i * m
    steps[(j - 1) + (j * n) // m] = j * n
    widths = np.diff(steps, prepend=0)
    # On (t_{k−1}, t_k] the quantile functions are a[⌈t_k/m⌉ − 1] and b[⌈t_k/n⌉ − 1].
    gaps = np.abs(a[(steps + m - 1) // m - 1] - b[(steps + n - 1) // n - 1])
    return float(np.einsum("i,i->", gaps, widths.astype(np.float64))) / (n * m)


def ks_test(reference: ArrayLike, current: ArrayLike) -> TestResult:
    """Two-sample Kolmogorov–Smirnov test (scipy's ``ks_2samp``, method ``auto``)."""
    return ks_test_sorted(
        np.sort(_sorted_input(reference, "KS test")), np.sort(_sorted_input(current, "KS test"))
    )


def ks_test_sorted(reference: ArrayLike, current: ArrayLike) -> TestResult:
    """:func:`ks_test` on samples already in ascending order, in linear time.

    Exact p-value while both samples hold at most 10,000 values, otherwise the
    asymptotic one of ``ks_2samp``: the one-sample distribution at round(mn/(m+n)).
    """
    a = _sorted_input(reference, "KS test")
    b = _sorted_input(current, "KS test")
    # Without the kernel only the KS half is computed: it is the costly one.
    both = _kernel_pair(a, b)
    return _ks_pvalue(ks_statistic_sorted(a, b) if both is None else both[0], a.size, b.size)


def ks_and_wasserstein_sorted(
    reference: ArrayLike, current: ArrayLike, scale: float
) -> tuple[TestResult, float]:
    """:func:`ks_test_sorted` and :func:`wasserstein_sorted` of the same two samples."""
    _check_scale(scale)
    a = _sorted_input(reference, "KS test")
    b = _sorted_input(current, "KS test")
    statistic, distance = ks_and_wasserstein_unscaled_sorted(a, b)
    return _ks_pvalue(statistic, a.size, b.size), distance / scale


def ks_and_wasserstein_unscaled_sorted(
    a: NDArray[np.float64], b: NDArray[np.float64]
) -> tuple[float, float]:
    """:func:`ks_statistic_sorted` and :func:`wasserstein_unscaled_sorted` of two
    non-empty samples in ascending order, by the compiled kernel when it takes them.

    The kernel (``native._ecdf.ks_wasserstein``, about 30 µs for two samples of 32,768
    values against 460 µs here in numpy) gives the same KS statistic bit for bit and
    W1 within 1e-12 relative (docs/statistics.md).
    """
    both = _kernel_pair(a, b)
    if both is None:
        return ks_statistic_sorted(a, b), wasserstein_unscaled_sorted(a, b)
    return both


def _kernel_pair(a: NDArray[np.float64], b: NDArray[np.float64]) -> tuple[float, float] | None:
    """``native._ecdf.ks_wasserstein(a, b)``: both results in one call, or None when the
    kernel is not loaded or does not take these samples (only finite contiguous float64
    arrays: others, NaN, ±inf or other dtypes, run the numpy code)."""
    if not (
        _ECDF is not None
        and a.dtype == np.float64
        and b.dtype == np.float64
        and a.flags.c_contiguous
        and b.flags.c_contiguous
        and a.size * b.size <= _KERNEL_MAX_PRODUCT
        # Ascending, so the ends are finite only if every value is.
        and math.isfinite(a[0])
        and math.isfinite(a[-1])
        and math.isfinite(b[0])
        and math.isfinite(b[-1])
    ):
        return None
    statistic, distance = _ECDF.ks_wasserstein(a, b)
    return statistic, distance


# The kernel's exact KS needs n·m ≤ 2^50 (see native/_ecdf.c); profiles' samples are
# far smaller (32,768² = 2^30).
_KERNEL_MAX_PRODUCT = 2**50


def _ks_pvalue(d: float, n1: int, n2: int) -> TestResult:
    p: float | None = None
    if max(n1, n2) <= KS_EXACT_MAX:
        d, p = two_sample_exact_sf(n1, n2, d)
    if p is None:
        m, n = float(max(n1, n2)), float(min(n1, n2))
        # Python's round, like np.round, rounds halves to even; both on plain floats here
        # (numpy's scalar functions cost microseconds a call, once per feature).
        p = kolmogorov_sf(round(m * n / (m + n)), d)
    return TestResult(d, min(max(float(p), 0.0), 1.0))


def _check_scale(scale: float) -> None:
    if not scale > 0 or not math.isfinite(scale):
        raise ValueError(f"scale must be positive and finite, got {scale}")


def wasserstein(reference: ArrayLike, current: ArrayLike, scale: float) -> float:
    """First Wasserstein distance divided by ``scale`` (the reference's spread).

    Normalising makes one threshold fit every feature: 0.1 means the mass moved a
    tenth of a standard deviation on average.
    """
    return wasserstein_sorted(
        np.sort(_sorted_input(reference, "Wasserstein")),
        np.sort(_sorted_input(current, "Wasserstein")),
        scale,
    )


def wasserstein_sorted(reference: ArrayLike, current: ArrayLike, scale: float) -> float:
    """:func:`wasserstein` on samples already in ascending order, in linear time
    (scipy's ``wasserstein_distance``, see :func:`wasserstein_unscaled_sorted`)."""
    _check_scale(scale)
    a = _sorted_input(reference, "Wasserstein")
    b = _sorted_input(current, "Wasserstein")
    both = _kernel_pair(a, b)
    return (wasserstein_unscaled_sorted(a, b) if both is None else both[1]) / scale


def chi_square_test(reference_counts: ArrayLike, current_counts: ArrayLike) -> TestResult:
    """Chi-square test of homogeneity on a 2×K table (``chi2_contingency`` without Yates' correction).

    Categories empty on both sides are dropped; with fewer than two categories left
    there is nothing to test and the result is (0, 1).
    """
    table = np.vstack([np.asarray(reference_counts, float), np.asarray(current_counts, float)])
    if table.shape[0] != 2 or np.any(table < 0):
        raise ValueError("chi-square needs two non-negative count vectors of equal length")
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return TestResult(0.0, 1.0)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return TestResult(statistic, chi2_sf(table.shape[1] - 1, statistic))


def two_proportion_test(
    reference_hits: float, reference_total: float, current_hits: float, current_total: float
) -> TestResult:
    """Two-sided z-test that two proportions are equal (pooled variance).

    Counts may be fractional: the analysis scales them to its sample-size policy.
    """
    if reference_total <= 0 or current_total <= 0:
        raise ValueError("both totals must be positive")
    p1, p2 = reference_hits / reference_total, current_hits / current_total
    pooled = (reference_hits + current_hits) / (reference_total + current_total)
    variance = pooled * (1 - pooled) * (1 / reference_total + 1 / current_total)
    if variance <= 0:
        return TestResult(0.0, 1.0)
    z = (p2 - p1) / math.sqrt(variance)
    return TestResult(z, 2 * normal_sf(abs(z)))


def cohens_h(reference_rate: float, current_rate: float) -> float:
    """Cohen's h effect size between two proportions: |2 asin √p2 − 2 asin √p1|, in [0, π]."""
    for rate in (reference_rate, current_rate):
        if not 0 <= rate <= 1:
            raise ValueError(f"a proportion must be in [0, 1], got {rate}")
    return abs(2 * math.asin(math.sqrt(current_rate)) - 2 * math.asin(math.sqrt(reference_rate)))


def dkw_bound(sample_size: int, confidence: float = 0.99) -> float:
    """Dvoretzky–Kiefer–Wolfowitz bound: sup|F_n − F| ≤ ε with the given confidence.

    This is the error of a CDF estimated from a uniform sample of ``sample_size`` values.
    """
    if sample_size <= 0:
        raise ValueError("sample_size must be positive")
    return math.sqrt(math.log(2 / (1 - confidence)) / (2 * sample_size))


def wasserstein_sampling_error(
    sample: ArrayLike, population_size: int | None = None, *, presorted: bool = False
) -> float:
    """Expected W1 distance between a uniform sample and the distribution it came from.

    Bobkov & Ledoux (2019, Thm 3.5): E W1(F_n, F) ≤ J(F)/√n with J(F) = ∫ √(F(1−F)) dx,
    here estimated from the sample itself. Zero when the sample is the whole
    population (``population_size`` equal to its size).

    ``presorted=True`` says the caller holds the sample in ascending order (a profile's
    ``sorted_sample``): only :func:`looks_sorted` checks it then, not every pair.
    """
    values = np.asarray(sample, dtype=np.float64)
    n = values.size
    if n < 2 or (population_size is not None and population_size <= n):
        return 0.0
    if not (looks_sorted(values) if presorted else is_sorted(values)):
        values = np.sort(values)
    spread = _ecdf_spread(n)
    if _ECDF is not None and values.flags.c_contiguous:
        # One pass without the temporary of the steps (error bound in native/_ecdf.c).
        j = _ECDF.spread_sum(values, spread)
    else:
        steps = np.subtract(values[1:], values[:-1])  # np.diff, without its Python wrapper
        j = float(np.einsum("i,i->", steps, spread))
    return j / math.sqrt(n)


@functools.lru_cache(maxsize=8)
def _ecdf_spread(n: int) -> NDArray[np.float64]:
    """√(F(1−F)) at the n−1 inner steps of an n-value ECDF; every feature's sample has
    the same size, so this is computed once a run."""
    cdf = np.arange(1, n) / n
    spread = np.sqrt(cdf * (1 - cdf))
    spread.flags.writeable = False
    return spread


_ECDF = native.load("_ecdf")


def is_sorted(values: NDArray[np.float64]) -> bool:
    """True when ``values`` is in ascending order (an O(n) check, no copy kept; NaN
    anywhere makes it False)."""
    if _ECDF is not None and values.dtype == np.float64 and values.flags.c_contiguous:
        return bool(_ECDF.is_sorted(values))
    return bool((values[1:] >= values[:-1]).all())


# Values :func:`looks_sorted` compares: enough to catch a sample that was never sorted
# (or sorted descending), a small fraction of a 32,768-value sample's full check.
_GUARD_POINTS = 64


def looks_sorted(values: NDArray[np.float64]) -> bool:
    """A cheap guard for an array its caller keeps sorted: are ~64 evenly spaced values,
    the last included, ascending? False for any shuffled sample of more than a few
    distinct values; an array sorted but for a few swapped neighbours can pass.
    """
    if values.size <= _GUARD_POINTS:
        return is_sorted(values)
    step = values.size // _GUARD_POINTS
    # A contiguous copy of the ~64 points for the kernel: numpy's check of the strided
    # view costs ~27 us, paid per feature of every loaded reference (addendum 18).
    points = np.ascontiguousarray(values[::step])
    return is_sorted(points) and bool(values[-1] >= values[-1 - step])
