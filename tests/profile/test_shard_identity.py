"""The same data gives the same profile, byte for byte, however its files are split and ordered.

Issue 11: a window profiled in one pass (file by file, merged in path order, as
analysis/incremental.py does without a cache), in shards merged in any order, or with
its files listed in any order must serialise to identical bytes (profile/serialize.py).
Real Parquet files, read through the storage layer like a run reads them.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftwarden.analysis.incremental import scan_file
from driftwarden.analysis.plan import FeaturePlan
from driftwarden.analysis.run import load_or_build_reference
from driftwarden.profile import ColumnPlan, DatasetProfile, ProfileOptions, dumps_profile
from driftwarden.profile.dataset import empty_profile
from driftwarden.storage import StorageOptions
from driftwarden.storage.dataset import DatasetSource, open_dataset

PLAN = [
    ColumnPlan("x", "numerical"),
    ColumnPlan("n", "numerical"),
    ColumnPlan("c", "categorical"),
    # Skewed (Zipf) labels, hundreds of them: past the cap of 20 (some files, some
    # merges only), the column is summarised by first keys and a count-min sketch.
    ColumnPlan("h", "categorical"),
]
EDGES = {"x": np.array([-1.0, 0.0, 0.5, 2.0])}
OPTIONS = ProfileOptions(
    sample_size=300, max_categories=20, row_features=("x", "n"), row_sample_size=200
)


def _write(directory: Path, seed: int, sizes: list[int]) -> None:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    labels = np.array(["a", "b", "c", "d", "e", "f"])
    for index, size in enumerate(sizes):
        x = rng.normal(rng.uniform(-1, 1), rng.uniform(0.1, 3), size) * 10.0 ** rng.integers(-3, 6)
        x[rng.random(size) < 0.02] = np.inf
        # Few distinct integers: equal sampled values, whose keys must still be stored
        # in one order.
        n = rng.integers(0, 4, size).astype(np.float64)
        # Each file meets the labels in its own order.
        c = rng.permutation(labels)[np.minimum(rng.geometric(0.5, size) - 1, labels.size - 1)]
        table = pa.table(
            {
                "x": pa.array(x, mask=rng.random(size) < 0.05),
                "n": n,
                "c": pa.array(c, mask=rng.random(size) < 0.03),
                "h": pa.array([f"h{v}" for v in rng.zipf(1.4, size)], mask=rng.random(size) < 0.02),
            }
        )
        pq.write_table(table, directory / f"part-{index:03d}.parquet", row_group_size=250)


def _merged(pieces: list[DatasetProfile], edges: dict | None = EDGES) -> DatasetProfile:
    profile = empty_profile(PLAN, OPTIONS, edges)
    for piece in pieces:
        profile = piece if profile.rows == 0 else profile.merge(piece)
    return profile


def _sharded(scan, files: list, shards: int, rng: random.Random, edges: dict | None) -> bytes:
    """Any split of ``files`` (some shards possibly empty, each shard's files in the
    order given), the shard profiles merged in any order: the merge's bytes."""
    parts: list[list] = [[] for _ in range(shards)]
    for info in files:
        parts[rng.randrange(shards)].append(info)
    profiles = [_merged([scan(info, True) for info in part], edges) for part in parts]
    rng.shuffle(profiles)
    return dumps_profile(_merged(profiles, edges))


_SPLITS = {
    "seed": st.integers(0, 2**32 - 1),
    "sizes": st.lists(st.integers(1, 700), min_size=1, max_size=9),
    "shards": st.integers(1, 5),
    "order": st.integers(0, 2**32 - 1),
}
_SLOW = [HealthCheck.function_scoped_fixture]


@settings(max_examples=30, deadline=None, suppress_health_check=_SLOW)
@given(**_SPLITS)
def test_one_pass_shards_and_shuffled_files_serialise_alike(
    tmp_path_factory, seed, sizes, shards, order
):
    directory = tmp_path_factory.mktemp("data")
    _write(directory, seed, sizes)
    dataset = open_dataset(DatasetSource(uri=str(directory)), StorageOptions())
    scan = scan_file(dataset, PLAN, ["c", "h"], OPTIONS, EDGES, column_group=64)
    files = sorted(dataset.files, key=lambda info: info.path)
    one_pass = dumps_profile(_merged([scan(info, True) for info in files]))

    rng = random.Random(order)
    shuffled = list(files)
    rng.shuffle(shuffled)
    assert dumps_profile(_merged([scan(info, True) for info in shuffled])) == one_pass
    assert _sharded(scan, shuffled, shards, rng, EDGES) == one_pass


@settings(max_examples=15, deadline=None, suppress_health_check=_SLOW)
@given(**_SPLITS)
def test_a_reference_read_from_data_is_its_shards_merged(
    tmp_path_factory, seed, sizes, shards, order
):
    """The run's reference path (analysis/run.py) profiles the data as the shards do: its
    profile (no histogram edges: the reference sets them) is their merge, byte for byte."""
    directory = tmp_path_factory.mktemp("reference")
    _write(directory, seed, sizes)
    dataset = open_dataset(DatasetSource(uri=str(directory)), StorageOptions())
    plan = FeaturePlan(list(PLAN), [])
    profile, cached = load_or_build_reference(
        dataset, plan, OPTIONS, 10, cache=None, storage=StorageOptions(), progress=None, findings=[]
    )
    assert not cached
    scan = scan_file(dataset, PLAN, ["c", "h"], OPTIONS, None, column_group=64)
    rng = random.Random(order)
    shuffled = list(dataset.files)
    rng.shuffle(shuffled)
    assert _sharded(scan, shuffled, shards, rng, None) == dumps_profile(profile)
