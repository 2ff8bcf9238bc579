"""Sliding windows: hourly runs over a 7-day window of 168 hourly files, full scan vs cached.

``python bench/incremental.py [--rows-per-file N] [--steady S] [--checks C] [--workdir DIR]
[--window-files 168]``

Writes (once, reused) a reference (one file) and ``168 + S`` hourly current files of
``--rows-per-file`` rows with the 25 features of ``spec.py`` and a ``ts`` column, each
file holding one hour. Then, every run a fresh ``driftwarden analyze`` process measured
by ``os.wait4`` (``run.run_child``: wall, CPU, peak RSS) with the reference profile
cached (an untimed warm-up), a 168h window and ``--window-end`` on the hour:

* **full**: the window cache of the current data empty, so all 168 files are scanned
  (and the cache laid out): run 1 of a monitor;
* **uncached**: ``--no-profile-cache``: no cache read or written, the reference
  (10 files' worth of rows) scanned too: what a full scan costs without any caching;
* **steady**: the window moved by one hour since the previous run: one new file is
  scanned, the rest merged from the cache. S of them in a row, so the run where the
  front of the aggregation runs out (after 84) and the runs that then build the
  middle's suffixes are among them.

Every process runs with bytecode, as in the container image (pip compiles the installed
wheel): ``PYTHONDONTWRITEBYTECODE`` is dropped and ``PYTHONPYCACHEPREFIX`` points into
the work directory, so the warm-up compiles driftwarden's modules once and no source tree
is written to. In an editable install without it every process compiles ~45 modules
(~40 ms of CPU, bench/RESULTS.md addendum 3); ``--source`` measures that way.

``--checks`` of the steady runs (spread evenly) are followed by a full and an uncached
run at the same window end (the window cache set aside meanwhile): those are the baselines
(interleaved with the steady runs, so both see the same machine), and each report's
features and dataset verdict must equal the steady run's exactly. Prints one JSON line
per run and a JSON summary (medians; ratios steady / full for wall, CPU and the run's
own ``durationSeconds``); nothing is asserted but the equality. The figures go into
RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import run

WINDOW_FILES = 168  # 7 days of hourly files
T0 = datetime(2026, 11, 1, tzinfo=UTC)

GENERATE = """
import sys
from datetime import datetime, timedelta, UTC
from pathlib import Path
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
sys.path.insert(0, sys.argv[1])
import datagen
root, rows, hours = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t0 = datetime.fromisoformat(sys.argv[5])
reference = root / "reference" / "part-000.parquet"
if not reference.exists():
    reference.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_batches([datagen.make_batch(np.random.default_rng(1), 10 * rows, False)]), reference)
current = root / "current"
current.mkdir(parents=True, exist_ok=True)
for hour in range(hours):
    path = current / f"hour-{hour:04d}.parquet"
    if path.exists():
        continue
    rng = np.random.default_rng(1000 + hour)
    batch = datagen.make_batch(rng, rows, shifted=hour >= hours // 2)
    start = np.datetime64(t0.replace(tzinfo=None), "us") + np.timedelta64(hour, "h")
    ts = start + np.sort(rng.integers(0, 3_600_000_000, rows)).astype("timedelta64[us]")
    table = pa.Table.from_batches([batch]).append_column("ts", pa.array(ts, pa.timestamp("us", "UTC")))
    pq.write_table(table, path.with_suffix(".partial"))
    path.with_suffix(".partial").rename(path)
"""


def generate(workdir: Path, rows: int, hours: int) -> None:
    """The reference and ``hours`` hourly files (kept and reused), in a child process."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            GENERATE,
            str(run.BENCH_DIR),
            str(workdir / "data"),
            str(rows),
            str(hours),
            T0.isoformat(),
        ],
        check=True,
    )


class Incremental:
    """The runs of one invocation."""

    def __init__(self, workdir: Path, python: str, window_files: int) -> None:
        self.workdir = workdir
        self.window_files = window_files
        self.python = python
        self.cache = workdir / "cache"
        self.logs = workdir / "logs"
        self.results: list[dict[str, Any]] = []

    def analyze(self, kind: str, hour: int, cached: bool = True) -> dict[str, Any]:
        """One timed ``driftwarden analyze`` with the window ending ``hour`` hours after T0."""
        out = self.workdir / "out" / f"{kind}-{hour}"
        end = (T0 + timedelta(hours=hour)).isoformat().replace("+00:00", "Z")
        argv = [
            self.python,
            "-m",
            "driftwarden.cli.main",
            "analyze",
            "--reference",
            str(self.workdir / "data" / "reference"),
            "--current",
            str(self.workdir / "data" / "current"),
            "--timestamp-column",
            "ts",
            "--window",
            f"{self.window_files}h",
            "--window-end",
            end,
            *(["--profile-cache", str(self.cache)] if cached else ["--no-profile-cache"]),
            "--output",
            str(out),
            "--quiet",
        ]
        self.logs.mkdir(parents=True, exist_ok=True)
        child = run.run_child(
            argv, self.logs / f"{kind}-{hour}.out", self.logs / f"{kind}-{hour}.err"
        )
        if child.code not in (0, 1):  # 1: drift found, a normal outcome
            err = (self.logs / f"{kind}-{hour}.err").read_text()[-2000:]
            raise SystemExit(f"{kind} run at hour {hour} exited {child.code}: {err}")
        report = json.loads((out / "report.json").read_text())
        record = {
            "kind": kind,
            "hour": hour,
            "wall": round(child.wall, 3),
            "cpu": round(child.cpu, 3),
            "rssMiB": round(child.rss / run.MIB, 1),
            "duration": report["durationSeconds"],
            "files": report["current"].get("files"),
            "rows": report["current"]["rows"],
            "cacheMiB": round(self.window_cache_bytes() / run.MIB, 1),
        }
        print(json.dumps(record), flush=True)
        self.results.append(record)
        return report

    def window_cache_bytes(self) -> int:
        """What the current data's window cache holds on disk after the run."""
        return sum(
            entry.stat().st_size
            for space in self.cache.glob("current-*")
            for entry in space.iterdir()
            if entry.is_file()
        )

    def empty_window_cache(self) -> None:
        """Drop the current data's window cache; the reference profile stays cached."""
        for space in self.cache.glob("current-*"):
            shutil.rmtree(space)

    def measure(self, steady: int, checks: int) -> list[str]:
        """Warm-up, a full run, ``steady`` steady runs with ``checks`` full runs between."""
        first = self.window_files
        self.analyze("warmup", first)  # caches the reference profile; untimed
        self.empty_window_cache()
        self.analyze("full", first)
        at = {round(steady * (i + 1) / checks) for i in range(checks)} if checks else set()
        mismatches = []
        for step in range(1, steady + 1):
            hour = first + step
            report = self.analyze("steady", hour)
            if step in at:
                keep = self.workdir / "cache-keep"
                keep.mkdir(exist_ok=True)
                for space in self.cache.glob("current-*"):  # set aside, not lost
                    shutil.move(str(space), str(keep / space.name))
                full = self.analyze("full", hour)
                self.empty_window_cache()
                for space in keep.glob("current-*"):
                    shutil.move(str(space), str(self.cache / space.name))
                plain = self.analyze("uncached", hour, cached=False)
                for other in (full, plain):
                    if (report["features"], report["dataset"]) != (
                        other["features"],
                        other["dataset"],
                    ):
                        mismatches.append(f"hour {hour}")
        return mismatches


def summarize(results: list[dict[str, Any]], mismatches: list[str]) -> dict[str, Any]:
    """Medians per kind and the steady / full ratios."""

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results if r["kind"] == kind)

    summary: dict[str, Any] = {"runs": {}, "ratios": {}, "equalToFullScan": not mismatches}
    for kind in ("full", "uncached", "steady"):
        count = sum(1 for r in results if r["kind"] == kind)
        summary["runs"][kind] = {"count": count} | {
            key: median(kind, key) for key in ("wall", "cpu", "duration", "rssMiB")
        }
        summary["runs"][kind]["maxWall"] = max(r["wall"] for r in results if r["kind"] == kind)
    for base in ("full", "uncached"):
        summary["ratios"][base] = {
            key: round(median("steady", key) / median(base, key), 4)
            for key in ("wall", "cpu", "duration")
        }
    steady = [r for r in results if r["kind"] == "steady"]
    # Plain runs only slide the window (3 cached profiles read); building runs also build
    # one of the middle's suffix aggregates (5 read): every run after the first 84 does,
    # so the building run is the lasting steady state (RESULTS.md, addendum 9).
    building = [r for r in steady if r["files"]["cacheReads"] > 3]
    if building:
        summary["building"] = {"count": len(building)} | {
            key: statistics.median(r[key] for r in building) for key in ("wall", "cpu", "duration")
        }
        summary["ratios"]["buildingToUncached"] = {
            key: round(summary["building"][key] / median("uncached", key), 4)
            for key in ("wall", "cpu", "duration")
        }
    summary["steadyMaxCacheReads"] = max(r["files"]["cacheReads"] for r in steady)
    summary["cacheMiB"] = {
        "afterFull": statistics.median(r["cacheMiB"] for r in results if r["kind"] == "full"),
        "steadyMax": max(r["cacheMiB"] for r in steady),
        "steadyMedian": statistics.median(r["cacheMiB"] for r in steady),
    }
    summary["steadyScanned"] = sorted({r["files"]["scanned"] for r in steady})
    summary["mismatches"] = mismatches
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-file", type=int, default=60_000)
    parser.add_argument("--steady", type=int, default=100, help="steady-state runs")
    parser.add_argument("--checks", type=int, default=4, help="full runs between them")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dw-incremental"))
    parser.add_argument("--python", default=sys.executable, help="runs driftwarden")
    parser.add_argument(
        "--window-files", type=int, default=WINDOW_FILES, help="hourly files in the window"
    )
    parser.add_argument(
        "--source", action="store_true", help="no bytecode: compile every module in every run"
    )
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    if not args.source:  # the children inherit this environment (run.run_child)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    generate(workdir, args.rows_per_file, args.window_files + args.steady)
    for stale in ("cache", "out", "logs", "cache-keep"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    bench = Incremental(workdir, args.python, args.window_files)
    mismatches = bench.measure(args.steady, args.checks)
    summary = summarize(bench.results, mismatches) | {
        "rowsPerFile": args.rows_per_file,
        "windowFiles": args.window_files,
        "windowDataMiB": round(
            sum(
                p.stat().st_size
                for p in sorted((workdir / "data" / "current").glob("*.parquet"))[
                    : args.window_files
                ]
            )
            / run.MIB,
            1,
        ),
        "bytecode": not args.source,
        "machine": run.machine_facts(),
    }
    print(json.dumps(summary, indent=2))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
