"""PCA reconstruction-error drift: exact against scikit-learn, catches joint-only changes,
quiet on random splits."""

import numpy as np
import pytest

from driftwarden.stats import ks_test
from driftwarden.stats.multivariate import (
    MIN_ROWS,
    fit_pca,
    ks_asymptotic,
    pca_drift,
    reconstruction_errors,
    split_reference,
)

sklearn_decomposition = pytest.importorskip("sklearn.decomposition")


def _correlated(rng: np.random.Generator, rows: int, rho: float, extra: int = 2) -> np.ndarray:
    x = rng.normal(size=rows)
    y = rho * x + np.sqrt(1 - rho * rho) * rng.normal(size=rows)
    return np.column_stack([x, y, *(rng.normal(size=rows) for _ in range(extra))])


@pytest.mark.parametrize("variance", [0.5, 0.9, 0.99])
def test_reconstruction_errors_equal_scikit_learn(variance: float) -> None:
    rng = np.random.default_rng(7)
    rows = _correlated(rng, 1500, 0.7, extra=4) * [1, 3, 0.1, 10, 1, 2] + [0, 5, -2, 100, 0, 1]
    other = _correlated(rng, 800, -0.3, extra=4)
    model = fit_pca(rows, variance)
    scaled = (rows - rows.mean(axis=0)) / rows.std(axis=0)
    pca = sklearn_decomposition.PCA(n_components=model.components.shape[0], svd_solver="full")
    pca.fit(scaled)
    for data in (rows, other):
        z = (data - rows.mean(axis=0)) / rows.std(axis=0)
        expected = ((z - pca.inverse_transform(pca.transform(z))) ** 2).sum(axis=1)
        np.testing.assert_allclose(reconstruction_errors(model, data), expected, rtol=0, atol=1e-9)
    assert model.explained == pytest.approx(pca.explained_variance_ratio_.sum(), abs=1e-12)
    assert model.explained >= variance or model.components.shape[0] == rows.shape[1] - 1


def test_components_stop_one_short_of_every_feature() -> None:
    rng = np.random.default_rng(1)
    model = fit_pca(rng.normal(size=(500, 3)), variance=1.0)
    assert model.components.shape == (2, 3)


def test_a_constant_feature_keeps_scale_one() -> None:
    rows = np.column_stack([np.arange(100.0), np.full(100, 5.0), np.arange(100.0) ** 0.5])
    model = fit_pca(rows)
    assert model.scale[1] == 1.0
    assert np.isfinite(reconstruction_errors(model, rows)).all()


def test_correlation_flip_with_unchanged_marginals_is_caught() -> None:
    rng = np.random.default_rng(3)
    reference = _correlated(rng, 4096, 0.9)
    current = _correlated(rng, 4096, -0.9)
    for column in range(reference.shape[1]):  # every marginal: the same distribution
        assert ks_test(reference[:, column], current[:, column]).pvalue > 0.01
    result = pca_drift(reference, current)
    assert result.pvalue < 1e-10
    assert result.current_error > 3 * result.reference_error
    # The KS test is the one of the two error samples.
    model = fit_pca(split_reference(reference)[0])
    expected = ks_asymptotic(
        reconstruction_errors(model, split_reference(reference)[1]),
        reconstruction_errors(model, current),
    )
    assert (result.statistic, result.pvalue) == (expected.statistic, expected.pvalue)


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05, 0.1])
def test_ks_asymptotic_equals_scipy_and_stays_near_the_exact_p_value(shift: float) -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(int(shift * 100))
    a, b = rng.gamma(2, size=2048), rng.gamma(2, size=4096) * (1 + shift)
    mine = ks_asymptotic(a, b)
    scipy_asymp = stats.ks_2samp(a, b, method="asymp")
    assert mine.statistic == pytest.approx(scipy_asymp.statistic, abs=1e-12)
    assert mine.pvalue == pytest.approx(scipy_asymp.pvalue, abs=1e-9)
    # The stated bound against the exact p-value (the per-feature tests' path), at the
    # detector's default sizes: under 0.01.
    assert abs(mine.pvalue - ks_test(a, b).pvalue) < 0.01


def test_random_splits_of_one_dataset_stay_quiet() -> None:
    rng = np.random.default_rng(11)
    pvalues = []
    for _ in range(100):
        data = _correlated(rng, 6000, 0.6)
        side = rng.random(6000) < 0.5
        pvalues.append(pca_drift(data[side], data[~side]).pvalue)
    # A valid test: p-values of a true null are uniform, so about 1 in 100 falls below 0.01.
    assert sum(p < 0.01 for p in pvalues) <= 4
    assert 0.3 < float(np.median(pvalues)) < 0.7


def test_too_few_rows_is_refused_with_the_counts() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=f"at least {MIN_ROWS} complete rows"):
        pca_drift(rng.normal(size=(30, 2)), rng.normal(size=(500, 2)))
    with pytest.raises(ValueError, match="at least 2 features"):
        fit_pca(rng.normal(size=(30, 1)))
