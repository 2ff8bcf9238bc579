"""The report's combined verdict: every signal a run judges, for the HTML header.

A run judges the features (the share of drifted features), and with ``spec.model``
also the predictions (prediction or target drift), performance (a significant drop)
and the joint distribution (multivariate). The header is red when any of them fired;
its headline puts a performance drop first (what the model's owners are paged for),
and a badge per judged signal says which fired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Signal:
    """One judged signal: its key, its name for people, whether it fired."""

    key: str
    label: str
    fired: bool


def _section(doc: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = doc.get(key)
    return value if isinstance(value, Mapping) else None


def signals(doc: Mapping[str, Any]) -> list[Signal]:
    """The signals this report judged, most serious first (features always)."""
    out = []
    performance = _section(doc, "performance")
    if performance is not None:
        out.append(
            Signal(
                "performance",
                "Performance",
                bool(performance.get("degraded")),
            )
        )
    predictions = _section(doc, "predictions")
    if predictions is not None:
        out.append(
            Signal(
                "predictions",
                "Predictions",
                bool(predictions.get("drifted")),
            )
        )
    dataset = doc["dataset"]
    by = dataset.get("driftedBy")
    features = "features" in by if isinstance(by, list) else bool(dataset.get("drifted"))
    out.append(Signal("features", "Features", features))
    joint = _section(doc, "multivariate")
    if joint is not None and not joint.get("skipped"):
        out.append(Signal("multivariate", "Joint", bool(joint.get("drifted"))))
    return out


def is_bad(doc: Mapping[str, Any]) -> bool:
    """Whether any judged signal fired (the dataset verdict included)."""
    return bool(doc["dataset"].get("drifted")) or any(s.fired for s in signals(doc))


def headline(doc: Mapping[str, Any]) -> str:
    """The header's headline: ``Performance dropped`` first when it did, then ``drift
    detected`` when any drift signal fired (features, predictions, joint); the header's
    badges (:func:`signals`) say which."""
    judged = {s.key: s.fired for s in signals(doc)}
    dropped = judged.pop("performance", False)
    drift = any(judged.values()) or bool(doc["dataset"].get("drifted"))
    if dropped:
        return "Performance dropped · drift detected" if drift else "Performance dropped"
    return "Drift detected" if drift else "No drift detected"
