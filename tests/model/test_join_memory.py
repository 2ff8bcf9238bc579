"""The partitioned label join holds one partition, not the logs: its peak memory stays flat
as the logs grow (with partitions in proportion, as partitions_for gives them).

Each join runs in a fresh process, so Arrow's pool peak and the process's peak RSS are
its own. The batches are generated on the fly (constant memory), so what grows is the
join's: unpartitioned it holds every row; partitioned, one partition.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = r"""
import resource, sys
from datetime import UTC, datetime, timedelta
import numpy as np
import pyarrow as pa
from driftwarden.model.join import Coverage, JoinColumns, join_labels

n, partitions, spill = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
BATCH = 65536

def batches(kind):
    rng = np.random.default_rng(1)
    for start in range(0, n, BATCH):
        ids = np.arange(start, min(n, start + BATCH), dtype=np.int64)
        ts = pa.array(1_767_225_600_000_000 + ids * 100_000, pa.timestamp("us", "UTC"))
        value = rng.integers(0, 2, ids.size).astype(np.int8)
        if kind == "predictions":
            yield pa.record_batch({"id": ids, "ts": ts, "pred": value})
        elif ids[0] % 3:  # two thirds of the ids get a label, an hour later
            yield pa.record_batch({"id": ids, "at": pa.array(ts.to_numpy() + np.timedelta64(3600, "s"), pa.timestamp("us", "UTC")), "y": value})

coverage = Coverage()
columns = JoinColumns("id", "id", "y", "ts", "at", timedelta(days=2))
for part in join_labels(batches("predictions"), batches("labels"), columns, pa.int64(),
                        coverage=coverage, now=datetime(2026, 3, 1, tzinfo=UTC),
                        partitions=partitions, spill_dir=spill):
    pass
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(coverage.labeled, pa.default_memory_pool().max_memory(), rss)
"""
MIB = 1 << 20


def _peak(tmp_path, rows: int, partitions: int) -> tuple[int, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(rows), str(partitions), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    labeled, pool, rss = map(int, out.stdout.split())
    return labeled, pool, rss


def test_peak_memory_stays_flat_when_the_logs_grow_four_times(tmp_path):
    small = _peak(tmp_path, 500_000, 4)
    large = _peak(tmp_path, 2_000_000, 16)
    whole = _peak(tmp_path, 2_000_000, 1)
    assert large[0] == whole[0] > 1_000_000  # the same rows found their labels
    # Partitioned: four times the rows, four times the partitions, the same peak.
    assert large[1] <= 1.25 * small[1] + 4 * MIB, (small, large)
    assert large[2] <= small[2] + 32 * MIB, (small, large)
    # Unpartitioned, the same join holds every row: what the partitions bound.
    assert whole[1] > 4 * large[1], (large, whole)
