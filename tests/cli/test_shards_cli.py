"""``driftwarden profile --shard I/N`` and ``analyze --current-profiles`` / ``--reference-profiles``:
shard profiles merge to the bytes of one pass, and stand in for the data in a report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftwarden.analysis.shards import (
    PARTITIONS_METADATA,
    RUN_FIELDS,
    SCHEMA_METADATA,
    assign,
    load_profiles,
    parse_shard,
    without_source,
)
from driftwarden.cli.main import main
from driftwarden.errors import ConfigError
from driftwarden.profile import dumps_profile
from driftwarden.report import load_report
from driftwarden.storage import FileInfo, StorageOptions

SIZES = [900, 150, 2000, 40, 700, 1200, 300]


def _write(directory: Path, shift: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True)
    for index, rows in enumerate(SIZES):
        pq.write_table(
            pa.table(
                {
                    "x": rng.normal(shift, 1, rows),
                    "k": rng.integers(0, 5, rows),
                    "c": rng.choice(
                        ["a", "b", "c"], rows, p=[0.5, 0.3 + shift / 10, 0.2 - shift / 10]
                    ),
                    # Skewed labels, hundreds of them: high-cardinality past a cap of 10.
                    "h": [f"h{v}" for v in rng.zipf(1.5 + shift, rows)],
                }
            ),
            directory / f"part-{index}.parquet",
        )
    return directory


@pytest.fixture
def sides(tmp_path):
    return _write(tmp_path / "ref", 0.0, 1), _write(tmp_path / "cur", 0.5, 2)


def _shards(data: Path, out: Path, count: int, *extra: str) -> list[str]:
    uris = []
    for index in range(count):
        uri = str(out / f"shard-{index}-of-{count}.dwprofile")
        code = main(
            [
                "profile",
                "--input",
                str(data),
                "--shard",
                f"{index}/{count}",
                "--output",
                uri,
                *extra,
            ]
        )
        assert code == 0
        uris.append(uri)
    return uris


def _analyze(out: Path, *args: str) -> dict:
    code = main(["analyze", *args, "--output", str(out), "--quiet", "--no-profile-cache"])
    assert code == 0
    return load_report((out / "report.json").read_bytes())


def test_shard_profiles_merge_to_the_one_pass_profile_and_its_report(tmp_path, sides):
    reference, current = sides
    whole = _shards(current, tmp_path, 1)
    for count in (3, 9):  # 9 > 7 files: some shards hold none
        merged = load_profiles(
            _shards(current, tmp_path, count), StorageOptions(), "--current-profiles"
        )
        assert dumps_profile(merged.profile) == Path(whole[0]).read_bytes()
        assert merged.profile.rows == sum(SIZES)

    from_data = _analyze(tmp_path / "a", "--reference", str(reference), "--current", str(current))
    from_shards = _analyze(
        tmp_path / "b",
        "--reference",
        str(reference),
        "--current-profiles",
        *_shards(current, tmp_path, 3),
    )
    # Every row is in the sample (sample size 32,768): the profiles' histograms are
    # exact, so the verdict is the data run's to the last bit.
    # The whole report, but for where the side came from (SOURCE_FIELDS) and when.
    assert without_source(from_shards) == without_source(from_data)
    assert from_shards["current"]["rows"] == sum(SIZES)
    assert from_shards["current"]["format"] == "profile"
    assert any(f["drifted"] for f in from_shards["features"])


def test_reference_profiles_stand_in_for_reference_data(tmp_path, sides):
    reference, current = sides
    ref_uris = _shards(reference, tmp_path, 2)
    report = _analyze(tmp_path / "r", "--reference-profiles", *ref_uris, "--current", str(current))
    from_data = _analyze(tmp_path / "d", "--reference", str(reference), "--current", str(current))
    assert report["reference"]["rows"] == sum(SIZES)
    assert report["reference"]["format"] == "profile"
    assert [f["name"] for f in report["features"]] == [f["name"] for f in from_data["features"]]
    assert [f["drifted"] for f in report["features"]] == [
        f["drifted"] for f in from_data["features"]
    ]


def test_reference_data_and_its_shard_profiles_give_the_same_report(tmp_path, sides):
    """A sample smaller than the data (1,000 of 5,290 rows), and a column past its
    category cap: the reference read from data is profiled file by file on the files'
    keys, so its report is the shards' report to the byte, and its cached profile is the
    merged shard profiles' bytes."""
    reference, current = sides
    config = tmp_path / "monitor.yaml"
    config.write_text("profile:\n  sampleSize: 1000\n  maxCategories: 10\n")
    (tmp_path / "s").mkdir()
    ref_uris = _shards(reference, tmp_path / "s", 3, "--config", str(config))
    cache = tmp_path / "cache"
    common = ["--current", str(current), "--config", str(config), "--quiet"]
    out = ["--output", str(tmp_path / "d"), "--profile-cache", str(cache)]
    code = main(["analyze", "--reference", str(reference), *common, *out])
    assert code == 0
    from_data = load_report((tmp_path / "d" / "report.json").read_bytes())
    from_shards = _analyze(tmp_path / "r", "--reference-profiles", *ref_uris, *common)
    # The whole report, but for where the side came from (SOURCE_FIELDS) and when.
    assert without_source(from_shards) == without_source(from_data)
    # The numerical scores come from samples (not exact): two other samples of 1,000
    # values would give other scores.
    numerical = [f for f in from_data["features"] if f["kind"] == "numerical"]
    assert numerical and not any(f["exact"] for f in numerical)
    (high,) = [f for f in from_data["features"] if f["name"] == "h"]
    assert not high["exact"] and high["errorBound"]["count"] > 0

    merged = load_profiles(ref_uris, StorageOptions(), "--reference-profiles").profile
    # The shards record their data's schema for analyze's planning; the cache holds
    # none (its run read the schema from the data), as it holds no sampling keys.
    assert set(merged.metadata) == {SCHEMA_METADATA, PARTITIONS_METADATA}
    merged.metadata = {}
    (cached,) = cache.glob("reference-*.dwprofile")
    assert cached.read_bytes() == dumps_profile(merged, keep_keys=False)


def test_bad_input_exits_with_a_clear_error(tmp_path, sides, capsys):
    reference, current = sides
    out = str(tmp_path / "p")
    assert main(["profile", "--input", str(current), "--shard", "3/3", "--output", out]) == 2
    assert "--shard '3/3'" in capsys.readouterr().err
    uris = _shards(current, tmp_path, 2)
    code = main(
        [
            "analyze",
            "--reference",
            str(reference),
            "--current",
            str(current),
            "--current-profiles",
            *uris,
            "--quiet",
        ]
    )
    assert code == 2 and "either --current or --current-profiles" in capsys.readouterr().err
    config = tmp_path / "monitor.yaml"
    config.write_text("profile:\n  sampleSize: 1000\n")
    (tmp_path / "small").mkdir()
    other = _shards(current, tmp_path / "small", 1, "--config", str(config))
    code = main(
        [
            "analyze",
            "--reference",
            str(reference),
            "--current-profiles",
            *other,
            "--quiet",
            "--no-profile-cache",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--current-profiles" in err and "sampleSize 1000" in err
    code = main(
        [
            "analyze",
            "--reference",
            str(reference),
            "--current-profiles",
            str(tmp_path / "none.dwprofile"),
            "--quiet",
        ]
    )
    assert code == 3 and "no profile at" in capsys.readouterr().err


def test_a_profile_of_an_older_format_is_refused_by_name(tmp_path, sides, capsys):
    from tests.profile.test_serialize import _with_version

    reference, current = sides
    (uri,) = _shards(reference, tmp_path, 1)
    Path(uri).write_bytes(_with_version(Path(uri).read_bytes(), 2))
    capsys.readouterr()
    code = main(["analyze", "--reference-profiles", uri, "--current", str(current), "--quiet"])
    err = capsys.readouterr().err
    assert code == 3 and "shard-0-of-1.dwprofile has profile version 2" in err
    assert "driftwarden profile" in err


@pytest.mark.parametrize("text", ["1", "a/b", "-1/2", "2/2", "0/0", "1/2/3"])
def test_shard_syntax_errors_name_the_flag(text):
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(text)


T = datetime(2026, 1, 1, tzinfo=UTC)


@given(
    sizes=st.lists(st.integers(0, 10**9), max_size=40),
    count=st.integers(1, 12),
    seed=st.randoms(),
)
def test_assignment_covers_every_file_once_balanced_whatever_the_listing_order(sizes, count, seed):
    files = [FileInfo(f"/d/f{i}", size, T, f"/d/f{i}") for i, size in enumerate(sizes)]
    shards = assign(files, count)
    listed = list(files)
    seed.shuffle(listed)
    assert assign(listed, count) == shards
    assert sorted(f.path for shard in shards for f in shard) == sorted(f.path for f in files)
    loads = [sum(f.size for f in shard) for shard in shards]
    # Greedy largest-first: no shard exceeds another by more than one file's size.
    assert max(loads) - min(loads) <= max(sizes, default=0)


def _write_timed(directory: Path, shift: float, seed: int) -> Path:
    """One file a day from 2026-01-01: some lie whole in a window, one is cut, some outside."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True)
    for day, rows in enumerate(SIZES):
        start = np.datetime64("2026-01-01T00:00:00") + np.timedelta64(day, "D")
        seconds = np.sort(rng.integers(0, 86_400, rows)).astype("timedelta64[s]")
        pq.write_table(
            pa.table(
                {
                    "ts": pa.array(start + seconds, pa.timestamp("us", tz="UTC")),
                    "x": rng.normal(shift, 1, rows),
                    "c": rng.choice(["a", "b", "c"], rows),
                }
            ),
            directory / f"day-{day}.parquet",
        )
    return directory


WINDOW = ("--timestamp-column", "ts", "--window", "60h", "--window-end", "2026-01-06T12:00:00Z")


def test_windowed_shards_merge_to_the_windowed_pass_and_its_report(tmp_path):
    reference, current = (
        _write_timed(tmp_path / "ref", 0.0, 3),
        _write_timed(tmp_path / "cur", 0.7, 4),
    )
    whole = _shards(current, tmp_path, 1, *WINDOW)
    for count in (2, 5):
        merged = load_profiles(
            _shards(current, tmp_path, count, *WINDOW), StorageOptions(), "--current-profiles"
        )
        assert dumps_profile(merged.profile) == Path(whole[0]).read_bytes()
    from_data = _analyze(
        tmp_path / "a", "--reference", str(reference), "--current", str(current), *WINDOW
    )
    # 60 h before noon of day 5: half of day 3 and all of days 4 and 5.
    assert from_data["current"]["rows"] == load_profiles(whole, StorageOptions(), "w").profile.rows
    assert 0 < from_data["current"]["rows"] < sum(SIZES[3:6]) + 1
    from_shards = _analyze(
        tmp_path / "b",
        "--reference",
        str(reference),
        "--current-profiles",
        *_shards(current, tmp_path, 3, *WINDOW),
        *WINDOW,
    )
    # The whole report, but for where the side came from (SOURCE_FIELDS) and when.
    assert without_source(from_shards) == without_source(from_data)
    assert from_shards["current"]["window"] == from_data["current"]["window"]


def test_profiles_of_another_window_are_refused(tmp_path, capsys):
    reference, current = (
        _write_timed(tmp_path / "ref", 0.0, 3),
        _write_timed(tmp_path / "cur", 0.7, 4),
    )
    uris = _shards(current, tmp_path, 2, *WINDOW)
    later = [*WINDOW[:-1], "2026-01-07T12:00:00Z"]
    code = main(
        ["analyze", "--reference", str(reference), "--current-profiles", *uris, *later, "--quiet"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--current-profiles: the profiles cover 2026-01-04T00:00:00Z" in err
    # Windowed profiles in a run without a window: refused too, not silently partial.
    code = main(["analyze", "--reference", str(reference), "--current-profiles", *uris, "--quiet"])
    assert code == 2 and "this run's current window is no window" in capsys.readouterr().err
    # Shards of two windows never merge.
    (tmp_path / "other").mkdir()
    other = _shards(current, tmp_path / "other", 1, *later)
    with pytest.raises(Exception, match="another time window"):
        load_profiles([uris[0], other[0]], StorageOptions(), "--current-profiles")
    # A window needs its end, the same in every shard.
    out = str(tmp_path / "p")
    code = main(["profile", "--input", str(current), "--output", out, *WINDOW[:4]])
    assert code == 2 and "give --window-end too" in capsys.readouterr().err


def test_shards_takes_the_index_from_the_indexed_job_env(tmp_path, sides, monkeypatch, capsys):
    _reference, current = sides
    by_flag = _shards(current, tmp_path, 3)
    for index in range(3):
        monkeypatch.setenv("JOB_COMPLETION_INDEX", str(index))
        pattern = str(tmp_path / "env-{shard}.dwprofile")
        facts = tmp_path / "facts.json"
        assert (
            main(
                [
                    *("profile", "--input", str(current), "--shards", "3"),
                    *("--output", pattern, "--summary-file", str(facts)),
                ]
            )
            == 0
        )
        out = tmp_path / f"env-{index}.dwprofile"
        assert out.read_bytes() == Path(by_flag[index]).read_bytes()
        written = json.loads(facts.read_text())
        assert written["shard"] == f"{index}/3" and written["rows"] > 0 and written["bytes"] > 0
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "3")
    code = main(["profile", "--input", str(current), "--shards", "3", "--output", str(out)])
    assert code == 2 and "--shards with $JOB_COMPLETION_INDEX '3/3'" in capsys.readouterr().err
    monkeypatch.delenv("JOB_COMPLETION_INDEX")
    code = main(["profile", "--input", str(current), "--shards", "3", "--output", str(out)])
    assert code == 2 and "$JOB_COMPLETION_INDEX is not set" in capsys.readouterr().err


def test_shards_counting_on_the_reference_edges_give_the_single_pass_report(tmp_path, sides):
    reference, current = sides
    config = tmp_path / "monitor.yaml"
    config.write_text("profile:\n  sampleSize: 1000\n")  # 5,290 rows: samples hold a fifth
    cfg = ("--config", str(config))
    for name in ("refp", "exact", "estimated"):
        (tmp_path / name).mkdir()
    ref = _shards(reference, tmp_path / "refp", 1, *cfg)
    exact = _shards(current, tmp_path / "exact", 3, *cfg, "--reference-profiles", *ref)
    estimated = _shards(current, tmp_path / "estimated", 3, *cfg)
    side = ("--reference-profiles", *ref, *cfg)
    from_data = _analyze(tmp_path / "a", *side, "--current", str(current))
    from_exact = _analyze(tmp_path / "b", *side, "--current-profiles", *exact)
    from_estimated = _analyze(tmp_path / "c", *side, "--current-profiles", *estimated)
    # The whole report, but for where the side came from (SOURCE_FIELDS) and when.
    assert without_source(from_exact) == without_source(from_data)
    # A reference read from data profiles to the same bytes: its edges are the same.
    ref_data = ("--reference", str(reference), *cfg)
    assert (
        _analyze(tmp_path / "d", *ref_data, "--current-profiles", *exact)["features"]
        == (_analyze(tmp_path / "e", *ref_data, "--current", str(current))["features"])
    )
    # Without the reference's edges the histograms come from 1,000-value samples.
    estimated_x = next(f for f in from_estimated["features"] if f["name"] == "x")
    data_x = next(f for f in from_data["features"] if f["name"] == "x")
    assert estimated_x["distribution"] != data_x["distribution"]


def test_reference_profiles_of_profile_must_hold_its_numerical_columns(tmp_path, sides, capsys):
    reference, current = sides
    (tmp_path / "refp").mkdir()
    ref = _shards(reference, tmp_path / "refp", 1, "--include", "c")
    out = str(tmp_path / "p.dwprofile")
    argv = ["profile", "--input", str(current), "--output", out, "--reference-profiles", *ref]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 3 and "--reference-profiles" in err and "'x'" in err  # InvalidProfile
    assert not Path(out).exists()


def test_one_shard_pattern_and_a_count_stand_for_the_listed_profiles(tmp_path, sides, capsys):
    """``--current-profiles 'shard-{shard}…' --shards N`` (the operator's merge Job: one short
    argument at any N) is the N URIs listed: the same report, source fields included."""
    reference, current = sides
    (tmp_path / "c").mkdir()
    (tmp_path / "r").mkdir()
    listed = _shards(current, tmp_path / "c", 3)
    references = _shards(reference, tmp_path / "r", 2)
    pattern = str(tmp_path / "c" / "shard-{shard}-of-3.dwprofile")
    ref_pattern = str(tmp_path / "r" / "shard-{shard}-of-2.dwprofile")
    from_list = _analyze(
        tmp_path / "a", "--reference", str(reference), "--current-profiles", *listed
    )
    from_pattern = _analyze(
        tmp_path / "b",
        "--reference",
        str(reference),
        "--current-profiles",
        pattern,
        "--shards",
        "3",
    )
    for report in (from_list, from_pattern):
        for field in RUN_FIELDS:
            report.pop(field)
    assert from_pattern == from_list
    assert from_pattern["current"]["uri"] == listed[0]
    # The reference side alike (here 2 shards, the current ones listed).
    both = ("--current-profiles", *listed, "--reference-profiles")
    from_list = _analyze(tmp_path / "c2", *both, *references)
    from_pattern = _analyze(tmp_path / "b2", *both, ref_pattern, "--shards", "2")
    for report in (from_list, from_pattern):
        for field in RUN_FIELDS:
            report.pop(field)
    assert from_pattern == from_list

    def refused(*args: str) -> str:
        code = main(["analyze", "--reference", str(reference), *args, "--quiet"])
        assert code == 2
        return capsys.readouterr().err

    assert "--current-profiles: a URI with {shard} needs --shards N" in refused(
        "--current-profiles", pattern
    )
    assert "--current-profiles: a URI with {shard} must come alone" in refused(
        "--current-profiles", pattern, listed[0], "--shards", "3"
    )
    assert "--shards 3: no URI with {shard} to expand" in refused(
        "--current-profiles", *listed, "--shards", "3"
    )
    assert "--shards 0: give 1" in refused("--current-profiles", pattern, "--shards", "0")
    # A shard the pattern names but nobody wrote: exit 3, naming it.
    args = ("--reference", str(reference), "--current-profiles", pattern, "--shards", "4")
    code = main(["analyze", *args, "--quiet"])
    assert code == 3 and "shard-3-of-3.dwprofile" in capsys.readouterr().err
