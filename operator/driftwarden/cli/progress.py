"""A progress line on a terminal: rows profiled so far and the rate, per phase."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_WIDTH = 24


class ProgressLine:
    """Callable ``(phase, rows, total)`` that redraws one status line, at most ten times a second:
    a bar when the total is known, a spinner otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.phase: str | None = None
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.spin = 0

    def __call__(self, phase: str, rows: int, total: int | None = None) -> None:
        now = time.monotonic()
        if phase != self.phase:
            if self.phase is not None:
                self.stream.write("\n")
            self.phase, self.started = phase, now
        elif now - self.last_draw < 0.1:
            return
        self.last_draw = now
        rate = rows / max(now - self.started, 1e-6)
        if total:
            done = min(rows / total, 1.0)
            filled = int(done * _WIDTH)
            mark = f"[{'█' * filled}{'·' * (_WIDTH - filled)}] {done:4.0%}"
        else:
            self.spin = (self.spin + 1) % len(_SPINNER)
            mark = _SPINNER[self.spin]
        self.stream.write(f"\r{mark} {phase:<9} {rows:>13,} rows  {rate / 1e6:6.2f} M rows/s")
        self.stream.flush()

    def close(self) -> None:
        if self.phase is not None:
            self.stream.write("\n")
            self.stream.flush()
