"""Importance estimation: binned mutual information, checked against scikit-learn and scipy."""

import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import mutual_info_score

from driftwarden.model.importance import (
    MIN_ROWS,
    codes,
    estimate_importance,
    given_importance,
    mutual_information,
    normalise,
)


@pytest.mark.parametrize(("kx", "ky", "n"), [(2, 2, 60), (10, 10, 5000), (7, 3, 999), (1, 4, 100)])
def test_plugin_mutual_information_equals_scikit_learn(kx, ky, n):
    rng = np.random.default_rng(kx * 100 + ky)
    x = rng.integers(0, kx, n)
    y = (x + rng.integers(0, ky, n)) % ky  # dependent, so the value is far from 0
    expected = mutual_info_score(x, y) / math.log(2)
    assert mutual_information(x, y).plugin == pytest.approx(expected, abs=1e-12)


def test_plugin_mutual_information_equals_scikit_learn_on_binned_columns():
    rng = np.random.default_rng(3)
    a = rng.normal(size=4000)
    y = np.tanh(a) + rng.normal(0, 0.5, a.size)
    ca, cy = codes(a, categorical=False), codes(y, categorical=False)
    assert mutual_information(ca, cy).plugin == pytest.approx(
        mutual_info_score(ca, cy) / math.log(2), abs=1e-12
    )


def test_miller_madow_correction_is_the_stated_formula():
    rng = np.random.default_rng(4)
    x, y = rng.integers(0, 6, 800), rng.integers(0, 4, 800)
    mi = mutual_information(x, y)
    cells = len(set(zip(x.tolist(), y.tolist(), strict=True)))
    bias = (5 + 3 - (cells - 1)) / (2 * 800 * math.log(2))
    assert mi.corrected == pytest.approx(max(mi.plugin + bias, 0.0), abs=1e-15)


def test_correction_removes_most_of_the_bias_of_independent_columns():
    rng = np.random.default_rng(5)
    plugin, corrected = [], []
    for _ in range(40):
        a, b = rng.normal(size=2000), rng.normal(size=2000)
        mi = mutual_information(codes(a, categorical=False), codes(b, categorical=False))
        plugin.append(mi.plugin)
        corrected.append(mi.corrected)
    # Plug-in bias ≈ 81 / (2 · 2000 · ln 2) = 0.029 bits; corrected is ~10x smaller.
    assert np.mean(plugin) > 0.02
    assert np.mean(corrected) < 0.004


def test_numerical_codes_are_equal_frequency_bins_with_a_code_for_non_finite_values():
    rng = np.random.default_rng(6)
    values = rng.normal(size=1000)
    values[:50] = np.nan
    values[50:60] = np.inf
    out = codes(values, categorical=False, bins=10)
    assert set(out[:60].tolist()) == {10}
    counts = np.bincount(out[60:], minlength=10)
    assert counts.size == 10 and counts.min() >= 93 and counts.max() <= 95
    # Order is kept: a larger value never gets a lower bin.
    order = np.argsort(values[60:])
    assert np.all(np.diff(out[60:][order]) >= 0)


def test_categorical_codes_keep_nulls_apart():
    out = codes(["a", None, "b", "a", None], categorical=True)
    assert out[0] == out[3] and out[1] == out[4] and len(set(out.tolist())) == 3


def test_repeated_values_give_fewer_bins():
    out = codes(np.repeat([1.0, 2.0, 3.0], 100), categorical=False, bins=10)
    assert len(set(out.tolist())) == 3


def test_estimate_ranks_the_feature_the_output_depends_on():
    rng = np.random.default_rng(7)
    n = 5000
    a, b = rng.normal(size=n), rng.normal(size=n)
    segment = rng.choice(np.array(["x", "y", "z"]), n)
    prediction = 1 / (1 + np.exp(-(a + 2 * (segment == "z")))) + rng.normal(0, 0.02, n)
    imp = estimate_importance(
        {"a": (a, False), "b": (b, False), "segment": (segment, True)},
        prediction,
        against_name="score",
        against_categorical=False,
    )
    assert imp is not None and imp.method == "mutualInformation"
    assert imp.against == "score" and imp.rows == n and imp.bins == 10
    assert imp.weights["a"] > 0.6
    assert imp.weights["segment"] > 0.1
    assert imp.weights["b"] < 0.02
    assert sum(imp.weights.values()) == pytest.approx(1.0)


def test_estimate_sees_a_u_shaped_dependence_that_spearman_misses():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=4000), rng.normal(size=4000)
    prediction = a**2 + 0.3 * b
    assert abs(sps.spearmanr(a, prediction).statistic) < 0.05
    imp = estimate_importance(
        {"a": (a, False), "b": (b, False)},
        prediction,
        against_name="y",
        against_categorical=False,
    )
    assert imp is not None and imp.weights["a"] > imp.weights["b"]


def test_estimate_against_a_class_label():
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=3000), rng.normal(size=3000)
    label = np.where(a > 0.5, "churn", "stay")
    imp = estimate_importance(
        {"a": (a, False), "b": (b, False)}, label, against_name="label", against_categorical=True
    )
    assert imp is not None and imp.weights["a"] > 0.95


def test_too_few_rows_estimate_nothing():
    x = np.arange(MIN_ROWS - 1, dtype=float)
    assert (
        estimate_importance({"x": (x, False)}, x, against_name="y", against_categorical=False)
        is None
    )


def test_given_weights_are_normalised_and_unlisted_features_weigh_nothing():
    imp = given_importance({"a": 3.0, "b": 1.0}, ["a", "b", "c"])
    assert imp.weights == {"a": 0.75, "b": 0.25, "c": 0.0}
    assert imp.raw["a"] == 3.0 and imp.method == "given" and imp.against is None


def test_normalise_refuses_negative_and_non_finite_weights():
    with pytest.raises(ValueError, match="'a'"):
        normalise({"a": -1.0})
    with pytest.raises(ValueError, match="'b'"):
        normalise({"b": math.nan})
    assert normalise({"a": 0.0}) == {"a": 0.0}


def test_misaligned_rows_are_refused():
    with pytest.raises(ValueError, match="aligned"):
        mutual_information(np.zeros(3, dtype=np.intp), np.zeros(4, dtype=np.intp))
