"""The ``driftwarden`` command as a user runs it: a real process, real files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftwarden.model.performance import worst_segments
from driftwarden.report import load_report, parse_summary

RNG = np.random.default_rng(30)


def driftwarden(*args, env=None, cwd=None):
    """Run the installed console script's module in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "driftwarden.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "DRIFTWARDEN_PROFILE_CACHE": "", **(env or {})},
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def data(tmp_path):
    def write(name, shift=0.0, n=2000):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(
            pa.table(
                {
                    "x": RNG.normal(shift, 1, n),
                    "y": RNG.normal(0, 1, n),
                    "c": RNG.choice(["a", "b"], n),
                }
            ),
            path,
        )
        return path

    return write


def test_analyze_writes_reports_and_exits_zero_even_with_drift(tmp_path, data):
    out = tmp_path / "out"
    result = driftwarden(
        "analyze",
        "--reference",
        data("ref"),
        "--current",
        data("cur", shift=1.0),
        "--output",
        out,
        "--no-profile-cache",
    )
    assert result.returncode == 0, result.stderr
    assert "x" in result.stdout and "YES" in result.stdout
    report = load_report((out / "report.json").read_text())
    assert report["features"][0]["name"] == "x" and report["features"][0]["drifted"]
    summary = parse_summary((out / "summary.json").read_text())
    assert summary["report"].endswith("report.json")
    html = (out / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")


def test_fail_on_drift_exits_one_only_when_the_dataset_drifted(tmp_path, data):
    ref = data("ref")
    drifted = driftwarden(
        "analyze",
        "--reference",
        ref,
        "--current",
        data("cur", shift=1.0),
        "--fail-on-drift",
        "--drift-share",
        "0.3",
        "--no-profile-cache",
    )
    assert drifted.returncode == 1
    quiet = driftwarden(
        "analyze",
        "--reference",
        ref,
        "--current",
        data("same"),
        "--fail-on-drift",
        "--no-profile-cache",
    )
    assert quiet.returncode == 0, quiet.stderr


def test_logs_are_json_lines_when_not_on_a_terminal(tmp_path, data):
    result = driftwarden(
        "analyze",
        "--reference",
        data("ref"),
        "--current",
        data("cur"),
        "--quiet",
        "--no-profile-cache",
    )
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert records and {"time", "level", "message"} <= set(records[-1])
    assert records[-1]["message"] == "analysis finished" and "driftShare" in records[-1]


def test_config_file_and_flags_combine_flags_winning(tmp_path, data):
    config = tmp_path / "monitor.yaml"
    config.write_text(f"""
apiVersion: driftwarden.io/v1alpha1
kind: DriftMonitor
metadata: {{name: churn, namespace: ml}}
spec:
  schedule: "0 * * * *"
  reference: {{path: {data("ref")}}}
  current: {{path: /does/not/matter}}
  features: {{exclude: [y]}}
  detection: {{numerical: {{method: psi, threshold: 0.3}}}}
""")
    out = tmp_path / "out"
    result = driftwarden(
        "analyze",
        "--config",
        config,
        "--current",
        data("cur"),
        "--numerical-method",
        "ks",
        "--output",
        out,
        "--no-profile-cache",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["monitor"] == {"name": "churn", "namespace": "ml"}
    assert {f["name"] for f in report["features"]} == {"x", "c"}
    x = next(f for f in report["features"] if f["name"] == "x")
    assert x["method"] == "ks" and x["threshold"] == 0.05


def test_config_from_environment_as_the_operator_passes_it(tmp_path, data):
    monitor = {
        "apiVersion": "driftwarden.io/v1alpha1",
        "kind": "DriftMonitor",
        "metadata": {"name": "m"},
        "spec": {"reference": {"path": str(data("ref"))}, "current": {"path": str(data("cur"))}},
    }
    summary_file = tmp_path / "termination-log"
    result = driftwarden(
        "analyze",
        "--config-env",
        "DW_MONITOR",
        "--summary-file",
        summary_file,
        "--quiet",
        "--no-profile-cache",
        env={"DW_MONITOR": json.dumps(monitor)},
    )
    assert result.returncode == 0, result.stderr
    summary = parse_summary(summary_file.read_text())
    assert summary["totalFeatures"] == 3 and len(summary_file.read_bytes()) <= 4096


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["--reference", "{ref}", "--current", "{tmp}/missing"], 3, "missing"),
        (["--reference", "{ref}", "--current", "{ref}", "--numerical-method", "magic"], 2, "magic"),
        (["--reference", "{ref}", "--current", "{ref}", "--current-format", "xlsx"], 2, "xlsx"),
        (["--reference", "{ref}"], 2, "--current"),
        (["--reference", "{ref}", "--current", "{ref}", "--window", "24h"], 2, "timestampColumn"),
        (
            ["--reference", "{ref}", "--current", "{ref}", "--config", "{tmp}/nope.yaml"],
            2,
            "nope.yaml",
        ),
        (
            [
                "--reference",
                "{ref}",
                "--current",
                "{ref}",
                "--endpoint",
                "http://127.0.0.1:9",
                "--current",
                "s3://bucket/data/",
            ],
            4,
            "127.0.0.1:9",
        ),
    ],
)
def test_errors_are_one_actionable_line_with_an_exit_code(tmp_path, data, args, code, needle):
    ref = data("ref")
    summary_file = tmp_path / "summary"
    args = [a.format(ref=ref, tmp=tmp_path) for a in args]
    result = driftwarden(
        "analyze",
        *args,
        "--no-profile-cache",
        "--summary-file",
        summary_file,
        env={"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"},
    )
    assert result.returncode == code, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("driftwarden: error:") and needle in last
    assert "Traceback" not in result.stderr and "s3cr3t-value" not in result.stderr
    error = parse_summary(summary_file.read_text())["error"]
    assert needle in error["message"]


def test_demo_runs_end_to_end_and_finds_the_injected_drift(tmp_path):
    result = driftwarden(
        "demo", "--dir", tmp_path / "demo", "--daily-rows", "3000", "--reference-rows", "8000"
    )
    assert result.returncode == 0, result.stderr
    lines = {
        line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("2026-")
    }
    assert len(lines) == 7
    assert "DRIFT" in lines["2026-11-05"] and "healthy" in lines["2026-11-04"]
    assert "total_charges" in lines["2026-11-06"] and "avg_session_minutes" in lines["2026-11-06"]
    for day in ("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-07"):
        assert "healthy" in lines[day], lines[day]
    assert Path(tmp_path / "demo" / "reports" / "2026-11-05" / "report.html").exists()
    # The model's accuracy on its delayed labels drops on the campaign day only, and
    # the segment the promotion changed is the one that lost most.
    degraded = [day for day, line in lines.items() if "DEGRADED" in line]
    assert degraded == ["2026-11-05"], lines
    assert "PERFORMANCE DEGRADED (accuracy):" in result.stdout  # the campaign day's table
    assert all("accuracy 0." in line for line in lines.values())
    report = load_report(
        (tmp_path / "demo" / "reports" / "2026-11-05" / "report.json").read_bytes()
    )
    performance = report["performance"]
    assert performance["degradedMetrics"] == ["accuracy"]
    assert performance["current"]["coverage"]["labeled"] > 2000
    assert worst_segments(performance)[0]["value"] == "basic"
    # The outcome is only in the label log: target drift compares the joined labels.
    (target,) = [c for c in report["predictions"]["columns"] if c["role"] == "target"]
    assert (target["name"], target["source"]) == ("churned", "labels")
    # The root cause: what moved the model's output (the campaign's short tenures and
    # monthly contracts, features it rests on) and where accuracy was lost (basic plan).
    cause = report["rootCause"]
    assert cause["triggered"] and {"predictions", "performance"} <= set(cause["triggers"])
    assert cause["top"]["feature"] in ("tenure_months", "contract")
    assert "worst segment: plan=basic" in cause["summary"]
    assert f"[{cause['summary']}]" in lines["2026-11-05"]
    # The pipeline bug touches columns the model does not read: nothing to explain.
    assert "top cause" not in lines["2026-11-06"]
    bug = load_report((tmp_path / "demo" / "reports" / "2026-11-06" / "report.json").read_bytes())
    assert not bug["rootCause"]["triggered"]
    html = (tmp_path / "demo" / "reports" / "2026-11-05" / "report.html").read_text()
    assert html.index('id="root-cause"') < html.index('id="performance"')


def test_control_characters_in_column_names_reach_the_table_escaped(tmp_path):
    name = "evil\x1b[2Jname"
    rng = np.random.default_rng(5)
    for side, shift in (("ref", 0.0), ("cur", 1.0)):
        pq.write_table(pa.table({name: rng.normal(shift, 1, 500)}), tmp_path / f"{side}.parquet")
    result = driftwarden(
        "analyze",
        "--reference",
        tmp_path / "ref.parquet",
        "--current",
        tmp_path / "cur.parquet",
        "--output",
        tmp_path / "out",
        "--no-profile-cache",
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "evil\\x1b[2Jname"[:24] in result.stdout


def test_output_reaches_a_pipe_in_full_although_the_process_skips_finalization(tmp_path, data):
    # `analyze` ends its process with os._exit once done (cli.main.console): whatever
    # was buffered for a pipe must be flushed first — the table's last row included.
    # Buffered as in a container (this workplace sets PYTHONUNBUFFERED).
    result = driftwarden(
        "analyze",
        "--reference",
        data("ref"),
        "--current",
        data("cur", shift=1.0),
        "--output",
        tmp_path / "out",
        "--no-profile-cache",
        env={"PYTHONUNBUFFERED": ""},
    )
    assert result.returncode == 0, result.stderr
    names = {"x", "y", "c"}
    table_rows = [
        line for line in result.stdout.splitlines() if line.split()[:1] in ([n] for n in names)
    ]
    assert len(table_rows) == 3, result.stdout
    assert json.loads(result.stderr.splitlines()[-1])["message"] == "analysis finished"
    assert load_report((tmp_path / "out" / "report.json").read_bytes())["features"]


def test_main_returns_its_exit_code_in_process(tmp_path, data):
    from driftwarden.cli.main import main

    code = main(
        [
            "analyze",
            "--reference",
            str(data("ref")),
            "--current",
            str(data("cur")),
            "--quiet",
            "--no-profile-cache",
        ]
    )
    assert code == 0


def _run_on_a_terminal(args: list[str], timeout: float = 240) -> str:
    """Run the CLI with stdout and stderr on one pseudo-terminal; returns what it showed."""
    import pty
    import time

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "driftwarden.cli.main", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "DRIFTWARDEN_PROFILE_CACHE": ""},
    )
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=max(1.0, deadline - time.monotonic())) == 0
    finally:
        process.kill()
        os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_the_demo_table_has_no_log_lines_on_a_terminal(tmp_path):
    # On a terminal the logs are text lines on stderr, which shares the screen with the
    # day table: the engine's routine info lines must not land between its rows.
    shown = _run_on_a_terminal(
        [
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--days",
            "3",
            "--daily-rows",
            "2000",
            "--reference-rows",
            "5000",
        ]
    )
    lines = shown.replace("\r\n", "\n").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("day "))
    table = lines[start + 1 : start + 4]
    assert [line[:10] for line in table] == ["2026-11-01", "2026-11-02", "2026-11-03"], shown
    assert not any(" INFO " in line for line in lines), shown
