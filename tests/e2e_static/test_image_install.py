"""The image's install step, run here: scripts/install-image-deps.sh into a throwaway venv.

The build context is assembled the way `docker build` would (.dockerignore, then
the builder stage's COPY lines), the script runs with the builder's environment,
and the venv it leaves is then used the way the image uses /opt/venv: the
operator's imports, `driftwarden --version`, a small `driftwarden analyze` — with
nothing written into the venv, as on a read-only root filesystem.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.e2e_static.conftest import ROOT
from tests.e2e_static.dockerfile import context_files, env_of, parse

pytestmark = pytest.mark.slow


def _builder_source(tmp: Path) -> Path:
    """/src of the builder stage: the context filtered by .dockerignore, then its COPY lines."""
    context = tmp / "context"
    for relative in context_files(ROOT):
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    src = tmp / "src"
    src.mkdir()
    builder = parse((ROOT / "Dockerfile").read_text()).stages[0]
    for instruction in builder.all("COPY"):
        *sources, destination = instruction.value.split()
        for source in sources:
            origin = context / source.rstrip("/")
            target = src / destination
            if origin.is_dir():
                shutil.copytree(origin, target)
            else:
                target = target / origin.name if destination.endswith("/") else target
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
    return src


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("image")
    src = _builder_source(tmp)
    venv = tmp / "opt-venv"
    builder = parse((ROOT / "Dockerfile").read_text()).stages[0]
    env = {
        **os.environ,
        # The builder's environment, but with pip's cache: this test runs often.
        **{k: v for k, v in env_of(builder).items() if k != "PIP_NO_CACHE_DIR"},
        "PYTHON": getattr(sys, "_base_executable", sys.executable),
    }
    result = subprocess.run(
        ["bash", str(src / "scripts" / "install-image-deps.sh"), str(venv), str(src)],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "driftwarden 0.1.0" in result.stdout
    return venv


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in directory.rglob("*")
        if p.is_file()
    }


def _run(venv: Path, *args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(cwd),
        "TMPDIR": str(cwd),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [str(venv / "bin" / "driftwarden"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **kwargs,
    )


def test_venv_has_no_pip_setuptools_or_test_suites(image_venv):
    assert not list((image_venv / "bin").glob("pip*"))
    for module in ("pip", "setuptools", "wheel"):
        probe = subprocess.run(
            [str(image_venv / "bin" / "python"), "-c", f"import {module}"],
            capture_output=True,
            check=False,
        )
        assert probe.returncode != 0, f"{module} is importable from the image venv"
    site = next((image_venv / "lib").glob("python3.*/site-packages"))
    for package in ("numpy", "scipy", "pyarrow"):
        assert (site / package).is_dir()
        assert not list((site / package).rglob("tests")), package


def test_installed_command_runs_the_analysis_without_writing_into_the_venv(image_venv, tmp_path):
    rng = np.random.default_rng(7)
    n = 3000
    for name, shift in (("reference", 0.0), ("current", 1.5)):
        table = pa.table(
            {
                "income": rng.normal(50 + 10 * shift, 10, n),
                "plan": rng.choice(
                    ["basic", "pro"], n, p=[0.7 - 0.3 * shift / 1.5, 0.3 + 0.3 * shift / 1.5]
                ),
            }
        )
        pq.write_table(table, tmp_path / f"{name}.parquet")
    before = _snapshot(image_venv)

    version = _run(image_venv, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == "driftwarden 0.1.0"
    result = _run(
        image_venv,
        "analyze",
        "--reference", str(tmp_path / "reference.parquet"),
        "--current", str(tmp_path / "current.parquet"),
        "--output", str(tmp_path / "out"),
        "--summary-file", str(tmp_path / "termination-log"),
        "--log-format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "termination-log").read_text())
    assert summary["drifted"] is True and summary["totalFeatures"] == 2
    assert json.loads((tmp_path / "out" / "report.json").read_text())["dataset"]["drifted"]
    validate = _run(
        image_venv, "validate", *map(str, sorted((ROOT / "examples").glob("*.yaml"))), cwd=tmp_path
    )
    assert validate.returncode == 0, validate.stderr
    operator_help = _run(image_venv, "run", "--help", cwd=tmp_path)
    assert operator_help.returncode == 0 and "--metrics-port" in operator_help.stdout

    assert _snapshot(image_venv) == before, "running the image's command wrote into /opt/venv"
