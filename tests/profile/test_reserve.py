"""The sampling cut (profile/reserve.py) gives the per-batch selection's profile, byte for byte.

Real Parquet files read through the storage layer, as a run reads a whole file: its
row count from the footer, then ``build_profile`` with and without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.analysis.incremental import file_stream, scan_file
from driftwarden.profile import (
    ColumnPlan,
    NumericProfile,
    ProfileOptions,
    ReserveExhausted,
    build_profile,
    dumps_profile,
)
from driftwarden.profile.reserve import ReserveGroup, cut_for
from driftwarden.profile.sampling import bottom_k
from driftwarden.storage import StorageOptions
from driftwarden.storage.dataset import DatasetSource, open_dataset

ROWS, GROUP = 6000, 1000
OPTIONS = ProfileOptions(sample_size=500)
EDGES = {"always": np.array([-1.0, 0.0, 1.0])}
# The sampling keys hash the file's path; tmp_path changes every run, and with it
# whether a column's late NaNs outrun the cut's reserve (~5% of paths at k=500).
# A fixed stream makes each case the same on every run; scan_file's own retry
# (the path-keyed production route) is tested below.
STREAM = b"tests/profile/test_reserve"


def _columns(rng: np.random.Generator, breaking: bool) -> dict[str, pa.Array]:
    late_nan = rng.normal(size=ROWS)
    late_nan[GROUP:][rng.random(ROWS - GROUP) < 0.05] = np.nan  # a few, after the first batch
    nulls = pa.array(rng.normal(size=ROWS), mask=rng.random(ROWS) < 0.2)
    columns = {
        "always": pa.array(rng.normal(size=ROWS)),
        "late_nan": pa.array(late_nan),
        "nulls": nulls,
        "ints": pa.array(rng.integers(0, 5, ROWS)),  # ties everywhere
        "label": pa.array(rng.choice(["a", "b", "c"], ROWS)),
    }
    if breaking:
        broken = rng.normal(size=ROWS)
        broken[ROWS // 2 :] = np.inf  # half the file, from its middle on
        columns["broken"] = pa.array(broken)
    return columns


def _file(directory: Path, seed: int, breaking: bool):
    directory.mkdir(parents=True, exist_ok=True)
    table = pa.table(_columns(np.random.default_rng(seed), breaking))
    pq.write_table(table, directory / "part.parquet", row_group_size=GROUP)
    dataset = open_dataset(DatasetSource(uri=str(directory)), StorageOptions())
    plan = [
        ColumnPlan(name, "categorical" if name == "label" else "numerical")
        for name in table.column_names
    ]
    return dataset, plan


def _profile(dataset, plan, rows, stream=STREAM):
    info = dataset.files[0]
    batches = dataset.batches(
        [c.name for c in plan], dictionary_columns=["label"], files=[info], whole=True
    )
    return build_profile(batches, plan, OPTIONS, edges=EDGES, stream=stream, rows=rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_cut_gives_the_same_profile(tmp_path, seed):
    dataset, plan = _file(tmp_path / "data", seed, breaking=False)
    rows = dataset.file_rows(dataset.files[0])
    assert rows == ROWS
    assert cut_for(rows, OPTIONS.sample_size) is not None  # the cut is taken here
    with_cut = _profile(dataset, plan, rows)
    without = _profile(dataset, plan, None)
    assert dumps_profile(with_cut) == dumps_profile(without)
    assert dumps_profile(with_cut, keep_keys=False) == dumps_profile(without, keep_keys=False)
    # The late NaN column left the shared rows and still has a full sample.
    assert with_cut.columns["late_nan"].sample.size == OPTIONS.sample_size


def test_a_column_that_breaks_late_is_profiled_again_without_the_cut(tmp_path):
    dataset, plan = _file(tmp_path / "data", 7, breaking=True)
    rows = dataset.file_rows(dataset.files[0])
    with pytest.raises(ReserveExhausted) as short:
        _profile(dataset, plan, rows)
    assert short.value.column == "broken"
    scan = scan_file(dataset, plan, ["label"], OPTIONS, EDGES, column_group=64)
    assert dumps_profile(scan(dataset.files[0], True)) == dumps_profile(
        _profile(dataset, plan, None, stream=file_stream(dataset.files[0]))
    )


def test_no_cut_for_short_or_unknown_streams():
    assert cut_for(None, 500) is None
    assert cut_for(1000, 500) is None  # under twice the kept rows: little to save
    assert cut_for(100_000, 32_768) == pytest.approx((32_768 + 4_096) / 100_000)


def _late_leaver(directory: Path, rows: int, group: int) -> tuple:
    """A file whose ``late`` column turns NaN in its last row group only: by then the shared
    rows hold more than ``k`` values, so its values so far lie in both of the block's parts.
    ``early`` turns NaN in the second; ``always`` and ``after`` (the block's rows either
    side of ``late``'s) stay finite."""
    rng = np.random.default_rng(11)
    late = rng.normal(size=rows)
    late[rows - group :][rng.random(group) < 0.05] = np.nan
    early = rng.normal(size=rows)
    early[group : 2 * group][rng.random(group) < 0.05] = np.nan
    table = pa.table(
        {
            "always": rng.normal(size=rows),
            "late": late,
            "after": rng.normal(size=rows),
            "early": early,
            "label": rng.choice(["a", "b"], rows),
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, directory / "part.parquet", row_group_size=group)
    dataset = open_dataset(DatasetSource(uri=str(directory)), StorageOptions())
    kinds = {"label": "categorical"}
    return dataset, [ColumnPlan(name, kinds.get(name, "numerical")) for name in table.column_names]


# ~47 (~96) kept rows a batch, past k in the 11th batch of 12. At k = 1,024 a block row is
# two whole pages, which a leaving column gives back (released, they read as zeros).
@pytest.mark.parametrize(("k", "rows", "group"), [(500, 6000, 500), (1024, 12000, 1000)])
def test_a_column_leaving_the_shared_rows_after_k_of_them_gives_the_same_profile(
    tmp_path, k, rows, group
):
    dataset, plan = _late_leaver(tmp_path / "data", rows, group)
    assert dataset.file_rows(dataset.files[0]) == rows
    cut = cut_for(rows, k)
    assert cut is not None and (rows - group) * cut > k
    options = ProfileOptions(sample_size=k)

    def batches():
        names = [c.name for c in plan]
        return dataset.batches(names, dictionary_columns=["label"], files=dataset.files, whole=True)

    with_cut = build_profile(batches(), plan, options, stream=STREAM, rows=rows)
    without = build_profile(batches(), plan, options, stream=STREAM)
    assert dumps_profile(with_cut) == dumps_profile(without)
    late = with_cut.columns["late"]
    assert late.nan > 0 and late.sample.size == k


def test_the_shared_samples_are_writeable_and_independent(tmp_path):
    # Shared columns' samples are rows of one block: sorting one in place (after drop_keys,
    # as a compared window's profile is) must leave the others as they were.
    dataset, plan = _file(tmp_path / "data", 0, breaking=False)
    profile = _profile(dataset, plan, ROWS)
    always, ints = profile.columns["always"], profile.columns["ints"]
    assert always.sample.flags.writeable and ints.sample.flags.writeable
    before = ints.sample.tobytes()
    expected = np.sort(always.sample)
    always.drop_keys()
    assert always.sorted_sample is always.sample  # sorted where it lies
    assert always.sample.tobytes() == expected.tobytes()
    assert ints.sample.tobytes() == before


def test_more_kept_rows_than_the_reserve_expects_still_give_the_k_smallest_keys():
    # A cut far above k/n's share keeps every row: the block's spare part must grow.
    k, batch, batches = 50, 400, 3
    rng = np.random.default_rng(5)
    group = ReserveGroup(cut=0.99, k=k)
    columns = {name: NumericProfile(k) for name in ("a", "b", "leaves")}
    all_keys, values = [], {name: [] for name in columns}
    for step in range(batches):
        keys = rng.random(batch) * 0.9
        group.begin(keys)
        all_keys.append(keys)
        batch_values = {name: rng.normal(size=batch) for name in columns}
        for name in columns:
            values[name].append(batch_values[name])
        shared = ["a", "b", "leaves"] if step == 0 else ["a", "b"]
        if step > 0:  # "leaves" turns non-finite in its second batch: every other row
            finite = np.arange(batch) % 2 == 0
            values["leaves"][-1] = batch_values["leaves"][finite]
            all_keys_leaves = keys[finite]
            group.take_own("leaves", batch_values["leaves"][finite], all_keys_leaves)
        group.take_shared([(name, batch_values[name]) for name in shared])
    group.finish(columns)
    keys = np.concatenate(all_keys)
    for name in ("a", "b"):
        sample, sample_keys = bottom_k(np.concatenate(values[name]), keys, k)
        order = np.argsort(sample_keys)
        mine = np.argsort(columns[name].keys)
        assert columns[name].sample[mine].tobytes() == sample[order].tobytes()
        assert columns[name].keys[mine].tobytes() == sample_keys[order].tobytes()
    leaves_keys = np.concatenate(
        [all_keys[0]] + [step_keys[np.arange(batch) % 2 == 0] for step_keys in all_keys[1:]]
    )
    sample, sample_keys = bottom_k(np.concatenate(values["leaves"]), leaves_keys, k)
    assert np.sort(columns["leaves"].sample).tobytes() == np.sort(sample).tobytes()
