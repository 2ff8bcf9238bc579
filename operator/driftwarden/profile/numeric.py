"""Streaming, mergeable profile of one numerical column.

What is kept, and why:

* counts of rows, nulls, NaN and ±inf, exact;
* 64-bit integers are converted to float64 *unsafely*: beyond ±2^53 a float64 no longer
  holds every integer, so such values (snowflake ids, hashes, nanosecond epochs) are
  rounded to the nearest float64 (relative error ≤ 2^-53, far below any drift
  statistic's resolution). ``rounded`` counts them, and the comparison says so in a
  finding, instead of the safe cast aborting the whole run;
* min, max, mean and the sum of squared deviations (Chan et al.'s pairwise update
  within a pass), over the finite values. Merging adds exact sums instead (``Σ n·mean``
  and ``Σ (m2 + n·mean²)`` as fractions, see :meth:`NumericProfile.exact_sums`), so
  merged moments do not depend on the order or grouping of the merges: the profile of
  a window merged from cached per-file profiles equals the one merged file by file;
* a uniform random sample of the finite values of at most ``sample_size`` values,
  kept as a *bottom-k sample*: every row has a uniform key, a hash of its position in
  the stream (:mod:`driftwarden.profile.sampling`), and the profile keeps the values
  of the ``k`` smallest keys. Merging two profiles keeps the ``k``
  smallest keys of both, which is again a uniform sample of the union, so shards
  merge exactly like one pass. While a column has at most ``k`` finite values the
  sample *is* the column and every statistic on it is exact;
* a histogram on bin edges taken from the reference (``edges``): exact counts of all
  values, with -inf in the first bin and +inf in the last.

Why a sample and not a KLL quantile sketch: measured on this code's hot path, a
KLL update costs ~29 ns per value against ~3 ns for everything else here, which
would make the analysis 5–10× slower than scanning the data; and a 32k-value
sample bounds the CDF error tighter (DKW, 0.9% at 99%) than KLL with k=200 (1.3%).
See docs/statistics.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from driftwarden import native
from driftwarden.profile.sampling import RowKeys, Selection, bottom_k, replace_in_place
from driftwarden.stats import is_sorted
from driftwarden.stats.inference import looks_sorted

_EMPTY = np.empty(0, dtype=np.float64)
# One C pass per batch column for extremes, moments and histogram (native/_profile.c);
# None runs the numpy code below, which also handles every batch with a non-finite value.
_kernel = native.load("_profile")
# What ndarray.min, .max and .sum compute, without their Python wrappers (numpy's
# _methods): observe calls them per column and batch, 15,000 times at 10^5 x 1,000.
_minimum, _maximum, _sum = np.minimum.reduce, np.maximum.reduce, np.add.reduce
_FLOAT64_ID = pa.float64().id
_INT64_IDS = frozenset((pa.int64().id, pa.uint64().id))
# Every integer of at most this magnitude is exactly a float64.
_EXACT_INTEGERS = 2**53


@dataclass
class NumericProfile:
    """Mergeable summary of a numerical column. Build with :meth:`update`, combine with :meth:`merge`."""

    sample_size: int
    rows: int = 0
    nulls: int = 0
    nan: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    finite: int = 0
    rounded: int = 0  # 64-bit integers beyond ±2^53, rounded to the nearest float64
    minimum: float = float("inf")
    maximum: float = float("-inf")
    mean: float = 0.0
    m2: float = 0.0
    sample: NDArray[np.float64] = field(default_factory=lambda: _EMPTY.copy())
    keys: NDArray[np.float64] = field(default_factory=lambda: _EMPTY.copy())
    edges: NDArray[np.float64] | None = None
    bin_counts: NDArray[np.int64] | None = None
    # ``sorted_sample``'s cache, valid while ``_sorted_of`` is the current ``sample`` array.
    _sorted: NDArray[np.float64] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    _sorted_of: NDArray[np.float64] | None = field(default=None, repr=False, compare=False)
    # ``quantile_edges`` by number of bins, computed from ``_sorted`` and dropped with it:
    # a run asks for the reference's edges twice (the current's histograms, then scoring).
    _edges: dict[int, NDArray[np.float64]] = field(default_factory=dict, repr=False, compare=False)
    # Set by ``drop_keys``: the sample's order no longer matters, so ``sorted_sample`` may
    # sort it where it lies instead of into a copy.
    _sort_in_place: bool = field(default=False, repr=False, compare=False)
    # Exact moment sums (``Σ n·mean``, ``Σ (m2 + n·mean²)``) of a merged profile, which
    # ``mean`` and ``m2`` only round; None while the floats are all there is.
    _sums: tuple[Fraction, Fraction] | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------ derived values

    @property
    def missing(self) -> int:
        """Rows without a usable value: nulls and NaN."""
        return self.nulls + self.nan

    @property
    def unusable(self) -> int:
        """Rows without a finite value: nulls, NaN and ±inf.

        What the missing-value check counts: a value that turns into infinity (a
        division by zero upstream) is as broken as a null, and must drift like one.
        """
        return self.rows - self.finite

    @property
    def nonfinite_count(self) -> int:
        """NaN and ±inf values."""
        return self.nan + self.pos_inf + self.neg_inf

    @property
    def exact(self) -> bool:
        """True while the sample holds every finite value, so statistics on it are exact."""
        return self.sample.size == self.finite

    @property
    def variance(self) -> float:
        """Population variance of the finite values (0 with fewer than two)."""
        return self.m2 / self.finite if self.finite > 1 else 0.0

    @property
    def std(self) -> float:
        return math.sqrt(max(self.variance, 0.0))

    def with_edges(self, edges: NDArray[np.float64]) -> NumericProfile:
        """An empty profile of the same settings that also counts a histogram on ``edges``."""
        # Contiguous: the compiled kernel reads it as a plain buffer.
        edges = np.ascontiguousarray(edges, dtype=np.float64)
        return NumericProfile(
            sample_size=self.sample_size,
            edges=edges,
            bin_counts=np.zeros(edges.size + 1, dtype=np.int64),
        )

    # ------------------------------------------------------------ building

    def update(self, array: pa.Array | pa.ChunkedArray, keys: RowKeys) -> None:
        """Add one batch of a column (any numeric Arrow type; nulls allowed).

        ``keys`` are the sampling keys of the stream the batch comes from; the batch's
        rows are the ``len(array)`` after the ones this profile has already seen.
        """
        if isinstance(array, pa.ChunkedArray):
            for chunk in array.chunks:
                self.update(chunk, keys)
            return
        start = self.rows
        finite, positions = self.observe(array)
        if finite.size:
            batch_keys = keys.of(start, len(array))
            self.add_sample(finite, batch_keys if positions is None else batch_keys[positions])

    def observe(self, array: pa.Array) -> tuple[NDArray[np.float64], NDArray[np.intp] | None]:
        """Count one batch (rows, nulls, non-finite values, moments, histogram) but do not
        sample it: the batch's finite values, and their rows in the batch (None when
        every row holds a finite value, the common case)."""
        self.rows += len(array)
        valid: NDArray[np.intp] | None = None
        if array.null_count:
            self.nulls += array.null_count
            valid = np.flatnonzero(array.is_valid().to_numpy(zero_copy_only=False))
            array = pc.drop_null(array)
        type_id = array.type.id  # one lookup: this runs per column and batch
        if type_id in _INT64_IDS:
            self.rounded += _beyond_exact(array)
        if type_id != _FLOAT64_ID:
            # Unsafe on purpose: the safe cast raises on integers beyond ±2^53 (see the
            # module docstring); they are counted above.
            array = pc.cast(array, pa.float64(), safe=False)
        values = array.to_numpy(zero_copy_only=False)
        if values.size == 0:
            return values, valid
        if _kernel is not None:
            # None when a value is NaN or ±inf (nothing counted yet): the numpy path below.
            counts = self.bin_counts
            # A merged profile may keep edges without counts: then no histogram, as below.
            edges = self.edges if counts is not None else None
            found = _kernel.observe(values, edges, counts if edges is not None else None)
            if found is not None:
                lo, hi, s1, s2 = found
                self._add_shifted(values.size, float(values[0]), s1, s2, lo, hi)
                return values, valid
        # NaN propagates through min and max and ±inf would be one of them, so finite
        # extremes prove every value finite: the common case skips a mask and a count.
        lo, hi = float(_minimum(values)), float(_maximum(values))
        extremes: tuple[float, float] | None = None
        if math.isfinite(lo) and math.isfinite(hi):
            finite_count, extremes = values.size, (lo, hi)
        else:
            finite_mask = np.isfinite(values)
            finite_count = int(np.count_nonzero(finite_mask))
        positions = valid
        if finite_count != values.size:
            nan_count = int(np.count_nonzero(np.isnan(values)))
            pos = int(np.count_nonzero(values == np.inf))
            self.nan += nan_count
            self.pos_inf += pos
            self.neg_inf += values.size - finite_count - nan_count - pos
            ordered = values[~np.isnan(values)]  # ±inf stay: they belong in the outer bins
            finite = values[finite_mask]
            positions = np.flatnonzero(finite_mask) if valid is None else valid[finite_mask]
        else:
            ordered = finite = values
        if self.edges is not None and self.bin_counts is not None:
            _add_histogram(self.bin_counts, ordered, self.edges)
        if finite.size:
            self._add_moments(finite, extremes)
        return finite, positions

    def _add_moments(
        self, values: NDArray[np.float64], extremes: tuple[float, float] | None = None
    ) -> None:
        n = values.size
        # Shifting by one of the values keeps sum-of-squares from cancelling when the
        # mean is large compared to the spread.
        shift = float(values[0])
        centred = values - shift
        s1 = float(_sum(centred))
        # einsum, not np.dot: dot hands off to the BLAS library, whose own threads fight
        # Arrow's reader threads on small machines (measured: 45% slower and erratic).
        s2 = float(np.einsum("i,i->", centred, centred))
        lo, hi = extremes or (float(_minimum(values)), float(_maximum(values)))
        self._add_shifted(n, shift, s1, s2, lo, hi)

    def _add_shifted(
        self, n: int, shift: float, s1: float, s2: float, lo: float, hi: float
    ) -> None:
        """Add a batch of ``n`` finite values given Σ(v − shift) and Σ(v − shift)²."""
        self._combine_moments(n, shift + s1 / n, max(s2 - s1 * s1 / n, 0.0), lo, hi)

    def _combine_moments(self, n: int, mean: float, m2: float, lo: float, hi: float) -> None:
        total = self.finite + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.finite * n / total
        self.finite = total
        self.minimum = min(self.minimum, lo)
        self.maximum = max(self.maximum, hi)
        self._sums = None  # the floats changed: any exact sums are stale

    def add_sample(self, values: NDArray[np.float64], keys: NDArray[np.float64]) -> None:
        """Offer finite ``values`` with their rows' ``keys`` to this column's own sample."""
        k = self.sample_size
        if self.sample.size >= k:
            # Only rows whose key falls below the current k-th key can enter.
            enter = keys < self.keys.max()
            if not enter.any():
                return
            values, keys = values[enter], keys[enter]
        if self.sample.size == k and self.sample.flags.writeable and self.keys.flags.writeable:
            replace_in_place(self.sample, self.keys, values, keys)
            self._sorted_of = None  # same array object, new contents
            return
        if self.sample.size == 0 and values.size > k:
            # The first batch fills the sample: select from it directly. Concatenating
            # with the empty sample would copy the whole batch and its keys first.
            self.sample, self.keys = bottom_k(values, keys, k)
            return
        self.sample, self.keys = bottom_k(
            np.concatenate([self.sample, values]), np.concatenate([self.keys, keys]), k
        )

    def apply_aligned(
        self, selection: Selection, values: NDArray[np.float64], keys: NDArray[np.float64]
    ) -> None:
        """Sample a batch as every aligned column does (see :class:`AlignedSampler`):
        ``values`` are the batch's, all finite; ``keys`` the sampler's shared keys."""
        self.sample = selection.apply(self.sample, values)
        self.keys = keys
        self._sorted_of = None

    def unalign(self) -> None:
        """Leave the aligned columns: from now on this column samples on its own keys."""
        self.keys = self.keys.copy()
        if not self.sample.flags.writeable:
            self.sample = self.sample.copy()

    # ------------------------------------------------------------ merging

    def merge(self, other: NumericProfile) -> NumericProfile:
        """A new profile of both inputs, as if their rows had been seen in one pass."""
        if self.sample_size != other.sample_size:
            raise ValueError(
                f"cannot merge profiles with sample sizes {self.sample_size} and {other.sample_size}"
            )
        if (self.edges is None) != (other.edges is None) or (
            self.edges is not None
            and other.edges is not None
            and not np.array_equal(self.edges, other.edges)
        ):
            raise ValueError("cannot merge profiles whose histograms use different bin edges")
        merged = NumericProfile(
            sample_size=self.sample_size,
            rows=self.rows + other.rows,
            nulls=self.nulls + other.nulls,
            nan=self.nan + other.nan,
            pos_inf=self.pos_inf + other.pos_inf,
            neg_inf=self.neg_inf + other.neg_inf,
            minimum=self.minimum,
            maximum=self.maximum,
            mean=self.mean,
            m2=self.m2,
            finite=self.finite,
            rounded=self.rounded + other.rounded,
            edges=self.edges,
            bin_counts=None
            if self.bin_counts is None or other.bin_counts is None
            else self.bin_counts + other.bin_counts,
        )
        mine, theirs = self.exact_sums(), other.exact_sums()
        if not (self.finite and other.finite):
            # A side without finite values adds nothing: the moments stay the other's,
            # floats or sums as they were, so merging an empty shard changes no byte.
            source = self if self.finite else other
            merged.minimum, merged.maximum = source.minimum, source.maximum
            merged.mean, merged.m2, merged.finite = source.mean, source.m2, source.finite
            merged._sums = source._sums
        elif mine is not None and theirs is not None:
            merged.minimum = min(self.minimum, other.minimum)
            merged.maximum = max(self.maximum, other.maximum)
            merged.finite = self.finite + other.finite
            merged._set_sums(mine[0] + theirs[0], mine[1] + theirs[1])
        else:  # an infinite moment has no exact form: floats as before
            merged._combine_moments(
                other.finite, other.mean, other.m2, other.minimum, other.maximum
            )
        merged.sample, merged.keys = bottom_k(
            np.concatenate([self.sample, other.sample]),
            np.concatenate([self.keys, other.keys]),
            self.sample_size,
        )
        return merged

    def exact_sums(self) -> tuple[Fraction, Fraction] | None:
        """``(Σ n·mean, Σ (m2 + n·mean²))`` over the merged parts, as exact fractions.

        Sums of exact values are associative and commutative, so merging through them
        gives the same mean and m2 however the parts are grouped (floats would differ in
        the last bits). A profile built in one pass derives them from its own floats.
        None when a moment is not finite (values near the float64 limit).
        """
        if self._sums is not None:
            return self._sums
        if not (math.isfinite(self.mean) and math.isfinite(self.m2)):
            return None
        mean = Fraction(self.mean)
        return self.finite * mean, Fraction(self.m2) + self.finite * mean * mean

    def _set_sums(self, total: Fraction, squares: Fraction) -> None:
        """Set the exact sums of ``self.finite`` values and the mean and m2 they round to."""
        self._sums = (total, squares)
        if self.finite == 0:
            self.mean = self.m2 = 0.0
            return
        self.mean = _to_float(total / self.finite)
        # Exact, hence never negative (Cauchy-Schwarz); rounded once.
        self.m2 = _to_float(squares - total * total / self.finite)

    # ------------------------------------------------------------ reading

    def quantile_edges(self, bins: int) -> NDArray[np.float64]:
        """Interior bin edges at the sample's quantiles 1/bins … (bins-1)/bins, duplicates removed.

        Discrete columns (few distinct values) get fewer bins, one per distinct step.
        """
        if self.sample.size == 0:
            return _EMPTY.copy()
        ordered = self.sorted_sample  # (re)validates the cache below
        edges = self._edges.get(bins)
        if edges is None:
            quantiles = ordered[_inverted_cdf_positions(ordered.size, bins)]
            # Quantiles at rising levels never decrease, so dropping repeats leaves what
            # np.unique would, without its sort (and its import of numpy.ma, ~7 ms).
            distinct = quantiles[np.concatenate(([True], quantiles[1:] != quantiles[:-1]))]
            # A bin is [e_{i-1}, e_i): an edge at the minimum would leave the first bin empty.
            edges = distinct[distinct > ordered[0]]
            edges.flags.writeable = False  # shared by every caller
            self._edges[bins] = edges
        return edges

    def bin_masses(self, edges: NDArray[np.float64]) -> NDArray[np.float64]:
        """Counts per bin on ``edges``: exact if counted on these edges or if the sample is exact,
        otherwise estimated from the sample and scaled to the number of finite values."""
        if (
            self.bin_counts is not None
            and self.edges is not None
            # The current's histogram is counted on the very array the reference hands out.
            and (self.edges is edges or np.array_equal(self.edges, edges))
        ):
            return self.bin_counts.astype(np.float64)
        # The sample sorted (cached, and a cached profile's is stored sorted): a binary
        # search per edge counts what a pass over the sample per edge would.
        counts = _sorted_histogram(self.sorted_sample, edges).astype(np.float64)
        if not self.exact and self.sample.size:
            counts *= self.finite / self.sample.size
        counts[0] += self.neg_inf
        counts[-1] += self.pos_inf
        return counts

    def drop_keys(self) -> None:
        """Free the sampling keys, for a profile that is only compared from now on (the
        current window's): at 1,000 features the keys and a sorted copy of the samples are
        0.5 GiB. Its sample is then sorted in place by the first :attr:`sorted_sample`,
        on the thread that compares the feature, while the sample is in that core's cache
        (sorting every sample first, in a pass of its own, left the comparison to read each
        one back from memory). Merged later, its sample counts as whole, as a cached
        profile stored without keys does."""
        self.keys = np.broadcast_to(np.zeros(1), self.sample.shape)
        self._sorted_of = None
        self._sort_in_place = bool(self.sample.flags.writeable)

    def mark_sorted(self) -> None:
        """Take the sample as sorted without a full check: for a sample its writer
        stored sorted (profile/serialize.py), whose bytes the file's checksum proves
        unchanged. A cheap guard still refuses one that is plainly not sorted."""
        sample = self.sample
        if looks_sorted(sample):
            self._sorted, self._sorted_of, self._edges = sample, sample, {}

    @property
    def sorted_sample(self) -> NDArray[np.float64]:
        """The sample in ascending order, sorted once (a cached profile stores it sorted,
        so then only an O(n) check runs)."""
        if self._sorted_of is not self.sample:
            sample = self.sample
            if is_sorted(sample):
                self._sorted = sample
            elif self._sort_in_place and sample.flags.writeable:
                sample.sort()
                self._sorted = sample
            else:
                self._sorted = np.sort(sample)
            self._sorted_of = sample
            self._edges = {}
        return self._sorted


def _inverted_cdf_positions(n: int, bins: int) -> NDArray[np.intp]:
    """Where ``np.quantile(sorted, levels, method="inverted_cdf")`` reads a sorted array of
    ``n`` values at the levels 1/bins … (bins-1)/bins, by numpy's own index formula.

    np.quantile partitions a copy of its input even when it is sorted (~0.1 ms per
    32,768-value sample, 0.1 s a run at 1,000 features); the sample here is sorted,
    so the quantiles are a plain gather (equality tested in tests/profile).
    """
    index = n * (np.arange(1, bins) / bins) - 1
    below = np.floor(index)
    positions = np.where(index - below == 0, below, below + 1).astype(np.intp)
    return np.clip(positions, 0, n - 1)


def _beyond_exact(integers: pa.Array) -> int:
    """How many 64-bit integers lie beyond ±2^53, where float64 no longer holds them all.

    Counted on the integers themselves: after the cast 2^53 + 1 reads as 2^53.
    """
    low, high = pc.min_max(integers).values()
    if (high.as_py() or 0) <= _EXACT_INTEGERS and (low.as_py() or 0) >= -_EXACT_INTEGERS:
        return 0  # the common case costs one min/max pass
    bound = pa.scalar(_EXACT_INTEGERS, integers.type)
    outside = pc.greater(integers, bound)
    if pa.types.is_int64(integers.type):
        outside = pc.or_(outside, pc.less(integers, pa.scalar(-_EXACT_INTEGERS, integers.type)))
    return int(pc.sum(outside).as_py() or 0)


def _below(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """How many ``values`` lie below each edge.

    One vectorised comparison per edge is ~15× faster than searchsorted + bincount
    for the ~10 edges used here (measured: 1.5 ns vs 22 ns per value); all edges are
    compared in one broadcast call (one row each), which saves most of the fixed cost
    of nine separate calls: at 1,000 features that cost is paid 5,000 times a run.
    """
    rows = np.less(values, edges[:, np.newaxis])
    return np.fromiter((np.count_nonzero(row) for row in rows), dtype=np.int64, count=edges.size)


def _histogram(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Counts in bins (-inf, e1), [e1, e2), …, [e_last, inf)."""
    counts = np.zeros(edges.size + 1, dtype=np.int64)
    _add_histogram(counts, values, edges)
    return counts


def _add_histogram(
    counts: NDArray[np.int64], values: NDArray[np.float64], edges: NDArray[np.float64]
) -> None:
    """Add :func:`_histogram` of ``values`` to ``counts`` in place: bin i holds
    below(e_i) − below(e_{i−1}), so each count below an edge is added to the bin
    under it and taken from the bin above (no difference array built per batch)."""
    below = _below(values, edges)
    counts[:-1] += below
    counts[1:] -= below
    counts[-1] += values.size


def _sorted_histogram(
    ordered: NDArray[np.float64], edges: NDArray[np.float64]
) -> NDArray[np.int64]:
    """:func:`_histogram` of values in ascending order without NaN."""
    below = np.searchsorted(ordered, edges, side="left")
    counts = np.empty(edges.size + 1, dtype=np.int64)  # bin i: below(e_i) − below(e_{i−1})
    counts[:-1] = below
    counts[-1] = ordered.size
    counts[1:] -= below
    return counts


def _to_float(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
