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

The shared columns of a group keep their rows in one block (:class:`_Block`) whose
first ``k`` slots a row end as that column's sample: there the first touch of the
samples' memory (~64k page faults at 1,000 features, ~0.08 s of the profiling thread)
is taken by a second thread, and the last step is one C call per group (addendum 18v:
analyze ~0.08 s faster in wall time there, paired).
"""

from __future__ import annotations

import math
import mmap
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from driftwarden import native
from driftwarden.background import Background
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


class _Block:
    """The shared columns' kept values, a row each, in two blocks: a row's first ``k``
    values in ``head`` (columns x k), the rest (~k/8) in ``tail``.

    ``head`` ends as the samples themselves, each a row view (writeable, as an array of
    its own is): ``finish`` fills the holes the dropped rows leave in it from ``tail``,
    and no other value moves. Its pages are faulted in by another thread while the
    batches fill it (:func:`_populate_behind`): at 10^5 rows x 1,000 columns the samples'
    first touch is ~64k page faults, ~0.08 s of the profiling thread's CPU that the
    second CPU takes instead."""

    def __init__(self, names: list[str], k: int, spare: int) -> None:
        self.rows = {name: row for row, name in enumerate(names)}
        self.head, self._pages = _fresh_pages(len(names), k)
        self.populating = _populate_behind(self.head)
        self.tail = _fresh_pages(len(names), spare)[0]
        self.size = 0  # values per row (every row has as many: the same kept rows)

    def take(
        self, columns: list[tuple[str, NDArray[np.float64]]], positions: NDArray[np.intp]
    ) -> None:
        """Append ``values[positions]`` to the row of each (name, values) of ``columns``."""
        k = self.head.shape[1]
        start, end = self.size, self.size + positions.size
        split = min(max(k - start, 0), positions.size)  # how many still go to head
        if end - k > self.tail.shape[1]:
            self._grow(end - k)
        for name, values in columns:
            row = self.rows.get(name)
            if row is None:
                raise AssertionError(f"{name!r} joins the shared rows after their first batch")
            if split:
                _take(values, positions[:split], self.head[row], start)
            if split < positions.size:
                _take(values, positions[split:], self.tail[row], start + split - k)
        self.size = end

    def _grow(self, spare: int) -> None:
        # Rare (more kept rows than expected, by six standard deviations): double it.
        grown = _fresh_pages(self.tail.shape[0], max(spare, 2 * self.tail.shape[1]))[0]
        used = max(self.size - self.head.shape[1], 0)
        grown[:, :used] = self.tail[:, :used]
        self.tail = grown

    def leave(self, name: str) -> NDArray[np.float64]:
        """A copy of ``name``'s values (a column leaving the shared rows); its row's pages
        are released."""
        row = self.rows[name]
        k = self.head.shape[1]
        values = np.concatenate(
            [self.head[row, : min(self.size, k)], self.tail[row, : max(self.size - k, 0)]]
        )
        _wait(self.populating)  # long done (it takes milliseconds): not refaulted after
        _release_row(self._pages, k * self.head.itemsize, row)
        return values


def _fresh_pages(rows: int, columns: int) -> tuple[NDArray[np.float64], mmap.mmap | None]:
    """An uninitialised float64 array of a private anonymous mapping of its own, and that
    mapping (None when empty).

    Its own mapping rather than ``np.empty``, which madvises allocations of 4 MiB and
    more for transparent huge pages: in this engine's VM a 2 MiB page fault cost twice the
    CPU of the 512 faults of 4 KiB it replaces (0.21 s against 0.10 s for 16 blocks of
    64 x 32,768 values), so huge pages are left to a system that sets THP to ``always``."""
    size = rows * columns * 8
    if size == 0:
        return np.empty((rows, columns), dtype=np.float64), None
    pages = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
    return np.frombuffer(pages, dtype=np.float64).reshape(rows, columns), pages


def _release_row(pages: mmap.mmap | None, width: int, row: int) -> None:
    """Give the whole pages of row ``row`` (``width`` bytes a row) of a mapping back to the
    system (they read as zeros after): the row of a column that left the shared rows is
    never read again, and a group where many leave would otherwise hold ~k values each."""
    if pages is None or not hasattr(pages, "madvise"):
        return  # empty, or a system without madvise: the row stays as it is
    start = -(-row * width // mmap.PAGESIZE) * mmap.PAGESIZE
    end = (row + 1) * width // mmap.PAGESIZE * mmap.PAGESIZE
    if end > start:
        pages.madvise(mmap.MADV_DONTNEED, start, end - start)


def _populate_behind(pages: NDArray[np.float64]) -> Background | None:
    """Fault in ``pages`` from another thread while this one fills them (the contents do
    not change, so it races with nothing); None without the kernel."""
    kernel = _kernel
    if kernel is None or pages.size == 0:
        return None
    return Background(lambda: kernel.populate(pages))


def _wait(populating: Background | None) -> None:
    """Until the thread :func:`_populate_behind` started is done."""
    if populating is not None:
        populating.wait()


def _take(
    values: NDArray[np.float64], positions: NDArray[np.intp], out: NDArray[np.float64], at: int
) -> None:
    """``out[at : at + positions.size] = values[positions]``."""
    if _kernel is not None:
        _kernel.take(values, positions, out, at)
    else:
        out[at : at + positions.size] = values[positions]


@dataclass
class ReserveGroup:
    """The cut's sampling for the columns of one column group (whose batches cover the
    same rows): those finite in every row so far share the kept rows' positions."""

    cut: float
    k: int
    keys: _Growing = field(init=False)
    # The columns finite in every row so far: the names of the block's live rows.
    shared: set[str] = field(default_factory=set)
    own: dict[str, _Own] = field(default_factory=dict)
    _block: _Block | None = None
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

    def take_shared(self, columns: list[tuple[str, NDArray[np.float64]]]) -> None:
        """The batch's values of the columns finite in every row so far (all their rows),
        as (name, values); the first batch's columns are the only ones that can share."""
        assert self._positions is not None
        if self._block is None:
            names = [name for name, _ in columns]
            self._block = _Block(names, self.k, self._capacity() - self.k)
            self.shared.update(names)
        self._block.take(columns, self._positions)

    def holds(self, name: str) -> bool:
        """True when ``name`` kept rows here, so it cannot start over with its own selection."""
        return name in self.shared or name in self.own

    def take_own(
        self, name: str, finite: NDArray[np.float64], finite_keys: NDArray[np.float64]
    ) -> None:
        """The batch's finite values of a column that left the shared rows, with their keys."""
        own = self.own.get(name)
        if own is None:
            # Leaving now: its rows so far were the shared ones, whose values are its
            # block row's and whose keys are the kept keys before this batch's.
            assert self._block is not None
            self.shared.remove(name)
            before = self._block.size
            values = _Growing(self._capacity())
            values.append(self._block.leave(name))
            own = self.own[name] = _Own(values, _Growing(self._capacity()))
            own.keys.append(self.keys.view()[:before])
        below = finite_keys < self.cut
        own.values.append(finite[below])
        own.keys.append(finite_keys[below])

    def finish(self, columns: dict[str, NumericProfile]) -> None:
        """Give every column here its sample: the ``k`` smallest keys of its kept rows.

        Raises :class:`ReserveExhausted` when a column kept fewer than ``k`` values.
        """
        keys = self.keys.view()
        block, self._block = self._block, None
        if block is not None:
            _wait(block.populating)  # long done: nothing of this run outlives it
        if block is not None and self.shared:
            if keys.size < self.k:
                raise ReserveExhausted(min(self.shared, key=block.rows.__getitem__))
            # The ~k/8 rows past the k smallest keys leave holes among the first k slots
            # (head), which kept rows beyond k (tail) fill: no other value moves.
            dropped = np.argpartition(keys, self.k - 1)[self.k :]
            # Ascending, as ``fill`` is: the moves then stream through each row rather than
            # jump about it (a sample is a set: which hole takes which value is free).
            holes = np.sort(dropped[dropped < self.k])
            fillers = np.ones(keys.size - self.k, dtype=bool)
            fillers[dropped[dropped >= self.k] - self.k] = False
            fill = np.flatnonzero(fillers)
            chosen = keys[: self.k].copy()
            chosen[holes] = keys[fill + self.k]
            chosen.flags.writeable = False  # shared by the columns, as aligned keys are
            head, tail = block.head, block.tail
            rows = np.array(sorted(block.rows[name] for name in self.shared), dtype=np.int64)
            if _kernel is not None:  # the rows of columns that left stay as they are
                _kernel.fill(head, tail, rows, holes, fill)
            else:
                for row in rows:
                    head[row, holes] = tail[row, fill]
            for name in self.shared:
                _set_sample(columns[name], head[block.rows[name]], chosen)
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
