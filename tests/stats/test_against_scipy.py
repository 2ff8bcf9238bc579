"""Every statistic agrees with scipy on the same data (to 1e-9)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial import distance

from driftwarden import stats

RNG = np.random.default_rng(7)


def _counts(size: int) -> tuple[np.ndarray, np.ndarray]:
    return RNG.integers(1, 500, size).astype(float), RNG.integers(1, 500, size).astype(float)


@pytest.mark.parametrize("size", [2, 5, 40])
def test_jensenshannon_equals_scipy_base2(size):
    p, q = _counts(size)
    assert stats.jensenshannon(p, q) == pytest.approx(
        distance.jensenshannon(p, q, base=2), abs=1e-9
    )


def test_jensenshannon_with_empty_bins_equals_scipy():
    p, q = np.array([5.0, 0, 3, 2]), np.array([0.0, 4, 3, 3])
    assert stats.jensenshannon(p, q) == pytest.approx(
        distance.jensenshannon(p, q, base=2), abs=1e-9
    )


def test_kl_equals_scipy_entropy_when_no_bin_is_below_the_floor():
    p, q = _counts(12)
    assert stats.kl_divergence(p, q) == pytest.approx(sps.entropy(q, p), abs=1e-9)


def test_psi_is_symmetrised_kl():
    p, q = _counts(10)
    assert stats.psi(p, q) == pytest.approx(sps.entropy(q, p) + sps.entropy(p, q), abs=1e-9)


def test_hellinger_and_tvd_match_their_definitions():
    p, q = _counts(8)
    pp, qq = p / p.sum(), q / q.sum()
    assert stats.hellinger(p, q) == pytest.approx(
        np.sqrt(0.5) * np.linalg.norm(np.sqrt(pp) - np.sqrt(qq)), abs=1e-9
    )
    assert stats.total_variation(p, q) == pytest.approx(0.5 * np.abs(pp - qq).sum(), abs=1e-12)


def test_identical_distributions_score_zero():
    p = np.array([1.0, 2, 3])
    for fn in (
        stats.psi,
        stats.kl_divergence,
        stats.jensenshannon,
        stats.hellinger,
        stats.total_variation,
    ):
        assert fn(p, p * 7) == pytest.approx(0.0, abs=1e-7)


def test_psi_stays_finite_when_a_bin_empties():
    assert np.isfinite(stats.psi([10, 10, 0], [10, 0, 10]))


@pytest.mark.parametrize("n,m", [(50, 70), (900, 1200), (20000, 15000)])
def test_ks_equals_scipy(n, m):
    a, b = RNG.normal(size=n), RNG.normal(0.1, 1.1, size=m)
    ours, theirs = stats.ks_test(a, b), sps.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-9)
    assert ours.pvalue == pytest.approx(theirs.pvalue, abs=1e-9)


def test_wasserstein_equals_scipy_divided_by_scale():
    a, b = RNG.normal(size=3000), RNG.exponential(size=2000)
    assert stats.wasserstein(a, b, 2.5) == pytest.approx(
        sps.wasserstein_distance(a, b) / 2.5, abs=1e-9
    )


def test_chi_square_equals_chi2_contingency():
    p, q = _counts(6)
    ours = stats.chi_square_test(p, q)
    theirs = sps.chi2_contingency(np.vstack([p, q]), correction=False)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-9)
    assert ours.pvalue == pytest.approx(theirs.pvalue, abs=1e-9)


def test_chi_square_drops_categories_empty_on_both_sides():
    with_empty = stats.chi_square_test([5, 0, 7, 3], [6, 0, 2, 9])
    without = sps.chi2_contingency(np.array([[5, 7, 3], [6, 2, 9]]), correction=False)
    assert with_empty.statistic == pytest.approx(without.statistic, abs=1e-9)


def test_chi_square_with_one_category_has_nothing_to_test():
    assert stats.chi_square_test([5, 0], [9, 0]) == stats.TestResult(0.0, 1.0)


def test_two_proportion_test_matches_the_normal_approximation():
    result = stats.two_proportion_test(30, 1000, 60, 1000)
    pooled = 90 / 2000
    z = (0.06 - 0.03) / np.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert result.statistic == pytest.approx(z)
    assert result.pvalue == pytest.approx(2 * sps.norm.sf(z))


def test_cohens_h_known_values():
    assert stats.cohens_h(0.5, 0.5) == 0
    assert stats.cohens_h(0.0, 1.0) == pytest.approx(np.pi)
    with pytest.raises(ValueError):
        stats.cohens_h(-0.1, 0.2)


def test_bonferroni_and_bh_match_scipy():
    p = RNG.uniform(0, 0.2, 17)
    assert np.allclose(stats.adjust_pvalues(p, "bonferroni"), np.minimum(p * 17, 1))
    assert np.allclose(
        stats.adjust_pvalues(p, "benjamini-hochberg"), sps.false_discovery_control(p)
    )
    assert np.allclose(stats.adjust_pvalues(p, "none"), p)
    with pytest.raises(ValueError, match="unknown correction"):
        stats.adjust_pvalues(p, "holm-ish")


def test_dataset_verdict_uses_share_threshold():
    assert stats.dataset_verdict([True, False], 0.5).drifted
    assert not stats.dataset_verdict([True, False, False], 0.5).drifted
    assert not stats.dataset_verdict([], 0.5).drifted
    assert stats.dataset_verdict([True, False, False], 0.3).drift_share == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "call",
    [
        lambda: stats.psi([0, 0], [1, 1]),
        lambda: stats.jensenshannon([1, 2], [1, 2, 3]),
        lambda: stats.hellinger([-1, 2], [1, 2]),
        lambda: stats.ks_test([], [1.0]),
        lambda: stats.wasserstein([1.0], [2.0], 0.0),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_dkw_bound_shrinks_with_sample_size():
    assert stats.dkw_bound(32768) == pytest.approx(np.sqrt(np.log(200) / 65536))
    assert stats.dkw_bound(100) > stats.dkw_bound(10000)


def _ks_cases():
    """Sizes and shapes that reach every branch of ks_2samp's p-value: exact with equal
    and unequal sizes, ties, the asymptotic path with small and large effective n."""
    rng = np.random.default_rng(11)
    cases = []
    for n, m in [(1, 1), (1, 7), (3, 3), (10, 10), (37, 23), (200, 200), (640, 480)]:
        for shift in (0.0, 0.3, 2.0):
            cases.append((rng.normal(size=n), rng.normal(shift, 1, size=m)))
    for n, m in [(10_000, 9_999), (10_000, 3_000), (4_000, 4_000)]:
        cases.append((rng.normal(size=n), rng.normal(0.05, 1, size=m)))
    ties = (np.round(rng.normal(size=700), 1), np.round(rng.normal(0.1, 1, size=900), 1))
    cases.append(ties)
    for n, m, shift in [
        (32_768, 32_768, 0.0),
        (32_768, 32_768, 0.02),
        (32_768, 20_000, 0.05),
        (32_768, 15, 0.0),  # effective n = 15: Durbin / Pomeranz / Miller region
        (32_768, 140, 0.3),
        (32_768, 60, 0.8),
        (20_000, 12_000, 0.5),
    ]:
        cases.append((rng.normal(size=n), rng.normal(shift, 1, size=m)))
    return cases


@pytest.mark.parametrize("a,b", _ks_cases())
def test_ks_exact_and_asymptotic_paths_equal_scipy(a, b):
    theirs = sps.ks_2samp(a, b)
    for ours in (stats.ks_test(a, b), stats.ks_test_sorted(np.sort(a), np.sort(b))):
        assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
        assert ours.pvalue == pytest.approx(theirs.pvalue, abs=1e-9)


def test_kolmogorov_distribution_equals_scipy_kstwo_everywhere():
    from driftwarden.stats.kolmogorov import kolmogorov_sf

    xs = np.concatenate([np.linspace(0, 1, 121), np.geomspace(1e-5, 0.5, 80)])
    for n in [1, 2, 5, 40, 140, 141, 1_000, 16_384, 150_000]:
        theirs = sps.kstwo.sf(xs, n)
        ours = [kolmogorov_sf(n, float(x)) for x in xs]
        assert np.allclose(ours, theirs, rtol=0, atol=1e-9), n


@pytest.mark.parametrize("n,m", [(1, 1), (5, 9), (3000, 2000), (32_768, 32_768)])
def test_wasserstein_sorted_equals_scipy_with_ties(n, m):
    a = np.round(RNG.normal(size=n), 1)
    b = np.round(RNG.exponential(size=m), 1)
    expected = sps.wasserstein_distance(a, b)
    assert stats.wasserstein_sorted(np.sort(a), np.sort(b), 1.0) == pytest.approx(
        expected, abs=1e-9
    )
    assert stats.wasserstein(a, b, 1.0) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("size", [2, 3, 12, 60])
def test_chi_square_p_values_equal_chi2_contingency_across_sizes(size):
    p, q = _counts(size)
    q[0] *= 3  # a real difference: small p-values must agree too
    ours = stats.chi_square_test(p, q)
    theirs = sps.chi2_contingency(np.vstack([p, q]), correction=False)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.pvalue == pytest.approx(theirs.pvalue, abs=1e-9)


def test_benjamini_hochberg_equals_scipy_with_ties_and_ones():
    p = np.concatenate([RNG.uniform(0, 1, 40), [0.01, 0.01, 1.0, 0.0]])
    assert np.allclose(
        stats.adjust_pvalues(p, "benjamini-hochberg"),
        sps.false_discovery_control(p),
        rtol=0,
        atol=1e-12,
    )


def test_ks_and_wasserstein_from_one_merge_equal_scipy():
    a, b = np.sort(RNG.normal(size=4000)), np.sort(RNG.normal(0.2, 1.3, size=3000))
    ks, w = stats.ks_and_wasserstein_sorted(a, b, 2.0)
    theirs = sps.ks_2samp(a, b)
    assert (ks.statistic, ks.pvalue) == pytest.approx((theirs.statistic, theirs.pvalue), abs=1e-9)
    assert w == pytest.approx(sps.wasserstein_distance(a, b) / 2.0, abs=1e-9)


def test_distribution_functions_equal_scipy_special():
    from scipy import special

    from driftwarden.stats.distributions import chi2_sf, normal_sf, smirnov

    for z in np.linspace(-38, 38, 761):
        assert normal_sf(z) == pytest.approx(special.ndtr(-z), abs=1e-15, rel=1e-12)
    for df in (1, 2, 3, 9, 49, 100, 1000):
        for x in np.concatenate([np.linspace(0, 3 * df + 30, 200), np.geomspace(1e-6, 1e4, 60)]):
            assert chi2_sf(df, x) == pytest.approx(special.chdtrc(df, x), abs=1e-12)
    for n in (1, 2, 5, 40, 140, 1000, 16_384, 100_000):
        for x in np.concatenate([np.linspace(0, 1, 101), np.geomspace(1e-5, 0.5, 60)]):
            assert smirnov(n, x) == pytest.approx(special.smirnov(n, x), abs=1e-9)


_small_samples = st.lists(st.integers(-4, 4), min_size=1, max_size=40).map(
    lambda values: np.array(values, dtype=np.float64) / 2
)


@settings(max_examples=300, deadline=None)
@given(_small_samples, _small_samples)
def test_ks_statistic_is_scipys_bit_for_bit_with_ties_everywhere(a, b):
    # Few distinct values: ties inside each sample and across the two, runs at either
    # end, one-value samples — every candidate of the binary-search form is reached.
    a, b = np.sort(a), np.sort(b)
    assert stats.ks_test_sorted(a, b).statistic == sps.ks_2samp(a, b).statistic
    assert stats.ks_test_sorted(b, a).statistic == sps.ks_2samp(b, a).statistic


@settings(max_examples=300, deadline=None)
@given(_small_samples, _small_samples)
def test_wasserstein_quantile_form_equals_scipy_with_ties_and_any_sizes(a, b):
    expected = sps.wasserstein_distance(a, b)
    assert stats.wasserstein_sorted(np.sort(a), np.sort(b), 1.0) == pytest.approx(
        expected, abs=1e-12
    )


@pytest.mark.parametrize(
    "n,m,shift",
    [(32_768, 32_768, 0.0), (32_768, 32_768, 0.3), (32_768, 32_767, 0.01), (5_000, 32_768, 1.0)],
)
def test_ks_and_wasserstein_at_sample_size_equal_scipy(n, m, shift):
    # The analysis' own case: two 32,768-value samples (equal sizes: the mean of
    # |a_i − b_i|) and nearly equal ones (the merged quantile grid).
    a = np.sort(RNG.normal(size=n))
    b = np.sort(np.round(RNG.normal(shift, 1.2, size=m), 2))  # ties within b and with a
    ks, w = stats.ks_and_wasserstein_sorted(a, b, 1.5)
    theirs = sps.ks_2samp(a, b)
    assert ks.statistic == theirs.statistic
    assert ks.pvalue == pytest.approx(theirs.pvalue, abs=1e-9)
    assert w == pytest.approx(sps.wasserstein_distance(a, b) / 1.5, abs=1e-9)


def test_ks_of_identical_and_of_disjoint_samples():
    a = np.sort(RNG.normal(size=500))
    assert stats.ks_test_sorted(a, a).statistic == 0.0
    assert stats.ks_test_sorted(a, a + 100).statistic == 1.0
    assert stats.ks_test_sorted(a + 100, a).statistic == 1.0
    assert stats.wasserstein_sorted(a, a, 1.0) == 0.0


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 6000),
    st.integers(1, 6000),
    st.sampled_from([0.0, 0.003, 0.05, 0.5, 3.0]),
    st.sampled_from([None, 3, 2, 1]),
)
def test_ks_statistic_through_the_grid_is_scipys_bit_for_bit(seed, n, m, shift, decimals):
    # Samples large enough for the coarse grid (more than 128 distinct values in b),
    # same or shifted distributions, with and without ties (rounded values): the
    # stretches the grid skips never hold the supremum.
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(shift, 1.0, size=m)
    if decimals is not None:
        a, b = np.round(a, decimals), np.round(b, decimals)
    a, b = np.sort(a), np.sort(b)
    assert stats.ks_test_sorted(a, b).statistic == sps.ks_2samp(a, b).statistic


@pytest.mark.parametrize("size", [2, 3, 10, 40])
def test_histogram_distances_are_the_five_functions_bit_for_bit(size):
    p, q = _counts(size)
    p[0] = 0.0  # an empty bin: the floor of PSI and KL is applied alike
    assert stats.histogram_distances(p, q) == {
        "psi": stats.psi(p, q),
        "kl": stats.kl_divergence(p, q),
        "jensenshannon": stats.jensenshannon(p, q),
        "hellinger": stats.hellinger(p, q),
        "tvd": stats.total_variation(p, q),
    }
