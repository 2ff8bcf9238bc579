"""Benchmark ``driftwarden analyze`` against a plain pyarrow scan and a scipy-per-column check.

Usage (from the repository root, with the project's venv)::

    python bench/run.py [--sizes 1e5,1e6,1e7] [--repeat 3] [--workdir /tmp/driftwarden-bench]

For every size N it generates (or reuses) a reference and a drifted current dataset of
N rows (see ``datagen.py``), then measures, each time in a fresh child process whose
wall time and peak RSS (``os.wait4``'s ``ru_maxrss``, exact per child) are recorded:

* ``startup``: ``driftwarden --version`` (interpreter + imports; informational);
* ``scan``: plain ``pyarrow.dataset`` scan of the 25 feature columns (the baseline);
* ``analyze``: the real CLI, with the reference profile already cached;
* ``scipy``: both datasets loaded into numpy, then scipy tests per feature.

Measurements are interleaved (startup, scan, analyze, scipy, startup, …) ``--repeat``
times; the median wall time and the maximum peak RSS are reported. Results go to
``bench/results.json`` (raw) and ``bench/RESULTS.md`` (tables, ratios, targets).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import spec

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_JSON = BENCH_DIR / "results.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
WORKLOADS = BENCH_DIR / "workloads.py"
DATAGEN = BENCH_DIR / "datagen.py"
ORDER = ("startup", "scan", "analyze", "scipy")
MIB = 1024 * 1024
GIB = 1024 * MIB

# Targets (see the brief in bench/README.md).
SCAN_RATIO_TARGET = 2.0  # analyze / scan at 10^7 rows, at most
SCIPY_RATIO_TARGET = 1.0  # scipy / analyze at 10^6 rows and above, more than
RSS_FLAT_BAND = (0.8, 1.25)  # analyze RSS at 10^7 / at 10^6: "about 1"
RSS_LIMIT = GIB  # analyze peak RSS at 10^7, at most


@dataclass
class Measurement:
    """One child process: what ran, how long it took and how much memory it peaked at."""

    workload: str
    rows: int
    repeat: int
    wall_seconds: float
    max_rss_bytes: int
    exit_code: int
    details: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float | None = None  # user + system, from the same rusage


def log(message: str) -> None:
    """A timestamped progress line on stderr."""
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Child(NamedTuple):
    """What one finished child process cost."""

    wall: float  # seconds
    rss: int  # peak RSS, bytes
    code: int  # exit code
    cpu: float  # user + system seconds
    user: float  # user seconds (the same rusage)
    system: float  # system seconds


def forget_current(cache: Path) -> None:
    """Drop what the profile cache holds of current data (``current-*``), keeping the
    reference profile: every timed analyze then profiles the current data, as a
    one-off analysis does. Without this, the second run caches the current file's
    profile (analysis/incremental.py, files seen twice) and later runs load it
    instead of reading the data: the engine would no longer be measured."""
    for space in cache.glob("current-*"):
        shutil.rmtree(space, ignore_errors=True)


def run_child(argv: Sequence[str], stdout: Path, stderr: Path) -> Child:
    """Run ``argv`` to completion; returns its wall time, peak RSS, exit code and CPU time
    (user + system, and each apart).

    ``os.wait4`` reports the rusage of exactly this child, so its ``ru_maxrss`` (KiB on
    Linux) is the child's own peak, not the maximum over every child seen so far.
    Caveat: the kernel carries the high-water mark of the address space a process
    had before ``exec`` — here this (vforked) process's — so the figure can never be
    below this process's own peak RSS; that is why this module imports no numpy or
    pyarrow, and why data is generated in a child process.
    """
    executable = shutil.which(argv[0]) or argv[0]
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(stdout), flags, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, str(stderr), flags, 0o644),
    ]
    started = time.perf_counter()
    pid = os.posix_spawn(executable, list(argv), dict(os.environ), file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    user, system = usage.ru_utime, usage.ru_stime
    code = os.waitstatus_to_exitcode(status)
    return Child(wall, usage.ru_maxrss * 1024, code, user + system, user, system)


@dataclass(frozen=True)
class SizeData:
    """The two datasets of one size, as ``datagen.py`` described them."""

    rows: int
    reference: Path
    current: Path
    info: dict[str, Any]


class Bench:
    """Runs the measurements of one invocation and keeps their results."""

    def __init__(self, workdir: Path, sizes: list[int], repeat: int, command: str) -> None:
        self.workdir = workdir
        self.sizes = sizes
        self.repeat = repeat
        self.bin = Path(sys.executable).parent
        self.results: dict[str, Any] = {
            "command": command,
            "machine": machine_facts(),
            "startedAt": _now(),
            "sizes": {},
        }

    # ------------------------------------------------------------ commands

    def _driftwarden(self) -> str:
        found = self.bin / "driftwarden"
        return str(found) if found.exists() else "driftwarden"

    def _argv(self, workload: str, data: SizeData, out: Path) -> list[str]:
        if workload == "startup":
            return [self._driftwarden(), "--version"]
        if workload == "scan":
            return [
                sys.executable,
                str(WORKLOADS),
                "scan",
                str(data.current),
                "--columns",
                ",".join(spec.FEATURES),
            ]
        if workload == "analyze":
            return [
                self._driftwarden(),
                "analyze",
                "--reference",
                str(data.reference),
                "--current",
                str(data.current),
                "--profile-cache",
                str(self.workdir / "profile-cache"),
                "--output",
                str(out),
                "--quiet",
                "--log-format",
                "json",
            ]
        if workload == "scipy":
            return [
                sys.executable,
                str(WORKLOADS),
                "scipy",
                str(data.reference),
                str(data.current),
                "--numeric",
                ",".join(spec.NUMERIC_NAMES),
                "--categorical",
                ",".join(spec.CATEGORICAL_NAMES),
            ]
        raise ValueError(f"unknown workload {workload!r}")

    # ------------------------------------------------------------ measuring

    def measure(self, workload: str, data: SizeData, repeat: int) -> Measurement:
        """Run one workload once in a fresh process and check its output."""
        logs = self.workdir / "logs" / f"n{data.rows}"
        logs.mkdir(parents=True, exist_ok=True)
        out = self.workdir / "out" / f"n{data.rows}" / f"{workload}-{repeat}"
        shutil.rmtree(out, ignore_errors=True)
        stem = logs / f"{workload}-{repeat}"
        stdout, stderr = stem.with_suffix(".out"), stem.with_suffix(".err")
        argv = self._argv(workload, data, out)
        if workload == "analyze":
            forget_current(self.workdir / "profile-cache")
        wall, rss, code, cpu = run_child(argv, stdout, stderr)[:4]
        if code != 0:
            raise RuntimeError(
                f"{workload} at {data.rows:,} rows exited {code}: {shlex.join(argv)}\n"
                f"{stderr.read_text()[-3000:]}"
            )
        details = self._details(workload, data, stdout, out)
        shutil.rmtree(out, ignore_errors=True)
        return Measurement(workload, data.rows, repeat, wall, rss, code, details, cpu)

    def timed(self, workload: str, data: SizeData, repeat: int) -> dict[str, Any]:
        """:meth:`measure`, checked (analyze must use the cached reference profile) and
        logged; returns the measurement as a dict for the results."""
        m = self.measure(workload, data, repeat)
        if workload == "analyze" and not m.details["profileCached"]:
            raise RuntimeError("a timed analyze rebuilt the reference profile")
        log(
            f"n={data.rows:,} #{repeat} {workload:<8} {m.wall_seconds:8.2f} s wall "
            f"{m.cpu_seconds or 0:8.2f} s CPU {m.max_rss_bytes / MIB:8.0f} MiB"
        )
        return asdict(m)

    def _details(self, workload: str, data: SizeData, stdout: Path, out: Path) -> dict[str, Any]:
        """What the child reported, checked: row counts, and a cached reference for analyze."""
        if workload == "startup":
            return {}
        if workload == "analyze":
            report = json.loads((out / "report.json").read_text())
            if report["current"]["rows"] != data.rows:
                raise RuntimeError(f"analyze read {report['current']['rows']} current rows")
            if report["current"]["files"]["cached"]:
                raise RuntimeError("a timed analyze took the current data from the cache")
            return {
                "profileCached": report["reference"]["profileCached"],
                "durationSeconds": report["durationSeconds"],
                "datasetDrifted": report["dataset"]["drifted"],
                "drifted": sorted(f["name"] for f in report["features"] if f["drifted"]),
            }
        result = json.loads(stdout.read_text())
        if workload == "scan" and result["rows"] != data.rows:
            raise RuntimeError(f"scan read {result['rows']} rows, expected {data.rows}")
        if workload == "scipy":
            features = result.pop("features")
            # Bonferroni over the 25 features, like driftwarden's default correction.
            alpha = 0.05 / len(features)
            result["drifted"] = sorted(
                name
                for name, f in features.items()
                if f.get("ksPvalue", f.get("chi2Pvalue", 1.0)) < alpha
            )
            result["features"] = features
        return result

    def warm(self, data: SizeData) -> dict[str, Any]:
        """One untimed analyze: fills the reference-profile cache and the page cache."""
        log(f"warm-up analyze at {data.rows:,} rows (untimed)")
        out = self.workdir / "out" / f"n{data.rows}" / "warm"
        shutil.rmtree(out, ignore_errors=True)
        argv = self._argv("analyze", data, out)
        logs = self.workdir / "logs" / f"n{data.rows}"
        logs.mkdir(parents=True, exist_ok=True)
        wall, rss, code = run_child(argv, logs / "warm.out", logs / "warm.err")[:3]
        if code != 0:
            raise RuntimeError(f"warm-up analyze exited {code}: {(logs / 'warm.err').read_text()}")
        report = json.loads((out / "report.json").read_text())
        return {
            "wallSeconds": wall,
            "maxRssBytes": rss,
            "profileCached": report["reference"]["profileCached"],
            "durationSeconds": report["durationSeconds"],
        }

    def prepare(self, rows: int) -> SizeData:
        """Generate or reuse the data of one size, in a child process (keeps this one small)."""
        out = subprocess.run(
            [sys.executable, str(DATAGEN), "--rows", str(rows), "--workdir", str(self.workdir)],
            stdout=subprocess.PIPE,
            check=True,
            text=True,
        ).stdout
        info = json.loads(out)
        return SizeData(rows, Path(info["reference"]), Path(info["current"]), info)

    def run_size(self, rows: int) -> None:
        """Generate or reuse the data of one size, then measure every workload."""
        data = self.prepare(rows)
        entry: dict[str, Any] = {
            "data": data.info,
            "warmup": self.warm(data),
            "measurements": [],
        }
        self.results["sizes"][str(rows)] = entry
        for repeat in range(1, self.repeat + 1):
            for workload in ORDER:
                entry["measurements"].append(self.timed(workload, data, repeat))
        entry["summary"] = summarize(entry["measurements"])
        entry["ratios"] = size_ratios(entry["summary"])

    def run(self) -> dict[str, Any]:
        """Every size, smallest first; results are written after each size."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for rows in self.sizes:
            self.run_size(rows)
            source = source_fingerprint()
            if source != self.results["machine"]["source"]:
                # The package is installed editable: each child imports the tree as it is.
                self.results["sourceChanged"] = True
                log("warning: driftwarden's source changed during the run")
            self.results["finishedAt"] = _now()
            self.results["loadAverageAfter"] = os.getloadavg()
            # Children start from this process's peak RSS (see run_child): the floor of
            # every RSS figure.
            self.results["orchestratorMaxRssBytes"] = _self_max_rss()
            self.results["targets"] = targets(self.results["sizes"])
            write_results(self.results)
        return self.results


# ---------------------------------------------------------------- numbers


def summarize(measurements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Median wall time and maximum peak RSS per workload (plus a few in-process medians)."""
    summary: dict[str, dict[str, Any]] = {}
    for workload in ORDER:
        runs = [m for m in measurements if m["workload"] == workload]
        if not runs:
            continue
        walls = [m["wall_seconds"] for m in runs]
        item: dict[str, Any] = {
            "runs": len(runs),
            "wallMedian": statistics.median(walls),
            "wallMin": min(walls),
            "wallMax": max(walls),
            "rssMaxBytes": max(m["max_rss_bytes"] for m in runs),
        }
        cpus = [m["cpu_seconds"] for m in runs if m.get("cpu_seconds") is not None]
        if cpus:
            item["cpuMedian"] = statistics.median(cpus)
        for key in (
            "durationSeconds",
            "scanSeconds",
            "loadReferenceSeconds",
            "loadCurrentSeconds",
            "computeSeconds",
        ):
            values = [m["details"][key] for m in runs if key in m["details"]]
            if values:
                item[f"{key}Median"] = statistics.median(values)
        drifted = [m["details"].get("drifted") for m in runs if "drifted" in m["details"]]
        if drifted:
            item["drifted"] = drifted[0]
        summary[workload] = item
    return summary


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def size_ratios(summary: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """The ratios of one size, all between medians measured in the same run."""
    wall = {name: item["wallMedian"] for name, item in summary.items()}
    scipy = summary.get("scipy", {})
    return {
        "analyzeOverScan": _ratio(wall.get("analyze"), wall.get("scan")),
        "scipyOverAnalyze": _ratio(wall.get("scipy"), wall.get("analyze")),
        # c': scipy's time after both datasets are in memory (its process, imports and
        # loading left out), against analyze's whole process.
        "scipyComputeOverAnalyze": _ratio(scipy.get("computeSecondsMedian"), wall.get("analyze")),
        "analyzeRssOverScanRss": _ratio(
            summary.get("analyze", {}).get("rssMaxBytes"),
            summary.get("scan", {}).get("rssMaxBytes"),
        ),
        # In-process only: analyze's own durationSeconds over the scan loop's time.
        "engineOverScanLoop": _ratio(
            summary.get("analyze", {}).get("durationSecondsMedian"),
            summary.get("scan", {}).get("scanSecondsMedian"),
        ),
    }


def targets(sizes: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value and whether it is met (None: size not measured)."""

    def ratio(rows: int, key: str) -> float | None:
        entry = sizes.get(str(rows))
        return None if entry is None else entry["ratios"].get(key)

    def rss(rows: int) -> int | None:
        entry = sizes.get(str(rows))
        return None if entry is None else entry["summary"]["analyze"]["rssMaxBytes"]

    result: list[dict[str, Any]] = []
    scan = ratio(10**7, "analyzeOverScan")
    result.append(
        {
            "target": f"analyze / scan at 10^7 rows <= {SCAN_RATIO_TARGET}",
            "value": scan,
            "met": None if scan is None else scan <= SCAN_RATIO_TARGET,
        }
    )
    for rows in sorted(int(r) for r in sizes):
        if rows >= 10**6:
            value = ratio(rows, "scipyOverAnalyze")
            result.append(
                {
                    "target": f"scipy / analyze at {rows:,} rows > {SCIPY_RATIO_TARGET}",
                    "value": value,
                    "met": None if value is None else value > SCIPY_RATIO_TARGET,
                }
            )
    big, mid = rss(10**7), rss(10**6)
    flat = _ratio(big, mid)
    lo, hi = RSS_FLAT_BAND
    result.append(
        {
            "target": f"analyze RSS at 10^7 / at 10^6 about 1 (within {lo}-{hi})",
            "value": flat,
            "met": None if flat is None else lo <= flat <= hi,
        }
    )
    result.append(
        {
            "target": "analyze peak RSS at 10^7 <= 1 GiB",
            "value": None if big is None else big / MIB,
            "unit": "MiB",
            "met": None if big is None else big <= RSS_LIMIT,
        }
    )
    return result


# ---------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_state() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_DIR), "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def source_fingerprint() -> str:
    """Short sha256 of driftwarden's Python sources (the install is editable, so an edit
    made by someone else during a run changes what the next child process runs)."""
    digest = hashlib.sha256()
    for path in sorted((REPO_DIR / "operator").rglob("*.py")):
        digest.update(str(path.relative_to(REPO_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def machine_facts() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpu": _cpu_model(),
        "logicalCpus": os.cpu_count(),
        "usableCpus": len(os.sched_getaffinity(0)),
        "memoryBytes": _memory_total(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyarrow": _version("pyarrow"),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "driftwarden": _version("driftwarden"),
        "git": _git_state(),
        "source": source_fingerprint(),
        "loadAverageBefore": os.getloadavg(),
    }


def _self_max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _met(flag: bool | None) -> str:
    return {True: "**met**", False: "**NOT met**", None: "not measured"}[flag]


def _size_label(rows: int) -> str:
    exponent = len(str(rows)) - 1
    return f"10^{exponent}" if rows == 10**exponent else f"{rows:,}"


def render_markdown(results: dict[str, Any]) -> str:
    """RESULTS.md: machine, command, one table per size, ratios and targets."""
    m = results["machine"]
    memory = "unknown" if m["memoryBytes"] is None else f"{m['memoryBytes'] / GIB:.1f} GiB"
    floor_bytes = results.get("orchestratorMaxRssBytes")
    floor = "n/a" if floor_bytes is None else f"{floor_bytes / MIB:.0f} MiB"
    lines = [
        "# driftwarden benchmark results",
        "",
        "Generated by `bench/run.py` (see bench/README.md); raw numbers in `bench/results.json`.",
        "The machine is shared and noisy: compare the **ratios** (all measured in the same run,",
        "interleaved), not the absolute seconds, across machines or runs. Where the time and",
        "memory of `analyze` go, and what would change them: bench/PROFILE.md (written by hand",
        "from a profile of this benchmark's data; it may describe an earlier run).",
        "",
        "## Machine and run",
        "",
        f"- CPU: {m['cpu']}, {m['logicalCpus']} logical CPUs ({m['usableCpus']} usable), "
        f"{memory} RAM, Linux {m['kernel']}",
        f"- Python {m['python']}, pyarrow {m['pyarrow']}, numpy {m['numpy']}, "
        f"scipy {m['scipy']}, driftwarden {m['driftwarden']} (git {m['git']}; "
        f"source sha256 {m['source']})",
        *(
            [
                "- **Warning: driftwarden's source changed during this run** (editable install):",
                "  measurements after the change may have run on different code.",
            ]
            if results.get("sourceChanged")
            else []
        ),
        f"- Run: {results['startedAt']} → {results.get('finishedAt', '?')} (UTC); "
        f"load average before {_fmt(m['loadAverageBefore'][0])}, "
        f"after {_fmt(results.get('loadAverageAfter', [None])[0])}",
        f"- Command: `{results['command']}`",
        "",
        "Each row is a fresh process (`os.wait4` gives its exact peak RSS); the wall time is the",
        "median of the repeats, the RSS the maximum. Data files are in the page cache (the",
        "warm-up reads them), so this measures CPU, not disk. Wall times include interpreter",
        "start-up and imports (that is what a user waits for). A child's reported peak RSS",
        "cannot be below the spawning process's own peak, which the orchestrator keeps small "
        f"({floor}).",
        "",
        "- **startup**: `driftwarden --version` — interpreter and imports only (informational).",
        "- **scan** (baseline): `pyarrow.dataset.dataset(current).to_batches(columns=25 features)`,",
        "  every batch iterated, nothing else.",
        "- **analyze**: `driftwarden analyze … --profile-cache C --output O --quiet --log-format json`,",
        "  reference profile already cached (checked: `reference.profileCached` is true in every",
        "  timed run), so it scans the current data only.",
        "- **scipy**: load reference *and* current fully into numpy, then `ks_2samp` +",
        "  `wasserstein_distance` per numerical feature, `chi2_contingency` per categorical one.",
        "  It has to read the reference too (driftwarden takes it from its cache); **scipy",
        "  compute only** (c') is its time after both datasets are in memory.",
        "",
    ]
    for rows_text, entry in results["sizes"].items():
        rows = int(rows_text)
        summary, ratios, data = entry["summary"], entry["ratios"], entry["data"]
        lines += [
            f"## {_size_label(rows)} rows ({rows:,} current + {rows:,} reference rows)",
            "",
            f"Data: {data['files']} file(s) per dataset, row groups of up to "
            f"{data['rowGroupRows']:,} rows, {data['bytesOnDisk'] / MIB:,.0f} MiB on disk for both; "
            + (
                f"generated in {data['generationSeconds']:.0f} s."
                if data["generated"]
                else "reused from an earlier run."
            ),
            "",
            "| workload | wall median (s) | min–max (s) | peak RSS (MiB) | wall / scan | RSS / scan |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        scan = summary.get("scan", {})
        for workload in ORDER:
            item = summary.get(workload)
            if item is None:
                continue
            lines.append(
                f"| {workload} | {item['wallMedian']:.2f} | {item['wallMin']:.2f}–"
                f"{item['wallMax']:.2f} | {item['rssMaxBytes'] / MIB:,.0f} | "
                f"{_fmt(_ratio(item['wallMedian'], scan.get('wallMedian')))} | "
                f"{_fmt(_ratio(item['rssMaxBytes'], scan.get('rssMaxBytes')))} |"
            )
        scipy = summary.get("scipy", {})
        if "computeSecondsMedian" in scipy:
            lines.append(
                f"| scipy compute only (c') | {scipy['computeSecondsMedian']:.2f} | | | "
                f"{_fmt(_ratio(scipy['computeSecondsMedian'], scan.get('wallMedian')))} | |"
            )
        analyze = summary.get("analyze", {})
        lines += [
            "",
            f"- analyze / scan: **{_fmt(ratios['analyzeOverScan'])}**; "
            f"scipy / analyze: **{_fmt(ratios['scipyOverAnalyze'])}** "
            f"(c', compute only: {_fmt(ratios['scipyComputeOverAnalyze'])})",
            f"- In-process: analyze's own `durationSeconds` "
            f"{_fmt(analyze.get('durationSecondsMedian'))} s vs the scan loop "
            f"{_fmt(scan.get('scanSecondsMedian'))} s "
            f"(ratio {_fmt(ratios['engineOverScanLoop'])}); scipy loads the reference in "
            f"{_fmt(scipy.get('loadReferenceSecondsMedian'))} s and the current in "
            f"{_fmt(scipy.get('loadCurrentSecondsMedian'))} s.",
            f"- Drifted features — driftwarden: {', '.join(analyze.get('drifted', [])) or 'none'}; "
            f"scipy (KS / chi-square p < 0.05/25): {', '.join(scipy.get('drifted', [])) or 'none'}; "
            f"injected: {', '.join(spec.SHIFTED)}.",
            "",
        ]
    lines += ["## Targets", "", "| target | measured | status |", "| --- | ---: | --- |"]
    for target in results.get("targets", []):
        unit = f" {target['unit']}" if target.get("unit") else ""
        lines.append(
            f"| {target['target']} | {_fmt(target['value'])}{unit} | {_met(target['met'])} |"
        )
    lines.append("")
    return "\n".join(lines)


def kept_tail(existing: str) -> str:
    """What run.py does not write: the hand-written addenda (``## Addendum …``) and the
    "Operator at scale" section, from the first of them to the end of the file."""
    from operator_report import BEGIN

    found = [i for i in (existing.find("\n## Addendum"), existing.find(BEGIN)) if i >= 0]
    return existing[min(found) :].lstrip("\n") if found else ""


def write_results(results: dict[str, Any]) -> None:
    """bench/results.json (raw) and bench/RESULTS.md (rendered).

    The addenda and the "Operator at scale" section of RESULTS.md are kept (see
    :func:`kept_tail`): they record measurements this script does not repeat.
    """
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    text = render_markdown(results)
    tail = kept_tail(RESULTS_MD.read_text()) if RESULTS_MD.exists() else ""
    RESULTS_MD.write_text(text.rstrip("\n") + "\n\n" + tail if tail else text)


# ---------------------------------------------------------------- command line


def parse_sizes(text: str) -> list[int]:
    """``1e5,1e6,1e7`` → [100000, 1000000, 10000000]."""
    sizes = []
    for part in text.split(","):
        value = float(part)
        if value < 1 or value != int(value):
            raise argparse.ArgumentTypeError(f"not a positive whole row count: {part!r}")
        sizes.append(int(value))
    return sorted(set(sizes))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write bench/results.json and bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description="Benchmark driftwarden analyze.")
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1e5,1e6,1e7"))
    parser.add_argument("--repeat", type=int, default=3, help="measurements per workload")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/driftwarden-bench"))
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    command = shlex.join(["python", "bench/run.py", *(sys.argv[1:] if argv is None else argv)])
    bench = Bench(args.workdir.resolve(), args.sizes, args.repeat, command)
    results = bench.run()
    for target in results["targets"]:
        log(f"{target['target']}: {_fmt(target['value'])} → {_met(target['met'])}")
    log(f"wrote {RESULTS_MD} and {RESULTS_JSON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
