"""spec.model.multivariate end to end on real Parquet files: a correlation-only drift makes
the run drifted while every feature stays quiet; a random split stays quiet; the window
cache and the reference cache give the same result as a fresh scan."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.report import validate_report


def _rows(rng: np.random.Generator, n: int, rho: float) -> dict[str, np.ndarray]:
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho * rho) * rng.normal(size=n)
    return {
        "x": x * 10 + 50,
        "y": y,
        "z": rng.normal(size=n),
        "plan": rng.choice(["a", "b", "c"], n),
    }


def _write_files(directory, columns: dict[str, np.ndarray], files: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    table = pa.table(columns)
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), directory / f"part-{i:02d}.parquet")


def _config(tmp_path, **multivariate):
    return parse_run_config(
        {
            "reference": {"path": str(tmp_path / "ref")},
            "current": {"path": str(tmp_path / "cur")},
            "model": {"multivariate": multivariate},
        }
    )


def test_correlation_only_drift_drifts_the_run_with_every_feature_quiet(tmp_path):
    rng = np.random.default_rng(5)
    _write_files(tmp_path / "ref", _rows(rng, 40_000, 0.9), 3)
    _write_files(tmp_path / "cur", _rows(rng, 30_000, -0.9), 4)
    report = analyze(_config(tmp_path), profile_cache=str(tmp_path / "cache"))
    validate_report(report)
    assert not any(f["drifted"] for f in report["features"])  # every marginal unchanged
    assert all(f["name"] != "plan" or f["kind"] == "categorical" for f in report["features"])
    joint = report["multivariate"]
    assert joint["features"] == ["x", "y", "z"]  # the numerical features, in plan order
    assert joint["drifted"] and joint["pValue"] < 1e-10
    assert joint["currentError"] > 3 * joint["referenceError"]
    assert joint["rows"] == {"reference": 4096, "current": 4096, "fit": 2048, "holdout": 2048}
    assert report["dataset"]["drifted"] and report["dataset"]["driftedBy"] == ["multivariate"]
    assert report["dataset"]["driftedFeatures"] == 0
    # Each marginal's own test is quiet too: KS on every numerical feature.
    ks = parse_run_config(
        {
            "reference": {"path": str(tmp_path / "ref")},
            "current": {"path": str(tmp_path / "cur")},
            "detection": {"numerical": {"method": "ks"}, "correction": "none"},
        }
    )
    marginals = analyze(ks, profile_cache=None)
    pvalues = {f["name"]: f["pValue"] for f in marginals["features"] if f["kind"] == "numerical"}
    assert set(pvalues) == {"x", "y", "z"} and min(pvalues.values()) > 0.01, pvalues
    assert marginals["multivariate"] is None and not marginals["dataset"]["drifted"]


def test_a_random_split_stays_quiet(tmp_path):
    rng = np.random.default_rng(8)
    columns = _rows(rng, 60_000, 0.7)
    side = rng.random(60_000) < 0.5
    _write_files(tmp_path / "ref", {k: v[side] for k, v in columns.items()}, 2)
    _write_files(tmp_path / "cur", {k: v[~side] for k, v in columns.items()}, 3)
    # Row keys hash the file's path, so each run samples other rows: under no drift the
    # p-value is uniform and a false alarm as likely as the threshold. 1e-4 keeps this
    # test from flaking; the rate at the default 0.01 is tested over 100 splits in
    # tests/stats/test_multivariate.py.
    report = analyze(_config(tmp_path, features=["x", "y"], threshold=1e-4), profile_cache=None)
    joint = report["multivariate"]
    assert joint["features"] == ["x", "y"]
    assert not joint["drifted"] and joint["pValue"] > 1e-4
    assert not report["dataset"]["drifted"] and report["dataset"]["driftedBy"] == []


def test_cached_profiles_give_the_fresh_result(tmp_path):
    rng = np.random.default_rng(9)
    _write_files(tmp_path / "ref", _rows(rng, 20_000, 0.5), 2)
    _write_files(tmp_path / "cur", _rows(rng, 20_000, 0.2), 5)
    config = _config(tmp_path, sampleRows=1000)
    fresh = analyze(config, profile_cache=None)["multivariate"]
    first = analyze(config, profile_cache=str(tmp_path / "cache"))
    analyze(config, profile_cache=str(tmp_path / "cache"))  # files are cached when seen twice
    again = analyze(config, profile_cache=str(tmp_path / "cache"))
    assert again["reference"]["profileCached"] and again["current"]["files"]["cached"] == 5
    assert first["multivariate"] == fresh == again["multivariate"]
    assert fresh["rows"]["current"] == 1000


def test_too_few_rows_or_unknown_features_are_findings_not_failures(tmp_path):
    rng = np.random.default_rng(10)
    columns = _rows(rng, 60, 0.5)
    columns["y"][10:] = np.nan  # almost no complete row
    _write_files(tmp_path / "ref", columns, 1)
    _write_files(tmp_path / "cur", _rows(rng, 60, 0.5), 1)
    report = analyze(_config(tmp_path, features=["x", "y", "plan", "nope"]), profile_cache=None)
    validate_report(report)
    codes = {f["code"]: f["message"] for f in report["findings"]}
    assert "plan, nope are not a numerical feature" in codes["MultivariateFeatureUnavailable"]
    assert "too few complete rows" in codes["MultivariateSkipped"]
    joint = report["multivariate"]
    assert joint["skipped"] and not joint["drifted"] and joint["pValue"] is None


def test_without_the_block_there_is_no_section(tmp_path):
    rng = np.random.default_rng(11)
    _write_files(tmp_path / "ref", _rows(rng, 500, 0.5), 1)
    _write_files(tmp_path / "cur", _rows(rng, 500, 0.5), 1)
    config = parse_run_config(
        {"reference": {"path": str(tmp_path / "ref")}, "current": {"path": str(tmp_path / "cur")}}
    )
    report = analyze(config, profile_cache=None)
    assert report["multivariate"] is None
    disabled = analyze(_config(tmp_path, enabled=False), profile_cache=None)
    assert disabled["multivariate"] is None
