"""Multivariate drift: PCA reconstruction error of whole rows, compared with a KS test.

Per-feature tests see each marginal distribution alone; a change in how features move
*together* (a correlation that flips sign, a new cluster between existing ones) can
leave every marginal as it was. The detector here learns the reference's joint
structure and measures how badly the current rows fit it:

1. The reference row sample (complete rows, in key order: profile/rows.py) is split
   by rank into a *fit* half (even ranks) and a *hold-out* half (odd ranks). The keys
   are uniform hashes, so the halves are independent uniform samples of the reference.
2. On the fit half: standardise each feature (mean, population standard deviation;
   a constant feature keeps scale 1) and take the principal components (eigenvectors
   of the standardised scatter matrix) that explain ``variance`` of the total, at least one and at most
   ``d - 1`` of ``d`` features (with all ``d`` every row is reconstructed exactly and
   nothing could be detected).
3. Each row's reconstruction error is the squared distance between its standardised
   values and their projection on those components.
4. The errors of the hold-out rows and of the current rows are compared with the
   two-sample Kolmogorov–Smirnov test, asymptotic p-value (:func:`ks_asymptotic`,
   scipy's ``ks_2samp(method="asymp")``). Under no drift both are errors of
   rows the model never saw, drawn from one distribution, so the p-value is valid;
   errors of the fit rows would be biased low, which is why the reference is split.

Why PCA and not a domain classifier: it needs no training loop, no hyper-parameters
beyond the explained variance, no dependency beyond numpy, and it is deterministic;
the eigen-decomposition of a 32×32 matrix takes well under a millisecond. A linear
domain classifier cannot see a correlation flip at all (both distributions have the
same mean), and a non-linear one costs orders of magnitude more per run. What PCA
misses: changes that stay inside the reference's principal subspace *and* keep the
marginals (rare, and the per-feature tests see most of those), and structure that is
not linear. docs/statistics.md has the tests and the measured power.

Checked against scikit-learn's ``PCA`` (tests/stats/test_multivariate.py): the same
reconstruction errors to 1e-9; the KS test against scipy's ``ks_2samp(method="asymp")``
to 1e-9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftwarden.stats.kolmogorov import kolmogorov_sf
from driftwarden.stats.results import TestResult

# Fewer rows than this on a side (hold-out or current) and the test is not run.
MIN_ROWS = 20
DEFAULT_VARIANCE = 0.9


@dataclass(frozen=True)
class PcaModel:
    """Standardisation and principal components fitted on the reference's fit half."""

    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    components: NDArray[np.float64]  # (k, d), orthonormal rows
    explained: float  # share of the standardised variance the components explain


@dataclass(frozen=True)
class MultivariateResult:
    """The detector's outcome: KS on reconstruction errors, and what it was computed on."""

    statistic: float  # KS distance between the two error distributions
    pvalue: float
    components: int
    explained: float
    reference_error: float  # mean reconstruction error of the hold-out rows
    current_error: float  # mean reconstruction error of the current rows
    fit_rows: int
    holdout_rows: int
    current_rows: int


def fit_pca(rows: ArrayLike, variance: float = DEFAULT_VARIANCE) -> PcaModel:
    """Fit standardisation and the principal components explaining ``variance``.

    ``rows`` is ``(n, d)`` with ``d >= 2`` and ``n >= 2``, all finite. Components are
    those of ``sklearn.decomposition.PCA`` on the standardised rows (signs aside, which a
    reconstruction does not depend on).
    """
    matrix = np.asarray(rows, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] < 2 or matrix.shape[0] < 2:
        raise ValueError(f"PCA needs at least 2 rows of at least 2 features, got {matrix.shape}")
    if not 0 < variance <= 1:
        raise ValueError(f"variance must be in (0, 1], got {variance}")
    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature: any change of it is a large error
    centred = (matrix - mean) / scale
    # The components are the eigenvectors of the d×d scatter matrix (those of the SVD of
    # ``centred``). einsum and a d×d eigh, not an SVD of the n×d matrix: BLAS/LAPACK's
    # threads fight Arrow's on small machines (measured here: a 2,048×20 SVD took
    # 50–700 ms under load, this 2–5 ms), as profile/numeric.py found for np.dot.
    scatter = np.einsum("ij,ik->jk", centred, centred)
    energy, vectors = np.linalg.eigh(scatter)
    order = np.argsort(energy)[::-1]
    energy, vectors = np.clip(energy[order], 0.0, None), vectors[:, order]
    total = float(energy.sum())
    ratios = np.cumsum(energy) / total if total > 0 else np.ones_like(energy)
    # The smallest k reaching ``variance`` (a tolerance for ratios that round just below).
    k = int(np.searchsorted(ratios, variance - 1e-12) + 1)
    k = min(max(k, 1), matrix.shape[1] - 1)
    return PcaModel(mean, scale, np.ascontiguousarray(vectors[:, :k].T), float(ratios[k - 1]))


def reconstruction_errors(model: PcaModel, rows: ArrayLike) -> NDArray[np.float64]:
    """Squared distance of each standardised row from its projection on the components."""
    matrix = (np.asarray(rows, dtype=np.float64) - model.mean) / model.scale
    projected = np.einsum("ij,kj->ik", matrix, model.components)
    reconstructed = np.einsum("ik,kj->ij", projected, model.components)
    residual = matrix - reconstructed
    return np.einsum("ij,ij->i", residual, residual)


def ks_asymptotic(reference: ArrayLike, current: ArrayLike) -> TestResult:
    """Two-sample KS statistic with the asymptotic p-value (scipy's ``ks_2samp(method="asymp")``).

    The exact p-value (what the per-feature tests use up to 10,000 values a side) took
    65–140 ms at 2,048 vs 4,096 rows, most of the detector's cost; the asymptotic one takes
    0.1 ms and at these sizes differs from it by less than 0.01 (tests/stats/test_multivariate.py).
    """
    a = np.sort(np.asarray(reference, dtype=np.float64))
    b = np.sort(np.asarray(current, dtype=np.float64))
    if a.size == 0 or b.size == 0:
        raise ValueError("KS test needs at least one value on each side")
    both = np.concatenate([a, b])
    gap = np.searchsorted(a, both, side="right") / a.size
    gap -= np.searchsorted(b, both, side="right") / b.size
    statistic = float(np.max(np.abs(gap)))
    m, n = float(a.size), float(b.size)
    pvalue = kolmogorov_sf(int(np.round(m * n / (m + n))), statistic)
    return TestResult(statistic, float(np.clip(pvalue, 0.0, 1.0)))


def split_reference(rows: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The fit half (even ranks) and the hold-out half (odd ranks) of a key-ordered sample."""
    matrix = np.asarray(rows, dtype=np.float64)
    return matrix[0::2], matrix[1::2]


def pca_drift(
    reference: ArrayLike, current: ArrayLike, variance: float = DEFAULT_VARIANCE
) -> MultivariateResult:
    """Compare ``current`` rows with ``reference`` rows (in key order) as the module says.

    Raises ValueError when a side has fewer than :data:`MIN_ROWS` rows to compare (the
    fit half needs as many) or the features number fewer than two.
    """
    fit, holdout = split_reference(reference)
    rows = np.asarray(current, dtype=np.float64)
    if min(fit.shape[0], holdout.shape[0], rows.shape[0]) < MIN_ROWS:
        raise ValueError(
            f"multivariate drift needs at least {MIN_ROWS} complete rows on each side "
            f"(reference fit/hold-out: {fit.shape[0]}/{holdout.shape[0]}, current: {rows.shape[0]})"
        )
    model = fit_pca(fit, variance)
    reference_errors = reconstruction_errors(model, holdout)
    current_errors = reconstruction_errors(model, rows)
    test = ks_asymptotic(reference_errors, current_errors)
    return MultivariateResult(
        statistic=test.statistic,
        pvalue=test.pvalue,
        components=int(model.components.shape[0]),
        explained=model.explained,
        reference_error=float(reference_errors.mean()),
        current_error=float(current_errors.mean()),
        fit_rows=int(fit.shape[0]),
        holdout_rows=int(holdout.shape[0]),
        current_rows=int(rows.shape[0]),
    )
