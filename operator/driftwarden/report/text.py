"""Text for people: control characters made visible, findings built in one place.

Column names and paths come from data users do not control. Written raw, an escape
sequence in a column name recolours or rewrites the terminal that prints a finding,
and a newline forges a log line or a status message. Every human-facing message is
therefore passed through :func:`printable`; machine fields (a feature's ``name``)
keep the exact text.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators and
# bidirectional overrides that reorder what a reader sees.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character written as a visible escape (``\\x1b``)."""
    return _CONTROL.sub(_escape, text)


def finding(severity: str, code: str, feature: str | None, message: str) -> dict[str, Any]:
    """A report finding; its message made printable (``feature`` stays the exact name)."""
    return {"severity": severity, "code": code, "feature": feature, "message": printable(message)}
