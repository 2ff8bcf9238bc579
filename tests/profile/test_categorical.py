"""Categorical profiles: exact counts up to a cap, then first keys and a count-min sketch,
both merged order-free."""

import itertools

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.profile import OTHER, UNSEEN, CategoricalProfile
from driftwarden.profile.sampling import RowKeys


def _profile(values, cap=100, type=None):
    profile = CategoricalProfile(cap)
    profile.update(pa.array(values, type=type))
    return profile


def test_strings_dictionaries_and_booleans_count_the_same_way():
    values = ["a", "b", None, "a", "c", "a"]
    plain = _profile(values)
    encoded = CategoricalProfile(100)
    encoded.update(pa.array(values).dictionary_encode())
    assert plain.counts == encoded.counts == {"a": 3, "b": 1, "c": 1}
    assert plain.nulls == encoded.nulls == 1
    flags = _profile([True, False, None, True], type=pa.bool_())
    assert flags.counts == {"true": 2, "false": 1} and flags.nulls == 1


def test_integers_forced_categorical_become_labels():
    assert _profile([1, 2, 2, None]).counts == {"1": 1, "2": 2}


def test_bucket_counts_split_other_and_unseen():
    reference = _profile(["a"] * 5 + ["b"] * 3 + ["c"])
    current = _profile(["a", "b", "c", "c", "z", "z", None])
    counts, unseen = current.bucket_counts(["a", "b"], reference.counts)
    assert counts == [1.0, 1.0, 2.0, 2.0] and unseen == 2
    counts, unseen = current.bucket_counts(["a", "b"], None)
    assert counts == [1.0, 1.0, 4.0, 0.0] and unseen is None
    assert (OTHER, UNSEEN) == ("__other__", "__unseen__")


def test_high_cardinality_spills_into_a_bounded_sketch():
    rng = np.random.default_rng(0)
    ids = [f"user-{i}" for i in range(200_000)]
    hot = ["hot"] * 50_000
    profile = CategoricalProfile(1000)
    values = np.array(ids + hot, dtype=object)
    rng.shuffle(values)
    for chunk in np.array_split(values, 20):
        profile.update(pa.array(chunk.tolist()))
    assert not profile.exact and profile.distinct is None
    assert profile.rows == 250_000
    assert profile.top(1)[0][0] == "hot"
    assert len(profile.firsts) == 1000  # the candidates: bounded by the cap
    assert 50_000 <= profile.count_of("hot") <= 50_000 + profile.error_bound
    assert profile.error_bound < 0.01 * profile.rows


def _keyed(values, cap, keys):
    profile = CategoricalProfile(cap)
    profile.update(pa.array(values, type=pa.string()), keys)
    return profile


def _state(profile):
    table = None if profile.table is None else profile.table.tolist()
    return profile.rows, profile.nulls, profile.counts, profile.firsts, table


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from(list("abcdefghijklmnop"))), min_size=1, max_size=200
    ),
    st.lists(st.integers(0, 200), max_size=4),
    st.randoms(use_true_random=False),
)
def test_merging_shards_in_any_order_equals_profiling_the_whole(values, cuts, rng):
    """Cap 3 of 16 labels: most cases spill, in the whole or only when shards merge."""
    keys = RowKeys(7).of(0, len(values))
    whole = _keyed(values, 3, keys)
    bounds = sorted({0, len(values), *(c % (len(values) + 1) for c in cuts)})
    pieces = [_keyed(values[a:b], 3, keys[a:b]) for a, b in itertools.pairwise(bounds)]
    rng.shuffle(pieces)
    merged = pieces[0]
    for piece in pieces[1:]:
        merged = merged.merge(piece) if rng.random() < 0.5 else piece.merge(merged)
    assert _state(merged) == _state(whole)
    if not whole.exact:
        for label in set(v for v in values if v):  # never below the count
            assert whole.count_of(label) >= values.count(label)


def test_merge_refuses_different_caps():
    with pytest.raises(ValueError, match="max_categories"):
        _profile(["a"], cap=10).merge(_profile(["a"], cap=20))


def test_skewed_high_cardinality_counts_hold_their_stated_bounds(tmp_path):
    """Zipf-distributed labels (tens of thousands of them, cap 1,000) in real Parquet
    files, profiled file by file and merged as a run does, against exact counts: no
    estimate below its count, at most a 1 - e^-5 share above it by more than the bound,
    every label on ≥ 10 / cap of the rows a candidate, and the head in its true order."""
    import pyarrow.parquet as pq

    from driftwarden.analysis.incremental import scan_file
    from driftwarden.profile import ColumnPlan, ProfileOptions
    from driftwarden.profile.categorical import DEPTH
    from driftwarden.storage import DatasetSource, StorageOptions, open_dataset

    rng = np.random.default_rng(21)
    tables = []
    for part, rows in enumerate([90_000, 40_000, 120_000, 50_000]):
        labels = pa.array([f"item-{v}" for v in rng.zipf(1.2, rows)])
        tables.append(pa.table({"h": labels}))
        pq.write_table(tables[-1], tmp_path / f"part-{part}.parquet")
    counted = pa.concat_tables(tables)["h"].combine_chunks().value_counts()
    exact = dict(
        zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True)
    )
    assert len(exact) > 20_000

    cap = 1000
    dataset = open_dataset(DatasetSource(uri=str(tmp_path)), StorageOptions())
    options = ProfileOptions(max_categories=cap)
    scan = scan_file(dataset, [ColumnPlan("h", "categorical")], ["h"], options, None, 64)
    files = sorted(dataset.files, key=lambda info: info.path)
    profile = scan(files[0], True)
    for info in files[1:]:
        profile = profile.merge(scan(info, True))
    column = profile.columns["h"]
    assert isinstance(column, CategoricalProfile) and not column.exact

    total = sum(exact.values())
    bound = column.error_bound
    assert bound == pytest.approx(np.e / 1024 * total)  # width: 1,024 counters a row
    labels = list(exact)
    over = np.array([column.count_of(label) for label in labels]) - np.array(
        [exact[label] for label in labels]
    )
    assert over.min() >= 0
    assert np.mean(over > bound) <= 2 * np.exp(-DEPTH)
    frequent = [label for label, count in exact.items() if count >= 10 / cap * total]
    assert frequent and set(frequent) <= set(column.firsts)
    truth = sorted(exact.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [label for label, _ in column.top(5)] == [label for label, _ in truth[:5]]
