"""The operator process imports no data stack (DESIGN.md; issue 7, idle memory).

Each check runs in a fresh interpreter, since this test process has long
imported pyarrow and numpy for other tests.
"""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "interval.yaml"
DATA_STACK = ("pyarrow", "numpy", "scipy", "pandas")

CHECK = f"""
import sys
loaded = sorted(name for name in {DATA_STACK!r} if name in sys.modules)
assert not loaded, f"the operator side imported {{loaded}}"
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code + CHECK], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "code",
    [
        "import driftwarden.controller.runner",
        "import driftwarden.monitor",
        "import driftwarden.analysis.settings",
        "import driftwarden.cli.main",
        # What the operator imports at run time, reading a finished Job's summary.
        "import driftwarden.report.summary",
        # `driftwarden run`: the parser it builds and the operator it starts.
        "from driftwarden.cli.main import build_parser, _command\n"
        "args = build_parser(_command(['run'])).parse_args(['run'])\n"
        "import driftwarden.controller.runner",
        f"from driftwarden.cli.main import main\nassert main(['validate', {str(EXAMPLE)!r}]) == 0",
        f"from driftwarden.cli.main import main\nassert main(['render', {str(EXAMPLE)!r}]) == 0",
    ],
    ids=[
        "runner",
        "monitor",
        "settings",
        "cli",
        "summary",
        "cli-run",
        "cli-validate",
        "cli-render",
    ],
)
def test_operator_side_imports_no_data_stack(code):
    result = _python(code)
    assert result.returncode == 0, result.stderr


def test_the_check_itself_sees_a_data_stack_import():
    # Guards the guard: the same check fails when the engine is imported.
    result = _python("import driftwarden.cli.analyze")
    assert result.returncode != 0
    assert "pyarrow" in result.stderr
