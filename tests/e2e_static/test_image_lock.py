"""requirements/image.lock: what the image installs, pinned with hashes.

scripts/lock-image-deps.sh writes the lock (it needs PyPI, so it is not run here);
these checks fail when pyproject.toml or the Dockerfile's base image changed and
the lock was not regenerated, or when a line was edited by hand into something
pip's hash-checking mode would reject or that does not pin one release.
test_image_install.py then installs it the way the image build does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.e2e_static.conftest import ROOT

LOCK = ROOT / "requirements" / "image.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The install script's commands, comment lines left out.
INSTALL_SCRIPT = "\n".join(
    line
    for line in (ROOT / "scripts" / "install-image-deps.sh").read_text().splitlines()
    if not line.lstrip().startswith("#")
)


@dataclass
class Pin:
    line: int
    requirement: Requirement
    hashes: list[str]


def parse_lock(text: str) -> list[Pin]:
    """The lock's entries: ``name==version`` plus their ``--hash`` options.

    Lines are joined at backslash continuations, as pip reads them; comment lines
    and trailing comments are dropped.
    """
    pins: list[Pin] = []
    logical: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not logical:
            start = number
        if line.endswith("\\"):
            logical.append(line[:-1].strip())
            continue
        logical.append(line)
        joined = " ".join(part for part in logical if part)
        logical = []
        if not joined:
            continue
        words = joined.split()
        hashes = [w.removeprefix("--hash=") for w in words if w.startswith("--hash=")]
        rest = " ".join(w for w in words if not w.startswith("--hash="))
        pins.append(Pin(start, Requirement(rest), hashes))
    return pins


def _pinned_version(pin: Pin) -> str | None:
    """The one version an entry pins (``name==X``), else None."""
    specifiers = list(pin.requirement.specifier)
    if len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
        return None
    return specifiers[0].version


def lock_problems(text: str) -> list[str]:
    """Why pip's hash-checking mode would not pin ``text`` to known files (empty: fine)."""
    found: list[str] = []
    seen: set[str] = set()
    for pin in parse_lock(text):
        where = f"line {pin.line}: {pin.requirement}"
        if _pinned_version(pin) is None:
            found.append(f"{where} is not pinned to one version with ==")
        if pin.requirement.extras or pin.requirement.url:
            found.append(f"{where} has extras or a URL")
        if not pin.hashes:
            found.append(f"{where} has no --hash")
        found += [
            f"{where}: {digest} is not a sha256"
            for digest in pin.hashes
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
        ]
        name = canonicalize_name(pin.requirement.name)
        if name in seen:
            found.append(f"{where}: pinned twice")
        seen.add(name)
    return found


PINS = parse_lock(LOCK.read_text())
BY_NAME = {canonicalize_name(p.requirement.name): p for p in PINS}


def test_every_entry_pins_one_release_with_sha256_hashes():
    assert len(PINS) >= len(PYPROJECT["project"]["dependencies"])
    assert lock_problems(LOCK.read_text()) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("numpy==2.4.6\n", "no --hash"),
        ("numpy>=2 \\\n    --hash=sha256:" + "a" * 64 + "\n", "not pinned"),
        ("numpy==2.* \\\n    --hash=sha256:" + "a" * 64 + "\n", "not pinned"),
        ("numpy==2.4.6 \\\n    --hash=md5:" + "a" * 32 + "\n", "not a sha256"),
        (
            "numpy==2.4.6 --hash=sha256:" + "a" * 64 + "\nNumPy==2.4.6 --hash=sha256:" + "b" * 64,
            "twice",
        ),
    ],
)
def test_the_checks_reject_what_would_not_pin_known_files(text, problem):
    assert any(problem in p for p in lock_problems(text)), lock_problems(text)


@pytest.mark.parametrize(
    "requirement",
    [*PYPROJECT["project"]["dependencies"], *PYPROJECT["build-system"]["requires"]],
)
def test_every_runtime_and_build_dependency_is_locked_within_its_range(requirement):
    wanted = Requirement(requirement)
    pin = BY_NAME.get(canonicalize_name(wanted.name))
    assert pin is not None, f"{requirement} is not in {LOCK.name}: run scripts/lock-image-deps.sh"
    version = _pinned_version(pin)
    assert version is not None, f"{pin.requirement} is not pinned"
    assert wanted.specifier.contains(version, prereleases=True), (
        f"{LOCK.name} pins {wanted.name}=={version}, outside pyproject.toml's {requirement}: "
        "run scripts/lock-image-deps.sh"
    )


def test_lock_is_for_the_python_of_the_dockerfile_base_image():
    base = re.search(
        r"^ARG PYTHON_IMAGE=python:(\d+\.\d+\.\d+)-", (ROOT / "Dockerfile").read_text(), re.M
    )
    assert base, "Dockerfile: no ARG PYTHON_IMAGE=python:X.Y.Z-..."
    header = re.search(r"^# .*for CPython (\d+\.\d+\.\d+)\b", LOCK.read_text(), re.M)
    assert header, f"{LOCK.name} does not say which Python it is for"
    assert header.group(1) == base.group(1), (
        f"{LOCK.name} is for CPython {header.group(1)}, the image runs {base.group(1)}: "
        "run scripts/lock-image-deps.sh"
    )


def test_the_install_script_installs_the_lock_with_hashes_and_resolves_nothing():
    install = re.search(r"install[^\n]*(?:\\\n[^\n]*)*image\.lock", INSTALL_SCRIPT)
    assert install, "scripts/install-image-deps.sh does not install the lock"
    for option in ("--require-hashes", "--no-deps", "--only-binary :all:"):
        assert option in install.group(0), option
    # The project's own wheel: built with the locked backend, installed alone.
    assert "--no-build-isolation" in INSTALL_SCRIPT
    own = re.search(r"install[^\n]*driftwarden-\*\.whl", INSTALL_SCRIPT)
    assert own and "--no-deps" in own.group(0)
    assert re.search(r"pip\S*\s+check\b", INSTALL_SCRIPT), "no `pip check` after the install"


@pytest.mark.slow
def test_the_lock_script_reproduces_the_committed_pins(tmp_path):
    """scripts/lock-image-deps.sh, run on a copy of its inputs, pins what is committed.

    Needs PyPI (uv from it, and the index to resolve against). Compares the pins,
    not the hashes: an index may add a file to a release later, and that is no drift.
    """
    for relative in ("Dockerfile", "pyproject.toml", "requirements/image.lock"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, tmp_path / relative)
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "lock-image-deps.sh", tmp_path / "scripts")
    result = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "lock-image-deps.sh")],
        env={**os.environ, "PYTHON": getattr(sys, "_base_executable", sys.executable)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    regenerated = parse_lock((tmp_path / "requirements" / "image.lock").read_text())
    assert sorted(str(p.requirement) for p in regenerated) == sorted(
        str(p.requirement) for p in PINS
    )
