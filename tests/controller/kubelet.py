"""A stand-in for the Job controller and the kubelet: runs Jobs' containers as local processes.

It watches the test API server for Jobs, runs each container's command with the
Job's env (``env`` values and ``envFrom`` Secrets, decoded as the kubelet would),
and writes back what a real cluster would: the pod's termination message (read from
the container's terminationMessagePath, remapped to a temp file) and the Job's
final status. The analysis image's entrypoint is ``driftwarden``: here the installed
package run by this interpreter.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ENTRYPOINTS = {"driftwarden": [sys.executable, "-m", "driftwarden.cli.main"]}


class Kubelet:
    """Runs every Job that appears, in a background thread; ``paused`` keeps new Jobs waiting."""

    def __init__(self, server: Any, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.server = server
        self.workdir = workdir
        self.extra_env = extra_env or {}
        self.paused = False  # while True, new Jobs wait (a node that is slow to start them)
        self.ran: list[str] = []
        self.results: dict[str, tuple[int, str, str]] = {}
        self._seen: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Kubelet:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            jobs = [] if self.paused else self.server.objects("batch", "v1", "jobs")
            for job in jobs:
                key = (job["metadata"]["namespace"], job["metadata"]["name"])
                if key in self._seen or (job.get("status") or {}).get("conditions"):
                    continue
                self._seen.add(key)
                self._run(job)
            time.sleep(0.1)

    def _env(self, namespace: str, container: dict[str, Any]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.extra_env)
        for source in container.get("envFrom") or []:
            ref = source.get("secretRef")
            if ref:
                secret = self.server.get("", "v1", "secrets", ref["name"], namespace)
                env.update(
                    {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
                )
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = item["value"]
        return env

    def _run(self, job: dict[str, Any]) -> None:
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        self.server.start_job(namespace, name)
        container = job["spec"]["template"]["spec"]["containers"][0]
        message_file = self.workdir / f"{name}.termination-log"
        message_file.write_text("")
        declared = container.get("terminationMessagePath", "/dev/termination-log")
        args = [str(message_file) if a == declared else a for a in container.get("args") or []]
        command = container.get("command") or ENTRYPOINTS["driftwarden"]
        command = (
            ENTRYPOINTS.get(command[0], command[:1]) + command[1:]
            if container.get("command")
            else command
        )
        result = subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            env=self._env(namespace, container),
            cwd=self.workdir,
            timeout=300,
        )
        message = message_file.read_text()
        if (
            not message and result.returncode != 0
        ):  # terminationMessagePolicy: FallbackToLogsOnError
            message = "\n".join((result.stdout + result.stderr).splitlines()[-80:])
        self.results[name] = (result.returncode, result.stdout, result.stderr)
        self.ran.append(name)
        self.server.complete_job(
            namespace,
            name,
            succeeded=result.returncode == 0,
            termination_message=message,
            exit_code=result.returncode,
        )
