"""Whole-row reference sample: bounded, the same rows however the data is batched, nulls kept."""

import numpy as np
import pyarrow as pa
import pytest

from driftwarden.model.reference_rows import as_values, sample_rows
from driftwarden.profile import ColumnPlan, ProfileOptions, build_profile


def _table(n: int) -> pa.Table:
    rng = np.random.default_rng(1)
    return pa.table(
        {
            "i": np.arange(n),
            "x": rng.normal(size=n),
            "c": pa.array(rng.choice(["a", "b"], n), mask=rng.random(n) < 0.1),
        }
    )


@pytest.mark.parametrize("batch", [7, 1000, 100_000])
def test_the_same_rows_whatever_the_batching(batch):
    table = _table(20_000)
    one = sample_rows(table.to_batches(max_chunksize=100_000), 500, seed=3)
    other = sample_rows(table.to_batches(max_chunksize=batch), 500, seed=3)
    assert one is not None and other is not None
    assert one.num_rows == 500 and one.equals(other)
    # Rows stay whole: a row's values travel together.
    i = one["i"].to_numpy()
    assert np.array_equal(one["x"].to_numpy(), table["x"].to_numpy()[i])


def test_rows_are_the_profiles_sampled_rows():
    """On the profile's keys: a column finite in every row samples exactly these rows."""
    table = _table(20_000)
    rows = sample_rows(table.to_batches(max_chunksize=4096), 1000, seed=5)
    profile = build_profile(
        table.to_batches(max_chunksize=4096),
        [ColumnPlan("x", "numerical")],
        ProfileOptions(sample_size=1000, seed=5),
    )
    assert rows is not None
    assert np.array_equal(np.sort(rows["x"].to_numpy()), np.sort(profile.columns["x"].sample))


def test_uniform_and_small_inputs_whole():
    table = _table(50_000)
    rows = sample_rows(table.to_batches(max_chunksize=5000), 2000, seed=0)
    assert rows is not None
    # Row positions of a uniform sample: mean ~ n/2 (σ of the mean ≈ 14,434/√2000 ≈ 323).
    assert abs(rows["i"].to_numpy().mean() - 25_000) < 1500
    small = sample_rows(_table(30).to_batches(), 100, seed=0)
    assert small is not None and sorted(small["i"].to_pylist()) == list(range(30))
    assert sample_rows(iter(()), 10, seed=0) is None


def test_values_keep_nulls():
    rows = sample_rows(_table(200).to_batches(), 200, seed=0)
    assert rows is not None
    labels = as_values(rows["c"], True)
    assert None in labels.tolist() and set(labels.tolist()) <= {"a", "b", None}
    numbers = as_values(pa.chunked_array([pa.array([1, None, 3])]), False)
    assert numbers.dtype == np.float64 and np.isnan(numbers[1]) and numbers[2] == 3


def test_column_groups_sample_the_same_rows_as_whole_batches(tmp_path):
    """Wide data is read in column groups; the sample is the same whole rows."""
    import pyarrow.parquet as pq

    from driftwarden.storage import DatasetSource, StorageOptions, open_dataset

    rng = np.random.default_rng(2)
    columns = {f"f{i:03d}": rng.normal(size=3000) for i in range(150)}
    columns["c"] = rng.choice(["a", "b"], 3000)
    for part in range(3):
        pq.write_table(
            pa.table({k: v[part * 1000 : (part + 1) * 1000] for k, v in columns.items()}),
            tmp_path / f"p{part}.parquet",
        )
    dataset = open_dataset(DatasetSource(uri=str(tmp_path), format="parquet"), StorageOptions())
    names = list(columns)
    whole = sample_rows(dataset.batches(names), 400, seed=1)
    grouped = sample_rows(dataset.batches(names, column_group=64), 400, seed=1)
    assert whole is not None and grouped is not None
    assert grouped.column_names == names and grouped.equals(whole)


def test_files_keyed_by_identity_sample_the_merged_profiles_rows_in_any_order(tmp_path):
    """The importance rows of a reference read file by file (analysis/model_rootcause.py):
    the same rows whatever order the files come in, and the rows the merged per-file
    profile samples, so a reference given as shard profiles holds the same sample."""
    import random

    import pyarrow.parquet as pq

    from driftwarden.analysis.incremental import file_stream, scan_file
    from driftwarden.model.reference_rows import sample_streams
    from driftwarden.storage import DatasetSource, StorageOptions, open_dataset

    rng = np.random.default_rng(4)
    for part, rows in enumerate([3000, 40, 1700, 900]):
        pq.write_table(
            pa.table({"x": rng.normal(size=rows), "c": rng.choice(["a", "b"], rows)}),
            tmp_path / f"p{part}.parquet",
        )
    dataset = open_dataset(DatasetSource(uri=str(tmp_path)), StorageOptions())

    def streams(files):
        return [(file_stream(f), dataset.batches(["x", "c"], files=[f])) for f in files]

    files = sorted(dataset.files, key=lambda f: f.path)
    rows = sample_streams(streams(files), 800, seed=7)
    shuffled = list(files)
    random.Random(1).shuffle(shuffled)
    again = sample_streams(streams(shuffled), 800, seed=7)
    assert rows is not None and again is not None and rows.equals(again)

    options = ProfileOptions(sample_size=800, seed=7)
    scan = scan_file(dataset, [ColumnPlan("x", "numerical")], [], options, None, 64)
    merged = scan(files[0], True)
    for info in files[1:]:
        merged = merged.merge(scan(info, True))
    assert np.array_equal(np.sort(rows["x"].to_numpy()), np.sort(merged.columns["x"].sample))
