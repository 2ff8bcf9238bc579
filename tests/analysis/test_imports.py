"""The analysis path stays cheap to start: no scipy at all (``scipy.stats`` is about a
second of imports, ``scipy.special`` half a second)."""

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

RNG = np.random.default_rng(40)


def _write(path, shift=0.0, n=3000):
    x = RNG.normal(shift, 1, n)
    x[:5] = np.inf
    pq.write_table(
        pa.table(
            {
                "x": x,
                "n": RNG.integers(0, 2**62, n),
                "c": RNG.choice(["a", "b", "c"], n),
                "c2": RNG.choice(["u", "v"], n),
            }
        ),
        path,
    )
    return path


# Runs the command's main() as the ``driftwarden`` executable does, and writes the
# names of the modules loaded by then to a file (the executable itself ends an
# analysis with os._exit, so an atexit hook would not run).
_PROBE = """
import sys
out = sys.argv.pop(1)
from driftwarden.cli.main import main
try:
    code = main(sys.argv[1:])
finally:
    open(out, "w").write("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""


def _imported_modules(tmp_path, *args: str) -> set[str]:
    listing = tmp_path / "modules.txt"
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(listing), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DRIFTWARDEN_PROFILE_CACHE": ""},
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return set(listing.read_text().split())


def _analyze_args(tmp_path) -> list[str]:
    """``analyze`` of two small Parquet files written here, with a profile cache."""
    return [
        "analyze",
        "--reference",
        str(_write(tmp_path / "ref.parquet")),
        "--current",
        str(_write(tmp_path / "cur.parquet", shift=0.5)),
        "--output",
        str(tmp_path / "out"),
        "--profile-cache",
        str(tmp_path / "cache"),
    ]


@pytest.mark.parametrize(
    "methods",
    [
        (),
        ("--numerical-method", "ks", "--categorical-method", "chisquare"),
        ("--numerical-method", "psi", "--categorical-method", "psi"),
    ],
)
def test_analyze_never_imports_scipy(tmp_path, methods):
    modules = _imported_modules(tmp_path, *_analyze_args(tmp_path), *methods)
    assert "driftwarden.analysis.compare" in modules  # the analysis really ran
    assert "numpy" in modules and "pyarrow" in modules
    assert not {m for m in modules if m == "scipy" or m.startswith("scipy.")}


# Modules a plain analysis (flags only, one file a side, few categories) has no use
# for, with what each cost a run at 10^5 rows (bench/RESULTS.md, addendum 3): PyYAML
# (~10 ms; only --config is YAML), numpy.ma (~7 ms; pulled in by np.unique and
# pa.array(ndarray)), the thread pool (~2 ms; only multi-file datasets), run history
# (~2 ms; only --history), the operator and its commands, and spec.model's code
# (~15 ms at 1,000 features, bench/RESULTS.md, addendum 16f; only with spec.model).
_NOT_FOR_ANALYSIS = (
    "driftwarden.analysis.model_settings",
    "driftwarden.analysis.model_multivariate",
    "driftwarden.analysis.model_predictions",
    "driftwarden.analysis.model_rootcause",
    "driftwarden.analysis.model_performance",
    "driftwarden.model.importance",
    "driftwarden.model.rootcause",
    "driftwarden.stats.multivariate",
    "driftwarden.history",
    "driftwarden.cli.history",
    "yaml",
    "numpy.ma",
    "concurrent.futures",
    "kopf",
    "kubernetes",
    "driftwarden.cli.operator_commands",
    "driftwarden.controller",
    "driftwarden.monitor",
)


def test_analyze_imports_nothing_it_does_not_use(tmp_path):
    args = [*_analyze_args(tmp_path), "--quiet"]
    for cached in (False, True):
        run = "reference from the cache" if cached else "reference profiled"
        modules = _imported_modules(tmp_path, *args)
        assert "driftwarden.analysis.compare" in modules, run  # the analysis really ran
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        assert report["reference"]["profileCached"] is cached
        loaded = sorted(
            m for m in modules if any(m == x or m.startswith(x + ".") for x in _NOT_FOR_ANALYSIS)
        )
        assert not loaded, f"{run}: imported {loaded}"
