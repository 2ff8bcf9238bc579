"""Peak RSS of ``driftwarden analyze`` at 10^8 rows against 10^7 (issue 8: memory flat in rows).

Usage (from the repository root, with the project's venv)::

    python bench/huge.py [--repeat 2] [--workdir /tmp/dw-huge] [--keep-data]

Generates (or reuses, see ``datagen.py``) the 10^7-row reference and current datasets
of ``run.py`` and a 10^8-row current dataset (``--sides current``: 40 files of 2.5M
rows, row groups of 1M rows, written one file after the other, so generating takes
no more memory than at 10^7; about 13 GB on disk and 3–4 minutes). An untimed
``analyze`` at 10^7 caches the reference profile, which both sizes share: every
timed ``analyze`` scans only the current data. Then, ``--repeat`` times and
interleaved, each a fresh process measured by ``os.wait4`` (``run.run_child``):

* ``scan`` at 10^7: the plain pyarrow scan of ``run.py`` (the read, for "≤ 1× the read");
* ``analyze`` at 10^7 and at 10^8, reference cached (checked in report.json);
* ``scan`` at 10^8 only with ``--scan-huge`` (a plain dataset scan reads files ahead
  and may hold a lot; it is not the target's measure).

Prints a markdown table (for bench/RESULTS.md) and writes the raw numbers to
``bench/huge_results.json``. Unless ``--keep-data``, the generated data is deleted at
the end (the profile cache and logs are small and stay in ``--workdir``). Like
``run.py``, this process imports neither numpy nor pyarrow, so it does not raise the
floor of its children's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from run import (
    BENCH_DIR,
    DATAGEN,
    MIB,
    Bench,
    SizeData,
    _now,
    _ratio,
    _self_max_rss,
    log,
    machine_facts,
    parse_sizes,
    summarize,
)

RESULTS = BENCH_DIR / "huge_results.json"
FLAT_TARGET = 1.10  # analyze peak RSS at 10^8 / at 10^7, at most
RSS_TARGET = 768 * MIB  # analyze peak RSS at 10^7, at most
SCAN_TARGET = 1.0  # analyze / scan at 10^7, at most
BYTES_PER_ROW = 140  # on disk, all 25 features (13.9 GB at 10^8 rows)
SPARE_BYTES = 2 * 1024**3  # left free on the disk after generating


def generate(workdir: Path, rows: int, sides: str) -> dict[str, Any]:
    """``datagen.py`` in a child process (numpy and pyarrow stay out of this one)."""
    argv = [sys.executable, str(DATAGEN), "--rows", str(rows), "--sides", sides]
    out = subprocess.run(
        [*argv, "--workdir", str(workdir)], stdout=subprocess.PIPE, check=True, text=True
    ).stdout
    info: dict[str, Any] = json.loads(out)
    return info


def check_disk(workdir: Path, rows: int) -> None:
    """Stop before writing a current dataset of ``rows`` rows that would fill the disk."""
    if (workdir / "data" / f"n{rows}-current").exists():
        return  # already generated (datagen.py checks it is complete)
    need = rows * BYTES_PER_ROW + SPARE_BYTES
    free = shutil.disk_usage(workdir).free
    if free < need:
        raise SystemExit(
            f"{rows:,} rows need about {need / 1e9:.0f} GB free under {workdir}; "
            f"{free / 1e9:.0f} GB are"
        )


def imported_from() -> str:
    """Which driftwarden package the children import (PYTHONPATH may point at a worktree)."""
    return subprocess.run(
        [sys.executable, "-c", "import driftwarden; print(driftwarden.__file__)"],
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    ).stdout.strip()


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Generate or reuse the data, warm the profile cache, measure interleaved."""
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    small_rows, huge_rows = args.rows, args.huge_rows
    small = generate(workdir, small_rows, "reference,current")
    check_disk(workdir, huge_rows)
    log(f"generating or reusing {huge_rows:,} current rows (datagen.py, one file at a time)")
    huge = generate(workdir, huge_rows, "current")
    reference = Path(small["reference"])
    sizes = {
        small_rows: SizeData(small_rows, reference, Path(small["current"]), small),
        huge_rows: SizeData(huge_rows, reference, Path(huge["current"]), huge),
    }
    bench = Bench(workdir, [small_rows, huge_rows], args.repeat, command)
    results: dict[str, Any] = {
        "command": command,
        "machine": machine_facts(),
        "driftwarden": imported_from(),
        "startedAt": _now(),
        "data": {str(rows): data.info for rows, data in sizes.items()},
        "warmup": bench.warm(sizes[small_rows]),  # caches the shared reference profile
        "measurements": [],
    }
    plan = [("scan", small_rows), ("analyze", small_rows), ("analyze", huge_rows)]
    if args.scan_huge:
        plan.append(("scan", huge_rows))
    for repeat in range(1, args.repeat + 1):
        for workload, rows in plan:
            results["measurements"].append(bench.timed(workload, sizes[rows], repeat))
    results["finishedAt"] = _now()
    results["loadAverageAfter"] = os.getloadavg()
    results["orchestratorMaxRssBytes"] = _self_max_rss()
    results["summary"] = {
        str(rows): summarize([m for m in results["measurements"] if m["rows"] == rows])
        for rows in sizes
    }
    results["targets"] = targets(results["summary"], small_rows, huge_rows)
    return results


def targets(summary: dict[str, Any], small_rows: int, huge_rows: int) -> list[dict[str, Any]]:
    """Issue 8's targets against this run's figures: peak RSS flat in rows and at most
    768 MiB, analyze at most as slow as the read (wall and CPU)."""
    small, huge = summary[str(small_rows)], summary[str(huge_rows)]
    flat = _ratio(huge["analyze"]["rssMaxBytes"], small["analyze"]["rssMaxBytes"])
    peak = small["analyze"]["rssMaxBytes"]
    wall = _ratio(small["analyze"]["wallMedian"], small["scan"]["wallMedian"])
    cpu = _ratio(small["analyze"].get("cpuMedian"), small["scan"].get("cpuMedian"))

    def target(name: str, value: float | None, limit: float) -> dict[str, Any]:
        return {"target": name, "value": value, "met": None if value is None else value <= limit}

    return [
        target(
            f"analyze peak RSS at {huge_rows:,} / at {small_rows:,} <= {FLAT_TARGET}",
            flat,
            FLAT_TARGET,
        ),
        target(f"analyze peak RSS at {small_rows:,} <= 768 MiB", peak / MIB, RSS_TARGET / MIB),
        target(f"analyze / scan at {small_rows:,}, wall <= {SCAN_TARGET}", wall, SCAN_TARGET),
        target(f"analyze / scan at {small_rows:,}, CPU <= {SCAN_TARGET}", cpu, SCAN_TARGET),
    ]


def render(results: dict[str, Any]) -> str:
    """The table and targets, in markdown (pasted into bench/RESULTS.md by hand)."""
    lines = [
        "| rows | workload | wall median (s) | min–max (s) | CPU median (s) | peak RSS (MiB), each run |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for rows, summary in results["summary"].items():
        for workload, item in summary.items():
            each = [
                m["max_rss_bytes"] / MIB
                for m in results["measurements"]
                if m["workload"] == workload and str(m["rows"]) == rows
            ]
            lines.append(
                f"| {int(rows):,} | {workload} | {item['wallMedian']:.1f} | "
                f"{item['wallMin']:.1f}–{item['wallMax']:.1f} | {item.get('cpuMedian', 0):.1f} | "
                f"**{item['rssMaxBytes'] / MIB:,.0f}** ({', '.join(f'{r:,.0f}' for r in each)}) |"
            )
    lines += ["", "| target | measured | status |", "| --- | ---: | --- |"]
    for t in results["targets"]:
        status = {True: "**met**", False: "**NOT met**", None: "not measured"}[t["met"]]
        value = "n/a" if t["value"] is None else f"{t['value']:.3f}"
        lines.append(f"| {t['target']} | {value} | {status} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write bench/huge_results.json, delete the data."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=lambda t: parse_sizes(t)[0], default=10**7)
    parser.add_argument("--huge-rows", type=lambda t: parse_sizes(t)[0], default=10**8)
    parser.add_argument("--repeat", type=int, default=2, help="measurements per workload")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dw-huge"))
    parser.add_argument("--scan-huge", action="store_true", help="also scan the 10^8 data")
    parser.add_argument("--keep-data", action="store_true", help="keep the generated data")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where the raw numbers go")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.workdir = args.workdir.resolve()
    command = shlex.join(["python", "bench/huge.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        results = run(args, command)
    finally:
        if not args.keep_data:
            shutil.rmtree(args.workdir / "data", ignore_errors=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
