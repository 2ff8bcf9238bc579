"""Categorical profiles: exact counts up to a cap, then a frequent-items sketch."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.profile import OTHER, UNSEEN, CategoricalProfile


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
    assert abs(profile.count_of("hot") - 50_000) <= profile.error_bound
    assert profile.error_bound < 0.01 * profile.rows


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from(list("abcdefghijklmnop"))), min_size=1, max_size=200
    ),
    st.integers(0, 200),
)
def test_merging_shards_equals_profiling_the_whole(values, cut):
    whole = _profile(values, cap=8)
    cut %= len(values) + 1
    merged = _profile(values[:cut], cap=8).merge(_profile(values[cut:], cap=8))
    assert (merged.rows, merged.nulls, merged.exact) == (whole.rows, whole.nulls, whole.exact)
    if whole.exact:
        assert merged.counts == whole.counts
    else:
        for label in set(v for v in values if v):
            assert (
                abs(merged.count_of(label) - whole.count_of(label))
                <= merged.error_bound + whole.error_bound
            )


def test_merge_refuses_different_caps():
    with pytest.raises(ValueError, match="max_categories"):
        _profile(["a"], cap=10).merge(_profile(["a"], cap=20))
