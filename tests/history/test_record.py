"""The history record: its name, its schema, its size, and reading it back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from driftwarden.history.record import (
    MAX_FEATURES,
    RECORD_VERSION,
    RecordError,
    build_record,
    dump_record,
    is_record_name,
    parse_record,
    record_features,
    record_name,
    retraining_marks,
)
from tests.history.helpers import failed_record, run_name, run_record, slot
from tests.report.helpers import feature, report


def test_names_sort_chronologically_whatever_the_run_names():
    # Run names sort the other way round; the time in front decides.
    names = [
        record_name(datetime(2026, 1, 1, 9, tzinfo=UTC), "zz-run"),
        record_name(datetime(2026, 1, 1, 10, tzinfo=UTC), "aa-run"),
        record_name(datetime(2026, 1, 2, 0, 0, 1, tzinfo=UTC), "mm-run"),
    ]
    assert sorted(names) == names
    assert names[0] == "20260101T090000Z-zz-run.json"
    assert all(is_record_name(n) for n in names)


def test_name_uses_utc_and_keeps_the_run_name_file_safe():
    local = datetime(2026, 1, 1, 11, tzinfo=timezone(timedelta(hours=2)))
    assert record_name(local, "a/b c") == "20260101T090000Z-a-b-c.json"
    assert record_name(local, "///") == "20260101T090000Z-run.json"
    for junk in ("history.html", "20260101T090000Z.json", ".20260101T090000Z-a.json.tmp", "x.json"):
        assert not is_record_name(junk)


def test_a_run_record_keeps_every_feature_column_wise():
    record = run_record(3, {"income": 0.3, "age": 0.02, "plan": 0.5})
    assert record["v"] == RECORD_VERSION
    assert record["outcome"] == "Succeeded"
    assert record["slot"] == "2026-11-01T03:00:00Z"
    assert record["run"] == run_name(3)
    assert record["report"].endswith(f"{run_name(3)}/report.json")
    assert record["driftedFeatures"] == 2 and record["totalFeatures"] == 3
    assert record["features"]["name"] == ["plan", "income", "age"]  # most drifted first
    assert record["features"]["drifted"] == [1, 1, 0]
    assert record["features"]["score"] == [0.5, 0.3, 0.02]
    assert record["settings"] == [{"kind": "numerical", "method": "wasserstein", "threshold": 0.1}]
    assert record["features"]["setting"] == [0, 0, 0]
    assert parse_record(dump_record(record)) == record
    assert record_features(record)[2] == {
        "name": "age",
        "kind": "numerical",
        "method": "wasserstein",
        "score": 0.02,
        "pValue": None,
        "threshold": 0.1,
        "drifted": 0,
    }


def test_p_value_methods_keep_their_p_value():
    record = run_record(0, {"x": 0.001, "y": 0.4}, methods={"x": "ks", "y": "ks"})
    rows = {f["name"]: f for f in record_features(record)}
    assert rows["x"]["pValue"] == 0.001 and rows["x"]["drifted"] == 1
    assert rows["y"]["pValue"] == 0.4 and rows["y"]["drifted"] == 0


def test_a_failed_run_has_its_reason_and_no_verdict():
    record = failed_record(2, retraining={"job": "churn-retrain-1", "time": "2026-11-01T01:00:00Z"})
    assert record["outcome"] == "Failed"
    assert record["reason"] == "DataNotFound"
    assert "s3://logs/live/" in record["message"]
    assert record["drifted"] is None and record["report"] is None
    assert record["features"]["name"] == []
    assert record["retraining"] == {"job": "churn-retrain-1", "time": "2026-11-01T01:00:00Z"}
    assert parse_record(dump_record(record)) == record


def test_a_record_of_1000_features_stays_small():
    names = [f"feature_{i:04d}_with_a_fairly_long_name" for i in range(1000)]
    features = [feature(n, 0.001 * i + 0.0123456789) for i, n in enumerate(names)]
    record = build_record(
        report(features),
        run="churn-202611010000-abcdef12",
        slot=slot(0),
        time=slot(0),
        report_uri="s3://logs/churn/drift-reports/churn/churn-202611010000-abcdef12/report.json",
    )
    size = len(dump_record(record).encode())
    # Every score kept (6 digits): ~57 bytes a feature here, 38 of them the name.
    assert len(record["features"]["score"]) == 1000
    assert size < 64 * 1024, size
    assert size > 40 * 1000  # the names alone take this: nothing was dropped


def test_a_very_wide_report_keeps_its_most_drifted_features():
    features = [feature(f"f{i}", 0.2 if i < 3 else 0.01) for i in range(MAX_FEATURES + 5)]
    from driftwarden.report.document import sort_features

    record = build_record(report(sort_features(features)), run="r", slot=None, time=slot(0))
    assert len(record["features"]["name"]) == MAX_FEATURES
    assert record["omittedFeatures"] == 5
    assert record["features"]["drifted"][:3] == [1, 1, 1]
    assert parse_record(dump_record(record))["omittedFeatures"] == 5


def _broken(change):
    record = json.loads(dump_record(run_record(0, {"a": 0.3, "b": 0.01})))
    change(record)
    return json.dumps(record)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(v=2), "version 2"),
        (lambda r: r.update(run=""), "run"),
        (lambda r: r.update(outcome="Maybe"), "outcome"),
        (lambda r: r.update(time="yesterday"), "time"),
        (lambda r: r.update(driftShare=1.5), "driftShare"),
        (lambda r: r.update(drifted="yes"), "drifted"),
        (lambda r: r.update(totalFeatures=3), "totalFeatures 3"),
        (lambda r: r["features"]["score"].pop(), "different lengths"),
        (lambda r: r["features"]["score"].__setitem__(0, "high"), "features.score[0]"),
        (lambda r: r["features"]["drifted"].__setitem__(0, 2), "features.drifted[0]"),
        (lambda r: r.update(retraining={"run": "x"}), "retraining"),
        (lambda r: r["features"]["setting"].__setitem__(0, 5), "features.setting[0]"),
        (lambda r: r["settings"][0].update(method=None), "settings[0].method"),
        (lambda r: r.pop("features"), "features"),
    ],
)
def test_a_damaged_record_is_refused_with_the_field_named(change, message):
    with pytest.raises(RecordError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_record(_broken(change))


@pytest.mark.parametrize("text", ["", "{", "[]", "null", '{"v": 1', "\xff"])
def test_not_json_is_a_record_error(text):
    with pytest.raises(RecordError):
        parse_record(text)


def test_retraining_marks_are_distinct_and_oldest_first():
    second = {"job": "r-2", "run": run_name(5), "time": "2026-11-01T05:01:00Z"}
    first = {"job": "r-1", "run": run_name(1), "time": "2026-11-01T01:01:00Z"}
    records = [
        run_record(2, {"a": 0.3}, retraining=first),
        run_record(3, {"a": 0.3}, retraining=first),
        failed_record(6, retraining=second),
        run_record(7, {"a": 0.3}, retraining=second),
    ]
    assert [m["job"] for m in retraining_marks(records)] == ["r-1", "r-2"]
