"""The compiled kernels' loader (driftwarden.native): the switch, the fallback, and
that this test environment really built them (so CI tests the code the image ships)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden import native
from driftwarden.cli.main import main
from driftwarden.errors import ConfigError

from ..cli.test_analyze_cli import driftwarden


def test_every_kernel_module_is_built_here():
    # scripts/test.sh installs a C compiler first: a missing module here means the
    # build broke, and the suite would otherwise test only the numpy fallback.
    if native.mode() == "off":
        pytest.skip("DRIFTWARDEN_NATIVE=0: the numpy path is under test")
    assert native.status() == {name: True for name in native.MODULES}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "auto"),
        ("auto", "auto"),
        ("0", "off"),
        ("off", "off"),
        ("1", "required"),
        ("yes", "required"),
    ],
)
def test_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("DRIFTWARDEN_NATIVE", value)
    assert native.mode() == expected


def test_a_bad_mode_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv("DRIFTWARDEN_NATIVE", "fast")
    with pytest.raises(ConfigError, match=r"DRIFTWARDEN_NATIVE='fast': use 0 .* 1 .* auto"):
        native.mode()
    assert native.load("_ecdf") is not None or not any(native.status().values())


def test_off_runs_numpy(monkeypatch):
    monkeypatch.setenv("DRIFTWARDEN_NATIVE", "0")
    assert native.load("_ecdf") is None


def test_an_unknown_module_is_refused():
    with pytest.raises(ValueError, match="unknown native module '_nope'"):
        native.load("_nope")


def test_a_missing_module_falls_back_unless_required(monkeypatch):
    # A None entry in sys.modules makes the import fail as for a module never built.
    monkeypatch.setitem(sys.modules, "driftwarden.native._ecdf", None)
    monkeypatch.delenv("DRIFTWARDEN_NATIVE", raising=False)
    assert native.load("_ecdf") is None
    monkeypatch.setenv("DRIFTWARDEN_NATIVE", "1")
    with pytest.raises(native.NativeKernelMissing, match=r"driftwarden.native._ecdf is missing"):
        native.load("_ecdf")


def _parquet(path):
    pq.write_table(pa.table({"x": np.linspace(0.0, 1.0, 500)}), path)
    return path


def test_analyze_refuses_a_bad_mode_with_exit_2(tmp_path):
    data = _parquet(tmp_path / "d.parquet")
    result = driftwarden(
        "analyze", "--reference", data, "--current", data, "--output", tmp_path / "out",
        env={"DRIFTWARDEN_NATIVE": "fast"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "DRIFTWARDEN_NATIVE='fast'" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_analyze_warns_once_when_running_without_the_kernels(tmp_path, monkeypatch, capfd):
    data = _parquet(tmp_path / "d.parquet")
    monkeypatch.setitem(sys.modules, "driftwarden.native._ecdf", None)
    monkeypatch.delenv("DRIFTWARDEN_NATIVE", raising=False)
    argv = ["analyze", "--reference", str(data), "--current", str(data)]
    argv += ["--output", str(tmp_path / "o"), "--quiet", "--log-format", "json"]
    assert main(argv) == 0
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    warnings = [line for line in lines if "compiled kernels not built" in line["message"]]
    assert [w["missing"] for w in warnings] == [["driftwarden.native._ecdf"]]
    # The numpy code chosen on purpose: no warning.
    monkeypatch.setenv("DRIFTWARDEN_NATIVE", "0")
    assert main(argv) == 0
    assert "compiled kernels" not in capfd.readouterr().err
