"""``driftwarden demo``: realistic synthetic churn-model feature logs, analysed day by day.

The data imitates what a churn model logs: numerical, categorical and boolean features,
nulls, an ID column, a timestamp, a training set as reference and a week of live
traffic partitioned by day (hive layout). Known drift is injected on two days:

* day 5, a marketing campaign: many new, young, cheap-plan customers on monthly
  contracts — most features move, the dataset drifts;
* day 6, an upstream bug: ``total_charges`` arrives 35% null and ``avg_session_minutes``
  is logged in seconds — two features drift, the dataset as a whole does not.

Every other day is drawn from the training distribution and must stay quiet.

The logs also carry the churn model's output (``churn_probability``, ``churn_predicted``)
under a ``request_id``, and the true outcome arrives later in a log of its own
(``data/labels``: ``churned``, observed 1 to 36 hours after the prediction, for 90% of
requests). On the campaign day the promotion locks the new basic-plan customers in:
they churn far less than the model, trained before the campaign, predicts, so its
accuracy drops there — ``spec.model`` measures it against the training period's and the
root cause names what moved. The pipeline bug of day 6 touches columns the model does
not use: features drift, the model's performance does not.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftwarden.analysis.run import analyze
from driftwarden.analysis.settings import parse_run_config
from driftwarden.cli.analyze import format_table, write_outputs

START = datetime(2026, 11, 1, tzinfo=UTC)
CAMPAIGN_DAY, BUG_DAY = 5, 6

PLANS = np.array(["basic", "standard", "premium"])
CONTRACTS = np.array(["month-to-month", "one-year", "two-year"])
PAYMENTS = np.array(["card", "bank-transfer", "electronic-check", "mailed-check"])
REGIONS = np.array(["north", "south", "east", "west", "central", "islands"])


def _customers(rng: np.random.Generator, n: int, *, campaign: bool = False) -> dict[str, Any]:
    """Feature rows of ``n`` customers; ``campaign`` shifts them the way a promotion would."""
    plan_p = [0.6, 0.3, 0.1] if campaign else [0.35, 0.45, 0.2]
    contract_p = [0.8, 0.15, 0.05] if campaign else [0.5, 0.3, 0.2]
    tenure = rng.gamma(1.2, 4.0, n) if campaign else rng.gamma(2.0, 12.0, n)
    plan = rng.choice(PLANS, n, p=plan_p)
    base_price = np.select([plan == "basic", plan == "standard"], [25.0, 55.0], 95.0)
    monthly = np.round(base_price + rng.normal(0, 8, n), 2)
    total = np.round(monthly * np.maximum(tenure, 0.5) * rng.uniform(0.9, 1.1, n), 2)
    total_mask = rng.random(n) < 0.02
    senior = rng.random(n) < (0.12 if campaign else 0.16)
    return {
        "user_id": [f"u{v:09d}" for v in rng.integers(0, 10**9, n)],
        "tenure_months": np.round(tenure).astype(np.int32),
        "monthly_charges": monthly,
        "total_charges": pa.array(total, mask=total_mask),
        "support_calls": rng.poisson(1.0 if campaign else 1.3, n).astype(np.int32),
        "logins_per_week": rng.poisson(4.0, n).astype(np.int32),
        "avg_session_minutes": np.round(rng.lognormal(2.3, 0.5, n), 2),
        "plan": plan,
        "contract": rng.choice(CONTRACTS, n, p=contract_p),
        "payment_method": rng.choice(PAYMENTS, n, p=[0.35, 0.25, 0.3, 0.1]),
        "region": rng.choice(REGIONS, n, p=[0.2, 0.2, 0.2, 0.2, 0.15, 0.05]),
        "is_senior": senior,
        "has_partner": rng.random(n) < (0.3 if campaign else 0.48),
        "paperless_billing": rng.random(n) < 0.6,
    }


def _model_logit(columns: dict[str, Any]) -> np.ndarray:
    """The churn model's log-odds: short tenure, monthly contracts, high charges and support
    calls churn. It reads neither total_charges nor avg_session_minutes."""
    tenure = np.asarray(columns["tenure_months"], dtype=np.float64)
    monthly = np.asarray(columns["monthly_charges"], dtype=np.float64)
    contract = np.asarray(columns["contract"])
    calls = np.asarray(columns["support_calls"], dtype=np.float64)
    return (
        -0.6
        + 1.6 * (contract == "month-to-month")
        - 0.07 * tenure
        + 0.02 * (monthly - 55.0)
        + 0.35 * calls
    )


def _predict(
    columns: dict[str, Any], rng: np.random.Generator, first_id: int, *, campaign: bool = False
) -> np.ndarray:
    """Add the model's output and a request id; return each row's true churn (0/1).

    The outcome is drawn from the model's own probability (a calibrated model), except
    for the campaign's basic-plan customers, whom the promotion keeps: their true
    log-odds are 3 lower than the model believes.
    """
    n = len(columns["user_id"])
    logit = _model_logit(columns)
    probability = 1.0 / (1.0 + np.exp(-logit))
    columns["request_id"] = np.arange(first_id, first_id + n, dtype=np.int64)
    columns["churn_probability"] = np.round(probability, 4)
    columns["churn_predicted"] = (probability >= 0.5).astype(np.int8)
    true_logit = logit - 3.0 * (np.asarray(columns["plan"]) == "basic") if campaign else logit
    return (rng.random(n) < 1.0 / (1.0 + np.exp(-true_logit))).astype(np.int8)


def _labels(table: pa.Table, churned: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """The outcome log of ``table``'s requests: 90% of them, 1-36 h after the prediction."""
    has = rng.random(table.num_rows) < 0.9
    delay = rng.integers(3600, 36 * 3600, table.num_rows).astype("timedelta64[s]")
    ts = table.column("ts").to_numpy().astype("datetime64[s]")
    observed = (ts + delay)[has]
    return pa.table(
        {
            "request_id": table.column("request_id").filter(pa.array(has)),
            "churned": churned[has],
            "observed_at": pa.array(
                observed.astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC")
            ),
        }
    )


def _with_time(columns: dict[str, Any], rng: np.random.Generator, day_start: datetime) -> pa.Table:
    n = len(columns["user_id"])
    seconds = np.sort(rng.integers(0, 86400, n))
    stamps = np.datetime64(day_start.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]")
    table = pa.table(columns)
    return table.append_column(
        "ts", pa.array(stamps.astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC"))
    )


def write_demo_data(
    root: Path,
    *,
    reference_rows: int = 50_000,
    daily_rows: int = 20_000,
    days: int = 7,
    seed: int = 42,
) -> None:
    """Write the reference (training) set and ``days`` days of live logs under ``root``."""
    rng = np.random.default_rng(seed)
    # The model and its outcomes draw from a generator of their own, so the feature
    # logs are the same with or without them.
    model_rng = np.random.default_rng(seed + 1)
    reference = root / "data" / "reference"
    reference.mkdir(parents=True, exist_ok=True)
    labels = root / "data" / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    columns = _customers(rng, reference_rows)
    churned = _predict(columns, model_rng, 0)
    train = _with_time(columns, rng, START - timedelta(days=30))
    pq.write_table(train, reference / "train.parquet")
    pq.write_table(_labels(train, churned, model_rng), labels / "train.parquet")
    for day in range(1, days + 1):
        day_start = START + timedelta(days=day - 1)
        columns = _customers(rng, daily_rows, campaign=day == CAMPAIGN_DAY)
        churned = _predict(columns, model_rng, day * 10_000_000, campaign=day == CAMPAIGN_DAY)
        if day == BUG_DAY:
            total = columns["total_charges"].to_numpy(zero_copy_only=False)
            columns["total_charges"] = pa.array(
                total, mask=np.isnan(total) | (rng.random(daily_rows) < 0.35)
            )
            columns["avg_session_minutes"] = np.round(columns["avg_session_minutes"] * 60, 1)
        folder = root / "data" / "live" / f"date={day_start:%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        table = _with_time(columns, rng, day_start)
        pq.write_table(table, folder / "part-0.parquet")
        pq.write_table(_labels(table, churned, model_rng), labels / f"{day_start:%Y-%m-%d}.parquet")


def demo_spec(root: Path) -> dict[str, Any]:
    """The DriftMonitor spec the demo runs (examples/performance.yaml is its cluster form)."""
    return {
        # The reference's timestamps date its predictions, for the label join window.
        "reference": {"path": str(root / "data" / "reference"), "timestampColumn": "ts"},
        "current": {"path": str(root / "data" / "live"), "timestampColumn": "ts", "window": "24h"},
        "features": {"exclude": ["user_id"]},
        "model": {
            "predictions": [
                {"column": "churn_probability", "kind": "score"},
                {"column": "churn_predicted", "kind": "label"},
            ],
            # The outcome is not in the feature logs: its drift is read from the label log.
            "target": {"column": "churned", "kind": "label"},
            "idColumn": "request_id",
            "labels": {
                "path": str(root / "data" / "labels"),
                "labelColumn": "churned",
                "timestampColumn": "observed_at",
                "joinWindow": "2d",
            },
            "performance": {"degradation": [{"metric": "accuracy", "maxDrop": 0.05}]},
        },
    }


def performance_note(report: dict[str, Any]) -> str:
    """``accuracy 0.62 (train 0.79) DEGRADED`` for a day line; empty without performance."""
    performance = report.get("performance") or {}
    rows = {r["metric"]: r for r in performance.get("comparison") or []}
    accuracy = rows.get("accuracy")
    if accuracy is None or accuracy.get("current") is None:
        return ""
    note = f"accuracy {accuracy['current']:.2f}"
    if accuracy.get("reference") is not None:
        note += f" (train {accuracy['reference']:.2f})"
    return note + (" DEGRADED" if performance.get("degraded") else "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        default="driftwarden-demo",
        help="where data and reports go (default: ./driftwarden-demo)",
    )
    parser.add_argument("--days", type=int, default=7, help="days of live traffic (default 7)")
    parser.add_argument("--daily-rows", type=int, default=20_000)
    parser.add_argument("--reference-rows", type=int, default=50_000)


def run(args: argparse.Namespace) -> int:
    """Write the demo data, analyse each day, print the verdicts and where the reports are."""
    root = Path(args.dir).resolve()
    days = max(1, args.days)
    if args.log_level == "info":
        # The day table is the demo's output; the engine's routine info lines ("reference
        # profile loaded from cache") would land between its rows on a terminal. Warnings
        # still show, and --log-level debug shows everything.
        logging.getLogger("driftwarden").setLevel(logging.WARNING)
    print(f"writing synthetic churn feature logs to {root}/data …")
    write_demo_data(root, reference_rows=args.reference_rows, daily_rows=args.daily_rows, days=days)
    config = parse_run_config(demo_spec(root))
    cache = str(root / ".profile-cache")
    print(f"\n{'day':<12} {'verdict':<17} {'share':>6}  drifted features")
    last_report = None
    for day in range(1, days + 1):
        day_start = START + timedelta(days=day - 1)
        report = analyze(config, window_end=day_start + timedelta(days=1), profile_cache=cache)
        write_outputs(report, config, str(root / "reports" / f"{day_start:%Y-%m-%d}"))
        dataset = report["dataset"]
        drifted = [f["name"] for f in report["features"] if f["drifted"]]
        verdict = "DRIFT" if dataset["drifted"] else ("features drifted" if drifted else "healthy")
        note = {CAMPAIGN_DAY: "  ← injected: campaign", BUG_DAY: "  ← injected: pipeline bug"}.get(
            day, ""
        )
        if measured := performance_note(report):
            note += f"  {measured}"
        cause = report.get("rootCause") or {}
        if cause.get("triggered") and cause.get("summary"):
            note += f"  [{cause['summary']}]"  # the model view: what explains the move
        print(
            f"{day_start:%Y-%m-%d}   {verdict:<17} {dataset['driftShare']:>6.2f}  {', '.join(drifted) or '-'}{note}"
        )
        if day == min(CAMPAIGN_DAY, days):
            last_report = report
    if last_report is not None:
        print(f"\nthe campaign day in detail:\n{format_table(last_report)}")
    print(
        f"\nreports: {root}/reports/<day>/report.html (open in a browser), report.json, summary.json"
    )
    return 0
