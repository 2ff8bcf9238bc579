"""Small report documents built by hand, for the report-layer tests."""

from __future__ import annotations

from typing import Any

from driftwarden.report.document import SCHEMA_VERSION


def feature(
    name: str,
    score: float | None = 0.05,
    *,
    threshold: float = 0.1,
    drifted: bool | None = None,
    kind: str = "numerical",
    method: str = "wasserstein",
    **extra: Any,
) -> dict[str, Any]:
    """A feature entry; ``drifted`` defaults to score beyond threshold.

    For p-value methods (ks, chisquare) ``score`` is taken as the p-value, and the
    entry's score becomes a stand-in statistic, as the analysis writes them.
    """
    p_value = None
    if method in ("ks", "chisquare"):
        p_value, score = score, None if score is None else 1.0 - score
    if drifted is None:
        if p_value is not None:
            drifted = p_value < threshold
        else:
            drifted = score is not None and score == score and score > threshold
    return {
        "name": name,
        "kind": kind,
        "method": method,
        "score": score,
        "pValue": p_value,
        "threshold": threshold,
        "drifted": drifted,
        **extra,
    }


def report(features: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A minimal valid report around ``features`` (dataset block computed from them)."""
    drifted = sum(1 for f in features if f["drifted"])
    share = drifted / len(features) if features else 0.0
    doc = {
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": "2026-11-23T10:00:00Z",
        "driftwardenVersion": "0.1.0",
        "monitor": None,
        "reference": {"uri": "file:///data/ref/", "format": "parquet", "rows": 1000},
        "current": {"uri": "file:///data/cur/", "format": "parquet", "rows": 500, "window": None},
        "dataset": {
            "drifted": share >= 0.5 and drifted > 0,
            "driftShare": share,
            "driftedFeatures": drifted,
            "totalFeatures": len(features),
            "threshold": 0.5,
        },
        "findings": [],
        "features": features,
        "durationSeconds": 0.5,
    }
    doc.update(extra)
    return doc


def histogram(edges: list[float], ref: list[float], cur: list[float]) -> dict[str, Any]:
    return {"type": "histogram", "edges": edges, "reference": ref, "current": cur}


def categories(labels: list[str], ref: list[float], cur: list[float]) -> dict[str, Any]:
    return {
        "type": "categories",
        "labels": labels,
        "reference": ref,
        "current": cur,
        "unseen": None,
    }
