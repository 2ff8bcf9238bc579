"""A monitor's stored runs on the output location: write one record, read the last N.

The layout (docs/history.md): one record per run under the monitor's history
prefix, ``<output.path>/<monitor>/history/<YYYYmmddTHHMMSSZ>-<run>.json``. A read
lists the prefix once (names only), sorts the record names (time first, so the
order is chronological) and reads only the last ``N`` records, so drawing the
trend of a monitor with years of hourly runs costs N small reads, not years of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftwarden.errors import DataFormatError, DataNotFoundError, DriftwardenError
from driftwarden.history.record import (
    Record,
    RecordError,
    dump_record,
    is_record_name,
    parse_record,
    parse_time,
    record_name,
)
from driftwarden.storage import (
    StorageOptions,
    join_uri,
    list_names,
    read_bytes,
    redact,
    write_bytes,
)

#: The runs the analysis Job draws on its history page.
DEFAULT_RUNS = 50
#: A record larger than this is not one of ours (a 10,000-feature record is ~1 MiB).
MAX_RECORD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Skipped:
    """A stored object that is not a readable record, and why."""

    name: str
    problem: str


@dataclass(frozen=True)
class History:
    """The last runs read from a history prefix, oldest first.

    ``names`` are the record names (``records[i]`` was read from ``names[i]``);
    ``stored`` counts every record name under the prefix; ``skipped`` lists the
    records among the last N that could not be read.
    """

    uri: str
    records: list[Record]
    names: list[str]
    stored: int
    skipped: list[Skipped] = field(default_factory=list)


def write_record(prefix: str, record: Mapping[str, Any], options: StorageOptions) -> str:
    """Store ``record`` under ``prefix``; returns its URI (a retried run replaces its own)."""
    moment = parse_time(str(record.get("slot") or record["time"]))
    assert moment is not None  # built by record.py, which writes RFC 3339 times
    uri = join_uri(prefix, record_name(moment, str(record["run"])))
    write_bytes(uri, dump_record(record).encode(), options, label="history record")
    return uri


def read_history(prefix: str, options: StorageOptions, last: int = DEFAULT_RUNS) -> History:
    """The last ``last`` records under ``prefix``, oldest first.

    Raises DataNotFoundError (naming the URI) when nothing is stored there or no
    record is; a record that cannot be read is skipped and listed in ``skipped``,
    so one corrupt object never hides the rest. Storage failures raise StorageError.
    """
    if last < 1:
        raise ValueError(f"last must be at least 1, got {last}")
    names = list_names(prefix, options, label="run history")
    if names is None:
        raise DataNotFoundError(
            f"no run history at {redact(prefix)}",
            hint="point --runs at <output.path>/<monitor>/history of a monitor that has run",
        )
    stored = sorted(name for name in names if is_record_name(name))
    if not stored:
        raise DataNotFoundError(
            f"no run records under {redact(prefix)} ({len(names)} other files)",
            hint="records are named <YYYYmmddTHHMMSSZ>-<run>.json; point --runs at "
            "<output.path>/<monitor>/history",
        )
    records: list[Record] = []
    kept: list[str] = []
    skipped: list[Skipped] = []
    for name in stored[-last:]:
        try:
            data = read_bytes(join_uri(prefix, name), options, label="history record")
            if data is None:
                raise RecordError("deleted while being read")
            if len(data) > MAX_RECORD_BYTES:
                raise RecordError(f"{len(data):,} bytes, more than a record holds")
            records.append(parse_record(data))
            kept.append(name)
        except RecordError as error:
            skipped.append(Skipped(name, str(error)))
        except DriftwardenError as error:
            if error.reason == "StorageUnavailable":
                raise
            skipped.append(Skipped(name, str(error)))
    if not records:
        first = skipped[0]
        raise DataFormatError(
            f"none of the last {len(skipped)} run records under {redact(prefix)} can be read; "
            f"{first.name}: {first.problem}",
            hint="the records are not driftwarden history records, or were written by "
            "another driftwarden version",
        )
    return History(redact(prefix), records, kept, len(stored), skipped)
