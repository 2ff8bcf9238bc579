"""Small named result types, as scipy.stats returns them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test: the statistic and its p-value."""

    __test__ = False  # not a pytest test class

    statistic: float
    pvalue: float
