"""The GitOps health checks of a DriftMonitor, run on statuses the operator's own code computes.

* deploy/argocd/health.lua runs in Lua 5.1 (PyPI ``lupa``) inside a sandbox like
  Argo CD's: gopher-lua is Lua 5.1 and opens only the base, package, table and (a
  safe) os library — no string library — for scripts from argocd-cm;
* the Flux ``healthCheckExprs`` of deploy/flux/clusters.yaml run in CEL (PyPI
  ``cel-python``) the way kustomize-controller evaluates them (generation check
  first, then inProgress, failed, current);
and both must give the same verdict for every status.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from driftwarden.monitor import (
    compute_status,
    invalid_spec_status,
    outcome_from_job,
    parse_monitor,
    suspended_status,
)
from tests.e2e_static.conftest import ROOT
from tests.monitor.helpers import NOW, finished_job, manifest, pod, running_job, summary

HEALTH_LUA = (ROOT / "deploy" / "argocd" / "health.lua").read_text()
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


# ---------------------------------------------------------------- the statuses


def _stored(value: Any) -> Any:
    """A computed status as the API server keeps it: a merge patch removes ``None`` fields."""
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def _with_status(status: dict[str, Any] | None, **spec: Any) -> dict[str, Any]:
    doc = manifest(**spec)
    if status is not None:
        doc["status"] = _stored(status)
    return doc


def _statuses() -> dict[str, dict[str, Any]]:
    monitor = parse_monitor(manifest())
    quiet = summary(
        drifted=False,
        driftShare=0.0,
        driftedFeatures=0,
        features=[dict(f, drifted=False) for f in summary()["features"]],
    )
    healthy = compute_status(monitor, None, outcome_from_job(finished_job(), pod(quiet)), NOW)
    drifted = compute_status(monitor, None, outcome_from_job(finished_job(), pod(summary())), NOW)
    error = {"v": 1, "error": {"reason": "DataNotFound", "message": "no files under s3://logs/x/"}}
    failed = compute_status(
        monitor,
        None,
        outcome_from_job(finished_job(state="Failed", reason="PodFailurePolicy"), pod(error, 3)),
        NOW,
    )
    stuck = 'secret "s3-credentials" not found'
    return {
        "pending": compute_status(monitor, None, None, NOW),
        "first run running": compute_status(monitor, None, None, NOW, running_job()),
        "first run cannot start": compute_status(
            monitor, None, None, NOW, running_job(), current_problem=stuck
        ),
        "healthy": healthy,
        "drifted": drifted,
        "failed run": failed,
        "invalid spec after a good run": invalid_spec_status(
            3, healthy, "spec.schedule: '0 25 * * *' is not a valid cron expression", NOW
        ),
        "running after healthy": compute_status(monitor, healthy, None, NOW, running_job()),
        "running after drifted": compute_status(monitor, drifted, None, NOW, running_job()),
        "running after a failure": compute_status(monitor, failed, None, NOW, running_job()),
        "running, pod cannot start": compute_status(
            monitor, healthy, None, NOW, running_job(), current_problem=stuck
        ),
        "suspended": suspended_status(parse_monitor(manifest(suspend=True)), healthy, NOW),
        "suspended before any run": suspended_status(
            parse_monitor(manifest(suspend=True)), None, NOW
        ),
    }


STATUSES = _statuses()

# name -> (Argo CD health, a word of its message, Flux kstatus)
CASES: dict[str, tuple[str, str, str]] = {
    "no status yet": ("Progressing", "operator", "Unknown"),
    "stale generation": ("Progressing", "generation 4", "InProgress"),
    "pending": ("Progressing", "no run has finished", "InProgress"),
    "first run running": ("Progressing", "First analysis run", "InProgress"),
    "first run cannot start": ("Degraded", "s3-credentials", "Failed"),
    "healthy": ("Healthy", "succeeded", "Current"),
    "drifted": ("Healthy", "Drift detected", "Current"),
    "failed run": ("Degraded", "no files under", "Failed"),
    "invalid spec after a good run": ("Degraded", "spec.schedule", "Failed"),
    "running after healthy": ("Healthy", "in progress", "Current"),
    "running after drifted": ("Healthy", "Drift detected", "Current"),
    "running after a failure": ("Degraded", "no files under", "Failed"),
    "running, pod cannot start": ("Degraded", "s3-credentials", "Failed"),
    "suspended": ("Suspended", "spec.suspend", "Current"),
    "suspended before any run": ("Suspended", "spec.suspend", "Current"),
}


def _object(case: str) -> dict[str, Any]:
    if case == "no status yet":
        return _with_status(None)
    if case == "stale generation":
        doc = _with_status(copy.deepcopy(STATUSES["healthy"]))
        doc["metadata"]["generation"] = 4
        return doc
    suspend = {"suspend": True} if case.startswith("suspended") else {}
    return _with_status(copy.deepcopy(STATUSES[case]), **suspend)


def test_every_phase_has_a_case():
    phases = {STATUSES[name]["phase"] for name in STATUSES}
    assert phases == {"Pending", "Running", "Healthy", "Drifted", "Failed", "Suspended"}
    assert set(CASES) == set(STATUSES) | {"no status yet", "stale generation"}


# ---------------------------------------------------------------- Argo CD: Lua


def argocd_health(obj: dict[str, Any], script: str = HEALTH_LUA) -> dict[str, Any]:
    """Run a health script as Argo CD does: Lua 5.1, ``obj`` global, no string library."""
    lupa = pytest.importorskip(
        "lupa.lua51", reason="lupa (PyPI) not installed: add it to the test extras"
    )
    lua = lupa.LuaRuntime(unpack_returned_tuples=False)
    sandbox = lua.eval(
        """function(script, object)
            local env = {}
            for _, name in ipairs({"assert", "error", "ipairs", "next", "pairs", "pcall", "select",
                                   "tonumber", "tostring", "type", "unpack", "xpcall", "rawget",
                                   "rawset", "rawequal", "setmetatable", "getmetatable", "_VERSION"}) do
              env[name] = _G[name]
            end
            env.table = table
            env.os = {time = os.time, date = os.date, clock = os.clock, difftime = os.difftime}
            env.obj = object
            getmetatable("").__index = nil  -- no ("x"):upper(): the string library is not loaded
            local chunk = assert(loadstring(script, "health.lua"))
            setfenv(chunk, env)
            return chunk()
        end"""
    )
    result = sandbox(script, lua.table_from(obj, recursive=True))
    assert lupa.lua_type(result) == "table", f"health.lua returned {result!r}"
    health = dict(result.items())
    assert set(health) <= {"status", "message"}, health
    assert health["status"] in ARGO_STATUSES, health
    assert isinstance(health.get("message"), str) and health["message"], health
    return health


@pytest.mark.parametrize("case", list(CASES))
def test_argocd_health(case):
    expected, word, _ = CASES[case]
    health = argocd_health(_object(case))
    assert health["status"] == expected, health
    assert word in health["message"], health


def test_drifted_can_be_made_degraded_with_one_line():
    script = HEALTH_LUA.replace(
        'local DRIFTED_HEALTH = "Healthy"', 'local DRIFTED_HEALTH = "Degraded"'
    )
    assert script != HEALTH_LUA
    assert argocd_health(_object("drifted"), script)["status"] == "Degraded"
    assert argocd_health(_object("healthy"), script)["status"] == "Healthy"


def test_script_needs_no_library_argocd_leaves_out():
    code = "\n".join(line.split("--")[0] for line in HEALTH_LUA.splitlines())
    for forbidden in ("string.", "io.", "debug.", "require", "math.", "os.", "goto", "//"):
        assert forbidden not in code, forbidden


def test_argocd_cm_snippet_holds_the_script_verbatim():
    config = yaml.safe_load((ROOT / "deploy" / "argocd" / "argocd-cm.yaml").read_text())
    assert config["kind"] == "ConfigMap" and config["metadata"]["name"] == "argocd-cm"
    assert config["data"] == {
        "resource.customizations.health.driftwarden.io_DriftMonitor": HEALTH_LUA
    }


# ---------------------------------------------------------------- Flux: CEL


def _flux_exprs() -> dict[str, str]:
    documents = yaml.safe_load_all((ROOT / "deploy" / "flux" / "clusters.yaml").read_text())
    for doc in documents:
        for entry in (doc.get("spec") or {}).get("healthCheckExprs") or []:
            if entry["apiVersion"] == "driftwarden.io/v1alpha1" and entry["kind"] == "DriftMonitor":
                return entry
    raise AssertionError("no healthCheckExprs for DriftMonitor in deploy/flux/clusters.yaml")


def flux_health(obj: dict[str, Any]) -> str:
    """kustomize-controller's verdict with the expressions (fluxcd/pkg runtime/cel)."""
    celpy = pytest.importorskip("celpy", reason="cel-python not installed")
    status = obj.get("status")
    generation = obj["metadata"].get("generation")
    if (
        status is not None
        and "observedGeneration" in status
        and status["observedGeneration"] != generation
    ):
        return "InProgress"
    if status is None:
        return "Unknown"  # cel-go: no such attribute 'status' -> evaluation error -> Unknown
    environment = celpy.Environment()
    activation = {key: celpy.json_to_cel(value) for key, value in obj.items()}

    def evaluate(expression: str) -> Any:
        return environment.program(environment.compile(expression)).evaluate(activation)

    exprs = _flux_exprs()
    for key, verdict in (
        ("inProgress", "InProgress"),
        ("failed", "Failed"),
        ("current", "Current"),
    ):
        if key in exprs and bool(evaluate(exprs[key])):
            return verdict
    return "InProgress"


@pytest.mark.parametrize("case", list(CASES))
def test_flux_health_check_expressions(case):
    assert flux_health(_object(case)) == CASES[case][2]


@pytest.mark.parametrize("case", list(CASES))
def test_argocd_and_flux_agree(case):
    same = {"Healthy": {"Current"}, "Suspended": {"Current"}, "Degraded": {"Failed"},
            "Progressing": {"InProgress", "Unknown"}, "Unknown": {"InProgress"}}  # fmt: skip
    assert flux_health(_object(case)) in same[argocd_health(_object(case))["status"]]
