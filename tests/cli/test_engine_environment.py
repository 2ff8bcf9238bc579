"""The engine commands pin numpy's BLAS to one thread before numpy loads (cli/main.py).

Importing numpy starts an OpenBLAS thread per CPU, and they spin: ~0.1 s of CPU an
analysis at 2 CPUs, for a library the engine does not call.
"""

import os

import pytest

from driftwarden.cli.main import main


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
