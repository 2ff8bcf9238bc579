"""Build profiles straight from numpy arrays, as the analysis does from Arrow batches."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from driftwarden.analysis.compare import compare_profiles, edges_for
from driftwarden.analysis.settings import AnalysisSettings
from driftwarden.profile import ColumnPlan, ProfileOptions, build_profile

CATEGORIES = np.array([f"cat{i}" for i in range(10)])


def plan_of(columns: dict) -> list[ColumnPlan]:
    return [
        ColumnPlan(
            name,
            "numerical" if pa.array(values).type in (pa.float64(), pa.int64()) else "categorical",
        )
        for name, values in columns.items()
    ]


def compare(
    reference: dict,
    current: dict,
    settings: AnalysisSettings | None = None,
    sample_size: int = 32768,
):
    """(features by name, findings, verdict) for two column dicts."""
    settings = settings or AnalysisSettings()
    options = ProfileOptions(sample_size=sample_size)
    plan = plan_of(reference)
    ref = build_profile(pa.table(reference).to_batches(65536), plan, options)
    cur = build_profile(
        pa.table(current).to_batches(65536),
        plan,
        options,
        edges=edges_for(ref, settings.profile.bins),
    )
    features, findings, verdict = compare_profiles(ref, cur, settings)
    return {f["name"]: f for f in features}, findings, verdict


def synthetic(
    rng: np.random.Generator, n: int, *, shift=0.0, scale=1.0, cat_p=None, null_rate=0.0
) -> dict:
    """Five numerical and two categorical features; the knobs move feature ``x0`` / ``c0``."""
    x0 = rng.normal(shift, scale, n)
    columns = {"x0": pa.array(x0, mask=rng.random(n) < null_rate) if null_rate else x0}
    for i in range(1, 5):
        columns[f"x{i}"] = rng.normal(0, 1, n)
    columns["c0"] = rng.choice(CATEGORIES, n, p=cat_p)
    columns["c1"] = rng.choice(CATEGORIES[:4], n)
    return columns


UNIFORM10 = np.full(10, 0.1)
CAT0_TO_20 = np.array([0.2] + [0.8 / 9] * 9)
