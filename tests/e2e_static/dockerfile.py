"""Just enough of Docker's build-file semantics to check ours without a Docker engine.

* :func:`parse` splits a Dockerfile into stages of instructions (line continuations,
  comments and parser directives handled as BuildKit does);
* :func:`problems` checks the rules this project holds every image to;
* :func:`context_files` applies ``.dockerignore`` the way BuildKit does (the last
  matching pattern wins, ``!`` re-includes, a pattern that matches a parent
  directory matches everything under it, ``**`` spans directories).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    value: str  # the rest of the instruction, continuations joined
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form ENTRYPOINT/CMD/RUN, or None for shell form."""
        try:
            parsed = json.loads(self.value)
        except json.JSONDecodeError:
            return None
        return (
            parsed if isinstance(parsed, list) and all(isinstance(a, str) for a in parsed) else None
        )


@dataclass
class Stage:
    base: str  # as written, ARGs not yet resolved
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    def resolve(self, text: str, extra: dict[str, str] | None = None) -> str:
        """Substitute ``$NAME`` / ``${NAME}`` with the ARG defaults."""
        values = {**self.global_args, **(extra or {})}
        return re.sub(
            r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: values.get(m.group(1), m.group(0)), text
        )

    def base_image(self, stage: Stage) -> str:
        return self.resolve(stage.base)

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """(first line number, instruction text) with continuations joined and comments dropped."""
    lines = text.splitlines()
    start = 0
    # Parser directives (# syntax=..., # escape=...) only at the very top.
    while start < len(lines) and re.match(r"#\s*\w+\s*=", lines[start]):
        start += 1
    buffer: list[str] = []
    first = 0
    for number, raw in enumerate(lines[start:], start=start + 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buffer):
            continue  # comment lines inside a continuation are dropped too
        if not buffer:
            first = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        yield first, " ".join(part for part in buffer if part)
        buffer = []
    if buffer:
        yield first, " ".join(buffer)


def parse(text: str) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in _logical_lines(text):
        keyword, _, value = line.partition(" ")
        instruction = Instruction(keyword.upper(), value.strip(), number)
        if instruction.keyword == "FROM":
            words = [w for w in instruction.value.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            if instruction.keyword == "ARG":
                key, _, default = instruction.value.partition("=")
                global_args[key.strip()] = default.strip().strip('"')
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(global_args, stages)


def env_of(stage: Stage) -> dict[str, str]:
    """ENV values set in a stage (``KEY=value`` pairs; the legacy ``KEY value`` form too)."""
    env: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        words = shlex.split(instruction.value)
        if words and "=" not in words[0]:
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            env[key] = value
    return env


def labels_of(stage: Stage, dockerfile: Dockerfile) -> dict[str, str]:
    args = {
        key.strip(): default.strip().strip('"')
        for key, _, default in (i.value.partition("=") for i in stage.all("ARG"))
    }
    labels: dict[str, str] = {}
    for instruction in stage.all("LABEL"):
        for word in shlex.split(instruction.value):
            key, _, value = word.partition("=")
            labels[key] = dockerfile.resolve(value, args)
    return labels


# ---------------------------------------------------------------- the rules

_PINNED = re.compile(r"(@sha256:[0-9a-f]{64}$)|(:[^:@/]*\d+\.\d+\.\d+[^:@/]*$)")
_URL = re.compile(r"^(https?|ftp|git)://|^git@", re.IGNORECASE)
OCI_LABELS = (
    "org.opencontainers.image.title",
    "org.opencontainers.image.source",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.created",
    "org.opencontainers.image.licenses",
)


def problems(text: str) -> list[str]:
    """Every rule the project's Dockerfile breaks, as readable sentences (empty: all good)."""
    dockerfile = parse(text)
    found: list[str] = []
    if not dockerfile.stages:
        return ["no FROM instruction"]
    syntax = re.search(r"^#\s*syntax\s*=\s*(\S+)", text, re.IGNORECASE)
    if syntax and not re.search(r"@sha256:[0-9a-f]{64}$", syntax.group(1)):
        # The frontend image runs with the build's inputs: a moving tag is code nobody pinned.
        found.append(
            f"# syntax={syntax.group(1)}: a frontend image pulled by tag; "
            "pin it by digest or drop the directive (BuildKit's built-in frontend builds it)"
        )
    names = {s.name for s in dockerfile.stages if s.name}
    for stage in dockerfile.stages:
        image = dockerfile.base_image(stage)
        if image in names or image == "scratch":
            continue
        if "$" in image:
            found.append(f"FROM {stage.base}: an ARG without a default")
        elif image.rsplit("/", 1)[-1].partition("@")[0].endswith(":latest"):
            found.append(f"FROM {image}: the 'latest' tag moves; pin a version")
        elif not _PINNED.search(image):
            found.append(f"FROM {image}: not pinned to a full version (x.y.z) or a sha256 digest")
        for instruction in stage.instructions:
            where = f"line {instruction.line}"
            if instruction.keyword == "ADD":
                sources = [w for w in instruction.value.split() if not w.startswith("--")][:-1]
                if any(_URL.match(s) for s in sources):
                    found.append(f"{where}: ADD of a URL; download in a RUN you can verify")
                else:
                    found.append(f"{where}: ADD where COPY does (ADD unpacks archives silently)")
            if instruction.keyword == "RUN" and re.search(
                r"\bapt(-get)?\s+install\b", instruction.value
            ):
                if "--no-install-recommends" not in instruction.value:
                    found.append(f"{where}: apt-get install without --no-install-recommends")
                if "rm -rf /var/lib/apt/lists" not in instruction.value:
                    found.append(f"{where}: apt lists not removed in the same RUN")
            if instruction.keyword == "RUN" and re.search(
                r"\bpip3?\s+install\b", instruction.value
            ):
                found.append(f"{where}: pip install outside scripts/install-image-deps.sh")
            if instruction.keyword == "RUN" and re.search(
                r"\b(curl|wget)\b.*\|\s*(ba)?sh", instruction.value
            ):
                found.append(f"{where}: a download piped into a shell")

    builder = dockerfile.stages[0] if len(dockerfile.stages) > 1 else None
    final = dockerfile.final
    if builder is None:
        found.append("not a multi-stage build: the final image would carry the build tools")
    else:
        if dockerfile.base_image(builder) != dockerfile.base_image(final):
            found.append("builder and final stages use different bases (the venv links its Python)")
        if not any(
            "scripts/install-image-deps.sh /opt/venv" in i.value for i in builder.all("RUN")
        ):
            found.append("the builder does not run scripts/install-image-deps.sh /opt/venv")
    for copy in final.all("COPY"):
        if "--from=" in copy.value and copy.value.split()[-1].rstrip("/") != "/opt/venv":
            found.append(f"line {copy.line}: the final stage copies more than /opt/venv")
    if final.all("RUN") and any(
        re.search(r"\b(gcc|cc|make|build-essential)\b", i.value) for i in final.all("RUN")
    ):
        found.append("the final stage installs or runs a compiler")

    user = final.last("USER")
    if user is None:
        found.append("no USER in the final stage: the image would run as root")
    else:
        match = re.fullmatch(r"(\d+)(?::(\d+))?", user.value)
        if not match:
            found.append(f"USER {user.value}: use a numeric UID[:GID] (runAsNonRoot checks it)")
        elif int(match.group(1)) == 0 or (match.group(2) is not None and int(match.group(2)) == 0):
            found.append(f"USER {user.value}: root")
    entrypoint, cmd = final.last("ENTRYPOINT"), final.last("CMD")
    if entrypoint is None or entrypoint.exec_form() is None:
        found.append("ENTRYPOINT missing or in shell form (signals would go to /bin/sh)")
    elif entrypoint.exec_form() != ["driftwarden"]:
        found.append(f"ENTRYPOINT {entrypoint.value}: the Jobs rely on it being driftwarden")
    if cmd is None or cmd.exec_form() is None:
        found.append("CMD missing or in shell form")
    env = env_of(final)
    if env.get("HOME") != "/tmp":
        found.append("HOME is not /tmp: tools writing to ~ fail on a read-only root filesystem")
    if env.get("PYTHONDONTWRITEBYTECODE") != "1":
        found.append("PYTHONDONTWRITEBYTECODE is not 1: Python would try to write .pyc files")
    labels = labels_of(final, dockerfile)
    for label in OCI_LABELS:
        if not labels.get(label):
            found.append(f"label {label} missing")
    return found


# ---------------------------------------------------------------- .dockerignore


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out += "(.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
            continue
        else:
            out += re.escape(char)
        i += 1
    return re.compile(f"^{out}$")


def read_dockerignore(path: Path) -> list[tuple[bool, str, re.Pattern[str]]]:
    """(excludes, pattern, regex) for each rule of a .dockerignore, in order."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        rules.append((exclude, pattern, _pattern_regex(pattern)))
    return rules


def ignored(relative: str, rules: list[tuple[bool, str, re.Pattern[str]]]) -> bool:
    """True when BuildKit would leave ``relative`` (a POSIX path) out of the context."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for exclude, _, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            result = exclude
    return result


def context_files(root: Path) -> list[str]:
    """The files (relative POSIX paths) a ``docker build root`` would send."""
    rules = read_dockerignore(root / ".dockerignore")
    # Literal beginnings of the re-including patterns: an ignored directory is only
    # walked when one of them may lie beneath it (BuildKit prunes the same way).
    reincluded = [re.split(r"[*?\[]", p, maxsplit=1)[0] for e, p, _ in rules if not e]
    files: list[str] = []

    def walk(directory: Path) -> None:
        for path in sorted(directory.iterdir()):
            relative = path.relative_to(root).as_posix()
            if path.is_dir() and not path.is_symlink():
                if relative == ".git":
                    continue
                if not ignored(relative, rules) or any(
                    prefix.startswith(relative + "/") or prefix == relative for prefix in reincluded
                ):
                    walk(path)
            elif not ignored(relative, rules):
                files.append(relative)

    walk(root)
    return files
