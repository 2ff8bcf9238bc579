"""Streaming, mergeable profile of one categorical column.

Counts are exact while the column has at most ``max_categories`` distinct values,
which covers real categorical features. Past that (an ID column declared
categorical by mistake, free text) the counts move into an Apache DataSketches
frequent-items sketch, so memory stays bounded; estimates then carry the sketch's
error (``epsilon * total``), and which values the reference never saw can no
longer be told apart.

Counting works on dictionary indices when Arrow hands us dictionary arrays (Parquet
string columns read as dictionaries): a ``bincount`` over small integers instead of
hashing strings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import datasketches

OTHER = "__other__"
UNSEEN = "__unseen__"


def sketches() -> ModuleType:
    """The datasketches module, imported on first use: only a column with more than
    ``max_categories`` values needs it, and the import is ~5 ms of every run otherwise."""
    import datasketches

    return datasketches


def _label(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def batch_counts(array: pa.Array) -> tuple[list[str], list[int]]:
    """Distinct non-null values of one array as text labels, with their counts."""
    if pa.types.is_dictionary(array.type):
        indices = array.indices
        if array.null_count:
            indices = pc.drop_null(indices)
        bincounts = np.bincount(
            indices.to_numpy(zero_copy_only=False), minlength=len(array.dictionary)
        )
        present = np.flatnonzero(bincounts).astype(np.int64, copy=False)
        dictionary = array.dictionary.take(_int64_array(present))
        labels, totals = _to_labels(dictionary), bincounts[present].tolist()
        if len(set(labels)) != len(labels):  # e.g. float dictionary values 1.0 and 1 → "1.0"
            merged: dict[str, int] = {}
            for label, count in zip(labels, totals, strict=True):
                merged[label] = merged.get(label, 0) + count
            return list(merged), list(merged.values())
        return labels, totals
    if pa.types.is_boolean(array.type):
        true_count = int(pc.sum(array).as_py() or 0)
        false_count = len(array) - array.null_count - true_count
        pairs = [(label, n) for label, n in (("true", true_count), ("false", false_count)) if n]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    counted = pc.value_counts(array)
    values = counted.field("values")
    counts = counted.field("counts").to_pylist()
    labels = _to_labels(values)
    keep = [i for i, v in enumerate(values.is_valid().to_pylist()) if v]
    if len(keep) != len(labels):
        labels = [labels[i] for i in keep]
        counts = [counts[i] for i in keep]
    return labels, counts


def _int64_array(values: np.ndarray) -> pa.Array:
    """An Arrow view of int64 ``values``. Not ``pa.array(values)``: that checks for a numpy
    masked array, which imports numpy.ma (~7 ms of every analysis run) on first use."""
    return pa.Array.from_buffers(pa.int64(), values.size, [None, pa.py_buffer(values)])


def _to_labels(values: pa.Array) -> list[str]:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return [v if v is not None else "" for v in values.to_pylist()]
    return [_label(v) for v in values.to_pylist()]


@dataclass
class CategoricalProfile:
    """Mergeable value counts of a categorical column, exact up to ``max_categories`` values."""

    max_categories: int
    rows: int = 0
    nulls: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    sketch: datasketches.frequent_strings_sketch | None = None

    @property
    def exact(self) -> bool:
        return self.sketch is None

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
        """Largest possible error of any one count (0 while exact)."""
        return 0.0 if self.sketch is None else self.sketch.epsilon * self.sketch.total_weight

    # ------------------------------------------------------------ building

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        """Add one batch of a column (strings, dictionaries, booleans, or anything castable)."""
        if isinstance(array, pa.ChunkedArray):
            for chunk in array.chunks:
                self.update(chunk)
            return
        self.rows += len(array)
        self.nulls += array.null_count
        labels, counts = batch_counts(array)
        self._add(zip(labels, counts, strict=True))

    def _add(self, items: Iterable[tuple[str, int]]) -> None:
        if self.sketch is not None:
            for label, count in items:
                self.sketch.update(label, count)
            return
        counts = self.counts
        for label, count in items:
            counts[label] = counts.get(label, 0) + count
        if len(counts) > self.max_categories:
            self._spill()

    def _spill(self) -> None:
        # Map size 2^lg with 3/4 usable slots: enough to hold max_categories values.
        lg_size = max(3, math.ceil(math.log2(self.max_categories / 0.75)))
        self.sketch = sketches().frequent_strings_sketch(lg_size)
        for label, count in self.counts.items():
            self.sketch.update(label, count)
        self.counts = {}

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
        if self.sketch is not None:
            merged._spill()
            merged.sketch.merge(self.sketch)  # type: ignore[union-attr]
        if other.sketch is not None:
            if merged.sketch is None:
                merged._spill()
            merged.sketch.merge(other.sketch)  # type: ignore[union-attr]
        merged._add(other.counts.items())
        return merged

    # ------------------------------------------------------------ reading

    def top(self, k: int) -> list[tuple[str, int]]:
        """The ``k`` most frequent values with their (estimated) counts, ties broken by label."""
        items: Iterable[tuple[str, int]]
        if self.sketch is None:
            items = self.counts.items()
        else:
            items = (
                (item, int(estimate))
                for item, estimate, _lo, _hi in self.sketch.get_frequent_items(
                    sketches().frequent_items_error_type.NO_FALSE_NEGATIVES
                )
            )
        return sorted(items, key=lambda kv: (-kv[1], kv[0]))[:k]

    def count_of(self, label: str) -> int:
        if self.sketch is None:
            return self.counts.get(label, 0)
        return int(self.sketch.get_estimate(label))

    def bucket_counts(
        self, labels: list[str], known: Mapping[str, int] | None
    ) -> tuple[list[float], int | None]:
        """Counts for ``labels`` then ``OTHER`` then ``UNSEEN``, and the unseen count.

        ``known`` is the reference's complete value set (None when the reference was too
        large to know it): values outside it are *unseen*; without it, every value that
        is not one of ``labels`` goes to ``OTHER`` and the unseen count is None.
        """
        listed = [float(self.count_of(label)) for label in labels]
        rest = max(float(self.present) - sum(listed), 0.0)
        unseen: int | None = None
        if known is not None and self.sketch is None:
            unseen = sum(c for label, c in self.counts.items() if label not in known)
            rest = max(rest - unseen, 0.0)
        return [*listed, rest, float(unseen or 0)], unseen
