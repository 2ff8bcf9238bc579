"""A synthetic but realistic report document, for tests, docs and trying the views.

Built with the standard library only; deterministic for a given seed.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from driftwarden import __version__
from driftwarden.report.document import SCHEMA_VERSION, sort_features

_CATEGORIES = ["gold", "silver", "bronze", "trial", "enterprise", "student", "family", "legacy"]


def _normal_shares(edges: list[float], mean: float, std: float) -> list[float]:
    cdf = [0.0] + [0.5 * (1 + math.erf((e - mean) / (std * math.sqrt(2)))) for e in edges] + [1.0]
    return [round(b - a, 6) for a, b in itertools.pairwise(cdf)]


def _numerical(rng: random.Random, name: str, shift: float, rows: tuple[int, int]) -> dict:
    mean, std = rng.uniform(-5, 50), rng.uniform(0.5, 20)
    edges = [round(mean + std * k / 2, 4) for k in range(-4, 5)]
    cur_mean, cur_std = mean + shift * std, std * (1 + shift / 3)
    ref, cur = _normal_shares(edges, mean, std), _normal_shares(edges, cur_mean, cur_std)
    tvd = 0.5 * sum(abs(a - b) for a, b in zip(ref, cur, strict=False))
    wasserstein = round(abs(shift) * 0.9 + rng.uniform(0, 0.01), 4)
    missing_cur = 0.02 + (0.25 if name.endswith("_score") and shift else 0.0)
    missing_score = round(
        abs(2 * math.asin(math.sqrt(missing_cur)) - 2 * math.asin(math.sqrt(0.02))), 4
    )
    return {
        "name": name,
        "kind": "numerical",
        "method": "wasserstein",
        "score": wasserstein,
        "pValue": None,
        "threshold": 0.1,
        "drifted": wasserstein > 0.1 or missing_score > 0.1,
        "reason": None,
        "significance": {
            "test": "ks",
            "pValue": max(1e-300, math.exp(-400 * tvd * tvd)),
            "alpha": 0.01,
        },
        "missing": {
            "reference": 0.02,
            "current": missing_cur,
            "score": missing_score,
            "threshold": 0.1,
            "drifted": missing_score > 0.1,
        },
        "scores": {
            "psi": round(4 * tvd * tvd + tvd / 3, 4),
            "ks": round(tvd, 4),
            "wasserstein": wasserstein,
            "jensenshannon": round(tvd * 0.8, 4),
            "kl": round(tvd * 1.3, 4),
            "hellinger": round(tvd * 0.9, 4),
            "tvd": round(tvd, 4),
            "chisquare": None,
        },
        "reference": {
            "rows": rows[0],
            "nulls": int(rows[0] * 0.02),
            "nan": 0,
            "inf": 0,
            "mean": round(mean, 4),
            "std": round(std, 4),
            "min": round(mean - 4.5 * std, 4),
            "max": round(mean + 4.5 * std, 4),
            "distinct": None,
        },
        "current": {
            "rows": rows[1],
            "nulls": int(rows[1] * missing_cur),
            "nan": 3 if shift else 0,
            "inf": 0,
            "mean": round(cur_mean, 4),
            "std": round(cur_std, 4),
            "min": round(cur_mean - 4.5 * cur_std, 4),
            "max": round(cur_mean + 4.5 * cur_std, 4),
            "distinct": None,
        },
        "distribution": {"type": "histogram", "edges": edges, "reference": ref, "current": cur},
        "exact": rows[0] <= 65536,
        "errorBound": None
        if rows[0] <= 65536
        else {"ks": 0.006, "note": "quantile sketch, 99% confidence"},
    }


def _categorical(rng: random.Random, name: str, shift: float, rows: tuple[int, int]) -> dict:
    labels = [*rng.sample(_CATEGORIES, rng.randint(3, 6)), "__other__"]
    weights = [rng.uniform(1, 10) for _ in labels]
    total = sum(weights)
    ref = [round(w / total, 6) for w in weights]
    moved = [w * (1 + shift * (4 if i == 0 else -0.4)) for i, w in enumerate(weights)]
    total = sum(moved)
    cur = [round(w / total, 6) for w in moved]
    js = round(0.5 * sum(abs(a - b) for a, b in zip(ref, cur, strict=False)) * 0.7, 4)
    return {
        "name": name,
        "kind": "categorical",
        "method": "jensenshannon",
        "score": js,
        "pValue": None,
        "threshold": 0.1,
        "drifted": js > 0.1,
        "reason": None,
        "significance": {"test": "chisquare", "pValue": math.exp(-300 * js), "alpha": 0.01},
        "missing": {
            "reference": 0.0,
            "current": 0.0,
            "score": 0.0,
            "threshold": 0.1,
            "drifted": False,
        },
        "scores": {
            "psi": round(js * 2.2, 4),
            "ks": None,
            "wasserstein": None,
            "jensenshannon": js,
            "kl": round(js * 1.6, 4),
            "hellinger": round(js * 1.1, 4),
            "tvd": round(js * 1.4, 4),
            "chisquare": math.exp(-300 * js),
        },
        "reference": {
            "rows": rows[0],
            "nulls": 0,
            "nan": None,
            "inf": None,
            "mean": None,
            "std": None,
            "min": None,
            "max": None,
            "distinct": len(labels) + 40,
        },
        "current": {
            "rows": rows[1],
            "nulls": 0,
            "nan": None,
            "inf": None,
            "mean": None,
            "std": None,
            "min": None,
            "max": None,
            "distinct": len(labels) + 43,
        },
        "distribution": {
            "type": "categories",
            "labels": labels,
            "reference": ref,
            "current": cur,
            "unseen": 3 if shift else 0,
        },
        "exact": True,
        "errorBound": None,
    }


def example_report(n_features: int = 6, *, seed: int = 0) -> dict[str, Any]:
    """A valid report with ``n_features`` features: 2 in 5 drift in distribution, and
    the ``session_score`` ones in their missing-value rate."""
    rng = random.Random(seed)
    rows = (100_000, 24_000)
    features = []
    for i in range(n_features):
        categorical = i % 3 == 2
        shift = rng.uniform(0.3, 1.5) if i % 5 in (0, 2) else rng.uniform(0, 0.05)
        base = ["income", "age", "plan", "tenure_days", "session_score", "region"][i % 6]
        name = base if i < 6 else f"{base}_{i}"
        make = _categorical if categorical else _numerical
        feature = make(rng, name, shift, rows)
        if feature["drifted"]:
            distribution = feature["score"] > feature["threshold"]
            missing = feature["missing"]["drifted"]
            feature["reason"] = (
                "distribution+missing"
                if distribution and missing
                else "missing"
                if missing
                else "distribution"
            )
        features.append(feature)
    features = sort_features(features)
    drifted = sum(f["drifted"] for f in features)
    share = drifted / len(features) if features else 0.0
    findings = [
        {
            "severity": "warning",
            "code": "HighCardinality",
            "feature": features[-1]["name"] if features else None,
            "message": "More than 10,000 distinct values; the 50 most frequent are compared, "
            "the rest are pooled as __other__.",
        },
        {
            "severity": "info",
            "code": "ReferenceCached",
            "feature": None,
            "message": "The reference profile was read from the cache.",
        },
    ]
    return {
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": "2026-11-23T10:00:00Z",
        "driftwardenVersion": __version__,
        "monitor": {"name": "churn", "namespace": "ml"},
        "reference": {
            "uri": "s3://logs/churn/train/",
            "format": "parquet",
            "rows": rows[0],
            "fingerprint": "ab12cd34ef56ab12cd34ef56",
            "profileCached": True,
        },
        "current": {
            "uri": "s3://logs/churn/live/",
            "format": "parquet",
            "rows": rows[1],
            "window": {
                "column": "ts",
                "start": "2026-11-22T10:00:00Z",
                "end": "2026-11-23T10:00:00Z",
            },
        },
        "settings": {
            "numerical": {"method": "wasserstein", "threshold": 0.1},
            "categorical": {"method": "jensenshannon", "threshold": 0.1},
            "significance": 0.05,
            "correction": "bonferroni",
            "driftShare": 0.5,
            "missingThreshold": 0.1,
            "overrides": [],
        },
        "dataset": {
            "drifted": share >= 0.5 and drifted > 0,
            "driftShare": share,
            "driftedFeatures": drifted,
            "totalFeatures": len(features),
            "threshold": 0.5,
        },
        "findings": findings if features else [],
        "features": features,
        "durationSeconds": 1.2,
    }
