"""The trend page of real analysis runs in headless Chromium: it runs its script, logs
nothing to the console (no CSP refusal, no error), draws its plots, and its links resolve.

Chromium is required, as for the report's browser test; without it this test fails.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from tests.history.runs import local_monitor, run_name
from tests.report.domparse import parse_html
from tests.report.png import decode_png
from tests.report.test_browser import _run_chromium

SHIFTS = [0.0, 0.0, 1.5, None, 1.5, 0.0]  # run 3 fails; run 1 started retraining


def _console(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.slow
def test_history_page_renders_in_headless_chromium(tmp_path):
    out = local_monitor(tmp_path, SHIFTS)
    page = out / "churn" / run_name(len(SHIFTS) - 1) / "history.html"
    url = page.as_uri()
    result = _run_chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert _console(result) == [], "the page logged to the console (CSP refusal or error)"
    dom = parse_html(result.stdout)
    (html,) = dom.find_all("html")
    assert "js" in html.classes, "the inline script did not run (CSP hash or syntax error)"

    svgs = {svg.attrs.get("id"): svg for svg in dom.find_all("svg")}
    share = svgs["share-plot"]
    assert len(share.find_all("circle", "run-point")) == len(SHIFTS) - 1
    assert len(share.find_all("g", "run-failed")) == 1
    assert len(share.find_all("line", "retraining-mark")) == 1
    assert len(svgs["heatmap"].find_all("rect", "c")) == 3 * len(SHIFTS)
    assert len(dom.find_all("svg", "feature-trend")) == 3

    # Every link resolves: in-page anchors to an element, report links to a stored file.
    ids = {node.attrs.get("id") for node in dom.iter() if node.attrs.get("id")}
    links = [a.attrs["href"] for a in dom.find_all("a") if a.attrs.get("href")]
    reports = [h for h in links if not h.startswith("#")]
    assert len({h for h in reports if h.endswith("report.html")}) == len(SHIFTS) - 1
    for href in links:
        if href.startswith("#"):
            assert href[1:] in ids, href
            continue
        target = urlparse(urljoin(url, href))
        assert target.scheme == "file" and Path(unquote(target.path)).is_file(), href

    shot = tmp_path / "history.png"
    _run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", url)
    image = decode_png(shot.read_bytes())
    colours: Counter[bytes] = Counter()
    for y in range(0, image.height, 2):
        row = image.rows[y]
        colours.update(row[x : x + 3] for x in range(0, len(row), 2 * image.channels))
    white = colours[b"\xff\xff\xff"] / sum(colours.values())
    assert white < 0.97, "screenshot is (nearly) blank"

    def near(hex_colour: str) -> int:
        target = bytes.fromhex(hex_colour)
        return sum(
            n
            for colour, n in colours.items()
            if max(abs(a - b) for a, b in zip(colour, target, strict=True)) <= 6
        )

    # Drifted heatmap cells and healthy ones are both painted above the fold.
    assert near("d9503b") + near("8f1d12") + near("f3a58f") > 200
    assert near("eef6f0") + near("cfe8d6") > 200
