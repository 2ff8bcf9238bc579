"""Hive partitions (``date=2024-01-01/region=eu/part-0.parquet``) as dataset columns.

Arrow can discover these itself, but only while it also inspects file schemas
its own way; discovery here is done from the listed paths alone (no I/O) so the
dataset can be assembled from fragments whose schemas we unify ourselves.
Type inference follows Arrow's: a key whose values are all 32-bit integers is
``int32``, anything else is ``string``; ``__HIVE_DEFAULT_PARTITION__`` is null.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.dataset as ds

NULL_FALLBACK = "__HIVE_DEFAULT_PARTITION__"
_INT = re.compile(r"^[+-]?\d+$")
_INT32 = (-(2**31), 2**31 - 1)


def relative(path: str, base_dir: str) -> str:
    """``path`` relative to ``base_dir`` (no leading slash)."""
    base = base_dir.rstrip("/")
    if base and path.startswith(base + "/"):
        return path[len(base) + 1 :]
    if not base and path.startswith("/"):
        return path[1:]
    return path.rsplit("/", 1)[-1]


def discover_hive(paths: Sequence[str], base_dir: str) -> ds.HivePartitioning | None:
    """Infer a hive partitioning from the directory names of ``paths`` below ``base_dir``."""
    values: dict[str, list[str]] = {}
    for path in paths:
        directories = relative(path, base_dir).split("/")[:-1]
        for segment in directories:
            key, sep, value = segment.partition("=")
            if not sep or not key:
                continue
            values.setdefault(key, [])
            decoded = unquote(value)
            if decoded != NULL_FALLBACK:
                values[key].append(decoded)
    if not values:
        return None
    fields = [pa.field(key, _infer(found)) for key, found in values.items()]
    return ds.HivePartitioning(pa.schema(fields), null_fallback=NULL_FALLBACK)


def partition_expression(
    partitioning: ds.HivePartitioning | None, path: str, base_dir: str
) -> ds.Expression | None:
    """The expression that holds for every row of the file at ``path``."""
    if partitioning is None:
        return None
    return partitioning.parse("/" + relative(path, base_dir))


def _infer(values: Sequence[str]) -> pa.DataType:
    if values and all(_INT.match(v) and _INT32[0] <= int(v) <= _INT32[1] for v in values):
        return pa.int32()
    return pa.string()
