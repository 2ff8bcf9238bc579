"""The DriftMonitor API as plain Python: pure functions and dataclasses, no I/O.

- :mod:`~driftwarden.monitor.spec`: parse and validate a manifest (``parse_monitor``, ``validate_manifest``)
- :mod:`~driftwarden.monitor.schedule`: schedule slots (``latest_due_slot``, ``next_slot``)
- :mod:`~driftwarden.monitor.job`: Job manifests (``analysis_job``, ``retraining_job``, ``jobs_to_delete``)
- :mod:`~driftwarden.monitor.outcome`: what a finished Job says (``outcome_from_job``)
- :mod:`~driftwarden.monitor.status`: the status and its conditions (``compute_status`` …)
- :mod:`~driftwarden.monitor.retraining`: whether to retrain (``decide_retraining``)
- :mod:`~driftwarden.monitor.debounce`: debounced alerting (``spec.alerting``), recent runs

The controller gathers inputs from the Kubernetes API, calls these and applies
the results. See docs/monitor-reference.md.
"""

from driftwarden.monitor.job import analysis_job, jobs_to_delete, retraining_job
from driftwarden.monitor.outcome import (
    RunOutcome,
    is_finished,
    outcome_from_job,
    pick_pod,
    stuck_reason,
)
from driftwarden.monitor.retraining import (
    Decision,
    RetrainingRecord,
    decide_retraining,
    retraining_record,
)
from driftwarden.monitor.schedule import Schedule, latest_due_slot, next_slot
from driftwarden.monitor.spec import Monitor, parse_monitor, validate_manifest
from driftwarden.monitor.status import (
    compute_status,
    invalid_spec_status,
    is_new_outcome,
    last_slot,
    set_condition,
    suspended_status,
)

__all__ = [
    "Decision",
    "Monitor",
    "RetrainingRecord",
    "RunOutcome",
    "Schedule",
    "analysis_job",
    "compute_status",
    "decide_retraining",
    "invalid_spec_status",
    "is_finished",
    "is_new_outcome",
    "jobs_to_delete",
    "last_slot",
    "latest_due_slot",
    "next_slot",
    "outcome_from_job",
    "parse_monitor",
    "pick_pod",
    "retraining_job",
    "retraining_record",
    "set_condition",
    "stuck_reason",
    "suspended_status",
    "validate_manifest",
]
