"""Hypothesis tests and effect sizes on samples and counts.

The sample-based functions run on the values a profile retained: all of them when
the column fitted in the profile's sample (then they equal scipy on the full data),
otherwise a uniform random sample of the column, which keeps the tests valid (their
p-values refer to the sample size, so large data does not make every feature
"significant") and bounds the error of the statistic, see docs/statistics.md.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from driftwarden.stats.results import TestResult


def ks_test(reference: ArrayLike, current: ArrayLike) -> TestResult:
    """Two-sample Kolmogorov–Smirnov test (scipy's ``ks_2samp``, method ``auto``)."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(current, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("KS test needs at least one value on each side")
    result = sps.ks_2samp(a, b)
    return TestResult(float(result.statistic), float(result.pvalue))


def wasserstein(reference: ArrayLike, current: ArrayLike, scale: float) -> float:
    """First Wasserstein distance divided by ``scale`` (the reference's spread).

    Normalising makes one threshold fit every feature: 0.1 means the mass moved a
    tenth of a standard deviation on average.
    """
    if not scale > 0 or not math.isfinite(scale):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    return float(sps.wasserstein_distance(reference, current)) / scale


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
    result = sps.chi2_contingency(table, correction=False)
    return TestResult(float(result.statistic), float(result.pvalue))


def two_proportion_test(
    reference_hits: int, reference_total: int, current_hits: int, current_total: int
) -> TestResult:
    """Two-sided z-test that two proportions are equal (pooled variance)."""
    if reference_total <= 0 or current_total <= 0:
        raise ValueError("both totals must be positive")
    p1, p2 = reference_hits / reference_total, current_hits / current_total
    pooled = (reference_hits + current_hits) / (reference_total + current_total)
    variance = pooled * (1 - pooled) * (1 / reference_total + 1 / current_total)
    if variance <= 0:
        return TestResult(0.0, 1.0)
    z = (p2 - p1) / math.sqrt(variance)
    return TestResult(z, float(2 * sps.norm.sf(abs(z))))


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
    values = np.sort(np.asarray(sample, dtype=np.float64))
    n = values.size
    if n < 2 or (population_size is not None and population_size <= n):
        return 0.0
    cdf = np.arange(1, n) / n
    j = float(np.sum(np.diff(values) * np.sqrt(cdf * (1 - cdf))))
    return j / math.sqrt(n)
