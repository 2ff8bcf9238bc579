"""Whole runs with spec.model performance: real Parquet logs of predictions and delayed labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as sk

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.errors import ConfigError, SchemaError
from driftwarden.model.performance import worst_segments
from driftwarden.report import render_html, validate_report
from driftwarden.report.summary import build_summary, dump_summary, parse_summary
from tests.report.domparse import parse_html

END = datetime(2026, 11, 8, tzinfo=UTC)
DAY = timedelta(days=1)


def _day(rng, start: datetime, n: int, first_id: int, *, broken_plan: str | None = None):
    """One day of predictions and their labels (90% labeled, 2-30 h later)."""
    x = rng.normal(0, 1, n)
    plan = rng.choice(["free", "pro", "team"], n)
    score = 1 / (1 + np.exp(-2 * x))
    truth = (rng.random(n) < score).astype(np.int64)
    if broken_plan is not None:
        flip = (plan == broken_plan) & (rng.random(n) < 0.45)
        truth = np.where(flip, 1 - truth, truth)
    ts = np.array([start + timedelta(seconds=float(s)) for s in np.sort(rng.random(n)) * 86_399])
    ids = np.arange(first_id, first_id + n)
    predictions = {
        "request_id": ids,
        "ts": pa.array(ts, pa.timestamp("us", "UTC")),
        "x": x,
        "plan": plan,
        "pred": (score > 0.5).astype(np.int64),
        "score": score,
    }
    has = rng.random(n) < 0.9
    delay = np.array([timedelta(hours=float(h)) for h in rng.uniform(2, 30, n)])
    labels = {
        "request_id": ids[has],
        "labeled_at": pa.array(ts[has] + delay[has], pa.timestamp("us", "UTC")),
        "churned": truth[has],
    }
    return predictions, labels


def _logs(tmp_path, rng, broken_plan="pro"):
    """A week of reference, a day of current (the `broken_plan` segment's labels flipped)."""
    labels = []
    for day in range(7):
        start = END - 8 * DAY + day * DAY
        p, lab = _day(rng, start, 1500, day * 10_000)
        pq.write_table(pa.table(p), _mk(tmp_path / "reference" / f"d{day}.parquet"))
        labels.append(lab)
    p, lab = _day(rng, END - DAY, 3000, 100_000, broken_plan=broken_plan)
    pq.write_table(pa.table(p), _mk(tmp_path / "current" / "today.parquet"))
    labels.append(lab)
    for i, lab in enumerate(labels):
        pq.write_table(pa.table(lab), _mk(tmp_path / "labels" / f"l{i}.parquet"))
    return p, labels[-1]


def _mk(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _spec(tmp_path, **performance):
    return {
        "reference": {"path": str(tmp_path / "reference")},
        "current": {"path": str(tmp_path / "current"), "timestampColumn": "ts", "window": "1d"},
        "model": {
            "predictions": [
                {"column": "pred", "kind": "label"},
                {"column": "score", "kind": "score"},
            ],
            "idColumn": "request_id",
            "labels": {
                "path": str(tmp_path / "labels"),
                "labelColumn": "churned",
                "timestampColumn": "labeled_at",
                "joinWindow": "2d",
            },
            "performance": performance,
        },
    }


def test_a_drop_in_accuracy_degrades_with_coverage_and_worst_segment(tmp_path):
    rng = np.random.default_rng(1)
    predictions, labels = _logs(tmp_path, rng)
    report = analyze(parse_run_config(_spec(tmp_path)), window_end=END)
    validate_report(report)
    perf = report["performance"]
    assert perf["task"] == "classification" and perf["positiveClass"] == "1"
    assert {f["name"] for f in report["features"]} == {"x", "plan"}  # id, pred, score are not
    coverage = perf["current"]["coverage"]
    assert coverage["predictions"] == 3000
    assert coverage["labeled"] + coverage["pending"] + coverage["unlabeled"] == 3000
    assert coverage["pending"] > 0  # the last hours' labels have not come yet at END
    # The metric equals sklearn's on the labels that arrived by END within 2 days.
    truth = dict(zip(labels["request_id"].tolist(), labels["churned"].tolist(), strict=True))
    arrived = {
        i
        for i, at in zip(
            labels["request_id"].tolist(), labels["labeled_at"].to_pylist(), strict=True
        )
        if at < END + 2 * DAY
    }
    rows = [i for i, pid in enumerate(predictions["request_id"]) if pid in arrived]
    y = [truth[predictions["request_id"][i]] for i in rows]
    assert coverage["labeled"] == len(rows)
    acc = perf["current"]["metrics"]["accuracy"]
    assert acc["value"] == pytest.approx(sk.accuracy_score(y, predictions["pred"][rows]), abs=1e-9)
    assert perf["current"]["metrics"]["rocAuc"]["value"] == pytest.approx(
        sk.roc_auc_score(y, predictions["score"][rows]), abs=1e-9
    )
    assert perf["reference"]["rows"] > 8000
    assert perf["decided"] and perf["degraded"] and perf["degradedMetrics"] == ["accuracy"]
    worst = worst_segments(perf)
    assert worst[0]["feature"] == "plan" and worst[0]["value"] == "pro"
    # The summary the operator reads carries the verdict and the coverage.
    compact = parse_summary(dump_summary(build_summary(report, None)))["performance"]
    assert compact["degraded"] and compact["metric"] == "accuracy"
    assert compact["coverage"]["pending"] == coverage["pending"]
    # The HTML report shows it: the accuracy row marked bad, the segment table.
    page = parse_html(render_html(report))
    (section,) = [n for n in page.find_all("section") if n.attrs.get("id") == "performance"]
    bad = [
        r.attrs["data-metric"]
        for r in section.find_all("tr", cls="bad")
        if "data-metric" in r.attrs
    ]
    assert bad == ["accuracy"]
    assert "degraded" in section.find_all("h2")[0].all_text()
    assert "pending" in section.all_text() and "plan" in section.all_text()


def test_an_unchanged_model_stays_healthy(tmp_path):
    rng = np.random.default_rng(2)
    _logs(tmp_path, rng, broken_plan=None)
    report = analyze(parse_run_config(_spec(tmp_path)), window_end=END)
    assert report["performance"]["decided"] and not report["performance"]["degraded"]


def test_too_few_labels_decide_nothing(tmp_path):
    rng = np.random.default_rng(3)
    _logs(tmp_path, rng)
    report = analyze(parse_run_config(_spec(tmp_path, minLabeledRows=100_000)), window_end=END)
    assert not report["performance"]["decided"] and not report["performance"]["degraded"]
    assert "TooFewLabels" in {f["code"] for f in report["findings"]}


def test_a_reference_without_predictions_is_measured_not_compared(tmp_path):
    rng = np.random.default_rng(4)
    _logs(tmp_path, rng)
    for path in (tmp_path / "reference").iterdir():
        pq.write_table(pq.read_table(path).drop(["pred", "score"]), path)
    report = analyze(parse_run_config(_spec(tmp_path)), window_end=END)
    assert report["performance"]["reference"] is None
    assert report["performance"]["current"]["metrics"]["accuracy"]["value"] > 0
    assert "PerformanceReferenceUnavailable" in {f["code"] for f in report["findings"]}


def test_a_missing_id_column_names_it(tmp_path):
    rng = np.random.default_rng(5)
    _logs(tmp_path, rng)
    spec = _spec(tmp_path)
    spec["model"]["idColumn"] = "nope"
    with pytest.raises(SchemaError, match="nope"):
        analyze(parse_run_config(spec), window_end=END)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"idColumn": None}, "spec.model.idColumn"),
        ({"labels": {"path": "/x", "labelColumn": "y", "joinWindow": "1d"}}, "timestampColumn"),
        ({"performance": {"task": "ranking"}}, "spec.model.performance"),
        ({"predictions": [{"column": "s", "kind": "score"}]}, "spec.model.predictions"),
        (
            {"performance": {"degradation": [{"metric": "mae", "maxDrop": 1}]}},
            "degradation[0].metric",
        ),
        ({"labels": {"path": "/" + "x" * 512, "labelColumn": "y"}}, "spec.model.labels.path"),
    ],
)
def test_bad_performance_specs_name_the_field(tmp_path, change, where):
    spec = _spec(tmp_path)
    spec["model"].update(change)
    with pytest.raises(ConfigError, match=where.replace("[", r"\[").replace("]", r"\]")):
        parse_run_config(spec)


def test_a_regression_model_is_measured_like_sklearn_on_string_ids(tmp_path):
    """A regression (spec.model.predictions kind value), ids as text on one side and
    integers on the other, no join window: MAE, RMSE, MAPE and R² as scikit-learn's."""
    rng = np.random.default_rng(9)

    def side(name, n, bias):
        x = rng.normal(0, 1, n)
        truth = 50 + 10 * x + rng.normal(0, 2, n)
        ids = np.arange(n) + (0 if name == "reference" else 10**6)
        pred = truth + bias + rng.normal(0, 3, n)
        pq.write_table(
            pa.table({"rid": [f"{i}" for i in ids], "x": x, "spend": pred}),
            _mk(tmp_path / name / "p.parquet"),
        )
        pq.write_table(
            pa.table({"rid": ids, "actual": truth}), _mk(tmp_path / "labels" / f"{name}.parquet")
        )
        return truth, pred

    side("reference", 3000, 0.0)
    truth, pred = side("current", 2000, 4.0)
    spec = {
        "reference": {"path": str(tmp_path / "reference")},
        "current": {"path": str(tmp_path / "current")},
        "model": {
            "predictions": [{"column": "spend", "kind": "value"}],
            "idColumn": "rid",
            "labels": {"path": str(tmp_path / "labels"), "labelColumn": "actual"},
            "performance": {"degradation": [{"metric": "mae", "maxDrop": 1.0}]},
        },
    }
    report = analyze(parse_run_config(spec), window_end=END)
    perf = report["performance"]
    assert perf["task"] == "regression" and perf["positiveClass"] is None
    got = perf["current"]["metrics"]
    assert got["mae"]["value"] == pytest.approx(sk.mean_absolute_error(truth, pred), rel=1e-9)
    assert got["rmse"]["value"] == pytest.approx(sk.root_mean_squared_error(truth, pred), rel=1e-9)
    assert got["mape"]["value"] == pytest.approx(
        sk.mean_absolute_percentage_error(truth, pred), rel=1e-9
    )
    assert got["r2"]["value"] == pytest.approx(sk.r2_score(truth, pred), abs=1e-9)
    assert perf["current"]["coverage"]["labeled"] == 2000
    assert perf["degraded"] and perf["degradedMetrics"] == ["mae"]
