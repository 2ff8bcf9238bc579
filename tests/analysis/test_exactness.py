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


def test_high_cardinality_statistics_stay_within_the_stated_bound():
    """Past maxCategories (10,000; here ~25,000 Zipf labels a side) the category counts
    are count-min estimates: each reported share is at most errorBound.count / rows
    above the exact one (the rest bucket at most 50 times that below), and the scores
    are scipy's on the reported shares and within 0.01 of scipy's on the exact counts."""
    rng = np.random.default_rng(14)
    n = 300_000
    a = np.array([f"u{v}" for v in rng.zipf(1.3, n)], dtype=object)
    b = np.array([f"u{v}" for v in rng.zipf(1.25, n)], dtype=object)
    settings = AnalysisSettings(detection=parse_detection({"correction": "none"}))
    features, _, _ = compare({"c": a}, {"c": b}, settings)
    c = features["c"]
    assert not c["exact"] and c["distribution"]["unseen"] is None
    bound = c["errorBound"]["count"]
    labels = c["distribution"]["labels"]
    listed = [label for label in labels if label not in ("__other__", "__unseen__")]
    assert len(listed) == 50 and labels[-1] == "__other__"
    exact = []
    for values in (a, b):
        found, counts = np.unique(values, return_counts=True)
        count = dict(zip(found.tolist(), counts.tolist(), strict=True))
        shares = [count.get(label, 0) / n for label in listed]
        exact.append(np.array([*shares, 1 - sum(shares)]))
    reported = [np.array(c["distribution"][side]) for side in ("reference", "current")]
    for got, want in zip(reported, exact, strict=True):
        assert np.all(got[:-1] >= want[:-1] - 1e-12)
        assert np.all(got[:-1] <= want[:-1] + bound / n)
        assert want[-1] - 50 * bound / n - 1e-12 <= got[-1] <= want[-1]
    assert c["scores"]["jensenshannon"] == pytest.approx(
        distance.jensenshannon(reported[0], reported[1], base=2), abs=1e-9
    )
    assert abs(c["scores"]["jensenshannon"] - distance.jensenshannon(*exact, base=2)) < 0.01
    # The chi-square test on at most sampleSize (32,768) observations a side.
    table = np.array(reported) * 32768
    expected = sps.chi2_contingency(table, correction=False)
    assert c["scores"]["chisquare"] == pytest.approx(expected.statistic, rel=1e-9)
    assert c["significance"]["pValue"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    exact_test = sps.chi2_contingency(np.array(exact) * 32768, correction=False)
    assert c["drifted"] == (exact_test.pvalue < 0.05 and c["score"] >= c["threshold"])
