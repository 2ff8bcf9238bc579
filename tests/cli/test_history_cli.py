"""Run history end to end: analysis runs keep records and draw history.html; `driftwarden history`
reads them back from a local directory or a real S3 server."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from driftwarden.history.record import parse_record
from driftwarden.report import load_report, parse_summary
from tests.history.runs import analyze_run, driftwarden, local_monitor, run_name, write_data

SHIFTS = [0.0, 1.5, None, 1.5, 0.0]  # run 2 fails: its data is missing


@pytest.fixture(scope="module")
def monitor_out(tmp_path_factory):
    return local_monitor(tmp_path_factory.mktemp("runs"), SHIFTS)


def test_every_run_keeps_a_record_failed_ones_too(monitor_out):
    history = monitor_out / "churn" / "history"
    names = sorted(p.name for p in history.iterdir())
    assert names == [f"20261101T{i:02d}0000Z-{run_name(i)}.json" for i in range(len(SHIFTS))]
    records = [parse_record((history / n).read_bytes()) for n in names]
    assert [r["outcome"] for r in records] == [
        "Succeeded",
        "Succeeded",
        "Failed",
        "Succeeded",
        "Succeeded",
    ]
    assert [r["drifted"] for r in records] == [False, True, None, True, False]
    assert records[2]["reason"] == "DataNotFound"
    assert records[1]["report"] == str(monitor_out / "churn" / run_name(1) / "report.json")
    assert records[3]["retraining"]["job"] == "churn-retrain-1"
    assert {n for n in records[1]["features"]["name"]} == {"income", "age", "plan"}


def test_every_run_draws_the_page_and_its_summary_links_it(monitor_out):
    for i in range(len(SHIFTS)):
        run_dir = monitor_out / "churn" / run_name(i)
        assert (run_dir / "history.html").is_file()
        model = json.loads((run_dir / "history.json").read_text())
        assert len(model["runs"]) == i + 1  # the runs so far, this one included
        summary = parse_summary((monitor_out.parent / f"summary-{i}.json").read_text())
        assert summary["history"] == str(run_dir / "history.html")
        if SHIFTS[i] is not None:
            report = load_report((run_dir / "report.json").read_text())
            assert not [f for f in report["findings"] if f["code"].startswith("History")]
    last = json.loads((monitor_out / "churn" / run_name(4) / "history.json").read_text())
    assert [r["outcome"] for r in last["runs"]][2] == "Failed"
    assert last["runs"][1]["retrainingStarted"] == ["churn-retrain-1"]
    assert last["features"][0]["name"] == "income"  # the one that drifted
    assert last["runs"][0]["reportHtmlLink"] == f"../{run_name(0)}/report.html"


def test_a_history_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path):
    write_data(tmp_path / "ref.parquet", seed=0)
    write_data(tmp_path / "cur.parquet", seed=1)
    (tmp_path / "blocker").write_text("a file where the history directory should be")
    out = tmp_path / "out" / "run-1"
    result = driftwarden(
        "analyze",
        "--reference",
        tmp_path / "ref.parquet",
        "--current",
        tmp_path / "cur.parquet",
        "--output",
        out,
        "--history",
        tmp_path / "blocker" / "history",
        "--summary-file",
        tmp_path / "summary.json",
        "--quiet",
        "--no-profile-cache",
    )
    assert result.returncode == 0, result.stderr
    report = load_report((out / "report.json").read_text())
    codes = {f["code"]: f for f in report["findings"]}
    assert codes["HistoryNotKept"]["severity"] == "warning"
    assert "blocker" in codes["HistoryNotKept"]["message"]
    assert "HistoryPageNotWritten" in codes
    summary = parse_summary((tmp_path / "summary.json").read_text())
    assert "history" not in summary and summary["drifted"] is False
    assert not (out / "history.html").exists()


def test_history_command_draws_the_last_runs(monitor_out, tmp_path):
    page = tmp_path / "page"
    result = driftwarden(
        "history", "--runs", monitor_out / "churn" / "history", "--output", page, "--last", "3"
    )
    assert result.returncode == 0, result.stderr
    assert "history: 3 of 5 runs (1 drifted, 1 failed, 0 skipped), 3 features" in result.stdout
    model = json.loads((page / "history.json").read_text())
    assert [r["run"] for r in model["runs"]] == [run_name(i) for i in (2, 3, 4)]
    html = (page / "history.html").read_text()
    # Links from the page's directory back to each run's report, relative on one disk.
    target = monitor_out / "churn" / run_name(3) / "report.html"
    assert f'href="{os.path.relpath(target, page)}"' in html
    assert model["runs"][1]["reportHtmlLink"] == os.path.relpath(target, page)


def test_history_command_errors_name_the_uri(monitor_out, tmp_path):
    missing = driftwarden("history", "--runs", tmp_path / "nowhere", "--output", tmp_path / "p")
    assert missing.returncode == 3
    assert f"no run history at {tmp_path / 'nowhere'}" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = driftwarden("history", "--runs", tmp_path / "empty", "--output", tmp_path / "p")
    assert empty.returncode == 3
    assert f"no run records under {tmp_path / 'empty'}" in empty.stderr
    bad = driftwarden("history", "--runs", tmp_path / "empty", "--last", "0")
    assert bad.returncode == 2
    assert "--last" in bad.stderr


def test_history_command_skips_a_corrupt_record_with_a_warning(monitor_out, tmp_path):
    history = tmp_path / "history"
    shutil.copytree(monitor_out / "churn" / "history", history)
    (history / "20261101T033000Z-churn-half-written.json").write_text('{"v": 1, "run": "x", ')
    result = driftwarden("history", "--runs", history, "--output", tmp_path / "page")
    assert result.returncode == 0, result.stderr
    assert "warning: skipped 20261101T033000Z-churn-half-written.json" in result.stderr
    model = json.loads((tmp_path / "page" / "history.json").read_text())
    assert len(model["runs"]) == 5
    assert model["skipped"][0]["name"] == "20261101T033000Z-churn-half-written.json"
    assert "Records skipped" in (tmp_path / "page" / "history.html").read_text()


def _s3(server):
    return {
        **server.env(),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_runs_on_s3_keep_history_and_the_command_reads_it(s3_server, s3_bucket, tmp_path):
    fs = s3_server.filesystem()
    write_data(f"{s3_bucket}/train/part-0.parquet", seed=0, filesystem=fs)
    base = f"s3://{s3_bucket}/drift"
    storage = ["--endpoint", s3_server.endpoint, "--region", s3_server.region]
    for i, shift in enumerate((0.0, 2.0, 0.0)):
        write_data(f"{s3_bucket}/live/{i}/part-0.parquet", shift, seed=i + 1, filesystem=fs)
        result = analyze_run(
            i,
            f"s3://{s3_bucket}/train/",
            f"s3://{s3_bucket}/live/{i}/",
            base,
            *storage,
            "--summary-file",
            str(tmp_path / f"summary-{i}.json"),
            env=_s3(s3_server),
        )
        assert result.returncode == 0, result.stderr[-2000:]
    summary = parse_summary((tmp_path / "summary-2.json").read_text())
    assert summary["history"] == f"{base}/churn/{run_name(2)}/history.html"
    stored = fs.get_file_info(f"{s3_bucket}/drift/churn/{run_name(2)}/history.html")
    assert stored.size > 10_000
    page = json.loads(
        fs.open_input_file(f"{s3_bucket}/drift/churn/{run_name(2)}/history.json").read()
    )
    assert [r["drifted"] for r in page["runs"]] == [False, True, False]
    # Relative links: the reports sit next to the page's directory in the same bucket.
    assert page["runs"][1]["reportHtmlLink"] == f"../{run_name(1)}/report.html"

    drawn = driftwarden(
        "history",
        "--runs",
        f"{base}/churn/history",
        "--output",
        f"{base}/pages",
        *storage,
        env=_s3(s3_server),
    )
    assert drawn.returncode == 0, drawn.stderr
    assert fs.get_file_info(f"{s3_bucket}/drift/pages/history.html").size > 10_000
    local = driftwarden(
        "history",
        "--runs",
        f"{base}/churn/history",
        "--output",
        tmp_path / "local",
        "--last",
        "2",
        *storage,
        env=_s3(s3_server),
    )
    assert local.returncode == 0, local.stderr
    model = json.loads((tmp_path / "local" / "history.json").read_text())
    assert model["shownRuns"] == 2 and model["storedRuns"] == 3
    # Another store than the page's: links are the report URIs themselves.
    assert model["runs"][-1]["reportHtmlLink"] == f"{base}/churn/{run_name(2)}/report.html"

    missing = driftwarden(
        "history", "--runs", f"{base}/other/history", *storage, env=_s3(s3_server)
    )
    assert missing.returncode == 3
    assert f"no run history at {base}/other/history" in missing.stderr
