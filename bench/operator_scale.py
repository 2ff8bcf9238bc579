"""Benchmark ``driftwarden run`` at scale against the API-server fixture (issue 7, deliverable 4).

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/operator_scale.py [--monitors 1000] [--source /work/wt/controller/operator]

Measures, with the operator as a separate process pointed at ``tests/kubeapi`` (run in
this process) by a kubeconfig:

* idle RSS (no monitors), RSS at N monitors, and with 5,000 unrelated Jobs besides;
* the API requests per second in steady state (no run due), by kind;
* seconds from a Job finishing to its outcome in the monitor's status (p50/p99).

Writes ``bench/operator_results.json`` and the "Operator at scale" section of
``bench/RESULTS.md`` (see bench/README.md). Every wait is bounded; the run stops by
itself (about 5 minutes with the defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from operator_cluster import (
    BENCH_AGENT,
    BURST_NAMESPACE,
    LATENCY_NAMESPACE,
    FixtureProbe,
    G,
    KubeAPIServer,
    P,
    Slot,
    StatusWatch,
    V,
    create_monitors,
    create_namespace,
    create_unrelated_jobs,
    delete_monitors,
    finish_job,
    monitor_names,
    owner_name,
    reconciled,
    seed_monitors,
    start_server,
)
from operator_measure import (
    delays_to_first,
    latency_summary,
    percentile,
    probe_in_window,
    requests_in_window,
    rss_in_window,
)
from operator_process import OperatorCommand, OperatorProcess
from operator_report import render_section, splice, targets
from run import _now, log, machine_facts

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "operator_results.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"


@dataclass(frozen=True)
class Options:
    """Sizes and time limits of one run (``--help`` says what each is)."""

    monitors: int = 1000
    namespaces: int = 10
    unrelated_jobs: int = 5000
    unrelated_namespaces: int = 5
    latency_jobs: int = 100
    finish_rate: float = 2.0
    burst_jobs: int = 100
    settle: float = 15.0
    idle_window: float = 20.0
    window: float = 60.0
    jobs_window: float = 30.0
    quiet: float = 5.0
    quiet_timeout: float = 60.0
    ready_timeout: float = 90.0
    reconcile_timeout: float = 240.0
    latency_timeout: float = 120.0


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _hwm(process: OperatorProcess) -> int | None:
    """The operator's VmHWM at its last sample: its peak RSS over the whole run."""
    return process.samples[-1].hwm if process.samples else None


class BenchError(RuntimeError):
    """The benchmark could not go on (the operator died, a wait ran out)."""


def _wait(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    try:
        return KubeAPIServer.wait_for(predicate, timeout, interval)
    except TimeoutError:
        raise BenchError(f"{what}: not within {timeout:.0f} s") from None


class Run:
    """One benchmark run: the fixture, the operator processes, the phases, the results."""

    def __init__(self, options: Options, command: OperatorCommand, workdir: Path, argv: str):
        self.o = options
        self.command = command
        self.workdir = workdir
        self.server = start_server()
        self.probe = FixtureProbe(self.server).start()
        self.kubeconfig = self.server.write_kubeconfig(workdir / "kubeconfig")
        self.slot = Slot.an_hour_ago()
        self.namespaces = [f"bench-{i:02d}" for i in range(options.namespaces)]
        self.etl_namespaces = [f"etl-{i:02d}" for i in range(options.unrelated_namespaces)]
        self.results: dict[str, Any] = {
            "command": argv,
            "startedAt": _now(),
            "machine": machine_facts(),
            "config": {
                "monitors": options.monitors,
                "namespaces": options.namespaces,
                "unrelatedJobs": options.unrelated_jobs,
                "unrelatedNamespaces": options.unrelated_namespaces,
                "latencyJobs": options.latency_jobs,
                "latencyNamespace": LATENCY_NAMESPACE,
                "finishRate": options.finish_rate,
                "burstJobs": options.burst_jobs,
                "burstNamespace": BURST_NAMESPACE,
                "settleSeconds": options.settle,
                "idleWindowSeconds": options.idle_window,
                "windowSeconds": options.window,
                "jobsWindowSeconds": options.jobs_window,
                "quietSeconds": options.quiet,
                "schedule": self.slot.cron,
                "seededSlot": self.slot.iso,
            },
            "phases": {},
            "notes": [],
        }

    # ------------------------------------------------------------ helpers

    def _operator(self, name: str) -> OperatorProcess:
        process = OperatorProcess(self.command, self.kubeconfig, self.workdir / f"{name}.log")
        started = time.time()
        process.start()
        log(f"{name}: operator pid {process.pid} started; waiting for its DriftMonitor watch")

        def watching() -> bool:
            if not process.alive():
                raise BenchError(f"the operator exited early:\n{process.log_tail()}")
            return any(
                r.is_watch and r.plural == P and r.time >= started and r.user_agent != BENCH_AGENT
                for r in list(self.server.requests)
            )

        _wait(watching, self.o.ready_timeout, "the operator opening a DriftMonitor watch")
        return process

    def _operator_writes_since(self, since: float) -> float | None:
        """Time of the operator's last write after ``since`` (None if none)."""
        times = [
            r.time
            for r in list(self.server.requests)
            if r.time >= since and r.is_write and r.user_agent != BENCH_AGENT
        ]
        return max(times) if times else None

    def _settle(self, process: OperatorProcess, phase: str) -> None:
        """Wait until the operator has not written for ``quiet`` s (bounded), then ``settle`` s."""
        process.phase = f"{phase}-settling"
        began = time.time()
        while time.time() - began < self.o.quiet_timeout:
            last = self._operator_writes_since(began - self.o.quiet) or 0.0
            if time.time() - last >= self.o.quiet:
                break
            time.sleep(0.5)
        else:
            self.results["notes"].append(
                f"{phase}: the operator kept writing; no {self.o.quiet:.0f} s without a write "
                f"within {self.o.quiet_timeout:.0f} s"
            )
        time.sleep(self.o.settle)

    def _window(self, process: OperatorProcess, phase: str, seconds: float) -> dict[str, Any]:
        process.phase = phase
        start = time.time()
        log(f"{phase}: measuring for {seconds:.0f} s")
        time.sleep(seconds)
        end = time.time()
        if not process.alive():
            raise BenchError(f"the operator exited during {phase}:\n{process.log_tail()}")
        return {
            "rss": rss_in_window(process.samples, start, end),
            "requests": requests_in_window(list(self.server.requests), start, end, BENCH_AGENT),
            "fixture": probe_in_window(self.probe.samples, start, end),
        }

    # ------------------------------------------------------------ phases

    def idle(self) -> None:
        process = self._operator("idle")
        try:
            time.sleep(self.o.settle)
            self.results["phases"]["idle"] = self._window(process, "idle", self.o.idle_window)
        finally:
            process.stop()
            self.results["idleRunHwmBytes"] = _hwm(process)
            self.results["idleExitCode"] = process.exit_code

    def at_scale(self) -> None:
        """The monitors (and latency) run, then a restart with the unrelated Jobs present."""
        monitors = monitor_names(self.o.monitors, self.namespaces)
        log(f"creating {len(monitors):,} monitors with a status that says their slot ran")
        seed_monitors(self.server, monitors, self.slot)
        process = self._operator("monitors")
        try:
            self._monitors(process, set(monitors))
            self._finishes(
                process, "latency", LATENCY_NAMESPACE, self.o.latency_jobs, self.o.finish_rate
            )
            self._finishes(process, "burst", BURST_NAMESPACE, self.o.burst_jobs, None)
        finally:
            process.stop()
            self.results["monitorsRunHwmBytes"] = _hwm(process)
            self.results["monitorsExitCode"] = process.exit_code
        if not self.o.unrelated_jobs:
            return
        # Created while no operator runs: with one running, the fixture (one event loop
        # serving its LISTs as well) takes minutes for 5,000 creates.
        log(f"creating {self.o.unrelated_jobs:,} unrelated Jobs")
        began = time.monotonic()
        create_unrelated_jobs(self.server, self.o.unrelated_jobs, self.etl_namespaces)
        took = time.monotonic() - began
        process = self._operator("monitorsAndJobs")
        try:
            self._gone(process)
            self._settle(process, "monitorsAndJobs")
            phase = self._window(process, "monitorsAndJobs", self.o.jobs_window)
            phase["createSeconds"] = took
            self.results["phases"]["monitorsAndJobs"] = phase
        finally:
            process.stop()
            self.results["monitorsAndJobsRunHwmBytes"] = _hwm(process)
            self.results["monitorsAndJobsExitCode"] = process.exit_code

    def _monitors(self, process: OperatorProcess, monitors: set[tuple[str, str]]) -> None:
        process.phase = "monitors-reconciling"
        began = time.monotonic()
        count = 0

        def all_reconciled() -> bool:
            nonlocal count
            if not process.alive():
                raise BenchError(f"the operator exited:\n{process.log_tail()}")
            count = reconciled(self.server, monitors)
            return count == len(monitors)

        try:
            _wait(all_reconciled, self.o.reconcile_timeout, "every monitor reconciled", 2.0)
        except BenchError as error:
            self.results["notes"].append(f"monitors: {error} ({count} of {len(monitors)})")
        took = time.monotonic() - began
        log(f"monitors: {count:,} reconciled after {took:.0f} s")
        self._settle(process, "monitors")
        phase = self._window(process, "monitors", self.o.window)
        phase.update(reconciled=count, reconcileSeconds=took)
        self.results["phases"]["monitors"] = phase

    def _gone(self, process: OperatorProcess) -> None:
        """Wait (bounded) until the deleted latency and burst monitors and their Jobs are gone."""
        spaces = (LATENCY_NAMESPACE, BURST_NAMESPACE)

        def gone() -> bool:
            if not process.alive():
                raise BenchError(f"the operator exited:\n{process.log_tail()}")
            return not any(
                self.server.objects(G, V, P, ns) or self.server.objects("batch", "v1", "jobs", ns)
                for ns in spaces
            )

        try:
            _wait(gone, self.o.reconcile_timeout, "the latency monitors and their Jobs deleted")
        except BenchError as error:
            left = [m for ns in spaces for m in self.server.objects(G, V, P, ns)]
            finalizers = sorted({f for m in left for f in m["metadata"].get("finalizers") or []})
            self.results["notes"].append(
                f"monitorsAndJobs: {error}: {len(left)} monitors left (finalizers {finalizers})"
            )

    def _finishes(
        self, process: OperatorProcess, key: str, namespace: str, n: int, rate: float | None
    ) -> None:
        """``n`` new monitors in ``namespace`` run their due slot; their Jobs are finished
        ``rate`` per second (None: all as fast as the fixture takes them) and timed until
        each outcome shows in the monitor's status."""
        if not n:
            return
        process.phase = key
        watch = StatusWatch(self.server, namespace, int(self.o.latency_timeout) + 60)
        watch.start()
        created = time.time()
        pace = f"{rate:g}/s" if rate else "all at once"
        log(f"{key}: {n} monitors run their slot; finishing their Jobs, {pace}")
        create_monitors(self.server, monitor_names(n, [namespace]), self.slot)
        finished: dict[str, float] = {}  # job -> time.time() its completion was written
        owners: dict[str, str] = {}  # job -> monitor
        all_created: float | None = None
        deadline = created + self.o.latency_timeout

        def created_all() -> bool:
            if not process.alive():
                raise BenchError(f"the operator exited:\n{process.log_tail()}")
            for job in self.server.objects("batch", "v1", "jobs", namespace):
                owners.setdefault(job["metadata"]["name"], owner_name(job) or "")
            return len(owners) >= n

        # Finishing starts once the operator has created every Job (bounded: a smaller
        # concurrency cap creates the rest as Jobs finish, below), so the time to record
        # an outcome is not mixed up with the operator still creating the others.
        try:
            _wait(created_all, self.o.latency_timeout / 2, f"{key}: all {n} Jobs created", 0.2)
            all_created = time.time() - created
        except BenchError as error:
            self.results["notes"].append(f"{key}: {error} ({len(owners)} were)")
        time.sleep(1.0)
        next_at = time.time()
        while len(finished) < n and time.time() < deadline:
            if not process.alive():
                raise BenchError(f"the operator exited:\n{process.log_tail()}")
            created_all()
            if all_created is None and len(owners) >= n:
                all_created = time.time() - created
            todo = [name for name in owners if name not in finished]
            if not todo:
                time.sleep(0.2)
                continue
            for name in todo:
                time.sleep(max(0.0, next_at - time.time()))
                finish_job(self.server, namespace, name)
                finished[name] = time.time()
                if rate:
                    next_at = max(next_at + 1 / rate, time.time() - 1)
                if len(finished) >= n or time.time() >= deadline:
                    break
        # The last ones need time to be recorded; bounded by what is left of the timeout.
        try:
            _wait(
                lambda: all(job in watch.recorded for job in finished),
                max(10.0, deadline - time.time()),
                "every finished Job recorded",
                0.2,
            )
        except BenchError as error:
            self.results["notes"].append(f"{key}: {error}")
        summary = latency_summary(finished, watch.recorded)
        # Where the time goes: the status patch that wrote lastRun.job reaching the fixture,
        # vs. the watch event that shows it (the rest is the fixture sending the event).
        recording = [
            (r.time, str(((r.body or {}).get("status") or {}).get("lastRun", {}).get("job")))
            for r in list(self.server.requests)
            if r.method == "PATCH"
            and r.plural == P
            and r.subresource == "status"
            and r.namespace == namespace
            and isinstance(r.body, dict)
            and isinstance((r.body.get("status") or {}).get("lastRun"), dict)
        ]
        delays = delays_to_first({j: (at, j) for j, at in finished.items()}, recording)
        summary.update(
            jobsCreated=len(owners),
            jobsCreatedSeconds=all_created,
            recordingPatchP50Seconds=percentile(delays, 0.5),
            recordingPatchP99Seconds=percentile(delays, 0.99),
            fixture=probe_in_window(self.probe.samples, created, time.time()),
        )
        if watch.error:
            summary["watchError"] = watch.error
        wrong = {k: v for k, v in summary["outcomes"].items() if k != "Succeeded"}
        if wrong:
            # Every Job ended with a valid summary: anything but Succeeded is the operator's
            # misreading (e.g. the Job's Complete seen before its pod's termination message).
            self.results["notes"].append(
                f"{key}: outcomes other than Succeeded for Jobs that all ended with a valid "
                f"summary: {wrong}"
            )
        self.results["phases"][key] = summary
        log(
            f"{key}: {summary['recorded']}/{summary['finished']} recorded, "
            f"p50 {_secs(summary['p50Seconds'])}, p99 {_secs(summary['p99Seconds'])}; "
            f"recording patch p50 {_secs(summary['recordingPatchP50Seconds'])}, fixture delay "
            f"p99 {_secs(summary['fixture']['p99Seconds'])}"
        )
        # Deleted, so the next run holds the same monitors as the steady phase; an operator
        # whose finalizer they carry lets them go, the next one if not this one (see _gone).
        delete_monitors(self.server, monitor_names(n, [namespace]))

    def run(self) -> dict[str, Any]:
        """All phases; on an error, what was measured so far plus the error."""
        try:
            results_operator = self.command.describe(self.kubeconfig)
            self.results["operator"] = results_operator
            log(
                f"operator under test: {results_operator['package']} ({results_operator.get('git')})"
            )
            spaces = [*self.namespaces, *self.etl_namespaces, LATENCY_NAMESPACE, BURST_NAMESPACE]
            for namespace in spaces:
                create_namespace(self.server, namespace)
            self.idle()
            self.at_scale()
        except BenchError as error:
            self.results["error"] = str(error)
            log(f"stopped: {error}")
        except (KeyboardInterrupt, SystemExit):
            self.results["error"] = "interrupted"
            log("interrupted; writing what was measured")
        finally:
            self.probe.stop()
            self.server.stop()
        if self.server.errors:
            self.results["fixtureErrors"] = self.server.errors[:5]
        self.results["finishedAt"] = _now()
        self.results["loadAverageAfter"] = os.getloadavg()
        self.results["targets"] = targets(self.results)
        return self.results


def write(results: dict[str, Any], json_path: Path | None, markdown_path: Path | None) -> None:
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2) + "\n")
    if markdown_path is not None:
        text = markdown_path.read_text() if markdown_path.exists() else "# Results\n"
        markdown_path.write_text(splice(text, render_section(results)))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    defaults = Options()
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--monitors", type=int, default=defaults.monitors, help="DriftMonitors at steady state"
    )
    p.add_argument(
        "--namespaces",
        type=int,
        default=defaults.namespaces,
        help="namespaces they are spread over",
    )
    p.add_argument(
        "--unrelated-jobs",
        type=int,
        default=defaults.unrelated_jobs,
        help="Jobs without driftwarden labels (0: skip)",
    )
    p.add_argument(
        "--latency-jobs",
        type=int,
        default=defaults.latency_jobs,
        help="Job finishes timed (0: skip)",
    )
    p.add_argument(
        "--finish-rate",
        type=float,
        default=defaults.finish_rate,
        help="Jobs finished per second in the latency phase",
    )
    p.add_argument(
        "--burst-jobs",
        type=int,
        default=defaults.burst_jobs,
        help="Jobs finished all at once after the latency phase (0: skip)",
    )
    p.add_argument(
        "--window",
        type=float,
        default=defaults.window,
        help="seconds of the steady-state window at N monitors",
    )
    p.add_argument("--idle-window", type=float, default=defaults.idle_window)
    p.add_argument("--jobs-window", type=float, default=defaults.jobs_window)
    p.add_argument(
        "--settle", type=float, default=defaults.settle, help="seconds to wait before each window"
    )
    p.add_argument(
        "--quiet",
        type=float,
        default=defaults.quiet,
        help="seconds without an operator write that count as settled",
    )
    p.add_argument("--reconcile-timeout", type=float, default=defaults.reconcile_timeout)
    p.add_argument("--latency-timeout", type=float, default=defaults.latency_timeout)
    p.add_argument(
        "--operator-python",
        default=sys.executable,
        help="interpreter that runs `driftwarden run` (default: this one)",
    )
    p.add_argument(
        "--source",
        type=Path,
        help="put this directory first on the operator's PYTHONPATH (another worktree's operator/)",
    )
    p.add_argument(
        "--tick", type=float, help="pass --tick to the operator (default: the operator's own)"
    )
    p.add_argument(
        "--max-concurrent-jobs",
        type=int,
        help="pass --max-concurrent-jobs (default: the larger of --latency-jobs and --burst-jobs, so the cap does not pace them)",
    )
    p.add_argument(
        "--operator-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more argument for `driftwarden run` (repeat)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        help="kubeconfig and operator logs (default: a new temporary directory)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=RESULTS_JSON,
        help="results file (default: bench/operator_results.json)",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        default=RESULTS_MD,
        help="file whose 'Operator at scale' section is rewritten",
    )
    p.add_argument("--no-markdown", action="store_true", help="do not touch any Markdown file")
    args = p.parse_args(argv)
    for name in ("monitors", "namespaces"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.finish_rate <= 0:
        p.error("--finish-rate must be positive")
    if args.source is not None and not (args.source / "driftwarden").is_dir():
        p.error(
            f"--source {args.source}: no driftwarden package in it (give the worktree's operator/ directory)"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write the results; exit 1 if it had to stop early."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    # A terminated benchmark unwinds (stopping its operator) like an interrupted one.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    options = Options(
        **{f.name: getattr(args, f.name) for f in fields(Options) if hasattr(args, f.name)}
    )
    extra = list(args.operator_arg)
    if args.tick is not None:
        extra += ["--tick", str(args.tick)]
    extra += [
        "--max-concurrent-jobs",
        str(args.max_concurrent_jobs or max(args.latency_jobs, args.burst_jobs, 1)),
    ]
    command = OperatorCommand(args.operator_python, args.source, tuple(extra))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dw-opbench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"workdir {workdir} (kubeconfig, operator logs)")
    results = Run(
        options, command, workdir, shlex.join(["python", "bench/operator_scale.py", *argv])
    ).run()
    write(results, args.json, None if args.no_markdown else args.markdown)
    for target in results["targets"]:
        value = "n/a" if target["value"] is None else f"{target['value']:.2f} {target['unit']}"
        log(f"{target['target']}: {value} → {target['met']}")
    return 1 if "error" in results else 0


if __name__ == "__main__":
    sys.exit(main())
