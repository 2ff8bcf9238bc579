"""Configuration documents (YAML manifests, JSON from the environment) read within bounds.

A YAML file can be small and still huge: aliases (``&a``/``*a``) nest, so a
1.4 KB "billion laughs" file expands to gigabytes the moment anything walks it
(``json.dumps``, ``copy.deepcopy``), and a document nested 100,000 levels deep
overflows every recursive reader (``RecursionError``). Both are checked here
on PyYAML's event stream, which is read iteratively and never expands an
alias, before any Python object is built. A manifest whose expanded size or
depth is beyond any real DriftMonitor is refused with a ConfigError naming the
file. Pure: no I/O, the caller reads the text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from driftwarden.errors import ConfigError

if TYPE_CHECKING:
    import yaml

# PyYAML is imported where YAML is read, not here: `driftwarden analyze` from flags
# (every analysis Job: its spec comes as JSON) reads no YAML, and the import costs
# ~10 ms of a run that is ~0.4 s at 10^5 rows (bench/RESULTS.md, addendum 3).

#: Deepest nesting accepted. A DriftMonitor with a retraining Job template is
#: about 12 levels deep; Kubernetes objects rarely pass 20.
MAX_DEPTH = 64
#: Largest expanded size accepted, counting one per node plus the characters of
#: every scalar, with each alias counted as the whole node it stands for. The
#: API server takes objects up to about 1.5 MB, so 4 million is generous.
MAX_EXPANDED_SIZE = 4_000_000


def check_yaml(text: str, source: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH or expanding beyond MAX_EXPANDED_SIZE.

    Works on the event stream: each collection's expanded size is the sum of
    its children's, an anchored node's size is remembered under its anchor,
    and an alias adds that size without being expanded.
    """
    import yaml

    opening = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    closing = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    anchors: dict[str, int] = {}
    # One entry per open collection: (its anchor, its expanded size so far).
    stack: list[tuple[str | None, int]] = []
    total = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            size = 0
            if isinstance(event, opening):
                if len(stack) >= MAX_DEPTH:
                    raise ConfigError(
                        f"{source}: nested deeper than {MAX_DEPTH} levels",
                        hint="a DriftMonitor is a dozen levels deep; check the file's indentation",
                    )
                stack.append((event.anchor, 1))
                continue
            if isinstance(event, closing):
                anchor, size = stack.pop()
            elif isinstance(event, yaml.ScalarEvent):
                anchor, size = event.anchor, 1 + len(event.value)
            elif isinstance(event, yaml.AliasEvent):
                anchor, size = None, anchors.get(event.anchor or "", 1)
            elif isinstance(event, yaml.DocumentEndEvent):
                total = 0  # each document has its own budget
                anchors.clear()
                continue
            else:
                continue
            if anchor is not None:
                anchors[anchor] = size
            if stack:
                parent_anchor, parent_size = stack[-1]
                stack[-1] = (parent_anchor, parent_size + size)
                size = stack[-1][1]
            else:
                total = size
            if size > MAX_EXPANDED_SIZE or total > MAX_EXPANDED_SIZE:
                raise ConfigError(
                    f"{source}: expands to more than {MAX_EXPANDED_SIZE:,} nodes and characters",
                    hint="YAML aliases (*name) repeat whole nodes; write the values out, "
                    "or split the file",
                )
    except yaml.YAMLError as error:
        raise ConfigError(f"{source} is not valid YAML: {_one_line(error)}") from error


def load_yaml_documents(text: str, source: str) -> list[Any]:
    """Every non-empty document of a YAML stream, after :func:`check_yaml`."""
    import yaml

    check_yaml(text, source)
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise ConfigError(f"{source} is not valid YAML: {_one_line(error)}") from error


def load_yaml(text: str, source: str) -> Any:
    """The one document of a YAML file (None when empty), after :func:`check_yaml`."""
    documents = load_yaml_documents(text, source)
    if len(documents) > 1:
        raise ConfigError(
            f"{source} holds {len(documents)} YAML documents",
            hint="give one DriftMonitor (or its spec) per file",
        )
    return documents[0] if documents else None


def check_depth(value: Any, where: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed value nested deeper than ``max_depth``, without recursing.

    Objects read from the API server were parsed already (it admits JSON far
    deeper than Python's recursion limit in fields the CRD leaves open, such as
    a retraining Job template); checking first keeps every later reader safe.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping | list | tuple):
            if depth >= max_depth:
                raise ConfigError(f"{where}: nested deeper than {max_depth} levels")
            children = node.values() if isinstance(node, Mapping) else node
            stack.extend((child, depth + 1) for child in children)


def load_json(text: str, source: str) -> Any:
    """A JSON document, refusing one nested deeper than MAX_DEPTH."""
    depth = 0
    in_string = escaped = False
    for char in text:  # brackets outside strings give the depth without parsing
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"{source}: nested deeper than {MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{source}: not valid JSON ({error})") from error


def decode(data: bytes, source: str) -> str:
    """``data`` as UTF-8 text; a binary file is a ConfigError naming it."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{source} is not a text file (not UTF-8 at byte {error.start})",
            hint="give a YAML file",
        ) from None


def _one_line(error: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line (the CLI prints errors on one line)."""
    return " ".join(str(error).split())
