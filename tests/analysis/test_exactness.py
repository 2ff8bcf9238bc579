"""On data that fits the profile, reported scores equal scipy on the raw data (1e-9);
on larger data they stay within the error bound the report states."""

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial import distance

from driftwarden.analysis.settings import AnalysisSettings, parse_detection

from .helpers import compare


def test_numerical_scores_equal_scipy_on_small_data():
    rng = np.random.default_rng(10)
    a, b = rng.normal(size=4000), rng.normal(0.2, 1.3, size=3000)
    features, _, _ = compare({"x": a}, {"x": b})
    x = features["x"]
    assert x["exact"] and x["errorBound"] is None
    assert x["scores"]["ks"] == pytest.approx(sps.ks_2samp(a, b).statistic, abs=1e-9)
    assert x["scores"]["wasserstein"] == pytest.approx(
        sps.wasserstein_distance(a, b) / a.std(), abs=1e-9
    )
    edges = np.array(x["distribution"]["edges"])
    bins = np.concatenate(([-np.inf], edges, [np.inf]))
    p, q = np.histogram(a, bins)[0], np.histogram(b, bins)[0]
    assert x["scores"]["jensenshannon"] == pytest.approx(
        distance.jensenshannon(p, q, base=2), abs=1e-9
    )


def test_ks_p_value_equals_scipy_on_small_data():
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=800), rng.normal(0.1, 1, size=900)
    settings = AnalysisSettings(
        detection=parse_detection({"numerical": {"method": "ks"}, "correction": "none"})
    )
    features, _, _ = compare({"x": a}, {"x": b}, settings)
    expected = sps.ks_2samp(a, b)
    assert features["x"]["score"] == pytest.approx(expected.statistic, abs=1e-9)
    assert features["x"]["pValue"] == pytest.approx(expected.pvalue, abs=1e-9)


def test_chi_square_and_js_equal_scipy_on_category_counts():
    rng = np.random.default_rng(12)
    labels = np.array(list("abcdef"))
    a = rng.choice(labels, 3000, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
    b = rng.choice(labels, 2000)
    settings = AnalysisSettings(detection=parse_detection({"correction": "none"}))
    features, _, _ = compare({"c": a}, {"c": b}, settings)
    c = features["c"]
    table = np.array([[np.sum(a == v) for v in labels], [np.sum(b == v) for v in labels]])
    expected = sps.chi2_contingency(table, correction=False)
    assert c["scores"]["chisquare"] == pytest.approx(expected.statistic, abs=1e-9)
    assert c["significance"]["pValue"] == pytest.approx(expected.pvalue, abs=1e-9)
    assert c["scores"]["jensenshannon"] == pytest.approx(
        distance.jensenshannon(table[0], table[1], base=2), abs=1e-9
    )


@pytest.mark.parametrize("dist", ["normal", "lognormal", "discrete"])
def test_sampled_statistics_stay_within_the_stated_bound(dist):
    rng = np.random.default_rng(13)
    n = 400_000
    draw = {
        "normal": lambda shift: rng.normal(shift, 1, n),
        "lognormal": lambda shift: rng.lognormal(shift, 1, n),
        "discrete": lambda shift: rng.poisson(3 + shift, n).astype(float),
    }[dist]
    a, b = draw(0.0), draw(0.1)
    features, _, _ = compare({"x": a}, {"x": b})  # default sample size: 32768
    x = features["x"]
    assert not x["exact"]
    bound = x["errorBound"]
    assert abs(x["scores"]["ks"] - sps.ks_2samp(a, b).statistic) <= bound["ks"]
    exact_w = sps.wasserstein_distance(a, b) / a.std()
    assert abs(x["scores"]["wasserstein"] - exact_w) <= bound["wasserstein"]
    assert bound["ks"] < 0.025 and bound["wasserstein"] < 0.06
