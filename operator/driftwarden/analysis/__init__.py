"""One analysis run (the engine side of the analysis Job).

This package's ``__init__`` imports nothing on purpose: the operator imports
:mod:`driftwarden.analysis.settings` (the pure spec parser it shares with the
Job), and importing the package must not load the engine (pyarrow, numpy, scipy).
"""
