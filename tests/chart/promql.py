"""Just enough PromQL reading to check which metrics and labels an expression uses.

Syntax itself is checked by promtool (the tests feed it every expression); this module only
finds the metric names and the label matchers of the selectors, and what the operator exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

# Grafana's interval variables become a duration, every other variable a regex that matches all.
_DURATION_VARS = re.compile(r"\$\{?__(range|rate_interval|interval)(_ms|_s)?\}?")
_OTHER_VARS = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_TOKEN = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?[a-z]*|[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan", "atan2",
}  # fmt: skip
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*\"")

# Labels Prometheus adds to every scraped series (a ServiceMonitor's target labels).
TARGET_LABELS = {"job", "instance", "pod", "namespace", "container", "service", "endpoint"}


def substitute_grafana_variables(expr: str) -> str:
    """A dashboard expression as plain PromQL: $__range → 1h, $namespace → .* (inside quotes)."""
    return _OTHER_VARS.sub(".*", _DURATION_VARS.sub("1h", expr))


def metric_names(expr: str) -> set[str]:
    """Metric names the expression selects (functions, keywords and labels left out)."""
    text = _STRING.sub('""', substitute_grafana_variables(expr))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token[0].isdigit() or token.lower() in _KEYWORDS:
            continue
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        names.add(token)
    return names


def label_matchers(expr: str) -> list[tuple[str, str]]:
    """(metric, label) of every label matcher in ``metric{label="..."}`` selectors."""
    text = substitute_grafana_variables(expr)
    found = []
    for metric, body in _SELECTOR.findall(text):
        found.extend((metric, label) for label, _ in _MATCHER.findall(body))
    return found


@dataclass(frozen=True)
class Exported:
    """A metric the operator exports: its exposition name and its own labels."""

    name: str
    labels: frozenset[str]


# A status that sets every per-monitor gauge.
FULL_STATUS = {
    "phase": "Idle",
    "lastSuccessfulRunTime": "2026-01-01T00:00:00Z",
    "lastRun": {
        "completionTime": "2026-01-01T00:00:00Z",
        "outcome": "Succeeded",
        "durationSeconds": 3,
        "drifted": True,
        "driftShare": 0.5,
        "driftedFeatures": 1,
        "totalFeatures": 2,
        "rows": {"reference": 10, "current": 10},
    },
    "features": [{"name": "x", "method": "psi", "score": 0.3, "drifted": True}],
    "alerting": {"state": "Drifted", "driftedRuns": 3, "cleanRuns": 0},
    "driftingSince": {"job": "x", "time": "2026-01-01T00:00:00Z"},
    "model": {
        "predictions": {
            "drifted": True,
            "columns": [
                {"name": "p", "role": "prediction", "method": "psi", "score": 0.4, "drifted": True}
            ],
        },
        "performance": {
            "degraded": True,
            "decided": True,
            "metric": "accuracy",
            "current": 0.78,
            "reference": 0.91,
            "drop": 0.13,
            "degradedMetrics": ["accuracy"],
            "coverage": {"predictions": 10, "labeled": 8, "pending": 2, "share": 0.8},
        },
        "multivariate": {"job": "x", "drifted": True, "pValue": 1e-9, "features": 3},
        "rootCause": {
            "triggered": True,
            "summary": "top cause: x (70%)",
            "causes": [{"feature": "x", "share": 0.7, "drifted": True}],
        },
    },
}


@cache
def exported_metrics() -> dict[str, Exported]:
    """Every series name the operator exposes, read from its own registry's exposition.

    One series of each metric is set (labels "x"), then the registry is collected: the
    sample names are what Prometheus scrapes (counters as ``<name>_total``, ``_created``).
    """
    from prometheus_client import Counter, Gauge

    from driftwarden.controller.metrics import Metrics

    metrics = Metrics()
    for attribute in vars(metrics).values():
        if isinstance(attribute, Counter | Gauge):
            child = attribute.labels(*["x"] * len(attribute._labelnames))
            child.inc() if isinstance(attribute, Counter) else child.set(1)
    # The per-monitor gauges come from the status, rendered at scrape time.
    metrics.observe_status("x", "x", FULL_STATUS)
    metrics.observe_schedule_period("x", "x", 86400)
    found: dict[str, Exported] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            found[sample.name] = Exported(sample.name, frozenset(sample.labels))
    return found
