"""A period's performance through the join equals scikit-learn on the joined rows;
intervals cover; drops are decided; the worst segments come first."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as sk

from driftwarden.model import performance as perf
from driftwarden.model.join import LABEL, Coverage, JoinColumns, join_labels
from driftwarden.model.keys import common_id_type

NOW = datetime(2026, 11, 1, tzinfo=UTC)
TOL = 1e-9


def _classifier_logs(rng, n, *, accuracy_drop_segment=None):
    score = rng.random(n)
    truth = (rng.random(n) < score).astype(np.int64)
    segment = rng.choice(["a", "b", "c"], n)
    if accuracy_drop_segment is not None:
        flip = (segment == accuracy_drop_segment) & (rng.random(n) < 0.4)
        truth = np.where(flip, 1 - truth, truth)
    ids = rng.permutation(n)
    predictions = pa.table(
        {
            "id": ids,
            "pred": (score > 0.5).astype(np.int64),
            "score": score,
            "segment": segment,
        }
    )
    labeled = rng.random(n) < 0.9
    labels = pa.table({"id": ids[labeled], "y": truth[labeled].astype(np.float64)})
    return predictions, labels


def _period(predictions, labels, task, classes, partitions=1):
    acc = perf.PeriodAccumulator(task, classes)
    for part in join_labels(
        predictions.to_batches(1000),
        labels.to_batches(777),
        JoinColumns("id", "id", "y"),
        common_id_type(predictions["id"].type, labels["id"].type),
        coverage=acc.coverage,
        now=NOW,
        partitions=partitions,
    ):
        acc.add(part)
    return acc


def _joined(predictions, labels):
    truth = dict(zip(labels["id"].to_pylist(), labels["y"].to_pylist(), strict=True))
    keep = [i in truth for i in predictions["id"].to_pylist()]
    rows = predictions.filter(pa.array(keep))
    return rows, np.array([truth[i] for i in rows["id"].to_pylist()])


@pytest.mark.parametrize("partitions", [1, 5])
def test_classification_through_the_join_equals_sklearn(partitions):
    rng = np.random.default_rng(1)
    predictions, labels = _classifier_logs(rng, 20_000)
    task = perf.Task("classification", "pred", score="score", positive="1", id="id")
    period = _period(predictions, labels, task, perf.ClassIndex(), partitions)
    positive = perf.binary_positive(period, None)
    got = perf.period_metrics(period, positive)
    rows, truth = _joined(predictions, labels)
    pred, score = rows["pred"].to_numpy(), rows["score"].to_numpy()
    assert period.coverage.labeled == truth.size
    assert period.coverage.unlabeled == 20_000 - truth.size
    want = {
        "accuracy": sk.accuracy_score(truth, pred),
        "precision": sk.precision_score(truth, pred),
        "recall": sk.recall_score(truth, pred),
        "f1": sk.f1_score(truth, pred),
        "rocAuc": sk.roc_auc_score(truth, score),
        "logLoss": sk.log_loss(truth, score),
    }
    for name, value in want.items():
        assert got[name]["value"] == pytest.approx(value, abs=TOL), name
        assert got[name]["low"] <= got[name]["value"] <= got[name]["high"], name
    assert set(got) == {"accuracy", "precision", "recall", "f1", "rocAuc", "logLoss", "ece"}


def test_regression_through_the_join_equals_sklearn():
    rng = np.random.default_rng(2)
    n = 5000
    ids = np.arange(n)
    truth = rng.normal(100, 10, n)
    predictions = pa.table({"id": ids, "pred": truth + rng.normal(0, 2, n)})
    labels = pa.table({"id": ids[::2].astype(np.int32), "y": truth[::2]})
    task = perf.Task("regression", "pred", id="id")
    got = perf.period_metrics(_period(predictions, labels, task, perf.ClassIndex(), 3), None)
    t, p = truth[::2], predictions["pred"].to_numpy()[::2]
    assert got["mae"]["value"] == pytest.approx(sk.mean_absolute_error(t, p), rel=TOL)
    assert got["rmse"]["value"] == pytest.approx(sk.root_mean_squared_error(t, p), rel=TOL)
    assert got["mape"]["value"] == pytest.approx(sk.mean_absolute_percentage_error(t, p), rel=TOL)
    assert got["r2"]["value"] == pytest.approx(sk.r2_score(t, p), abs=TOL)
    for name in ("mae", "rmse", "mape", "r2"):  # each with its bootstrap interval
        assert got[name]["low"] < got[name]["value"] < got[name]["high"], name
        assert got[name]["standardError"] > 0, name


def test_accuracy_interval_covers_about_95_percent():
    """Over 100 independent logs of a classifier with true accuracy 0.8, the 95%
    bootstrap interval covers 0.8 in 88-100 of them (binomial 95% band of 100 draws)."""
    covered = 0
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        n = 400
        ids = np.arange(n)
        truth = rng.integers(0, 2, n)
        pred = np.where(rng.random(n) < 0.8, truth, 1 - truth)
        task = perf.Task("classification", "pred", positive="1", id="id", seed=seed)
        period = _period(
            pa.table({"id": ids, "pred": pred}),
            pa.table({"id": ids, "y": truth}),
            task,
            perf.ClassIndex(),
        )
        ci = perf.period_metrics(period, perf.binary_positive(period, None))["accuracy"]
        covered += ci["low"] <= 0.8 <= ci["high"]
    assert 88 <= covered <= 100


def test_scaled_interval_of_a_subsample_matches_the_full_bootstrap_width(monkeypatch):
    """With more rows than BOOTSTRAP_ROWS the interval is the resampled one scaled by
    sqrt(m/n): its width stays within 20% of the full-data bootstrap's."""
    rng = np.random.default_rng(4)
    n = 8000
    ids = np.arange(n)
    truth = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.7, truth, 1 - truth)
    tables = pa.table({"id": ids, "pred": pred}), pa.table({"id": ids, "y": truth})
    task = perf.Task("classification", "pred", positive="1", id="id")
    full = perf.period_metrics(_period(*tables, task, perf.ClassIndex()), 1)["accuracy"]
    monkeypatch.setattr(perf, "BOOTSTRAP_ROWS", 1000)
    sub = perf.period_metrics(_period(*tables, task, perf.ClassIndex()), 1)["accuracy"]
    assert sub["value"] == full["value"]
    width = full["high"] - full["low"]
    assert abs((sub["high"] - sub["low"]) - width) < 0.2 * width


def test_a_significant_drop_over_the_threshold_degrades():
    rng = np.random.default_rng(6)
    task = perf.Task("classification", "pred", positive="1", id="id", segments=("segment",))
    classes = perf.ClassIndex()
    ref = _period(*_classifier_logs(rng, 6000), task, classes)
    cur = _period(*_classifier_logs(rng, 6000, accuracy_drop_segment="b"), task, classes)
    positive = perf.binary_positive(cur, ref)
    rows = perf.compare(
        perf.period_metrics(cur, positive),
        perf.period_metrics(ref, positive),
        [perf.Threshold("accuracy", 0.05), perf.Threshold("recall", 0.5)],
        0.05,
    )
    by = {r["metric"]: r for r in rows}
    assert by["accuracy"]["drop"] > 0.05 and by["accuracy"]["pValue"] < 1e-6
    assert by["accuracy"]["degraded"] is True
    assert by["recall"]["degraded"] is False  # dropped, but less than its threshold
    assert by["precision"]["degraded"] is False  # no threshold
    section = {"segments": perf.segment_report(task, cur, ref)}
    worst = perf.worst_segments(section)
    assert worst[0]["feature"] == "segment" and worst[0]["value"] == "b"
    assert worst[0]["drop"] > 0.1
    assert all(w["value"] != "b" for w in worst[1:])


def test_an_unchanged_model_does_not_degrade():
    rng = np.random.default_rng(7)
    task = perf.Task("classification", "pred", positive="1", id="id")
    classes = perf.ClassIndex()
    ref = _period(*_classifier_logs(rng, 6000), task, classes)
    cur = _period(*_classifier_logs(rng, 6000), task, classes)
    rows = perf.compare(
        perf.period_metrics(cur, 1),
        perf.period_metrics(ref, 1),
        [perf.Threshold("accuracy", 0.02)],
        0.05,
    )
    assert not any(r["degraded"] for r in rows)


def test_text_classes_and_null_predictions():
    predictions = pa.table({"id": ["a", "b", "c", "d"], "pred": ["cat", "dog", None, "dog"]})
    labels = pa.table({"id": ["a", "b", "c", "d"], "y": ["cat", "cat", "dog", "dog"]})
    task = perf.Task("classification", "pred", id="id")
    period = _period(predictions, labels, task, perf.ClassIndex())
    assert period.coverage.without_prediction == 1
    got = perf.period_metrics(period, perf.binary_positive(period, None))
    true, pred = ["cat", "cat", "dog"], ["cat", "dog", "dog"]
    assert got["accuracy"]["value"] == pytest.approx(sk.accuracy_score(true, pred))
    assert got["f1"]["value"] == pytest.approx(sk.f1_score(true, pred, average="macro"))


def test_worst_segments_needs_rows_on_both_sides():
    section = {
        "segments": [
            {
                "feature": "plan",
                "metric": "accuracy",
                "values": [
                    {"value": "free", "rows": 10, "referenceRows": 500, "drop": 0.5},
                    {"value": "pro", "rows": 300, "referenceRows": 400, "drop": 0.1},
                    {"value": "team", "rows": 300, "referenceRows": 400, "drop": -0.1},
                ],
            }
        ]
    }
    assert [s["value"] for s in perf.worst_segments(section)] == ["pro"]
    assert perf.worst_segments(None) == []


def test_coverage_report_counts_every_row():
    coverage = Coverage(predictions=10, labeled=6, pending=3, unlabeled=1)
    assert coverage.as_report()["share"] == 0.6
    assert LABEL == "__label"
