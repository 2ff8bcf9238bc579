"""The terminal progress line: a bar when the total is known, a spinner otherwise."""

import io

from driftwarden.cli.progress import ProgressLine


def test_bar_with_a_known_total_and_spinner_without():
    stream = io.StringIO()
    line = ProgressLine(stream)
    line("reference", 500, 1000)
    line.last_draw = 0  # redraw now
    line("current", 10, None)
    line.close()
    text = stream.getvalue()
    assert "50%" in text and "reference" in text and "500 rows" in text
    assert "current" in text and "%" not in text.split("current")[0][-3:]
    assert text.endswith("\n")
