"""Which columns to compare, and as what: decided from the two Arrow schemas and the spec.

Pure. Schema differences are findings in the report, not crashes: a feature missing on
one side or whose type changed kind is left out of the comparison and reported, so
the rest of the features are still checked. Only a spec that names columns existing
nowhere, or a plan with nothing left to compare, is an error.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from driftwarden.analysis.settings import FeatureSelection
from driftwarden.errors import ConfigError, SchemaError
from driftwarden.profile import ColumnPlan
from driftwarden.report.text import finding


@dataclass(frozen=True)
class FeaturePlan:
    """The columns to profile and the schema findings behind the choice."""

    columns: list[ColumnPlan]
    findings: list[dict[str, Any]]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def categorical(self) -> list[str]:
        return [column.name for column in self.columns if column.kind == "categorical"]


def natural_kind(data_type: pa.DataType) -> str | None:
    """``numerical``, ``categorical``, or None for types that are not features (times, binary, nested)."""
    if pa.types.is_dictionary(data_type):
        return "categorical"
    if (
        pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
    ):
        return "numerical"
    if (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_boolean(data_type)
    ):
        return "categorical"
    return None


def _forced_kind(name: str, data_type: pa.DataType, selection: FeatureSelection) -> str | None:
    if name in selection.categorical:
        return "categorical" if natural_kind(data_type) is not None else None
    if name in selection.numerical:
        value_type = data_type.value_type if pa.types.is_dictionary(data_type) else data_type
        return "numerical" if natural_kind(value_type) == "numerical" else None
    return natural_kind(data_type)


def plan_features(
    reference: pa.Schema,
    current: pa.Schema,
    selection: FeatureSelection,
    *,
    not_features: Collection[str] = (),
) -> FeaturePlan:
    """Decide the compared columns.

    ``not_features`` are columns that are never features (the timestamp column, hive
    partition keys) unless the spec includes them by name.
    """
    ref_types = {field.name: field.type for field in reference}
    cur_types = {field.name: field.type for field in current}
    findings: list[dict[str, Any]] = []
    named = set(selection.include) | set(selection.categorical) | set(selection.numerical)
    nowhere = sorted(name for name in named if name not in ref_types and name not in cur_types)
    if nowhere:
        raise ConfigError(
            f"spec.features names column(s) in neither dataset: {', '.join(nowhere)}",
            hint=f"the reference has: {', '.join(sorted(ref_types)) or 'no columns'}",
        )
    for name in selection.numerical:
        data_type = ref_types.get(name, cur_types.get(name))
        if _forced_kind(name, data_type, selection) is None:
            raise ConfigError(
                f"spec.features.numerical: column {name!r} has type {data_type}, which is not a number",
                hint="list it under spec.features.categorical instead",
            )

    if selection.include:
        candidates = list(selection.include)
    else:
        candidates = [name for name in ref_types if name not in not_features or name in named]
    candidates = [name for name in candidates if name not in set(selection.exclude)]

    columns: list[ColumnPlan] = []
    for name in candidates:
        if name not in ref_types:
            findings.append(
                finding(
                    "warning",
                    "MissingInReference",
                    name,
                    f"{name}: in the current data but not in the reference, so it cannot be compared",
                )
            )
            continue
        if name not in cur_types:
            findings.append(
                finding(
                    "error",
                    "MissingInCurrent",
                    name,
                    f"{name}: in the reference but missing from the current data (dropped upstream?)",
                )
            )
            continue
        ref_kind = _forced_kind(name, ref_types[name], selection)
        cur_kind = _forced_kind(name, cur_types[name], selection)
        if ref_kind is None:
            findings.append(
                finding(
                    "info",
                    "Unsupported",
                    name,
                    f"{name}: type {ref_types[name]} is not compared (only numbers, strings, booleans, dictionaries)",
                )
            )
            continue
        if cur_kind != ref_kind:
            findings.append(
                finding(
                    "error",
                    "TypeChanged",
                    name,
                    f"{name}: type changed from {ref_types[name]} in the reference to {cur_types[name]} in the current data",
                )
            )
            continue
        if ref_types[name] != cur_types[name]:
            findings.append(
                finding(
                    "info",
                    "TypeWidened",
                    name,
                    f"{name}: type {ref_types[name]} in the reference, {cur_types[name]} in the current data; compared as {ref_kind}",
                )
            )
        columns.append(ColumnPlan(name, ref_kind))  # type: ignore[arg-type]

    new_columns = sorted(
        set(cur_types) - set(ref_types) - set(not_features) - set(selection.exclude)
    )
    if not selection.include:
        for name in new_columns:
            findings.append(
                finding(
                    "info",
                    "NewColumn",
                    name,
                    f"{name}: new in the current data, not in the reference; not compared",
                )
            )
    if not columns:
        raise SchemaError(
            "no feature can be compared: "
            + (
                "; ".join(f["message"] for f in findings)
                or "the reference has no numerical or categorical column"
            ),
            hint="check spec.features and that both datasets share columns",
        )
    return FeaturePlan(columns, findings)
