"""Profiles round-trip through their file format; damaged files say so."""

import gzip

import numpy as np
import pyarrow as pa
import pytest

from driftwarden.errors import ProfileError
from driftwarden.profile import (
    ColumnPlan,
    ProfileOptions,
    build_profile,
    dumps_profile,
    loads_profile,
)


def _dataset_profile():
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "x": rng.normal(size=5000),
            "c": pa.array(rng.choice(["a", "b"], 5000)).dictionary_encode(),
            "ids": [f"u{i}" for i in range(5000)],
        }
    )
    plan = [
        ColumnPlan("x", "numerical"),
        ColumnPlan("c", "categorical"),
        ColumnPlan("ids", "categorical"),
    ]
    return build_profile(
        table.to_batches(1000), plan, ProfileOptions(sample_size=1000, max_categories=100)
    )


def test_round_trip_keeps_every_number():
    profile = _dataset_profile()
    back = loads_profile(dumps_profile(profile))
    assert back.rows == profile.rows and back.options == profile.options
    x, bx = profile.columns["x"], back.columns["x"]
    # The same (value, key) pairs; the file keeps them in ascending order of value.
    order = np.argsort(x.sample, kind="stable")
    assert np.array_equal(x.sample[order], bx.sample) and np.array_equal(x.keys[order], bx.keys)
    assert np.all(np.diff(bx.sample) >= 0)
    assert (x.mean, x.m2, x.finite) == (bx.mean, bx.m2, bx.finite)
    assert back.columns["c"].counts == profile.columns["c"].counts
    assert back.columns["ids"].count_of("u1") == profile.columns["ids"].count_of("u1")
    ids, bids = profile.columns["ids"], back.columns["ids"]
    assert not bids.exact and bids.firsts == ids.firsts and len(bids.firsts) == 100
    assert np.array_equal(bids.table, ids.table)
    assert back.columns["c"].firsts == profile.columns["c"].firsts
    # Without keys the labels stay (a cached reference still compares), first keys read 0.
    keyless = loads_profile(dumps_profile(profile, keep_keys=False)).columns["ids"]
    assert set(keyless.firsts) == set(ids.firsts) and set(keyless.firsts.values()) == {0.0}
    assert keyless.top(3) == ids.top(3)


def test_profile_file_is_small():
    assert len(dumps_profile(_dataset_profile(), keep_keys=False)) < 40_000


@pytest.mark.parametrize(
    "data,match",
    [
        (b"not gzip", "not a readable driftwarden profile"),
        (gzip.compress(b'{"format": "other"}'), "not a driftwarden profile"),
        (gzip.compress(b'{"format": "driftwarden-profile", "version": 99}'), "version 99"),
        (
            gzip.compress(b'{"format": "driftwarden-profile", "version": 1, "options": {}}'),
            "version 1",
        ),
    ],
)
def test_bad_profile_files_name_the_source(data, match):
    with pytest.raises(ProfileError, match=match) as error:
        loads_profile(data, source="s3://cache/ref.profile")
    assert "s3://cache/ref.profile" in str(error.value)


def test_truncated_profile_file_is_reported():
    data = dumps_profile(_dataset_profile())
    with pytest.raises(ProfileError, match="not a readable"):
        loads_profile(data[: len(data) // 2])


def test_any_damaged_byte_is_a_profile_error_never_another_exception():
    data = dumps_profile(_dataset_profile(), keep_keys=False)
    rng = np.random.default_rng(5)
    for position in rng.choice(len(data), size=60, replace=False):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        try:
            loads_profile(bytes(damaged), source="cache")
        except ProfileError as error:
            assert "cache" in str(error)


def test_a_corrupt_deflate_stream_is_a_profile_error():
    data = dumps_profile(_dataset_profile())
    damaged = data[:10] + bytes(b ^ 0x5A for b in data[10:40]) + data[40:]
    with pytest.raises(ProfileError, match="not a readable"):
        loads_profile(damaged)


def _split(data: bytes) -> tuple[dict, bytes, bytes]:
    """A profile file's header document, the bytes before its payload, and the payload."""
    import json
    import struct

    (length,) = struct.unpack_from("<Q", data, 8)
    document = json.loads(gzip.decompress(data[16 : 16 + length]))
    start = 16 + length + (-(16 + length) % 8)
    return document, data[:start], data[start:]


def _repacked(data: bytes, document: dict, body: bytes) -> bytes:
    import json
    import struct

    header = gzip.compress(json.dumps(document).encode(), mtime=0)
    padding = b"\0" * (-(16 + len(header)) % 8)
    return data[:8] + struct.pack("<Q", len(header)) + header + padding + body


def test_payload_checksum_is_its_definition_whole_or_in_parts():
    from driftwarden.profile.serialize import PayloadChecksum, payload_checksum

    words = np.random.default_rng(3).integers(0, 2**64, size=70_000, dtype=np.uint64)
    expected = 0  # Σ wᵢ·mᵢ mod 2^64, mᵢ odd per place in a chunk of 2^15 words and chunk
    for i, word in enumerate(words.tolist()):
        chunk, offset = divmod(i, 1 << 15)
        weight = ((offset * 2 * 0x9E3779B97F4A7C15) | 1) % 2**64
        expected = (expected + word * weight * (2 * chunk + 1)) % 2**64
    data = words.astype("<u8").tobytes()
    assert payload_checksum(data) == expected
    for bounds in (
        [(0, 3), (3, 32_770), (32_770, 32_771), (32_771, 70_000)],  # across chunks
        [(0, 32_768), (32_768, 70_000)],  # whole chunks at once from the second one on
    ):
        parts = PayloadChecksum()
        for lo, hi in bounds:
            parts.update(memoryview(data)[8 * lo : 8 * hi])
        assert parts.value == expected


def test_a_damaged_word_or_swapped_stretches_of_the_payload_are_detected():
    data = dumps_profile(_dataset_profile(), keep_keys=False)
    document, head, body = _split(data)
    assert "sum64" in document["payload"] and "crc32" not in document["payload"]
    words = np.frombuffer(body, dtype="<u8").copy()
    rng = np.random.default_rng(9)
    for _ in range(20):
        damaged = words.copy()
        damaged[rng.integers(words.size)] ^= np.uint64(1) << np.uint64(rng.integers(64))
        with pytest.raises(ProfileError, match="checksum"):
            loads_profile(head + damaged.tobytes())
    # Two stretches of the payload swapped (e.g. parts of an upload out of order).
    swapped = words.copy()
    swapped[:64], swapped[64:128] = words[64:128], words[:64]
    assert not np.array_equal(swapped, words)
    with pytest.raises(ProfileError, match="checksum"):
        loads_profile(head + swapped.tobytes())


def test_a_payload_checked_apart_says_what_loading_it_at_once_would():
    from driftwarden.profile.serialize import loads_profile_unchecked

    data = dumps_profile(_dataset_profile(), keep_keys=False)
    profile, check = loads_profile_unchecked(data, source="cache")
    assert check is not None
    check.wait()
    assert dumps_profile(profile, keep_keys=False) == data
    _, head, body = _split(data)
    words = np.frombuffer(body, dtype="<u8").copy()
    words[words.size // 2] ^= np.uint64(1) << np.uint64(40)
    damaged = head + words.tobytes()
    with pytest.raises(ProfileError, match="checksum") as at_once:
        loads_profile(damaged, source="cache")
    profile, check = loads_profile_unchecked(damaged, source="cache")  # loads: unverified
    assert check is not None and profile.rows == 5000
    for _ in range(2):  # and says so every time it is asked
        with pytest.raises(ProfileError) as later:
            check.wait()
        assert str(later.value) == str(at_once.value)


def test_profiles_written_with_a_crc32_still_load():
    import zlib

    data = dumps_profile(_dataset_profile())
    document, _, body = _split(data)
    del document["payload"]["sum64"]
    document["payload"]["crc32"] = zlib.crc32(body)
    back = loads_profile(_repacked(data, document, body))
    assert back.rows == 5000
    document["payload"]["crc32"] ^= 1
    with pytest.raises(ProfileError, match="checksum"):
        loads_profile(_repacked(data, document, body))


def test_a_sample_stored_sorted_is_not_checked_again_in_full(monkeypatch):
    from driftwarden.profile import numeric

    def full_check(values):
        raise AssertionError("a sample stored sorted was checked in full")

    monkeypatch.setattr(numeric, "is_sorted", full_check)
    x = loads_profile(dumps_profile(_dataset_profile(), keep_keys=False)).columns["x"]
    assert x.sorted_sample is x.sample


def test_a_sample_said_sorted_but_not_is_sorted_all_the_same():
    # Stored in its own order (the window cache's sort=False) under a header that says
    # sorted: the guard sees it and sorted_sample sorts, as for any unsorted sample.
    data = dumps_profile(_dataset_profile(), keep_keys=False, sort=False)
    document, _, body = _split(data)
    assert document["columns"]["x"]["sorted"] is False
    document["columns"]["x"]["sorted"] = True
    x = loads_profile(_repacked(data, document, body)).columns["x"]
    assert not np.all(np.diff(x.sample) >= 0)
    assert np.array_equal(x.sorted_sample, np.sort(x.sample))


def test_inconsistent_arrays_are_a_profile_error():
    profile = _dataset_profile()
    x = profile.columns["x"]
    x.bin_counts = np.zeros(3, dtype=np.int64)
    x.edges = np.array([0.0, 1.0, 2.0, 3.0])
    with pytest.raises(ProfileError, match="damaged"):
        loads_profile(dumps_profile(profile))


def test_samples_load_as_views_of_the_file_without_copies():
    data = dumps_profile(_dataset_profile(), keep_keys=False)
    x = loads_profile(data).columns["x"]
    assert not x.sample.flags.owndata and not x.sample.flags.writeable
    assert x.sorted_sample is x.sample  # stored sorted: nothing to sort again


def _with_version(data: bytes, version: int) -> bytes:
    """A version-3 profile file relabelled as another version (the header re-packed)."""
    import json
    import struct

    (length,) = struct.unpack_from("<Q", data, 8)
    document = json.loads(gzip.decompress(data[16 : 16 + length]))
    document["version"] = version
    header = gzip.compress(json.dumps(document).encode(), mtime=0)
    padding = b"\0" * (-(16 + len(header)) % 8)
    body = data[16 + length + (-(16 + length) % 8) :]
    return data[:8] + struct.pack("<Q", len(header)) + header + padding + body


def test_older_versions_are_refused_and_a_cached_one_is_recomputed(tmp_path):
    """Version 2 held a frequent-items sketch whose merge depends on order: its files
    are refused by name, and a cached reference of that version is profiled again."""
    import pyarrow.parquet as pq

    from driftwarden.analysis.plan import FeaturePlan
    from driftwarden.analysis.run import load_or_build_reference, reference_cache_key
    from driftwarden.storage import DatasetSource, StorageOptions, open_dataset

    old = _with_version(dumps_profile(_dataset_profile()), 2)
    with pytest.raises(ProfileError, match="version 2; this driftwarden reads version 3"):
        loads_profile(old, source="shard-0")

    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table({"x": np.arange(100.0)}), data / "a.parquet")
    dataset = open_dataset(DatasetSource(uri=str(data)), StorageOptions())
    plan = FeaturePlan([ColumnPlan("x", "numerical")], [])
    options = ProfileOptions(sample_size=1000)
    cache = tmp_path / "cache"
    cache.mkdir()
    key = reference_cache_key(dataset, plan, options, 10)
    findings: list = []

    def build():
        return load_or_build_reference(
            dataset,
            plan,
            options,
            10,
            cache=str(cache),
            storage=StorageOptions(),
            progress=None,
            findings=findings,
        )

    fresh, _ = build()
    stored = cache / f"reference-{key}.dwprofile"
    stored.write_bytes(_with_version(stored.read_bytes(), 2))
    again, cached = build()
    assert not cached and again.rows == fresh.rows == 100
    assert [f["code"] for f in findings] == ["ProfileCacheInvalid"]
    assert "version 2" in findings[0]["message"]
    assert loads_profile(stored.read_bytes()).rows == 100  # written again, readable
