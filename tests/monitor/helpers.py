"""Builders shared by the monitor tests: manifests, finished Jobs and pods."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "crds" / "driftmonitor.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
NOW = datetime(2024, 5, 1, 10, 17, 42, tzinfo=UTC)
UID = "7d5c1f0e-1b2a-4c3d-9e8f-0a1b2c3d4e5f"

BASE: dict[str, Any] = {
    "apiVersion": "driftwarden.io/v1alpha1",
    "kind": "DriftMonitor",
    "metadata": {"name": "churn", "namespace": "ml", "uid": UID, "generation": 3},
    "spec": {
        "schedule": "0 * * * *",
        "storage": {
            "endpoint": "http://minio:9000",
            "region": "us-east-1",
            "secretRef": {"name": "s3-credentials"},
        },
        "reference": {"path": "s3://logs/churn/train/", "format": "parquet"},
        "current": {"path": "s3://logs/churn/live/", "timestampColumn": "ts", "window": "24h"},
        "features": {"exclude": ["user_id"], "categorical": ["plan"]},
        "output": {"path": "s3://logs/churn/drift-reports/"},
    },
}

RETRAINING: dict[str, Any] = {
    "cooldown": "24h",
    "jobTemplate": {
        "metadata": {"labels": {"team": "growth"}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "train",
                            "image": "registry.example.com/train:1",
                            "env": [{"name": "EPOCHS", "value": "3"}],
                        }
                    ],
                    "restartPolicy": "Never",
                }
            }
        },
    },
}


def manifest(**spec_changes: Any) -> dict[str, Any]:
    """The base manifest with top-level spec keys replaced (None removes a key)."""
    doc = copy.deepcopy(BASE)
    for key, value in spec_changes.items():
        if value is None:
            doc["spec"].pop(key, None)
        else:
            doc["spec"][key] = copy.deepcopy(value)
    return doc


def with_retraining(**changes: Any) -> dict[str, Any]:
    doc = manifest(retraining={**copy.deepcopy(RETRAINING), **changes})
    return doc


def summary(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "v": 1,
        "drifted": True,
        "driftShare": 0.5,
        "driftedFeatures": 2,
        "totalFeatures": 4,
        "rows": {"reference": 10000, "current": 2500},
        "report": "s3://logs/churn/drift-reports/churn/run/report.json",
        "features": [
            {
                "name": "age",
                "kind": "numerical",
                "method": "wasserstein",
                "score": 0.02,
                "threshold": 0.1,
                "drifted": False,
            },
            {
                "name": "income",
                "kind": "numerical",
                "method": "ks",
                "score": 0.0001,
                "threshold": 0.01,
                "drifted": True,
            },
            {
                "name": "plan",
                "kind": "categorical",
                "method": "jensenshannon",
                "score": 0.3,
                "threshold": 0.1,
                "drifted": True,
            },
            {
                "name": "tenure",
                "kind": "numerical",
                "method": "wasserstein",
                "score": 0.05,
                "threshold": 0.1,
                "drifted": False,
            },
        ],
        "truncated": 0,
        "errors": [],
        "durationSeconds": 12.5,
    }
    doc.update(changes)
    return doc


def finished_job(
    name: str = "churn-202405011000-abcdef12",
    *,
    state: str = "Complete",
    reason: str | None = None,
    slot: str = "2024-05-01T10:00:00Z",
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": state,
        "status": "True",
        "lastTransitionTime": "2024-05-01T10:03:00Z",
    }
    if reason:
        condition["reason"] = reason
        condition["message"] = f"Job failed: {reason}"
    status: dict[str, Any] = {"startTime": "2024-05-01T10:00:05Z", "conditions": [condition]}
    if state == "Complete":
        status.update(succeeded=1, completionTime="2024-05-01T10:03:00Z")
    else:
        status["failed"] = 3
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": "ml",
            "annotations": {"driftwarden.io/slot": slot},
            "labels": {
                "driftwarden.io/monitor": "churn",
                "app.kubernetes.io/component": "analysis",
            },
            "creationTimestamp": "2024-05-01T10:00:01Z",
        },
        "status": status,
    }


def running_job(
    name: str = "churn-202405011100-0badc0de", slot: str = "2024-05-01T11:00:00Z"
) -> dict[str, Any]:
    job = finished_job(name, slot=slot)
    job["status"] = {"startTime": "2024-05-01T11:00:03Z", "active": 1}
    return job


def pod(
    message: str | dict[str, Any] | None, exit_code: int = 0, phase: str | None = None
) -> dict[str, Any]:
    text = json.dumps(message) if isinstance(message, dict) else message
    terminated: dict[str, Any] = {"exitCode": exit_code, "finishedAt": "2024-05-01T10:02:59Z"}
    if text is not None:
        terminated["message"] = text
    return {
        "metadata": {"name": "churn-pod", "creationTimestamp": "2024-05-01T10:00:02Z"},
        "status": {
            "phase": phase or ("Succeeded" if exit_code == 0 else "Failed"),
            "containerStatuses": [{"name": "analyze", "state": {"terminated": terminated}}],
        },
    }


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]
