"""Whole reference rows of any column type, for the importance estimate.

The estimate (:mod:`driftwarden.model.importance`) needs the same rows of every
feature and of the prediction: numbers, categories, and their nulls, which say
something about the output too. The profile's row sample (:mod:`driftwarden.profile.rows`)
keeps complete rows of numerical features only, as the multivariate detector needs;
this keeps rows as Arrow does, nulls included, on the **same keys**
(:class:`~driftwarden.profile.sampling.RowKeys` of the row's position, seed and stream):
a bottom-k sample, so it is uniform, and the rows are the ones the profile's
column samples hold (for columns finite in every row).

Bounded: at most ``size`` rows are held between batches (plus one batch's
candidates); once full, only rows whose key falls below the largest kept key are
taken from a batch at all.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from driftwarden.profile.sampling import RowKeys


class _Stream:
    """The bottom-k rows of one column group, over every file."""

    def __init__(self) -> None:
        self.kept: pa.Table | None = None
        self.keys = np.empty(0, dtype=np.float64)

    def offer(self, batch: pa.RecordBatch, batch_keys: np.ndarray, size: int) -> None:
        if self.keys.size >= size:
            candidates = np.flatnonzero(batch_keys < self.keys.max())
            if candidates.size == 0:
                return
            part = pa.Table.from_batches([batch.take(pa.array(candidates))])
            part_keys = batch_keys[candidates]
        else:
            part, part_keys = pa.Table.from_batches([batch]), batch_keys
        table = part if self.kept is None else pa.concat_tables([self.kept, part])
        all_keys = np.concatenate([self.keys, part_keys])
        if all_keys.size > size:
            keep = np.argpartition(all_keys, size - 1)[:size]
            table, all_keys = table.take(pa.array(keep)), all_keys[keep]
        self.kept, self.keys = table, all_keys

    def ordered(self) -> tuple[pa.Table, np.ndarray] | None:
        if self.kept is None:
            return None
        order = np.argsort(self.keys, kind="stable")
        return self.kept.take(pa.array(order)).combine_chunks(), self.keys[order]


def sample_rows(
    batches: Iterable[pa.RecordBatch], size: int, seed: int, stream: bytes = b""
) -> pa.Table | None:
    """A uniform sample of at most ``size`` whole rows of ``batches``, in key order.

    The batches are one stream, rows numbered in order (as the profile numbers them).
    Wide data read in column groups (each batch carries one group's columns, each row
    comes once per group) is sampled per group: a row's key depends only on its
    position, so every group keeps the same rows in the same order, and the groups'
    columns are put side by side. None when there are no rows.
    """
    return sample_streams([(stream, batches)], size, seed)


def sample_streams(
    streams: Iterable[tuple[bytes, Iterable[pa.RecordBatch]]], size: int, seed: int
) -> pa.Table | None:
    """:func:`sample_rows` of several streams (the files of a dataset, each with its
    identity, ``analysis.incremental.file_stream``), rows numbered within their stream.

    A row's key is then the one the per-file profile gives it, so the sample is the same
    whichever order the files come in, and it holds the rows the merged profile's
    column samples hold (for columns finite in every row).
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    groups: dict[tuple[str, ...], _Stream] = {}
    for stream, batches in streams:
        keys = RowKeys(seed, stream)
        positions: dict[tuple[str, ...], int] = {}  # per column group, within this stream
        for batch in batches:
            if batch.num_rows:
                names = tuple(batch.schema.names)
                start = positions.get(names, 0)
                positions[names] = start + batch.num_rows
                batch_keys = keys.of(start, batch.num_rows)
                groups.setdefault(names, _Stream()).offer(batch, batch_keys, size)
    parts = [part for s in groups.values() if (part := s.ordered()) is not None]
    if not parts:
        return None
    table, first_keys = parts[0]
    for other, other_keys in parts[1:]:
        if not np.array_equal(first_keys, other_keys):  # pragma: no cover - a reader bug
            raise ValueError("column groups of the reference sampled different rows")
        for name in other.column_names:
            table = table.append_column(name, other[name])
    return table


def as_values(column: pa.ChunkedArray | pa.Array, categorical: bool) -> np.ndarray:
    """A sampled column as the estimate takes it: float64 with NaN for nulls, or labels
    (``None`` for nulls) for a categorical column."""
    if categorical:
        return np.array(column.to_pylist(), dtype=object)
    if not pa.types.is_float64(column.type):
        column = column.cast(pa.float64(), safe=False)
    return np.asarray(column.fill_null(np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
