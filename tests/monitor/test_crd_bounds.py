"""Every spec the CRD admits can run: its analysis config fits the pod's environment.

The analysis spec reaches the pod in environment variables, and Linux refuses an
exec whose single variable exceeds 128 KiB (MAX_ARG_STRLEN, 32 pages) or whose
variables and arguments together exceed ARG_MAX (a quarter of the 8 MiB stack
limit: 2 MiB). So the config travels in chunks (driftwarden.envchunks), and the CRD
bounds the whole. The largest spec is built from the CRD schema itself (every list
at maxItems, every string at maxLength with the costliest characters its pattern
admits), so raising a bound without checking the budget breaks this test.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from driftwarden.analysis import importance_settings, model_settings, performance_settings, settings
from driftwarden.cli.analyze import build_config
from driftwarden.cli.main import build_parser
from driftwarden.envchunks import join_env
from driftwarden.errors import ConfigError
from driftwarden.monitor.job import CONFIG_ENV, analysis_job, monitor_config, run_output
from driftwarden.monitor.spec import Monitor, parse_monitor

from .crdschema import load_crd, open_api_schema
from .helpers import CRD_PATH

# Bytes. One variable: MAX_ARG_STRLEN is 128 KiB including "NAME=" and the NUL.
VARIABLE_BUDGET = 120 * 1024
# The whole config: well under ARG_MAX (2 MiB for every variable and argument
# together, the storage Secret's among them) and etcd's ~1.5 MiB per object.
CONFIG_BUDGET = 768 * 1024
# Every variable and argument the Job sets: half of ARG_MAX, the rest left for the
# storage Secret's variables (envFrom) and the image's own.
EXEC_BUDGET = 1024 * 1024
# The analysis Job without spec.job's pass-through fields (affinity, tolerations ...).
JOB_BUDGET = 1024 * 1024
# Sections that do not travel to the analysis pod (monitor_config leaves them out).
NOT_TRAVELLING = {"retraining", "job"}
# Characters from costliest to cheapest in compact JSON (ensure_ascii=False):
# a control character becomes \u0001 (6 bytes), an astral one 4 UTF-8 bytes, a quote 2.
FILLS = ("\x01", "\U0001f600", '"', "a", "9")
SLOT = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
SCHEMA = open_api_schema(load_crd())
SPEC_SCHEMA = SCHEMA["properties"]["spec"]


def _shapes(fill: str, n: int) -> list[str]:
    """Strings of length n (or just under) of the shapes the CRD's patterns ask for."""
    unit = "999999999.999999999w"  # a duration part at the pattern's digit limits
    q, r = divmod(n, len(unit))
    return [
        fill * n,
        "https://" + fill * (n - 8),
        " ".join([fill * (n - 8), fill, fill, fill, fill]),  # five cron fields
        unit * q + ("9" * (r - 1) + "w" if r >= 2 else ""),
    ]


def _json_bytes(value: str) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


def worst_string(node: Mapping[str, Any], where: str, salt: int = 0) -> str:
    """The string the node admits that costs the most bytes in the travelling JSON."""
    if "enum" in node:
        return max(node["enum"], key=len)
    assert "maxLength" in node, f"{where}: a travelling string without maxLength"
    n = node["maxLength"]
    pattern = node.get("pattern")
    candidates = [
        shape
        for fill in FILLS
        for shape in _shapes(fill, n)
        if 0 < len(shape) <= n and (pattern is None or re.search(pattern, shape))
    ]
    assert candidates, f"{where}: no generator for pattern {pattern!r}; add one to _shapes"
    best = max(candidates, key=_json_bytes)
    # Distinct values where lists need them (list-map keys, categorical vs numerical).
    tag = format(salt, "x")
    return best if not salt else tag + best[len(tag) :]


def largest(
    node: Mapping[str, Any], where: str, counter: Iterator[int], in_list: bool = False
) -> Any:
    """The costliest value ``node`` admits; fails on anything the schema leaves unbounded.

    Strings inside lists get a distinct prefix (from ``counter``): list-map keys
    must be unique, and a column cannot be both categorical and numerical.
    """
    assert not node.get("x-kubernetes-preserve-unknown-fields"), f"{where}: unbounded object"
    kind = node.get("type")
    if kind == "object":
        assert "additionalProperties" not in node, f"{where}: a map (bound it with maxProperties)"
        return {
            key: largest(sub, f"{where}.{key}", counter, in_list)
            for key, sub in node.get("properties", {}).items()
            if key not in NOT_TRAVELLING or where != "spec"
        }
    if kind == "array":
        assert "maxItems" in node, f"{where}: a travelling list without maxItems"
        return [
            largest(node["items"], f"{where}[]", counter, True) for _ in range(node["maxItems"])
        ]
    if kind == "string":
        return worst_string(node, where, next(counter) if in_list else 0)
    if kind == "number":
        longest = 2.2250738585072014e-308  # 23 characters of JSON, and positive
        return longest if longest <= node.get("maximum", 1.0) else node["maximum"]
    if kind == "integer":
        return node.get("maximum", 2**63 - 1)
    if kind == "boolean":
        return False
    raise AssertionError(f"{where}: unhandled schema type {kind!r}")


def largest_spec() -> dict[str, Any]:
    return largest(SPEC_SCHEMA, "spec", itertools.count(1))


def largest_manifest() -> dict[str, Any]:
    spec = largest_spec()
    spec.pop("interval")  # the CRD wants exactly one of schedule and interval; keep the longer
    return {
        "apiVersion": "driftwarden.io/v1alpha1",
        "kind": "DriftMonitor",
        "metadata": {
            "name": "m" * 63,
            "namespace": "n" * 63,
            "uid": "7d5c1f0e-1b2a-4c3d-9e8f-0a1b2c3d4e5f",
        },
        "spec": spec,
    }


def runnable(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with values the parser checks beyond the CRD made valid.

    The CRD admits any five cron fields and durations whose parts sum past the
    parser's ten years (a pattern cannot add); both are short ASCII, so the
    size measured with the CRD's worst values is unchanged in kind.
    """
    manifest = copy.deepcopy(manifest)
    manifest["spec"]["schedule"] = "0 * * * *"
    for side in ("reference", "current"):
        manifest["spec"][side]["window"] = "24h"
    # The costliest mode is a fixed one (it carries a path); offset belongs to mode offset.
    manifest["spec"]["reference"]["mode"] = "fixed"
    manifest["spec"]["reference"].pop("offset")
    # performance: a duration as above, a score to measure, and distinct metrics (the CRD
    # cannot say so).
    manifest["spec"]["model"]["predictions"][1]["kind"] = "score"
    manifest["spec"]["model"]["labels"]["joinWindow"] = "24h"
    manifest["spec"]["model"]["performance"]["degradation"] = [
        {**item, "metric": metric}
        for item, metric in zip(
            manifest["spec"]["model"]["performance"]["degradation"],
            performance_settings.METRICS["classification"],
            strict=True,
        )
    ]
    return manifest


def largest_promoted_reference() -> dict[str, Any]:
    """The promoted reference the operator passes along (status.reference of the config)."""
    path_node = SCHEMA["properties"]["status"]["properties"]["lastPromotion"]["properties"]["path"]
    return {"source": "promoted", "path": worst_string(path_node, "status.lastPromotion.path")}


def largest_monitor() -> Monitor:
    """The largest admissible monitor, parsed, with the costliest schedule put back."""
    manifest = largest_manifest()
    monitor = parse_monitor(runnable(manifest))  # the parser accepts it too
    return dataclasses.replace(monitor, spec=manifest["spec"])


def container_env(job: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_the_largest_admissible_spec_fits_the_budget_in_chunks_under_the_variable_limit():
    monitor = largest_monitor()
    promoted = largest_promoted_reference()
    size = len(monitor_config(monitor, promoted).encode())
    assert size < CONFIG_BUDGET, f"{size} bytes"
    assert size > CONFIG_BUDGET * 0.9  # the generator did build a large spec, not an empty one
    job = analysis_job(monitor, SLOT, "ghcr.io/driftwarden/driftwarden:1.0.0", reference=promoted)
    env = container_env(job)
    assert int(env[CONFIG_ENV + "_CHUNKS"]) == 7
    for name, value in env.items():  # as execve counts them: NAME=value and a NUL
        assert len(f"{name}={value}".encode()) + 1 < VARIABLE_BUDGET, name
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    strings = [f"{k}={v}" for k, v in env.items()] + args
    assert sum(len(s.encode()) + 1 for s in strings) < EXEC_BUDGET
    assert len(json.dumps(job, ensure_ascii=False).encode()) < JOB_BUDGET


def test_the_largest_admissible_spec_round_trips_through_the_jobs_env_exactly(monkeypatch):
    monitor = parse_monitor(runnable(largest_manifest()))
    job = analysis_job(monitor, SLOT, "ghcr.io/driftwarden/driftwarden:1.0.0")
    env = container_env(job)
    assert join_env(CONFIG_ENV, env) == monitor_config(monitor)
    # ... and `driftwarden analyze --config-env` reads it into the run the operator validated.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = build_parser("analyze").parse_args(
        job["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    config, identity = build_config(args)
    # The run the operator validated, writing under its output path, the Secret named only in envFrom.
    assert config == dataclasses.replace(
        monitor.run,
        output=run_output(monitor, job["metadata"]["name"]),
        storage=dataclasses.replace(monitor.run.storage, secret_name=None),
    )
    assert identity == {"name": monitor.name, "namespace": monitor.namespace}


def test_the_crd_and_the_parser_hold_the_same_bounds():
    features = SPEC_SCHEMA["properties"]["features"]["properties"]
    for key, limit in settings.MAX_FEATURE_LIST.items():
        assert features[key]["maxItems"] == limit
        assert features[key]["items"]["maxLength"] == settings.MAX_COLUMN_NAME_LENGTH
    overrides = SPEC_SCHEMA["properties"]["detection"]["properties"]["overrides"]
    assert overrides["maxItems"] == settings.MAX_OVERRIDES
    assert overrides["items"]["properties"]["feature"]["maxLength"] == (
        settings.MAX_COLUMN_NAME_LENGTH
    )
    source = SPEC_SCHEMA["properties"]["reference"]["properties"]
    assert source["path"]["maxLength"] == settings.MAX_PATH_LENGTH
    assert source["timestampColumn"]["maxLength"] == settings.MAX_COLUMN_NAME_LENGTH
    assert SPEC_SCHEMA["properties"]["output"]["properties"]["path"]["maxLength"] == (
        settings.MAX_OUTPUT_PATH_LENGTH
    )
    model = SPEC_SCHEMA["properties"]["model"]["properties"]
    assert model["predictions"]["maxItems"] == model_settings.MAX_PREDICTIONS
    for column in (model["predictions"]["items"], model["target"]):
        assert column["properties"]["column"]["maxLength"] == model_settings.MAX_COLUMN_NAME_LENGTH
    performance = model["performance"]["properties"]
    assert performance["degradation"]["maxItems"] == len(
        performance_settings.METRICS["classification"]
    )
    assert performance["positiveClass"]["maxLength"] == performance_settings.MAX_CLASS_LENGTH
    assert model["labels"]["properties"]["path"]["maxLength"] == (
        performance_settings.MAX_LABELS_PATH_LENGTH
    )
    for column in (
        model["idColumn"],
        model["labels"]["properties"]["labelColumn"],
        model["labels"]["properties"]["idColumn"],
        model["labels"]["properties"]["timestampColumn"],
    ):
        assert column["maxLength"] == performance_settings.MAX_COLUMN
    weights = model["importance"]["properties"]["weights"]
    assert weights["maxItems"] == importance_settings.MAX_WEIGHTS
    assert weights["items"]["properties"]["feature"]["maxLength"] == (
        importance_settings.MAX_NAME_LENGTH
    )
    multivariate = model["multivariate"]["properties"]
    assert multivariate["features"]["maxItems"] == model_settings.MAX_MULTIVARIATE_FEATURES
    assert multivariate["features"]["items"]["maxLength"] == model_settings.MAX_COLUMN_NAME_LENGTH
    assert (multivariate["sampleRows"]["minimum"], multivariate["sampleRows"]["maximum"]) == (
        model_settings.MULTIVARIATE_ROWS
    )
    storage = SPEC_SCHEMA["properties"]["storage"]["properties"]
    assert storage["endpoint"]["maxLength"] == settings.MAX_PATH_LENGTH
    assert storage["region"]["maxLength"] == settings.MAX_REGION_LENGTH


OVER_THE_BOUND = [
    ("features.include", lambda s: s["features"]["include"].append("one_more")),
    (
        "detection.overrides",
        lambda s: s["detection"]["overrides"].append({"feature": "one_more", "method": "psi"}),
    ),
    ("reference.path", lambda s: s["reference"].update(path="s3://b/" + "x" * 1024)),
    ("output.path", lambda s: s["output"].update(path="s3://b/" + "x" * 890)),
    ("features.exclude[0]", lambda s: s["features"]["exclude"].__setitem__(0, "c" * 129)),
    ("current.timestampColumn", lambda s: s["current"].update(timestampColumn="t\x1b[31m")),
    (
        "model.predictions",
        lambda s: s["model"]["predictions"].append({"column": "one_more", "kind": "score"}),
    ),
    ("model.target.column", lambda s: s["model"]["target"].update(column="y" * 129)),
    ("model.labels.labelColumn", lambda s: s["model"]["labels"].update(labelColumn="y" * 129)),
    (
        "model.importance.weights",
        lambda s: s["model"]["importance"]["weights"].append({"feature": "one_more", "weight": 1}),
    ),
    (
        "model.multivariate.features",
        lambda s: s["model"]["multivariate"]["features"].append("one_more"),
    ),
]


@pytest.mark.parametrize(("field", "grow"), OVER_THE_BOUND, ids=[f for f, _ in OVER_THE_BOUND])
def test_one_over_a_bound_is_refused_by_the_api_server_and_the_parser(kube_api, field, grow):
    kube_api.register_crd(CRD_PATH)
    manifest = largest_manifest()
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n" * 63}})
    path = f"/apis/driftwarden.io/v1alpha1/namespaces/{'n' * 63}/driftmonitors"
    status, body, _ = kube_api.http("POST", path, {**manifest, "metadata": {"name": "at-bound"}})
    assert status == 201, body
    grow(manifest["spec"])
    status, body, _ = kube_api.http("POST", path, {**manifest, "metadata": {"name": "over"}})
    assert status == 422, body
    assert "spec." + field.split("[")[0] in body["message"]
    with pytest.raises(ConfigError, match=re.escape("spec." + field)):
        parse_monitor(runnable(manifest))


def test_unbounded_sections_stay_out_of_the_travelling_spec():
    manifest = runnable(largest_manifest())
    manifest["spec"]["job"] = {"affinity": {"nodeAffinity": {"x": "y" * 200_000}}}
    monitor = parse_monitor(manifest)
    assert '"job"' not in monitor_config(monitor)
    assert len(monitor_config(monitor).encode()) < CONFIG_BUDGET
