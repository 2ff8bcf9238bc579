"""The "process runner" kubelet of the operator tests: runs each pod's container as a local process.

The test API server's own Job controller creates the pods (``tests/kubeapi/jobcontroller.py``)
and its kubelet stand-in reports their status (``tests/kubeapi/kubelet.py``); this module is
the behaviour that kubelet calls for every pod: run the first container's command with the
pod's env as the kubelet builds it (``PodRun.env``: ``envFrom``, values, Secret/ConfigMap
keys, fieldRef such as an Indexed Job's ``JOB_COMPLETION_INDEX``), the
termination-message path remapped to a temp file, and hand back the exit code, the file's
content and the output as logs. The kubelet stand-in then applies the kubelet's
termination-message rule (last 4096 bytes; FallbackToLogsOnError) and the Job controller
counts the pod. The analysis image's entrypoint is ``driftwarden``: here the installed
package run by this interpreter.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.kubeapi.kubelet import Outcome, PodRun, Unschedulable

Override = Callable[[PodRun], "Outcome | Unschedulable | None"]

ENTRYPOINTS = {"driftwarden": [sys.executable, "-m", "driftwarden.cli.main"]}
TIMEOUT = 300  # seconds a container may run before the runner kills it


class Kubelet:
    """Runs every pod of the cluster as a process; ``paused`` keeps new pods Pending.

    ``ran`` lists the Jobs whose pod finished (in order), ``results[job]`` is the last
    ``(exit code, stdout, stderr)`` of that Job's pod, ``pod_results[pod]`` the same per pod
    (an Indexed Job runs several at once). ``override(fn)`` decides some pods'
    fate instead of running them: ``fn(run)`` returns an ``Outcome`` (say
    ``Outcome.oom_killed()``), ``Unschedulable(...)``, or None to run the process.
    """

    def __init__(self, server: Any, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.server = server
        self.workdir = workdir
        self.extra_env = extra_env or {}
        self.ran: list[str] = []
        self.results: dict[str, tuple[int, str, str]] = {}
        self.pod_results: dict[str, tuple[int, str, str]] = {}  # by pod name (Indexed Jobs)
        self.overrides: list[Override] = []

    def override(self, fn: Override) -> None:
        """Let ``fn`` decide the outcome of the pods it returns one for (first match wins)."""
        self.overrides.append(fn)

    @property
    def paused(self) -> bool:
        """While True, new pods stay Pending (a node slow to start them)."""
        return bool(self.server.kubelet.paused)

    @paused.setter
    def paused(self, value: bool) -> None:
        self.server.kubelet.paused = value

    def __enter__(self) -> Kubelet:
        self.server.kubelet.behave(self.run)
        self.server.kubelet.enabled = True
        self.server.job_controller.enabled = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.kubelet.stop()

    def _env(self, pod: PodRun) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.extra_env)
        # What the kubelet resolves: envFrom, values, fieldRef (JOB_COMPLETION_INDEX of an
        # Indexed Job's pod is one), Secret and ConfigMap keys.
        env.update(pod.env())
        return env

    def _command(self, pod: PodRun, message_file: Path) -> list[str]:
        container = pod.container
        declared = container.get("terminationMessagePath", "/dev/termination-log")
        command, args = pod.command_line()  # $(VAR) expanded, as the kubelet does
        args = [str(message_file) if a == declared else a for a in args]
        if command:
            return ENTRYPOINTS.get(command[0], command[:1]) + command[1:] + args
        return ENTRYPOINTS["driftwarden"] + args

    def run(self, pod: PodRun) -> Outcome | Unschedulable:
        """The kubelet behaviour: start the container, wait for it (or the pod's deletion)."""
        for fn in list(self.overrides):
            decided = fn(pod)
            if decided is not None:
                return decided
        pod.start()
        fd, name = tempfile.mkstemp(
            prefix=f"{pod.name}.", suffix=".termination-log", dir=self.workdir
        )
        os.close(fd)
        message_file = Path(name)
        with (
            tempfile.TemporaryFile(dir=self.workdir) as out,
            tempfile.TemporaryFile(dir=self.workdir) as err,
        ):
            process = subprocess.Popen(
                self._command(pod, message_file),
                stdout=out,
                stderr=err,
                env=self._env(pod),
                cwd=self.workdir,
            )
            try:
                waited = 0.0
                while process.poll() is None:
                    if pod.cancelled.wait(
                        0.05
                    ):  # the pod was deleted: SIGTERM, as the kubelet sends
                        process.send_signal(signal.SIGTERM)
                        process.wait(timeout=30)
                        break
                    waited += 0.05
                    if waited > TIMEOUT:
                        process.kill()
                        process.wait()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            out.seek(0)
            err.seek(0)
            stdout, stderr = (
                out.read().decode(errors="replace"),
                err.read().decode(errors="replace"),
            )
        code = process.returncode if process.returncode >= 0 else 128 - process.returncode
        job = (pod.pod["metadata"].get("labels") or {}).get("job-name", pod.name)
        self.results[job] = (code, stdout, stderr)
        self.pod_results[pod.name] = (code, stdout, stderr)
        self.ran.append(job)
        return Outcome(
            exit_code=code, termination_message=message_file.read_bytes(), logs=stdout + stderr
        )
