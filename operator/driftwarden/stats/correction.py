"""Multiple-testing corrections across features."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def adjust_pvalues(pvalues: ArrayLike, method: str) -> NDArray[np.float64]:
    """Adjusted p-values: ``bonferroni`` (p·m, capped at 1), ``benjamini-hochberg`` or ``none``.

    Compare the adjusted values with the unadjusted level (for example 0.05).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        return p
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("p-values must be in [0, 1]")
    if method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    if method == "benjamini-hochberg":
        return _benjamini_hochberg(p)
    raise ValueError(f"unknown correction {method!r}: use bonferroni, benjamini-hochberg or none")


def _benjamini_hochberg(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """p_(i) · m / i over the ascending p-values, made monotone from the largest down
    and capped at 1 (scipy's ``false_discovery_control(method="bh")``)."""
    order = np.argsort(p)
    ranked = p[order] * (p.size / np.arange(1, p.size + 1))
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty_like(ranked)
    adjusted[order] = np.minimum(ranked, 1.0)
    return adjusted
