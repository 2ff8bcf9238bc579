"""Profiles of every compared column of a dataset, built in one pass over record batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from driftwarden.profile.categorical import CategoricalProfile
from driftwarden.profile.numeric import NumericProfile
from driftwarden.profile.reserve import ReserveGroup, cut_for
from driftwarden.profile.rows import RowSample
from driftwarden.profile.sampling import AlignedSampler, RowKeys

Kind = Literal["numerical", "categorical"]
ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class ColumnPlan:
    """One column to profile and how to treat it."""

    name: str
    kind: Kind


@dataclass(frozen=True)
class ProfileOptions:
    """Settings that shape a profile; profiles merge only when these are equal."""

    sample_size: int = 32768
    max_categories: int = 10000
    seed: int = 0
    # The row sample (profile/rows.py) of these numerical features, at most
    # ``row_sample_size`` rows; none while ``row_sample_size`` is 0.
    row_features: tuple[str, ...] = ()
    row_sample_size: int = 0

    @property
    def keeps_rows(self) -> bool:
        """True when profiles built with these options keep a row sample."""
        return self.row_sample_size > 0 and bool(self.row_features)


@dataclass
class DatasetProfile:
    """Column profiles of one dataset (or one shard of it) plus the row count."""

    options: ProfileOptions
    columns: dict[str, ColumnProfile]
    rows: int = 0
    metadata: dict[str, object] = field(default_factory=dict)
    # Whole rows of ``options.row_features`` (the multivariate detector's input).
    row_sample: RowSample | None = None

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        """Profile of the union of both inputs' rows."""
        if self.options != other.options:
            raise ValueError(f"cannot merge profiles built with {self.options} and {other.options}")
        if self.columns.keys() != other.columns.keys():
            raise ValueError(
                f"cannot merge profiles of different columns: {sorted(self.columns)} vs {sorted(other.columns)}"
            )
        columns: dict[str, ColumnProfile] = {}
        for name, mine in self.columns.items():
            theirs = other.columns[name]
            if type(mine) is not type(theirs):
                raise ValueError(
                    f"column {name!r} is {_kind(mine)} in one profile and {_kind(theirs)} in the other"
                )
            columns[name] = mine.merge(theirs)  # type: ignore[arg-type]
        row_sample = (
            self.row_sample.merge(other.row_sample)
            if self.row_sample is not None and other.row_sample is not None
            else self.row_sample or other.row_sample
        )
        return DatasetProfile(
            self.options, columns, self.rows + other.rows, dict(self.metadata), row_sample
        )


def _kind(profile: ColumnProfile) -> Kind:
    return "numerical" if isinstance(profile, NumericProfile) else "categorical"


def kind_of(profile: ColumnProfile) -> Kind:
    """``numerical`` or ``categorical``."""
    return _kind(profile)


def empty_profile(
    plan: Sequence[ColumnPlan],
    options: ProfileOptions,
    edges: Mapping[str, NDArray[np.float64]] | None = None,
) -> DatasetProfile:
    """A profile with no rows yet; numerical columns named in ``edges`` also count histograms."""
    columns: dict[str, ColumnProfile] = {}
    for column in plan:
        if column.kind == "numerical":
            profile = NumericProfile(options.sample_size)
            if edges is not None and column.name in edges:
                profile = profile.with_edges(edges[column.name])
            columns[column.name] = profile
        else:
            columns[column.name] = CategoricalProfile(options.max_categories)
    return DatasetProfile(options, columns, row_sample=_row_sample(options))


def _row_sample(options: ProfileOptions) -> RowSample | None:
    if not options.keeps_rows:
        return None
    return RowSample(options.row_features, options.row_sample_size)


def build_profile(
    batches: Iterable[pa.RecordBatch],
    plan: Sequence[ColumnPlan],
    options: ProfileOptions,
    *,
    edges: Mapping[str, NDArray[np.float64]] | None = None,
    on_batch: Callable[[int], None] | None = None,
    stream: bytes = b"",
    rows: int | None = None,
) -> DatasetProfile:
    """Profile the planned columns of ``batches`` in one streaming pass.

    Memory is bounded by the number of columns times the sample size and category
    cap, never by the number of rows. A batch may carry only some of the planned
    columns (wide data is read in column groups): each column is updated from the
    batches that carry it, in order, and rows are counted from the batches that
    carry the first planned column. ``on_batch`` is told those batches' row counts
    (for progress reporting). ``stream`` (e.g. a digest of the file) and the seed key the
    rows' sampling (:class:`~driftwarden.profile.sampling.RowKeys`): a row's key is the
    same for every column, so the samples of columns without nulls or non-finite values
    are the same rows, selected once per batch. With ``options.row_features`` the
    profile also keeps a row sample (:mod:`driftwarden.profile.rows`) of those
    features, from the batches that carry all of them.

    ``rows``, the number of rows the batches carry when it is known up front (a whole
    file's, from its metadata), lets the columns without nulls or non-finite values
    keep only the rows that can end in their sample (:mod:`driftwarden.profile.reserve`):
    the same profile, with less copying. It may then raise
    :class:`~driftwarden.profile.reserve.ReserveExhausted`: profile again without it.
    """
    profile = empty_profile(plan, options, edges)
    keys = RowKeys(options.seed, stream)
    # Columns that had a finite value in every row so far share one sampling selection
    # (profile.sampling): per set of columns a batch carries, as wide data is read in
    # column groups whose batches each cover the same rows.
    groups: dict[tuple[str, ...], _AlignedGroup] = {}
    first = plan[0].name if plan else None
    row_sample = profile.row_sample
    cut = cut_for(rows, options.sample_size)
    for batch in batches:
        names = tuple(batch.schema.names)
        group = groups.get(names)
        if group is None:
            group = groups[names] = _AlignedGroup.of(profile, names, options.sample_size)
            if cut is not None:
                group.reserve = ReserveGroup(cut, options.sample_size)
        reserve = group.reserve
        if reserve is not None:
            reserve.begin(keys.of(group.rows, batch.num_rows))
        aligned: list[tuple[str, NumericProfile, NDArray[np.float64]]] = []
        for name, array in zip(names, batch.columns, strict=True):
            target = profile.columns.get(name)
            if isinstance(target, NumericProfile):
                start = target.rows
                finite, positions = target.observe(array)
                if name in group.members:
                    if positions is None:
                        aligned.append((name, target, finite))
                        continue
                    group.members.discard(name)
                    target.unalign()
                if reserve is not None and reserve.holds(name):
                    # Left the shared rows after keeping some: it keeps its own below the cut.
                    batch_keys = keys.of(start, len(array))
                    reserve.take_own(
                        name, finite, batch_keys if positions is None else batch_keys[positions]
                    )
                elif finite.size:
                    batch_keys = keys.of(start, len(array))
                    target.add_sample(
                        finite, batch_keys if positions is None else batch_keys[positions]
                    )
            elif target is not None:
                # The rows' keys pick a high-cardinality column's candidate labels.
                target.update(array, keys.of(target.rows, len(array)))
        if aligned and batch.num_rows:
            if reserve is not None:
                reserve.take_shared([(name, finite) for name, _, finite in aligned])
            else:
                selection = group.sampler.step(keys.of(group.rows, batch.num_rows))
                for _, target, finite in aligned:
                    target.apply_aligned(selection, finite, group.sampler.keys)
        if row_sample is not None and batch.num_rows and group.has(row_sample.features):
            # The same range of keys as the aligned selection above: computed once.
            row_sample.offer(
                [batch.column(name) for name in row_sample.features],
                keys.of(group.rows, batch.num_rows),
            )
        group.rows += batch.num_rows
        if first is None or first in names:
            profile.rows += batch.num_rows
            if on_batch is not None:
                on_batch(batch.num_rows)
    numeric = {n: c for n, c in profile.columns.items() if isinstance(c, NumericProfile)}
    for group in groups.values():
        if group.reserve is not None:
            group.reserve.finish(numeric)
    return profile


@dataclass
class _AlignedGroup:
    """The numerical columns of one column group still sampled by the shared selection."""

    sampler: AlignedSampler
    members: set[str]
    names: frozenset[str] = frozenset()
    rows: int = 0
    reserve: ReserveGroup | None = None  # the cut's sampling, when the stream's length is known

    def has(self, names: Sequence[str]) -> bool:
        """True when this group's batches carry every one of ``names``."""
        return self.names.issuperset(names)

    @classmethod
    def of(cls, profile: DatasetProfile, names: Sequence[str], k: int) -> _AlignedGroup:
        members = {
            name
            for name in names
            if isinstance(column := profile.columns.get(name), NumericProfile) and column.rows == 0
        }
        return cls(AlignedSampler(k), members, frozenset(names))
