"""The HTML header's combined verdict: features, predictions, performance, joint drift."""

from __future__ import annotations

import pytest

from driftwarden.report.example import example_report
from driftwarden.report.html import render_html
from driftwarden.report.verdict import headline, is_bad, signals
from tests.report.domparse import parse_html


def _quiet() -> dict:
    doc = example_report(3)
    for feature in doc["features"]:
        feature["drifted"] = False
        feature["reason"] = None
    doc["dataset"].update(drifted=False, driftedFeatures=0, driftShare=0.0)
    return doc


def _predictions(drifted: bool) -> dict:
    """A valid predictions section with no columns (the verdict reads only ``drifted``)."""
    return {
        "drifted": drifted,
        "predictionDrifted": drifted,
        "targetDrifted": None,
        "driftedColumns": 0,
        "totalColumns": 0,
        "columns": [],
        "notCompared": [],
    }


def _header(doc):
    dom = parse_html(render_html(doc))
    (header,) = dom.find_all("header")
    (h1,) = [h for h in header.find_all("h1") if h.attrs.get("id") == "verdict"]
    badges = {li.attrs["data-signal"]: "bad" in li.classes for li in header.find_all("li")}
    return header, h1.all_text(), badges


def test_a_features_only_report_keeps_its_headline_and_has_no_badges():
    doc = _quiet()
    header, text, badges = _header(doc)
    assert text == "No drift detected" and badges == {} and "ok" in header.classes


@pytest.mark.parametrize(
    ("sections", "expected", "fired"),
    [
        ({"performance": {"degraded": True}}, "Performance dropped", {"performance"}),
        ({"predictions": _predictions(True)}, "Drift detected", {"predictions"}),
        (
            {"performance": {"degraded": True}, "predictions": _predictions(True)},
            "Performance dropped · drift detected",
            {"performance", "predictions"},
        ),
        ({"multivariate": {"drifted": True}}, "Drift detected", {"multivariate"}),
        (
            {"performance": {"degraded": False}, "predictions": _predictions(False)},
            "No drift detected",
            set(),
        ),
    ],
)
def test_model_signals_make_the_header_red_and_are_named(sections, expected, fired):
    doc = {**_quiet(), **sections}
    header, text, badges = _header(doc)
    assert text == expected == headline(doc)
    assert {k for k, bad in badges.items() if bad} == fired
    assert set(badges) == set(sections) | {"features"}
    assert ("bad" in header.classes) == bool(fired) == is_bad(doc)
    # The page title says the same.
    assert f"<title>{expected}" in render_html(doc).replace("&#x27;", "'")


def test_signals_come_most_serious_first():
    doc = {**_quiet(), "multivariate": {}, "predictions": {}, "performance": {}}
    assert [s.key for s in signals(doc)] == [
        "performance",
        "predictions",
        "features",
        "multivariate",
    ]
    skipped = {**_quiet(), "multivariate": {"skipped": "too few rows"}}
    assert [s.key for s in signals(skipped)] == ["features"]
