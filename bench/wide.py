"""Wide-data workload: 10^5 rows x 1,000 float64 features, peak RSS and time per process.

``python bench/wide.py [--rows N] [--features F] [--repeat R] [--workdir DIR]``

Writes (once, reused) a reference and a current Parquet file of ``rows`` rows and
``features`` float64 columns (row groups of 20,000 rows; ten features shifted 0.3
sigma in the current data), caches the reference profile with an untimed warm-up,
then runs, as fresh child processes and in turn:

* ``scan``: ``pyarrow.dataset`` scan of every column of the current file, every batch
  iterated (what reading the data costs at all);
* ``scan_lean``: the same without Parquet pre-buffering (as driftwarden reads local
  Parquet): a leaner, faster baseline;
* ``analyze``: ``driftwarden analyze`` with the reference profile cached and the
  current file profiled (what the cache holds of it is dropped before each run:
  ``run.forget_current``), checked in each run's report.

Children run with bytecode, as the image's (``pip install`` compiles it there): this
workplace sets ``PYTHONDONTWRITEBYTECODE=1`` and an editable install, so without it every
analyze compiled driftwarden's ~100 modules from source (~0.12 s of user time a run at
main 31e682e, against an import of ~0.3 s; bench/RESULTS.md, addendum 16f). ``--source``
measures that instead.

Each child's wall time, CPU and user time and exact peak RSS come from ``os.wait4``.
Prints one JSON line per measurement and a summary: medians, max RSS, analyze against
each read as a ratio of the medians and as the median (and max) of the ratios round by
round. Nothing here is
asserted; the figures go into RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import run

ROW_GROUP_ROWS = 20_000
SHIFTED = 10  # the first SHIFTED features move by 0.3 sigma in the current data

SCAN = """
import sys, pyarrow.dataset as ds
d = ds.dataset(sys.argv[1])
rows = 0
for b in d.to_batches():
    rows += b.num_rows
print(rows)
"""

# The same scan without Parquet pre-buffering (what driftwarden's reader uses locally).
SCAN_LEAN = """
import sys, pyarrow.dataset as ds
options = ds.ParquetFragmentScanOptions(pre_buffer=False)
d = ds.dataset(sys.argv[1])
rows = 0
for b in d.to_batches(fragment_scan_options=options):
    rows += b.num_rows
print(rows)
"""


def write(path: Path, rows: int, features: int, seed: int, shifted: bool) -> None:
    """One Parquet file, written a row group at a time."""
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    names = [f"f{i:04d}" for i in range(features)]
    schema = pa.schema([pa.field(n, pa.float64()) for n in names])
    partial = path.with_suffix(".partial")
    with pq.ParquetWriter(partial, schema, compression="snappy") as writer:
        for start in range(0, rows, ROW_GROUP_ROWS):
            n = min(ROW_GROUP_ROWS, rows - start)
            block = rng.normal(size=(features, n))
            if shifted:
                block[:SHIFTED] += 0.3
            writer.write_batch(pa.RecordBatch.from_arrays(list(block), schema=schema))
    partial.rename(path)


def run_child(argv: list[str], logs: Path) -> dict[str, float]:
    """Wall, CPU seconds and peak RSS (MiB) of one child process (``run.run_child``: its
    output goes to files under ``logs``, so a chatty child never blocks on a full pipe)."""
    logs.mkdir(parents=True, exist_ok=True)
    stderr = logs / "child.err"
    child = run.run_child(argv, logs / "child.out", stderr)
    if child.code not in (0, 1):  # analyze exits 1 when drift is found
        raise SystemExit(f"{argv[:3]} failed with {child.code}: {stderr.read_text()[-2000:]}")
    return {
        "wall": child.wall,
        "cpu": child.cpu,
        "user": child.user,
        "rss_mib": child.rss / (1024 * 1024),
    }


def check_report(path: Path) -> None:
    """A timed analyze must take the reference from the cache and scan the current file."""
    report = json.loads(path.read_text())
    if not report["reference"]["profileCached"] or report["current"]["files"]["cached"]:
        raise SystemExit(f"{path}: reference not cached, or current data taken from the cache")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/driftwarden-bench-wide"))
    parser.add_argument(
        "--source", action="store_true", help="no bytecode: compile every module in every run"
    )
    args = parser.parse_args()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    if not args.source:  # the children inherit this environment (run.run_child)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    tag = f"n{args.rows}-f{args.features}"
    ref, cur = work / f"{tag}-reference.parquet", work / f"{tag}-current.parquet"
    write(ref, args.rows, args.features, 1, shifted=False)
    write(cur, args.rows, args.features, 2, shifted=True)
    driftwarden = str(Path(sys.executable).with_name("driftwarden"))
    analyze = [
        driftwarden, "analyze", "--reference", str(ref), "--current", str(cur),
        "--profile-cache", str(work / f"{tag}-cache"), "--output", str(work / f"{tag}-out"),
        "--quiet", "--log-format", "json",
    ]  # fmt: skip
    scan = [sys.executable, "-c", SCAN, str(cur)]
    scan_lean = [sys.executable, "-c", SCAN_LEAN, str(cur)]
    logs = work / f"{tag}-logs"
    # Warm-up: caches the reference profile, fills the page cache and the bytecode.
    run_child(analyze, logs)
    results: dict[str, list[dict[str, float]]] = {"scan": [], "scan_lean": [], "analyze": []}
    for _ in range(args.repeat):
        for name, argv in (("scan", scan), ("scan_lean", scan_lean), ("analyze", analyze)):
            if name == "analyze":
                run.forget_current(work / f"{tag}-cache")
            figure = run_child(argv, logs)
            if name == "analyze":
                check_report(work / f"{tag}-out" / "report.json")
            results[name].append(figure)
            print(json.dumps({"workload": name, **figure}), flush=True)
    summary: dict[str, dict[str, float]] = {
        name: {
            "wall": statistics.median(r["wall"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs),
            "user": statistics.median(r["user"] for r in runs),
            "rss_mib": max(r["rss_mib"] for r in runs),
        }
        for name, runs in results.items()
    }
    for base in ("scan", "scan_lean"):
        summary[f"analyze/{base}"] = {
            key: summary["analyze"][key] / summary[base][key]
            for key in ("wall", "cpu", "user", "rss_mib")
        }
        # Each round's analyze against the same round's read (they ran seconds apart): the
        # ratio a machine whose speed drifts during the call still measures steadily.
        for key in ("wall", "cpu", "user"):
            ratios = [
                a[key] / b[key] for a, b in zip(results["analyze"], results[base], strict=True)
            ]
            summary[f"analyze/{base}"][f"{key}_per_round"] = statistics.median(ratios)
            summary[f"analyze/{base}"][f"{key}_per_round_max"] = max(ratios)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
