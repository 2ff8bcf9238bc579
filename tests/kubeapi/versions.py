"""The server's Kubernetes version and what depends on it.

A real kube-apiserver with a feature gate off drops the gated fields on create
(``dropDisabledFields`` in pkg/registry/batch/job/strategy.go) and keeps them on update only
if the old object already used them. Versions where each Job field became beta (on by
default), from https://kubernetes.io/docs/concepts/workloads/controllers/job/ and
https://kubernetes.io/docs/reference/command-line-tools-reference/feature-gates/:

| field | gate | beta (default on) |
|---|---|---|
| podFailurePolicy | JobPodFailurePolicy | 1.26 (alpha 1.25) |
| backoffLimitPerIndex, maxFailedIndexes | JobBackoffLimitPerIndex | 1.29 (alpha 1.28) |
| podReplacementPolicy | JobPodReplacementPolicy | 1.29 (alpha 1.28) |
| successPolicy | JobSuccessPolicy | 1.31 (alpha 1.30) |
| managedBy | JobManagedBy | 1.32 (alpha 1.30) |

Job conditions: from 1.31 the controller adds ``SuccessCriteriaMet`` / ``FailureTarget``
before the terminal ``Complete`` / ``Failed`` for every Job (KEP-4368, "Job termination"
in the Job docs); from 1.26 to 1.30, ``FailureTarget`` only when a podFailurePolicy
FailJob rule matched; before 1.26 neither.
"""

from __future__ import annotations

import re
from typing import Any

DEFAULT_VERSION = "1.33"
JOB_FIELD_SINCE: dict[str, tuple[int, int]] = {
    "podFailurePolicy": (1, 26),
    "backoffLimitPerIndex": (1, 29),
    "maxFailedIndexes": (1, 29),
    "podReplacementPolicy": (1, 29),
    "successPolicy": (1, 31),
    "managedBy": (1, 32),
}
TARGET_CONDITIONS_SINCE = (1, 31)
FAILURE_TARGET_FOR_POLICY_SINCE = (1, 26)


def parse_version(text: str) -> tuple[int, int]:
    """``"1.25"``, ``"v1.25.3"`` → (1, 25); anything else is a clear ValueError."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", str(text).strip())
    if not m:
        raise ValueError(
            f"server_version={text!r}: expected a Kubernetes version such as '1.25' or 'v1.31.2'"
        )
    return int(m.group(1)), int(m.group(2))


def version_info(version: tuple[int, int]) -> dict[str, str]:
    """The body of ``GET /version``."""
    major, minor = version
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.0+kubeapi-test-fixture",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def drop_disabled_job_fields(
    version: tuple[int, int], spec: dict[str, Any], old_spec: dict[str, Any] | None = None
) -> None:
    """Drop the Job spec fields this version does not serve (kept on update if already in use)."""
    for key, since in JOB_FIELD_SINCE.items():
        if version < since and key in spec and not (old_spec and old_spec.get(key) is not None):
            del spec[key]
