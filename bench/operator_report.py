"""Targets and the "Operator at scale" section of bench/RESULTS.md, from the results dict.

The section sits between :data:`BEGIN` and :data:`END` markers; :func:`splice` replaces
only that part of RESULTS.md (``run.py`` keeps it when it rewrites the rest).
"""

from __future__ import annotations

from typing import Any

from operator_measure import CATEGORIES, MIB

BEGIN = "<!-- operator-scale:begin (written by bench/operator_scale.py) -->"
END = "<!-- operator-scale:end -->"

IDLE_RSS_LIMIT = 100 * MIB
MONITORS_RSS_LIMIT = 150 * MIB
REQUEST_RATE_LIMIT = 2.0  # per second, apart from creates and status patches
LATENCY_P99_LIMIT = 5.0  # seconds from a Job finishing to its outcome in status

_LABELS = {
    "reads": "reads (GET, LIST)",
    "watches": "watches opened",
    "statusPatches": "status patches",
    "creates": "creates (POST)",
    "otherWrites": "other writes (PATCH, PUT, DELETE)",
}


def _target(text: str, value: float | None, limit: float, unit: str, scale: float = 1) -> dict:
    shown = None if value is None else value / scale
    return {
        "target": text,
        "value": shown,
        "unit": unit,
        "met": None if value is None else value <= limit,
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of issue 7's operator targets with the measured value (None: not measured)."""
    phases = results.get("phases", {})
    n = results["config"]["monitors"]
    jobs = results["config"]["unrelatedJobs"]

    def rss(phase: str) -> float | None:
        return (phases.get(phase) or {}).get("rss", {}).get("rssMedianBytes")

    rate = (phases.get("monitors") or {}).get("requests", {}).get("targetRate")
    p99 = (phases.get("latency") or {}).get("p99Seconds")
    return [
        _target("idle RSS (median) <= 100 MiB", rss("idle"), IDLE_RSS_LIMIT, "MiB", MIB),
        _target(
            f"RSS at {n:,} monitors (median) <= 150 MiB",
            rss("monitors"),
            MONITORS_RSS_LIMIT,
            "MiB",
            MIB,
        ),
        _target(
            f"RSS at {n:,} monitors + {jobs:,} unrelated Jobs (median) <= 150 MiB",
            rss("monitorsAndJobs"),
            MONITORS_RSS_LIMIT,
            "MiB",
            MIB,
        ),
        _target(
            f"steady API requests at {n:,} monitors, apart from creates and status patches, <= 2/s",
            rate,
            REQUEST_RATE_LIMIT,
            "req/s",
        ),
        _target("Job finished → outcome in status, p99 <= 5 s", p99, LATENCY_P99_LIMIT, "s"),
    ]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MIB:,.0f}"


def _met(flag: bool | None) -> str:
    return {True: "**met**", False: "**NOT met**", None: "not measured"}[flag]


def _rss_rows(phases: dict[str, Any]) -> list[str]:
    rows = [
        "| phase | median RSS (MiB) | min–max RSS (MiB) | VmHWM at end (MiB) | operator CPU | samples |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (
        ("idle", "idle, no monitors"),
        ("monitors", "monitors, steady"),
        ("monitorsAndJobs", "monitors + unrelated Jobs, steady"),
    ):
        rss = (phases.get(key) or {}).get("rss") or {}
        if not rss.get("samples"):
            rows.append(f"| {label} | not measured | | | | |")
            continue
        rows.append(
            f"| {label} | {_mib(rss['rssMedianBytes'])} | {_mib(rss['rssMinBytes'])}–"
            f"{_mib(rss['rssMaxBytes'])} | {_mib(rss['hwmBytes'])} | "
            f"{_fmt(rss.get('cpuPercent'), 0)} % | {rss['samples']} |"
        )
    return rows


def _request_rows(phases: dict[str, Any]) -> list[str]:
    keys = [
        k for k in ("idle", "monitors", "monitorsAndJobs") if (phases.get(k) or {}).get("requests")
    ]
    if not keys:
        return ["Requests: not measured."]
    head = "| requests per second | " + " | ".join(keys) + " |"
    rows = [head, "| --- |" + " ---: |" * len(keys)]
    for cat in CATEGORIES:
        cells = [
            f"{phases[k]['requests']['rates'][cat]:.2f} ({phases[k]['requests']['counts'][cat]})"
            for k in keys
        ]
        rows.append(f"| {_LABELS[cat]} | " + " | ".join(cells) + " |")
    rows.append(
        "| **all but creates and status patches** | "
        + " | ".join(f"**{phases[k]['requests']['targetRate']:.2f}**" for k in keys)
        + " |"
    )
    rows.append(
        "| all | " + " | ".join(f"{phases[k]['requests']['totalRate']:.2f}" for k in keys) + " |"
    )
    rows.append(
        "| fixture delay p50 / p99 (ms) | "
        + " | ".join(_probe(phases[k].get("fixture")) for k in keys)
        + " |"
    )
    rows.append(
        "| window (s) | "
        + " | ".join(f"{phases[k]['requests']['windowSeconds']:.0f}" for k in keys)
        + " |"
    )
    return rows


def _probe(probe: dict[str, Any] | None) -> str:
    if not probe or not probe.get("samples"):
        return "n/a"
    return f"{probe['p50Seconds'] * 1000:.0f} / {probe['p99Seconds'] * 1000:.0f}"


def _endpoint_line(phase: dict[str, Any]) -> str:
    top = list((phase.get("requests") or {}).get("byEndpoint", {}).items())[:8]
    return ", ".join(f"`{k}` {v}" for k, v in top) or "none"


def _finish_lines(phase: dict[str, Any], pace: str) -> list[str]:
    """What one latency or burst phase measured, in two paragraphs."""
    if not phase.get("finished"):
        return ["Not measured."]
    return [
        f"{phase['recorded']} of {phase['finished']} finished Jobs recorded "
        f"({phase['missing']} missing; outcomes {phase.get('outcomes')}): "
        f"p50 **{_fmt(phase['p50Seconds'], 2)} s**, p90 {_fmt(phase['p90Seconds'], 2)} s, "
        f"p99 **{_fmt(phase['p99Seconds'], 2)} s**, max {_fmt(phase['maxSeconds'], 2)} s; "
        f"{_fmt(phase.get('recordedPerSecond'))} recorded per second ({pace}). "
        f"The operator created all {phase.get('jobsCreated')} Jobs within "
        f"{_fmt(phase.get('jobsCreatedSeconds'))} s of the monitors' creation.",
        "",
        "Where the time goes: the operator's status patch that records the Job reached "
        f"the fixture p50 {_fmt(phase.get('recordingPatchP50Seconds'), 2)} s, "
        f"p99 {_fmt(phase.get('recordingPatchP99Seconds'), 2)} s after the finish (the "
        "rest is the fixture sending the watch event); meanwhile the fixture kept a "
        f"trivial call waiting p50 / p99 {_probe(phase.get('fixture'))} ms.",
    ]


def render_section(results: dict[str, Any]) -> str:
    """The "Operator at scale" section, markers included."""
    c, m, op = results["config"], results["machine"], results["operator"]
    phases = results.get("phases", {})
    monitors = phases.get("monitors") or {}
    latency = phases.get("latency") or {}
    lines = [
        BEGIN,
        "## Operator at scale",
        "",
        "`driftwarden run` as its own process against the API-server fixture (`tests/kubeapi`,",
        "in the benchmark's process), written by `bench/operator_scale.py` (see bench/README.md);",
        "raw numbers in `bench/operator_results.json`. The machine is shared and noisy: RSS",
        "figures are medians of samples taken every 0.5 s over a window, request rates are",
        "counts over a window divided by its length; one run, so compare with care.",
        "",
        f"- Machine: {m['cpu']}, {m['usableCpus']} usable CPUs, Python {m['python']}; "
        f"load average before {', '.join(f'{x:.2f}' for x in m['loadAverageBefore'])}, "
        f"after {', '.join(f'{x:.2f}' for x in results.get('loadAverageAfter', []))}",
        f"- Operator: `{op['package']}` ({op.get('git', 'unknown')}), "
        f"run by `{op['python']}`"
        + (f" with PYTHONPATH={op['source']}" if op.get("source") else "")
        + (f", extra args `{' '.join(op['extraArgs'])}`" if op.get("extraArgs") else ""),
        f"- Run: {results['startedAt']} → {results.get('finishedAt', '?')} (UTC); "
        f"command: `{results['command']}`",
        "",
        f"Set-up: {c['monitors']:,} DriftMonitors over {c['namespaces']} namespaces, each on a "
        "daily cron whose last slot was an hour before the run and whose status (written "
        "before the operator starts) says that slot already ran: no run is due for 23 hours, "
        "so a steady window holds only what the operator does to keep watching. Three "
        "operator processes, one after the other:",
        "",
        f"1. **idle**: no monitors; {c['settleSeconds']:.0f} s after it opened its DriftMonitor "
        f"watch, a {c['idleWindowSeconds']:.0f} s window.",
        f"2. **monitors**: started with the monitors in place; once every monitor's status has "
        f"its `observedGeneration` (each was reconciled once), no operator write for "
        f"{c['quietSeconds']:.0f} s, and {c['settleSeconds']:.0f} s more, a "
        f"{c['windowSeconds']:.0f} s window. Then **latency**: {c['latencyJobs']} new monitors "
        f"in `{c['latencyNamespace']}` run their due slot; once the operator has created all "
        f"their Jobs, each is finished by the fixture's stand-in (a pod terminating with a valid summary as its "
        f"termination message, then the Job's Complete condition), {c['finishRate']:g} per "
        "second; latency = from the Job's completion being written to the first watch event "
        "of the monitor whose `status.lastRun.job` names it. Then **burst**: the same with "
        f"{c.get('burstJobs', 0)} monitors whose Jobs are finished all at once. The latency "
        "and burst monitors are then deleted (the next operator waits until they are gone).",
        f"3. **monitorsAndJobs**: {c['unrelatedJobs']:,} Jobs without driftwarden labels "
        f"created in {c['unrelatedNamespaces']} other namespaces, then the operator restarted "
        f"with the same monitors; same settling, a {c['jobsWindowSeconds']:.0f} s window.",
        "",
        "### Memory",
        "",
        *_rss_rows(phases),
        "",
        "Peak RSS (VmHWM) over each whole run, start-up included: "
        f"idle {_mib(results.get('idleRunHwmBytes'))} MiB, "
        f"monitors {_mib(results.get('monitorsRunHwmBytes'))} MiB, "
        f"monitorsAndJobs {_mib(results.get('monitorsAndJobsRunHwmBytes'))} MiB.",
        "",
        "### API requests",
        "",
        *_request_rows(phases),
        "",
        "Fixture delay: how long a trivial call into the fixture (its one event loop also "
        "serves the operator) waited, sampled every 0.25 s; when it is high, the fixture, "
        "not the operator, sets the pace.",
        "",
        f"Busiest endpoints at steady state (monitors): {_endpoint_line(monitors)}.",
        f"Reconciled once after {_fmt(monitors.get('reconcileSeconds'))} s "
        f"({monitors.get('reconciled', 'n/a')} of {c['monitors']:,} monitors).",
        "",
        "### Job finished → outcome in status",
        "",
    ]
    lines += _finish_lines(latency, f"finished {c['finishRate']:g} per second")
    lines += [
        "",
        f"**Burst**: {c.get('burstJobs', 0)} more Jobs (monitors in `{c.get('burstNamespace')}`) "
        "finished all at once, as when many monitors share a schedule:",
        "",
        *_finish_lines(phases.get("burst") or {}, "finished all at once"),
    ]
    lines += [
        "",
        "### Targets (issue 7)",
        "",
        "| target | measured | status |",
        "| --- | ---: | --- |",
    ]
    for target in results.get("targets", []):
        lines.append(
            f"| {target['target']} | {_fmt(target['value'], 2)} {target['unit']} | "
            f"{_met(target['met'])} |"
        )
    if results.get("notes"):
        lines += ["", *[f"- {note}" for note in results["notes"]]]
    lines += ["", END]
    return "\n".join(lines)


def section_of(text: str) -> str | None:
    """The marked section in ``text`` (markers included), or None."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start : end + len(END)]


def splice(text: str, section: str) -> str:
    """``text`` with its marked section replaced by ``section`` (appended if it has none)."""
    old = section_of(text)
    if old is not None:
        return text.replace(old, section)
    return text.rstrip("\n") + "\n\n" + section + "\n"
