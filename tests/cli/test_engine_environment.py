"""The engine commands pin numpy's BLAS to one thread before numpy loads (cli/main.py).

Importing numpy starts an OpenBLAS thread per CPU, and they spin: ~0.1 s of CPU an
analysis at 2 CPUs, for a library the engine does not call.
"""

import os
import subprocess
import sys

import pytest

from driftwarden.cli import simd
from driftwarden.cli.main import main


@pytest.fixture(autouse=True)
def _restore_numpy_dispatch(monkeypatch):
    """main() may set NPY_DISABLE_CPU_FEATURES (on Zen 4): undone after each test."""
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)


@pytest.mark.parametrize("command", ["analyze", "profile", "demo"])
def test_engine_commands_ask_for_one_blas_thread(monkeypatch, command):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"


def test_a_blas_setting_from_the_environment_wins(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"


def test_operator_commands_leave_it_alone(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    assert "OPENBLAS_NUM_THREADS" not in os.environ


# ---- numpy's AVX-512 sorts on AMD Zen 4 (cli/simd.py)

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl

processor\t: 1
vendor_id\t: AuthenticAMD
"""
ZEN3 = ZEN4.replace(" avx512f avx512dq avx512cd avx512bw avx512vl", "")
ZEN5 = ZEN4.replace("cpu family\t: 25", "cpu family\t: 26")
INTEL = ZEN4.replace("AuthenticAMD", "GenuineIntel").replace("cpu family\t: 25", "cpu family\t: 6")


@pytest.mark.parametrize(
    ("cpuinfo", "expected"),
    [
        (ZEN4, True),
        (ZEN3, False),
        (ZEN5, False),
        (INTEL, False),
        ("", False),
        ("cpu family: x", False),
    ],
)
def test_only_zen4_is_recognised(cpuinfo, expected):
    assert simd.is_zen4(cpuinfo) is expected


def test_numpy_names_its_avx512_targets_by_version():
    assert simd.avx512_targets("2.4.6") == "X86_V4 AVX512_ICL AVX512_SPR"
    assert "AVX512_SKX" in simd.avx512_targets("1.26.4").split()


def test_on_zen4_the_engine_asks_numpy_for_avx2(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(ZEN4)
    environ: dict[str, str] = {}
    assert simd.avoid_slow_sorts(environ, str(cpuinfo))
    # The installed numpy accepts the value (no warning) and dispatches without AVX-512.
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import numpy as np\n"
        "from numpy._core._multiarray_umath import __cpu_features__ as f\n"
        "print(f['X86_V4'], f['AVX512_ICL'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_elsewhere_or_when_set_the_environment_is_left_alone(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(INTEL)
    environ: dict[str, str] = {}
    assert not simd.avoid_slow_sorts(environ, str(cpuinfo))
    assert environ == {}
    cpuinfo.write_text(ZEN4)
    environ = {"NPY_DISABLE_CPU_FEATURES": ""}
    assert not simd.avoid_slow_sorts(environ, str(cpuinfo))
    assert environ == {"NPY_DISABLE_CPU_FEATURES": ""}
    assert not simd.avoid_slow_sorts({}, str(tmp_path / "missing"))
