"""What the benchmark datasets hold: the 25 features, the injected shifts and the file layout.

Pure Python on purpose (no numpy, no pyarrow): ``run.py`` imports it and must stay
small, because a child process's peak RSS as reported by ``wait4`` starts from the
parent's peak RSS (the kernel carries the old address space's high-water mark across
``exec``), so a fat orchestrator would inflate every measurement.

* ``num_00`` … ``num_19``: float64, a mix of normal, lognormal and integer-valued
  Poisson (cast to float) columns; four of them have 1% nulls;
* ``cat_0`` … ``cat_4``: strings with 4, 8, 12, 25 and 50 categories (Zipf-like
  frequencies); ``cat_2`` has 1% nulls.

The current dataset is drawn from the same distributions (other seed) except for three
features with a real shift: ``num_00`` (mean +0.5 sd), ``num_05`` (lognormal sigma
x1.5) and ``cat_3`` (category frequencies reversed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GENERATOR_VERSION = 2
ROW_GROUP_ROWS = 1_000_000
ROWS_PER_FILE = 2_500_000
NULL_RATE = 0.01
SEEDS = {"reference": 1, "current": 2}


@dataclass(frozen=True)
class NumericFeature:
    """A float64 feature and its distribution."""

    name: str
    kind: str  # normal | lognormal | poisson
    a: float  # mean (normal), log-mean (lognormal) or lambda (poisson)
    b: float  # sd (normal), log-sd (lognormal); unused for poisson
    nulls: bool = False
    shift: str | None = None  # "mean" (+0.5 sd) or "spread" (sd x1.5) in the current data

    def parameters(self, shifted: bool) -> tuple[float, float]:
        """(a, b) of the reference, or of the current data when ``shifted``."""
        if shifted and self.shift == "mean":
            return self.a + 0.5 * self.b, self.b
        if shifted and self.shift == "spread":
            return self.a, self.b * 1.5
        return self.a, self.b


@dataclass(frozen=True)
class CategoricalFeature:
    """A string feature with ``categories`` values of Zipf-like frequencies."""

    name: str
    categories: int
    nulls: bool = False
    shift: bool = False  # frequencies reversed in the current data

    def labels(self) -> list[str]:
        return [f"{self.name}_v{i:02d}" for i in range(self.categories)]

    def probabilities(self, shifted: bool) -> list[float]:
        weights = [1.0 / (i + 1) ** 0.8 for i in range(self.categories)]
        if shifted and self.shift:
            weights.reverse()
        total = sum(weights)
        return [w / total for w in weights]


def _numeric_features() -> list[NumericFeature]:
    kinds = ("normal", "lognormal", "poisson", "normal", "lognormal")
    features = []
    for i in range(20):
        kind = kinds[i % len(kinds)]
        if kind == "normal":
            a, b = 10.0 * i - 50.0, 1.0 + i
        elif kind == "lognormal":
            a, b = 0.1 * i, 0.5 + 0.05 * i
        else:
            a, b = 1.0 + 2.5 * i, 0.0
        shift = {0: "mean", 5: "spread"}.get(i)
        features.append(NumericFeature(f"num_{i:02d}", kind, a, b, i in (3, 8, 13, 17), shift))
    return features


NUMERIC: list[NumericFeature] = _numeric_features()
CATEGORICAL: list[CategoricalFeature] = [
    CategoricalFeature("cat_0", 4),
    CategoricalFeature("cat_1", 8),
    CategoricalFeature("cat_2", 12, nulls=True),
    CategoricalFeature("cat_3", 25, shift=True),
    CategoricalFeature("cat_4", 50),
]
NUMERIC_NAMES = [f.name for f in NUMERIC]
CATEGORICAL_NAMES = [f.name for f in CATEGORICAL]
FEATURES = NUMERIC_NAMES + CATEGORICAL_NAMES
SHIFTED = [f.name for f in NUMERIC if f.shift] + [f.name for f in CATEGORICAL if f.shift]


def file_plan(rows: int, files: int | None = None) -> list[int]:
    """Row counts of the files of one dataset: one file below 1M rows, else files of
    at most 2.5M rows (at least two); ``files`` asks for that many files instead (the
    sharding benchmark deals files to shards, so it needs several even at toy sizes)."""
    if files is not None:
        count = files
    elif rows < 1_000_000:
        return [rows]
    else:
        count = max(2, math.ceil(rows / ROWS_PER_FILE))
    base, extra = divmod(rows, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


def manifest(rows: int) -> dict[str, object]:
    """What a complete generated size is described by; a mismatch means regenerate."""
    return {
        "generator": GENERATOR_VERSION,
        "rows": rows,
        "features": FEATURES,
        "shifted": SHIFTED,
        "seeds": SEEDS,
    }
