"""What spec.model.multivariate adds to a run: `driftwarden analyze` with and without it.

Same data, same settings, one pair of whole processes after the other (``paired.py``:
A B A B …, each a fresh child measured by ``os.wait4``, the ratio taken pair by pair, so
a machine that speeds up or slows down during the call moves both). A is the run with the joint detector (the row sample
of every numerical feature while profiling, then PCA and the KS test), B the same
monitor without `spec.model`.

Two cases per size:

* ``cached``: the reference profile cached (warm-up run), the current data profiled
  every time (its window cache, ``current-*``, is dropped before each run, as
  bench/run.py does): the steady state of a scheduled monitor.
* ``cold``: ``--no-profile-cache``: both sides profiled, the row sample built on both.

Usage (from the repository root, the project's venv active or given)::

    .venv/bin/python bench/multivariate.py [--sizes 1e5,1e6] [--runs 5] [--workdir /tmp/dw-mv]

Data: ``--sizes`` rows per side, 20 float64 features (pairs correlated, 1% nulls in
four) and 5 string categoricals, in Parquet; the current side's correlations differ.
Prints the paired report per case (user, system, CPU, wall seconds and peak RSS of A and
of B, and A/B pair by pair: min, median, max) and writes them to
``<workdir>/multivariate.txt``. ``--timeout``: no new pair starts after that many seconds
of a case. The data is written by a child process (``--write-data``), so this process
never imports numpy or pyarrow: a child's peak RSS cannot read below its parent's
(``run.run_child``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from paired import report, run_pairs
from run import _self_max_rss

NUMERICAL = 20
CATEGORICAL = 5


def _write(path: Path, rows: int, seed: int, rho: float) -> None:
    """``rows`` rows: numerical pairs correlated by ``rho``, some nulls, five categoricals."""
    if path.exists():
        return
    # Imported here: only the data-writing child pays for them (see the module docstring).
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {}
    for pair in range(NUMERICAL // 2):
        x = rng.normal(size=rows)
        y = rho * x + np.sqrt(1 - rho * rho) * rng.normal(size=rows)
        for i, values in ((2 * pair, x * (pair + 1)), (2 * pair + 1, y + pair)):
            mask = rng.random(rows) < 0.01 if i % 5 == 0 else None
            columns[f"num_{i:02d}"] = pa.array(values, mask=mask)
    for i in range(CATEGORICAL):
        labels = np.array([f"c{i}_{k}" for k in range(4 + 10 * i)])
        columns[f"cat_{i}"] = pa.array(labels[rng.integers(0, labels.size, rows)])
    pq.write_table(pa.table(columns), path, row_group_size=1_000_000)


def _config(path: Path, reference: Path, current: Path, multivariate: bool) -> None:
    model = "  model:\n    multivariate: {}\n" if multivariate else ""
    path.write_text(
        "apiVersion: driftwarden.io/v1alpha1\nkind: DriftMonitor\n"
        "metadata: {name: bench, namespace: bench}\n"
        f"spec:\n  interval: 1h\n  reference: {{path: {reference}}}\n"
        f"  current: {{path: {current}}}\n{model}"
    )


def _command(driftwarden: str, config: Path, cache: Path | None, output: Path) -> str:
    """One analyze run as a shell command; with a cache, its current-* entries dropped first."""
    run = (
        f"exec {driftwarden} analyze --config {config} --output {output} --quiet --log-format json"
    )
    if cache is None:
        return f"{run} --no-profile-cache"
    return f"rm -rf {cache}/current-*; {run} --profile-cache {cache}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e5,1e6")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dw-multivariate-bench"))
    parser.add_argument("--timeout", type=int, default=1800)
    # Internal: PATH ROWS SEED RHO, one data file written by a child (see _write).
    parser.add_argument("--write-data", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_data:
        path, rows, seed, rho = args.write_data
        _write(Path(path), int(rows), int(seed), float(rho))
        return 0
    driftwarden = str(Path(sys.executable).with_name("driftwarden"))
    work: Path = args.workdir
    reports = []
    for size_text in args.sizes.split(","):
        rows = int(float(size_text))
        data = work / f"rows-{rows}"
        reference, current = data / "ref" / "part.parquet", data / "cur" / "part.parquet"
        for path, seed, rho in ((reference, 1, 0.8), (current, 2, 0.5)):
            argv = [sys.executable, __file__, "--write-data", str(path), str(rows), str(seed)]
            subprocess.run([*argv, str(rho)], check=True)
        configs = {}
        for name, joint in (("with", True), ("without", False)):
            configs[name] = data / f"{name}.yaml"
            _config(configs[name], reference.parent, current.parent, joint)
        for case in ("cached", "cold"):
            commands = {}
            for name in ("with", "without"):
                cache = None if case == "cold" else data / f"cache-{name}"
                if cache is not None:
                    shutil.rmtree(cache, ignore_errors=True)
                output = data / f"out-{case}-{name}"
                commands[name] = _command(driftwarden, configs[name], cache, output)
                # Warm-up outside the timing: the cached case's reference profile.
                subprocess.run(["sh", "-c", commands[name]], check=False)
            pairs = run_pairs(
                ["sh", "-c", commands["with"]],
                ["sh", "-c", commands["without"]],
                args.runs,
                data / f"logs-{case}",
                seconds=args.timeout,
            )
            a, b = (f"sh -c '{commands[name]}'" for name in ("with", "without"))
            text = f"## {rows:,} rows per side, {case}\n{report(a, b, pairs, _self_max_rss())}"
            print(text, flush=True)
            reports.append(text)
            (work / "multivariate.txt").write_text("\n".join(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
