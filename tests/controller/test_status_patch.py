"""The status merge patch the operator sends (``status_patch``), applied by the kube API
fixture's own RFC 7386 merge patch: each field the operator computes ends up exactly as
computed, whatever the stored status held, and fields it does not compute are kept."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.controller.reconcile import merge_patched, status_patch
from tests.kubeapi.patching import merge_patch


def _without_nulls(value: Any) -> Any:
    """What a server stores for ``value`` written as a whole: no null-valued keys."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


_KEYS = st.sampled_from(["job", "slot", "phase", "shards", "total", "bytes", "reference"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)
_STATUS = st.dictionaries(st.sampled_from(["currentRun", "lastRun", "phase", "kopf"]), _JSON)


def test_an_unsharded_run_after_a_sharded_one_loses_every_key_it_lacks():
    stored = {
        "currentRun": {
            "job": "m-1000",
            "slot": "2026-01-01T10:00:00Z",
            "phase": "Merging",
            "shards": {"total": 2, "succeeded": 2, "failed": 0, "active": 0},
        },
        "lastRun": {
            "job": "m-0900",
            "outcome": "Succeeded",
            "reference": {"source": "s3://b/train/", "fingerprint": "0123456789ab"},
            "shards": {"total": 2, "succeeded": 2, "bytes": 800},
        },
        "kopf": {"progress": {}},
    }
    computed = {
        "currentRun": {"job": "m-1100", "slot": "2026-01-01T11:00:00Z", "phase": "Analyzing"},
        "lastRun": {"job": "m-1000", "outcome": "Failed", "reason": "ResultLost"},
    }
    patch = status_patch(stored, computed)
    assert patch["currentRun"]["shards"] is None
    assert patch["lastRun"]["shards"] is None and patch["lastRun"]["reference"] is None
    after = merge_patch(stored, patch)
    assert after == {**computed, "kopf": {"progress": {}}}
    assert merge_patched(stored, patch) == after


def test_a_nested_key_dropped_inside_shards_is_removed_too():
    stored = {"lastRun": {"job": "m", "shards": {"total": 2, "bytes": 800}}}
    computed = {"lastRun": {"job": "m", "shards": {"total": 3}}}
    assert status_patch(stored, computed) == {
        "lastRun": {"job": "m", "shards": {"total": 3, "bytes": None}}
    }


@settings(max_examples=300, deadline=None)
@given(stored=_STATUS, computed=_STATUS)
def test_each_computed_field_ends_up_exactly_as_computed(stored, computed):
    stored = _without_nulls(stored)  # a server never holds null-valued keys
    after = merge_patch(stored, status_patch(stored, computed))
    for key, value in computed.items():
        assert after.get(key) == _without_nulls(value), key
    for key in stored.keys() - computed.keys():
        assert after[key] == stored[key], key  # not the operator's: kept
    assert merge_patched(stored, status_patch(stored, computed)) == after
