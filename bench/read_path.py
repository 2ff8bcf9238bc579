"""analyze's read of the current data alone: the batches, as analyze asks for them, iterated.

``python bench/read_path.py PATH [--column-group N]``

Opens ``PATH`` as ``driftwarden analyze`` opens its current data (storage/dataset.py,
``open_dataset``) and reads every file as the current side's scan does
(analysis/incremental.py ``scan_file``: every column, strings dictionary-encoded, in
column groups of ``analysis.run.COLUMN_GROUP`` unless ``--column-group`` says otherwise,
one file at a time, no window filter), doing nothing with the batches. Prints the rows
read per group pass, the batches and the Arrow memory pool's peak; time it from outside
as a whole process (``/usr/bin/time -v``) against a plain pyarrow scan of the same file
(bench/wide.py ``SCAN_LEAN``).
"""

from __future__ import annotations

import argparse
import json
import sys

import pyarrow as pa

from driftwarden.analysis.run import COLUMN_GROUP
from driftwarden.storage.dataset import DatasetSource, open_dataset
from driftwarden.storage.uri import StorageOptions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--column-group", type=int, default=COLUMN_GROUP)
    args = parser.parse_args()
    dataset = open_dataset(DatasetSource(uri=args.path, label="current data"), StorageOptions())
    names = [n for n in dataset.schema.names if n not in dataset.partition_columns]
    categorical = [n for n in names if pa.types.is_string(dataset.schema.field(n).type)]
    rows = batches = 0
    for info in dataset.files:
        for batch in dataset.batches(
            names,
            dictionary_columns=categorical,
            column_group=args.column_group,
            files=[info],
            whole=True,
        ):
            rows += batch.num_rows
            batches += 1
    pool = pa.default_memory_pool()
    print(
        json.dumps(
            {
                "rows_times_groups": rows,
                "batches": batches,
                "pool": pool.backend_name,
                "pool_peak_mib": round(pool.max_memory() / 2**20, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
