"""histogram_distances_many equals histogram_distances pair by pair, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from driftwarden import stats


def _pairs(seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    references, currents = [], []
    for index in range(300):
        bins = int(rng.choice([2, 3, 9, 10, 10, 10, 17, 130]))
        p = rng.integers(1, 5000, bins).astype(np.float64)
        # Some currents with empty bins (Jensen-Shannon's terms drop out), some scaled
        # down to probabilities, some from another distribution entirely.
        q = rng.integers(0 if index % 5 == 0 else 1, 5000, bins).astype(np.float64)
        if index % 7 == 0:
            q = q / q.sum()
        if index % 13 == 0:
            q = rng.exponential(size=bins) * 1e6
        references.append(p)
        currents.append(q)
    return references, currents


@pytest.mark.parametrize("seed", [0, 1])
def test_many_at_once_equal_one_by_one(seed):
    references, currents = _pairs(seed)
    expected = [stats.histogram_distances(p, q) for p, q in zip(references, currents, strict=True)]
    assert stats.histogram_distances_many(references, currents) == expected


def test_bad_pairs_fail_as_one_by_one():
    good = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="all counts are zero"):
        stats.histogram_distances_many([good, good], [good, np.zeros(3)])
    with pytest.raises(ValueError, match="finite and non-negative"):
        stats.histogram_distances_many([np.array([1.0, np.inf, 2.0])], [good])
    with pytest.raises(ValueError, match="bins"):
        stats.histogram_distances_many([good], [np.array([1.0, 2.0])])
    assert stats.histogram_distances_many([], []) == []
