"""A long value split over environment variables and joined again (driftwarden.envchunks)."""

from __future__ import annotations

import pytest

from driftwarden.envchunks import CHUNK_BYTES, MAX_CHUNKS, chunked_env, join_env, split_value
from driftwarden.errors import ConfigError


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])  # 1 to 4 UTF-8 bytes
def test_chunks_are_cut_between_characters_and_join_to_the_value(char):
    value = "{" + char * 40 + "}"
    pieces = split_value(value, chunk_bytes=15)  # no multiple of 2, 3 or 4: cuts fall inside
    assert "".join(pieces) == value and len(pieces) > 2
    assert all(0 < len(p.encode()) <= 15 for p in pieces)
    env = dict(chunked_env("V", value, chunk_bytes=15))
    assert env["V_CHUNKS"] == str(len(pieces)) and env["V"] == pieces[0]
    assert join_env("V", env) == value


def test_a_short_value_is_one_chunk_and_still_counted():
    assert chunked_env("V", "{}") == [("V_CHUNKS", "1"), ("V", "{}")]


def test_the_default_chunk_keeps_every_variable_under_linux_limit():
    value = "x" * (3 * CHUNK_BYTES + 5)
    env = chunked_env("DRIFTWARDEN_MONITOR", value)
    assert [name for name, _ in env] == [
        "DRIFTWARDEN_MONITOR_CHUNKS",
        "DRIFTWARDEN_MONITOR",
        "DRIFTWARDEN_MONITOR_1",
        "DRIFTWARDEN_MONITOR_2",
        "DRIFTWARDEN_MONITOR_3",
    ]
    assert all(len(f"{k}={v}".encode()) + 1 < 120 * 1024 for k, v in env)


def test_without_a_count_the_variable_is_read_alone():
    # Set by hand (or by an older operator): a stray _1 is not appended.
    assert join_env("V", {"V": "{}", "V_1": "junk"}) == "{}"
    assert join_env("V", {}) is None


def test_the_count_decides_which_chunks_are_read():
    assert join_env("V", {"V_CHUNKS": "1", "V": "{}", "V_1": "junk"}) == "{}"


@pytest.mark.parametrize("count", ["0", "x", "-1", "²", str(MAX_CHUNKS + 1), ""])
def test_a_bad_count_names_the_variable(count):
    with pytest.raises(ConfigError, match="V_CHUNKS"):
        join_env("V", {"V_CHUNKS": count, "V": "{}"})


def test_a_missing_chunk_names_the_variable():
    with pytest.raises(ConfigError, match=r"V_2 is not set or empty, but V_CHUNKS says V has 3"):
        join_env("V", {"V_CHUNKS": "3", "V": "{", "V_1": '"a":1'})


def test_a_value_beyond_the_chunk_limit_is_refused_when_written():
    with pytest.raises(ValueError, match="more than 16 chunks"):
        chunked_env("V", "x" * (MAX_CHUNKS * 10 + 1), chunk_bytes=10)
