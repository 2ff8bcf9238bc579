"""A bounded, mergeable sample of whole rows: what the multivariate detector reads.

Column samples (:mod:`driftwarden.profile.numeric`) keep each column's values on their
own, so joint structure (a correlation that flips while every marginal stays put) is
lost as soon as a column has a null where another has not. The row sample keeps the
values of a fixed set of numerical features *together*, row by row:

* a row enters only when every one of those features holds a finite value in it
  (complete rows): the detector compares vectors, and imputing would invent structure;
* it is a bottom-k sample on the same keys as the column samples
  (:class:`~driftwarden.profile.sampling.RowKeys`: a hash of the seed, the file and
  the row's position), so it is a uniform sample of the complete rows, the same rows
  whichever way the data is split into files, batches or shards, and merging two
  samples (keep the ``size`` smallest keys of both) equals one pass over the union;
* rows are held in ascending key order, so two equal samples are equal arrays, and the
  detector can split a sample into two independent halves by position (even and odd
  ranks), with no random generator involved.

Cost: of a batch, at most ``size`` rows can stay, so only the rows with the smallest
keys are converted (more only while too few of them are complete); once the sample is
full only rows whose key falls below its largest key can enter at all (on average
``size·ln(n/size)`` of ``n`` rows in all). A batch therefore costs a selection on its
keys and a few ``take``s, not a conversion of every row (bench/RESULTS.md, addendum 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray


def _empty_rows(width: int) -> NDArray[np.float64]:
    return np.empty((0, width), dtype=np.float64)


def _as_float(array: pa.Array) -> NDArray[np.float64]:
    """An Arrow numerical array as float64, nulls as NaN (integers beyond 2^53 rounded,
    as :class:`~driftwarden.profile.numeric.NumericProfile` does)."""
    if not pa.types.is_float64(array.type):
        array = pc.cast(array, pa.float64(), safe=False)
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


def _rows_of(
    columns: Sequence[pa.Array], rows: NDArray[np.intp] | None, width: int, count: int
) -> NDArray[np.float64]:
    """The ``rows`` (None: all) of ``columns`` as a ``(count, width)`` float64 matrix."""
    matrix = np.empty((count, width), dtype=np.float64)
    indices = None if rows is None else pa.array(rows)
    for j, column in enumerate(columns):
        matrix[:, j] = _as_float(column if indices is None else column.take(indices))
    return matrix


def _key_order(values: NDArray[np.float64], keys: NDArray[np.float64]) -> NDArray[np.intp]:
    """Positions in ascending key order; equal keys (never expected of 53-bit hashes)
    by the rows' values, so the order never depends on the order of the input."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    if ordered.size > 1 and not np.all(ordered[1:] != ordered[:-1]):
        return np.lexsort((*values.T[::-1], keys))
    return order


@dataclass
class RowSample:
    """A uniform sample of at most ``size`` complete rows of ``features``, in key order.

    ``values`` is ``(rows, len(features))``; ``keys`` are the rows' sampling keys.
    """

    features: tuple[str, ...]
    size: int
    values: NDArray[np.float64] = field(default_factory=lambda: _empty_rows(0))
    keys: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        if self.values.size == 0 and self.values.shape[-1:] != (len(self.features),):
            self.values = _empty_rows(len(self.features))

    @property
    def rows(self) -> int:
        return int(self.keys.size)

    def offer(self, columns: Sequence[pa.Array], keys: NDArray[np.float64]) -> None:
        """Offer one batch: ``columns`` are the features' arrays (in ``features`` order),
        ``keys`` the sampling keys of the batch's rows."""
        pool: NDArray[np.intp] | None = None  # rows that may enter; None: all of them
        if self.rows >= self.size:
            # Only rows below the current largest key can enter; usually none or few.
            pool = np.flatnonzero(keys < self.keys[-1])
            if pool.size == 0:
                return
        count = keys.size if pool is None else pool.size
        # At most ``size`` rows of the batch can stay: the ``size`` smallest-keyed complete
        # ones. Convert only the rows with the smallest keys, more while too few of them are
        # complete (converting and stacking a whole batch of ~10^5 rows cost 0.3 s a run).
        # A quarter more than needed: a few incomplete rows rarely force a second round.
        take = min(count, self.size + self.size // 4)
        while True:
            rows = self._smallest(keys, pool, take, count)
            matrix = _rows_of(columns, rows, len(self.features), take)
            complete = np.isfinite(matrix).all(axis=1)
            found = int(np.count_nonzero(complete))
            if found >= self.size or take >= count:
                break
            take = min(count, 2 * take)
        chosen = keys if rows is None else keys[rows]
        if found != complete.size:
            matrix, chosen = matrix[complete], chosen[complete]
        if chosen.size:
            self._keep(np.concatenate([self.values, matrix]), np.concatenate([self.keys, chosen]))

    @staticmethod
    def _smallest(
        keys: NDArray[np.float64], pool: NDArray[np.intp] | None, take: int, count: int
    ) -> NDArray[np.intp] | None:
        """The batch positions of the ``take`` smallest keys of ``pool`` (None: all rows)."""
        if take >= count:
            return pool
        if pool is None:
            return np.argpartition(keys, take - 1)[:take]
        return pool[np.argpartition(keys[pool], take - 1)[:take]]

    def _keep(self, values: NDArray[np.float64], keys: NDArray[np.float64]) -> None:
        if keys.size > self.size:
            # Only the smallest keys can stay: select before ordering (a batch offers
            # tens of thousands of rows while the sample is filling).
            first = np.argpartition(keys, self.size - 1)[: self.size]
            values, keys = values[first], keys[first]
        order = _key_order(values, keys)
        self.values, self.keys = values[order], keys[order]

    def merge(self, other: RowSample) -> RowSample:
        """The sample of both inputs' rows, as one pass over them would keep it."""
        if (self.features, self.size) != (other.features, other.size):
            raise ValueError(
                f"cannot merge row samples of {list(self.features)} ({self.size} rows) and "
                f"{list(other.features)} ({other.size} rows)"
            )
        merged = RowSample(self.features, self.size)
        merged._keep(
            np.concatenate([self.values, other.values]), np.concatenate([self.keys, other.keys])
        )
        return merged

    def equals(self, other: RowSample) -> bool:
        """Same features, size, rows and keys (for tests and cache checks)."""
        return (
            (self.features, self.size) == (other.features, other.size)
            and np.array_equal(self.keys, other.keys)
            and np.array_equal(self.values, other.values)
        )


def read_order(names: Sequence[str], row_features: Sequence[str]) -> list[str]:
    """``names`` with the row sample's features first.

    Wide data is read in column groups (analysis/run.py, ``COLUMN_GROUP``), each group's
    batches carrying only its columns: the row sample needs all its features in the same
    batches, so they lead the first group (their number is bounded well below a group).
    """
    if not row_features:
        return list(names)
    leading = [name for name in row_features if name in names]
    chosen = set(leading)
    return leading + [name for name in names if name not in chosen]
