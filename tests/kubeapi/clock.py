"""The cluster's clock: real time plus an offset tests move forward.

Controllers that wait (activeDeadlineSeconds, ttlSecondsAfterFinished, pod backoff, create
retries) read this clock, so a test calls ``server.advance_clock(seconds)`` instead of
sleeping. Timestamps the server writes (creationTimestamp, startTime, completionTime, ...)
come from it too, so they agree with what the controllers compare.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch, as the cluster sees them."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"advance_clock({seconds}): the cluster's clock only moves forward")
        self.offset += seconds

    def rfc3339(self, offset: float = 0.0) -> str:
        return format_time(self.time() + offset)


def format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> float | None:
    """An RFC 3339 timestamp (as the API serves them) to epoch seconds; None stays None."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
