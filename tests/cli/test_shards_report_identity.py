"""Issue 11, point 1, for the whole report: ``analyze`` from the data and ``analyze`` from
profiles of that data — one pass or any number of shards, given in any order, for the
current side, the reference side or both — write the same report.json, summary.json and
summary file (the status summary) except for the fields that name where a side came from
(``analysis.shards.SOURCE_FIELDS``) and when the run happened (``RUN_FIELDS``).

The data has what feature logs have: integers of every width, signed and unsigned (and
64-bit ones past 2^53), float32, booleans, strings and dictionary-encoded strings with
nulls, NaN and ±inf, a high-cardinality column past maxCategories, a timestamp column
and another timestamp and a binary column (not compared), hive partition keys, a
column added in later files, columns dropped, new, retyped and widened between the
sides, a constant and an all-null column: every finding the planner and the comparison
make. Real Parquet files, read by the real commands.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftwarden.analysis.shards import (
    PARTITIONS_METADATA,
    SCHEMA_METADATA,
    SOURCE_FIELDS,
    without_source,
)
from driftwarden.cli.main import main
from driftwarden.profile import dumps_profile, loads_profile

PROFILE = "profile:\n  sampleSize: 1000\n  maxCategories: 10\n"
WINDOW_END = "2026-12-04T00:00:00Z"
START = np.datetime64("2026-12-01T00:00:00")
# Every kind of finding these sides must produce, from the data and from profiles alike.
FINDINGS = {
    "Unsupported",
    "TypeChanged",
    "TypeWidened",
    "MissingInCurrent",
    "NewColumn",
    "IntegerPrecision",
    "NonFinite",
    "UnseenCategories",
    "HighCardinality",
    "Constant",
    "AllNull",
}


def _table(rng: np.random.Generator, rows: int, side: str, index: int) -> pa.Table:
    shift = 0.0 if side == "reference" else 0.4
    labels = ["a", "b", "c"] + (["new"] if side == "current" else [])
    columns = {
        "i8": pa.array(rng.integers(-100, 100, rows).astype(np.int8)),
        "i16": pa.array(rng.integers(-1000, 1000 + int(shift * 500), rows).astype(np.int16)),
        "i32": pa.array(
            rng.integers(0, 10**6, rows).astype(np.int32), mask=rng.random(rows) < 0.05
        ),
        "i64": pa.array(rng.integers(0, 50, rows)),
        "u8": pa.array(rng.integers(0, 255, rows).astype(np.uint8)),
        "u64": pa.array(rng.integers(0, 2**62, rows).astype(np.uint64)),
        "big": pa.array(rng.integers(2**60, 2**61, rows)),
        "f32": pa.array(
            np.where(rng.random(rows) < 0.03, np.nan, rng.normal(shift, 1, rows)).astype(np.float32)
        ),
        "f64": pa.array(
            np.where(rng.random(rows) < 0.03, -np.inf, rng.normal(shift, 1, rows)),
            mask=rng.random(rows) < 0.03,
        ),
        "flag": pa.array(rng.random(rows) < 0.3 + shift / 4),
        "s": pa.array(rng.choice(labels, rows), mask=rng.random(rows) < 0.04),
        "d": pa.array(rng.choice(["x", "y", "w"], rows)).dictionary_encode(),
        "h": pa.array([f"h{v}" for v in rng.zipf(1.5 + shift, rows)]),
        "ts": pa.array(START + rng.integers(0, 4 * 86400, rows).astype("timedelta64[s]")),
        "seen": pa.array(START + rng.integers(0, 10**6, rows).astype("timedelta64[ms]")),
        "blob": pa.array([b"x"] * rows, pa.binary()),
        "const": pa.array(np.full(rows, 7.0) if side == "reference" else rng.normal(7, 1, rows)),
        "empty": pa.array(
            rng.normal(0, 1, rows) if side == "reference" else [None] * rows, pa.float64()
        ),
        "retyped": pa.array(rng.integers(0, 5, rows))
        if side == "reference"
        else pa.array(rng.choice(["p", "q"], rows)),
        "widened": pa.array(
            rng.integers(0, 5, rows).astype(np.int32 if side == "reference" else np.int64)
        ),
        "dropped" if side == "reference" else "fresh": pa.array(rng.normal(0, 1, rows)),
    }
    if index >= 1:  # added later: the first file reads it as null
        columns["late"] = pa.array(rng.normal(shift, 1, rows))
    return pa.table(columns)


def _write(directory: Path, side: str, seed: int, sizes: list[int]) -> Path:
    rng = np.random.default_rng(seed)
    for index, rows in enumerate(sizes):
        # The current side is hive-partitioned: its partition key is never a feature.
        folder = directory / f"day={index % 2}" if side == "current" else directory
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            _table(rng, rows, side, index), folder / f"part-{index}.parquet", row_group_size=97
        )
    return directory


def _analyze(out: Path, config: Path, *args: str) -> list[dict]:
    """The run's report.json, summary.json and summary file (a pod's termination message)."""
    summary = out.parent / "term.json"
    code = main(
        [
            *("analyze", "--config", str(config), *args, "--output", str(out)),
            *("--summary-file", str(summary), "--quiet", "--no-profile-cache"),
        ]
    )
    assert code == 0
    return [
        json.loads(path.read_text())
        for path in (out / "report.json", out / "summary.json", summary)
    ]


def _profiles(data: Path, out: Path, count: int, config: Path, *extra: str) -> list[str]:
    uris = []
    for index in range(count):
        uri = str(out / f"shard-{index}-of-{count}.dwprofile")
        code = main(
            [
                *("profile", "--input", str(data), "--shard", f"{index}/{count}"),
                *("--output", uri, "--config", str(config), *extra),
            ]
        )
        assert code == 0
        uris.append(uri)
    return uris


_SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=6, deadline=None, suppress_health_check=_SLOW)
@given(
    seed=st.integers(0, 2**32 - 1),
    reference_sizes=st.lists(st.integers(30, 700), min_size=1, max_size=4),
    current_sizes=st.lists(st.integers(30, 700), min_size=2, max_size=5),
    shards=st.integers(1, 4),
    order=st.integers(0, 2**32 - 1),
    windowed=st.booleans(),
)
def test_reports_from_profiles_are_the_data_reports_but_for_their_source(
    tmp_path_factory, seed, reference_sizes, current_sizes, shards, order, windowed
):
    base = tmp_path_factory.mktemp("identity")
    reference = _write(base / "ref", "reference", seed, reference_sizes)
    current = _write(base / "cur", "current", seed + 1, current_sizes)
    # The reference is profiled whole; the current side with the run's window, if any.
    whole = base / "whole.yaml"
    whole.write_text(PROFILE + "current:\n  timestampColumn: ts\n")
    config = base / "monitor.yaml"
    config.write_text(whole.read_text() + ("  window: 48h\n" if windowed else ""))
    window = ("--window-end", WINDOW_END) if windowed else ()
    out = base / "out"  # every run writes here in turn: the summaries name one report

    from_data = _analyze(
        out, config, "--reference", str(reference), "--current", str(current), *window
    )
    assert {item["code"] for item in from_data[0]["findings"]} >= FINDINGS
    assert any(feature["drifted"] for feature in from_data[0]["features"])

    # The current shards count histograms on the reference profile's edges (the one-pass
    # reference profile, as the operator's shards take the cached one).
    (reference_profile,) = _profiles(reference, base / "ref-whole", 1, whole)
    current_shards = _profiles(
        current, base / "cur", shards, config, "--reference-profiles", reference_profile, *window
    )
    reference_shards = _profiles(reference, base / "ref-shards", shards, whole)
    rng = random.Random(order)
    rng.shuffle(current_shards)
    rng.shuffle(reference_shards)
    runs = {
        "current": ("--reference", str(reference), "--current-profiles", *current_shards),
        "reference": ("--reference-profiles", *reference_shards, "--current", str(current)),
        "both": ("--reference-profiles", *reference_shards, "--current-profiles", *current_shards),
    }
    for profiled, args in runs.items():
        documents = _analyze(out, config, *args, *window)
        for data_document, document in zip(from_data, documents, strict=True):
            assert without_source(document) == without_source(data_document), profiled
        report = documents[0]
        for side in ("reference", "current"):
            from_profiles = profiled in (side, "both")
            assert (report[side]["format"] == "profile") == from_profiles
            # The set names fields that do differ: none is there for nothing.
            if from_profiles:
                assert report[side]["uri"] != from_data[0][side]["uri"]
                assert set(SOURCE_FIELDS[side]) <= set(report[side])


def test_profiles_of_parts_with_widened_types_plan_as_one_pass_over_all(tmp_path):
    """Profiles of two parts of a dataset whose files widened a column (int32, then int64)
    merge their recorded schemas as the storage layer unifies the files' schemas: the
    report is the one of a pass over both parts, without a TypeWidened note."""
    reference = _write(tmp_path / "ref", "reference", 5, [300, 200])
    current = tmp_path / "cur"
    rng = np.random.default_rng(6)
    for part, dtype in (("early", np.int32), ("late", np.int64)):
        (current / part).mkdir(parents=True)
        table = pa.table({"widened": pa.array(rng.integers(0, 5, 400).astype(dtype))})
        pq.write_table(table, current / part / "data.parquet")
    config = tmp_path / "monitor.yaml"
    config.write_text(PROFILE + "features:\n  include: [widened]\n")
    out = tmp_path / "out"
    from_data = _analyze(out, config, "--reference", str(reference), "--current", str(current))
    codes = [item["code"] for item in from_data[0]["findings"]]
    uris = [_profiles(current / part, tmp_path / part, 1, config)[0] for part in ("late", "early")]
    documents = _analyze(out, config, "--reference", str(reference), "--current-profiles", *uris)
    assert [item["code"] for item in documents[0]["findings"]] == codes
    for data_document, document in zip(from_data, documents, strict=True):
        assert without_source(document) == without_source(data_document)


def test_damaged_or_missing_schemas(tmp_path, capsys):
    """A profile whose recorded schema is damaged is refused naming it (exit 3); one that
    records none (written before schemas were recorded) is still read, its columns planned
    as float64 and string stand-ins: a TypeWidened note for each integer column."""
    reference = _write(tmp_path / "ref", "reference", 7, [300])
    current = _write(tmp_path / "cur", "current", 8, [300, 200])
    config = tmp_path / "monitor.yaml"
    config.write_text(PROFILE + "current:\n  timestampColumn: ts\n")
    (uri,) = _profiles(current, tmp_path / "p", 1, config)
    profile = loads_profile(Path(uri).read_bytes())
    damaged, older = tmp_path / "damaged.dwprofile", tmp_path / "older.dwprofile"
    profile.metadata[SCHEMA_METADATA] = "not a schema"
    damaged.write_bytes(dumps_profile(profile))
    for key in (SCHEMA_METADATA, PARTITIONS_METADATA):
        profile.metadata.pop(key)
    older.write_bytes(dumps_profile(profile))
    args = ("analyze", "--config", str(config), "--reference", str(reference), "--quiet")
    code = main([*args, "--current-profiles", str(damaged), "--no-profile-cache"])
    error = capsys.readouterr().err
    assert code == 3 and "damaged.dwprofile" in error and "recorded schema" in error
    report = _analyze(
        tmp_path / "out", config, "--reference", str(reference), "--current-profiles", str(older)
    )[0]
    assert {"i8", "u64", "flag"} <= {
        f["feature"] for f in report["findings"] if f["code"] == "TypeWidened"
    }
