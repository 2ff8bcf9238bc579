"""``driftwarden analyze`` with the reference the operator passes: a promoted path in the
config's ``status.reference``, and bad values refused with exit 2 naming the field."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from driftwarden.report import load_report, parse_summary

from .test_analyze_cli import driftwarden

RNG = np.random.default_rng(31)


def _write(path, shift):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"x": RNG.normal(shift, 1, 1500), "y": RNG.normal(0, 1, 1500)}), path)


def _monitor(tmp_path, status=None, **reference):
    doc = {
        "apiVersion": "driftwarden.io/v1alpha1",
        "kind": "DriftMonitor",
        "metadata": {"name": "churn", "namespace": "ml"},
        "spec": {
            "interval": "1h",
            "reference": reference or {"path": str(tmp_path / "train-v1")},
            "current": {"path": str(tmp_path / "live")},
            "output": {"path": str(tmp_path / "out")},
        },
    }
    if status is not None:
        doc["status"] = status
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_promoted_reference_in_the_status_replaces_the_spec_path(tmp_path):
    _write(tmp_path / "train-v1" / "p.parquet", shift=3.0)  # the old model's data: far off
    _write(tmp_path / "train-v2" / "p.parquet", shift=0.0)  # what the new model learned
    _write(tmp_path / "live" / "p.parquet", shift=0.0)
    promoted = {"reference": {"source": "promoted", "path": str(tmp_path / "train-v2")}}
    summary_file = tmp_path / "summary.json"
    result = driftwarden(
        "analyze",
        "--config",
        _monitor(tmp_path, promoted),
        "--summary-file",
        summary_file,
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    summary = parse_summary(summary_file.read_text())
    assert summary["reference"]["source"] == "promoted"
    assert summary["reference"]["uri"] == str(tmp_path / "train-v2")
    assert summary["drifted"] is False
    report = load_report((tmp_path / "out" / "report.json").read_text())
    assert report["reference"]["uri"] == str(tmp_path / "train-v2")

    # without the status, the spec's path applies (and finds the old data drifted)
    plain = driftwarden("analyze", "--config", _monitor(tmp_path), "--summary-file", summary_file)
    assert plain.returncode == 0, plain.stderr
    again = json.loads(summary_file.read_text())
    assert again["reference"]["source"] == "spec" and again["drifted"] is True


def test_a_bad_promoted_path_is_a_config_error_naming_the_field(tmp_path):
    bad = {"reference": {"source": "promoted", "path": "s3://b/\u0001x"}}
    result = driftwarden("analyze", "--config", _monitor(tmp_path, bad))
    assert result.returncode == 2
    assert "status.reference.path" in result.stderr and "control character" in result.stderr


def test_a_bad_mode_exits_2_naming_the_field(tmp_path):
    result = driftwarden("analyze", "--config", _monitor(tmp_path, mode="weekly"))
    assert result.returncode == 2
    assert "spec.reference.mode: unknown mode 'weekly'" in result.stderr
    window_first = _monitor(tmp_path, mode="offset", offset="7d")
    result = driftwarden("analyze", "--config", window_first)
    assert result.returncode == 2
    assert "spec.reference.mode: an offset reference needs spec.current.window" in result.stderr
