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


def sample_rows(
    batches: Iterable[pa.RecordBatch], size: int, seed: int, stream: bytes = b""
) -> pa.Table | None:
    """A uniform sample of at most ``size`` whole rows of ``batches``, in key order.

    The batches are one stream, rows numbered in order (as the profile numbers them).
    None when there are no rows.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    keys = RowKeys(seed, stream)
    kept: pa.Table | None = None
    kept_keys = np.empty(0, dtype=np.float64)
    position = 0
    for batch in batches:
        count = batch.num_rows
        if count == 0:
            continue
        batch_keys = keys.of(position, count)
        position += count
        if kept_keys.size >= size:
            candidates = np.flatnonzero(batch_keys < kept_keys.max())
            if candidates.size == 0:
                continue
            part = pa.Table.from_batches([batch.take(pa.array(candidates))])
            part_keys = batch_keys[candidates]
        else:
            part, part_keys = pa.Table.from_batches([batch]), batch_keys
        table = part if kept is None else pa.concat_tables([kept, part])
        all_keys = np.concatenate([kept_keys, part_keys])
        if all_keys.size > size:
            keep = np.argpartition(all_keys, size - 1)[:size]
            table, all_keys = table.take(pa.array(keep)), all_keys[keep]
        kept, kept_keys = table, all_keys
    if kept is None:
        return None
    order = np.argsort(kept_keys, kind="stable")
    return kept.take(pa.array(order)).combine_chunks()


def as_values(column: pa.ChunkedArray | pa.Array, categorical: bool) -> np.ndarray:
    """A sampled column as the estimate takes it: float64 with NaN for nulls, or labels
    (``None`` for nulls) for a categorical column."""
    if categorical:
        return np.array(column.to_pylist(), dtype=object)
    if not pa.types.is_float64(column.type):
        column = column.cast(pa.float64(), safe=False)
    return np.asarray(column.fill_null(np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
