"""The reference in a sharded scan (issue 11.3): ``driftwarden profile --profile-cache``
counts the current shard's histograms on the cached reference profile's edges, or on a
miss profiles the reference's shard (``--reference-output``), which ``analyze
--reference-shards`` merges and caches in place of reading the reference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.cli.main import main
from driftwarden.report import load_report
from driftwarden.sources import without_source
from tests.cli.test_shards_cli import SIZES, _write

COUNT = 3
# 5,290 rows a side: samples of 1,000 hold a fifth, so histograms are exact only when
# counted on the reference's edges.
SMALL_SAMPLE = "profile:\n  sampleSize: 1000\n  maxCategories: 10\n"


@pytest.fixture
def setup(tmp_path):
    reference, current = _write(tmp_path / "ref", 0.0, 1), _write(tmp_path / "cur", 0.5, 2)
    config = tmp_path / "monitor.yaml"
    config.write_text(
        SMALL_SAMPLE + f"reference:\n  path: {reference}\ncurrent:\n  path: {current}\n"
    )
    return reference, current, config


def _scan(
    current: Path, out: Path, config: Path, cache: Path, *extra: str, only: range | None = None
) -> list[dict]:
    """The scan pods: shard I of COUNT of the current data, the reference looked up in
    ``cache`` (or profiled to ``out``/reference-I on a miss); their summary files."""
    out.mkdir(parents=True, exist_ok=True)
    facts = []
    for index in only if only is not None else range(COUNT):
        summary = out / f"facts-{index}.json"
        code = main(
            [
                *("profile", "--input", str(current), "--shard", f"{index}/{COUNT}"),
                *("--output", str(out / "shard-{shard}.dwprofile"), "--config", str(config)),
                *("--profile-cache", str(cache), "--summary-file", str(summary)),
                *("--reference-output", str(out / "reference-{shard}.dwprofile"), *extra),
            ]
        )
        assert code == 0
        facts.append(json.loads(summary.read_text()))
    return facts


def _merge(out: Path, config: Path, cache: Path, report: Path, *, listed: bool = False) -> dict:
    """The merge pod: the run's analysis over the current shards, with the reference shards
    (as the operator names them, one {shard} pattern; ``listed``: one URI each)."""
    references = (
        [str(out / f"reference-{i}.dwprofile") for i in range(COUNT)]
        if listed
        else [str(out / "reference-{shard}.dwprofile")]
    )
    code = main(
        [
            *("analyze", "--config", str(config), "--quiet"),
            *("--current-profiles", *(str(out / f"shard-{i}.dwprofile") for i in range(COUNT))),
            *("--reference-shards", *references),
            *("--profile-cache", str(cache), "--output", str(report)),
        ]
    )
    assert code == 0
    return load_report((report / "report.json").read_bytes())


def _unsharded(config: Path, cache: Path, report: Path) -> dict:
    code = main(
        [
            *("analyze", "--config", str(config), "--quiet"),
            *("--profile-cache", str(cache), "--output", str(report)),
        ]
    )
    assert code == 0
    return load_report((report / "report.json").read_bytes())


def _same_result(sharded: dict, unsharded: dict) -> None:
    # The whole report, findings too (the profiles record their data's schema), but for
    # where the current side came from (SOURCE_FIELDS) and when the run happened.
    assert without_source(sharded) == without_source(unsharded)
    assert sharded["current"]["rows"] == unsharded["current"]["rows"] == sum(SIZES)


def test_a_cache_hit_counts_on_the_reference_edges_the_report_is_the_unsharded_one(tmp_path, setup):
    _reference, current, config = setup
    cache = tmp_path / "cache"
    unsharded = _unsharded(config, cache, tmp_path / "whole")  # builds the cache
    assert unsharded["reference"]["profileCached"] is False
    again = _unsharded(config, cache, tmp_path / "again")
    facts = _scan(current, tmp_path / "run", config, cache)
    assert [f["reference"] for f in facts] == ["cached"] * COUNT
    assert not list((tmp_path / "run").glob("reference-*"))  # nothing to build
    sharded = _merge(tmp_path / "run", config, cache, tmp_path / "merged")
    # Beyond the sample size: exact only because the shards counted on the cached edges.
    numerical = [f for f in sharded["features"] if f["kind"] == "numerical"]
    assert numerical and not any(f["exact"] for f in numerical)
    _same_result(sharded, again)
    assert sharded["reference"]["profileCached"] is True


def test_a_cache_miss_builds_the_reference_through_the_shards_and_the_next_run_hits(
    tmp_path, setup
):
    _reference, current, config = setup
    cache, whole_cache = tmp_path / "cache", tmp_path / "whole-cache"
    unsharded = _unsharded(config, whole_cache, tmp_path / "whole")
    facts = _scan(current, tmp_path / "run1", config, cache)
    assert [f["reference"] for f in facts] == ["shard"] * COUNT
    assert sum(f["referenceBytes"] for f in facts) == sum(
        p.stat().st_size for p in (tmp_path / "ref").glob("*.parquet")
    )
    assert not cache.exists()  # the shards never write the cache: the merge does
    first = _merge(tmp_path / "run1", config, cache, tmp_path / "merged1", listed=True)
    # The merged reference shards are the reference's one-pass profile, cached to its bytes.
    (entry,) = cache.glob("reference-*.dwprofile")
    (whole_entry,) = whole_cache.glob("reference-*.dwprofile")
    assert entry.name == whole_entry.name
    assert entry.read_bytes() == whole_entry.read_bytes()
    assert first["reference"] == unsharded["reference"]  # rows, fingerprint, not cached
    # This run's shards had no edges to count on: numerical histograms from the samples.
    assert first["features"] != unsharded["features"]
    assert [f["name"] for f in first["features"]] == [f["name"] for f in unsharded["features"]]

    facts = _scan(current, tmp_path / "run2", config, cache)
    assert [f["reference"] for f in facts] == ["cached"] * COUNT
    second = _merge(tmp_path / "run2", config, cache, tmp_path / "merged2")
    _same_result(second, _unsharded(config, whole_cache, tmp_path / "whole2"))


def test_every_value_in_the_sample_a_cache_miss_run_is_the_unsharded_one(tmp_path):
    reference, current = _write(tmp_path / "ref", 0.0, 1), _write(tmp_path / "cur", 0.5, 2)
    config = tmp_path / "monitor.yaml"
    config.write_text(f"reference:\n  path: {reference}\ncurrent:\n  path: {current}\n")
    unsharded = _unsharded(config, tmp_path / "whole-cache", tmp_path / "whole")
    _scan(current, tmp_path / "run", config, tmp_path / "cache")
    _same_result(_merge(tmp_path / "run", config, tmp_path / "cache", tmp_path / "m"), unsharded)


def test_shards_split_between_hit_and_miss_merge_with_estimated_histograms(tmp_path, setup):
    """Another run writes the cache while the scan runs: shard 0 missed (no edges, a
    reference shard), shards 1 and 2 hit (edges, none). The current shards still merge,
    their histograms estimated from the samples as without edges, and the merge reads
    the cached reference (the reference shards are incomplete)."""
    _reference, current, config = setup
    cache = tmp_path / "cache"
    _scan(current, tmp_path / "run", config, cache, only=range(1))
    _unsharded(config, cache, tmp_path / "whole")  # writes the cache meanwhile
    facts = _scan(current, tmp_path / "run", config, cache, only=range(1, COUNT))
    assert [f["reference"] for f in facts] == ["cached"] * (COUNT - 1)
    mixed = _merge(tmp_path / "run", config, cache, tmp_path / "mixed")
    assert mixed["reference"]["profileCached"] is True
    no_edges = tmp_path / "plain"
    for index in range(COUNT):
        code = main(
            [
                *("profile", "--input", str(current), "--shard", f"{index}/{COUNT}"),
                *("--output", str(no_edges / f"shard-{index}.dwprofile"), "--config", str(config)),
            ]
        )
        assert code == 0
    code = main(
        [
            *("analyze", "--config", str(config), "--quiet", "--profile-cache", str(cache)),
            *("--current-profiles", *(str(no_edges / f"shard-{i}.dwprofile") for i in range(3))),
            *("--output", str(tmp_path / "estimated")),
        ]
    )
    assert code == 0
    estimated = load_report((tmp_path / "estimated" / "report.json").read_bytes())
    for key in ("features", "dataset", "findings", "reference"):
        assert mixed[key] == estimated[key], key


def test_reference_shards_of_another_reference_are_not_used(tmp_path, setup):
    """The reference changed between the scan and the merge: the shards' key is not the
    merge's, so the merge reads the reference itself (as an unsharded run would)."""
    reference, current, config = setup
    cache = tmp_path / "cache"
    _scan(current, tmp_path / "run", config, cache)
    rng = np.random.default_rng(9)
    pq.write_table(
        pa.table(
            {
                "x": rng.normal(3, 1, 500),
                "k": rng.integers(0, 5, 500),
                "c": rng.choice(["a", "b"], 500),
                "h": [f"h{v}" for v in rng.integers(0, 9, 500)],
            }
        ),
        reference / "part-0.parquet",
    )
    merged = _merge(tmp_path / "run", config, cache, tmp_path / "merged")
    unsharded = _unsharded(config, tmp_path / "whole-cache", tmp_path / "whole")
    assert merged["reference"] == unsharded["reference"]
    assert merged["reference"]["rows"] == sum(SIZES) - SIZES[0] + 500
    (entry,) = cache.glob("reference-*.dwprofile")
    (whole_entry,) = (tmp_path / "whole-cache").glob("reference-*.dwprofile")
    assert entry.read_bytes() == whole_entry.read_bytes()


def test_bad_reference_flags_exit_2_naming_them(tmp_path, setup, capsys):
    reference, current, config = setup
    out = str(tmp_path / "p.dwprofile")
    base = ["profile", "--input", str(current), "--output", out]
    assert main([*base, "--reference", str(reference)]) == 2
    assert "--reference: give --profile-cache and/or --reference-output" in (
        capsys.readouterr().err
    )
    code = main([*base, "--profile-cache", str(tmp_path), "--reference-profiles", out])
    assert code == 2 and "either --reference-profiles or" in capsys.readouterr().err
    assert main([*base, "--profile-cache", str(tmp_path / "c")]) == 2  # no reference anywhere
    assert "no reference to look up" in capsys.readouterr().err
    code = main(
        [
            *("analyze", "--config", str(config), "--quiet", "--reference-profiles", out),
            *("--reference-shards", out, "--current", str(current)),
        ]
    )
    assert code == 2 and "either --reference-profiles or --reference-shards" in (
        capsys.readouterr().err
    )
    pattern = str(tmp_path / "reference-{shard}.dwprofile")
    code = main(["analyze", "--config", str(config), "--quiet", "--reference-shards", pattern])
    assert code == 2 and "--reference-shards: a URI with {shard} must come alone" in (
        capsys.readouterr().err
    )
    assert not Path(out).exists()


def test_the_shards_look_up_a_promoted_reference_as_the_analysis_does(tmp_path, setup):
    """After a promotion the config's status.reference names the reference the analysis
    reads: the shards compute that reference's key, so they find its cached profile."""
    reference, current, _config = setup
    promoted = _write(tmp_path / "promoted", 0.2, 5)
    config = tmp_path / "dm.json"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "driftwarden.io/v1alpha1",
                "kind": "DriftMonitor",
                "metadata": {"name": "m", "namespace": "ns"},
                "spec": {
                    "profile": {"sampleSize": 1000},
                    "reference": {"path": str(reference)},
                    "current": {"path": str(current)},
                },
                "status": {"reference": {"source": "promoted", "path": str(promoted)}},
            }
        )
    )
    cache = tmp_path / "cache"
    unsharded = _unsharded(config, cache, tmp_path / "whole")
    assert unsharded["reference"]["rows"] == sum(SIZES)
    facts = _scan(current, tmp_path / "run", config, cache)
    assert [f["reference"] for f in facts] == ["cached"] * COUNT
    sharded = _merge(tmp_path / "run", config, cache, tmp_path / "merged")
    _same_result(sharded, _unsharded(config, cache, tmp_path / "again"))
    assert sharded["reference"]["source"] == "promoted"


def test_a_windowed_fixed_reference_is_built_by_the_shards_to_the_one_pass_bytes(tmp_path):
    """A fixed reference with its own window (closed at the slot, as the current's): the
    shards deal its files that reach into the window and cut the rows outside, so the
    merged reference shards are the bytes the unsharded run caches."""
    from tests.cli.test_shards_cli import _write_timed

    reference = _write_timed(tmp_path / "ref", 0.0, 3)
    current = _write_timed(tmp_path / "cur", 0.7, 4)
    config = tmp_path / "monitor.yaml"
    config.write_text(
        "profile:\n  sampleSize: 1000\n"
        f"reference:\n  path: {reference}\n  timestampColumn: ts\n  window: 100h\n"
        f"current:\n  path: {current}\n  timestampColumn: ts\n  window: 60h\n"
    )
    end = ("--window-end", "2026-01-06T12:00:00Z")
    whole_cache, cache = tmp_path / "whole-cache", tmp_path / "cache"
    code = main(
        [
            *("analyze", "--config", str(config), "--quiet", *end),
            *("--profile-cache", str(whole_cache), "--output", str(tmp_path / "whole")),
        ]
    )
    assert code == 0
    unsharded = load_report((tmp_path / "whole" / "report.json").read_bytes())
    facts = _scan(current, tmp_path / "run", config, cache, *end)
    assert [f["reference"] for f in facts] == ["shard"] * COUNT
    code = main(
        [
            *("analyze", "--config", str(config), "--quiet", *end),
            *(
                "--current-profiles",
                *(str(tmp_path / "run" / f"shard-{i}.dwprofile") for i in range(3)),
            ),
            *("--reference-shards", str(tmp_path / "run" / "reference-{shard}.dwprofile")),
            *("--profile-cache", str(cache), "--output", str(tmp_path / "merged")),
        ]
    )
    assert code == 0
    sharded = load_report((tmp_path / "merged" / "report.json").read_bytes())
    assert sharded["reference"] == unsharded["reference"]
    assert 0 < sharded["reference"]["rows"] < sum(SIZES)  # cut to its window
    (entry,) = cache.glob("reference-*.dwprofile")
    (whole_entry,) = whole_cache.glob("reference-*.dwprofile")
    assert entry.read_bytes() == whole_entry.read_bytes()


@pytest.mark.parametrize("given", [[0, 2], [1], [0, 1, 2]])
def test_reference_shards_that_are_not_all_of_them_are_not_cached_as_the_reference(
    tmp_path, setup, capsys, given
):
    """Reference shards listed one by one, some left out (or every shard written to one
    URI, the last one kept): what they hold is part of the reference, which must never be
    cached under the whole reference's key. The merge reads the reference instead; all
    of them listed, it merges them (the cache's bytes are the same either way, so the
    log says which)."""
    _reference, current, config = setup
    cache, whole_cache = tmp_path / "cache", tmp_path / "whole-cache"
    unsharded = _unsharded(config, whole_cache, tmp_path / "whole")
    _scan(current, tmp_path / "run", config, cache)
    out = tmp_path / "run"
    code = main(
        [
            *("analyze", "--config", str(config), "--quiet"),
            *("--current-profiles", *(str(out / f"shard-{i}.dwprofile") for i in range(COUNT))),
            *("--reference-shards", *(str(out / f"reference-{i}.dwprofile") for i in given)),
            *("--profile-cache", str(cache), "--output", str(tmp_path / "merged")),
        ]
    )
    assert code == 0
    logged = capsys.readouterr().err
    assert ("merged from the scan's shards" in logged) is (len(given) == COUNT)
    assert ("not all of the scan's" in logged) is (len(given) != COUNT)
    merged = load_report((tmp_path / "merged" / "report.json").read_bytes())
    assert merged["reference"] == unsharded["reference"]
    assert merged["reference"]["rows"] == sum(SIZES)
    (entry,) = cache.glob("reference-*.dwprofile")
    (whole_entry,) = whole_cache.glob("reference-*.dwprofile")
    assert entry.read_bytes() == whole_entry.read_bytes()
