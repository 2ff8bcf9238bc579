"""The reference's lifecycle as pure values: modes, their windows, promotion path templates.

``spec.reference.mode`` says where the reference of a run comes from:

=========  ============================================================================
fixed      ``spec.reference.path`` (the default; what every monitor did before modes),
           or, after a promotion, the path the operator recorded in ``status.reference``
rolling    the current data's previous window: ``[end - 2w, end - w)`` of ``spec.current``
offset     the current window a fixed period earlier: ``[end - offset - w, end - offset)``
=========  ============================================================================

(``w`` is ``spec.current.window``, ``end`` the run's slot.) A rolling reference is an
offset reference whose offset is the window itself, so one function computes both.

Promotion after retraining moves a fixed reference to the data the new model was
trained on: ``spec.retraining.promoteReference.path`` is a template rendered on the
triggering run's slot (:func:`render_template`), and/or the retraining Job reports
the path in its termination message.

Pure standard library: the operator imports this (through the settings parser) and
must not load pyarrow, numpy or scipy.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from driftwarden.errors import ConfigError

FIXED = "fixed"
ROLLING = "rolling"
OFFSET = "offset"
MODES = (FIXED, ROLLING, OFFSET)

# status.reference.source: where a run's reference came from.
SOURCE_SPEC = "spec"
SOURCE_PROMOTED = "promoted"
SOURCES = (SOURCE_SPEC, ROLLING, OFFSET, SOURCE_PROMOTED)


def source_of_mode(mode: str) -> str:
    """The ``source`` a run of ``mode`` records: ``spec`` for fixed, else the mode."""
    return SOURCE_SPEC if mode == FIXED else mode


def window_bounds(
    end: datetime, window: timedelta | None, offset: timedelta | None = None
) -> tuple[datetime, datetime] | None:
    """``[start, end)`` of a window of length ``window`` that closes ``offset`` before ``end``.

    None without a window (the whole dataset counts). With ``offset`` None or zero the
    window closes at ``end`` (the current side, and a fixed reference with a window).
    """
    if window is None:
        return None
    close = end - offset if offset else end
    return close - window, close


def reference_offset(
    mode: str, window: timedelta | None, offset: timedelta | None
) -> timedelta | None:
    """How far before the slot the reference window closes: the window (rolling), ``offset``
    (offset), nothing (fixed)."""
    if mode == ROLLING:
        return window
    if mode == OFFSET:
        return offset
    return None


# ---------------------------------------------------------------- promotion templates

# Placeholders of spec.retraining.promoteReference.path, each with the longest text it
# renders to (the rendered path must fit the 1,024 characters every path is held to).
_SLOT_FIELDS: dict[str, tuple[Callable[[datetime], str], int]] = {
    "date": (lambda t: f"{t:%Y-%m-%d}", 10),
    "year": (lambda t: f"{t:%Y}", 4),
    "month": (lambda t: f"{t:%m}", 2),
    "day": (lambda t: f"{t:%d}", 2),
    "hour": (lambda t: f"{t:%H}", 2),
    "minute": (lambda t: f"{t:%M}", 2),
    "timestamp": (lambda t: f"{t:%Y%m%dT%H%M%SZ}", 16),
}
_NAME_FIELDS = {"run": 63, "job": 63}  # the analysis run, the retraining Job: DNS labels
PLACEHOLDERS = (*_SLOT_FIELDS, *_NAME_FIELDS)


def _fields(template: str, where: str) -> list[tuple[str, str | None]]:
    """``(literal text, placeholder or None)`` pieces; ConfigError on anything else."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:  # a lone { or }
        raise ConfigError(
            f"{where}: {template!r} is not a path template: {error}",
            hint="write placeholders as {date}; a literal brace as {{ or }}",
        ) from None
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            shown = (
                "{"
                + name
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise ConfigError(
                f"{where}: unknown placeholder {shown}",
                hint=f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}",
            )
        pieces.append((literal, name))
    return pieces


def check_template(template: str, where: str, max_length: int) -> None:
    """Refuse a template with unknown placeholders, or one that could render too long."""
    longest = 0
    for literal, name in _fields(template, where):
        longest += len(literal)
        if name is not None:
            longest += _SLOT_FIELDS[name][1] if name in _SLOT_FIELDS else _NAME_FIELDS[name]
    if longest > max_length:
        raise ConfigError(
            f"{where}: the path may render to {longest} characters",
            hint=f"at most {max_length}; placeholders count at their longest ({{run}} and {{job}} 63)",
        )


def render_template(template: str, slot: datetime, *, run: str = "", job: str = "") -> str:
    """The path a promotion template names for the run of ``slot`` (UTC).

    ``{date}`` 2024-05-01, ``{year}`` ``{month}`` ``{day}`` ``{hour}`` ``{minute}``,
    ``{timestamp}`` 20240501T100000Z, ``{run}`` the analysis Job that triggered
    retraining, ``{job}`` the retraining Job. ``{{`` and ``}}`` are literal braces.
    """
    slot = slot.replace(tzinfo=UTC) if slot.tzinfo is None else slot.astimezone(UTC)
    out: list[str] = []
    for literal, name in _fields(template, "template"):
        out.append(literal)
        if name in _SLOT_FIELDS:
            out.append(_SLOT_FIELDS[name][0](slot))
        elif name == "run":
            out.append(run)
        elif name == "job":
            out.append(job)
    return "".join(out)


# ---------------------------------------------------------------- URIs

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/]*)")


def has_credentials(uri: str) -> bool:
    """True when a URI carries a ``user[:password]@`` part in its authority."""
    match = _SCHEME.match(uri)
    return match is not None and "@" in match.group(2)


def redact_uri(uri: str) -> str:
    """``uri`` without any ``user:password@`` part, for status, Events and logs.

    The pure twin of :func:`driftwarden.storage.redact`, for the operator (no pyarrow).
    """
    match = _SCHEME.match(uri)
    if match is None or "@" not in match.group(2):
        return uri
    host = match.group(2).rpartition("@")[2]
    return f"{match.group(1)}://{host}{uri[match.end() :]}"


def reported_path(document: Mapping[str, object]) -> object:
    """The ``reference.path`` a retraining Job reported (``{"reference": {"path": ...}}``)."""
    reference = document.get("reference")
    return reference.get("path") if isinstance(reference, Mapping) else None
