"""Merging is exact and order-free: however a window's files are grouped, the profile is one.

The window cache (analysis/incremental.py) merges per-file profiles in groupings that
differ from run to run (suffix aggregates, a growing back); a full scan merges them
file by file. These properties make the two identical, not merely close.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.analysis.incremental import trim_against
from driftwarden.profile import (
    ColumnPlan,
    DatasetProfile,
    NumericProfile,
    ProfileOptions,
    build_profile,
    dumps_profile,
    loads_profile,
)

PLAN = [ColumnPlan("x", "numerical"), ColumnPlan("c", "categorical")]
EDGES = {"x": np.array([-1.0, 0.0, 0.5, 2.0])}
OPTIONS = ProfileOptions(sample_size=1000)


def _files(seed: int, sizes: list[int]) -> list[pa.Table]:
    rng = np.random.default_rng(seed)
    tables = []
    for size in sizes:
        x = rng.normal(rng.uniform(-1, 1), rng.uniform(0.1, 3), size) * 10.0 ** rng.integers(-3, 6)
        x[rng.random(size) < 0.02] = np.inf
        mask = rng.random(size) < 0.05
        tables.append(
            pa.table(
                {
                    "x": pa.array(x, mask=mask),
                    "c": rng.choice(["a", "b", "c", "d", "e"], size),
                }
            )
        )
    return tables


def _profile(table: pa.Table, index: int) -> DatasetProfile:
    return build_profile(
        table.to_batches(max_chunksize=700),
        PLAN,
        OPTIONS,
        edges=EDGES,
        stream=index.to_bytes(4, "little"),
    )


def _grouped(pieces: list[DatasetProfile], rng: random.Random) -> DatasetProfile:
    """Merge ``pieces`` in a random tree: random pairs of a shuffled pool, until one is left."""
    pool = list(pieces)
    rng.shuffle(pool)
    while len(pool) > 1:
        i = rng.randrange(len(pool) - 1)
        left, right = pool[i], pool.pop(i + 1)
        if rng.random() < 0.3:  # a stored aggregate: through the file format and back
            left = loads_profile(dumps_profile(left, sort=False))
        pool[i] = left.merge(right) if rng.random() < 0.5 else right.merge(left)
    return pool[0]


def _facts(profile: DatasetProfile) -> dict:
    x = profile.columns["x"]
    assert isinstance(x, NumericProfile)
    c = profile.columns["c"]
    return {
        "rows": profile.rows,
        "numeric": (x.rows, x.nulls, x.finite, x.pos_inf, x.minimum, x.maximum),
        "moments": (x.mean, x.std, x.m2),
        "histogram": x.bin_counts.tolist(),
        "sample": sorted(x.sample.tolist()),
        "categories": dict(sorted(c.counts.items())),  # type: ignore[union-attr]
    }


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 900), min_size=1, max_size=12),
    order=st.integers(0, 2**32 - 1),
)
def test_any_grouping_of_file_profiles_is_the_file_by_file_merge(seed, sizes, order):
    pieces = [_profile(table, i) for i, table in enumerate(_files(seed, sizes))]
    in_order = pieces[0]
    for piece in pieces[1:]:
        in_order = in_order.merge(piece)
    grouped = _grouped(pieces, random.Random(order))
    assert _facts(grouped) == _facts(in_order)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(1, 900), min_size=1, max_size=8),
)
def test_file_by_file_is_a_full_scan_up_to_float_rounding(seed, sizes):
    """Against one pass over all rows: counts, extremes and histograms exact, moments
    within rounding, the sample the same size (a different but uniform draw)."""
    tables = _files(seed, sizes)
    merged = _profile(tables[0], 0)
    for i, table in enumerate(tables[1:], start=1):
        merged = merged.merge(_profile(table, i))
    whole = build_profile(pa.concat_tables(tables).to_batches(), PLAN, OPTIONS, edges=EDGES)
    got, want = _facts(merged), _facts(whole)
    for key in ("rows", "numeric", "histogram", "categories"):
        assert got[key] == want[key]
    for a, b in zip(got["moments"], want["moments"], strict=True):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, abs(b)))
    assert len(got["sample"]) == len(want["sample"])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 900), min_size=2, max_size=10),
    cut=st.integers(1, 9),
    newer=st.integers(0, 3),
)
def test_trimming_against_files_that_stay_changes_no_merge(seed, sizes, cut, newer):
    """The window cache stores suffix aggregates trimmed against newer files that are in
    every window using them (analysis/incremental.py, ``trim_against``): merged with those
    files, and with any further ones, a trimmed aggregate gives exactly the untrimmed
    merge, also after a round trip through the file format."""
    cut = min(cut, len(sizes) - 1)
    pieces = [_profile(table, i) for i, table in enumerate(_files(seed, sizes))]
    older, bound = _merged(pieces[:cut]), _merged(pieces[cut:])
    trimmed = trim_against(older, bound)
    stored = loads_profile(dumps_profile(trimmed, sort=False))
    later = [_profile(table, 100 + i) for i, table in enumerate(_files(seed + 1, [400] * newer))]
    want = _facts(_merged([older, bound, *later]))
    for aggregate in (trimmed, stored):
        assert _facts(_merged([aggregate, bound, *later])) == want
    x, kept = older.columns["x"], trimmed.columns["x"]
    assert isinstance(x, NumericProfile) and isinstance(kept, NumericProfile)
    assert set(kept.keys.tolist()) <= set(x.keys.tolist())
    full = bound.columns["x"].sample.size == OPTIONS.sample_size  # type: ignore[union-attr]
    if full:  # a bound holding k values drops every key above its k-th
        assert kept.sample.size == np.count_nonzero(x.keys <= bound.columns["x"].keys.max())  # type: ignore[union-attr]
    else:
        assert kept.sample.size == x.sample.size


def _merged(pieces: list[DatasetProfile]) -> DatasetProfile:
    result = pieces[0]
    for piece in pieces[1:]:
        result = result.merge(piece)
    return result
