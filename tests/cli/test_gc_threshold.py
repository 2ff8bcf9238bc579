"""The analysis process runs the cyclic garbage collector rarely (cli/main.py, collect_rarely).

That is safe only while an analysis makes no reference cycles that hold data: refcounting
then frees everything as before, and the collector has nothing of size to find. The first
test keeps it so; the others pin which processes are tuned (never the long-running operator).
"""

import gc
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.cli.main import YOUNG_COLLECTION_THRESHOLD, main


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(8)

    def write(name: str, shift: float) -> str:
        x = rng.normal(shift, 1, 3_000)
        x[::11] = np.nan
        table = pa.table(
            {
                "x": x,
                "y": rng.normal(0, 1, 3_000),
                "n": rng.integers(0, 4, 3_000),
                "c": rng.choice(["a", "b", "c"], 3_000),
            }
        )
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path)
        return str(path)

    return write


def _data_types(garbage: list) -> list[str]:
    """The types in or held by ``garbage`` that hold data or engine state: numpy's, Arrow's,
    ours. Held too: arrays are no containers the collector tracks, so a cycle that holds
    one lists the dict or object holding it, not the array."""
    names = set()
    for item in (*garbage, *gc.get_referents(*garbage)):
        module = type(item).__module__ or ""
        if module.split(".")[0] in ("numpy", "pyarrow", "driftwarden"):
            names.add(f"{module}.{type(item).__qualname__}")
    return sorted(names)


def test_an_analysis_leaves_no_cycles_holding_data(tmp_path, data):
    reference, current = data("ref", 0.0), data("cur", 0.5)
    gc.collect()
    flags = gc.get_debug()
    gc.disable()
    try:
        code = main(
            [
                "analyze",
                "--reference",
                reference,
                "--current",
                current,
                "--output",
                str(tmp_path / "out"),
                "--profile-cache",
                str(tmp_path / "cache"),
                "--quiet",
            ]
        )
        gc.set_debug(gc.DEBUG_SAVEALL)  # keep what a collection finds, to look at it
        found = gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()
        gc.enable()
    assert code == 0
    assert (tmp_path / "out" / "report.json").exists()
    assert _data_types(garbage) == [], f"{found} objects in cycles"


def _threshold_at_exit(args: list[str], tmp_path) -> tuple[int, str]:
    """The collector's young-generation threshold when ``driftwarden ARGS`` ends, as the
    installed executable runs it (cli.main.console), and the process's stderr."""
    script = (
        "import atexit, gc, os, sys\n"
        "from driftwarden.cli import main as cli\n"
        "def show(*_):\n"
        "    os.write(2, b'THRESHOLD %d\\n' % gc.get_threshold()[0])\n"
        "atexit.register(show)\n"  # a normal exit
        "quick = cli.quick_exit\n"
        "cli.quick_exit = lambda code: (show(), quick(code))\n"  # analyze's own exit
        "sys.argv = ['driftwarden', *sys.argv[1:]]\n"
        "cli.console()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DRIFTWARDEN_PROFILE_CACHE": ""},
        cwd=tmp_path,
        timeout=120,
    )
    shown = [line for line in result.stderr.splitlines() if line.startswith("THRESHOLD ")]
    assert len(shown) == 1, result.stderr
    return int(shown[0].split()[1]), result.stderr


def test_the_analysis_process_collects_rarely(tmp_path, data):
    threshold, _ = _threshold_at_exit(
        [
            "analyze",
            "--reference",
            data("ref", 0.0),
            "--current",
            data("cur", 0.0),
            "--quiet",
            "--no-profile-cache",
        ],
        tmp_path,
    )
    assert threshold == YOUNG_COLLECTION_THRESHOLD


def test_other_commands_keep_the_default_collector(tmp_path):
    # `validate` stands for the operator's commands: `run` is a long-lived process.
    threshold, stderr = _threshold_at_exit(["validate", str(tmp_path / "absent.yaml")], tmp_path)
    assert threshold == gc.get_threshold()[0] != YOUNG_COLLECTION_THRESHOLD, stderr
