"""The partitioned label join: same rows as a plain join, every prediction accounted for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from driftwarden.model.join import LABEL, Coverage, JoinColumns, join_labels, micros, partitions_for
from driftwarden.model.keys import common_id_type, id_hashes

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR_US = 3_600_000_000


def _logs(rng: np.random.Generator, n: int, string_ids: bool):
    """Predictions at hourly-ish times; labels 0-60 h later for 80% of ids, some twice."""
    ids = np.arange(n)
    ts = T0 + timedelta(hours=1) * 0
    pred_us = rng.integers(0, 48, n) * HOUR_US
    delays = rng.integers(0, 60, n) * HOUR_US
    labeled = rng.random(n) < 0.8
    lab_ids = ids[labeled]
    lab_ts = pred_us[labeled] + delays[labeled]
    values = rng.integers(0, 2, lab_ids.size)
    # a correction for 10% of them, a day later, with the other class
    again = rng.random(lab_ids.size) < 0.1
    lab_ids = np.r_[lab_ids, lab_ids[again]]
    lab_ts = np.r_[lab_ts, lab_ts[again] + 24 * HOUR_US]
    values = np.r_[values, 1 - values[again]]
    as_id = (lambda a: pa.array([f"req-{i}" for i in a])) if string_ids else pa.array
    start = int(ts.timestamp() * 1e6)
    predictions = pa.table(
        {
            "request": as_id(ids),
            "ts": pa.array(start + pred_us, pa.timestamp("us", "UTC")),
            "pred": pa.array(rng.integers(0, 2, n)),
        }
    )
    labels = pa.table(
        {
            "rid": as_id(lab_ids),
            "at": pa.array(start + lab_ts, pa.timestamp("us", "UTC")),
            "y": pa.array(values),
        }
    )
    return predictions, labels


def _expected(predictions: pa.Table, labels: pa.Table, window_us: float, now_us: float):
    """A plain Python join: {prediction row: label}, and the pending count."""
    by_id: dict = {}
    for rid, at, y in zip(
        labels["rid"].to_pylist(), micros(labels["at"]), labels["y"].to_pylist(), strict=True
    ):
        by_id.setdefault(rid, []).append((at, y))
    chosen, pending = {}, 0
    for rid, ts in zip(predictions["request"].to_pylist(), micros(predictions["ts"]), strict=True):
        inside = [(at, y) for at, y in by_id.get(rid, []) if ts <= at <= ts + window_us]
        if inside:
            chosen[rid] = max(inside, key=lambda p: (p[0], -p[1]))[1]
        elif ts + window_us > now_us:
            pending += 1
    return chosen, pending


@pytest.mark.parametrize("partitions", [1, 7])
@pytest.mark.parametrize("string_ids", [False, True])
def test_partitioned_join_equals_a_plain_join(tmp_path, partitions, string_ids):
    rng = np.random.default_rng(partitions)
    predictions, labels = _logs(rng, 3000, string_ids)
    window = timedelta(hours=36)
    now = T0 + timedelta(hours=60)
    columns = JoinColumns("request", "rid", "y", "ts", "at", window)
    coverage = Coverage()
    id_type = common_id_type(predictions["request"].type, labels["rid"].type)
    parts = list(
        join_labels(
            predictions.to_batches(500),
            labels.to_batches(333),
            columns,
            id_type,
            coverage=coverage,
            now=now,
            partitions=partitions,
            spill_dir=str(tmp_path),
        )
    )
    assert len(parts) == partitions
    got = {}
    for part in parts:
        got.update(zip(part["request"].to_pylist(), part[LABEL].to_pylist(), strict=True))
    want, pending = _expected(
        predictions,
        labels,
        window.total_seconds() * 1e6,
        micros(pa.array([now], pa.timestamp("us", "UTC")))[0],
    )
    assert got == want
    assert coverage.labeled == len(want)
    assert coverage.pending == pending
    assert coverage.predictions == 3000
    assert coverage.labeled + coverage.pending + coverage.unlabeled == 3000
    assert coverage.pending > 0 and coverage.unlabeled > 0  # the data exercises both
    assert list(tmp_path.iterdir()) == []  # spill files removed


def test_without_a_window_any_label_counts_and_null_ids_are_counted():
    predictions = pa.table({"id": pa.array([1, 2, None, 4]), "p": [0, 1, 1, 0]})
    labels = pa.table({"id": pa.array([1, 2, 2, 9], pa.int32()), "y": [1, 0, 1, 1]})
    coverage = Coverage()
    (part,) = join_labels(
        predictions.to_batches(),
        labels.to_batches(),
        JoinColumns("id", "id", "y"),
        common_id_type(pa.int64(), pa.int32()),
        coverage=coverage,
        now=T0,
    )
    assert dict(zip(part["id"].to_pylist(), part[LABEL].to_pylist(), strict=True)) == {1: 1, 2: 0}
    assert (coverage.labeled, coverage.without_id, coverage.unlabeled, coverage.pending) == (
        2,
        1,
        1,
        0,
    )


def test_integer_and_string_ids_meet_as_strings():
    assert common_id_type(pa.int64(), pa.string()) == pa.large_string()
    ids = pa.array(["7", "8"], pa.large_string())
    assert (id_hashes(ids) == id_hashes(pa.array([7, 8]).cast(pa.large_string()))).all()


def test_partitions_grow_with_input_and_are_capped():
    assert partitions_for(0) == 1
    assert partitions_for(10**9) == 15
    assert partitions_for(10**13) == 256
