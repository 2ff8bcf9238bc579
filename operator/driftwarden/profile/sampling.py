"""Bottom-k sampling: the keys rows are sampled by, and the selections that keep the k smallest.

Every row of a profiled stream gets a uniform key in [0, 1) that is a hash of the row's
position and the stream (a seed and the file's identity), not a draw from a generator
that advances with whatever was read before: the key of a row is the same for every
column, in every run and whichever way the data is split or grouped. So

* each column's sample (the finite values of the ``k`` smallest-keyed rows) is a
  uniform sample of that column, as before;
* the samples of the columns that have a finite value in every row are *the same
  rows*: selecting them is done once per batch for all those columns
  (:class:`AlignedSampler`), not once per column. At 1,000 features that selection
  (an ``argpartition`` over ~50,000 keys per batch) was most of the profiling time.

Columns with nulls, NaN or ±inf sample their finite rows by the same keys, each on
its own (:func:`bottom_k`, :func:`replace_in_place`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from driftwarden import native

EMPTY = np.empty(0, dtype=np.float64)
EMPTY.flags.writeable = False

# splitmix64 (Steele, Lea & Flood 2014): a Weyl sequence through a 64-bit mixer, which
# passes BigCrush for consecutive counters, here the row positions.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
# The keys in C (native/_profile.c row_keys): numpy's ten passes over temporaries cost
# ~0.66 ms per 20,000 rows, asked for by every column group of a batch's rows.
# getattr: an extension built before row_keys existed (a stale editable install) keeps
# working on the numpy code.
_row_keys = getattr(native.load("_profile"), "row_keys", None)


class RowKeys:
    """The sampling keys of one stream of rows (one file, or one in-memory table).

    ``of(start, count)`` are the keys of rows ``start … start+count-1``: the columns of
    a batch ask for the same range in turn, so the last range is kept.
    """

    def __init__(self, seed: int, stream: bytes = b"") -> None:
        digest = hashlib.blake2b(seed.to_bytes(8, "little", signed=True) + stream, digest_size=8)
        self._salt = np.uint64(int.from_bytes(digest.digest(), "little"))
        self._last: tuple[int, int, NDArray[np.float64]] | None = None

    def of(self, start: int, count: int) -> NDArray[np.float64]:
        """Keys of ``count`` rows from position ``start``: read-only, uniform in [0, 1)."""
        if self._last is not None and self._last[:2] == (start, count):
            return self._last[2]
        if _row_keys is not None and start >= 0:
            keys = np.empty(count, dtype=np.float64)
            _row_keys(keys, start, int(self._salt))
        else:
            keys = self._computed(start, count)
        keys.flags.writeable = False  # shared by every column of the batch
        self._last = (start, count, keys)
        return keys

    def _computed(self, start: int, count: int) -> NDArray[np.float64]:
        """:meth:`of` in numpy (the compiled kernel gives the same bits)."""
        x = np.arange(start, start + count, dtype=np.uint64)
        x *= _GOLDEN
        x += self._salt
        x ^= x >> np.uint64(30)
        x *= _MIX1
        x ^= x >> np.uint64(27)
        x *= _MIX2
        x ^= x >> np.uint64(31)
        x >>= np.uint64(11)  # 53 bits: every such integer times 2^-53 is an exact float64
        keys = x.astype(np.float64)
        keys *= 2.0**-53
        return keys


def bottom_k(
    values: NDArray[np.float64], keys: NDArray[np.float64], k: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The ``k`` values with the smallest keys; the same set whatever the input order."""
    if keys.size <= k:
        return values, keys
    keep = np.argpartition(keys, k - 1)[:k]
    # Equal keys across the cut (keyless profiles merged: all keys 0) would leave the
    # choice to argpartition, i.e. to the input order: break such ties by value.
    if np.count_nonzero(keys <= keys[keep].max()) > k:
        keep = np.lexsort((values, keys))[:k]
    return values[keep], keys[keep]


def replace_in_place(
    sample: NDArray[np.float64],
    keys: NDArray[np.float64],
    picked: NDArray[np.float64],
    picked_keys: NDArray[np.float64],
) -> None:
    """Keep the ``sample.size`` smallest keys of both, in the full sample's own arrays.

    The same set as :func:`bottom_k` of the concatenation, but the sample's buffers
    are kept: replacing them on every batch left the allocator with freed blocks it
    could not reuse, and a 1,000-feature run's RSS at twice its samples' size.
    """
    k = sample.size
    dropped = np.argpartition(np.concatenate([keys, picked_keys]), k - 1)[k:]
    freed = dropped[dropped < k]
    kept = np.ones(picked.size, dtype=bool)
    kept[dropped[dropped >= k] - k] = False
    sample[freed] = picked[kept]
    keys[freed] = picked_keys[kept]


@dataclass(frozen=True)
class Selection:
    """What one batch does to every aligned sample.

    ``append``: the batch's values go after the sample's; ``rebuild``: the new sample is
    ``concatenate([sample, batch])[positions]``; ``replace``: ``sample[slots] =
    batch[positions]``; ``none``: no row of the batch enters.
    """

    kind: Literal["append", "rebuild", "replace", "none"]
    positions: NDArray[np.intp] | None = None
    slots: NDArray[np.intp] | None = None

    def apply(
        self, sample: NDArray[np.float64], values: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """The sample after this batch: ``values`` are the batch's (all rows finite)."""
        if self.kind == "append":
            return np.concatenate([sample, values]) if sample.size else values
        if self.kind == "rebuild":
            assert self.positions is not None
            return np.concatenate([sample, values])[self.positions]
        if self.kind == "replace":
            assert self.positions is not None and self.slots is not None
            if not sample.flags.writeable:
                sample = sample.copy()
            sample[self.slots] = values[self.positions]
        return sample


class AlignedSampler:
    """The bottom-k selection shared by columns that had a finite value in every row.

    Such columns saw the same rows with the same keys, so they keep the same rows, in
    the same slots: :meth:`step` decides once per batch, each column applies the
    :class:`Selection` to its own values. ``keys`` is the shared key array of those
    samples (a column that stops being aligned takes a copy).
    """

    def __init__(self, k: int) -> None:
        self.k = k
        self.keys: NDArray[np.float64] = EMPTY

    def step(self, keys: NDArray[np.float64]) -> Selection:
        """Take the batch whose rows have ``keys``; what every aligned column must do."""
        k, have = self.k, self.keys.size
        if have + keys.size <= k:
            self.keys = np.concatenate([self.keys, keys])
            return Selection("append")
        if have < k:
            both = np.concatenate([self.keys, keys])
            keep = np.argpartition(both, k - 1)[:k]
            self.keys = both[keep]
            return Selection("rebuild", positions=keep)
        candidates = np.flatnonzero(keys < self.keys.max())
        if candidates.size == 0:
            return Selection("none")
        candidate_keys = keys[candidates]
        dropped = np.argpartition(np.concatenate([self.keys, candidate_keys]), k - 1)[k:]
        slots = dropped[dropped < k]
        kept = np.ones(candidates.size, dtype=bool)
        kept[dropped[dropped >= k] - k] = False
        self.keys[slots] = candidate_keys[kept]
        return Selection("replace", positions=candidates[kept], slots=slots)
