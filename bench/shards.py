"""Sharded scan against one pass (issue 11, point 4): N shard profiles merged, at 10^8 rows.

Usage (from the repository root, with the project's venv)::

    nice -n 5 python bench/shards.py [--rows 1e8] [--shards 4] [--repeat 3] [--workdir /tmp/dw-shards]

It generates (or reuses, ``datagen.py``) a reference of ``--reference-rows`` rows and
a current dataset of ``--rows`` rows (40 files of 2.5M rows at 10^8; ``--files`` sets
the count), caches the reference profile with an untimed ``analyze``, then measures,
``--repeat`` times and interleaved, each a fresh process timed by ``os.wait4`` (wall,
CPU = user + system, exact peak RSS):

* ``startup``: ``driftwarden --version`` (the interpreter and imports, informational);
* ``analyze``: the single pass, ``analyze --reference R --current C`` (reference cached);
* ``profile``: ``driftwarden profile --input C`` (shard 0/1: every file, one process),
  the like-for-like baseline of the shards;
* ``shard``: ``driftwarden profile --input C --shard I/N`` for every I, one after the
  other (CPU time is what is compared; each shard's wall is that of one pod);
* ``merge``: ``analyze --reference R --current-profiles <the N shard profiles>``;
* ``mergeWork``: ``shard_work.py merge``: reading and merging the N profiles in one
  process, after its imports (timed apart), the median of ``--merge-repeat``.

Then the report of the merge is compared with the single pass's, byte for byte after
removing the fields that name the source or the time (``NORMALIZED``), and with the
report of ``analyze --current-profiles <shard 0/1's profile>`` (split invariance on
its own). Once per run: ``--many`` shard profiles of a ``--many-rows``-row dataset of
``--many`` files are written (``shard_work.py write``) and their merge timed, as a
process and in process, and dealing ``--deal-files`` files to ``--many`` shards is
timed (``shard_work.py deal``): the pieces of the projection to 10^10 rows on 100 pods.

It prints a markdown summary, writes the raw numbers to ``bench/shards_results.json``
(``--json`` elsewhere) and deletes the generated data unless ``--keep-data``. Like
``run.py`` it imports neither numpy nor pyarrow (children's peak RSS starts from this
process's).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from driftwarden.sources import RUN_FIELDS, SOURCE_FIELDS
from run import BENCH_DIR, DATAGEN, MIB, _now, _self_max_rss, log, machine_facts, parse_sizes
from run import run_child as spawn

RESULTS = BENCH_DIR / "shards_results.json"
WORK = BENCH_DIR / "shard_work.py"
# Fields of report.json that describe where the current side came from or when the run
# was, not the data (driftwarden/sources.py, the one definition): removed before the byte
# comparison (every other field must match).
NORMALIZED = (*RUN_FIELDS, *(f"current.{name}" for name in SOURCE_FIELDS["current"]))
MERGE_TARGET = 1.0  # seconds: the merge itself (load and merge of the shard profiles)
CPU_TARGET = 1.1  # total CPU of the shards / the single pass, at most
BYTES_PER_ROW = 140  # on disk, all 25 features (13.9 GB at 10^8 rows)
SPARE_BYTES = 2 * 1024**3


class Runner:
    """Runs and checks the child processes of one benchmark invocation."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.bin = Path(sys.executable).parent
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def driftwarden(self) -> str:
        """The venv's ``driftwarden`` executable (else the one on PATH)."""
        found = self.bin / "driftwarden"
        return str(found) if found.exists() else "driftwarden"

    def run(self, name: str, argv: list[str]) -> dict[str, Any]:
        """Run ``argv`` to completion; its cost, its stdout; RuntimeError if it failed."""
        stdout, stderr = self.logs / f"{name}.out", self.logs / f"{name}.err"
        child = spawn(argv, stdout, stderr)
        if child.code != 0:
            raise RuntimeError(
                f"{name} exited {child.code}: {shlex.join(argv)}\n{stderr.read_text()[-3000:]}"
            )
        return {
            "wallSeconds": child.wall,
            "cpuSeconds": child.cpu,
            "maxRssBytes": child.rss,
            "stdout": stdout.read_text(),
        }


def generate(workdir: Path, rows: int, sides: str, files: int | None = None) -> dict[str, Any]:
    """``datagen.py`` in a child process (numpy and pyarrow stay out of this one)."""
    argv = [sys.executable, str(DATAGEN), "--rows", str(rows), "--sides", sides]
    argv += ["--workdir", str(workdir)] + ([] if files is None else ["--files", str(files)])
    info: dict[str, Any] = json.loads(
        subprocess.run(argv, stdout=subprocess.PIPE, check=True, text=True).stdout
    )
    return info


def check_disk(workdir: Path, rows: int) -> None:
    """Stop before writing data that would fill the disk."""
    need = rows * BYTES_PER_ROW + SPARE_BYTES
    free = shutil.disk_usage(workdir).free
    if free < need and not any((workdir / "data").glob(f"n{rows}-current*")):
        raise SystemExit(f"{rows:,} rows need about {need / 1e9:.0f} GB free under {workdir}")


def normalized(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` without the ``NORMALIZED`` fields (a copy)."""
    out = json.loads(json.dumps(report))
    for dotted in NORMALIZED:
        *parents, last = dotted.split(".")
        node = out
        for key in parents:
            node = node[key]
        node.pop(last, None)
    return out


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """The paths at which two JSON values differ (features named, not numbered)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                found.append(f"{path}.{key}".lstrip("."))
            else:
                found += differences(a[key], b[key], f"{path}.{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        named = all(isinstance(x, dict) and "name" in x for x in a + b)
        found = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found += differences(x, y, f"{path}[{x['name'] if named else i}]")
        return found
    return [] if a == b else [path.lstrip(".")]


def compare_reports(a: Path, b: Path) -> dict[str, Any]:
    """Byte identity of two report.json files after ``normalized``; what differs if not."""
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    same_bytes = json.dumps(normalized(left), sort_keys=True) == json.dumps(
        normalized(right), sort_keys=True
    )
    paths = differences(normalized(left), normalized(right))
    # Which fields differ, over all features: "features[*].scores.psi".
    kinds = sorted({_wild(p) for p in paths})
    verdicts = [(f["name"], f["drifted"], f["score"]) for f in left["features"]] == [
        (f["name"], f["drifted"], f["score"]) for f in right["features"]
    ] and left["dataset"] == right["dataset"]
    return {
        "identical": same_bytes and not paths,
        "differingFields": kinds,
        "differingValues": len(paths),
        "sameVerdictsAndScores": verdicts,
    }


def _wild(path: str) -> str:
    """``features[num_00].distribution.current[3]`` → ``features[*].distribution.current[i]``."""
    return re.sub(r"\[\d+\]", "[i]", re.sub(r"^features\[[^\]]+\]", "features[*]", path))


class Bench:
    """The measurements of one invocation, in the order they run."""

    def __init__(self, args: argparse.Namespace, runner: Runner) -> None:
        self.args = args
        self.runner = runner
        self.workdir: Path = args.workdir
        self.cache = self.workdir / "profile-cache"
        self.measurements: list[dict[str, Any]] = []

    def _analyze(self, out: Path, current: list[str]) -> list[str]:
        return [
            self.runner.driftwarden(),
            "analyze",
            "--reference",
            self.reference,
            *current,
            "--profile-cache",
            str(self.cache),
            "--output",
            str(out),
            "--quiet",
            "--log-format",
            "json",
        ]

    def _profile(self, shard: str, output: Path) -> list[str]:
        argv = [self.runner.driftwarden(), "profile", "--input", self.current]
        argv += ["--shard", shard, "--output", str(output), "--log-format", "json"]
        # The analysis's own reference profile: the shards count histograms on its edges.
        return argv if self.args.no_edges else [*argv, "--reference-profiles", self.edges]

    def _timed(self, workload: str, repeat: int, argv: list[str], **extra: Any) -> dict[str, Any]:
        if workload in ("analyze", "merge"):
            _forget_current(self.cache)
        name = f"{workload}-{repeat}" + (f"-{extra['shard']}" if "shard" in extra else "")
        result = self.runner.run(name, argv)
        stdout = result.pop("stdout")
        m = {"workload": workload, "repeat": repeat, **extra, **result}
        if workload.endswith("Work"):
            m["work"] = json.loads(stdout)
        log(
            f"#{repeat} {name:<16} {m['wallSeconds']:7.2f} s wall {m['cpuSeconds']:7.2f} s CPU "
            f"{m['maxRssBytes'] / MIB:6.0f} MiB"
        )
        self.measurements.append(m)
        return m

    def setup(self) -> dict[str, Any]:
        """Generate or reuse the data, cache the reference profile (untimed)."""
        args = self.args
        check_disk(self.workdir, args.rows + args.reference_rows + args.many_rows)
        ref = generate(self.workdir, args.reference_rows, "reference")
        log(f"generating or reusing {args.rows:,} current rows (datagen.py)")
        cur = generate(self.workdir, args.rows, "current", args.files)
        many = generate(self.workdir, args.many_rows, "current", args.many)
        self.reference, self.current, self.many = ref["reference"], cur["current"], many["current"]
        shutil.rmtree(self.cache, ignore_errors=True)  # one reference profile, this run's
        log("warm-up analyze (untimed): caches the reference profile, reads the data once")
        out = self.workdir / "out" / "warm"
        shutil.rmtree(out, ignore_errors=True)
        warm = self.runner.run("warm", self._analyze(out, ["--current", self.current]))
        warm.pop("stdout")
        cached = sorted(self.cache.glob("reference-*.dwprofile"))
        if len(cached) != 1:
            raise RuntimeError(f"expected one cached reference profile in {self.cache}: {cached}")
        self.edges = str(cached[0])
        return {"reference": ref, "current": cur, "many": many, "warmup": warm}

    def repeat(self, r: int) -> dict[str, Any]:
        """One round of every workload; returns the identity checks of this round."""
        n = self.args.shards
        out = self.workdir / "out" / f"r{r}"
        profiles = self.workdir / "profiles" / f"r{r}"
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(profiles, ignore_errors=True)
        profiles.mkdir(parents=True)
        driftwarden = self.runner.driftwarden()
        self._timed("startup", r, [driftwarden, "--version"])
        single = self._timed(
            "analyze", r, self._analyze(out / "single", ["--current", self.current])
        )
        self._check(out / "single", single)
        self._timed("profile", r, self._profile("0/1", profiles / "single.dwprofile"))
        shards = [profiles / f"shard-{i}.dwprofile" for i in range(n)]
        for i, path in enumerate(shards):
            self._timed("shard", r, self._profile(f"{i}/{n}", path), shard=i)
        uris = [str(p) for p in shards]
        merged = self._timed(
            "merge", r, self._analyze(out / "merged", ["--current-profiles", *uris])
        )
        self._check(out / "merged", merged)
        work = [sys.executable, str(WORK), "merge", "--repeat", str(self.args.merge_repeat)]
        work += ["--compare", str(profiles / "single.dwprofile"), *uris]
        work_m = self._timed("mergeWork", r, work)
        # The single shard's profile through the same merge path: split invariance alone.
        self.runner.run(
            f"merge1-{r}",
            self._analyze(out / "one", ["--current-profiles", str(profiles / "single.dwprofile")]),
        )
        checks = {
            "repeat": r,
            "mergedVsSinglePass": compare_reports(
                out / "single" / "report.json", out / "merged" / "report.json"
            ),
            "mergedVsOneShardProfile": compare_reports(
                out / "one" / "report.json", out / "merged" / "report.json"
            ),
            "mergedProfileBytesIdentical": work_m["work"]["identicalToSinglePass"],
        }
        log(f"#{r} identity: {json.dumps(checks)}")
        if not self.args.keep_outputs:
            shutil.rmtree(profiles, ignore_errors=True)
        return checks

    def _check(self, out: Path, m: dict[str, Any]) -> None:
        """Every current row read, the reference from the cache; the run's own duration."""
        report = json.loads((out / "report.json").read_text())
        if report["current"]["rows"] != self.args.rows:
            raise RuntimeError(f"{out}: {report['current']['rows']} current rows")
        if not report["reference"]["profileCached"]:
            raise RuntimeError(f"{out}: the reference profile was not taken from the cache")
        m["durationSeconds"] = report["durationSeconds"]
        m["drifted"] = sorted(f["name"] for f in report["features"] if f["drifted"])

    def many_shards(self) -> dict[str, Any]:
        """``--many`` shard profiles written, their merge timed, dealing timed."""
        count = self.args.many
        where = self.workdir / "profiles" / f"many-{count}"
        shutil.rmtree(where, ignore_errors=True)
        write = [sys.executable, str(WORK), "write", self.many, "--count", str(count)]
        write += ["--output", str(where)] + ([] if self.args.no_edges else ["--edges", self.edges])
        written = self.runner.run("many-write", write)
        uris = [str(where / f"shard-{i}.dwprofile") for i in range(count)]
        merges = []
        for r in range(1, self.args.repeat + 1):
            out = self.workdir / "out" / f"many-{r}"
            shutil.rmtree(out, ignore_errors=True)
            m = self._timed("manyMerge", r, self._analyze(out, ["--current-profiles", *uris]))
            report = json.loads((out / "report.json").read_text())
            m["durationSeconds"] = report["durationSeconds"]
            merges.append(m)
            shutil.rmtree(out, ignore_errors=True)
        work = [sys.executable, str(WORK), "merge", "--repeat", str(self.args.merge_repeat), *uris]
        in_process = self._timed("manyMergeWork", 1, work)
        deal_argv = [sys.executable, str(WORK), "deal", "--files", str(self.args.deal_files)]
        dealt = self.runner.run("deal", [*deal_argv, "--count", str(count)])
        shutil.rmtree(where, ignore_errors=True)
        return {
            "profiles": count,
            "writeWallSeconds": written["wallSeconds"],
            "writeCpuSeconds": written["cpuSeconds"],
            "mergeWork": in_process["work"],
            "deal": json.loads(dealt["stdout"]),
        }


def _forget_current(cache: Path) -> None:
    """Drop what the cache holds of current data, as ``run.forget_current`` does."""
    for space in cache.glob("current-*"):
        shutil.rmtree(space, ignore_errors=True)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(measurements: list[dict[str, Any]], shards: int) -> dict[str, Any]:
    """Medians per workload, and the ratios taken repeat by repeat, then their median."""

    def of(workload: str, key: str, repeat: int | None = None) -> list[float]:
        return [
            m[key]
            for m in measurements
            if m["workload"] == workload and (repeat is None or m["repeat"] == repeat)
        ]

    repeats = sorted({m["repeat"] for m in measurements if m["workload"] == "shard"})
    per_repeat = []
    for r in repeats:
        shard_cpu = of("shard", "cpuSeconds", r)
        if len(shard_cpu) != shards:
            continue
        total = sum(shard_cpu)
        merge_cpu = of("merge", "cpuSeconds", r)[0]
        per_repeat.append(
            {
                "repeat": r,
                "shardsCpuSeconds": total,
                "shardsOverProfile": total / of("profile", "cpuSeconds", r)[0],
                "shardsOverAnalyze": total / of("analyze", "cpuSeconds", r)[0],
                "shardsAndMergeOverAnalyze": (total + merge_cpu)
                / of("analyze", "cpuSeconds", r)[0],
                "slowestShardWallSeconds": max(of("shard", "wallSeconds", r)),
            }
        )
    workloads = {}
    for workload in dict.fromkeys(m["workload"] for m in measurements):
        workloads[workload] = {
            "wallMedian": _median(of(workload, "wallSeconds")),
            "cpuMedian": _median(of(workload, "cpuSeconds")),
            "rssMaxBytes": max(of(workload, "maxRssBytes")),
            "runs": len(of(workload, "wallSeconds")),
        }
    merge_work = [m["work"] for m in measurements if m["workload"] == "mergeWork"]
    return {
        "workloads": workloads,
        "perRepeat": per_repeat,
        "shardsOverProfile": _median([p["shardsOverProfile"] for p in per_repeat]),
        "shardsOverAnalyze": _median([p["shardsOverAnalyze"] for p in per_repeat]),
        "shardsAndMergeOverAnalyze": _median([p["shardsAndMergeOverAnalyze"] for p in per_repeat]),
        "mergeSecondsMedian": _median([w["mergeMedianSeconds"] for w in merge_work]),
        "mergeCpuSecondsMedian": _median([w["mergeCpuMedianSeconds"] for w in merge_work]),
        # The merge process (analyze --current-profiles): its own run, imports excluded.
        "mergeRunSecondsMedian": _median(of("merge", "durationSeconds")),
        "mergeImportSecondsMedian": _median([w["importSeconds"] for w in merge_work]),
    }


def projection(results: dict[str, Any], rows: int, shards: int) -> dict[str, Any]:
    """Wall time of 10^10 rows on 100 pods from this run's measurements (see RESULTS.md).

    Per pod 10^8 rows: the CPU time of one process profiling ``rows`` rows, scaled by
    rows (one core per pod: its CPU time is its wall time when storage keeps up), then
    the merge of 100 shard profiles as a process. Linearity is checked by comparing the
    per-row CPU time of the shards (rows / shards each) with the single profile's.
    """
    summary = results["summary"]["workloads"]
    startup = summary["startup"]["cpuMedian"]
    per_row_single = (summary["profile"]["cpuMedian"] - startup) / rows
    per_row_shard = (summary["shard"]["cpuMedian"] - startup) / (rows / shards)
    pod_rows = 10**10 // 100
    if per_row_single <= 0 or per_row_shard <= 0:
        # Start-up is timed in a process of its own: at a toy size its noise exceeds the
        # rows' CPU time, and a line through it would project negative seconds.
        return {
            "podRows": pod_rows,
            "wallSeconds": None,
            "reason": f"{rows:,} rows cost no more CPU than start-up in this run: too few to project",
        }
    many = results["many"]
    pod = startup + per_row_single * pod_rows + many["deal"]["dealMedianSeconds"]
    merge = summary["manyMerge"]["wallMedian"]
    return {
        "podRows": pod_rows,
        "cpuPerRowSingleNs": per_row_single * 1e9,
        "cpuPerRowShardNs": per_row_shard * 1e9,
        "linearity": per_row_shard / per_row_single,
        "podSeconds": pod,
        "merge100Seconds": merge,
        "wallSeconds": pod + merge,
        "podBytes": results["data"]["current"]["bytesOnDisk"] * pod_rows / rows,
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 11 point 4's targets against this run's figures."""
    s = results["summary"]

    def target(name: str, value: float | bool, met: bool) -> dict[str, Any]:
        return {"target": name, "value": value, "met": met}

    identical = all(c["mergedVsSinglePass"]["identical"] for c in results["identity"])
    split = all(
        c["mergedVsOneShardProfile"]["identical"] and c["mergedProfileBytesIdentical"]
        for c in results["identity"]
    )
    return [
        target("merged report identical to the single pass", identical, identical),
        target(
            "merged report and profile identical to one shard's (split invariance)", split, split
        ),
        target(
            f"merge of the shard profiles (in process) <= {MERGE_TARGET} s",
            s["mergeSecondsMedian"],
            s["mergeSecondsMedian"] <= MERGE_TARGET,
        ),
        target(
            f"CPU of the shards / the single profile pass <= {CPU_TARGET}",
            s["shardsOverProfile"],
            s["shardsOverProfile"] <= CPU_TARGET,
        ),
        target(
            f"CPU of the shards / the single analyze pass <= {CPU_TARGET}",
            s["shardsOverAnalyze"],
            s["shardsOverAnalyze"] <= CPU_TARGET,
        ),
    ]


def render(results: dict[str, Any]) -> str:
    """A markdown summary (pasted into RESULTS.md by hand)."""
    s = results["summary"]
    lines = [
        "| workload | wall median (s) | CPU median (s) | peak RSS max (MiB) | runs |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, w in s["workloads"].items():
        lines.append(
            f"| {name} | {w['wallMedian']:.2f} | {w['cpuMedian']:.2f} | "
            f"{w['rssMaxBytes'] / MIB:,.0f} | {w['runs']} |"
        )
    lines += ["", "| repeat | shards CPU (s) | / profile | / analyze | (+ merge) / analyze |"]
    lines.append("| ---: | ---: | ---: | ---: | ---: |")
    for p in s["perRepeat"]:
        lines.append(
            f"| {p['repeat']} | {p['shardsCpuSeconds']:.2f} | {p['shardsOverProfile']:.3f} | "
            f"{p['shardsOverAnalyze']:.3f} | {p['shardsAndMergeOverAnalyze']:.3f} |"
        )
    lines += ["", "| target | measured | met |", "| --- | ---: | --- |"]
    for t in results.get("targets", []):
        value = t["value"] if isinstance(t["value"], bool) else f"{t['value']:.3f}"
        lines.append(f"| {t['target']} | {value} | {t['met']} |")
    lines += ["", "Identity (each repeat):"]
    for c in results["identity"]:
        lines.append(f"- repeat {c['repeat']}: {json.dumps(c)}")
    lines += [
        "",
        f"Merge in process, median: {s['mergeSecondsMedian']:.3f} s wall, "
        f"{s['mergeCpuSecondsMedian']:.3f} s CPU (imports {s['mergeImportSecondsMedian']:.2f} s); "
        f"the merge process's own run (durationSeconds) {s['mergeRunSecondsMedian']:.3f} s",
    ]
    if "projection" in results:
        lines.append(f"Projection: {json.dumps(results['projection'])}")
        lines.append(f"Many: {json.dumps(results['many'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the summary, write the JSON, delete the data."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    size = lambda text: parse_sizes(text)[0]  # noqa: E731
    parser.add_argument("--rows", type=size, default=10**8)
    parser.add_argument("--files", type=int, help="current files (default: datagen's plan)")
    parser.add_argument("--reference-rows", type=size, default=10**7)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--merge-repeat", type=int, default=5, help="in-process merges per round")
    parser.add_argument("--many", type=int, default=100, help="shard profiles of the big merge")
    parser.add_argument("--many-rows", type=size, default=5 * 10**6)
    parser.add_argument("--deal-files", type=int, default=4000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dw-shards"))
    parser.add_argument(
        "--no-edges",
        action="store_true",
        help="profile the shards without the reference's histogram edges (histograms then "
        "estimated from samples: the merged report differs from the single pass's there)",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the generated data")
    parser.add_argument("--keep-outputs", action="store_true", help="keep profiles of each round")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.shards < 2 or args.many < 2:
        parser.error("--repeat must be at least 1, --shards and --many at least 2")
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", "bench/shards.py", *(sys.argv[1:] if argv is None else argv)])
    runner = Runner(args.workdir)
    bench = Bench(args, runner)
    results: dict[str, Any] = {"command": command, "machine": machine_facts(), "startedAt": _now()}
    try:
        setup = bench.setup()
        results["data"] = {k: setup[k] for k in ("reference", "current", "many")}
        results["warmup"] = setup["warmup"]
        results["identity"] = [bench.repeat(r) for r in range(1, args.repeat + 1)]
        results["many"] = bench.many_shards()
    finally:
        if not args.keep_data:
            shutil.rmtree(args.workdir / "data", ignore_errors=True)
    results["measurements"] = bench.measurements
    results["finishedAt"] = _now()
    results["loadAverageAfter"] = os.getloadavg()
    results["orchestratorMaxRssBytes"] = _self_max_rss()
    results["summary"] = summarize(bench.measurements, args.shards)
    results["projection"] = projection(results, args.rows, args.shards)
    results["targets"] = targets(results)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
