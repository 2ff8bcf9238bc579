"""The dataset verdict from per-feature verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetVerdict:
    """Whether the dataset drifted: the share of drifted features reached the threshold."""

    drifted: bool
    drift_share: float
    drifted_features: int
    total_features: int
    threshold: float


def dataset_verdict(feature_drifted: Sequence[bool], share_threshold: float) -> DatasetVerdict:
    """Dataset drifts when at least ``share_threshold`` of the features drifted (never with none)."""
    if not 0 < share_threshold <= 1:
        raise ValueError(f"share threshold must be in (0, 1], got {share_threshold}")
    total = len(feature_drifted)
    drifted = sum(bool(flag) for flag in feature_drifted)
    share = drifted / total if total else 0.0
    return DatasetVerdict(
        drifted=total > 0 and drifted > 0 and share >= share_threshold - 1e-12,
        drift_share=share,
        drifted_features=drifted,
        total_features=total,
        threshold=share_threshold,
    )
