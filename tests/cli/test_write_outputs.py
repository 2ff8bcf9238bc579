"""write_outputs converts and validates the report once, and writes what each writer alone writes."""

import copy
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.cli.analyze import write_outputs
from driftwarden.report import (
    ReportError,
    build_summary,
    dump_report,
    dump_summary,
    prepare_report,
    render_html,
)
from driftwarden.report import document as document_module
from driftwarden.report import html as html_module
from driftwarden.report import summary as summary_module


def _files(root: Path, rows: int, seed: int, shift: float) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, rows)
    x[::7] = np.nan  # missing values: NaN shares and counts in the report
    table = pa.table(
        {
            "x": x,
            "y": rng.normal(0, 1, rows),
            "n": rng.integers(0, 5, rows),
            "c": rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2] if shift else None),
        }
    )
    root.mkdir()
    pq.write_table(table, root / "part.parquet")
    return root


@pytest.fixture
def report(tmp_path):
    spec = {
        "reference": {"path": str(_files(tmp_path / "ref", 3000, 1, 0.0))},
        "current": {"path": str(_files(tmp_path / "cur", 2000, 2, 0.5))},
    }
    config = parse_run_config(spec)
    doc = analyze(config, profile_cache=None)
    # What to_jsonable exists for: numpy scalars, tuples and non-finite floats.
    doc["durationSeconds"] = np.float64(1.25)
    doc["features"][0]["threshold"] = np.float64(doc["features"][0]["threshold"])
    doc["reference"]["rows"] = np.int64(doc["reference"]["rows"])
    doc["extraTuple"] = (1, 2.5, float("nan"))
    return config, doc


def test_written_files_equal_each_writer_run_on_the_raw_report(tmp_path, report):
    config, doc = report
    raw = copy.deepcopy(doc)
    out = tmp_path / "out"
    uri, summary = write_outputs(doc, config, str(out))

    assert uri is not None and uri.endswith("report.json")
    assert (out / "report.json").read_text() == dump_report(raw)
    assert (out / "report.html").read_text() == render_html(raw)
    expected_summary = build_summary(raw, uri)
    assert summary == expected_summary
    assert (out / "summary.json").read_text() == dump_summary(expected_summary)
    assert doc == raw  # the caller's report is left as it was (numpy values and all)
    assert isinstance(doc["durationSeconds"], np.float64)


def test_the_report_is_converted_and_validated_once(tmp_path, report, monkeypatch):
    config, doc = report
    calls = {"to_jsonable": 0, "_written_copy": 0, "validate_jsonable": 0}
    for name in calls:
        real = getattr(document_module, name)

        def counted(value, *args, _real=real, _name=name):
            # The top-level call, not the recursion (to_jsonable's carries a path,
            # _written_copy's the key of the object it is in).
            if not args or (args == ("$",) and _name == "_written_copy"):
                calls[_name] += 1
            return _real(value, *args)

        # Wherever the name is bound: a writer that imported it would convert on its own.
        for module in (document_module, html_module, summary_module):
            monkeypatch.setattr(module, name, counted, raising=False)
    write_outputs(doc, config, str(tmp_path / "out"))
    # One conversion (prepare_report's, which orders the written copy on the way), one check.
    assert calls["to_jsonable"] + calls["_written_copy"] == 1
    assert calls["validate_jsonable"] == 1


def test_prepare_report_is_idempotent_and_checks_like_validate_report(report):
    _, doc = report
    prepared = prepare_report(doc)
    assert prepare_report(prepared) is prepared
    assert prepared["durationSeconds"] == 1.25 and type(prepared["reference"]["rows"]) is int
    assert prepared["extraTuple"] == [1, 2.5, None]
    assert dump_report(prepared) == dump_report(doc)

    broken = copy.deepcopy(doc)
    broken["features"][1]["score"] = "high"
    with pytest.raises(ReportError, match=r"\$\.features\[1\]\.score"):
        prepare_report(broken)
