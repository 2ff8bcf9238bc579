"""Bad configurations end as exit 2 with one line naming the input, never "internal error".

Each case is one a person met (issue 8): durations no timedelta holds, a window
reaching before year 1, NaN thresholds, binary, 100k-deep and alias-bomb YAML.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from ..test_documents import alias_bomb
from .test_analyze_cli import driftwarden

BOMB = (
    "kind: DriftMonitor\n"
    + alias_bomb(9)
    + ("\nspec: {reference: {path: /r}, current: {path: /c}, interval: 1h, x: *i}\n")
)
DEEP = "spec: " + "[" * 100_000 + "]" * 100_000 + "\n"


@pytest.fixture
def ref(tmp_path):
    return _csv(tmp_path / "ref.csv")


def _one_line_error(result, needle: str, code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert needle in last, last
    return last


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--window", "99999999999w", "--timestamp-column", "ts"], "longer than ten years"),
        (
            ["--window", "1h", "--timestamp-column", "ts", "--window-end", "0001-01-01T00:30:00Z"],
            "before year 1",
        ),
        (["--numerical-threshold", "nan"], "argument --numerical-threshold: 'nan'"),
        (["--categorical-threshold", "inf"], "argument --categorical-threshold: 'inf'"),
        (["--drift-share", "-inf"], "argument --drift-share"),
    ],
    ids=["huge-window", "window-before-year-1", "nan-threshold", "inf-threshold", "inf-share"],
)
def test_bad_flags_exit_2_naming_the_flag(ref, flags, needle):
    result = driftwarden("analyze", "--reference", ref, "--current", ref, *flags)
    _one_line_error(result, needle)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not a text file"),
        (DEEP.encode(), "nested deeper than 64 levels"),
        (BOMB.encode(), "expands to more than"),
        (b"spec: {current: {window: 2024-01-01}}", "datetime.date"),
    ],
    ids=["binary", "deep", "alias-bomb", "yaml-date"],
)
def test_bad_config_files_exit_2_for_analyze_and_validate(tmp_path, ref, content, needle):
    config = tmp_path / "monitor.yaml"
    config.write_bytes(content)
    result = driftwarden("analyze", "--reference", ref, "--current", ref, "--config", config)
    _one_line_error(result, needle)
    if needle != "datetime.date":  # validate parses the manifest, not a spec on its own
        result = driftwarden("validate", config)
        _one_line_error(result, needle)
        assert f"{config}:" in result.stderr


def test_render_with_a_bad_slot_exits_2(tmp_path):
    example = tmp_path / "m.yaml"
    example.write_text(
        "apiVersion: driftwarden.io/v1alpha1\nkind: DriftMonitor\nmetadata: {name: m}\n"
        "spec: {interval: 1h, reference: {path: /r}, current: {path: /c}}\n"
    )
    result = driftwarden("render", example, "--slot", "yesterday")
    _one_line_error(result, "--slot 'yesterday' is not an ISO 8601 time")


def _csv(path, shift=0.0):
    pacsv.write_csv(pa.table({"x": [shift + i / 10 for i in range(400)]}), path)
    return path


def test_a_csv_extension_decides_the_format_without_a_flag(tmp_path):
    ref = _csv(tmp_path / "ref.csv")
    cur = _csv(tmp_path / "cur.csv", shift=0.01)
    result = driftwarden("analyze", "--reference", ref, "--current", cur, "--no-profile-cache")
    assert result.returncode == 0, result.stderr


def test_a_misread_format_names_the_flag_to_set(tmp_path):
    (tmp_path / "ref").mkdir()
    ref = _csv(tmp_path / "ref" / "part-0.parquet")  # CSV content behind a parquet name
    result = driftwarden(
        "analyze", "--reference", tmp_path / "ref", "--current", ref, "--no-profile-cache"
    )
    last = _one_line_error(result, "--reference-format", code=3)
    assert "set format:" not in last
