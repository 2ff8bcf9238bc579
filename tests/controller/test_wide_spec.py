"""A monitor too wide for one environment variable runs through the real operator.

The spec lists the most columns and overrides the CRD admits, with names of
4-byte characters: its analysis config needs several environment variables.
The operator (kopf + driftwarden) creates the Job, the kubelet stand-in starts
its container as a process with the Job's env (Linux checks every variable at
exec), and the run's result reaches the monitor's status.
"""

from __future__ import annotations

from driftwarden.analysis.settings import MAX_COLUMN_NAME_LENGTH, MAX_FEATURE_LIST, MAX_OVERRIDES
from driftwarden.monitor.job import CONFIG_ENV

WIDE = "\U0001f600" * (MAX_COLUMN_NAME_LENGTH - 4)


def test_a_spec_of_several_env_chunks_runs_and_records_its_result(cluster):
    absent = [f"x{i:03d}{WIDE}" for i in range(MAX_FEATURE_LIST["exclude"])]
    overrides = [
        {"feature": f"o{i:03d}{WIDE}", "method": "ks", "threshold": 0.01}
        for i in range(MAX_OVERRIDES - 1)
    ] + [{"feature": "income", "method": "ks", "threshold": 0.01}]
    with cluster.operator():
        cluster.monitor("wide", features={"exclude": absent}, detection={"overrides": overrides})
        status = cluster.wait_status(
            "wide", lambda s: (s.get("lastRun") or {}).get("outcome"), timeout=90
        )
    assert status["lastRun"]["outcome"] == "Succeeded", status
    assert status["lastRun"]["totalFeatures"] == 3
    income = next(f for f in status["features"] if f["name"] == "income")
    assert income["method"] == "ks"  # its override travelled beyond the first chunk
    (job,) = cluster.jobs()
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert int(env[CONFIG_ENV + "_CHUNKS"]) >= 3
    assert '"income"' not in env[CONFIG_ENV]
