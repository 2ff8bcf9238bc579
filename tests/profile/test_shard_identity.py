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
from driftwarden.profile import ColumnPlan, DatasetProfile, ProfileOptions, dumps_profile
from driftwarden.profile.dataset import empty_profile
from driftwarden.storage import StorageOptions
from driftwarden.storage.dataset import DatasetSource, open_dataset

PLAN = [
    ColumnPlan("x", "numerical"),
    ColumnPlan("n", "numerical"),
    ColumnPlan("c", "categorical"),
]
EDGES = {"x": np.array([-1.0, 0.0, 0.5, 2.0])}
OPTIONS = ProfileOptions(sample_size=300, row_features=("x", "n"), row_sample_size=200)


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
            }
        )
        pq.write_table(table, directory / f"part-{index:03d}.parquet", row_group_size=250)


def _merged(pieces: list[DatasetProfile]) -> DatasetProfile:
    profile = empty_profile(PLAN, OPTIONS, EDGES)
    for piece in pieces:
        profile = piece if profile.rows == 0 else profile.merge(piece)
    return profile


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=9),
    shards=st.integers(1, 5),
    order=st.integers(0, 2**32 - 1),
)
def test_one_pass_shards_and_shuffled_files_serialise_alike(
    tmp_path_factory, seed, sizes, shards, order
):
    directory = tmp_path_factory.mktemp("data")
    _write(directory, seed, sizes)
    dataset = open_dataset(DatasetSource(uri=str(directory)), StorageOptions())
    scan = scan_file(dataset, PLAN, ["c"], OPTIONS, EDGES, column_group=64)
    files = sorted(dataset.files, key=lambda info: info.path)
    one_pass = dumps_profile(_merged([scan(info, True) for info in files]))

    rng = random.Random(order)
    shuffled = list(files)
    rng.shuffle(shuffled)
    assert dumps_profile(_merged([scan(info, True) for info in shuffled])) == one_pass

    # Any split, some shards possibly empty, each shard's files in any order, the shard
    # profiles merged in any order.
    parts: list[list] = [[] for _ in range(shards)]
    for info in shuffled:
        parts[rng.randrange(shards)].append(info)
    profiles = [_merged([scan(info, True) for info in part]) for part in parts]
    rng.shuffle(profiles)
    assert dumps_profile(_merged(profiles)) == one_pass
