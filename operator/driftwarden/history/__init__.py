"""A monitor's stored runs: one record per run on the output location, trends over them.

Layout and schema: docs/history.md. ``record`` and ``trends`` are pure (standard
library); ``store`` and ``output`` read and write through :mod:`driftwarden.storage`;
``page`` draws the self-contained HTML trend page.
"""
