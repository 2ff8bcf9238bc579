"""The measured workloads that are not the driftwarden CLI; each runs in its own process.

``python bench/workloads.py scan PATH --columns a,b,…``
    The baseline: a plain pyarrow dataset scan of the columns, every batch iterated
    and nothing else done with it.

``python bench/workloads.py scipy REF CUR --numeric a,b,… --categorical x,y,…``
    Drift checked the way a user would without driftwarden: both datasets loaded fully
    (pyarrow → numpy), then ``scipy.stats.ks_2samp`` and ``wasserstein_distance`` per
    numerical feature and ``chi2_contingency`` on the category counts per categorical
    feature. Categories are counted with ``pyarrow.compute.value_counts`` (fast, and what
    an Arrow user would reach for), not via numpy object arrays.

Each prints one JSON object on stdout with its in-process timings. Only what a
workload needs is imported, so the scan baseline pays no import it would not need.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

STARTED = time.perf_counter()


def scan(path: str, columns: list[str]) -> dict[str, Any]:
    """Iterate every batch of ``columns`` of the dataset at ``path``; returns rows and timings."""
    import pyarrow.dataset as ds

    imported = time.perf_counter()
    rows = 0
    for batch in ds.dataset(path).to_batches(columns=columns):
        rows += batch.num_rows
    done = time.perf_counter()
    return {
        "rows": rows,
        "importSeconds": imported - STARTED,
        "scanSeconds": done - imported,
    }


def _load(path: str, numeric: list[str], categorical: list[str]) -> tuple[dict, dict, int]:
    """Numerical columns as numpy arrays without nulls, categorical ones as value counts."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=numeric + categorical)
    rows = table.num_rows
    arrays = {name: table.column(name).drop_null().to_numpy() for name in numeric}
    counts: dict[str, dict[str, int]] = {}
    for name in categorical:
        counted = pc.value_counts(table.column(name))
        values = counted.field("values").to_pylist()
        totals = counted.field("counts").to_pylist()
        counts[name] = {v: c for v, c in zip(values, totals, strict=True) if v is not None}
    del table
    return arrays, counts, rows


def scipy_check(
    reference: str, current: str, numeric: list[str], categorical: list[str]
) -> dict[str, Any]:
    """Load both datasets fully, then test every feature with scipy; returns results and timings."""
    import numpy as np
    from scipy import stats

    imported = time.perf_counter()
    ref_arrays, ref_counts, ref_rows = _load(reference, numeric, categorical)
    loaded_reference = time.perf_counter()
    cur_arrays, cur_counts, cur_rows = _load(current, numeric, categorical)
    loaded = time.perf_counter()

    features: dict[str, dict[str, float]] = {}
    for name in numeric:
        ref, cur = ref_arrays[name], cur_arrays[name]
        ks = stats.ks_2samp(ref, cur)
        features[name] = {
            "ksStatistic": float(ks.statistic),
            "ksPvalue": float(ks.pvalue),
            "wasserstein": float(stats.wasserstein_distance(ref, cur)),
        }
    for name in categorical:
        labels = sorted(ref_counts[name].keys() | cur_counts[name].keys())
        table = np.array(
            [
                [ref_counts[name].get(label, 0) for label in labels],
                [cur_counts[name].get(label, 0) for label in labels],
            ]
        )
        chi2 = stats.chi2_contingency(table)
        features[name] = {"chi2": float(chi2.statistic), "chi2Pvalue": float(chi2.pvalue)}
    done = time.perf_counter()
    return {
        "rows": {"reference": ref_rows, "current": cur_rows},
        "importSeconds": imported - STARTED,
        "loadReferenceSeconds": loaded_reference - imported,
        "loadCurrentSeconds": loaded - loaded_reference,
        "computeSeconds": done - loaded,
        "features": features,
    }


def _columns(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


def main(argv: list[str] | None = None) -> int:
    """Run one workload and print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="workload", required=True)
    scan_parser = commands.add_parser("scan", help="plain pyarrow scan (the baseline)")
    scan_parser.add_argument("path")
    scan_parser.add_argument("--columns", type=_columns, required=True)
    scipy_parser = commands.add_parser("scipy", help="load everything, test with scipy")
    scipy_parser.add_argument("reference")
    scipy_parser.add_argument("current")
    scipy_parser.add_argument("--numeric", type=_columns, required=True)
    scipy_parser.add_argument("--categorical", type=_columns, required=True)
    args = parser.parse_args(argv)
    if args.workload == "scan":
        result = scan(args.path, args.columns)
    else:
        result = scipy_check(args.reference, args.current, args.numeric, args.categorical)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
