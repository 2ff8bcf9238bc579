"""``driftwarden run`` as a separate process, pointed at the fixture, with its memory sampled.

Which code runs is configurable, so the same benchmark measures main and a reworked
controller: ``python`` is the interpreter (another worktree's venv works), ``source``
a directory put first on ``PYTHONPATH`` (e.g. ``/work/wt/controller/operator``), and
``extra_args`` go to ``driftwarden run`` as they are.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from operator_measure import Sample, proc_cpu_seconds, proc_memory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class OperatorCommand:
    """How to start the operator under test."""

    python: str
    source: Path | None = None
    extra_args: tuple[str, ...] = ()

    def env(self, kubeconfig: Path) -> dict[str, str]:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONUNBUFFERED": "1"}
        if self.source is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(self.source), os.environ.get("PYTHONPATH", "")) if p
            )
        return env

    def argv(self) -> list[str]:
        return [
            self.python,
            "-m",
            "driftwarden.cli.main",
            "run",
            "--image",
            "driftwarden:bench",
            "--metrics-port",
            str(free_port()),
            "--health-port",
            str(free_port()),
            *self.extra_args,
        ]

    def describe(self, kubeconfig: Path) -> dict[str, Any]:
        """Which driftwarden this command imports (path, git commit, uncommitted changes)."""
        probe = subprocess.run(
            [
                self.python,
                "-c",
                "import driftwarden, os; print(os.path.dirname(driftwarden.__file__))",
            ],
            env=self.env(kubeconfig),
            capture_output=True,
            text=True,
            timeout=60,
        )
        package = probe.stdout.strip() or f"import failed: {probe.stderr.strip()[-300:]}"
        facts: dict[str, Any] = {
            "python": self.python,
            "source": str(self.source) if self.source else None,
            "extraArgs": list(self.extra_args),
            "package": package,
        }
        if probe.returncode == 0:
            facts["git"] = _git(Path(package))
        return facts


def _git(path: Path) -> str:
    def run(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = run("rev-parse", "--short", "HEAD")
        branch = run("rev-parse", "--abbrev-ref", "HEAD")
        dirty = run("status", "--porcelain", "--", ".")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{branch}@{head}{' + uncommitted changes' if dirty else ''}"


@dataclass
class OperatorProcess:
    """One running operator; a thread samples its RSS and CPU every ``interval`` seconds."""

    command: OperatorCommand
    kubeconfig: Path
    log_path: Path
    interval: float = 0.5
    phase: str = "startup"
    samples: list[Sample] = field(default_factory=list)
    exit_code: int | None = None
    _process: subprocess.Popen[bytes] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> OperatorProcess:
        with self.log_path.open("wb") as log:  # a file, not a pipe nobody reads
            self._process = subprocess.Popen(
                self.command.argv(),
                env=self.command.env(self.kubeconfig),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _sample(self) -> None:
        while not self._stop.is_set() and self.alive():
            try:
                memory = proc_memory(self.pid)
                cpu = proc_cpu_seconds(self.pid)
            except (OSError, ValueError, IndexError):
                break  # the process ended between two looks
            self.samples.append(
                Sample(time.time(), self.phase, memory["VmRSS"], memory["VmHWM"], cpu)
            )
            self._stop.wait(self.interval)

    def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(grace)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self.exit_code = self._process.returncode
        return self.exit_code
