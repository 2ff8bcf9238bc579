"""Wide data is read in bounded pieces: batch size by bytes, column groups, no pre-buffer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftwarden.profile import ColumnPlan, ProfileOptions, build_profile
from driftwarden.storage import DatasetSource, StorageOptions, open_dataset
from driftwarden.storage.dataset import BATCH_BYTES, DEFAULT_BATCH_SIZE, batch_rows

OPTS = StorageOptions()


def _wide(tmp_path, columns=10, rows=5000, row_group=2000):
    rng = np.random.default_rng(7)
    names = [f"f{i}" for i in range(columns)]
    table = pa.table({n: rng.normal(size=rows) for n in names})
    path = tmp_path / "wide.parquet"
    pq.write_table(table, path, row_group_size=row_group)
    return path, names, table


def test_batch_rows_bound_the_bytes_of_a_batch():
    assert batch_rows([pa.float64()] * 25) == DEFAULT_BATCH_SIZE
    wide = batch_rows([pa.float64()] * 1000)
    assert wide * 8 * 1000 <= BATCH_BYTES < (wide + 1) * 8 * 1000
    assert batch_rows([pa.float64()] * 10**7) >= 1  # never zero rows


def test_column_groups_carry_at_most_the_group_and_every_row_once_per_group(tmp_path):
    path, names, table = _wide(tmp_path)
    opened = open_dataset(DatasetSource(str(path)), OPTS)
    batches = list(opened.batches(names, column_group=4))
    widths = {b.num_columns for b in batches}
    assert max(widths) <= 4
    by_column: dict[str, list[float]] = {n: [] for n in names}
    for batch in batches:
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            by_column[name].extend(column.to_pylist())
    assert by_column == {n: table.column(n).to_pylist() for n in names}


def test_csv_is_read_in_one_pass_whatever_the_group(tmp_path):
    import pyarrow.csv as pacsv

    table = pa.table({f"f{i}": [float(i)] * 3 for i in range(6)})
    path = tmp_path / "w.csv"
    pacsv.write_csv(table, path)
    opened = open_dataset(DatasetSource(str(path), format="csv"), OPTS)
    assert [b.num_columns for b in opened.batches(table.column_names, column_group=2)] == [6]


def test_profile_of_column_groups_equals_the_one_pass_profile(tmp_path):
    path, names, _ = _wide(tmp_path)
    plan = [ColumnPlan(n, "numerical") for n in names]
    options = ProfileOptions(sample_size=700)
    opened = open_dataset(DatasetSource(str(path)), OPTS)
    whole = build_profile(opened.batches(names, batch_size=1000), plan, options)
    grouped = build_profile(opened.batches(names, batch_size=1000, column_group=3), plan, options)
    assert grouped.rows == whole.rows == 5000
    for name in names:
        a, b = whole.columns[name], grouped.columns[name]
        assert (a.rows, a.finite, a.mean, a.m2) == (b.rows, b.finite, b.mean, b.m2)
        np.testing.assert_array_equal(np.sort(a.sample), np.sort(b.sample))


GROUP_COLUMNS = 64
GROUP_BYTES = 20_000 * GROUP_COLUMNS * 8  # one column group of _wide(columns=256, rows=20_000)


def test_the_next_column_group_decodes_while_this_one_is_read(tmp_path):
    """Arrow decodes a group's 20,000 rows at once; the next group's scan starts when
    the first batch of this one is taken, so its decoding overlaps the caller's work."""
    import gc
    import time

    path, names, _ = _wide(tmp_path, columns=256, rows=20_000, row_group=5000)
    opened = open_dataset(DatasetSource(str(path)), OPTS)
    gc.collect()
    before = pa.total_allocated_bytes()
    batches = opened.batches(names, column_group=GROUP_COLUMNS)
    first = next(batches)
    assert first.schema.names == names[:GROUP_COLUMNS]
    deadline = time.monotonic() + 30
    # This group's decoded rows plus most of the next group's, without asking for more.
    while pa.total_allocated_bytes() - before < 1.8 * GROUP_BYTES:
        assert time.monotonic() < deadline, (
            f"{pa.total_allocated_bytes() - before} bytes decoded: the next group is not read"
        )
        time.sleep(0.01)
    assert sum(1 for _ in batches) == 4 * 4 - 1  # every batch still comes, once


def _pool_peak(path, names, prefetch_bytes=None):
    """The Arrow pool's peak while a fresh process reads ``path`` in column groups."""
    import subprocess
    import sys

    script = f"""
import pyarrow as pa
import driftwarden.storage.dataset as storage
if {prefetch_bytes!r} is not None:
    storage.PREFETCH_BYTES = {prefetch_bytes!r}
opened = storage.open_dataset(storage.DatasetSource({str(path)!r}), storage.StorageOptions())
rows = sum(b.num_rows for b in opened.batches({names!r}, column_group={GROUP_COLUMNS}))
assert rows == 20_000 * {len(names) // GROUP_COLUMNS}, rows
print(pa.default_memory_pool().max_memory())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_reading_ahead_holds_at_most_two_column_groups(tmp_path):
    path, names, _ = _wide(tmp_path, columns=256, rows=20_000, row_group=5000)
    whole = 256 * 20_000 * 8
    peak = _pool_peak(path, names)
    assert peak <= 2.5 * GROUP_BYTES < whole  # this group and the next, never the file
    # Without room to read ahead, one group at a time, as before.
    assert _pool_peak(path, names, prefetch_bytes=GROUP_BYTES // 2) <= 1.5 * GROUP_BYTES


def test_a_read_given_up_releases_the_group_read_ahead(tmp_path):
    """A caller that stops early (a profiling error, a second pass) leaves no decoded
    column group behind once it drops the batches."""
    import gc
    import time

    path, names, _ = _wide(tmp_path, columns=256, rows=20_000, row_group=5000)
    opened = open_dataset(DatasetSource(str(path)), OPTS)
    gc.collect()
    before = pa.total_allocated_bytes()
    batches = opened.batches(names, column_group=GROUP_COLUMNS)
    next(batches)  # the next group's scan starts here
    batches.close()
    del batches
    gc.collect()
    deadline = time.monotonic() + 30
    # Arrow finishes the decoding it had begun, then frees it with the scan.
    while pa.total_allocated_bytes() - before > GROUP_BYTES // 4:
        assert time.monotonic() < deadline, f"{pa.total_allocated_bytes() - before} bytes held"
        time.sleep(0.01)
