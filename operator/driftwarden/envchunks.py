"""A value too long for one environment variable, split across several and joined again.

Linux refuses to start a process (``execve`` fails with E2BIG) when one of its
environment strings, ``NAME=value`` and its NUL, is longer than MAX_ARG_STRLEN
(32 pages, 128 KiB). The analysis spec can be longer, so the operator writes it
as numbered chunks of at most :data:`CHUNK_BYTES` UTF-8 bytes each, cut at
character boundaries::

    DRIFTWARDEN_MONITOR_CHUNKS=3
    DRIFTWARDEN_MONITOR=<bytes 0 .. 112 KiB>
    DRIFTWARDEN_MONITOR_1=<the next 112 KiB>
    DRIFTWARDEN_MONITOR_2=<the rest>

The count comes first and is always written (``1`` for a short value), so a
stale or foreign ``..._1`` in the environment is never read, and the value is the
plain concatenation of the chunks. Without a ``<NAME>_CHUNKS`` variable the value
is ``<NAME>`` alone, as a person sets it by hand. Pure: the caller passes the
environment.
"""

from __future__ import annotations

from collections.abc import Mapping

from driftwarden.errors import ConfigError

#: Largest chunk in UTF-8 bytes: with its name, ``=`` and NUL it stays under
#: 120 KiB, well below MAX_ARG_STRLEN (128 KiB).
CHUNK_BYTES = 112 * 1024
#: Most chunks a reader accepts (7 carry the largest spec the CRD admits).
MAX_CHUNKS = 16
COUNT_SUFFIX = "_CHUNKS"


def count_name(name: str) -> str:
    """The variable holding the number of chunks of ``name``."""
    return name + COUNT_SUFFIX


def chunk_name(name: str, index: int) -> str:
    """The variable of chunk ``index``: ``name`` for the first, ``name_<index>`` after it."""
    return name if index == 0 else f"{name}_{index}"


def split_value(value: str, chunk_bytes: int = CHUNK_BYTES) -> list[str]:
    """``value`` cut into pieces of at most ``chunk_bytes`` UTF-8 bytes, never inside a character."""
    data = value.encode("utf-8")
    pieces: list[str] = []
    start = 0
    while start < len(data) or not pieces:
        end = min(start + chunk_bytes, len(data))
        # Back off over UTF-8 continuation bytes (10xxxxxx) to a character boundary.
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces


def chunked_env(name: str, value: str, chunk_bytes: int = CHUNK_BYTES) -> list[tuple[str, str]]:
    """The ``(variable, value)`` pairs that carry ``value``: the count, then each chunk."""
    pieces = split_value(value, chunk_bytes)
    if len(pieces) > MAX_CHUNKS:
        raise ValueError(f"{name}: {len(value.encode())} bytes need more than {MAX_CHUNKS} chunks")
    return [(count_name(name), str(len(pieces)))] + [
        (chunk_name(name, i), piece) for i, piece in enumerate(pieces)
    ]


def join_env(name: str, environ: Mapping[str, str]) -> str | None:
    """The value :func:`chunked_env` spread over ``environ`` (None when ``name`` is unset).

    Without ``<name>_CHUNKS`` it is ``environ[name]`` alone. A count that is not
    a number from 1 to MAX_CHUNKS, or a missing or empty chunk, is a ConfigError
    naming the variable.
    """
    counter = count_name(name)
    declared = environ.get(counter)
    if declared is None:
        return environ.get(name)
    if not (declared.isascii() and declared.isdigit()) or not 1 <= int(declared) <= MAX_CHUNKS:
        raise ConfigError(
            f"{counter}={declared[:20]!r}: expected the number of chunks of {name}, "
            f"1 to {MAX_CHUNKS}"
        )
    pieces = []
    for index in range(int(declared)):
        variable = chunk_name(name, index)
        piece = environ.get(variable)
        if not piece:
            raise ConfigError(
                f"{variable} is not set or empty, but {counter} says {name} has {declared} chunks",
                hint="the Job's env was cut; let the operator create the Job again",
            )
        pieces.append(piece)
    return "".join(pieces)
