"""Sampling a stream whose length is known: keep only the rows that can end in a sample.

A column's sample is the finite values of the ``k`` rows with the smallest keys
(:mod:`driftwarden.profile.sampling`). Selected batch by batch, every batch re-decides
which rows stay. When the stream's row count ``n`` is known up front (a whole file,
from its metadata) and well above ``k``, the rows that can end in a sample are known
too, up to chance: keys are uniform, so about ``k + reserve`` rows have a key below
``(k + reserve) / n``. Each column keeps just those rows' values (one gather per
batch, no re-selection), and the ``k`` smallest keys among them are picked once at
the end.

That is exactly the per-batch selection's sample whenever a column keeps at least ``k``
finite values below the cut: its ``k`` smallest finite keys are then all below it, and
every finite value below it was kept. A column with nulls or ±inf in the first batch is
left to the per-batch selection from the start; one that turns non-finite later keeps
its own rows below the cut, and only if those fall short of ``k`` (more than ~11% of its
rows unusable, rare) is the cut not enough: :class:`ReserveExhausted` then asks the
caller to profile the stream again without it.

Measured at 10^5 rows × 1,000 features (bench/RESULTS.md, addendum 11): ~0.1 s less
user CPU than the per-batch selection (whose rebuilding and replacing copies each
sample ~5 times over), profiles byte-identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from driftwarden import native
from driftwarden.profile.numeric import NumericProfile
from driftwarden.profile.sampling import bottom_k

# Rows kept beyond k, as a share of k: the count below the cut is binomial, k + k/8 ± ~200
# at k = 32,768, so an eighth more is ~20 standard deviations of room; it is also the
# share of unusable values a column that breaks after its first batch may reach (over the
# kept rows) before the cut falls short and the stream is profiled again.
RESERVE_SHARE = 8
# Under this many times the kept rows, the per-batch selection keeps most rows anyway.
MIN_STREAM_FACTOR = 2
# The gather in C (native/_profile.c): numpy's fancy indexing costs ~2x at ~37% kept.
_kernel = native.load("_profile")


class ReserveExhausted(Exception):
    """A column kept fewer than ``k`` finite values below the cut: profile without it."""

    def __init__(self, column: str) -> None:
        super().__init__(f"{column}: fewer finite values below the sampling cut than the sample")
        self.column = column


def cut_for(rows: int | None, k: int) -> float | None:
    """The key below which rows are kept; None when unknown or not worth it."""
    if rows is None or k <= 0:
        return None
    keep = k + max(k // RESERVE_SHARE, 1)
    if rows < MIN_STREAM_FACTOR * keep:
        return None
    return keep / rows


class _Growing:
    """An array appended to in place; its capacity (the expected count plus six standard
    deviations) is doubled in the rare case it is not enough."""

    def __init__(self, capacity: int) -> None:
        self.data = np.empty(capacity, dtype=np.float64)
        self.size = 0

    def append(self, values: NDArray[np.float64]) -> None:
        end = self._reserve(values.size)
        self.data[self.size : end] = values
        self.size = end

    def append_taken(self, values: NDArray[np.float64], positions: NDArray[np.intp]) -> None:
        """Append ``values[positions]``."""
        end = self._reserve(positions.size)
        if _kernel is not None:
            _kernel.take(values, positions, self.data, self.size)
        else:
            self.data[self.size : end] = values[positions]
        self.size = end

    def _reserve(self, count: int) -> int:
        end = self.size + count
        if end > self.data.size:
            grown = np.empty(max(end, 2 * self.data.size), dtype=np.float64)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        return end

    def view(self) -> NDArray[np.float64]:
        return self.data[: self.size]


@dataclass
class _Own:
    """A column that left the shared rows after its first batch: its own kept rows."""

    values: _Growing
    keys: _Growing


@dataclass
class ReserveGroup:
    """The cut's sampling for the columns of one column group (whose batches cover the
    same rows): those finite in every row so far share the kept rows' positions."""

    cut: float
    k: int
    keys: _Growing = field(init=False)
    shared: dict[str, _Growing] = field(default_factory=dict)
    own: dict[str, _Own] = field(default_factory=dict)
    _positions: NDArray[np.intp] | None = None

    def __post_init__(self) -> None:
        self.keys = _Growing(self._capacity())

    def _capacity(self) -> int:
        expected = self.k + max(self.k // RESERVE_SHARE, 1)
        return expected + 6 * math.isqrt(expected) + 64

    def begin(self, batch_keys: NDArray[np.float64]) -> None:
        """A new batch, whose rows have ``batch_keys``: its rows below the cut, once."""
        self._positions = np.flatnonzero(batch_keys < self.cut)
        self.keys.append(batch_keys[self._positions])

    def take_shared(self, name: str, values: NDArray[np.float64]) -> None:
        """The batch's values of a column finite in every row so far (all its rows)."""
        assert self._positions is not None
        kept = self.shared.get(name)
        if kept is None:
            kept = self.shared[name] = _Growing(self._capacity())
        kept.append_taken(values, self._positions)

    def holds(self, name: str) -> bool:
        """True when ``name`` kept rows here, so it cannot start over with its own selection."""
        return name in self.shared or name in self.own

    def take_own(
        self, name: str, finite: NDArray[np.float64], finite_keys: NDArray[np.float64]
    ) -> None:
        """The batch's finite values of a column that left the shared rows, with their keys."""
        own = self.own.get(name)
        if own is None:
            # Leaving now: its rows so far were the shared ones, whose keys are the kept
            # keys before this batch's (``begin`` has appended those already).
            before = self.shared.pop(name)
            prior = self.keys.view()[: before.size]
            own = self.own[name] = _Own(before, _Growing(self._capacity()))
            own.keys.append(prior)
        below = finite_keys < self.cut
        own.values.append(finite[below])
        own.keys.append(finite_keys[below])

    def finish(self, columns: dict[str, NumericProfile]) -> None:
        """Give every column here its sample: the ``k`` smallest keys of its kept rows.

        Raises :class:`ReserveExhausted` when a column kept fewer than ``k`` values.
        """
        keys = self.keys.view()
        if self.shared:
            if keys.size < self.k:
                raise ReserveExhausted(next(iter(self.shared)))
            # Compacted in place rather than gathered: the ~k/8 rows past the k smallest
            # keys leave holes among the first k slots, which kept rows beyond k fill.
            dropped = np.argpartition(keys, self.k - 1)[self.k :]
            holes = dropped[dropped < self.k]
            fillers = np.ones(keys.size - self.k, dtype=bool)
            fillers[dropped[dropped >= self.k] - self.k] = False
            fill = np.flatnonzero(fillers) + self.k
            chosen = keys[: self.k].copy()
            chosen[holes] = keys[fill]
            chosen.flags.writeable = False  # shared by the columns, as aligned keys are
            for name, kept in self.shared.items():
                values = kept.data
                values[holes] = values[fill]
                # Shrunk where it lies (realloc): a copy would fault in fresh pages.
                values.resize(self.k, refcheck=False)
                _set_sample(columns[name], values, chosen)
        for name, own in self.own.items():
            if own.values.size < self.k:
                raise ReserveExhausted(name)
            sample, sample_keys = bottom_k(own.values.view(), own.keys.view(), self.k)
            _set_sample(columns[name], sample.copy(), sample_keys.copy())


def _set_sample(
    profile: NumericProfile, sample: NDArray[np.float64], keys: NDArray[np.float64]
) -> None:
    profile.sample = sample
    profile.keys = keys
    profile._sorted_of = None
