"""Join predictions to delayed labels by id, within a time window, in bounded memory.

Labels arrive hours or days after the prediction, in a log of their own. Both
logs can be larger than memory, so the join is a *partitioned hash join* (Grace
hash join): both sides are streamed once and each row is written to one of ``P``
spill files by a hash of its id (:mod:`.keys`); then each partition, which holds
every row of both sides with ids of that hash, is joined in memory by Arrow's
hash join. Peak memory is one batch while spilling and one partition while
joining; ``P`` is chosen from the input's size (:func:`partitions_for`). With
``P = 1`` nothing is spilled.

A prediction made at ``t`` takes a label of its id whose timestamp lies in
``[t, t + window]``; of several, the latest one (a corrected label replaces the
first). Without timestamps (or without a window) any label of the id counts, and
of several the smallest by value, so the result does not depend on file order.

Every prediction row is accounted for in :class:`Coverage`: labeled, pending (no
label yet, but its window is still open at ``now``: the label may still come),
unlabeled (its window closed without a label) or without an id.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from driftwarden.model.keys import id_hashes

LABEL = "__label"  # the label column added to each joined partition
_ROW, _LABEL_ID, _LABEL_TS = "__row", "__label_id", "__label_ts"
# Spill so that one partition holds about this many bytes of input files (compressed
# Parquet decodes to a few times that for the handful of columns a join reads).
PARTITION_BYTES = 64 * 1024 * 1024
MAX_PARTITIONS = 256  # open spill files, two per partition
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Spill files go to the analysis pod's /tmp (an emptyDir: node-local disk), LZ4-compressed:
# 20.3 instead of 25.0 bytes a row for random int64 ids, sorted timestamps, a class and
# a random score (measured); repetitive text ids and labels shrink more.
_SPILL_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass(frozen=True)
class JoinColumns:
    """Which columns the join reads: the prediction log's and the label log's."""

    id: str
    label_id: str
    label: str
    timestamp: str | None = None  # of the prediction
    label_timestamp: str | None = None
    window: timedelta | None = None

    @property
    def windowed(self) -> bool:
        return (
            self.window is not None
            and self.timestamp is not None
            and self.label_timestamp is not None
        )


@dataclass
class Coverage:
    """What became of every prediction row of a period."""

    predictions: int = 0
    labeled: int = 0
    pending: int = 0
    unlabeled: int = 0
    without_id: int = 0
    # labeled, but the prediction (or score) is null: counted in labeled, not scored
    without_prediction: int = 0

    def as_report(self) -> dict[str, Any]:
        """The report's ``coverage`` object (docs/report-schema.md)."""
        return {
            "predictions": self.predictions,
            "labeled": self.labeled,
            "pending": self.pending,
            "unlabeled": self.unlabeled,
            "withoutId": self.without_id,
            "withoutPrediction": self.without_prediction,
            "share": (self.labeled / self.predictions) if self.predictions else None,
        }


def partitions_for(input_bytes: int) -> int:
    """How many spill partitions a join of this many input bytes uses."""
    return max(1, min(MAX_PARTITIONS, math.ceil(input_bytes / PARTITION_BYTES)))


def micros(values: pa.Array | pa.ChunkedArray) -> NDArray[np.float64]:
    """Microseconds since the epoch (UTC) of a timestamp, date or ISO-8601 string column;
    NaN where null. Naive timestamps are taken as UTC, as the window filter does."""
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            values = pc.cast(values, pa.timestamp("us", "UTC"))
        except pa.ArrowInvalid:
            values = pc.cast(values, pa.timestamp("us"))
        kind = values.type
    if pa.types.is_date(kind):
        values = pc.cast(pc.cast(values, pa.date32()), pa.int32())
        scale = 86_400_000_000.0
    elif pa.types.is_timestamp(kind):
        values = pc.cast(pc.cast(values, pa.timestamp("us", kind.tz)), pa.int64())
        scale = 1.0
    else:
        raise TypeError(f"not a time column: {kind}")
    out = np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False), dtype=np.float64)
    out *= scale
    if values.null_count:
        out[np.asarray(values.is_null().to_numpy(zero_copy_only=False))] = np.nan
    return out


def _to_micros(moment: datetime) -> float:
    delta = moment.astimezone(UTC) - _EPOCH
    return float((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


class _Spill:
    """``P`` partitions of one side: in memory for ``P = 1``, Arrow IPC files otherwise."""

    def __init__(self, partitions: int, directory: str | None, name: str) -> None:
        self.partitions = partitions
        self._directory = directory
        self._name = name
        self._memory: list[pa.RecordBatch] = []
        self._writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self._schema: pa.Schema | None = None

    def _path(self, index: int) -> str:
        assert self._directory is not None
        return os.path.join(self._directory, f"{self._name}-{index}.arrows")

    def write(self, batch: pa.RecordBatch, hashes: NDArray[np.uint64]) -> None:
        if self._schema is None:
            self._schema = batch.schema
        if self.partitions == 1:
            self._memory.append(batch)
            return
        part = (hashes % np.uint64(self.partitions)).astype(np.intp)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(self.partitions + 1))
        for index in range(self.partitions):
            lo, hi = int(bounds[index]), int(bounds[index + 1])
            if lo == hi:
                continue
            writer = self._writers.get(index)
            if writer is None:
                writer = pa.ipc.new_stream(self._path(index), self._schema, options=_SPILL_OPTIONS)
                self._writers[index] = writer
            writer.write_batch(batch.take(pa.array(order[lo:hi])))

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()

    def read(self, index: int) -> pa.Table | None:
        """Partition ``index`` (None when no row went there); its file is removed."""
        if self._schema is None:
            return None
        if self.partitions == 1:
            return pa.Table.from_batches(self._memory, schema=self._schema)
        if index not in self._writers:
            return None
        with pa.memory_map(self._path(index)) as source:
            table = pa.ipc.open_stream(source).read_all()
        os.unlink(self._path(index))  # the partition is consumed: free its disk now
        return table


def _cast_id(batch: pa.RecordBatch, name: str, id_type: pa.DataType) -> pa.Array:
    column = batch.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column if column.type == id_type else pc.cast(column, id_type)


def join_labels(
    predictions: Iterable[pa.RecordBatch],
    labels: Iterable[pa.RecordBatch],
    columns: JoinColumns,
    id_type: pa.DataType,
    *,
    coverage: Coverage,
    now: datetime,
    partitions: int = 1,
    spill_dir: str | None = None,
) -> Iterator[pa.Table]:
    """Yield, partition by partition, the prediction rows that found a label.

    Each table holds the prediction batches' columns (the id cast to ``id_type``)
    and the chosen label in :data:`LABEL`. ``coverage`` counts every prediction
    row; it is complete once the iterator is exhausted. ``spill_dir`` (default: a
    temporary directory, removed at the end) receives the partition files.
    """
    with tempfile.TemporaryDirectory(prefix="dw-join-", dir=spill_dir) as directory:
        label_side = _Spill(partitions, directory, "labels")
        for batch in labels:
            ids = _cast_id(batch, columns.label_id, id_type)
            fields: dict[str, Any] = {_LABEL_ID: ids, LABEL: batch.column(columns.label)}
            if columns.windowed:
                assert columns.label_timestamp is not None
                fields[_LABEL_TS] = pa.array(micros(batch.column(columns.label_timestamp)))
            table = pa.RecordBatch.from_pydict(fields)
            keep = pc.and_(pc.is_valid(ids), pc.is_valid(table.column(LABEL)))
            table = table.filter(keep)
            if table.num_rows:
                label_side.write(table, id_hashes(table.column(_LABEL_ID)))
        label_side.close()

        prediction_side = _Spill(partitions, directory, "predictions")
        for batch in predictions:
            ids = _cast_id(batch, columns.id, id_type)
            batch = batch.set_column(batch.schema.get_field_index(columns.id), columns.id, ids)
            coverage.predictions += batch.num_rows
            coverage.without_id += ids.null_count
            if ids.null_count:
                batch = batch.filter(pc.is_valid(ids))
            if batch.num_rows:
                prediction_side.write(batch, id_hashes(batch.column(columns.id)))
        prediction_side.close()

        now_us = _to_micros(now)
        for index in range(partitions):
            table = prediction_side.read(index)
            if table is None or table.num_rows == 0:
                continue
            matched = _join_partition(table, label_side.read(index), columns)
            if columns.windowed:
                assert columns.timestamp is not None and columns.window is not None
                open_until = micros(table.column(columns.timestamp)) + (
                    columns.window.total_seconds() * 1e6
                )
                unmatched = np.ones(table.num_rows, dtype=bool)
                unmatched[matched[0]] = False
                pending = int(np.count_nonzero(unmatched & (open_until > now_us)))
            else:
                pending = 0
            coverage.labeled += matched[0].size
            coverage.pending += pending
            coverage.unlabeled += table.num_rows - matched[0].size - pending
            if matched[0].size:
                yield table.take(pa.array(matched[0])).append_column(LABEL, matched[1])


def _join_partition(
    predictions: pa.Table, labels: pa.Table | None, columns: JoinColumns
) -> tuple[NDArray[np.intp], pa.Array]:
    """Positions of the prediction rows that found a label, and those labels."""
    if labels is None or labels.num_rows == 0:
        return np.zeros(0, dtype=np.intp), pa.array([])
    keys: dict[str, Any] = {
        _ROW: pa.array(np.arange(predictions.num_rows, dtype=np.int64)),
        columns.id: predictions.column(columns.id),
    }
    if columns.windowed:
        assert columns.timestamp is not None
        keys["__ts"] = pa.array(micros(predictions.column(columns.timestamp)))
    joined = pa.table(keys).join(
        labels, keys=columns.id, right_keys=_LABEL_ID, join_type="inner", use_threads=False
    )
    if columns.windowed:
        assert columns.window is not None
        ts = joined.column("__ts").to_numpy()
        label_ts = joined.column(_LABEL_TS).to_numpy()
        with np.errstate(invalid="ignore"):
            inside = (label_ts >= ts) & (label_ts <= ts + columns.window.total_seconds() * 1e6)
        joined = joined.filter(pa.array(inside))
        order = [(_ROW, "ascending"), (_LABEL_TS, "descending"), (LABEL, "ascending")]
    else:
        order = [(_ROW, "ascending"), (LABEL, "ascending")]
    if joined.num_rows == 0:
        return np.zeros(0, dtype=np.intp), pa.array([], type=labels.schema.field(LABEL).type)
    joined = joined.take(pc.sort_indices(joined, sort_keys=order))
    rows = joined.column(_ROW).to_numpy()
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    return rows[first].astype(np.intp), joined.column(LABEL).take(pa.array(first)).combine_chunks()
