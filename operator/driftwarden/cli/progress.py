"""A progress line on a terminal: rows profiled so far and the rate, per phase."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class ProgressLine:
    """Callable ``(phase, rows)`` that redraws one status line, at most ten times a second."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.phase: str | None = None
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.spin = 0

    def __call__(self, phase: str, rows: int) -> None:
        now = time.monotonic()
        if phase != self.phase:
            if self.phase is not None:
                self.stream.write("\n")
            self.phase, self.started = phase, now
        elif now - self.last_draw < 0.1:
            return
        self.last_draw = now
        rate = rows / max(now - self.started, 1e-6)
        self.spin = (self.spin + 1) % len(_SPINNER)
        self.stream.write(
            f"\r{_SPINNER[self.spin]} {phase:<9} {rows:>13,} rows  {rate / 1e6:6.2f} M rows/s"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.phase is not None:
            self.stream.write("\n")
            self.stream.flush()
