"""Prediction and target drift: the model's output and the true outcome, compared like features.

The columns named in ``spec.model.predictions`` and ``spec.model.target`` are
profiled in the same pass as the features (same reader, same profiles, same
reference cache) and compared by the same engine (:func:`compare_profiles`), but
apart from them:

* they never count as features (``spec.detection.driftShare`` sees only features);
* each has its own method and threshold (:func:`~driftwarden.analysis.model_settings.model_setting`);
* their p-values are corrected among themselves, a family of their own, so adding a
  prediction column does not make the features' tests stricter and vice versa;
* a ``label`` is compared by category even when integer-coded (a class id is not a
  quantity), a ``score`` or ``value`` as a number.

A model column missing on one side is reported as not compared, with the reason:
the current window often lacks the target (labels arrive later), and a training set
often lacks the predictions (then a rolling or offset reference, or a reference that
holds the model's outputs on held-out data, gives predictions something to compare
with). A column in neither dataset is a configuration error.

With delayed labels (spec.model.labels) the target lives in the label log: a target
the current data does not hold is then read from there, as the labels each period's
predictions joined to (:class:`~driftwarden.analysis.model_performance.LabelTarget`),
and compared in the same family as the predictions; its entry says ``source: labels``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from driftwarden.analysis.compare import compare_profiles
from driftwarden.analysis.model_settings import LABEL, ModelColumn, ModelSettings, model_setting
from driftwarden.analysis.plan import natural_kind
from driftwarden.analysis.settings import AnalysisSettings, FeatureSelection
from driftwarden.errors import ConfigError
from driftwarden.profile import ColumnPlan, DatasetProfile
from driftwarden.report.text import finding

if TYPE_CHECKING:  # the label join is imported only by runs that have labels
    from driftwarden.analysis.model_performance import LabelTarget

PREDICTION, TARGET = "prediction", "target"


@dataclass(frozen=True)
class ModelPlan:
    """The model columns to profile (present on both sides) and those left out, with why."""

    columns: list[ColumnPlan]
    specs: dict[str, ModelColumn]
    roles: dict[str, str]
    not_compared: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    # spec.model.target read from the label log (not profiled with the data)
    from_labels: ModelColumn | None = None


def _where(role: str, index: int) -> str:
    return "spec.model.target" if role == TARGET else f"spec.model.predictions[{index}]"


def _fits(column: ModelColumn, data_type: pa.DataType) -> bool:
    if column.kind == LABEL:
        return natural_kind(data_type) is not None
    value_type = data_type.value_type if pa.types.is_dictionary(data_type) else data_type
    return natural_kind(value_type) == "numerical"


def without_model_columns(
    features: FeatureSelection, model: ModelSettings | None
) -> FeatureSelection:
    """The feature selection with the model's columns excluded: they are compared apart."""
    if model is None or not model.model_columns:
        return features
    names = tuple(c.column for c in model.model_columns if c.column not in features.exclude)
    return replace(features, exclude=features.exclude + names)


def plan_model_columns(reference: pa.Schema, current: pa.Schema, model: ModelSettings) -> ModelPlan:
    """Which prediction and target columns can be compared, as what.

    Raises ConfigError for a column in neither dataset, or of a type its ``kind``
    cannot take (a ``score`` that holds strings).
    """
    ref_types = {f.name: f.type for f in reference}
    cur_types = {f.name: f.type for f in current}
    entries = [(PREDICTION, i, c) for i, c in enumerate(model.predictions)]
    if model.target is not None:
        entries.append((TARGET, 0, model.target))
    columns: list[ColumnPlan] = []
    specs: dict[str, ModelColumn] = {}
    roles: dict[str, str] = {}
    not_compared: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    from_labels = None
    for role, index, column in entries:
        where = _where(role, index)
        name = column.column
        specs[name], roles[name] = column, role
        if role == TARGET and model.performance is not None and name not in cur_types:
            # Delayed labels: the true outcome is the label log's, joined by id.
            from_labels = column
            continue
        if name not in ref_types and name not in cur_types:
            raise ConfigError(
                f"{where}.column: {name!r} is in neither dataset",
                hint=f"the reference has: {', '.join(sorted(ref_types)) or 'no columns'}",
            )
        for types in (ref_types, cur_types):
            if name in types and not _fits(column, types[name]):
                raise ConfigError(
                    f"{where}.kind: column {name!r} has type {types[name]}, which a "
                    f"{column.kind} cannot hold",
                    hint="a score or value is a number; use kind: label for classes",
                )
        missing = (
            "reference" if name not in ref_types else "current" if name not in cur_types else None
        )
        if missing is None:
            columns.append(ColumnPlan(name, column.profile_kind))  # type: ignore[arg-type]
            continue
        if role == TARGET and missing == "current":
            reason = "not in the current data (labels often arrive later); not compared"
            severity = "info"
        elif role == PREDICTION and missing == "reference":
            reason = (
                "not in the reference, so it cannot be compared (a training set holds no "
                "predictions: use a rolling or offset reference, or one with the model's outputs)"
            )
            severity = "warning"
        else:
            reason = f"missing from the {missing} data, so it cannot be compared"
            severity = "error" if missing == "current" else "warning"
        code = f"{role.capitalize()}MissingIn{missing.capitalize()}"
        findings.append(finding(severity, code, name, f"{name} ({role}): {reason}"))
        not_compared.append(
            {"name": name, "role": role, "modelKind": column.kind, "reason": reason}
        )
    return ModelPlan(columns, specs, roles, not_compared, findings, from_labels)


def compare_model_columns(
    reference: DatasetProfile,
    current: DatasetProfile,
    plan: ModelPlan,
    settings: AnalysisSettings,
    model: ModelSettings,
    labels: LabelTarget | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The report's ``predictions`` section and the model columns' findings.

    ``reference`` and ``current`` hold the features and the model columns (one
    profiling pass); only the planned model columns are compared here, and the
    target read from the label log (``plan.from_labels``) from ``labels``' profiles.
    """
    names = [c.name for c in plan.columns]
    entries: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    not_compared = list(plan.not_compared)
    target = plan.from_labels
    if target is not None:
        name = target.column
        if labels is not None and labels.reference is not None and labels.current is not None:
            reference = _with_column(reference, name, labels.reference)
            current = _with_column(current, name, labels.current)
            names.append(name)
        else:
            reason = (labels.reason if labels is not None else None) or (
                "read from the label log, which this run did not join; not compared"
            )
            findings.append(finding("info", "TargetNotJoined", name, f"{name} (target): {reason}"))
            not_compared.append(
                {"name": name, "role": TARGET, "modelKind": target.kind, "reason": reason}
            )
    if names:
        detection = settings.detection
        defaults: Mapping[str, Any] = {
            "numerical": detection.numerical,
            "categorical": detection.categorical,
        }
        own = replace(
            settings,
            detection=replace(
                detection,
                overrides={name: model_setting(plan.specs[name], defaults) for name in names},
            ),
        )
        entries, compared, _ = compare_profiles(
            only_columns(reference, names), only_columns(current, names), own
        )
        findings.extend(compared)
        for entry in entries:
            entry["role"] = plan.roles[entry["name"]]
            entry["modelKind"] = plan.specs[entry["name"]].kind
            if target is not None and entry["name"] == target.column:
                entry["source"] = "labels"  # the joined labels, not a column of the data
    predictions = [e for e in entries if e["role"] == PREDICTION]
    targets = [e for e in entries if e["role"] == TARGET]
    section = {
        # prediction or target drift: what status, metrics and retraining act on
        "drifted": any(e["drifted"] for e in entries),
        "predictionDrifted": any(e["drifted"] for e in predictions),
        "targetDrifted": targets[0]["drifted"] if targets else None,
        "driftedColumns": sum(1 for e in entries if e["drifted"]),
        "totalColumns": len(entries),
        "retrainOnDrift": model.retrain_on_prediction_drift,
        "columns": entries,
        "notCompared": not_compared,
    }
    return section, findings


def _with_column(profile: DatasetProfile, name: str, labels: DatasetProfile) -> DatasetProfile:
    """``profile`` with the joined labels' one column added as ``name``."""
    (column,) = labels.columns.values()
    return DatasetProfile(
        profile.options, {**profile.columns, name: column}, profile.rows, profile.metadata
    )


def only_columns(profile: DatasetProfile, names: list[str]) -> DatasetProfile:
    """The profile restricted to ``names`` (the same rows, fewer columns)."""
    return DatasetProfile(
        profile.options, {n: profile.columns[n] for n in names}, profile.rows, profile.metadata
    )
