"""Control characters never reach a person's terminal or page raw."""

import pytest

from driftwarden.report.text import finding, printable


@pytest.mark.parametrize(
    "raw,shown",
    [
        ("plain name", "plain name"),
        ("red\x1b[31mtext", "red\\x1b[31mtext"),
        ("two\nlines\r", "two\\x0alines\\x0d"),
        ("bell\x07 del\x7f c1\x9b", "bell\\x07 del\\x7f c1\\x9b"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("Ünïcödé €", "Ünïcödé €"),
    ],
)
def test_printable_escapes_controls_only(raw, shown):
    assert printable(raw) == shown


def test_a_finding_keeps_the_exact_name_but_a_printable_message():
    made = finding("warning", "AllNull", "a\x1bb", "a\x1bb: no value")
    assert made["feature"] == "a\x1bb" and made["message"] == "a\\x1bb: no value"
