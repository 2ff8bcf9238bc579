"""Timestamps as the Kubernetes API writes them: RFC 3339, UTC, whole seconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """``2024-05-01T10:00:00Z``: the form of every time in a status or an annotation."""
    return utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime | None:
    """Read an RFC 3339 time (``Z`` or an offset, optional fractions); None when unreadable.

    Status and Job timestamps come from the API server, but a status may have been
    edited by hand, so a bad value is treated as absent rather than raising.
    """
    if isinstance(value, datetime):
        return utc(value)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        return None
