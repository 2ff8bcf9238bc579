"""bench/paired.py: A and B run in turn as whole processes, ratios taken pair by pair, and
bench/multivariate.py reports through it end to end. Structure only, never how fast."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
OPERATOR = BENCH.parent / "operator"
sys.path.insert(0, str(BENCH))

from paired import Pairs, figures, report, run_pairs  # noqa: E402
from run import Child  # noqa: E402

ROWS = ("user s", "sys s", "cpu s", "wall s", "peak MiB")


def _writer(log: Path, mark: str) -> list[str]:
    return [sys.executable, "-c", f"open({str(log)!r}, 'a').write({mark!r})"]


def test_a_and_b_alternate_and_every_figure_is_reported(tmp_path: Path) -> None:
    order = tmp_path / "order.txt"
    pairs = run_pairs(_writer(order, "A"), _writer(order, "B"), 3, tmp_path / "logs")
    assert order.read_text() == "ABABAB"  # in turn, not all A then all B
    assert len(pairs.a) == len(pairs.b) == 3
    assert all(c.code == 0 and c.rss > 0 and c.user + c.system == c.cpu for c in pairs.a)
    text = report("a-cmd", "b-cmd", pairs, 1024 * 1024)
    lines = text.splitlines()
    assert lines[:2] == ["A = a-cmd", "B = b-cmd"]
    assert "A exit 0 (3 of 3)" in lines and "B exit 0 (3 of 3)" in lines
    labels = [f"{s} {r}" for s in "AB" for r in ROWS] + ["A/B user", "A/B cpu", "A/B wall"]
    rows = {line[:14].strip(): line[14:].split() for line in lines[6:]}
    assert list(rows) == labels
    for label in labels:
        low, mid, high = map(float, rows[label])
        assert low <= mid <= high, label


def _child(wall: float, user: float = 1.0) -> Child:
    return Child(wall, 100 * 1024 * 1024, 0, user + 0.5, user, 0.5)


def test_ratios_are_the_median_of_the_pairs_not_of_the_medians() -> None:
    pairs = Pairs(
        a=(_child(2.0), _child(3.0), _child(10.0)), b=(_child(1.0), _child(3.0), _child(5.0))
    )
    rows = figures(pairs)
    assert rows["A wall s"] == (2.0, 3.0, 10.0) and rows["B wall s"] == (1.0, 3.0, 5.0)
    assert rows["A/B wall"] == (1.0, 2.0, 2.0)  # per pair 2, 1, 2; the medians' ratio is 1
    assert rows["A peak MiB"] == (100.0, 100.0, 100.0)
    # A pair whose B registered no time gives no ratio instead of a division by zero.
    idle = figures(Pairs(a=(_child(1.0, user=1.0),), b=(_child(1.0, user=0.0),)))
    assert idle["A/B user"] is None and idle["A/B wall"] == (1.0, 1.0, 1.0)
    assert "A/B user               -" in report(
        "a", "b", Pairs((_child(1.0),), (_child(1.0, 0.0),)), 0
    )


@pytest.mark.slow
def test_multivariate_bench_small_run(tmp_path: Path) -> None:
    work = tmp_path / "work"
    argv = [sys.executable, str(BENCH / "multivariate.py"), "--sizes", "3e3", "--runs", "2"]
    env = dict(os.environ, PYTHONPATH=str(OPERATOR))  # this checkout's driftwarden
    done = subprocess.run(
        [*argv, "--workdir", str(work)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = (work / "multivariate.txt").read_text()
    for case in ("cached", "cold"):
        assert f"## 3,000 rows per side, {case}\n" in text
    assert text.count("n: 2 pairs; whole process") == 2
    assert text.count("A/B wall") == 2 and "--no-profile-cache" in text
    # Every timed analyze ran: 0 (no drift) or 1 (drift found), never a failure to start.
    codes = re.findall(r"^[AB] (exit .*)$", text, flags=re.MULTILINE)
    assert len(codes) == 4 and all(re.fullmatch(r"exit [01] \(2 of 2\)", c) for c in codes)
