#!/usr/bin/env python3
"""What the end-to-end test asserts, in one place.

e2e/run.sh calls this file's command line against a kind cluster (through
``kubectl``); tests/e2e_static/test_e2e_checks.py calls the same functions against
the test API server, on results of the real operator. Every check takes a
*getter* shaped like ``kubectl get -o json``::

    get(resource, namespace, name=None, *, selector=None, field_selector=None) -> dict

returning the object when ``name`` is given, else a list (``{"items": [...]}``),
and raising :class:`NotFound` for a missing object. A failed check raises
:class:`CheckFailed` with a message that says what was expected and what was found.

Standard library only, so any python3 runs it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

MONITORS = "driftmonitors.driftwarden.io"
LABEL_MONITOR = "driftwarden.io/monitor"
LABEL_COMPONENT = "app.kubernetes.io/component"
DEFAULT_DRIFT_SHARE = 0.5


class CheckFailed(AssertionError):
    """A check did not hold."""


class NotFound(LookupError):
    """The object asked for does not exist."""


class Getter(Protocol):
    def __call__(
        self,
        resource: str,
        namespace: str,
        name: str | None = None,
        *,
        selector: str | None = None,
        field_selector: str | None = None,
    ) -> dict[str, Any]: ...


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def kubectl_getter(kubectl: str = "kubectl", context: str | None = None) -> Getter:
    """A getter that runs ``kubectl get ... -o json``."""

    def get(
        resource: str,
        namespace: str,
        name: str | None = None,
        *,
        selector: str | None = None,
        field_selector: str | None = None,
    ) -> dict[str, Any]:
        command = [kubectl, *(["--context", context] if context else []), "get", resource]
        command += [name] if name else []
        command += ["--namespace", namespace, "--output", "json"]
        command += ["--selector", selector] if selector else []
        command += ["--field-selector", field_selector] if field_selector else []
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            if "NotFound" in result.stderr:
                raise NotFound(f"{resource} {namespace}/{name}")
            raise CheckFailed(f"{' '.join(command)} failed: {result.stderr.strip()}")
        return json.loads(result.stdout)

    return get


# ---------------------------------------------------------------- reading


def condition(status: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for item in status.get("conditions") or []:
        if item.get("type") == kind:
            return item
    return {}


def verdict(status: Mapping[str, Any]) -> str | None:
    """The monitor's phase; while a later run is in progress, the last finished run's verdict."""
    phase = status.get("phase")
    last = status.get("lastRun") or {}
    if phase == "Running" and last:
        if last.get("outcome") != "Succeeded":
            return "Failed"
        return "Drifted" if last.get("drifted") else "Healthy"
    return phase


def _labelled(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', 'object')} {meta.get('namespace')}/{meta.get('name')}"


def _owned_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    return any(
        ref.get("uid") == uid and ref.get("kind") == "DriftMonitor" and ref.get("controller")
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
    )


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env") or [] if "name" in e}


# ---------------------------------------------------------------- monitors


def _checked_status(monitor: Mapping[str, Any]) -> dict[str, Any]:
    name = _labelled(monitor)
    status = monitor.get("status") or {}
    generation = (monitor.get("metadata") or {}).get("generation")
    expect(status, f"{name}: no status yet")
    expect(
        status.get("observedGeneration") == generation,
        f"{name}: status reflects generation {status.get('observedGeneration')}, "
        f"spec is generation {generation}",
    )
    last = status.get("lastRun") or {}
    expect(last.get("outcome") == "Succeeded", f"{name}: no successful run yet (lastRun {last})")
    rows = last.get("rows") or {}
    expect(
        (rows.get("reference") or 0) > 0 and (rows.get("current") or 0) > 0,
        f"{name}: the last run read no rows ({rows})",
    )
    expect(last.get("totalFeatures", 0) > 0, f"{name}: the last run compared no feature")
    expect(status.get("nextRunTime"), f"{name}: no nextRunTime")
    ready = condition(status, "Ready")
    expect(
        ready.get("status") == "True" and ready.get("reason") == "RunSucceeded",
        f"{name}: Ready is {ready}",
    )
    output = ((monitor.get("spec") or {}).get("output") or {}).get("path")
    if output:
        report = last.get("report") or ""
        expect(
            report.startswith(output.rstrip("/") + "/") and report.endswith("/report.json"),
            f"{name}: report {report!r} is not a report.json under {output}",
        )
    return status


def _drift_share(monitor: Mapping[str, Any]) -> float:
    detection = (monitor.get("spec") or {}).get("detection") or {}
    return float(detection.get("driftShare", DEFAULT_DRIFT_SHARE))


def check_healthy_monitor(get: Getter, namespace: str, name: str) -> dict[str, Any]:
    """The monitor's last run succeeded and found no dataset drift."""
    monitor = get(MONITORS, namespace, name)
    status = _checked_status(monitor)
    label = _labelled(monitor)
    expect(verdict(status) == "Healthy", f"{label}: phase {status.get('phase')}, expected Healthy")
    drifted = condition(status, "Drifted")
    expect(
        drifted.get("status") == "False" and drifted.get("reason") == "NoDrift",
        f"{label}: Drifted is {drifted}",
    )
    last = status["lastRun"]
    expect(last.get("drifted") is False, f"{label}: lastRun.drifted is {last.get('drifted')}")
    expect(
        last.get("driftShare", 1.0) < _drift_share(monitor),
        f"{label}: drift share {last.get('driftShare')} reaches the monitor's threshold",
    )
    trigger = condition(status, "RetrainingTriggered")
    expect(trigger.get("status") == "False", f"{label}: RetrainingTriggered is {trigger}")
    expect(not status.get("lastRetraining"), f"{label}: retrained: {status.get('lastRetraining')}")
    return status


def check_drifted_monitor(
    get: Getter, namespace: str, name: str, *, retraining: bool = True
) -> dict[str, Any]:
    """The monitor's last run found dataset drift (and started a retraining Job)."""
    monitor = get(MONITORS, namespace, name)
    status = _checked_status(monitor)
    label = _labelled(monitor)
    expect(verdict(status) == "Drifted", f"{label}: phase {status.get('phase')}, expected Drifted")
    last = status["lastRun"]
    expect(last.get("drifted") is True, f"{label}: lastRun.drifted is {last.get('drifted')}")
    expect(
        last.get("driftShare", 0.0) >= _drift_share(monitor),
        f"{label}: drift share {last.get('driftShare')} is below the monitor's threshold",
    )
    features = status.get("features") or []
    drifted_names = [f["name"] for f in features if f.get("drifted")]
    expect(drifted_names, f"{label}: status.features lists no drifted feature")
    expect(
        features[: len(drifted_names)] == [f for f in features if f.get("drifted")],
        f"{label}: status.features does not list the drifted features first",
    )
    drifted = condition(status, "Drifted")
    expect(
        drifted.get("status") == "True" and drifted.get("reason") == "DriftDetected",
        f"{label}: Drifted is {drifted}",
    )
    expect(
        drifted_names[0] in (drifted.get("message") or ""),
        f"{label}: the Drifted message does not name {drifted_names[0]}",
    )
    if retraining:
        record = status.get("lastRetraining") or {}
        expect(record.get("job") and record.get("run"), f"{label}: no lastRetraining ({record})")
        trigger = condition(status, "RetrainingTriggered")
        expect(
            trigger.get("status") == "True"
            or (trigger.get("status") == "False" and trigger.get("reason") == "CooldownActive"),
            f"{label}: RetrainingTriggered is {trigger}",
        )
    return status


# ---------------------------------------------------------------- Jobs and Events


def check_analysis_jobs(
    get: Getter, namespace: str, name: str, image: str | None = None
) -> list[dict[str, Any]]:
    """The monitor's analysis Jobs: owned by it, hardened, on the operator's image; the last
    run's Job completed."""
    monitor = get(MONITORS, namespace, name)
    jobs = get(
        "jobs", namespace, selector=f"{LABEL_MONITOR}={name},{LABEL_COMPONENT}=analysis"
    ).get("items", [])
    expect(jobs, f"no analysis Job of monitor {namespace}/{name}")
    for job in jobs:
        label = f"Job {namespace}/{job['metadata']['name']}"
        expect(_owned_by(job, monitor), f"{label} is not owned by the monitor")
        pod = job["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        expect((container.get("args") or [""])[0] == "analyze", f"{label}: not `analyze`")
        if image is not None:
            expect(
                container.get("image") == image,
                f"{label}: image {container.get('image')}, expected {image}",
            )
        context = container.get("securityContext") or {}
        expect(
            context.get("readOnlyRootFilesystem") is True
            and context.get("runAsNonRoot") is True
            and context.get("allowPrivilegeEscalation") is False,
            f"{label}: container securityContext {context}",
        )
        expect(pod.get("automountServiceAccountToken") is False, f"{label}: mounts an API token")
    last = ((monitor.get("status") or {}).get("lastRun") or {}).get("job")
    finished = {j["metadata"]["name"]: j for j in jobs}
    if last in finished:
        conditions = (finished[last].get("status") or {}).get("conditions") or []
        expect(
            any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions),
            f"Job {namespace}/{last} of the last run is not Complete: {conditions}",
        )
    return jobs


def check_retraining_job(get: Getter, namespace: str, name: str) -> dict[str, Any]:
    """The retraining Job the monitor's status names exists, is owned by it, and was told
    which run triggered it."""
    monitor = get(MONITORS, namespace, name)
    record = (monitor.get("status") or {}).get("lastRetraining") or {}
    expect(record.get("job"), f"monitor {namespace}/{name} has started no retraining Job")
    try:
        job = get("jobs", namespace, record["job"])
    except NotFound:
        raise CheckFailed(f"retraining Job {namespace}/{record['job']} does not exist") from None
    label = f"Job {namespace}/{record['job']}"
    labels = job["metadata"].get("labels") or {}
    expect(labels.get(LABEL_COMPONENT) == "retraining", f"{label}: labels {labels}")
    expect(labels.get(LABEL_MONITOR) == name, f"{label}: labels {labels}")
    expect(_owned_by(job, monitor), f"{label} is not owned by the monitor")
    for container in job["spec"]["template"]["spec"]["containers"]:
        env = _env(container)
        expect(env.get("DRIFTWARDEN_RUN") == record.get("run"), f"{label}: DRIFTWARDEN_RUN {env}")
        expect(
            env.get("DRIFTWARDEN_MONITOR_NAME") == name, f"{label}: DRIFTWARDEN_MONITOR_NAME {env}"
        )
        expect(env.get("DRIFTWARDEN_DRIFTED_FEATURES"), f"{label}: no DRIFTWARDEN_DRIFTED_FEATURES")
    return job


def check_events(
    get: Getter, namespace: str, name: str, reasons: list[str]
) -> list[dict[str, Any]]:
    """Events about the monitor include each of ``reasons``."""
    events = get("events", namespace, field_selector=f"involvedObject.name={name}").get("items", [])
    seen = {e.get("reason") for e in events}
    missing = [r for r in reasons if r not in seen]
    expect(
        not missing, f"no {', '.join(missing)} Event on {namespace}/{name} (seen: {sorted(seen)})"
    )
    return events


# ---------------------------------------------------------------- metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    """Samples of the Prometheus text format: (name, labels) -> value."""
    samples: Samples = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        if not match:
            raise CheckFailed(f"not a Prometheus sample line: {line!r}")
        name, labels, value = match.groups()
        pairs = frozenset(
            (key, re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), raw))
            for key, raw in _LABEL.findall(labels or "")
        )
        samples[(name, pairs)] = float(value)
    return samples


def series(samples: Samples, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return [
        (dict(pairs), value)
        for (sample, pairs), value in samples.items()
        if sample == name and wanted <= pairs
    ]


def value(samples: Samples, name: str, **labels: str) -> float:
    found = series(samples, name, **labels)
    expect(len(found) == 1, f"expected one {name}{labels} sample, found {len(found)}")
    return found[0][1]


def check_metrics(text: str, namespace: str, healthy: str, drifted: str) -> Samples:
    """The operator's metrics tell the verdicts of both monitors."""
    samples = parse_metrics(text)
    for monitor, expected in ((healthy, 0.0), (drifted, 1.0)):
        labels = {"namespace": namespace, "monitor": monitor}
        got = value(samples, "driftwarden_dataset_drifted", **labels)
        expect(
            got == expected, f"driftwarden_dataset_drifted{labels} is {got}, expected {expected}"
        )
        got = value(samples, "driftwarden_last_run_success", **labels)
        expect(got == 1.0, f"driftwarden_last_run_success{labels} is {got}")
        expect(value(samples, "driftwarden_rows_analyzed", side="current", **labels) > 0,
               f"driftwarden_rows_analyzed{labels} is 0")  # fmt: skip
        expect(series(samples, "driftwarden_feature_drift_score", **labels),
               f"no driftwarden_feature_drift_score for {labels}")  # fmt: skip
        phases = [s for s in series(samples, "driftwarden_monitor_phase", **labels) if s[1] == 1.0]
        expect(len(phases) == 1, f"driftwarden_monitor_phase{labels}: {phases}")
    labels = {"namespace": namespace, "monitor": drifted}
    flagged = sum(v for _, v in series(samples, "driftwarden_feature_drifted", **labels))
    expect(flagged >= 1, f"driftwarden_feature_drifted{labels} flags no feature")
    started = value(samples, "driftwarden_retraining_jobs_started_total", **labels)
    expect(started >= 1, f"driftwarden_retraining_jobs_started_total{labels} is {started}")
    return samples


def fetch(url: str, timeout: float = 10.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def find_metrics_service(get: Getter, namespace: str, release: str) -> tuple[str, int]:
    """(name, port) of the operator's metrics Service: the one with a port named ``metrics``."""
    services = get(
        "services",
        namespace,
        selector=f"app.kubernetes.io/instance={release},app.kubernetes.io/component=operator",
    ).get("items", [])
    for service in services:
        for port in (service.get("spec") or {}).get("ports") or []:
            if port.get("name") == "metrics":
                return service["metadata"]["name"], int(port["port"])
    raise CheckFailed(f"no Service with a 'metrics' port for release {release} in {namespace}")


# ---------------------------------------------------------------- waiting

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float, interval: float = 2.0) -> T:
    """Run ``check`` until it passes; after ``timeout`` seconds re-raise its last failure.

    A failed check, a missing object and a connection error (a port-forward still
    starting) are retried; anything else is a bug and raised at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (CheckFailed, NotFound, OSError):
            if time.monotonic() >= deadline:
                raise
        time.sleep(interval)


def check_monitors(
    get: Getter, namespace: str, healthy: str, drifted: str, image: str | None, timeout: float
) -> None:
    """Everything the e2e asserts about the two monitors, waiting for their first runs."""
    wait_for(lambda: check_healthy_monitor(get, namespace, healthy), timeout)
    print(f"ok: {namespace}/{healthy} is Healthy")
    wait_for(lambda: check_drifted_monitor(get, namespace, drifted), timeout)
    print(f"ok: {namespace}/{drifted} is Drifted")
    for monitor in (healthy, drifted):
        check_analysis_jobs(get, namespace, monitor, image)
    print("ok: analysis Jobs owned by their monitors, hardened, on the operator's image")
    check_retraining_job(get, namespace, drifted)
    print(f"ok: retraining Job of {namespace}/{drifted} exists")
    wait_for(lambda: check_events(get, namespace, healthy, ["AnalysisStarted", "NoDrift"]), 60)
    wait_for(
        lambda: check_events(
            get, namespace, drifted, ["AnalysisStarted", "DriftDetected", "RetrainingStarted"]
        ),
        60,
    )
    print("ok: Events posted")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--context")
    commands = parser.add_subparsers(dest="command", required=True)
    monitors = commands.add_parser("monitors", help="wait for and check both monitors")
    metrics = commands.add_parser("metrics", help="check the operator's /metrics")
    for sub in (monitors, metrics):
        sub.add_argument("--namespace", required=True)
        sub.add_argument("--healthy", required=True, help="the monitor expected Healthy")
        sub.add_argument("--drifted", required=True, help="the monitor expected Drifted")
        sub.add_argument("--timeout", type=float, default=600)
    monitors.add_argument("--image", help="the image analysis Jobs must run")
    metrics.add_argument("--url", required=True)
    service = commands.add_parser("metrics-service", help="print NAME PORT of the metrics Service")
    service.add_argument("--namespace", required=True)
    service.add_argument("--release", required=True)
    args = parser.parse_args(argv)
    get = kubectl_getter(args.kubectl, args.context)
    try:
        if args.command == "monitors":
            check_monitors(
                get, args.namespace, args.healthy, args.drifted, args.image, args.timeout
            )
        elif args.command == "metrics":
            wait_for(
                lambda: check_metrics(fetch(args.url), args.namespace, args.healthy, args.drifted),
                args.timeout,
            )
            print(f"ok: {args.url} tells both verdicts")
        else:
            print(*find_metrics_service(get, args.namespace, args.release))
    except (CheckFailed, NotFound, OSError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
