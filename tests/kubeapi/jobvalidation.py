"""Job spec validation for Indexed Jobs, backoffLimitPerIndex and podFailurePolicy.

Follows ``validateJobSpec``, ``validatePodFailurePolicy``, ``validateCompletions`` and the
Indexed-Job name check of ``ValidateJob`` in pkg/apis/batch/validation/validation.go, with
the real server's limits and wording, so a manifest the real API server refuses (422) is
refused here too.
"""

from __future__ import annotations

import itertools
from typing import Any

from .validation import Cause, dns1123_label_errors, qualified_name_errors

MAX_PARALLELISM_INDEXED = 100_000  # maxParallelismForIndexedJob
MAX_FAILED_INDEXES = 100_000  # maxFailedIndexesForIndexedJob
COMPLETIONS_SOFT_LIMIT = 100_000  # completionsSoftLimit
PARALLELISM_LIMIT_HIGH_COMPLETIONS = 10_000  # parallelismLimitForHighCompletions
MAX_FAILED_INDEXES_HIGH_COMPLETIONS = 10_000  # maxFailedIndexesLimitForHighCompletions
MAX_POLICY_RULES = 20  # maxPodFailurePolicyRules
MAX_EXIT_CODE_VALUES = 255  # maxPodFailurePolicyOnExitCodesValues
MAX_CONDITION_PATTERNS = 20  # maxPodFailurePolicyOnPodConditionsPatterns
POLICY_ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"]  # sorted, as sets.List prints
EXIT_CODE_OPERATORS = ["In", "NotIn"]
CONDITION_STATUSES = ["False", "True", "Unknown"]
ELASTIC_INDEXED_SINCE = (1, 27)  # ElasticIndexedJob beta (on by default)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def indexed_job_causes(name: str, spec: dict[str, Any]) -> list[Cause]:
    """completionMode-dependent rules for backoffLimitPerIndex/maxFailedIndexes/parallelism."""
    causes: list[Cause] = []
    mode = spec.get("completionMode")
    per_index = _int(spec.get("backoffLimitPerIndex"))
    most = _int(spec.get("maxFailedIndexes"))
    completions = _int(spec.get("completions"))
    parallelism = _int(spec.get("parallelism"))
    for key, value in (("backoffLimitPerIndex", per_index), ("maxFailedIndexes", most)):
        if value is not None and value < 0:
            causes.append(Cause.invalid(f"spec.{key}", value, "must be greater than or equal to 0"))
    if most is not None and per_index is None:
        causes.append(
            Cause.required("spec.backoffLimitPerIndex", "when maxFailedIndexes is specified")
        )
    if mode == "Indexed":
        if parallelism is not None and parallelism > MAX_PARALLELISM_INDEXED:
            causes.append(Cause.invalid("spec.parallelism", parallelism, f"must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"))  # fmt: skip
        if completions is not None and most is not None and most > completions:
            causes.append(
                Cause.invalid("spec.maxFailedIndexes", most, "must be less than or equal to completions")
            )  # fmt: skip
        if most is not None and most > MAX_FAILED_INDEXES:
            causes.append(Cause.invalid("spec.maxFailedIndexes", most, f"must be less than or equal to {MAX_FAILED_INDEXES}"))  # fmt: skip
        if (
            completions is not None
            and completions > COMPLETIONS_SOFT_LIMIT
            and per_index is not None
        ):
            tail = f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"  # fmt: skip
            if most is None:
                causes.append(Cause.required("spec.maxFailedIndexes", f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"))  # fmt: skip
            if parallelism is not None and parallelism > PARALLELISM_LIMIT_HIGH_COMPLETIONS:
                causes.append(Cause.invalid("spec.parallelism", parallelism, f"must be less than or equal to {PARALLELISM_LIMIT_HIGH_COMPLETIONS} {tail}"))  # fmt: skip
            if most is not None and most > MAX_FAILED_INDEXES_HIGH_COMPLETIONS:
                causes.append(Cause.invalid("spec.maxFailedIndexes", most, f"must be less than or equal to {MAX_FAILED_INDEXES_HIGH_COMPLETIONS} {tail}"))  # fmt: skip
        if completions is not None and completions > 0:
            # The controller names pods' hosts <job>-<index>: the highest must be a DNS label.
            host = f"{name}-{completions - 1}"
            if dns1123_label_errors(host):
                causes.append(Cause.invalid("metadata.name", name, f"will not able to create pod with invalid DNS label: {host}"))  # fmt: skip
    elif mode in (None, "NonIndexed"):
        for key, value in (("backoffLimitPerIndex", per_index), ("maxFailedIndexes", most)):
            if value is not None:
                causes.append(
                    Cause.invalid(f"spec.{key}", value, "requires indexed completion mode")
                )
    return causes


def pod_failure_policy_causes(spec: dict[str, Any]) -> list[Cause]:
    """``validatePodFailurePolicy`` and the restart/replacement policies it constrains."""
    policy = spec.get("podFailurePolicy")
    if policy is None:
        return []
    causes: list[Cause] = []
    rules = policy.get("rules") if isinstance(policy, dict) else None
    rules = rules if isinstance(rules, list) else []
    if len(rules) > MAX_POLICY_RULES:
        causes.append(Cause.too_many("spec.podFailurePolicy.rules", len(rules), MAX_POLICY_RULES))
    template_spec = (spec.get("template") or {}).get("spec") or {}
    names = {
        c.get("name")
        for key in ("containers", "initContainers")
        for c in template_spec.get(key) or []
        if isinstance(c, dict)
    }
    for i, rule in enumerate(rules):
        causes += _rule_causes(spec, rule if isinstance(rule, dict) else {}, f"spec.podFailurePolicy.rules[{i}]", names)  # fmt: skip
    restart = template_spec.get("restartPolicy")
    if restart == "OnFailure":
        causes.append(Cause.invalid("spec.template.spec.restartPolicy", restart, 'only "Never" is supported when podFailurePolicy is specified'))  # fmt: skip
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None and replacement != "Failed":
        causes.append(Cause.not_supported("spec.podReplacementPolicy", replacement, ["Failed"]))
    return causes


def _rule_causes(spec: dict[str, Any], rule: dict[str, Any], path: str, names: set[Any]) -> list[Cause]:  # fmt: skip
    causes: list[Cause] = []
    action = rule.get("action")
    if not action:
        causes.append(Cause.required(f"{path}.action", f"valid values: {_go_list(POLICY_ACTIONS)}"))
    elif action == "FailIndex":
        if spec.get("backoffLimitPerIndex") is None:
            causes.append(Cause.invalid(f"{path}.action", action, "requires the backoffLimitPerIndex to be set"))  # fmt: skip
    elif action not in POLICY_ACTIONS:
        causes.append(Cause.not_supported(f"{path}.action", action, POLICY_ACTIONS))
    on_codes = rule.get("onExitCodes")
    on_conditions = rule.get("onPodConditions") or []
    if isinstance(on_codes, dict):
        causes += _exit_code_causes(on_codes, f"{path}.onExitCodes", names)
    if on_conditions:
        causes += _condition_causes(on_conditions, f"{path}.onPodConditions")
    if on_codes is not None and on_conditions:
        causes.append(Cause("FieldValueInvalid", path, "specifying both OnExitCodes and OnPodConditions is not supported"))  # fmt: skip
    if on_codes is None and not on_conditions:
        causes.append(Cause("FieldValueInvalid", path, "specifying one of OnExitCodes and OnPodConditions is required"))  # fmt: skip
    return causes


def _exit_code_causes(on_codes: dict[str, Any], path: str, names: set[Any]) -> list[Cause]:
    causes: list[Cause] = []
    operator = on_codes.get("operator")
    if not operator:
        causes.append(Cause.required(f"{path}.operator", f"valid values: {_go_list(EXIT_CODE_OPERATORS)}"))  # fmt: skip
    elif operator not in EXIT_CODE_OPERATORS:
        causes.append(Cause.not_supported(f"{path}.operator", operator, EXIT_CODE_OPERATORS))
    container = on_codes.get("containerName")
    if container is not None and container not in names:
        causes.append(Cause.invalid(f"{path}.containerName", container, "must be one of the container or initContainer names in the pod template"))  # fmt: skip
    values = on_codes.get("values") or []
    if not values:
        causes.append(Cause.invalid(f"{path}.values", values, "at least one value is required"))
    elif len(values) > MAX_EXIT_CODE_VALUES:
        causes.append(Cause.too_many(f"{path}.values", len(values), MAX_EXIT_CODE_VALUES))
    seen: set[Any] = set()
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            causes.append(Cause.invalid(f"{path}.values[{j}]", value, "must not be 0 for the In operator"))  # fmt: skip
        if value in seen:
            causes.append(Cause.duplicate(f"{path}.values[{j}]", value))
        seen.add(value)
    if any(a > b for a, b in itertools.pairwise(values)):
        causes.append(Cause.invalid(f"{path}.values", values, "must be ordered"))
    return causes


def _condition_causes(patterns: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    if len(patterns) > MAX_CONDITION_PATTERNS:
        causes.append(Cause.too_many(path, len(patterns), MAX_CONDITION_PATTERNS))
    for j, pattern in enumerate(patterns):
        pattern = pattern if isinstance(pattern, dict) else {}
        ctype = str(pattern.get("type") or "")
        for err in qualified_name_errors(ctype):
            causes.append(Cause.invalid(f"{path}[{j}].type", ctype, err))
        status = pattern.get("status")
        if not status:
            causes.append(Cause.required(f"{path}[{j}].status", f"valid values: {_go_list(CONDITION_STATUSES)}"))  # fmt: skip
        elif status not in CONDITION_STATUSES:
            causes.append(Cause.not_supported(f"{path}[{j}].status", status, CONDITION_STATUSES))
    return causes


def completions_update_causes(
    version: tuple[int, int], spec: dict[str, Any], old_spec: dict[str, Any]
) -> list[Cause]:
    """``validateCompletions``: immutable, except that an Indexed Job (1.27+, elastic Indexed
    Jobs) may change it together with parallelism, keeping the two equal."""
    new, old = spec.get("completions"), old_spec.get("completions")
    if new == old:
        return []
    if version >= ELASTIC_INDEXED_SINCE and spec.get("completionMode") == "Indexed":
        if new is None or new == spec.get("parallelism"):
            return []
        return [Cause.invalid("spec.completions", new, "can only be modified in tandem with spec.parallelism")]  # fmt: skip
    return [Cause.invalid("spec.completions", new, "field is immutable")]


def _go_list(values: list[str]) -> str:
    """A Go ``%q`` of a string slice: ``["In" "NotIn"]``."""
    return "[" + " ".join(f'"{v}"' for v in values) + "]"
