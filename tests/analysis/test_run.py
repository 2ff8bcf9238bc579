"""Whole runs on real Arrow files: schema changes become findings, bad input clear errors."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.errors import ConfigError, DataFormatError, DataNotFoundError, SchemaError
from driftwarden.report import validate_report

RNG = np.random.default_rng(20)


def _write(path, columns, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path, **kwargs)
    return path


def _columns(n, shift=0.0):
    return {
        "age": RNG.normal(40 + shift, 10, n),
        "plan": RNG.choice(["a", "b", "c"], n),
        "active": RNG.random(n) < 0.5,
    }


def _run(tmp_path, reference, current, **spec):
    ref = _write(tmp_path / "ref" / "part.parquet", reference)
    cur = _write(tmp_path / "cur" / "part.parquet", current)
    config = parse_run_config(
        {"reference": {"path": str(ref.parent)}, "current": {"path": str(cur.parent)}, **spec}
    )
    return analyze(config, profile_cache=str(tmp_path / "cache"))


def _codes(report):
    return {(f["code"], f["feature"]) for f in report["findings"]}


def test_report_is_valid_and_reference_profile_is_cached(tmp_path):
    report = _run(tmp_path, _columns(3000), _columns(2000))
    validate_report(report)
    assert report["reference"]["rows"] == 3000 and report["current"]["rows"] == 2000
    assert not report["reference"]["profileCached"]
    assert {f["name"] for f in report["features"]} == {"age", "plan", "active"}
    assert {f["kind"] for f in report["features"] if f["name"] == "active"} == {"categorical"}
    config = parse_run_config(
        {"reference": {"path": str(tmp_path / "ref")}, "current": {"path": str(tmp_path / "cur")}}
    )
    again = analyze(config, profile_cache=str(tmp_path / "cache"))
    assert again["reference"]["profileCached"]
    assert again["features"] == report["features"]


def test_a_rewritten_reference_invalidates_the_cache(tmp_path):
    _run(tmp_path, _columns(1000), _columns(1000))
    report = _run(tmp_path, _columns(1500), _columns(1000))
    assert not report["reference"]["profileCached"] and report["reference"]["rows"] == 1500


def test_a_corrupt_cached_profile_is_recomputed_with_a_warning(tmp_path):
    first = _run(tmp_path, _columns(1000), _columns(1000))
    (cached,) = (tmp_path / "cache").glob("reference-*")
    cached.write_bytes(b"garbage")
    config = parse_run_config(
        {"reference": {"path": str(tmp_path / "ref")}, "current": {"path": str(tmp_path / "cur")}}
    )
    report = analyze(config, profile_cache=str(tmp_path / "cache"))
    assert ("ProfileCacheInvalid", None) in _codes(report)
    assert report["features"] == first["features"]
    assert cached.read_bytes() != b"garbage"  # rewritten


def test_current_window_selects_rows_by_timestamp(tmp_path):
    end = datetime(2026, 11, 20, tzinfo=UTC)
    stamps = [end - timedelta(hours=h) for h in range(1, 49)] * 50
    current = {**_columns(len(stamps)), "ts": pa.array(stamps, pa.timestamp("us", tz="UTC"))}
    ref = _write(tmp_path / "ref.parquet", _columns(1000))
    cur = _write(tmp_path / "cur.parquet", current)
    config = parse_run_config(
        {
            "reference": {"path": str(ref)},
            "current": {"path": str(cur), "timestampColumn": "ts", "window": "24h"},
        }
    )
    report = analyze(config, window_end=end)
    assert report["current"]["rows"] == 24 * 50
    assert report["current"]["window"]["start"] == "2026-11-19T00:00:00Z"
    assert "ts" not in {f["name"] for f in report["features"]}


def test_empty_window_says_which_window(tmp_path):
    end = datetime(2026, 11, 20, tzinfo=UTC)
    current = {
        **_columns(10),
        "ts": pa.array([end - timedelta(days=9)] * 10, pa.timestamp("us", tz="UTC")),
    }
    ref = _write(tmp_path / "ref.parquet", _columns(100))
    cur = _write(tmp_path / "cur.parquet", current)
    config = parse_run_config(
        {
            "reference": {"path": str(ref)},
            "current": {"path": str(cur), "timestampColumn": "ts", "window": "1d"},
        }
    )
    with pytest.raises(DataNotFoundError) as error:
        analyze(config, window_end=end)
    assert str(cur) in str(error.value) and "2026-11-19" in str(error.value)


def test_schema_changes_are_findings_not_crashes(tmp_path):
    reference = {**_columns(500), "score": RNG.random(500), "gone": RNG.random(500)}
    current = {**_columns(500), "score": RNG.choice(["x", "y"], 500), "new_col": RNG.random(500)}
    report = _run(tmp_path, reference, current)
    codes = _codes(report)
    assert ("MissingInCurrent", "gone") in codes
    assert ("TypeChanged", "score") in codes
    assert ("NewColumn", "new_col") in codes
    assert {f["name"] for f in report["features"]} == {"age", "plan", "active"}
    message = next(f["message"] for f in report["findings"] if f["code"] == "TypeChanged")
    assert "double" in message and "string" in message


def test_all_null_constant_and_non_finite_columns(tmp_path):
    n = 400
    reference = {
        "nulls": pa.array(RNG.random(n)),
        "constant": np.full(n, 3.0),
        "weird": RNG.random(n),
        "label": RNG.choice(["a", "b"], n),
    }
    weird = RNG.random(n)
    weird[:20] = np.nan
    weird[20:30] = np.inf
    weird[30:35] = -np.inf
    current = {
        "nulls": pa.nulls(n, pa.float64()),
        "constant": np.full(n, 3.0),
        "weird": weird,
        "label": pa.nulls(n, pa.string()),
    }
    report = _run(tmp_path, reference, current)
    features = {f["name"]: f for f in report["features"]}
    assert features["nulls"]["drifted"] and features["nulls"]["method"] == "missing"
    assert features["label"]["drifted"] and features["label"]["reason"] == "missing"
    assert not features["constant"]["drifted"] and features["constant"]["score"] == 0
    assert features["weird"]["current"]["nan"] == 20 and features["weird"]["current"]["inf"] == 15
    codes = _codes(report)
    assert {
        ("AllNull", "nulls"),
        ("AllNull", "label"),
        ("Constant", "constant"),
        ("NonFinite", "weird"),
    } <= codes
    validate_report(report)


def test_a_million_distinct_categories_stay_bounded(tmp_path):
    n = 1_000_000
    ids = pa.array([f"id-{i}" for i in range(n)])
    report = _run(tmp_path, {"user": ids, "x": RNG.random(n)}, {"user": ids, "x": RNG.random(n)})
    user = next(f for f in report["features"] if f["name"] == "user")
    assert user["errorBound"] is not None and user["reference"]["distinct"] is None
    assert ("HighCardinality", "user") in _codes(report)
    assert len(user["distribution"]["labels"]) <= 52


def test_truncated_parquet_file_names_the_file(tmp_path):
    ref = _write(tmp_path / "ref" / "a.parquet", _columns(1000))
    broken = tmp_path / "cur" / "b.parquet"
    broken.parent.mkdir()
    broken.write_bytes(ref.read_bytes()[:600])
    config = parse_run_config(
        {"reference": {"path": str(ref)}, "current": {"path": str(broken.parent)}}
    )
    with pytest.raises(DataFormatError) as error:
        analyze(config)
    assert "b.parquet" in str(error.value)


def test_missing_path_names_the_path(tmp_path):
    ref = _write(tmp_path / "ref.parquet", _columns(10))
    config = parse_run_config(
        {"reference": {"path": str(ref)}, "current": {"path": str(tmp_path / "nope")}}
    )
    with pytest.raises(DataNotFoundError, match="nope"):
        analyze(config)


def test_unknown_format_lists_the_formats():
    with pytest.raises(ConfigError, match=r"spec.reference.format: .*xlsx.*parquet, arrow"):
        parse_run_config({"reference": {"path": "/x", "format": "xlsx"}, "current": {"path": "/y"}})


def test_features_named_nowhere_are_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="typo_col"):
        _run(tmp_path, _columns(10), _columns(10), features={"include": ["typo_col"]})


def test_nothing_comparable_is_a_schema_error(tmp_path):
    with pytest.raises(SchemaError, match="no feature can be compared"):
        _run(tmp_path, {"a": RNG.random(10)}, {"b": RNG.random(10)})


@pytest.mark.parametrize(
    "fmt,writer",
    [
        ("csv", lambda t, p: __import__("pyarrow.csv").csv.write_csv(t, p)),
        ("arrow", lambda t, p: __import__("pyarrow.feather").feather.write_feather(t, p)),
    ],
)
def test_other_formats_read_the_same_data(tmp_path, fmt, writer):
    table = pa.table(_columns(500))
    writer(table, str(tmp_path / f"ref.{fmt}"))
    writer(table, str(tmp_path / f"cur.{fmt}"))
    config = parse_run_config(
        {
            "reference": {"path": str(tmp_path / f"ref.{fmt}"), "format": fmt},
            "current": {"path": str(tmp_path / f"cur.{fmt}"), "format": fmt},
        }
    )
    report = analyze(config)
    assert report["current"]["rows"] == 500
    assert all(f["score"] == pytest.approx(0, abs=1e-9) for f in report["features"])


def test_jsonl_is_read(tmp_path):
    lines = "\n".join(f'{{"x": {i % 7}, "c": "{"ab"[i % 2]}"}}' for i in range(300))
    (tmp_path / "ref.jsonl").write_text(lines)
    (tmp_path / "cur.jsonl").write_text(lines)
    config = parse_run_config(
        {
            "reference": {"path": str(tmp_path / "ref.jsonl"), "format": "jsonl"},
            "current": {"path": str(tmp_path / "cur.jsonl"), "format": "json"},
        }
    )
    report = analyze(config)
    assert report["reference"]["rows"] == 300 and not report["dataset"]["drifted"]


def test_a_corrupt_deflate_stream_in_the_cache_is_recomputed_and_replaced(tmp_path):
    first = _run(tmp_path, _columns(1000), _columns(1000))
    (cached,) = (tmp_path / "cache").glob("reference-*")
    good = cached.read_bytes()
    # Keep the gzip header, scramble the deflate stream: zlib.error, not an OSError.
    damaged = good[:10] + bytes(b ^ 0x5A for b in good[10:40]) + good[40:]
    cached.write_bytes(damaged)
    config = parse_run_config(
        {"reference": {"path": str(tmp_path / "ref")}, "current": {"path": str(tmp_path / "cur")}}
    )
    report = analyze(config, profile_cache=str(tmp_path / "cache"))
    assert ("ProfileCacheInvalid", None) in _codes(report)
    assert not report["reference"]["profileCached"]
    assert report["features"] == first["features"]
    again = analyze(config, profile_cache=str(tmp_path / "cache"))
    assert again["reference"]["profileCached"]  # the damaged file was replaced


@pytest.mark.parametrize("dtype", [pa.int64(), pa.uint64()])
def test_64_bit_integers_beyond_2_to_the_53_are_profiled_not_a_crash(tmp_path, dtype):
    n = 2000
    base = 2**62 if dtype == pa.int64() else 2**63 + 2**62
    ids = pa.array([base + int(i) * 7919 for i in RNG.integers(0, 10**9, n)], type=dtype)
    epochs = pa.array(
        [1_700_000_000_000_000_000 + int(i) for i in RNG.integers(0, 10**12, n)], type=pa.int64()
    )
    report = _run(
        tmp_path,
        {"id": ids, "epoch_ns": epochs, "age": RNG.normal(40, 10, n)},
        {"id": ids, "epoch_ns": epochs, "age": RNG.normal(40, 10, n)},
    )
    validate_report(report)
    features = {f["name"]: f for f in report["features"]}
    assert not features["id"]["drifted"] and not features["epoch_ns"]["drifted"]
    assert features["id"]["reference"]["min"] == pytest.approx(float(min(ids.to_pylist())))
    codes = _codes(report)
    assert {("IntegerPrecision", "id"), ("IntegerPrecision", "epoch_ns")} <= codes
    assert ("IntegerPrecision", "age") not in codes


@pytest.mark.parametrize("share", [0.01, 0.1, 0.3, 0.6, 1.0])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_values_turning_non_finite_drift_by_default(tmp_path, share, value):
    n = 5000
    reference = {"x": RNG.normal(0, 1, n), "y": RNG.normal(0, 1, n)}
    x = RNG.normal(0, 1, n)
    x[: int(share * n)] = value
    report = _run(tmp_path, reference, {"x": x, "y": RNG.normal(0, 1, n)})
    validate_report(report)
    features = {f["name"]: f for f in report["features"]}
    assert features["x"]["drifted"], features["x"]
    assert "missing" in features["x"]["reason"]
    assert features["x"]["missing"]["current"] == pytest.approx(share)
    assert not features["y"]["drifted"]
    assert report["dataset"]["driftedFeatures"] == 1


def test_control_characters_in_column_names_reach_no_message_raw(tmp_path):
    from driftwarden.report import render_html

    evil = "evil\x1b[31m\nname\x07"
    n = 300
    report = _run(
        tmp_path,
        {evil: RNG.random(n), "ok": RNG.random(n)},
        {evil: pa.nulls(n, pa.float64()), "ok": RNG.random(n)},
    )
    validate_report(report)
    assert {f["name"] for f in report["features"]} == {evil, "ok"}  # names stay exact
    messages = [f["message"] for f in report["findings"]]
    assert any("evil\\x1b[31m\\x0aname\\x07" in m for m in messages)
    assert not any(ch in m for m in messages for ch in "\x1b\n\x07")
    page = render_html(report)
    assert "\x1b" not in page and "\x07" not in page


def _damage_sample(path, column, garbage):
    """Overwrite the start of ``column``'s stored sample in the profile file at ``path``
    with ``garbage``: the header (and its gzip CRC) intact, only the payload damaged."""
    import gzip
    import json
    import struct

    data = bytearray(path.read_bytes())
    (length,) = struct.unpack_from("<Q", data, 8)
    document = json.loads(gzip.decompress(bytes(data[16 : 16 + length])))
    body = 16 + length + (-(16 + length) % 8)
    at = body + document["columns"][column]["sample"]["at"]
    raw = np.asarray(garbage, dtype="<f8").tobytes()
    assert data[at : at + len(raw)] != raw
    data[at : at + len(raw)] = raw
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("seen_before", [True, False])
def test_damage_only_in_the_payload_is_found_beside_the_current_profiling(
    tmp_path, monkeypatch, caplog, seen_before
):
    import json
    import logging
    import shutil

    first = _run(tmp_path, _columns(1000), _columns(1000))
    config = parse_run_config(
        {"reference": {"path": str(tmp_path / "ref")}, "current": {"path": str(tmp_path / "cur")}}
    )
    cache = tmp_path / "cache"
    analyze(config, profile_cache=str(cache))  # the current file seen before: window-cached
    if not seen_before:  # seen for the first time next: profiled, then listed as seen
        for window in cache.glob("current-*"):
            shutil.rmtree(window)
    (cached,) = cache.glob("reference-*")
    # Garbage where the histogram edges come from: NaN, infinities, out of order.
    garbage = [np.nan, np.inf, -np.inf, 1e308, -5.0, np.nan, 3.0, -1e308] * 60
    _damage_sample(cached, "age", garbage)
    serial_cache = tmp_path / "serial"
    shutil.copytree(cache, serial_cache)

    # One thread: the checksum is compared on loading, as always.
    monkeypatch.setenv("DRIFTWARDEN_THREADS", "1")
    serial = analyze(config, profile_cache=str(serial_cache))
    # Two: the profile loads, and the damage is found while the current data is profiled
    # on the garbage edges.
    monkeypatch.setenv("DRIFTWARDEN_THREADS", "2")
    with caplog.at_level(logging.INFO, logger="driftwarden.analysis"):
        report = analyze(config, profile_cache=str(cache))
    assert "reference profile loaded from cache" in caplog.messages

    # What a damaged cache always gave: one warning, the reference and the current data
    # profiled anew, the same report; and the same files in the cache.
    invalid = [f for f in report["findings"] if f["code"] == "ProfileCacheInvalid"]
    assert len(invalid) == 1 and "checksum" in invalid[0]["message"]
    assert not report["reference"]["profileCached"]
    assert report["features"] == first["features"]
    volatile = ("generatedAt", "durationSeconds")

    def same(document, root):  # the warning names the cache's path
        kept = {k: v for k, v in document.items() if k not in volatile}
        return json.loads(json.dumps(kept).replace(str(root), "CACHE"))

    assert same(report, cache) == same(serial, serial_cache)

    def files(root):
        return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(cache) == files(serial_cache)
    again = analyze(config, profile_cache=str(cache))
    assert again["reference"]["profileCached"]  # the damaged file was replaced
    assert ("ProfileCacheInvalid", None) not in _codes(again)
    assert again["features"] == first["features"]
