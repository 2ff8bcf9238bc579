"""Target drift with delayed labels: spec.model.target read from the label log.

The prediction logs do not hold the true outcome; the label log does. The target's
distribution of each period is then the labels its predictions joined to, compared
with the engine and family the predictions use. Real Parquet logs; each case is
checked against the same run with the outcome written into the prediction logs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.errors import ConfigError
from driftwarden.report import render_html, validate_report
from driftwarden.report.summary import build_summary, dump_summary, parse_summary

END = datetime(2026, 11, 8, tzinfo=UTC)


def _write(tmp_path, name: str, table: dict, labels: dict | None, *, with_target: str | None):
    """One side's prediction log (optionally with the outcome column) and its labels."""
    columns = dict(table)
    if with_target is not None and labels is not None:
        columns[with_target] = labels["outcome"]
    folder = tmp_path / ("with" if with_target else "without") / name
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / "p.parquet")
    if labels is not None:
        label_dir = tmp_path / "labels"
        label_dir.mkdir(exist_ok=True)
        pq.write_table(pa.table(labels), label_dir / f"{name}.parquet")


def _classifier_logs(tmp_path, *, current_rate: float, current_labels: bool = True) -> None:
    """A churn classifier: every prediction labeled; the current churn rate is ``current_rate``."""
    rng = np.random.default_rng(4)
    for name, n, rate, first in (
        ("reference", 4000, 0.3, 0),
        ("current", 3000, current_rate, 10**6),
    ):
        x = rng.normal(0, 1, n)
        ids = np.arange(first, first + n)
        outcome = (rng.random(n) < rate).astype(np.int64)
        table = {"rid": ids, "x": x, "pred": (x > 0.5).astype(np.int64)}
        labels = {"rid": ids, "outcome": outcome}
        keep = name == "reference" or current_labels
        for with_target in (None, "outcome"):
            _write(tmp_path, name, table, labels if keep else None, with_target=with_target)


def _spec(tmp_path, folder: str, target: dict, prediction: dict, label_column: str = "outcome"):
    return {
        "reference": {"path": str(tmp_path / folder / "reference")},
        "current": {"path": str(tmp_path / folder / "current")},
        "model": {
            "predictions": [prediction],
            "target": target,
            "idColumn": "rid",
            "labels": {"path": str(tmp_path / "labels"), "labelColumn": label_column},
            "performance": {},
        },
    }


def _target(report: dict) -> dict:
    (entry,) = [c for c in report["predictions"]["columns"] if c["role"] == "target"]
    return entry


CLASSIFIER = {"column": "pred", "kind": "label"}


@pytest.mark.parametrize("rate", [0.3, 0.5])
def test_a_target_in_the_label_log_is_compared_as_if_the_data_held_it(tmp_path, rate):
    """Every prediction labeled: the joined labels are the outcome column row for row, so
    the target's score, p-value and verdict equal those of the outcome logged with the
    predictions; a churn rate moving from 30% to 50% is target drift, 30% to 30% is not."""
    _classifier_logs(tmp_path, current_rate=rate)
    target = {"column": "outcome", "kind": "label"}
    report = analyze(
        parse_run_config(_spec(tmp_path, "without", target, CLASSIFIER)), window_end=END
    )
    validate_report(report)
    logged = analyze(parse_run_config(_spec(tmp_path, "with", target, CLASSIFIER)), window_end=END)
    got, want = _target(report), _target(logged)
    assert got["source"] == "labels" and "source" not in want
    for key in ("method", "score", "pValue", "drifted", "threshold"):
        assert got[key] == want[key], key
    assert got["reference"]["rows"] == 4000 and got["current"]["rows"] == 3000
    section = report["predictions"]
    assert section["targetDrifted"] is (rate == 0.5)
    assert section["notCompared"] == []
    # The target's drift reaches the summary the operator acts on, and the HTML report.
    summary = parse_summary(dump_summary(build_summary(report, None)))
    assert summary["predictions"]["targetDrifted"] is (rate == 0.5)
    assert "target (joined labels)" in render_html(report)


def test_a_regression_target_from_labels_counts_on_the_reference_edges(tmp_path):
    """kind value: the labels are profiled as numbers, the current histogram on the
    reference's edges; equal to the outcome logged with the predictions."""
    rng = np.random.default_rng(7)
    for name, n, shift, first in (("reference", 3000, 0.0, 0), ("current", 2000, 6.0, 10**6)):
        x = rng.normal(0, 1, n)
        ids = np.arange(first, first + n)
        spend = 50 + 10 * x + shift + rng.normal(0, 2, n)
        table = {"rid": ids, "x": x, "estimate": 50 + 10 * x}
        for with_target in (None, "outcome"):
            _write(tmp_path, name, table, {"rid": ids, "outcome": spend}, with_target=with_target)
    target = {"column": "outcome", "kind": "value"}
    prediction = {"column": "estimate", "kind": "value"}
    report = analyze(
        parse_run_config(_spec(tmp_path, "without", target, prediction)), window_end=END
    )
    logged = analyze(parse_run_config(_spec(tmp_path, "with", target, prediction)), window_end=END)
    validate_report(report)
    got, want = _target(report), _target(logged)
    assert got["source"] == "labels" and got["drifted"] is True
    assert got["method"] == want["method"]
    assert got["score"] == pytest.approx(want["score"], rel=1e-12)
    assert report["predictions"]["targetDrifted"] is True


def test_without_current_labels_yet_the_target_is_reported_not_compared(tmp_path):
    _classifier_logs(tmp_path, current_rate=0.5, current_labels=False)
    report = analyze(
        parse_run_config(
            _spec(tmp_path, "without", {"column": "outcome", "kind": "label"}, CLASSIFIER)
        ),
        window_end=END,
    )
    validate_report(report)
    section = report["predictions"]
    assert section["targetDrifted"] is None
    (missing,) = section["notCompared"]
    assert missing["name"] == "outcome" and "no label of the current window" in missing["reason"]
    assert any(f["code"] == "TargetNotJoined" for f in report["findings"])


def test_a_value_target_over_text_labels_names_the_field(tmp_path):
    _classifier_logs(tmp_path, current_rate=0.3)
    pq.write_table(
        pa.table({"rid": np.arange(10), "outcome_text": ["yes"] * 10}),
        tmp_path / "labels" / "text.parquet",
    )
    spec = _spec(
        tmp_path,
        "without",
        {"column": "outcome", "kind": "value"},
        CLASSIFIER,
        label_column="outcome_text",
    )
    with pytest.raises(ConfigError, match=r"spec\.model\.target\.kind"):
        analyze(parse_run_config(spec), window_end=END)
