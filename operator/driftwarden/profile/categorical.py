"""Streaming, mergeable profile of one categorical column, the same whatever the split.

Counts are exact while the column has at most ``max_categories`` distinct values,
which covers real categorical features. Past that (an ID column declared
categorical by mistake, free text) memory stays bounded by a summary that is a
function of the data alone, so shards merged in any order give the bytes of one
pass (docs/sharding.md):

* a **count-min sketch** (Cormode & Muthukrishnan 2005) of every label's count:
  ``DEPTH`` rows of ``width`` integer counters (``width`` the power of two at or above
  ``max_categories``), each label adding its count to one counter per row chosen by
  a hash of the label. Merging adds the tables: integer sums, exact and order-free.
  A label's estimate is the smallest of its counters: never below its count, and
  above it by at most ``e / width`` × the column's values with probability at least
  ``1 - e^-DEPTH`` (99.3%) per label;
* the **candidates**, the labels that may be listed as the most frequent: the
  ``max_categories`` labels whose *first key* — the smallest sampling key
  (:class:`~driftwarden.profile.sampling.RowKeys`, a hash of the file and row
  position) of any row holding them — is smallest. A label's first key over the
  union of two inputs is the smaller of its two, and a label among the union's
  smallest is among the smallest of the input that holds its first key, so merging
  (keep the smallest first keys of both, ties by label) is exact and order-free. A
  label on a share ``p`` of the rows is missed only when ``max_categories`` other rows'
  keys all fall below its first: probability at most ``(1 - p)^max_categories``.

While exact the profile also keeps every label's first key, so that the moment it
passes the cap (in one pass, or only when shards merge) it holds the same candidates.

Counting works on dictionary indices (Parquet string columns read as dictionaries;
other arrays are dictionary-encoded): a ``bincount`` and a ``minimum.at`` over small
integers instead of hashing strings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from driftwarden.model.keys import id_hashes, mix
from driftwarden.profile.sampling import RowKeys

OTHER = "__other__"
UNSEEN = "__unseen__"

DEPTH = 5  # count-min rows: a label's estimate fails its bound with probability ≤ e^-5
_MIN_WIDTH = 64
# Kirsch–Mitzenmacher: row r's counter is (h1 + r * h2) mod width, two hashes for all rows.
_ROWS = np.arange(DEPTH, dtype=np.uint64)
_SECOND = np.uint64(0xD6E8FEB86659FD93)


def _label(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sketch_width(max_categories: int) -> int:
    """Counters per count-min row: the power of two at or above ``max_categories``."""
    return max(_MIN_WIDTH, 1 << max(0, math.ceil(math.log2(max(max_categories, 1)))))


def batch_counts(
    array: pa.Array, keys: NDArray[np.float64]
) -> tuple[list[str], NDArray[np.int64], NDArray[np.float64]]:
    """Distinct non-null values of one array as text labels, their counts, and the
    smallest of ``keys`` (one per row) among each value's rows."""
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    indices = array.indices
    size = len(array.dictionary)
    codes = indices.to_numpy(zero_copy_only=False)
    if array.null_count:
        valid = indices.is_valid().to_numpy(zero_copy_only=False)
        codes, keys = codes[valid], keys[valid]
    codes = codes.astype(np.intp, copy=False)
    counts = np.bincount(codes, minlength=size)
    firsts = np.full(size, np.inf)
    np.minimum.at(firsts, codes, keys)
    present = np.flatnonzero(counts).astype(np.int64, copy=False)
    labels = _to_labels(array.dictionary.take(_int64_array(present)))
    totals, mins = counts[present], firsts[present]
    if len(set(labels)) != len(labels):  # e.g. float dictionary values 1.0 and 1 → "1.0"
        merged: dict[str, tuple[int, float]] = {}
        for label, count, first in zip(labels, totals.tolist(), mins.tolist(), strict=True):
            had = merged.get(label, (0, math.inf))
            merged[label] = (had[0] + count, min(had[1], first))
        labels = list(merged)
        totals = np.array([v[0] for v in merged.values()], dtype=np.int64)
        mins = np.array([v[1] for v in merged.values()], dtype=np.float64)
    return labels, totals, mins


def _int64_array(values: np.ndarray) -> pa.Array:
    """An Arrow view of int64 ``values``. Not ``pa.array(values)``: that checks for a numpy
    masked array, which imports numpy.ma (~7 ms of every analysis run) on first use."""
    return pa.Array.from_buffers(pa.int64(), values.size, [None, pa.py_buffer(values)])


def _to_labels(values: pa.Array) -> list[str]:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return [v if v is not None else "" for v in values.to_pylist()]
    return [_label(v) for v in values.to_pylist()]


def _hashes(labels: list[str]) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """Two 64-bit hashes of each label's UTF-8 text (h2 odd, so the rows' counters differ):
    the id hash of the label join (vectorised over the bytes; one blake2b call per label
    cost ~2 µs, most of a high-cardinality column's profiling time), and a remix of it."""
    h1 = id_hashes(pa.array(labels, type=pa.large_string()))
    with np.errstate(over="ignore"):  # unsigned arithmetic wraps by design
        h2 = mix(h1 ^ _SECOND) | np.uint64(1)
    return h1, h2


def _cells(labels: list[str], width: int) -> NDArray[np.intp]:
    """Flat indices into a (DEPTH, width) table: one column per label, one row per row."""
    h1, h2 = _hashes(labels)
    with np.errstate(over="ignore"):  # unsigned arithmetic wraps by design
        columns = (h1[None, :] + _ROWS[:, None] * h2[None, :]) & np.uint64(width - 1)
    rows = np.arange(DEPTH, dtype=np.intp)[:, None] * width
    return (rows + columns.astype(np.intp)).astype(np.intp)


@dataclass
class CategoricalProfile:
    """Mergeable value counts of a categorical column, exact up to ``max_categories`` values."""

    max_categories: int
    rows: int = 0
    nulls: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    # Each label's smallest row key: every label while exact, else the candidates.
    firsts: dict[str, float] = field(default_factory=dict)
    # The count-min table (DEPTH x sketch_width), past the cap; None while exact.
    table: NDArray[np.int64] | None = None

    @property
    def exact(self) -> bool:
        return self.table is None

    @property
    def missing(self) -> int:
        return self.nulls

    @property
    def present(self) -> int:
        """Rows with a value."""
        return self.rows - self.nulls

    @property
    def distinct(self) -> int | None:
        """Number of distinct values, when counts are exact."""
        return len(self.counts) if self.exact else None

    @property
    def error_bound(self) -> float:
        """How far above its count a label's estimate may be (with probability at least
        ``1 - e^-DEPTH`` per label; never below it): 0 while exact."""
        if self.table is None:
            return 0.0
        return math.e / self.table.shape[1] * self.present

    # ------------------------------------------------------------ building

    def update(
        self, array: pa.Array | pa.ChunkedArray, keys: NDArray[np.float64] | None = None
    ) -> None:
        """Add one batch of a column (strings, dictionaries, booleans, or anything castable).

        ``keys`` are the rows' sampling keys (one per row, as the profile's numerical
        columns get them); without them the rows are keyed as one stream of their own.
        """
        if keys is None:
            keys = RowKeys(0).of(self.rows, len(array))
        if isinstance(array, pa.ChunkedArray):
            at = 0
            for chunk in array.chunks:
                self.update(chunk, keys[at : at + len(chunk)])
                at += len(chunk)
            return
        self.rows += len(array)
        self.nulls += array.null_count
        if len(array) == array.null_count:
            return
        labels, counts, firsts = batch_counts(array, keys)
        if self.table is not None:
            self._add_sketched(labels, counts, firsts)
            return
        known, mins = self.counts, self.firsts
        for label, count, first in zip(labels, counts.tolist(), firsts.tolist(), strict=True):
            known[label] = known.get(label, 0) + count
            if first < mins.get(label, math.inf):
                mins[label] = first
        if len(known) > self.max_categories:
            self._spill()

    def _add_sketched(
        self, labels: list[str], counts: NDArray[np.int64], firsts: NDArray[np.float64]
    ) -> None:
        assert self.table is not None
        np.add.at(self.table.reshape(-1), _cells(labels, self.table.shape[1]), counts[None, :])
        # Only labels whose first key beats the largest candidate's can become one.
        if len(self.firsts) >= self.max_categories:
            bar = max(self.firsts.values())
            chosen: list[int] = np.flatnonzero(firsts <= bar).tolist()
        else:
            chosen = list(range(len(labels)))
        mins = self.firsts
        for i in chosen:
            label, first = labels[i], float(firsts[i])
            if first < mins.get(label, math.inf):
                mins[label] = first
        self._prune()

    def _prune(self) -> None:
        """Keep the ``max_categories`` smallest first keys (ties by label)."""
        cap = self.max_categories
        if len(self.firsts) <= cap:
            return
        labels = list(self.firsts)
        keys = np.fromiter(self.firsts.values(), dtype=np.float64, count=len(labels))
        cut = np.partition(keys, cap - 1)[cap - 1]
        below = np.flatnonzero(keys < cut).tolist()
        tied = sorted(labels[i] for i in np.flatnonzero(keys == cut).tolist())
        kept = [labels[i] for i in below] + tied[: cap - len(below)]
        self.firsts = {label: self.firsts[label] for label in kept}

    def _spill(self) -> None:
        """Past the cap: the exact counts go into a count-min table, the first keys
        are cut to the candidates."""
        width = sketch_width(self.max_categories)
        self.table = np.zeros((DEPTH, width), dtype=np.int64)
        labels = list(self.counts)
        if labels:
            counts = np.fromiter(self.counts.values(), dtype=np.int64, count=len(labels))
            np.add.at(self.table.reshape(-1), _cells(labels, width), counts[None, :])
        self.counts = {}
        self._prune()

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        """A new profile of both inputs, as if their rows had been seen in one pass."""
        if self.max_categories != other.max_categories:
            raise ValueError(
                f"cannot merge profiles with max_categories {self.max_categories} and {other.max_categories}"
            )
        merged = CategoricalProfile(
            self.max_categories, rows=self.rows + other.rows, nulls=self.nulls + other.nulls
        )
        merged.counts = dict(self.counts)
        merged.firsts = dict(self.firsts)
        for label, count in other.counts.items():
            merged.counts[label] = merged.counts.get(label, 0) + count
        for label, first in other.firsts.items():
            if first < merged.firsts.get(label, math.inf):
                merged.firsts[label] = first
        if self.table is None and other.table is None:
            if len(merged.counts) > self.max_categories:
                merged._spill()
            return merged
        merged._spill()  # the exact side's counts, if any, into a table
        assert merged.table is not None
        for table in (self.table, other.table):
            if table is not None:
                merged.table += table
        return merged

    # ------------------------------------------------------------ reading

    def top(self, k: int) -> list[tuple[str, int]]:
        """The ``k`` most frequent values with their (estimated) counts, ties broken by label.

        Past the cap: the candidates ranked by their count-min estimates."""
        items: Iterable[tuple[str, int]]
        if self.table is None:
            items = self.counts.items()
        else:
            labels = sorted(self.firsts)
            items = zip(labels, self._estimates(labels).tolist(), strict=True)
        return sorted(items, key=lambda kv: (-kv[1], kv[0]))[:k]

    def _estimates(self, labels: list[str]) -> NDArray[np.int64]:
        assert self.table is not None
        if not labels:
            return np.empty(0, dtype=np.int64)
        cells = _cells(labels, self.table.shape[1])
        return np.asarray(self.table.reshape(-1)[cells].min(axis=0), dtype=np.int64)

    def count_of(self, label: str) -> int:
        if self.table is None:
            return self.counts.get(label, 0)
        return int(self._estimates([label])[0])

    def bucket_counts(
        self, labels: list[str], known: Mapping[str, int] | None
    ) -> tuple[list[float], int | None]:
        """Counts for ``labels`` then ``OTHER`` then ``UNSEEN``, and the unseen count.

        ``known`` is the reference's complete value set (None when the reference was too
        large to know it): values outside it are *unseen*; without it, every value that
        is not one of ``labels`` goes to ``OTHER`` and the unseen count is None.
        """
        if self.table is None:
            listed = [float(self.counts.get(label, 0)) for label in labels]
        else:
            listed = [float(v) for v in self._estimates(labels).tolist()]
        rest = max(float(self.present) - sum(listed), 0.0)
        unseen: int | None = None
        if known is not None and self.table is None:
            unseen = sum(c for label, c in self.counts.items() if label not in known)
            rest = max(rest - unseen, 0.0)
        return [*listed, rest, float(unseen or 0)], unseen
