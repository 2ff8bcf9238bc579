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
sorted once, so a comparison merges two sorted runs in linear time instead of
sorting 65,536 values twice per feature as scipy does.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftwarden.stats.distributions import chi2_sf, normal_sf
from driftwarden.stats.kolmogorov import kolmogorov_sf, two_sample_exact_sf
from driftwarden.stats.results import TestResult

# scipy's ks_2samp(method="auto") is exact while both samples hold at most this many values.
KS_EXACT_MAX = 10_000


@dataclass(frozen=True)
class _Ecdfs:
    """Two empirical CDFs evaluated on the merged, sorted values of both samples."""

    merged: NDArray[np.float64]
    difference: NDArray[np.float64]  # F_a − F_b at each merged value (counting ties left of it)
    group_end: NDArray[np.bool_]  # last position of each run of equal values


def _ecdfs(a: NDArray[np.float64], b: NDArray[np.float64]) -> _Ecdfs:
    """Merge two sorted samples in linear time (a stable sort of two sorted runs is a
    single merge) and take both CDFs from running counts."""
    both = np.concatenate((a, b))
    order = np.argsort(both, kind="stable")
    merged = both[order]
    # Counting in int64 from the start: a running sum of booleans casts each element on
    # the way, ~0.1 ms more per 65,536 values (the same counts either way).
    from_a = np.cumsum(order < a.size, dtype=np.int64)
    from_b = np.arange(1, both.size + 1) - from_a
    difference = from_a / a.size - from_b / b.size
    # Within a run of ties only the last position counts every tied value, as
    # searchsorted(..., side="right") does in scipy.
    group_end = np.empty(both.size, dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=group_end[:-1])
    group_end[-1] = True
    return _Ecdfs(merged, difference, group_end)


def _sorted_input(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError(f"{name} needs at least one value on each side")
    return array


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
    return _ks_from(_ecdfs(a, b), a.size, b.size)


def ks_and_wasserstein_sorted(
    reference: ArrayLike, current: ArrayLike, scale: float
) -> tuple[TestResult, float]:
    """:func:`ks_test_sorted` and :func:`wasserstein_sorted` from one merge of the samples."""
    _check_scale(scale)
    a = _sorted_input(reference, "KS test")
    b = _sorted_input(current, "KS test")
    ecdfs = _ecdfs(a, b)
    return _ks_from(ecdfs, a.size, b.size), _wasserstein_from(ecdfs) / scale


def _ks_from(ecdfs: _Ecdfs, n1: int, n2: int) -> TestResult:
    d = float(np.max(np.abs(ecdfs.difference[ecdfs.group_end])))
    p: float | None = None
    if max(n1, n2) <= KS_EXACT_MAX:
        d, p = two_sample_exact_sf(n1, n2, d)
    if p is None:
        m, n = sorted([float(n1), float(n2)], reverse=True)
        p = kolmogorov_sf(int(np.round(m * n / (m + n))), d)
    return TestResult(d, float(np.clip(p, 0.0, 1.0)))


def _wasserstein_from(ecdfs: _Ecdfs) -> float:
    # Between tied values the step is 0, so the partial counts inside a run of ties
    # contribute nothing and need no correction. einsum, not np.dot: dot hands off to
    # BLAS, whose threads fight Arrow's on small machines.
    steps = np.diff(ecdfs.merged)
    return float(np.einsum("i,i->", np.abs(ecdfs.difference[:-1]), steps))


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
    """:func:`wasserstein` on samples already in ascending order, in linear time:
    ∫|F_a − F_b| dx over the merged values (scipy's ``wasserstein_distance``)."""
    _check_scale(scale)
    ecdfs = _ecdfs(_sorted_input(reference, "Wasserstein"), _sorted_input(current, "Wasserstein"))
    return _wasserstein_from(ecdfs) / scale


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


def wasserstein_sampling_error(sample: ArrayLike, population_size: int | None = None) -> float:
    """Expected W1 distance between a uniform sample and the distribution it came from.

    Bobkov & Ledoux (2019, Thm 3.5): E W1(F_n, F) ≤ J(F)/√n with J(F) = ∫ √(F(1−F)) dx,
    here estimated from the sample itself. Zero when the sample is the whole
    population (``population_size`` equal to its size).
    """
    values = np.asarray(sample, dtype=np.float64)
    n = values.size
    if n < 2 or (population_size is not None and population_size <= n):
        return 0.0
    if not is_sorted(values):
        values = np.sort(values)
    j = float(np.einsum("i,i->", np.diff(values), _ecdf_spread(n)))
    return j / math.sqrt(n)


@functools.lru_cache(maxsize=8)
def _ecdf_spread(n: int) -> NDArray[np.float64]:
    """√(F(1−F)) at the n−1 inner steps of an n-value ECDF; every feature's sample has
    the same size, so this is computed once a run."""
    cdf = np.arange(1, n) / n
    spread = np.sqrt(cdf * (1 - cdf))
    spread.flags.writeable = False
    return spread


def is_sorted(values: NDArray[np.float64]) -> bool:
    """True when ``values`` is in ascending order (an O(n) check, no copy kept)."""
    return bool(np.all(values[1:] >= values[:-1]))
