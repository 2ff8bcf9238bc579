import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftwarden.report.document import ReportError, sort_features
from driftwarden.report.example import example_report
from driftwarden.report.summary import (
    MIN_SUMMARY_BYTES,
    TERMINATION_MESSAGE_BYTES,
    build_error_summary,
    build_summary,
    dump_summary,
    parse_summary,
    shorten,
    summary_feature,
)
from tests.report.helpers import feature, report


def _size(summary):
    return len(dump_summary(summary).encode("utf-8"))


def test_summary_of_the_example_report_holds_every_feature_most_drifted_first():
    doc = example_report(6)
    summary = build_summary(doc, "s3://logs/churn/drift-reports/run-1/report.json")
    assert parse_summary(dump_summary(summary)) == summary
    assert summary["v"] == 1
    assert summary["drifted"] is doc["dataset"]["drifted"]
    assert summary["driftedFeatures"] == doc["dataset"]["driftedFeatures"]
    assert summary["totalFeatures"] == 6
    assert summary["truncated"] == 0
    assert summary["rows"] == {"reference": 100_000, "current": 24_000}
    assert summary["report"] == "s3://logs/churn/drift-reports/run-1/report.json"
    assert [f["name"] for f in summary["features"]] == [
        f["name"] for f in sort_features(doc["features"])
    ]
    assert set(summary["features"][0]) == {
        "name",
        "kind",
        "method",
        "score",
        "threshold",
        "drifted",
    }
    assert summary["errors"] == []
    assert summary["durationSeconds"] == 1.2


def test_dump_is_compact_utf8_json():
    summary = build_summary(report([feature("préço", 0.3)]), None)
    text = dump_summary(summary)
    assert "préço" in text
    assert " " not in text.replace("préço", "")
    assert summary["report"] is None


def test_summary_sorts_even_an_unsorted_report():
    features = [feature("a", 0.01), feature("b", 0.5), feature("c", 0.2)]
    summary = build_summary(report(features), None)
    assert [f["name"] for f in summary["features"]] == ["b", "c", "a"]


def test_scores_are_rounded_and_nan_becomes_null():
    features = [feature("a", 0.123456789), feature("b", math.nan, drifted=False)]
    summary = build_summary(report(features), None)
    assert summary["features"][0]["score"] == 0.123457
    assert summary["features"][1]["score"] is None


def test_error_findings_are_listed_first_three_and_shortened():
    findings = [{"severity": "warning", "code": "Constant", "feature": "a", "message": "w"}]
    findings += [
        {
            "severity": "error",
            "code": f"TypeChanged{i}",
            "feature": "a" if i else None,
            "message": "x" * 5000,
        }
        for i in range(8)
    ]
    summary = build_summary(report([feature("a", 0.3)], findings=findings), None)
    assert [e["code"] for e in summary["errors"]] == [f"TypeChanged{i}" for i in range(3)]
    assert summary["errors"][0]["feature"] is None
    assert summary["errors"][1]["feature"] == "a"
    assert all(e["message"].endswith("…") and len(e["message"]) < 200 for e in summary["errors"])
    assert _size(summary) <= TERMINATION_MESSAGE_BYTES


def _huge_report(n=10_000, name_chars=250):
    features = []
    for i in range(n):
        prefix = ["feature", "特徴量", "📈📉", '<b>"quoted"</b>\\'][i % 4]
        name = (f"{prefix}_{i}_" * 100)[: name_chars - 6] + f"{i:06d}"
        features.append(feature(name, (i % 97) / 100, kind="categorical" if i % 2 else "numerical"))
    findings = [
        {
            "severity": "error",
            "code": "TypeChanged",
            "feature": features[i]["name"],
            "message": "é" * 3000,
        }
        for i in range(20)
    ]
    doc = report(features, findings=findings)
    doc["reference"] = {
        "uri": "s3://bucket/" + "ü/" * 1000 + "train/",
        "source": "rolling",
        "rows": 10,
        "fingerprint": "ab" * 32,
        "window": {"column": "ts", "start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"},
    }
    return doc


@pytest.mark.parametrize("max_bytes", [TERMINATION_MESSAGE_BYTES, 2048, MIN_SUMMARY_BYTES])
def test_huge_report_with_long_multibyte_names_and_uri_still_fits(max_bytes):
    doc = _huge_report()
    uri = "s3://bucket/" + "ü/" * 1000 + "report.json"
    summary = build_summary(doc, uri, max_bytes=max_bytes)
    assert _size(summary) <= max_bytes
    parsed = parse_summary(dump_summary(summary).encode("utf-8"))
    assert parsed == summary
    kept = len(summary["features"])
    assert summary["truncated"] == 10_000 - kept
    expected = [summary_feature(f) for f in sort_features(doc["features"])[:kept]]
    assert summary["features"] == expected
    assert all(f["drifted"] for f in summary["features"])
    for f, original in zip(summary["features"], sort_features(doc["features"]), strict=False):
        assert "…" in f["name"]  # long names are cut in the middle, keeping the unique end
        assert f["name"][-6:] == original["name"][-6:]
    if summary["report"] is not None:
        assert summary["report"].startswith("s3://bucket/")
        assert summary["report"].endswith("report.json")
    if max_bytes == TERMINATION_MESSAGE_BYTES:
        assert kept >= 8
        assert summary["report"] is not None
        assert len(summary["errors"]) >= 1
    if "reference" in summary:  # which reference the run read: kept while it fits
        assert summary["reference"]["source"] == "rolling"
        assert summary["reference"]["uri"].endswith("train/")
    if max_bytes >= 2048:
        assert summary["reference"]["fingerprint"] == "ab" * 32
        assert summary["reference"]["window"]["end"] == "2026-11-23T00:00:00Z"


def test_a_summary_too_small_to_hold_the_counts_is_refused():
    with pytest.raises(ValueError, match="at least 512"):
        build_summary(report([]), None, max_bytes=100)


def test_empty_report():
    summary = build_summary(report([]), None)
    assert summary["features"] == []
    assert summary["truncated"] == 0
    assert parse_summary(dump_summary(summary)) == summary


def test_invalid_report_is_refused():
    doc = report([feature("a")])
    doc["dataset"]["totalFeatures"] = 3
    with pytest.raises(ReportError, match="totalFeatures"):
        build_summary(doc, None)


def test_shorten_measures_json_bytes_and_keeps_ends():
    assert shorten("abc", 100) == "abc"
    cut = shorten("a" * 50 + "🙂" * 50 + "z" * 50, 60, keep_end=True)
    assert cut.startswith("a") and cut.endswith("z") and "…" in cut
    assert len(json.dumps(cut, ensure_ascii=False).encode()) <= 60
    escaped = shorten('"' * 100, 20)
    assert len(json.dumps(escaped, ensure_ascii=False).encode()) <= 20
    assert shorten("abcdef", 2) == ""
    assert shorten("\ud800 lone surrogate", 100) == "? lone surrogate"


# ---------------------------------------------------------------- property


_names = st.text(min_size=1, max_size=300)
_scores = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=10),
)
_methods = st.sampled_from(["wasserstein", "psi", "ks", "chisquare", "jensenshannon", "x" * 80])


@st.composite
def _reports(draw):
    names = draw(st.lists(_names, unique=True, max_size=300))
    features = []
    for name in names:
        score = draw(_scores)
        features.append(
            feature(
                name,
                score,
                threshold=draw(st.floats(min_value=0, max_value=1)),
                drifted=draw(st.booleans()),
                kind=draw(st.sampled_from(["numerical", "categorical"])),
                method=draw(_methods),
            )
        )
    findings = [
        {
            "severity": "error",
            "code": draw(st.text(min_size=1, max_size=80)),
            "feature": None,
            "message": m,
        }
        for m in draw(st.lists(st.text(min_size=1, max_size=600), max_size=8))
    ]
    return report(features, findings=findings)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=_reports(),
    uri=st.one_of(st.none(), st.text(max_size=3000)),
    max_bytes=st.integers(min_value=MIN_SUMMARY_BYTES, max_value=8192),
)
def test_property_summary_fits_and_keeps_the_most_drifted_in_order(doc, uri, max_bytes):
    summary = build_summary(doc, uri, max_bytes=max_bytes)
    text = dump_summary(summary)
    assert len(text.encode("utf-8")) <= max_bytes
    assert parse_summary(text) == json.loads(text)
    kept = len(summary["features"])
    assert summary["truncated"] == len(doc["features"]) - kept
    ranked = sort_features(doc["features"])
    assert summary["features"] == [summary_feature(f) for f in ranked[:kept]]
    # Dropping happens only when the next feature would not have fitted.
    if summary["truncated"]:
        nxt = summary_feature(ranked[kept])
        assert _size(summary) + _size(nxt) + 1 > max_bytes - len(str(len(doc["features"])))


# ---------------------------------------------------------------- error summary and parsing


def test_error_summary_fits_and_parses():
    summary = build_error_summary("DataNotFound", "no rows in window " + "ß" * 10_000)
    text = dump_summary(summary)
    assert len(text.encode()) <= TERMINATION_MESSAGE_BYTES
    parsed = parse_summary(text)
    assert parsed["error"]["reason"] == "DataNotFound"
    assert parsed["error"]["message"].startswith("no rows in window ß")
    assert parsed["error"]["message"].endswith("…")
    assert build_error_summary("X", "short")["error"]["message"] == "short"


def test_parse_names_the_version_found():
    with pytest.raises(ReportError, match="version 2; this driftwarden reads version 1"):
        parse_summary('{"v": 2}')
    with pytest.raises(ReportError, match="version None"):
        parse_summary("{}")


def test_parse_refuses_a_message_cut_by_kubernetes():
    text = dump_summary(build_summary(example_report(6), "s3://x/r.json"))
    with pytest.raises(ReportError, match="termination message\\) is not valid JSON"):
        parse_summary(text[: len(text) // 2])


def test_parse_keeps_unknown_keys_for_forward_compatibility():
    summary = build_summary(example_report(3), None)
    summary["newField"] = {"x": 1}
    assert parse_summary(dump_summary(summary))["newField"] == {"x": 1}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("drifted", "no", "drifted: expected true or false"),
        ("driftShare", 2, "driftShare: expected a number between 0 and 1"),
        ("truncated", -1, "truncated: expected a non-negative integer"),
        ("rows", [], "rows: expected an object"),
        ("report", 5, "report: expected a string or null"),
        ("features", {}, "features: expected an array"),
        ("errors", None, "errors: expected an array"),
        ("totalFeatures", 99, "features \\+ truncated"),
        ("durationSeconds", "1s", "durationSeconds: expected a number or null"),
    ],
)
def test_parse_names_the_first_problem(key, value, message):
    summary = build_summary(example_report(3), None)
    summary[key] = value
    with pytest.raises(ReportError, match=message):
        parse_summary(json.dumps(summary))


def test_parse_checks_feature_entries():
    summary = build_summary(example_report(3), None)
    summary["features"][1]["score"] = "high"
    with pytest.raises(ReportError, match=r"features\[1\]\.score"):
        parse_summary(json.dumps(summary))


def test_summary_carries_the_p_value_of_p_value_methods():
    doc = report([feature("x", 0.001, threshold=0.05, method="ks"), feature("y", 0.3)])
    summary = parse_summary(dump_summary(build_summary(doc, None)))
    by_name = {f["name"]: f for f in summary["features"]}
    assert by_name["x"]["pValue"] == 0.001 and "pValue" not in by_name["y"]


def test_summary_links_the_history_page_and_gives_it_up_before_the_report():
    doc = example_report(7)
    page = "s3://logs/churn/drift-reports/churn/run/history.html"
    summary = build_summary(doc, "s3://r/report.json", history_uri=page)
    assert parse_summary(dump_summary(summary))["history"] == page
    assert "history" not in build_summary(doc, "s3://r/report.json")  # as before without it
    # When space is short the history link goes first, the report link stays.
    long_uri = "s3://bucket/" + "p" * 1100
    tight = build_summary(doc, long_uri, max_bytes=600, history_uri=long_uri + "/history.html")
    assert len(dump_summary(tight).encode()) <= 600
    assert "history" not in tight and tight["report"]
    with pytest.raises(ReportError, match="history"):
        parse_summary(json.dumps({**summary, "history": 5}))


def test_error_summary_links_the_history_page_and_still_fits():
    page = "s3://logs/churn/drift-reports/churn/run/history.html"
    summary = build_error_summary("DataNotFound", "m" * 10_000, history_uri=page)
    text = dump_summary(summary)
    assert len(text.encode()) <= TERMINATION_MESSAGE_BYTES
    assert parse_summary(text)["history"] == page
    assert "history" not in build_error_summary("DataNotFound", "m")
