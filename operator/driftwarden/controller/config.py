"""The operator's own settings (flags of ``driftwarden run`` or environment variables)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

GROUP, VERSION, PLURAL = "driftwarden.io", "v1alpha1", "driftmonitors"


@dataclass(frozen=True)
class OperatorConfig:
    """How the operator runs: which image its Jobs use, how often it looks, how much it may start."""

    image: str = field(
        default_factory=lambda: os.environ.get(
            "DRIFTWARDEN_IMAGE", "ghcr.io/driftwarden/driftwarden:0.1.0"
        )
    )
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    tick_seconds: float = 15.0  # how often each monitor is reconciled by its timer
    max_concurrent_jobs: int = 10  # analysis Jobs running at once, over all monitors
    metrics_port: int = 9090
    health_port: int = 8080
    # Job policy (docs/operations.md, "Security model"): what monitors may put in their Jobs
    # besides the operator's own image and no priority class.
    allowed_images: tuple[str, ...] = ()  # glob patterns
    allowed_priority_classes: tuple[str, ...] = ()
