"""Fixtures of the static checks of the image, the e2e suite and the GitOps files.

``cluster`` (the operator against the test API server, a real S3 server and the
kubelet stand-in) comes from the controller tests, so e2e/checks.py is exercised
on real operator results here.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.controller.conftest import cluster  # noqa: F401  (re-exported fixture)

ROOT = Path(__file__).resolve().parents[2]


def find_tool(name: str) -> str | None:
    """A command-line tool: on PATH, else next to the running interpreter (a venv's bin/)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.is_file() else None


def find_helm() -> str | None:
    """helm 3: ./.tools/helm3/helm (scripts/ci-tools.sh), else the one on PATH."""
    local = ROOT / ".tools" / "helm3" / "helm"
    return str(local) if local.is_file() else shutil.which("helm")
