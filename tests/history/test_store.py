"""Stored runs on a local disk: write, list once, read the last N, skip what is damaged."""

from __future__ import annotations

import pytest

from driftwarden.errors import DataFormatError, DataNotFoundError
from driftwarden.history.record import dump_record
from driftwarden.history.store import read_history, write_record
from driftwarden.storage import StorageOptions
from tests.history.helpers import failed_record, run_name, run_record

OPTIONS = StorageOptions()


def test_records_come_back_oldest_first_and_only_the_last_n(tmp_path):
    prefix = str(tmp_path / "history")
    for i in (3, 0, 2, 1, 4):  # written out of order
        write_record(prefix, run_record(i, {"a": 0.01 * i}), OPTIONS)
    history = read_history(prefix, OPTIONS, last=3)
    assert [r["run"] for r in history.records] == [run_name(i) for i in (2, 3, 4)]
    assert history.stored == 5
    assert history.names[0].startswith("20261101T020000Z-")


def test_older_records_are_not_read(tmp_path):
    prefix = tmp_path / "history"
    for i in range(1, 4):
        write_record(str(prefix), run_record(i, {"a": 0.01}), OPTIONS)
    # A damaged record older than the last 3 is never opened, so never reported.
    (prefix / "20200101T000000Z-ancient.json").write_text("{ not json")
    history = read_history(str(prefix), OPTIONS, last=3)
    assert history.skipped == []
    assert history.stored == 4
    assert len(history.records) == 3


def test_a_retried_run_replaces_its_own_record(tmp_path):
    prefix = str(tmp_path / "history")
    write_record(prefix, failed_record(1), OPTIONS)
    write_record(prefix, run_record(1, {"a": 0.01}), OPTIONS)
    history = read_history(prefix, OPTIONS)
    assert [r["outcome"] for r in history.records] == ["Succeeded"]


def test_damaged_records_are_skipped_with_the_reason(tmp_path):
    prefix = tmp_path / "history"
    write_record(str(prefix), run_record(1, {"a": 0.01}), OPTIONS)
    write_record(str(prefix), run_record(3, {"a": 0.01}), OPTIONS)
    (prefix / "20261101T020000Z-broken.json").write_text('{"v": 1, "run": "x"')
    newer = run_record(4, {"a": 0.01})
    newer["v"] = 99
    (prefix / "20261101T040000Z-future.json").write_text(dump_record(newer))
    (prefix / "notes.txt").write_text("not a record name: ignored")
    history = read_history(str(prefix), OPTIONS)
    assert [r["run"] for r in history.records] == [run_name(1), run_name(3)]
    assert [s.name for s in history.skipped] == [
        "20261101T020000Z-broken.json",
        "20261101T040000Z-future.json",
    ]
    assert "version 99" in history.skipped[1].problem


def test_missing_history_names_the_uri(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"no run history at .*nowhere"):
        read_history(str(tmp_path / "nowhere"), OPTIONS)


def test_empty_history_names_the_uri(tmp_path):
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "history.html").write_text("x")
    with pytest.raises(
        DataNotFoundError, match=r"no run records under .*history \(1 other files\)"
    ):
        read_history(str(tmp_path / "history"), OPTIONS)


def test_nothing_readable_is_a_data_error(tmp_path):
    prefix = tmp_path / "history"
    prefix.mkdir()
    (prefix / "20261101T020000Z-broken.json").write_text("[]")
    with pytest.raises(DataFormatError, match="none of the last 1 run records"):
        read_history(str(prefix), OPTIONS)
