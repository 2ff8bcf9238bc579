"""Root cause: which features explain a move of the model's output or performance.

Pure: the report's per-feature results and an :class:`~driftwarden.model.importance.Importance`
in, a ranking out. The rules, decided once here:

* a feature's **drift magnitude** is one scale for every method and kind: the larger of
  the Jensen–Shannon distance (base 2, in [0, 1]) between its reference and current
  distributions (histogram on the reference's quantile bins, or category shares), and
  Cohen's h between its missing-value rates divided by π (also in [0, 1]) — so a feature
  whose values turn into nulls or ±inf counts as much as one whose values move. The
  configured detection method (a p-value, a PSI) is not comparable across features and
  is not used;
* both are **noise-corrected**: two samples of one distribution still differ, and an
  important feature that did not move would otherwise lead on its sampling noise alone
  (measured: JS distance 0.013 between two 20,000-row samples on 10 bins). What is
  subtracted is each statistic's expected square under "no change", from the observations
  behind it — ``n`` reference and ``m`` current values (the reference histogram of a
  numerical column comes from its sample: at most ``profile.sampleSize`` values), ``K``
  non-empty cells: ``JS² − (K − 1)(1/n + 1/m) / (8 ln 2)`` (the JS divergence is a
  ``χ²/8`` in that limit) and ``h² − (1/n + 1/m)`` (the arcsine transform's variance is
  ``1/n``), each clipped at 0 before the square root (tests/model/test_rootcause.py
  checks both on unchanged data);
* its **contribution** is ``weight × magnitude`` and its **share** that contribution over
  the sum of all features' contributions: "top cause: X (62%)" means 62% of the
  importance-weighted drift is X's. Features of weight 0 (given weights that do not list
  them, or no dependence measured) never lead, however far they moved;
* the ranking is by contribution, ties by name; at most ``MAX_CAUSES`` are reported.

Per-segment performance of the top categorical causes (which segment lost accuracy)
comes from the report's performance section (``performance.segments``, built by
:mod:`driftwarden.model.performance`): :func:`segments_of` picks the segments of the
top causes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from driftwarden.model.importance import Importance

# Causes in the report and the HTML view; the status keeps fewer (monitor/status.py).
MAX_CAUSES = 10
# Categorical causes whose per-segment performance is shown, and segments per cause.
SEGMENT_FEATURES = 3
SEGMENTS_SHOWN = 5


@dataclass(frozen=True)
class Cause:
    """One feature's place in the ranking."""

    feature: str
    kind: str
    weight: float
    magnitude: float
    contribution: float
    share: float
    drifted: bool

    def as_report(self) -> dict[str, Any]:
        """The cause as a ``rootCause.causes`` entry (docs/report-schema.md)."""
        return {
            "feature": self.feature,
            "kind": self.kind,
            "share": self.share,
            "importance": self.weight,
            "magnitude": self.magnitude,
            "contribution": self.contribution,
            "drifted": self.drifted,
        }


def drift_magnitude(feature: Mapping[str, Any], sample_size: int | None = None) -> float:
    """A report feature's noise-corrected drift on one [0, 1] scale (module docstring).

    ``sample_size`` is the run's ``profile.sampleSize``: the most values a numerical
    column's reference histogram rests on. None: every count is taken as exact.
    """
    scores = feature.get("scores") or {}
    missing = feature.get("missing") or {}
    parts = [0.0]
    js = scores.get("jensenshannon")
    if _finite(js):
        n, m = _observations(feature, "reference", sample_size), _observations(feature, "current")
        noise = (_cells(feature) - 1) * (1 / n + 1 / m) / (8 * math.log(2)) if n and m else 0.0
        parts.append(math.sqrt(max(js * js - noise, 0.0)))
    h = missing.get("score")
    if _finite(h):
        rows = [(feature.get(side) or {}).get("rows") or 0 for side in ("reference", "current")]
        noise = (1 / rows[0] + 1 / rows[1]) if all(rows) else 0.0
        parts.append(math.sqrt(max(h * h - noise, 0.0)) / math.pi)
    return min(max(parts), 1.0)


def _observations(feature: Mapping[str, Any], side: str, sample_size: int | None = None) -> float:
    """How many values a side's distribution was counted from (0 when not known)."""
    stats = feature.get(side) or {}
    rows = stats.get("rows") or 0
    usable = rows - (stats.get("nulls") or 0) - (stats.get("nan") or 0)
    if feature.get("kind") == "numerical" and sample_size is not None:
        usable = min(usable, sample_size)
    return max(usable, 0)


def _cells(feature: Mapping[str, Any]) -> int:
    """Non-empty cells of the compared distribution (bins or categories)."""
    distribution = feature.get("distribution") or {}
    p, q = distribution.get("reference") or [], distribution.get("current") or []
    return max(sum(1 for a, b in zip(p, q, strict=False) if (a or 0) + (b or 0) > 0), 1)


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and math.isfinite(value)


def rank_causes(
    features: Iterable[Mapping[str, Any]],
    importance: Importance,
    sample_size: int | None = None,
) -> list[Cause]:
    """Every feature, ranked by importance-weighted drift (largest first)."""
    rows = []
    for feature in features:
        name = str(feature["name"])
        weight = importance.weights.get(name, 0.0)
        magnitude = drift_magnitude(feature, sample_size)
        rows.append(
            (name, str(feature.get("kind")), weight, magnitude, bool(feature.get("drifted")))
        )
    total = math.fsum(w * m for _, _, w, m, _ in rows)
    causes = [
        Cause(
            feature=name,
            kind=kind,
            weight=weight,
            magnitude=magnitude,
            contribution=weight * magnitude,
            share=weight * magnitude / total if total > 0 else 0.0,
            drifted=drifted,
        )
        for name, kind, weight, magnitude, drifted in rows
    ]
    return sorted(causes, key=lambda c: (-c.contribution, c.feature))


def segments_of(
    causes: Sequence[Cause], performance: Mapping[str, Any] | None
) -> list[dict[str, Any]] | None:
    """Which segments of the top categorical causes lost performance, worst first.

    ``performance`` is the report's performance section; its segments (the columns
    ``spec.model.performance`` segments by) are read by
    :func:`driftwarden.model.performance.worst_segments`. The categorical features that
    matter to the model are taken by contribution, then, for those that did not drift,
    by importance, then by their worst drop: when the labels' relation to the features changed (concept drift),
    no feature drifts and the segments are the only explanation there is. Per such
    feature (at most SEGMENT_FEATURES) that is segmented: ``{feature, metric, segments}``,
    the segments that got worse, largest drop first (at most SEGMENTS_SHOWN); features
    that matter to the model come first, then those whose segments dropped the most.
    None without a performance section.
    """
    if performance is None:
        return None
    from driftwarden.model.performance import worst_segments  # numpy/pyarrow: Job side only

    worst = worst_segments(performance, limit=1_000_000)
    drops: dict[str, float] = {}
    for segment in worst:
        name = str(segment.get("feature"))
        drops[name] = max(drops.get(name, 0.0), float(segment.get("drop") or 0.0))
    ranked = sorted(
        (c for c in causes if c.kind == "categorical" and c.feature in drops),
        key=lambda c: (-c.contribution, -c.weight, -drops[c.feature], c.feature),
    )
    top = [c.feature for c in ranked]
    out = []
    for name in top[:SEGMENT_FEATURES]:
        mine = [s for s in worst if s.get("feature") == name][:SEGMENTS_SHOWN]
        if mine:
            out.append(
                {
                    "feature": name,
                    "metric": mine[0].get("metric"),
                    "segments": [
                        {k: v for k, v in s.items() if k not in ("feature", "metric")} for s in mine
                    ],
                }
            )
    return out


def summary_text(
    causes: Sequence[Cause], segments: Sequence[Mapping[str, Any]] | None = None
) -> str | None:
    """``top cause: X (62%)``, then the worst segment when performance is known
    (``worst segment: plan=pro (accuracy -0.21)``); None when neither names anything."""
    parts = []
    if causes and causes[0].contribution > 0:
        parts.append(f"top cause: {causes[0].feature} ({causes[0].share:.0%})")
    worst = _worst(segments)
    if worst is not None:
        if not parts:
            parts.append("no drifted feature explains it")
        parts.append(worst)
    return "; ".join(parts) or None


def _worst(segments: Sequence[Mapping[str, Any]] | None) -> str | None:
    """The largest drop among the shown segments, as text."""
    best: tuple[float, str] | None = None
    for group in segments or []:
        for segment in group.get("segments") or []:
            drop = segment.get("drop")
            if isinstance(drop, int | float) and (best is None or drop > best[0]):
                text = (
                    f"worst segment: {group.get('feature')}={segment.get('value')} "
                    f"({group.get('metric')} {'-' if group.get('metric') != 'mae' else '+'}"
                    f"{drop:.3g})"
                )
                best = (drop, text)
    return None if best is None else best[1]


def root_cause_section(
    features: Sequence[Mapping[str, Any]],
    importance: Importance,
    *,
    triggers: Sequence[str],
    performance: Mapping[str, Any] | None = None,
    sample_size: int | None = None,
) -> dict[str, Any]:
    """The report's ``rootCause`` object (docs/report-schema.md).

    ``triggers`` names the model signals that moved this run (``predictions``,
    ``performance``, and ``features`` for the dataset's feature drift); the ranking is
    computed either way, ``triggered`` tells whether there is anything to explain.
    """
    causes = rank_causes(features, importance, sample_size)
    segments = segments_of(causes, performance)
    return {
        "triggered": bool(triggers),
        "triggers": list(triggers),
        "summary": summary_text(causes, segments) if triggers else None,
        "top": None
        if not causes or causes[0].contribution <= 0
        else {"feature": causes[0].feature, "share": causes[0].share},
        "importance": {
            "method": importance.method,
            "against": importance.against,
            "rows": importance.rows or None,
            "bins": importance.bins,
        },
        "causes": [c.as_report() for c in causes[:MAX_CAUSES]],
        "segments": segments,
    }
