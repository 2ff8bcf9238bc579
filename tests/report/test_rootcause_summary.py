"""The root cause in the run summary and in status.model.rootCause."""

from __future__ import annotations

import pytest

from driftwarden.model.importance import given_importance
from driftwarden.model.rootcause import root_cause_section
from driftwarden.monitor.model_status import model_status
from driftwarden.monitor.outcome import outcome_from_summary
from driftwarden.report.document import ReportError
from driftwarden.report.example import example_report
from driftwarden.report.rootcause_summary import ROOT_CAUSE_BYTES, summary_root_cause
from driftwarden.report.summary import build_summary, dump_summary, parse_summary


def _report(triggers=("predictions",), name_length=None) -> dict:
    doc = example_report(12)
    if name_length:
        for i, feature in enumerate(doc["features"]):
            feature["name"] = f"{i:02d}" + "é" * name_length
    names = [f["name"] for f in doc["features"]]
    importance = given_importance({n: float(i + 1) for i, n in enumerate(names)}, names)
    doc["rootCause"] = root_cause_section(doc["features"], importance, triggers=list(triggers))
    return doc


def test_summary_carries_the_top_causes_and_parses_back():
    doc = _report()
    summary = parse_summary(dump_summary(build_summary(doc, "s3://b/r/report.json")))
    section = summary["rootCause"]
    assert section["triggered"] is True
    assert section["summary"] == doc["rootCause"]["summary"]
    top = doc["rootCause"]["causes"][:3]
    assert [c["feature"] for c in section["causes"]] == [c["feature"] for c in top]
    assert section["causes"][0]["share"] == pytest.approx(top[0]["share"], rel=1e-5)


def test_long_names_stay_within_the_root_cause_budget_and_the_message_limit():
    doc = _report(name_length=400)
    compact = summary_root_cause(doc["rootCause"])
    assert compact is not None
    assert len(dump_summary(compact).encode()) <= ROOT_CAUSE_BYTES
    for size in (512, 1024, 4096):
        text = dump_summary(build_summary(doc, "s3://b/" + "r" * 900, size))
        assert len(text.encode()) <= size
        parse_summary(text)


def test_no_root_cause_no_key():
    doc = example_report(3)
    assert "rootCause" not in build_summary(doc, None)


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"triggered": "yes", "causes": []}, "rootCause.triggered"),
        ({"triggered": True, "causes": {}}, "rootCause.causes"),
        ({"triggered": True, "causes": [{"feature": "a", "share": "x", "drifted": True}]}, "share"),
        ({"triggered": True, "summary": 3, "causes": []}, "rootCause.summary"),
    ],
)
def test_malformed_summary_section_is_refused(section, path):
    summary = build_summary(example_report(3), None)
    summary["rootCause"] = section
    with pytest.raises(ReportError, match=path):
        parse_summary(dump_summary(summary))


def test_status_and_message_name_the_top_cause_when_a_model_signal_moved():
    doc = _report()
    summary = parse_summary(dump_summary(build_summary(doc, None)))
    outcome = outcome_from_summary("run-1", summary)
    text = doc["rootCause"]["summary"]
    assert text.startswith("top cause: ") and text in outcome.message
    status = model_status(None, outcome)
    assert status is not None and status["rootCause"]["summary"] == text
    assert status["rootCause"]["causes"][0]["feature"] == doc["rootCause"]["top"]["feature"]

    quiet = outcome_from_summary("run-2", build_summary(_report(triggers=()), None))
    assert "top cause" not in quiet.message
    assert model_status(status, quiet)["rootCause"]["triggered"] is False

    # A run without a root cause clears it; a failed run keeps the last one.
    failed = outcome_from_summary("run-3", {"v": 1, "error": {"reason": "X", "message": "m"}})
    assert model_status(status, failed)["rootCause"] == status["rootCause"]
    plain = outcome_from_summary("run-4", build_summary(example_report(3), None))
    assert model_status(status, plain) is None


def test_cli_table_leads_with_the_root_cause():
    from driftwarden.cli.analyze import format_table

    doc = _report()
    text = format_table(doc)
    lines = text.splitlines()
    assert lines[1].startswith("root cause (predictions moved): top cause: ")
    top = doc["rootCause"]["causes"][0]
    assert lines[2].split()[0] == top["feature"]
    segments = {
        "feature": "x",
        "metric": "accuracy",
        "segments": [{"value": "eu", "current": 0.7, "reference": None, "drop": None}],
    }
    doc["rootCause"]["segments"] = [segments]
    assert "segment x=eu: accuracy - → 0.700 (drop -)" in format_table(doc)
    assert "root cause" not in format_table(example_report(3))
