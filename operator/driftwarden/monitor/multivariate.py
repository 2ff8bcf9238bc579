"""The multivariate detector's result as the operator sees it: from the run summary to
``status.model.multivariate``, the messages, the Event and the gauges.

Pure, like the rest of :mod:`driftwarden.monitor`. The run's own verdict (``drifted`` of
the summary) already counts a multivariate drift (the analysis sets
``dataset.drifted``); what is here says *that* it was the joint detector, and how sure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MULTIVARIATE_DRIFT = "MultivariateDrift"


@dataclass(frozen=True)
class MultivariateOutcome:
    """The summary's ``multivariate``: the joint detector's verdict in one run."""

    drifted: bool
    p_value: float | None
    statistic: float | None
    threshold: float | None
    features: int
    skipped: bool

    def to_status(self, job: str) -> dict[str, Any]:
        """``status.model.multivariate``: compact and bounded (numbers and one job name)."""
        return {
            "job": job,
            "drifted": self.drifted,
            "pValue": self.p_value,
            "statistic": self.statistic,
            "threshold": self.threshold,
            "features": self.features,
            "skipped": self.skipped,
        }

    def text(self) -> str:
        """One clause for messages: ``the features drift together (multivariate p = 1.2e-09)``."""
        if self.skipped:
            return "multivariate detector skipped (too few complete rows or features)"
        p = "?" if self.p_value is None else f"{self.p_value:.2g}"
        if self.drifted:
            level = "" if self.threshold is None else f" < {self.threshold:g}"
            return f"the features drift together (multivariate p = {p}{level})"
        return f"no joint drift (multivariate p = {p})"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def multivariate_outcome(value: Any) -> MultivariateOutcome | None:
    """The summary's ``multivariate`` object; None when absent or unreadable."""
    if not isinstance(value, Mapping) or not isinstance(value.get("drifted"), bool):
        return None
    features = value.get("features")
    return MultivariateOutcome(
        drifted=value["drifted"],
        p_value=_number(value.get("pValue")),
        statistic=_number(value.get("statistic")),
        threshold=_number(value.get("threshold")),
        features=features if isinstance(features, int) and not isinstance(features, bool) else 0,
        skipped=value.get("skipped") is True,
    )


def multivariate_gauges(status: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(drifted, p-value) gauges from ``status.model.multivariate``; None: series absent."""
    model = status.get("model")
    joint = model.get("multivariate") if isinstance(model, Mapping) else None
    if not isinstance(joint, Mapping) or not isinstance(joint.get("drifted"), bool):
        return None, None
    return (1.0 if joint["drifted"] else 0.0), _number(joint.get("pValue"))
