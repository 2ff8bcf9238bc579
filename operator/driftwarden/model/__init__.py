"""The model's view: label joins, performance metrics with confidence intervals.

Imports numpy and pyarrow: only the analysis Job loads it, never the operator.
"""
