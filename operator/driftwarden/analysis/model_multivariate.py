"""The multivariate section of a run: which features, and the report's ``multivariate`` key.

The statistics are :mod:`driftwarden.stats.multivariate`; the rows come from the profiles'
row samples (:mod:`driftwarden.profile.rows`), which :func:`row_options` asks the
profiling to keep. A run whose multivariate detector drifts is drifted (the report's
``dataset.drifted``, with ``dataset.driftedBy`` saying why), so the status, metrics,
Events and retraining follow it like feature drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from driftwarden.analysis.model_settings import MAX_MULTIVARIATE_FEATURES, MultivariateSettings
from driftwarden.analysis.plan import FeaturePlan
from driftwarden.profile import DatasetProfile, ProfileOptions
from driftwarden.report.text import finding
from driftwarden.stats.multivariate import MIN_ROWS, pca_drift

METHOD = "pca-reconstruction-ks"


def row_features(
    plan: FeaturePlan, settings: MultivariateSettings, findings: list[dict[str, Any]]
) -> tuple[str, ...]:
    """The features whose rows the detector compares; fewer than two means none.

    Named features must be numerical features of this run; without names, the run's
    numerical features, the first :data:`MAX_MULTIVARIATE_FEATURES` in plan order.
    Anything left out is a warning finding naming the field to set.
    """
    numerical = [column.name for column in plan.columns if column.kind == "numerical"]
    if settings.features:
        known = set(numerical)
        missing = [name for name in settings.features if name not in known]
        if missing:
            findings.append(
                finding(
                    "warning",
                    "MultivariateFeatureUnavailable",
                    None,
                    f"spec.model.multivariate.features: {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not a numerical feature of this "
                    "run (absent, excluded or categorical); compared without "
                    f"{'it' if len(missing) == 1 else 'them'}",
                )
            )
        chosen = tuple(name for name in settings.features if name in known)
    else:
        chosen = tuple(numerical[:MAX_MULTIVARIATE_FEATURES])
        if len(numerical) > MAX_MULTIVARIATE_FEATURES:
            findings.append(
                finding(
                    "info",
                    "MultivariateFeaturesCapped",
                    None,
                    f"the multivariate detector compares the first {MAX_MULTIVARIATE_FEATURES} "
                    f"of {len(numerical)} numerical features; name the ones that matter in "
                    "spec.model.multivariate.features",
                )
            )
    return chosen if len(chosen) >= 2 else ()


def row_options(
    options: ProfileOptions, settings: MultivariateSettings | None, features: Sequence[str]
) -> ProfileOptions:
    """``options`` that also keep a row sample of ``features`` (unchanged without any)."""
    if settings is None or len(features) < 2:
        return options
    return dataclasses.replace(
        options, row_features=tuple(features), row_sample_size=settings.sample_rows
    )


def multivariate_document(
    reference: DatasetProfile,
    current: DatasetProfile,
    settings: MultivariateSettings,
    features: Sequence[str],
    findings: list[dict[str, Any]],
) -> dict[str, Any]:
    """The report's ``multivariate`` object (docs/report-schema.md).

    ``skipped`` holds why the test did not run (too few features or complete rows);
    then ``drifted`` is false and the statistics are null, and a warning finding says so.
    """
    document: dict[str, Any] = {
        "method": METHOD,
        "features": list(features),
        "drifted": False,
        "pValue": None,
        "statistic": None,
        "threshold": settings.threshold,
        "components": None,
        "explainedVariance": None,
        "variance": settings.variance,
        "referenceError": None,
        "currentError": None,
        "rows": {
            "reference": _rows(reference),
            "current": _rows(current),
            "fit": None,
            "holdout": None,
        },
        "sampleRows": settings.sample_rows,
        "skipped": None,
    }
    reason = _skip_reason(reference, current, features)
    if reason is None:
        assert reference.row_sample is not None and current.row_sample is not None
        result = pca_drift(
            reference.row_sample.values, current.row_sample.values, settings.variance
        )
        document.update(
            drifted=result.pvalue < settings.threshold,
            pValue=result.pvalue,
            statistic=result.statistic,
            components=result.components,
            explainedVariance=result.explained,
            referenceError=result.reference_error,
            currentError=result.current_error,
        )
        document["rows"].update(fit=result.fit_rows, holdout=result.holdout_rows)
        return document
    document["skipped"] = reason
    findings.append(finding("warning", "MultivariateSkipped", None, reason))
    return document


def _rows(profile: DatasetProfile) -> int:
    return 0 if profile.row_sample is None else profile.row_sample.rows


def _skip_reason(
    reference: DatasetProfile, current: DatasetProfile, features: Sequence[str]
) -> str | None:
    if len(features) < 2:
        return (
            "the multivariate detector needs at least 2 numerical features; "
            "set spec.model.multivariate.features"
        )
    ref_rows, cur_rows = _rows(reference), _rows(current)
    # The reference is split in two halves, each needing MIN_ROWS rows.
    if ref_rows < 2 * MIN_ROWS or cur_rows < MIN_ROWS:
        return (
            f"too few complete rows (every one of {', '.join(features)} finite) for the "
            f"multivariate detector: {ref_rows} in the reference sample (needs {2 * MIN_ROWS}), "
            f"{cur_rows} in the current one (needs {MIN_ROWS})"
        )
    return None
