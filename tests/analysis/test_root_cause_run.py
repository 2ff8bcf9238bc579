"""Root cause in a run, on real Parquet files: the known cause is ranked first and shown."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.model.importance import codes, mutual_information
from driftwarden.report import validate_report
from driftwarden.report.html import render_html

MODEL = {"predictions": [{"column": "score", "kind": "score"}]}


def _table(rng: np.random.Generator, n: int, *, a_shift=0.0, noise_shift=0.0) -> dict:
    """``score`` is the model's output: it rests on ``a`` and ``segment``, never on ``noise``."""
    a = rng.normal(a_shift, 1, n)
    segment = rng.choice(["web", "app", "store"], n)
    score = 1 / (1 + np.exp(-(2 * a + 1.0 * (segment == "app"))))
    return {
        "a": a,
        "noise": rng.normal(noise_shift, 1, n),
        "segment": segment,
        "score": score,
    }


def _run(tmp_path, reference, current, model=MODEL, cache=True):
    for name, columns in (("ref", reference), ("cur", current)):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), tmp_path / name / "part.parquet")
    return _analyze(tmp_path, model, cache)


def _analyze(tmp_path, model=MODEL, cache=True):
    config = parse_run_config(
        {
            "reference": {"path": str(tmp_path / "ref")},
            "current": {"path": str(tmp_path / "cur")},
            "model": model,
        }
    )
    return analyze(config, profile_cache=str(tmp_path / "cache") if cache else None)


@pytest.fixture(scope="module")
def known_cause(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("rootcause")
    rng = np.random.default_rng(3)
    reference = _table(rng, 30_000)
    current = _table(rng, 10_000, a_shift=0.4, noise_shift=3.0)
    return tmp_path, reference, current, _run(tmp_path, reference, current)


def test_the_known_cause_is_ranked_first_and_named_in_the_summary(known_cause):
    _, _, _, report = known_cause
    validate_report(report)
    features = {f["name"]: f for f in report["features"]}
    assert features["noise"]["drifted"]  # the loud feature drifted the most
    assert features["noise"]["scores"]["jensenshannon"] > features["a"]["scores"]["jensenshannon"]
    section = report["rootCause"]
    assert section["triggered"] and "predictions" in section["triggers"]
    assert section["top"]["feature"] == "a"
    assert section["causes"][0]["share"] > 0.8
    assert section["summary"] == f"top cause: a ({section['top']['share']:.0%})"
    importance = section["importance"]
    assert importance["method"] == "mutualInformation"
    assert importance["against"] == "score" and importance["rows"] == 10_000
    html = render_html(report)
    assert html.index('id="root-cause"') < html.index('id="features"')


def test_estimate_equals_scikit_learn_on_the_sampled_rows(known_cause):
    """The run's importance is the plug-in MI of the sampled rows, as scikit-learn computes it."""
    from sklearn.metrics import mutual_info_score

    from driftwarden.analysis.incremental import file_stream
    from driftwarden.model.importance import estimate_importance
    from driftwarden.model.reference_rows import as_values, sample_streams
    from driftwarden.storage import DatasetSource, StorageOptions, open_dataset

    tmp_path, _, _, report = known_cause
    # The run's rows: each reference file keyed by its identity, as its profile is.
    dataset = open_dataset(DatasetSource(uri=str(tmp_path / "ref")), StorageOptions())
    names = ["a", "noise", "segment", "score"]
    streams = [(file_stream(f), dataset.batches(names, files=[f])) for f in dataset.files]
    table = sample_streams(streams, 10_000, 0)
    assert table is not None and table.num_rows == 10_000
    y = codes(as_values(table["score"], False), categorical=False)
    for name, categorical in (("a", False), ("segment", True), ("noise", False)):
        x = codes(as_values(table[name], categorical), categorical=categorical)
        mi = mutual_information(x, y)
        assert mi.plugin == pytest.approx(mutual_info_score(x, y) / np.log(2), abs=1e-12)
    weights = {c["feature"]: c["importance"] for c in report["rootCause"]["causes"]}
    assert weights["a"] > weights["segment"] > weights["noise"]
    # Those are the rows the run estimated on (10,000 of 30,000: another sample differs).
    estimate = estimate_importance(
        {n: (as_values(table[n], n == "segment"), n == "segment") for n in names[:3]},
        as_values(table["score"], False),
        against_name="score",
        against_categorical=False,
    )
    assert estimate is not None
    assert weights == pytest.approx(estimate.weights, abs=1e-12)


def test_importance_is_cached_with_the_reference_and_reused(known_cause):
    tmp_path, _, _, report = known_cause
    cached = list((tmp_path / "cache").glob("importance-*.json"))
    assert len(cached) == 1
    # The cached entry is what the next run uses (its content, not a recomputation).
    doc = json.loads(cached[0].read_text())
    doc["weights"] = {name: (1.0 if name == "noise" else 0.0) for name in doc["weights"]}
    cached[0].write_text(json.dumps(doc))
    again = _analyze(tmp_path)
    assert again["rootCause"]["top"]["feature"] == "noise"
    cached[0].write_text("not json")  # a broken entry is recomputed, never fatal
    assert _analyze(tmp_path)["rootCause"] == report["rootCause"]
    # A different estimate setting is a different entry.
    model = {**MODEL, "importance": {"sampleRows": 2000}}
    other = _analyze(tmp_path, model=model)
    assert other["rootCause"]["importance"]["rows"] == 2000
    assert len(list((tmp_path / "cache").glob("importance-*.json"))) == 2


def test_given_weights_are_used_as_given(tmp_path):
    rng = np.random.default_rng(4)
    model = {**MODEL, "importance": {"weights": [{"feature": "noise", "weight": 1}]}}
    report = _run(tmp_path, _table(rng, 3000), _table(rng, 3000, noise_shift=1.0), model=model)
    section = report["rootCause"]
    assert section["importance"]["method"] == "given"
    assert section["top"]["feature"] == "noise" and section["top"]["share"] == pytest.approx(1.0)


def test_unknown_weighted_feature_is_a_finding(tmp_path):
    rng = np.random.default_rng(5)
    model = {**MODEL, "importance": {"weights": [{"feature": "nope", "weight": 1}]}}
    report = _run(tmp_path, _table(rng, 500), _table(rng, 500), model=model, cache=False)
    assert any(f["code"] == "ImportanceUnknownFeature" for f in report["findings"])


def test_no_column_to_estimate_against_is_a_finding_and_no_section(tmp_path):
    rng = np.random.default_rng(6)
    reference = _table(rng, 500)
    del reference["score"]  # a training set without the model's outputs
    report = _run(tmp_path, reference, _table(rng, 500), cache=False)
    assert report["rootCause"] is None
    assert any(f["code"] == "ImportanceNotEstimated" for f in report["findings"])


def test_without_spec_model_there_is_no_root_cause(tmp_path):
    rng = np.random.default_rng(8)
    reference, current = _table(rng, 500), _table(rng, 500)
    for name, columns in (("ref", reference), ("cur", current)):
        (tmp_path / name).mkdir()
        pq.write_table(pa.table(columns), tmp_path / name / "part.parquet")
    config = parse_run_config(
        {"reference": {"path": str(tmp_path / "ref")}, "current": {"path": str(tmp_path / "cur")}}
    )
    assert analyze(config).get("rootCause") is None


def test_a_performance_drop_without_feature_drift_points_at_the_segment(tmp_path):
    """Concept drift: the 'pro' plan's labels flip, no feature moves. The root cause says
    no drifted feature explains the drop and names the segment that lost accuracy."""
    from tests.analysis.test_performance_run import END, _logs, _spec

    _logs(tmp_path, np.random.default_rng(1))
    report = _analyze_spec(_spec(tmp_path), END)
    validate_report(report)
    section = report["rootCause"]
    assert "performance" in section["triggers"]
    assert section["importance"]["against"] == "pred"
    (plan,) = section["segments"]
    assert plan["feature"] == "plan" and plan["metric"] == "accuracy"
    assert plan["segments"][0]["value"] == "pro" and plan["segments"][0]["drop"] > 0.1
    assert "worst segment: plan=pro (accuracy -" in section["summary"]
    html = render_html(report)
    assert "Segments of <code>plan</code> that lost accuracy" in html


def _analyze_spec(spec, window_end):
    return analyze(parse_run_config(spec), window_end=window_end)


def test_a_rolling_reference_keeps_one_importance_entry_that_follows_its_window(tmp_path):
    """A rolling reference's files change every run: one cache entry, rewritten per
    window, never another window's estimate and never one file per run."""
    from datetime import UTC, datetime, timedelta

    rng = np.random.default_rng(11)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for day in range(5):
        columns = _table(rng, 1500)
        stamps = [start + timedelta(days=day, seconds=int(s)) for s in range(0, 86400, 57)][:1500]
        columns["ts"] = pa.array(stamps, pa.timestamp("us", tz="UTC"))
        path = tmp_path / "logs" / f"day={day}" / "part.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(pa.table(columns), path)
    config = parse_run_config(
        {
            "reference": {"mode": "rolling"},
            "current": {"path": str(tmp_path / "logs"), "timestampColumn": "ts", "window": "24h"},
            "model": MODEL,
        }
    )
    keys = []
    for day in (3, 4, 5):
        report = analyze(
            config, window_end=start + timedelta(days=day), profile_cache=str(tmp_path / "cache")
        )
        assert report["rootCause"]["importance"]["method"] == "mutualInformation"
        (entry,) = list((tmp_path / "cache").glob("importance-*.json"))
        assert entry.name.startswith("importance-window-")
        keys.append(json.loads(entry.read_text())["key"])
    assert len(set(keys)) == 3  # each window its own estimate, in the one entry
