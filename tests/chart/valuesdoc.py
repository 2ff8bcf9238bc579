"""Read values.yaml's documentation: a ``# -- text`` comment (continued by ``# `` lines)
documents the key on the line right after it, helm-docs style."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_KEY = re.compile(r"^(\s*)([A-Za-z0-9_]+):(.*)$")


@dataclass(frozen=True)
class Documented:
    path: str  # dotted: serviceMonitor.interval
    description: str


def documented_values(path: Path) -> list[Documented]:
    """Keys preceded by a ``# --`` comment, in file order."""
    stack: list[tuple[int, str]] = []
    found = []
    comment: list[str] | None = None
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = [stripped[4:].strip()]
            continue
        if stripped.startswith("#") and comment is not None:
            comment.append(stripped[1:].strip())
            continue
        match = _KEY.match(line)
        if match is None:
            if stripped and not stripped.startswith("-") and not stripped.startswith("#"):
                comment = None
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        dotted = ".".join([k for _, k in stack] + [key])
        stack.append((indent, key))
        if comment is not None:
            found.append(Documented(dotted, " ".join(comment)))
        comment = None
    return found


def leaf_paths(values: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every scalar, list or empty mapping in a values tree."""
    if isinstance(values, dict) and values:
        paths = []
        for key, value in values.items():
            paths += leaf_paths(value, f"{prefix}.{key}" if prefix else key)
        return paths
    return [prefix]


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
