"""The model's view: prediction and target columns, performance, root cause, multivariate drift.

Imports numpy and pyarrow: only the analysis Job loads it, never the operator.
"""
