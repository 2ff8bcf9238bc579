"""One sample-size policy for every test, and raw p-values beside the corrected ones."""

import numpy as np
import pytest
from scipy import stats as sps

from driftwarden.analysis.settings import AnalysisSettings, parse_detection
from tests.analysis.helpers import CATEGORIES, compare

P_VALUE_METHODS = parse_detection(
    {"numerical": {"method": "ks"}, "categorical": {"method": "chisquare"}}
)


def test_chi_square_runs_on_counts_scaled_to_the_sample_size():
    rng = np.random.default_rng(50)
    n, sample_size = 20_000, 1_000
    a = rng.choice(CATEGORIES[:5], n)
    b = rng.choice(CATEGORIES[:5], n, p=[0.24, 0.19, 0.19, 0.19, 0.19])
    settings = AnalysisSettings(detection=P_VALUE_METHODS)
    features, _, _ = compare({"c": a}, {"c": b}, settings, sample_size=sample_size)
    table = np.array(
        [[np.sum(a == v) for v in CATEGORIES[:5]], [np.sum(b == v) for v in CATEGORIES[:5]]]
    )
    expected = sps.chi2_contingency(table * (sample_size / n), correction=False)
    assert features["c"]["rawPValue"] == pytest.approx(expected.pvalue, abs=1e-9)
    assert features["c"]["score"] == pytest.approx(expected.statistic, rel=1e-9)


def test_a_half_point_category_move_at_large_n_is_not_significant_any_more():
    """At 400k rows a share moving 10% → 10.5% was 'significant' on exact counts
    (p ≈ 1e-13) though KS on the numbers' 32,768-value sample would not see a move
    of that size; chi-square now sees at most sampleSize observations a side too."""
    rng = np.random.default_rng(51)
    n = 400_000
    p_cur = np.array([0.105] + [0.895 / 9] * 9)
    reference = {"c": rng.choice(CATEGORIES, n)}
    current = {"c": rng.choice(CATEGORIES, n, p=p_cur)}
    features, _, verdict = compare(reference, current, AnalysisSettings(detection=P_VALUE_METHODS))
    table = np.array(
        [
            [np.sum(reference["c"] == v) for v in CATEGORIES],
            [np.sum(current["c"] == v) for v in CATEGORIES],
        ]
    )
    assert sps.chi2_contingency(table, correction=False).pvalue < 1e-6  # on exact counts
    assert not features["c"]["drifted"], features["c"]["pValue"]
    assert verdict.drifted_features == 0


def test_a_real_move_still_drifts_under_the_policy():
    rng = np.random.default_rng(52)
    n = 400_000
    p_cur = np.array([0.15] + [0.85 / 9] * 9)
    reference = {"c": rng.choice(CATEGORIES, n)}
    current = {"c": rng.choice(CATEGORIES, n, p=p_cur)}
    features, _, _ = compare(reference, current, AnalysisSettings(detection=P_VALUE_METHODS))
    assert features["c"]["drifted"] and features["c"]["pValue"] < 1e-6


def test_raw_and_corrected_p_values_are_both_reported():
    rng = np.random.default_rng(53)
    n = 3000
    columns = {f"x{i}": rng.normal(0, 1, n) for i in range(4)}
    shifted = {f"x{i}": rng.normal(0.1 * i, 1, n) for i in range(4)}
    shifted["x0"][:300] = np.nan
    features, _, _ = compare(columns, shifted, AnalysisSettings(detection=P_VALUE_METHODS))
    for name, f in features.items():
        expected = sps.ks_2samp(columns[name], shifted[name][~np.isnan(shifted[name])])
        assert f["rawPValue"] == pytest.approx(expected.pvalue, abs=1e-9)
        assert f["pValue"] == pytest.approx(min(1.0, 4 * f["rawPValue"]), abs=1e-12)
        assert f["missing"]["pValue"] == pytest.approx(
            min(1.0, 4 * f["missing"]["rawPValue"]), abs=1e-12
        )
    gated, _, _ = compare(columns, shifted)  # default: Wasserstein gated by KS
    for name, f in gated.items():
        significance = f["significance"]
        assert f["rawPValue"] is None and f["pValue"] is None
        assert significance["rawPValue"] == pytest.approx(features[name]["rawPValue"], abs=1e-12)
        assert significance["pValue"] == pytest.approx(
            min(1.0, 4 * significance["rawPValue"]), abs=1e-12
        )
