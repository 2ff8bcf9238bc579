"""Every action a GitHub workflow runs is pinned to a commit, its release named.

A tag (``@v4``, even ``@v4.2.2``) can be moved by whoever controls the action's
repository, and the next run executes the new code with the workflow's token; a
full 40-character commit SHA cannot be moved. The release goes in a comment
(``uses: actions/checkout@<sha> # v4.3.1``) so a reader, Dependabot and Renovate
know which version it is and can move SHA and comment together.

The check reads the workflow text, since YAML parsers drop comments, and then
makes sure it saw every ``uses`` the YAML parser sees.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.e2e_static.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))

_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
_PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
_RELEASE = re.compile(r"v\d+\.\d+\.\d+")


def uses_lines(text: str) -> list[tuple[int, str, str]]:
    """(line number, reference, comment) of every ``uses:`` line."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _USES.match(line)
        if match:
            ref = match.group("ref").strip("'\"")
            found.append((number, ref, (match.group("comment") or "").strip()))
    return found


def pin_problems(text: str) -> list[str]:
    """Every ``uses:`` not pinned to a commit SHA with its release in a comment."""
    problems = []
    for number, ref, comment in uses_lines(text):
        if ref.startswith("./"):
            continue  # an action of this repository: pinned by the checkout itself
        if ref.startswith("docker://"):
            if not re.search(r"@sha256:[0-9a-f]{64}$", ref):
                problems.append(f"line {number}: {ref} is not pinned by digest")
            continue
        if not _PINNED.fullmatch(ref):
            problems.append(f"line {number}: {ref} is not pinned to a full commit SHA")
        elif not _RELEASE.fullmatch(comment.split()[0] if comment else ""):
            problems.append(f"line {number}: {ref} has no '# vX.Y.Z' release comment")
    return problems


def _yaml_uses(document: object) -> list[str]:
    """Every ``uses`` value anywhere in a parsed workflow (steps and reusable workflows)."""
    if isinstance(document, dict):
        own = [document["uses"]] if isinstance(document.get("uses"), str) else []
        return own + [u for value in document.values() for u in _yaml_uses(value)]
    if isinstance(document, list):
        return [u for item in document for u in _yaml_uses(item)]
    return []


def test_the_workflows_are_found():
    assert {p.name for p in WORKFLOWS} >= {"ci.yaml", "e2e.yaml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_release(workflow: Path):
    text = workflow.read_text()
    assert pin_problems(text) == []
    # The text scan saw exactly what GitHub will run.
    assert sorted(ref for _, ref, _ in uses_lines(text)) == sorted(_yaml_uses(yaml.safe_load(text)))


def test_the_same_action_is_pinned_to_one_commit_everywhere():
    refs: dict[str, set[str]] = {}
    for workflow in WORKFLOWS:
        for _, ref, comment in uses_lines(workflow.read_text()):
            action, _, sha = ref.partition("@")
            refs.setdefault(action, set()).add(f"{sha} {comment}")
    assert {a: r for a, r in refs.items() if len(r) > 1} == {}


SHA = "34e114876b0b11c390a56381ad16ebd13914f8d5"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("      - uses: actions/checkout@v4", "not pinned to a full commit SHA"),
        ("      - uses: actions/checkout@v4.3.1", "not pinned to a full commit SHA"),
        ("      - uses: actions/checkout@main", "not pinned to a full commit SHA"),
        ("      - uses: actions/checkout@34e1148", "not pinned to a full commit SHA"),
        (f"      - uses: actions/checkout@{SHA}", "no '# vX.Y.Z' release comment"),
        (f"      - uses: actions/checkout@{SHA} # v4", "no '# vX.Y.Z' release comment"),
        (f"        uses: actions/checkout@{SHA} # pinned", "no '# vX.Y.Z' release comment"),
        ("      - uses: docker://alpine:3.20", "not pinned by digest"),
        ("    uses: org/repo/.github/workflows/x.yaml@main", "not pinned to a full commit SHA"),
    ],
)
def test_the_check_catches_what_it_is_for(line, problem):
    found = pin_problems(f"steps:\n{line}\n")
    assert any(problem in p for p in found), found


@pytest.mark.parametrize(
    "line",
    [
        f"      - uses: actions/checkout@{SHA} # v4.3.1",
        f"        uses: 'actions/checkout@{SHA}'  # v4.3.1 (latest v4)",
        "      - uses: ./.github/actions/local",
        "      - uses: docker://alpine@sha256:" + "a" * 64,
    ],
)
def test_the_check_accepts_pinned_references(line):
    assert pin_problems(f"steps:\n{line}\n") == []
