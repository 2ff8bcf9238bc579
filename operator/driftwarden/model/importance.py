"""Feature importance estimated from row-aligned reference samples: binned mutual information.

Root cause (:mod:`driftwarden.model.rootcause`) weights each feature's drift by how much
the model's output depends on it. When the spec gives no weights, they are estimated on
the reference, where the model is known to work, as the mutual information between each
feature and the prediction (or the target), both discretised:

* a numerical column is cut into ``bins`` equal-frequency bins at its own quantiles
  (method ``inverted_cdf``); values that are not finite (null, NaN, ±inf) get a bin of
  their own, so a feature whose missingness predicts the output counts too;
* a categorical column keeps one code per label (its nulls one more).

Mutual information (bits) of the two codes is the plug-in estimate ``Σ p(x,y) log2
p(x,y) / (p(x) p(y))`` — equal to scikit-learn's ``mutual_info_score`` (nats) / ln 2
(tests/model/test_importance.py) — minus the Miller–Madow bias of the three entropies it
is made of, ``((Kx − 1) + (Ky − 1) − (Kxy − 1)) / (2 N ln 2)`` with K the occupied cells:
the plug-in value of two independent columns is not 0 but about ``(Kx−1)(Ky−1) / (2 N
ln 2)`` (0.014 bits for 10×10 bins on 4,096 rows), enough to give an unrelated feature a
visible weight. The corrected value is clipped at 0.

Why binned mutual information and not |Spearman|: it sees non-monotone dependence (a
U-shaped effect, a category in the middle), treats numerical and categorical features and
outputs alike, and needs nothing but counts. Pure: arrays in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_BINS = 10
# Fewer aligned rows than this and the estimate is noise: no importance is estimated.
MIN_ROWS = 50


@dataclass(frozen=True)
class MutualInformation:
    """The mutual information of two discretised columns, in bits."""

    plugin: float  # the plug-in estimate (biased upwards)
    corrected: float  # minus the Miller–Madow bias, clipped at 0
    rows: int


def codes(values: ArrayLike, *, categorical: bool, bins: int = DEFAULT_BINS) -> NDArray[np.intp]:
    """Discretise one column into integer codes (see the module docstring).

    Numerical: ``bins`` equal-frequency bins of the finite values (fewer when values
    repeat) plus one code for the rows without a finite value. Categorical: one code
    per distinct label, ``None`` (null) being a label of its own.
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    if categorical:
        labels = np.asarray(values, dtype=object)
        text = np.array(["\x00null" if v is None else str(v) for v in labels], dtype=object)
        _, inverse = np.unique(text, return_inverse=True)
        return np.asarray(inverse, dtype=np.intp).reshape(-1)
    numbers = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(numbers)
    out = np.full(numbers.size, bins, dtype=np.intp)  # the non-finite code
    if finite.any():
        kept = numbers[finite]
        levels = np.arange(1, bins) / bins
        edges = np.unique(np.quantile(kept, levels, method="inverted_cdf"))
        # A bin is (e_{i-1}, e_i]: the value at a quantile belongs to the lower bin.
        out[finite] = np.searchsorted(edges, kept, side="left")
    return out


def mutual_information(x: NDArray[np.intp], y: NDArray[np.intp]) -> MutualInformation:
    """Mutual information (bits) between two code arrays of the same rows."""
    if x.shape != y.shape:
        raise ValueError(f"codes of {x.size} and {y.size} rows: the rows must be aligned")
    n = int(x.size)
    if n == 0:
        return MutualInformation(0.0, 0.0, 0)
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    kx, ky = int(xi.max()) + 1, int(yi.max()) + 1
    joint = np.bincount(xi * ky + yi, minlength=kx * ky).reshape(kx, ky).astype(np.float64)
    px, py = joint.sum(axis=1), joint.sum(axis=0)
    nz = joint > 0
    # Σ n_xy/N · ln(N n_xy / (n_x n_y)), in the form scikit-learn computes.
    terms = joint[nz] / n * (np.log(joint[nz] * n) - np.log(np.outer(px, py)[nz]))
    plugin = max(float(terms.sum()), 0.0) / math.log(2)
    bias = ((kx - 1) + (ky - 1) - (int(nz.sum()) - 1)) / (2 * n * math.log(2))
    return MutualInformation(plugin, max(plugin + bias, 0.0), n)


@dataclass(frozen=True)
class Importance:
    """Each feature's weight in the root-cause ranking, and where it came from.

    ``weights`` are non-negative and sum to 1 (all 0 when nothing carries weight);
    ``raw`` holds what they were normalised from (given numbers, or corrected mutual
    information in bits). ``against`` names the column estimated against (None for
    given weights); ``rows`` the aligned rows the estimate used.
    """

    method: str
    weights: dict[str, float]
    raw: dict[str, float]
    against: str | None = None
    rows: int = 0
    bins: int | None = None


def normalise(raw: Mapping[str, float]) -> dict[str, float]:
    """Weights summing to 1 (all 0 when every raw value is 0)."""
    for name, value in raw.items():
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"importance of {name!r} must be a finite number ≥ 0, got {value}")
    total = math.fsum(raw.values())
    return {name: (value / total if total > 0 else 0.0) for name, value in raw.items()}


def given_importance(weights: Mapping[str, float], features: list[str]) -> Importance:
    """Importance from the spec's weights: a feature the spec does not list weighs 0."""
    raw = {name: float(weights.get(name, 0.0)) for name in features}
    return Importance("given", normalise(raw), raw)


def estimate_importance(
    features: Mapping[str, tuple[ArrayLike, bool]],
    against: ArrayLike,
    *,
    against_name: str,
    against_categorical: bool,
    bins: int = DEFAULT_BINS,
) -> Importance | None:
    """Estimate importance as binned mutual information with ``against``.

    ``features`` maps each feature to ``(values, categorical)``; every array holds the
    same rows, in the same order, as ``against`` (row-aligned samples). None when there
    are fewer than MIN_ROWS rows.
    """
    target = codes(against, categorical=against_categorical, bins=bins)
    if target.size < MIN_ROWS:
        return None
    raw: dict[str, float] = {}
    for name, (values, categorical) in features.items():
        column = codes(values, categorical=categorical, bins=bins)
        raw[name] = mutual_information(column, target).corrected
    return Importance(
        "mutualInformation",
        normalise(raw),
        raw,
        against=against_name,
        rows=int(target.size),
        bins=bins,
    )
