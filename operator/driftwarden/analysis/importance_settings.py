"""``spec.model.importance``: how the root cause weighs features, parsed into plain values.

Pure Python, like the other spec parsers (the operator validates specs with it).

* ``weights``: ``[{feature, weight}]`` given by the model's owners (e.g. from the
  model's own feature importances); a feature not listed weighs 0. When given, nothing
  is estimated.
* otherwise the weights are estimated on the reference (model/importance.py) against
  the first prediction column the reference holds, else the target, on ``sampleRows``
  row-aligned reference rows.

The bounds are tight because the whole spec travels to the analysis pod in a bounded
config (tests/monitor/test_crd_bounds.py): 8 weights of names up to 40 characters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from driftwarden.analysis.settings import as_mapping, bounded_text, check_keys
from driftwarden.errors import ConfigError

# The CRD holds the same bound (tests/monitor/test_crd_bounds.py: the spec size budget).
MAX_WEIGHTS = 8
MAX_NAME_LENGTH = 40
SAMPLE_ROWS = (100, 100_000)
DEFAULT_SAMPLE_ROWS = 10_000


@dataclass(frozen=True)
class ImportanceSettings:
    """``spec.model.importance`` after defaults."""

    weights: tuple[tuple[str, float], ...] = ()
    sample_rows: int = DEFAULT_SAMPLE_ROWS

    @property
    def given(self) -> bool:
        """True when the spec gives the weights (nothing is estimated)."""
        return bool(self.weights)


def parse_importance(spec: Any, where: str = "spec.model.importance") -> ImportanceSettings:
    """Parse ``spec.model.importance`` (absent: estimate with the defaults)."""
    section = as_mapping(spec, where)
    check_keys(section, {"weights", "sampleRows"}, where)
    raw = section.get("weights")
    weights: list[tuple[str, float]] = []
    if raw is not None:
        if not isinstance(raw, list) or not raw:
            raise ConfigError(
                f"{where}.weights: expected a non-empty list of {{feature, weight}}, got {raw!r}",
                hint="e.g. weights: [{feature: tenure_months, weight: 0.4}]",
            )
        if len(raw) > MAX_WEIGHTS:
            raise ConfigError(
                f"{where}.weights: {len(raw)} entries is more than {MAX_WEIGHTS}",
                hint="list the model's most important features; the rest weigh 0",
            )
        seen: set[str] = set()
        for i, item in enumerate(raw):
            at = f"{where}.weights[{i}]"
            entry = as_mapping(item, at)
            check_keys(entry, {"feature", "weight"}, at)
            name = bounded_text(entry.get("feature"), f"{at}.feature", MAX_NAME_LENGTH, "a feature")
            weight = entry.get("weight")
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not math.isfinite(weight)
                or weight < 0
            ):
                raise ConfigError(f"{at}.weight: expected a finite number ≥ 0, got {weight!r}")
            if name in seen:
                raise ConfigError(f"{at}.feature: {name!r} is listed twice")
            seen.add(name)
            weights.append((name, float(weight)))
        if not any(w > 0 for _, w in weights):
            raise ConfigError(
                f"{where}.weights: every weight is 0",
                hint="give the important features a weight > 0",
            )
    rows = section.get("sampleRows", DEFAULT_SAMPLE_ROWS)
    low, high = SAMPLE_ROWS
    if isinstance(rows, bool) or not isinstance(rows, int) or not low <= rows <= high:
        raise ConfigError(
            f"{where}.sampleRows: expected an integer in [{low}, {high}], got {rows!r}"
        )
    return ImportanceSettings(tuple(weights), rows)
