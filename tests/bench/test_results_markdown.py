"""bench/run.py rewrites its own part of RESULTS.md and keeps what other runs wrote."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from operator_report import BEGIN, END  # noqa: E402
from run import kept_tail  # noqa: E402


def test_addenda_and_the_operator_section_are_kept() -> None:
    existing = (
        "# results\n\n## 10^5 rows\nold table\n\n## Addendum: by hand\nnotes\n\n"
        f"{BEGIN}\n## Operator at scale\nnumbers\n{END}\n"
    )
    tail = kept_tail(existing)
    assert tail.startswith("## Addendum: by hand")
    assert tail.rstrip().endswith(END)
    assert "old table" not in tail


def test_only_the_operator_section_or_nothing() -> None:
    assert kept_tail(f"# results\n\n{BEGIN}\nx\n{END}\n").startswith(BEGIN)
    assert kept_tail("# results\n\n## 10^5 rows\n") == ""
