"""Test helpers: small real Arrow files in every supported format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def hourly_table(hours: int = 48, start: datetime = T0) -> pa.Table:
    """``hours`` rows, one per hour from ``start``: ts (timestamp[us, UTC]), x, plan."""
    ts = [start + timedelta(hours=h) for h in range(hours)]
    return pa.table(
        {
            "ts": pa.array(ts, pa.timestamp("us", "UTC")),
            "x": pa.array([float(h) for h in range(hours)]),
            "plan": pa.array(["free", "pro", "team"][h % 3] for h in range(hours)),
        }
    )


def write(table: pa.Table, path: Path, fmt: str) -> Path:
    """Write ``table`` to ``path`` in ``fmt`` (parquet, arrow, csv, jsonl)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "arrow":
        feather.write_feather(table, path)
    elif fmt == "csv":
        pacsv.write_csv(table, path)
    elif fmt == "jsonl":
        with path.open("w") as out:
            for row in table.to_pylist():
                out.write(json.dumps(row, default=_iso) + "\n")
    else:  # pragma: no cover
        raise ValueError(fmt)
    return path


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(value)


def rows(batches) -> list[dict]:
    """All rows of an iterable of record batches, dictionaries decoded."""
    return pa.Table.from_batches(list(batches)).to_pylist()
