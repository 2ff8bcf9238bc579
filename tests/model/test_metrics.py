"""Model metrics from tallies equal scikit-learn's on the same data (1e-9)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.calibration import calibration_curve

from driftwarden.model import metrics as m

TOL = 1e-9


def _binary(rng: np.random.Generator, n: int):
    score = rng.random(n)
    true = (rng.random(n) < score * 0.8 + 0.1).astype(np.intp)
    predicted = (score > 0.5).astype(np.intp)
    return true, predicted, score


def _ece(true, score, bins=10):
    """ECE from calibration_curve's bins, weighted by each bin's share of the rows."""
    prob_true, prob_pred = calibration_curve(true, score, n_bins=bins, strategy="uniform")
    ids = np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], score)
    counts = np.bincount(ids, minlength=bins)
    counts = counts[counts > 0]
    return float(np.sum(counts / true.size * np.abs(prob_true - prob_pred)))


@pytest.mark.parametrize("n", [7, 1000, 54321])
def test_binary_metrics_equal_sklearn(n):
    rng = np.random.default_rng(n)
    true, predicted, score = _binary(rng, n)
    tally = m.class_tally(true, predicted, 2, score, positive=1)
    got = m.classification_metrics(tally, positive=1)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(true, predicted), abs=TOL)
    assert got["precision"] == pytest.approx(
        sk.precision_score(true, predicted, zero_division=0), abs=TOL
    )
    assert got["recall"] == pytest.approx(
        sk.recall_score(true, predicted, zero_division=0), abs=TOL
    )
    assert got["f1"] == pytest.approx(sk.f1_score(true, predicted, zero_division=0), abs=TOL)
    assert got["logLoss"] == pytest.approx(sk.log_loss(true, score), abs=TOL)
    assert got["ece"] == pytest.approx(_ece(true, score), abs=TOL)
    assert m.roc_auc(true == 1, score) == pytest.approx(sk.roc_auc_score(true, score), abs=TOL)


def test_tallies_merge_to_the_whole():
    rng = np.random.default_rng(3)
    true, predicted, score = _binary(rng, 10_000)
    whole = m.classification_metrics(m.class_tally(true, predicted, 2, score, 1), 1)
    merged = m.ClassTally(0)
    for part in np.array_split(np.arange(true.size), 7):
        merged.add(m.class_tally(true[part], predicted[part], 2, score[part], 1))
    parts = m.classification_metrics(merged, 1)
    for name, value in whole.items():
        assert parts[name] == pytest.approx(value, abs=1e-12), name


def test_auc_with_ties_and_extreme_scores_equals_sklearn():
    rng = np.random.default_rng(5)
    score = np.round(rng.random(5000), 1)  # eleven distinct values: many ties
    score[:50] = 0.0
    score[50:100] = 1.0  # log loss clips these
    true = (rng.random(5000) < score).astype(np.intp)
    predicted = (score >= 0.5).astype(np.intp)
    tally = m.class_tally(true, predicted, 2, score, 1)
    got = m.classification_metrics(tally, 1)
    assert m.roc_auc(true == 1, score) == pytest.approx(sk.roc_auc_score(true, score), abs=TOL)
    assert got["logLoss"] == pytest.approx(sk.log_loss(true, score), abs=TOL)
    assert got["ece"] == pytest.approx(_ece(true, score), abs=TOL)


def test_multiclass_macro_averages_equal_sklearn():
    rng = np.random.default_rng(11)
    true = rng.integers(0, 4, 3000)
    predicted = np.where(
        rng.random(3000) < 0.7, true, rng.integers(0, 5, 3000)
    )  # class 4: predicted only
    tally = m.class_tally(true, predicted, 6, None, None)  # class 5: never seen
    got = m.classification_metrics(tally, None)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(true, predicted), abs=TOL)
    for name, fn in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        want = fn(true, predicted, average="macro", zero_division=0)
        assert got[name] == pytest.approx(want, abs=TOL), name
    assert got["logLoss"] is None and got["ece"] is None


def test_zero_division_is_zero_as_in_sklearn():
    true = np.array([0, 0, 1, 1])
    predicted = np.zeros(4, dtype=np.intp)
    got = m.classification_metrics(m.class_tally(true, predicted, 2), 1)
    assert got["precision"] == sk.precision_score(true, predicted, zero_division=0) == 0.0
    assert got["f1"] == 0.0


def test_auc_undefined_with_one_class():
    assert m.roc_auc(np.ones(5, dtype=bool), np.linspace(0, 1, 5)) is None


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_regression_metrics_equal_sklearn(offset):
    rng = np.random.default_rng(8)
    true = rng.normal(offset, 3.0, 20_000)
    true[:10] = 0.0  # MAPE's eps denominator
    predicted = true + rng.normal(0.5, 1.0, true.size)
    merged = m.RegressionTally()
    for part in np.array_split(np.arange(true.size), 9):
        merged.add(m.regression_tally(true[part], predicted[part]))
    got = m.regression_metrics(merged)
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(true, predicted), rel=TOL)
    assert got["rmse"] == pytest.approx(sk.root_mean_squared_error(true, predicted), rel=TOL)
    assert got["mape"] == pytest.approx(sk.mean_absolute_percentage_error(true, predicted), rel=TOL)
    assert got["r2"] == pytest.approx(sk.r2_score(true, predicted), abs=TOL)


def test_r2_of_constant_truth_follows_force_finite():
    true = np.full(10, 2.0)
    assert m.regression_metrics(m.regression_tally(true, true))["r2"] == sk.r2_score(true, true)
    worse = true + 1
    assert m.regression_metrics(m.regression_tally(true, worse))["r2"] == sk.r2_score(true, worse)
