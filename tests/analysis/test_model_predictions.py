"""Prediction and target drift on real Parquet files: compared apart from the features."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as scipy_stats

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.errors import ConfigError
from driftwarden.report import validate_report

MODEL = {
    "predictions": [
        {"column": "churn_score", "kind": "score", "method": "ks", "threshold": 0.01},
        {"column": "churn_predicted", "kind": "label"},
    ],
    "target": {"column": "churned", "kind": "label"},
}


def _table(rng: np.random.Generator, n: int, *, score_shift: float = 0.0) -> dict:
    """Features from one distribution; the model's score moves by ``score_shift``."""
    score = np.clip(rng.beta(2, 6, n) + score_shift, 0, 1)
    return {
        "age": rng.normal(40, 10, n),
        "income": rng.lognormal(10, 0.5, n),
        "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
        "churn_score": score,
        "churn_predicted": (score >= 0.5).astype(np.int64),  # integer-coded class
        "churned": (rng.random(n) < 0.2).astype(np.int64),
    }


def _write(path, columns) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def _run(tmp_path, reference: dict, current: dict, model=MODEL, **spec):
    _write(tmp_path / "ref" / "part.parquet", reference)
    _write(tmp_path / "cur" / "part.parquet", current)
    config = parse_run_config(
        {
            "reference": {"path": str(tmp_path / "ref")},
            "current": {"path": str(tmp_path / "cur")},
            "model": model,
            **spec,
        }
    )
    return analyze(config, profile_cache=str(tmp_path / "cache"))


def test_a_prediction_shift_is_caught_while_every_feature_is_unchanged(tmp_path):
    rng = np.random.default_rng(7)
    reference, current = _table(rng, 6000), _table(rng, 4000, score_shift=0.25)
    report = _run(tmp_path, reference, current)
    validate_report(report)

    # The features: the same distribution on both sides, and the model's columns are not among them.
    assert {f["name"] for f in report["features"]} == {"age", "income", "plan"}
    assert not any(f["drifted"] for f in report["features"])
    assert report["dataset"]["drifted"] is False and report["dataset"]["totalFeatures"] == 3

    section = report["predictions"]
    assert section["drifted"] and section["predictionDrifted"]
    assert section["targetDrifted"] is False
    assert section["notCompared"] == []
    columns = {c["name"]: c for c in section["columns"]}
    assert set(columns) == {"churn_score", "churn_predicted", "churned"}
    assert section["totalColumns"] == 3 and section["driftedColumns"] == 2
    score = columns["churn_score"]
    assert (score["role"], score["modelKind"], score["kind"]) == (
        "prediction",
        "score",
        "numerical",
    )
    assert score["method"] == "ks" and score["threshold"] == 0.01 and score["drifted"]
    # Exact on this size: the engine's KS is scipy's, and corrected among the model's columns only.
    expected = scipy_stats.ks_2samp(reference["churn_score"], current["churn_score"])
    assert score["scores"]["ks"] == pytest.approx(expected.statistic, abs=1e-12)
    assert score["rawPValue"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    label = columns["churn_predicted"]
    # An integer-coded class is compared by category, with detection's categorical method.
    assert (label["kind"], label["method"], label["threshold"]) == (
        "categorical",
        "jensenshannon",
        0.1,
    )
    assert label["drifted"] and set(label["distribution"]["labels"]) >= {"0", "1"}
    target = columns["churned"]
    assert (target["role"], target["drifted"]) == ("target", False)


def test_unchanged_predictions_do_not_drift(tmp_path):
    rng = np.random.default_rng(8)
    report = _run(tmp_path, _table(rng, 5000), _table(rng, 5000))
    assert report["predictions"]["drifted"] is False
    assert report["predictions"]["driftedColumns"] == 0
    # The reference profile, model columns included, comes from the cache the second time.
    again = _run(tmp_path, _table(rng, 5000), _table(rng, 5000))
    assert again["reference"]["profileCached"] is False  # new reference files, new key
    config = parse_run_config(
        {
            "reference": {"path": str(tmp_path / "ref")},
            "current": {"path": str(tmp_path / "cur")},
            "model": MODEL,
        }
    )
    cached = analyze(config, profile_cache=str(tmp_path / "cache"))
    assert cached["reference"]["profileCached"] is True
    assert cached["predictions"]["columns"] == again["predictions"]["columns"]


def test_a_target_absent_from_the_current_window_is_reported_not_compared(tmp_path):
    rng = np.random.default_rng(9)
    current = _table(rng, 3000, score_shift=0.3)
    del current["churned"]
    reference = _table(rng, 3000)
    del reference["churn_predicted"]  # a training set: no predictions of that kind
    report = _run(tmp_path, reference, current)
    validate_report(report)
    section = report["predictions"]
    assert section["targetDrifted"] is None
    assert {(c["name"], c["role"]) for c in section["notCompared"]} == {
        ("churned", "target"),
        ("churn_predicted", "prediction"),
    }
    assert [c["name"] for c in section["columns"]] == ["churn_score"]
    codes = {(f["code"], f["feature"], f["severity"]) for f in report["findings"]}
    assert ("TargetMissingInCurrent", "churned", "info") in codes
    assert ("PredictionMissingInReference", "churn_predicted", "warning") in codes
    assert section["drifted"]


def test_no_model_block_means_no_predictions_section(tmp_path):
    rng = np.random.default_rng(10)
    report = _run(tmp_path, _table(rng, 1000), _table(rng, 1000), model=None)
    assert report["predictions"] is None
    # Without spec.model the model's columns are ordinary features.
    assert "churn_score" in {f["name"] for f in report["features"]}


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (
            {"predictions": [{"column": "nope", "kind": "score"}]},
            "spec.model.predictions[0].column: 'nope' is in neither dataset",
        ),
        (
            {"predictions": [{"column": "plan", "kind": "score"}]},
            "spec.model.predictions[0].kind: column 'plan' has type string",
        ),
        ({"target": {"column": "plan", "kind": "value"}}, "spec.model.target.kind"),
    ],
)
def test_model_columns_that_cannot_exist_are_configuration_errors(tmp_path, model, words):
    rng = np.random.default_rng(11)
    with pytest.raises(ConfigError) as error:
        _run(tmp_path, _table(rng, 500), _table(rng, 500), model=model)
    assert words in str(error.value)


def test_the_report_check_refuses_a_predictions_section_that_contradicts_itself(tmp_path):
    from driftwarden.report.document import ReportError

    rng = np.random.default_rng(12)
    report = _run(tmp_path, _table(rng, 1000), _table(rng, 1000, score_shift=0.3))
    validate_report(report)
    report["predictions"]["driftedColumns"] += 1
    with pytest.raises(ReportError, match=r"\$\.predictions"):
        validate_report(report)
    report["predictions"]["driftedColumns"] -= 1
    report["predictions"]["columns"][0]["role"] = "feature"
    with pytest.raises(ReportError, match=r"\$\.predictions\.columns\[0\]\.role"):
        validate_report(report)
