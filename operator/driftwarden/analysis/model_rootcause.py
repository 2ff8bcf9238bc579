"""Root cause in a run: the features' importance, then the ``rootCause`` report section.

Importance is given in ``spec.model.importance.weights``, or estimated on the
reference (:mod:`driftwarden.model.importance`) from a uniform sample of whole
reference rows (:mod:`driftwarden.model.reference_rows`). Reading those rows is a
second, column-projected pass over the reference, file by file on the profile's keys
(in column groups, as the profile reads wide data: the groups keep the same rows, their
keys being positions); its result is cached next to the
reference profile (``importance-<key>.json`` under the profile cache), keyed like the
profile by the reference files, the columns and the settings, so a monitor pays for
it once per reference, not once per run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import driftwarden
from driftwarden.analysis.incremental import file_stream
from driftwarden.analysis.model_settings import LABEL, ModelSettings
from driftwarden.errors import DriftwardenError
from driftwarden.model.importance import (
    DEFAULT_BINS,
    Importance,
    estimate_importance,
    given_importance,
)
from driftwarden.model.reference_rows import as_values, sample_streams
from driftwarden.model.rootcause import root_cause_section
from driftwarden.profile import ColumnPlan
from driftwarden.report.text import finding
from driftwarden.storage import OpenedDataset, StorageOptions, join_uri, read_bytes, write_bytes

log = logging.getLogger("driftwarden.analysis")
# As analysis/run.py reads wide data (not imported from there: run imports this module).
COLUMN_GROUP = 64


def against_column(model: ModelSettings, reference: OpenedDataset) -> tuple[str, bool] | None:
    """The column importance is estimated against, and whether it is categorical: the
    first prediction column the reference holds, else the target; None without one."""
    names = set(reference.schema.names)
    for column in model.model_columns:
        if column.column in names:
            return column.column, column.kind == LABEL
    return None


def _cache_key(
    reference: OpenedDataset,
    features: Sequence[ColumnPlan],
    against: str,
    rows: int,
    seed: int,
    *,
    data: bool = True,
) -> str:
    """The estimate's cache key; without ``data``, the key of its settings alone."""
    material = json.dumps(
        {
            "data": reference.fingerprint() if data else None,
            "columns": [[c.name, c.kind] for c in features],
            "against": against,
            "rows": rows,
            "bins": DEFAULT_BINS,
            "seed": seed,
            "version": driftwarden.__version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _dump(importance: Importance, key: str) -> bytes:
    return json.dumps(
        {
            "key": key,
            "method": importance.method,
            "raw": importance.raw,
            "weights": importance.weights,
            "against": importance.against,
            "rows": importance.rows,
            "bins": importance.bins,
        },
        sort_keys=True,
    ).encode()


def _load(data: bytes) -> Importance:
    doc = json.loads(data)
    return Importance(
        str(doc["method"]),
        {str(k): float(v) for k, v in doc["weights"].items()},
        {str(k): float(v) for k, v in doc["raw"].items()},
        against=doc.get("against"),
        rows=int(doc.get("rows") or 0),
        bins=doc.get("bins"),
    )


def feature_importance(
    model: ModelSettings,
    reference: OpenedDataset,
    features: Sequence[ColumnPlan],
    *,
    seed: int,
    cache: str | None,
    storage: StorageOptions,
    findings: list[dict[str, Any]],
    windowed: bool = False,
) -> Importance | None:
    """The features' importance for this run; None (with a finding) when it cannot be had.

    ``windowed`` (a rolling or offset reference, whose files change every run): the
    estimate is kept in one cache entry per setting, overwritten by every run and used
    only when its stored key matches, instead of one entry per reference window, which
    would pile up one file per run, never read again.
    """
    names = [c.name for c in features]
    settings = model.importance
    if settings.given:
        unknown = sorted({name for name, _ in settings.weights} - set(names))
        if unknown:
            findings.append(
                finding(
                    "warning",
                    "ImportanceUnknownFeature",
                    None,
                    f"spec.model.importance.weights names {len(unknown)} column(s) that are not "
                    f"compared features: {', '.join(unknown[:5])}",
                )
            )
        return given_importance(dict(settings.weights), names)
    target = against_column(model, reference)
    if target is None:
        findings.append(
            finding(
                "warning",
                "ImportanceNotEstimated",
                None,
                "root cause: no prediction or target column in the reference to estimate feature "
                "importance against; give spec.model.importance.weights",
            )
        )
        return None
    against, against_categorical = target
    key = _cache_key(reference, features, against, settings.sample_rows, seed)
    name = f"importance-{key}.json"
    if windowed:
        slot = _cache_key(reference, features, against, settings.sample_rows, seed, data=False)
        name = f"importance-window-{slot}.json"
    uri = join_uri(cache, name) if cache else None
    if uri is not None:
        try:
            data = read_bytes(uri, storage, label="cached importance")
            # A windowed entry holds another window's estimate until this run rewrites it.
            if data is not None and json.loads(data).get("key") == key:
                return _load(data)
        except (DriftwardenError, ValueError, KeyError, TypeError) as error:
            log.info("importance cache not used", extra={"reason": str(error)})
    columns = [*names, against] if against not in names else names
    # File by file, each keyed by its path, as the reference profile is (rows numbered
    # within the file, after the window filter): the sample is a function of the data,
    # not of the listing order. In column groups as the profile is (bounded memory on
    # wide data).
    files = sorted(reference.files, key=lambda info: info.path)
    streams = (
        (file_stream(info), reference.batches(columns, column_group=COLUMN_GROUP, files=[info]))
        for info in files
    )
    table = sample_streams(streams, settings.sample_rows, seed)
    if table is None:
        return None
    importance = estimate_importance(
        {
            c.name: (as_values(table[c.name], c.kind == "categorical"), c.kind == "categorical")
            for c in features
        },
        as_values(table[against], against_categorical),
        against_name=against,
        against_categorical=against_categorical,
    )
    if importance is None:
        findings.append(
            finding(
                "warning",
                "ImportanceNotEstimated",
                None,
                f"root cause: {table.num_rows} reference rows are too few to estimate feature "
                "importance; give spec.model.importance.weights",
            )
        )
        return None
    if uri is not None:
        try:
            write_bytes(uri, _dump(importance, key), storage, label="importance cache")
        except DriftwardenError as error:
            log.info("importance cache not written", extra={"reason": str(error)})
    return importance


def triggers_of(report: Mapping[str, Any]) -> list[str]:
    """The model signals that moved in this run's report, in a fixed order."""
    out = []
    predictions = report.get("predictions")
    if isinstance(predictions, Mapping) and predictions.get("drifted"):
        out.append("predictions")
    performance = report.get("performance")
    if isinstance(performance, Mapping) and performance.get("degraded"):
        out.append("performance")
    multivariate = report.get("multivariate")
    if isinstance(multivariate, Mapping) and multivariate.get("drifted"):
        out.append("multivariate")
    dataset = report.get("dataset")
    if isinstance(dataset, Mapping) and dataset.get("drifted"):
        out.append("features")
    return out


def root_cause(
    report: Mapping[str, Any], importance: Importance | None, sample_size: int
) -> dict[str, Any] | None:
    """The report's ``rootCause`` section (None without importance)."""
    if importance is None:
        return None
    performance = report.get("performance")
    return root_cause_section(
        report["features"],
        importance,
        triggers=triggers_of(report),
        performance=performance if isinstance(performance, Mapping) else None,
        sample_size=sample_size,
    )
