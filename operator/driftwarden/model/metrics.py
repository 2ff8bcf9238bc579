"""Model performance metrics from mergeable tallies, equal to scikit-learn's.

A run joins predictions to labels partition by partition (:mod:`.join`), so every
metric that is a sum over rows is kept as a *tally* that partitions add up:
exact at any size, whatever the order the partitions come in. Each function
names the scikit-learn function it reproduces; tests/model/test_metrics.py pins
them to 1e-9 on the same data (they agree to ~1e-15, the rounding of sums in a
different order).

* Classification (:class:`ClassTally`): a confusion matrix over the classes seen,
  the log-loss sum and the calibration bins of the positive-class score.
  ``accuracy_score``; binary ``precision_score``/``recall_score``/``f1_score``
  (``pos_label``), or their ``average="macro"`` with more than two classes; both
  with ``zero_division=0`` (sklearn's value when a denominator is 0, without its
  warning); ``log_loss`` (probabilities clipped to [eps, 1 − eps]); expected
  calibration error on ``calibration_curve``'s ten uniform bins.
* Regression (:class:`RegressionTally`): ``mean_absolute_error``,
  ``root_mean_squared_error``, ``mean_absolute_percentage_error`` (a fraction,
  with sklearn's ``max(|y|, eps)`` denominator) and ``r2_score``, whose total sum
  of squares is merged with Chan et al.'s pairwise update (a sum of squares minus
  n·mean² would cancel catastrophically when the mean is large).
* ROC AUC is not a sum: :func:`roc_auc` ranks the rows it is given (the
  Mann–Whitney form, ties counted half, as ``roc_auc_score``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

EPS = float(np.finfo(np.float64).eps)
# calibration_curve(strategy="uniform", n_bins=10): bins split [0, 1] at 0.1, 0.2, …
CALIBRATION_BINS = 10
_INNER_EDGES = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)[1:-1]

# Metric names as the report spells them, and which way is better.
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "rocAuc", "logLoss", "ece")
REGRESSION_METRICS = ("mae", "rmse", "mape", "r2")
LOWER_IS_BETTER = frozenset({"logLoss", "ece", "mae", "rmse", "mape"})
SCORE_METRICS = frozenset({"rocAuc", "logLoss", "ece"})


@dataclass
class ClassTally:
    """Sums over labeled rows of a classifier: mergeable by :meth:`add`.

    ``confusion[i, j]`` counts rows of true class ``i`` predicted ``j`` (class
    indices are the run's, :class:`ClassIndex`). The score sums exist only when the
    model logs a positive-class score.
    """

    classes: int
    confusion: NDArray[np.int64] = field(init=False)
    scored: bool = False
    log_loss_sum: float = 0.0
    bin_count: NDArray[np.int64] = field(init=False)
    bin_score: NDArray[np.float64] = field(init=False)
    bin_true: NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        self.confusion = np.zeros((self.classes, self.classes), dtype=np.int64)
        self.bin_count = np.zeros(CALIBRATION_BINS, dtype=np.int64)
        self.bin_score = np.zeros(CALIBRATION_BINS)
        self.bin_true = np.zeros(CALIBRATION_BINS)

    @property
    def rows(self) -> int:
        return int(self.confusion.sum())

    def grow(self, classes: int) -> None:
        """Make room for classes first seen in a later partition."""
        if classes > self.classes:
            grown = np.zeros((classes, classes), dtype=np.int64)
            grown[: self.classes, : self.classes] = self.confusion
            self.confusion, self.classes = grown, classes

    def add(self, other: ClassTally) -> None:
        """Add another tally's rows to this one."""
        self.grow(other.classes)
        self.confusion[: other.classes, : other.classes] += other.confusion
        self.scored = self.scored or other.scored
        self.log_loss_sum += other.log_loss_sum
        self.bin_count += other.bin_count
        self.bin_score += other.bin_score
        self.bin_true += other.bin_true


def class_tally(
    true: NDArray[np.intp],
    predicted: NDArray[np.intp],
    classes: int,
    score: NDArray[np.float64] | None = None,
    positive: int | None = None,
) -> ClassTally:
    """The tally of rows with class indices ``true``/``predicted``.

    ``score`` is the predicted probability of class ``positive`` (binary models):
    it feeds the log loss and the calibration bins.
    """
    tally = ClassTally(classes)
    if true.size:
        tally.confusion += np.bincount(
            true * classes + predicted, minlength=classes * classes
        ).reshape(classes, classes)
    if score is not None and positive is not None:
        tally.scored = True
        hit = (true == positive).astype(np.float64)
        # log_loss: the probability given to the true class, clipped as sklearn does.
        chance = np.where(hit == 1.0, score, 1.0 - score)
        tally.log_loss_sum = float(-np.log(np.clip(chance, EPS, 1.0 - EPS)).sum())
        bins = np.searchsorted(_INNER_EDGES, score)  # calibration_curve's binning
        tally.bin_count += np.bincount(bins, minlength=CALIBRATION_BINS)
        tally.bin_score += np.bincount(bins, weights=score, minlength=CALIBRATION_BINS)
        tally.bin_true += np.bincount(bins, weights=hit, minlength=CALIBRATION_BINS)
    return tally


def _ratio(numerator: float, denominator: float) -> float:
    # zero_division=0: sklearn's value for an undefined ratio.
    return numerator / denominator if denominator else 0.0


def classification_metrics(tally: ClassTally, positive: int | None) -> dict[str, float | None]:
    """Accuracy, precision, recall, F1, log loss and ECE of a tally (None: undefined).

    ``positive`` is the positive class of a binary model; None averages precision,
    recall and F1 over the classes seen (``average="macro"``, the classes being the
    union of true and predicted ones, as sklearn's ``unique_labels``).
    """
    n = tally.rows
    if n == 0:
        return dict.fromkeys(CLASSIFICATION_METRICS)
    confusion = tally.confusion
    hits = np.diag(confusion).astype(np.float64)
    result: dict[str, float | None] = {"accuracy": float(hits.sum() / n)}
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    if positive is not None:
        tp = float(hits[positive]) if positive < tally.classes else 0.0
        fp = float(predicted[positive]) - tp if positive < tally.classes else 0.0
        fn = float(actual[positive]) - tp if positive < tally.classes else 0.0
        result["precision"] = _ratio(tp, tp + fp)
        result["recall"] = _ratio(tp, tp + fn)
        result["f1"] = _ratio(2 * tp, 2 * tp + fp + fn)
    else:
        seen = (predicted + actual) > 0
        precision = np.where(predicted > 0, hits / np.maximum(predicted, 1), 0.0)[seen]
        recall = np.where(actual > 0, hits / np.maximum(actual, 1), 0.0)[seen]
        both = precision + recall
        f1 = np.where(both > 0, 2 * precision * recall / np.where(both > 0, both, 1), 0.0)
        result["precision"] = float(precision.mean())
        result["recall"] = float(recall.mean())
        result["f1"] = float(f1.mean())
    result["rocAuc"] = None  # from ranks, not a tally: roc_auc()
    if tally.scored:
        result["logLoss"] = tally.log_loss_sum / n
        result["ece"] = float(np.abs(tally.bin_true - tally.bin_score).sum() / n)
    else:
        result["logLoss"] = result["ece"] = None
    return result


def roc_auc(positive: NDArray[np.bool_], score: NDArray[np.float64]) -> float | None:
    """Area under the ROC curve (``roc_auc_score``): None unless both classes occur.

    The Mann–Whitney form: (sum of the positives' mid-ranks − n₊(n₊+1)/2) / (n₊·n₋),
    which counts a tie between a positive and a negative as half a win, as the
    trapezoids of sklearn's curve do.
    """
    n_pos = int(np.count_nonzero(positive))
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(score, kind="stable")
    ordered = score[order]
    # Mid-ranks: each run of equal scores gets the mean of the ranks it spans.
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    mid = (starts + ends + 1) / 2.0
    ranks = np.repeat(mid, ends - starts)
    rank_sum = float(ranks[positive[order]].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


@dataclass
class RegressionTally:
    """Sums over labeled rows of a regression model: mergeable by :meth:`add`."""

    rows: int = 0
    abs_error: float = 0.0
    squared_error: float = 0.0
    abs_percentage: float = 0.0
    mean_true: float = 0.0
    m2_true: float = 0.0  # sum of squared deviations of the true values from their mean

    def add(self, other: RegressionTally) -> None:
        """Add another tally's rows (Chan, Golub & LeVeque's update for m2_true)."""
        n = self.rows + other.rows
        if n == 0:
            return
        delta = other.mean_true - self.mean_true
        self.m2_true += other.m2_true + delta * delta * self.rows * other.rows / n
        self.mean_true += delta * other.rows / n
        self.rows = n
        self.abs_error += other.abs_error
        self.squared_error += other.squared_error
        self.abs_percentage += other.abs_percentage


def regression_tally(true: NDArray[np.float64], predicted: NDArray[np.float64]) -> RegressionTally:
    """The tally of rows with true values ``true`` and predictions ``predicted``."""
    if true.size == 0:
        return RegressionTally()
    error = np.abs(true - predicted)
    mean = float(true.mean())
    return RegressionTally(
        rows=int(true.size),
        abs_error=float(error.sum()),
        squared_error=float(np.square(error).sum()),
        abs_percentage=float((error / np.maximum(np.abs(true), EPS)).sum()),
        mean_true=mean,
        m2_true=float(np.square(true - mean).sum()),
    )


def regression_metrics(tally: RegressionTally) -> dict[str, float | None]:
    """MAE, RMSE, MAPE and R² of a tally (None without rows).

    R² follows ``r2_score``'s ``force_finite``: with constant true values it is 1.0
    for a perfect model and 0.0 otherwise.
    """
    n = tally.rows
    if n == 0:
        return dict.fromkeys(REGRESSION_METRICS)
    if tally.m2_true == 0.0:
        r2 = 1.0 if tally.squared_error == 0.0 else 0.0
    else:
        r2 = 1.0 - tally.squared_error / tally.m2_true
    return {
        "mae": tally.abs_error / n,
        "rmse": math.sqrt(tally.squared_error / n),
        "mape": tally.abs_percentage / n,
        "r2": r2,
    }
