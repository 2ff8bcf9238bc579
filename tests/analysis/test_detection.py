"""The defaults stay quiet on undrifted data at any size and catch real shifts."""

import numpy as np
import pyarrow as pa
import pytest

from driftwarden.analysis.compare import compare_profiles, edges_for
from driftwarden.analysis.settings import AnalysisSettings, parse_detection
from driftwarden.profile import ColumnPlan, ProfileOptions, empty_profile
from driftwarden.profile.sampling import RowKeys

from .helpers import CAT0_TO_20, compare, synthetic


@pytest.mark.parametrize("n", [10, 100, 1000, 100_000])
def test_defaults_stay_quiet_on_undrifted_data(n):
    runs = 30 if n <= 1000 else 5
    drifted_runs, drifted_features = 0, 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        features, _, verdict = compare(synthetic(rng, n), synthetic(rng, n))
        drifted_runs += verdict.drifted
        drifted_features += sum(f["drifted"] for f in features.values())
    assert drifted_runs == 0
    # Bonferroni keeps the family-wise rate near 5%: at most a few single features over all runs.
    assert drifted_features <= max(2, runs * 7 * 0.02)


def _profile_in_shards(draw, rows: int, shard: int, edges=None):
    """Profile ``rows`` rows of one numerical (x) and one categorical (c) column, shard by shard."""
    plan = [ColumnPlan("x", "numerical"), ColumnPlan("c", "categorical")]
    profile = empty_profile(plan, ProfileOptions(), edges)
    rng_sample = RowKeys(0)
    dictionary = pa.array([f"cat{i}" for i in range(10)])
    for start in range(0, rows, shard):
        x, codes = draw(min(shard, rows - start))
        profile.columns["x"].update(pa.array(x), rng_sample)
        profile.columns["c"].update(
            pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), dictionary)
        )
        profile.rows += x.size
    return profile


@pytest.mark.slow
def test_defaults_stay_quiet_at_10_to_the_8_rows():
    rows, shard = 10**8, 2_000_000
    rng = np.random.default_rng(123)

    def draw(n):
        # Tiny, practically irrelevant differences are what real undrifted data has at this size.
        return rng.standard_normal(n), rng.integers(0, 10, n, dtype=np.int8)

    reference = _profile_in_shards(draw, rows, shard)
    current = _profile_in_shards(draw, rows, shard, edges_for(reference, 10))
    features, _, verdict = compare_profiles(reference, current, AnalysisSettings())
    assert current.rows == rows
    assert not verdict.drifted
    assert not any(f["drifted"] for f in features)
    # With 10^8 rows a p-value-only rule would flag anything; the effect sizes stay at the
    # noise of two 32,768-value samples (Wasserstein/σ: mean 0.010, 99th percentile 0.023
    # over 300 draws of N(0,1)), far below the 0.1 threshold.
    assert all(f["score"] < 0.04 for f in features)


@pytest.mark.parametrize("n", [1000, 100_000])
def test_quarter_sigma_mean_shift_is_caught(n):
    rng = np.random.default_rng(1)
    features, _, _ = compare(synthetic(rng, n), synthetic(rng, n, shift=0.25))
    assert features["x0"]["drifted"] and features["x0"]["reason"] == "distribution"
    assert not any(f["drifted"] for name, f in features.items() if name != "x0")


@pytest.mark.parametrize("n", [1000, 100_000])
def test_doubled_variance_is_caught(n):
    rng = np.random.default_rng(2)
    features, _, _ = compare(synthetic(rng, n), synthetic(rng, n, scale=np.sqrt(2)))
    assert features["x0"]["drifted"]


@pytest.mark.parametrize("n", [5000, 100_000])
def test_category_share_from_10_to_20_percent_is_caught(n):
    rng = np.random.default_rng(3)
    features, _, _ = compare(synthetic(rng, n), synthetic(rng, n, cat_p=CAT0_TO_20))
    assert features["c0"]["drifted"] and features["c0"]["method"] == "jensenshannon"
    assert features["c0"]["score"] > 0.1


@pytest.mark.parametrize("n", [1000, 100_000])
def test_null_rate_jump_is_caught_even_when_values_look_the_same(n):
    rng = np.random.default_rng(4)
    features, _, _ = compare(synthetic(rng, n, null_rate=0.01), synthetic(rng, n, null_rate=0.15))
    x0 = features["x0"]
    assert x0["drifted"] and x0["reason"] == "missing"
    assert x0["missing"]["reference"] == pytest.approx(0.01, abs=0.01)
    assert x0["missing"]["current"] == pytest.approx(0.15, abs=0.02)


def test_tiny_samples_with_large_noise_stay_quiet_thanks_to_the_significance_gate():
    rng = np.random.default_rng(5)
    features, _, _ = compare({"x": rng.normal(size=6)}, {"x": rng.normal(size=6) + 0.5})
    assert features["x"]["score"] > 0.1  # the effect size alone would flag it
    assert not features["x"]["drifted"]


def test_p_value_methods_use_corrected_p_values():
    rng = np.random.default_rng(6)
    settings = AnalysisSettings(
        detection=parse_detection(
            {
                "numerical": {"method": "ks", "threshold": 0.05},
                "categorical": {"method": "chisquare"},
            }
        )
    )
    features, _, _ = compare(synthetic(rng, 5000), synthetic(rng, 5000, shift=0.3), settings)
    x0 = features["x0"]
    assert x0["method"] == "ks" and x0["drifted"] and x0["pValue"] < 0.05
    assert 0 < x0["score"] < 1  # the KS statistic
    assert features["c0"]["method"] == "chisquare" and features["c0"]["pValue"] is not None


def test_overrides_apply_to_one_feature():
    rng = np.random.default_rng(7)
    settings = AnalysisSettings(
        detection=parse_detection({"overrides": [{"feature": "x1", "method": "psi"}]})
    )
    features, _, _ = compare(synthetic(rng, 2000), synthetic(rng, 2000), settings)
    assert features["x1"]["method"] == "psi" and features["x1"]["threshold"] == 0.2
    assert features["x2"]["method"] == "wasserstein"


def test_features_come_most_drifted_first():
    rng = np.random.default_rng(8)
    features, _, verdict = compare(
        synthetic(rng, 5000), synthetic(rng, 5000, shift=1.0, cat_p=CAT0_TO_20)
    )
    ordered = list(features)
    assert set(ordered[:2]) == {"x0", "c0"}
    assert verdict.drifted_features == 2 and verdict.total_features == 7
    assert not verdict.drifted  # 2/7 < 0.5
