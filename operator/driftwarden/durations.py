"""Durations as people write them in specs: ``30m``, ``24h``, ``7d``, ``1h30m``."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from driftwarden.errors import ConfigError

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
#: The longest duration a spec may hold. Longer ones are never meant, and past
#: about 2.7 million years they no longer fit a timedelta at all.
MAX_DURATION = timedelta(days=3653)  # ten years


def parse_duration(text: str | int | float, *, field: str = "duration") -> timedelta:
    """Parse ``1h30m``-style text (units s, m, h, d, w) or a number of seconds.

    Raises ConfigError naming ``field`` and the text when it cannot be read, is
    not positive or is longer than :data:`MAX_DURATION` (ten years).
    """
    if isinstance(text, bool):
        raise ConfigError(f"{field}: expected a duration like 30m, 24h or 7d, got {text!r}")
    if isinstance(text, int | float):
        seconds = float(text) if abs(text) < 1e300 else math.copysign(math.inf, text)
    else:
        compact = str(text).strip().replace(" ", "")
        pos = 0
        seconds = 0.0
        for match in _PART.finditer(compact):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(compact) or not compact:
            raise ConfigError(
                f"{field}: cannot read {text!r} as a duration",
                hint="write it like 30m, 24h, 7d or 1h30m (units s, m, h, d, w)",
            )
    if math.isnan(seconds) or seconds <= 0:
        raise ConfigError(f"{field}: must be positive, got {text!r}")
    if seconds > MAX_DURATION.total_seconds():
        raise ConfigError(
            f"{field}: {text!r} is longer than ten years",
            hint="write a duration of at most 3653d (521w)",
        )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest ``1d2h3m4s`` form of a duration, for messages and status."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
