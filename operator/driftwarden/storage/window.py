"""Time-window filters, ``start <= ts < end``, as Arrow dataset expressions.

The bounds are converted to the column's own type so Parquet row-group
statistics and hive partition values can prune files before they are read:

* ``timestamp[unit, tz]`` compares instants; a naive timestamp is read as UTC;
* ``date32``/``date64``: a date stands for its midnight (UTC);
* strings holding ISO-8601 times are parsed in the expression (no pruning, but
  correct), with or without a zone offset: a sample value decides which,
  because Arrow parses the two forms with different target types.

Rounding: a column of coarse unit (seconds, days) holds the instant ``t`` in
the window exactly when ``ceil(start) <= t < ceil(end)``, so both bounds are
rounded up to the column's unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import overload

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from driftwarden.errors import ConfigError, SchemaError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PER_US = {"s": (1_000_000, 1), "ms": (1_000, 1), "us": (1, 1), "ns": (1, 1_000)}
_ZONE_RE = re.compile(r"\d(?::\d\d(?::\d\d(?:[.,]\d+)?)?)?\s*(?:Z|z|[+-]\d\d(?::?\d\d)?)$")
_TIME_RE = re.compile(r"[T ]\d\d:\d\d")


@overload
def to_utc(value: datetime) -> datetime: ...
@overload
def to_utc(value: None) -> None: ...
@overload
def to_utc(value: datetime | None) -> datetime | None: ...


def to_utc(value: datetime | None) -> datetime | None:
    """Return ``value`` as an aware UTC datetime; naive values are taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def describe(start: datetime | None, end: datetime | None) -> str:
    """Human-readable window, e.g. ``[2024-01-01T00:00:00+00:00, 2024-01-02T00:00:00+00:00)``."""
    lo = to_utc(start).isoformat() if start else "-inf"
    hi = to_utc(end).isoformat() if end else "+inf"
    return f"[{lo}, {hi})"


def check_window(start: datetime | None, end: datetime | None) -> None:
    """Reject an empty or inverted window before any I/O happens."""
    lo, hi = to_utc(start), to_utc(end)
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(
            f"time window is empty: start {lo.isoformat()} is not before end {hi.isoformat()}",
            hint="check the window/start/end settings",
        )


def is_supported(kind: pa.DataType) -> bool:
    """True when a column of this type can carry the window filter."""
    return (
        pa.types.is_timestamp(kind)
        or pa.types.is_date(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
    )


def window_filter(
    field: pa.Field,
    start: datetime | None,
    end: datetime | None,
    sample: Callable[[], str | None],
) -> ds.Expression | None:
    """Build ``start <= field < end`` for the field's type; ``None`` when unbounded.

    ``sample`` returns one non-null value of a string column (called only for
    string columns) so the parser can be chosen.
    """
    lo, hi = to_utc(start), to_utc(end)
    if lo is None and hi is None:
        return None
    kind = field.type
    column: ds.Expression = ds.field(field.name)
    if pa.types.is_timestamp(kind):
        target = kind
        convert = _timestamp_scalar
    elif pa.types.is_date(kind):
        target = kind
        convert = _date_scalar
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        value = sample()
        zoned = bool(value and _TIME_RE.search(value) and _ZONE_RE.search(value.strip()))
        target = pa.timestamp("ns", "UTC" if zoned else None)
        column = column.cast(target)
        convert = _timestamp_scalar
    else:
        raise SchemaError(
            f"timestamp column {field.name!r} has type {kind}",
            hint="it must be a timestamp, a date or an ISO-8601 string column",
        )

    expr: ds.Expression | None = None
    for bound, op in ((lo, "ge"), (hi, "lt")):
        if bound is None:
            continue
        scalar = convert(bound, target)
        term = column >= scalar if op == "ge" else column < scalar
        expr = term if expr is None else expr & term
    return expr


def timestamp_ticks(
    kind: pa.DataType, start: datetime | None, end: datetime | None
) -> tuple[int | None, int | None]:
    """The bounds of :func:`window_filter`'s ``start <= ts < end`` on a column of the
    timestamp type ``kind``, as integer ticks of its unit (None: unbounded)."""
    lo, hi = to_utc(start), to_utc(end)
    return (
        None if lo is None else _timestamp_scalar(lo, kind).value,
        None if hi is None else _timestamp_scalar(hi, kind).value,
    )


def _micros(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _timestamp_scalar(bound: datetime, kind: pa.DataType) -> pa.Scalar:
    divisor, multiplier = _PER_US[kind.unit]
    ticks = _ceil_div(_micros(bound), divisor) * multiplier
    try:
        return pc.cast(pa.array([ticks], pa.int64()), kind)[0]
    except (pa.ArrowInvalid, OverflowError) as exc:
        raise ConfigError(f"window bound {bound.isoformat()} is out of range for {kind}") from exc


def _date_scalar(bound: datetime, kind: pa.DataType) -> pa.Scalar:
    days = _ceil_div(_micros(bound), 86_400_000_000)
    if pa.types.is_date32(kind):
        return pc.cast(pa.array([days], pa.int32()), kind)[0]
    return pc.cast(pa.array([days * 86_400_000], pa.int64()), kind)[0]
