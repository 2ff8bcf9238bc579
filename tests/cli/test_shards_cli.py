"""``driftwarden profile --shard I/N`` and ``analyze --current-profiles`` / ``--reference-profiles``:
shard profiles merge to the bytes of one pass, and stand in for the data in a report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftwarden.analysis.shards import assign, load_profiles, parse_shard
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
    assert from_shards["features"] == from_data["features"]
    assert from_shards["dataset"] == from_data["dataset"]
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
    assert from_exact["features"] == from_data["features"]
    assert from_exact["dataset"] == from_data["dataset"]
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
