"""The current window's profile without a cache: the file's own profile, not a copy of it."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftwarden.analysis.incremental import profile_window, scan_file
from driftwarden.profile import ColumnPlan, ProfileOptions
from driftwarden.storage import DatasetSource, StorageOptions, open_dataset

COLUMNS, ROWS, SAMPLE = 40, 6_000, 4_096


def test_a_one_file_window_is_that_files_profile_with_no_sample_copied(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "current.parquet"
    pq.write_table(
        pa.table({f"x{i}": rng.normal(size=ROWS) for i in range(COLUMNS)}),
        path,
        row_group_size=2_000,
    )
    dataset = open_dataset(DatasetSource(str(path)), StorageOptions())
    plan = [ColumnPlan(f"x{i}", "numerical") for i in range(COLUMNS)]
    options = ProfileOptions(sample_size=SAMPLE)
    edges = {column.name: np.array([-1.0, 0.0, 1.0]) for column in plan}
    scan = scan_file(dataset, plan, [], options, edges, column_group=COLUMNS)
    scanned = scan(dataset.files[0], True)

    tracemalloc.start()
    try:
        profile, counts = profile_window(
            dataset, plan, options, edges, scan, cache=None, storage=StorageOptions(), findings=[]
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert counts.scanned == 1 and profile.rows == ROWS
    for name, column in profile.columns.items():
        expected = scanned.columns[name]
        assert np.array_equal(column.sample, expected.sample)
        assert np.array_equal(column.bin_counts, expected.bin_counts)
        assert (column.mean, column.m2, column.finite) == (
            expected.mean,
            expected.m2,
            expected.finite,
        )
    # Scanning holds the samples once (8 bytes a value) plus one batch; merging the file
    # into an empty profile copied every sample and gave each column its own keys:
    # twice the samples again on top.
    samples = COLUMNS * SAMPLE * 8
    assert peak < 2 * samples, (peak, samples)
