"""The HTML report in a real browser: headless Chromium renders the plots and runs the script.

Chromium is required (CI installs Debian's `chromium`); without it this test fails
rather than skips, so a missing browser is never mistaken for a passing check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from driftwarden.report.document import sort_features
from driftwarden.report.example import example_report
from driftwarden.report.html import CURRENT_COLOUR, REFERENCE_COLOUR, feature_slugs, render_html
from tests.report.domparse import parse_html
from tests.report.helpers import categories, feature
from tests.report.png import decode_png

HOSTILE = '<script>alert("x")</script> & "ü"'


def _chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (path := shutil.which(candidate)):
            return path
    pytest.fail(
        "Chromium is needed for the browser test: apt-get install -y chromium "
        "(or set CHROMIUM to its path)"
    )


def _run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def _sample_report() -> dict:
    doc = example_report(7)
    labels = [f"segment_{i}" for i in range(14)] + ["__other__"]
    hostile = feature(
        HOSTILE,
        0.35,
        kind="categorical",
        method="jensenshannon",
        reason="distribution",
        distribution=categories(
            labels, [1 / 15] * 15, [0.2 if i < 2 else 0.6 / 13 for i in range(15)]
        ),
    )
    features = sort_features([*doc["features"], hostile])
    drifted = sum(f["drifted"] for f in features)
    doc["features"] = features
    doc["dataset"].update(
        driftedFeatures=drifted,
        totalFeatures=len(features),
        driftShare=drifted / len(features),
        drifted=drifted / len(features) >= 0.5,
    )
    return doc


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    doc = _sample_report()
    page = tmp_path / "report.html"
    page.write_text(render_html(doc), encoding="utf-8")
    url = page.as_uri()

    dom = parse_html(_run_chromium(tmp_path, "--dump-dom", url).stdout)
    (html,) = dom.find_all("html")
    assert "js" in html.classes, "the inline script did not run (CSP hash or syntax error)"
    assert len(dom.find_all("script")) == 1, "markup from the data turned into a script"

    plots = {svg.attrs.get("id"): svg for svg in dom.find_all("svg", "dist-plot")}
    ranked = doc["features"]
    slugs = feature_slugs([f["name"] for f in ranked])
    assert set(plots) == {f"feature-{s}" for s in slugs}
    for f, slug in zip(ranked, slugs, strict=True):
        svg = plots[f"feature-{slug}"]
        bins = len(f["distribution"]["reference"])
        groups = svg.find_all("g", "bin")
        assert len(groups) == bins, f["name"]
        for group in groups:
            assert len(group.find_all("rect")) == 2
        assert svg.find_all("title")[0].all_text().startswith(f"Distribution of {f['name']}")
    assert any(th.all_text() == HOSTILE for th in dom.find_all("th"))

    shot = tmp_path / "report.png"
    _run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    data = shot.read_bytes()
    assert len(data) > 20_000, "screenshot is suspiciously small"
    image = decode_png(data)
    assert (image.width, image.height) == (1280, 2000)
    colours: Counter[bytes] = Counter()
    for y in range(0, image.height, 2):
        row = image.rows[y]
        step = image.channels
        colours.update(row[x : x + 3] for x in range(0, len(row), 2 * step))
    assert len(colours) > 50, "screenshot is (nearly) one colour"
    white = colours[b"\xff\xff\xff"] / sum(colours.values())
    assert white < 0.97, "screenshot is (nearly) blank"

    def near(hex_colour: str) -> int:
        target = bytes.fromhex(hex_colour.lstrip("#"))
        return sum(
            n
            for colour, n in colours.items()
            if max(abs(a - b) for a, b in zip(colour, target, strict=True)) <= 6
        )

    # The first plots are above the fold: both bar colours are painted in quantity.
    assert near(REFERENCE_COLOUR) > 1000
    assert near(CURRENT_COLOUR) > 1000
