"""The three distribution functions the tests need, on the standard library and numpy.

``scipy.special`` alone costs about half a second to import (it loads scipy's array-API
layer), as much as the rest of a small analysis; these are all the analysis uses of it.
Each matches scipy to ~1e-12 (tests/stats/test_against_scipy.py pins 1e-9):

* :func:`normal_sf` — ``scipy.special.ndtr(-z)``, via ``math.erfc``;
* :func:`chi2_sf` — ``scipy.special.chdtrc``: the regularized upper incomplete gamma
  function Q(k/2, x/2), by its series below a + 1 and Lentz's continued fraction above
  (Numerical Recipes §6.2);
* :func:`smirnov` — ``scipy.special.smirnov``: P(D⁺_n ≥ x) of the one-sided
  one-sample KS statistic, by the Birnbaum–Tingey sum, evaluated in logarithms.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-16
_TINY = 1e-300
_MAX_ITERATIONS = 100_000


def normal_sf(z: float) -> float:
    """P(Z ≥ z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def chi2_sf(df: float, x: float) -> float:
    """P(X ≥ x) for a chi-square variable with ``df`` degrees of freedom."""
    if df <= 0 or math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    a, y = df / 2.0, x / 2.0
    if y < a + 1.0:
        return max(0.0, 1.0 - _lower_gamma_series(a, y))
    return _upper_gamma_fraction(a, y)


def _prefactor(a: float, y: float) -> float:
    return math.exp(-y + a * math.log(y) - math.lgamma(a))


def _lower_gamma_series(a: float, y: float) -> float:
    """P(a, y) = e^−y y^a / Γ(a+1) · Σ y^n / ((a+1)…(a+n))."""
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITERATIONS):
        denominator += 1.0
        term *= y / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * _prefactor(a, y)


def _upper_gamma_fraction(a: float, y: float) -> float:
    """Q(a, y) by the continued fraction 1/(y+1−a− 1·(1−a)/(y+3−a− …)), modified Lentz."""
    b = y + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h * _prefactor(a, y)


def smirnov(n: int, x: float) -> float:
    """P(D⁺_n ≥ x), exactly: x Σ_{j=0}^{⌊n(1−x)⌋} C(n, j) (1 − x − j/n)^{n−j} (x + j/n)^{j−1}."""
    if n < 1 or math.isnan(x):
        return math.nan
    if x <= 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    last = math.floor(n * (1.0 - x))
    j = np.arange(last + 1, dtype=np.float64)
    # log C(n, j) as a running sum of log((n − j + 1) / j): one pass, no lgamma per term.
    log_binomial = np.zeros(last + 1)
    if last >= 1:
        k = j[1:]
        log_binomial[1:] = np.cumsum(np.log((n - k + 1.0) / k))
    below = 1.0 - x - j / n
    with np.errstate(divide="ignore"):
        log_terms = (
            log_binomial + (n - j) * np.log(np.maximum(below, 0.0)) + (j - 1) * np.log(x + j / n)
        )
    terms = np.exp(log_terms)
    return float(min(max(x * terms.sum(), 0.0), 1.0))
