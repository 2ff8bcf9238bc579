"""Label and field selectors, parsed and matched the way kube-apiserver does.

Label selector grammar (k8s.io/apimachinery/pkg/labels): comma-separated
requirements, each one of ``key``, ``!key``, ``key=value``, ``key==value``,
``key!=value``, ``key in (a,b)``, ``key notin (a,b)``, ``key>N``, ``key<N``.

Field selectors: comma-separated ``path=value``, ``path==value``,
``path!=value`` with ``\\`` escapes; which paths are supported depends on the
resource (the server answers 400 for the others, as a real one does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .validation import label_value_errors, qualified_name_errors


class SelectorError(ValueError):
    """A selector that does not parse: the server answers 400 BadRequest."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # exists, !exists, =, !=, in, notin, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op in ("gt", "lt"):
            if not present:
                return False
            try:
                have = int(value or "")
            except ValueError:
                return False
            want = int(self.values[0])
            return have > want if self.op == "gt" else have < want
        raise AssertionError(self.op)


_SPECIAL = set(" \t\n,=!()<>")


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("==", i) or text.startswith("!=", i):
            tokens.append(text[i : i + 2])
            i += 2
        elif ch in "=!(),<>":
            tokens.append(ch)
            i += 1
        else:
            j = i
            while j < len(text) and text[j] not in _SPECIAL:
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


def _check_key(key: str) -> None:
    errors = qualified_name_errors(key)
    if errors:
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": {errors[0]}'
        )


def _check_value(value: str) -> None:
    errors = label_value_errors(value)
    if errors:
        raise SelectorError(
            f'unable to parse requirement: values[0][{value}]: Invalid value: "{value}": {errors[0]}'
        )


def parse_label_selector(text: str | None) -> list[Requirement]:
    if not text or not text.strip():
        return []
    tokens = _tokenize(text)
    reqs: list[Requirement] = []
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise SelectorError(f"found '', expected: identifier after {text!r}")
        pos += 1
        return tokens[pos - 1]

    while True:
        tok = take()
        if tok == "!":
            key = take()
            _check_key(key)
            reqs.append(Requirement(key, "!exists"))
        else:
            if tok in ("=", "==", "!=", "(", ")", ",", "<", ">"):
                raise SelectorError(f"found '{tok}', expected: !, identifier, or 'end of string'")
            key = tok
            _check_key(key)
            nxt = peek()
            if nxt is None or nxt == ",":
                reqs.append(Requirement(key, "exists"))
            elif nxt in ("=", "==", "!="):
                take()
                value = ""
                if peek() not in (None, ","):
                    value = take()
                    if value in ("(", ")", "=", "!", "<", ">", "==", "!="):
                        raise SelectorError(f"found '{value}', expected: identifier")
                _check_value(value)
                reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", (value,)))
            elif nxt in ("in", "notin"):
                take()
                if take() != "(":
                    raise SelectorError("found '', expected: '('")
                values: list[str] = []
                while True:
                    t = take()
                    if t == ")":
                        break
                    if t == ",":
                        continue
                    _check_value(t)
                    values.append(t)
                if nxt == "in" and not values:
                    raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
                reqs.append(Requirement(key, nxt, tuple(values)))
            elif nxt in ("<", ">"):
                take()
                value = take()
                if not re.fullmatch(r"-?\d+", value):
                    raise SelectorError(
                        f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {value}"
                    )
                reqs.append(Requirement(key, "gt" if nxt == ">" else "lt", (value,)))
            else:
                raise SelectorError(f"found '{nxt}', expected: '=', '!=', '==', 'in', notin'")
        nxt = peek()
        if nxt is None:
            break
        if nxt != ",":
            raise SelectorError(f"found '{nxt}', expected: ',' or 'end of string'")
        take()
    return reqs


def labels_match(reqs: list[Requirement], obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # = or !=
    value: str


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            if text[i + 1] not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: {text!r}")
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_field_selector(text: str | None) -> list[FieldRequirement]:
    if not text or not text.strip():
        return []
    reqs = []
    for part in _split_unescaped(text, ","):
        if not part:
            continue
        m = re.match(r"^((?:[^=!\\]|\\.)+?)(!=|==|=)(.*)$", part)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.groups()
        reqs.append(FieldRequirement(field.strip(), "!=" if op == "!=" else "=", _unescape(value)))
    return reqs


FieldGetter = Callable[[Mapping[str, Any]], str]


def dig(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(
    reqs: list[FieldRequirement], obj: Mapping[str, Any], getters: Mapping[str, FieldGetter]
) -> bool:
    for r in reqs:
        have = getters[r.field](obj)
        if (have == r.value) != (r.op == "="):
            return False
    return True


def check_field_labels(
    reqs: list[FieldRequirement], getters: Mapping[str, FieldGetter], kind: str
) -> None:
    for r in reqs:
        if r.field not in getters:
            raise SelectorError(f'field label not supported: "{r.field}"')
