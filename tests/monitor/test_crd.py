import importlib.util
from typing import Any

import jsonschema
import pytest

from driftwarden.analysis import settings
from driftwarden.monitor.spec import parse_monitor, validate_manifest
from driftwarden.monitor.status import compute_status
from driftwarden.storage import formats as storage_formats

from .crdschema import (
    apply_defaults,
    cel_errors,
    list_map_errors,
    load_crd,
    open_api_schema,
    to_json_schema,
)
from .helpers import (
    BASE,
    EXAMPLES,
    finished_job,
    load_yaml_documents,
    manifest,
    pod,
    running_job,
    summary,
    with_retraining,
)

CRD = load_crd()
SCHEMA = open_api_schema(CRD)
VALIDATOR = jsonschema.Draft202012Validator(to_json_schema(SCHEMA))


def schema_errors(doc: dict[str, Any]) -> list[str]:
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)
    ]
    return errors + list_map_errors(doc, SCHEMA)


def example_monitors() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in EXAMPLES
        for doc in load_yaml_documents(path)
        if doc.get("kind") == "DriftMonitor"
    ]


def node(path: str) -> dict[str, Any]:
    current = SCHEMA
    for part in path.split("."):
        current = current["items"] if part == "[]" else current["properties"][part]
    return current


# ---------------------------------------------------------------- the CRD itself


def test_crd_names_and_version():
    spec = CRD["spec"]
    assert CRD["apiVersion"] == "apiextensions.k8s.io/v1"
    assert CRD["metadata"]["name"] == "driftmonitors.driftwarden.io"
    assert spec["group"] == "driftwarden.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "DriftMonitor",
        "listKind": "DriftMonitorList",
        "plural": "driftmonitors",
        "singular": "driftmonitor",
        "shortNames": ["dm"],
        "categories": ["driftwarden"],
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns():
    columns = {c["name"]: c for c in CRD["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["Phase"]["jsonPath"] == ".status.phase"
    assert (columns["Drift share"]["jsonPath"], columns["Drift share"]["type"]) == (
        ".status.lastRun.driftShare",
        "number",
    )
    assert columns["Drifted"]["jsonPath"] == ".status.lastRun.driftedFeatures"
    assert (columns["Last run"]["jsonPath"], columns["Last run"]["type"]) == (
        ".status.lastRun.completionTime",
        "date",
    )
    assert columns["Age"]["jsonPath"] == ".metadata.creationTimestamp"
    default_view = [
        c["name"]
        for c in CRD["spec"]["versions"][0]["additionalPrinterColumns"]
        if not c.get("priority")
    ]
    assert default_view == ["Phase", "Drift share", "Drifted", "Last run", "Age"]


def test_schema_is_structural_enough_for_the_api_server():
    def walk(n: dict[str, Any], path: str) -> None:
        # an API server refuses preserve-unknown-fields: false ("must be true or undefined")
        assert n.get("x-kubernetes-preserve-unknown-fields") in (None, True), path
        assert (
            "type" in n
            or n.get("x-kubernetes-int-or-string")
            or n.get("x-kubernetes-preserve-unknown-fields")
        ), path
        assert not ("properties" in n and "additionalProperties" in n), path
        for key, sub in (n.get("properties") or {}).items():
            walk(sub, f"{path}.{key}")
        if isinstance(n.get("additionalProperties"), dict):
            walk(n["additionalProperties"], f"{path}{{}}")
        if "items" in n:
            walk(n["items"], f"{path}[]")

    walk(SCHEMA, "")
    # the status has a real schema, not a bag of unknown fields
    assert not node("status").get("x-kubernetes-preserve-unknown-fields")
    assert {
        "observedGeneration",
        "phase",
        "conditions",
        "lastRun",
        "currentRun",
        "features",
    } <= set(node("status")["properties"])


def test_every_spec_field_is_described():
    missing = []

    def walk(n: dict[str, Any], path: str) -> None:
        for key, sub in (n.get("properties") or {}).items():
            if "description" not in sub:
                missing.append(f"{path}.{key}")
            walk(sub, f"{path}.{key}")
        if "items" in n:
            walk(n["items"], f"{path}[]")

    walk(node("spec"), "spec")
    assert missing == []


def test_enums_match_the_analysis_settings():
    assert node("spec.detection.numerical.method")["enum"] == list(settings.NUMERICAL_METHODS)
    assert node("spec.detection.categorical.method")["enum"] == list(settings.CATEGORICAL_METHODS)
    assert set(node("spec.detection.overrides.[].method")["enum"]) == set(
        settings.NUMERICAL_METHODS + settings.CATEGORICAL_METHODS
    )
    assert node("spec.detection.correction")["enum"] == list(settings.CORRECTIONS)
    formats = set(node("spec.reference.format")["enum"])
    assert {storage_formats.normalize_format(f) for f in formats} == set(storage_formats.FORMATS)
    assert {"feather", "ipc", "json", "ndjson"} <= formats


def test_schema_defaults_match_the_code_defaults():
    detection = settings.DetectionSettings()
    profile = settings.ProfileSettings()
    assert node("spec.detection.numerical.method")["default"] == detection.numerical.method
    assert node("spec.detection.categorical.method")["default"] == detection.categorical.method
    assert node("spec.detection.correction")["default"] == detection.correction
    assert node("spec.detection.driftShare")["default"] == detection.drift_share
    assert node("spec.detection.significance")["default"] == detection.significance
    assert node("spec.detection.missingThreshold")["default"] == detection.missing_threshold
    for key, attr in (
        ("bins", "bins"),
        ("sampleSize", "sample_size"),
        ("maxCategories", "max_categories"),
        ("topCategories", "top_categories"),
    ):
        assert node(f"spec.profile.{key}")["default"] == getattr(profile, attr)


# ---------------------------------------------------------------- examples


def test_there_are_examples_of_each_kind():
    names = {path.name for path in EXAMPLES}
    assert {
        "s3-minio-with-secret.yaml",
        "gcs.yaml",
        "cron.yaml",
        "interval.yaml",
        "retraining.yaml",
        "overrides.yaml",
        "rolling-reference.yaml",
        "offset-reference.yaml",
        "promote-reference.yaml",
        "prediction-drift.yaml",
        "multivariate.yaml",
        "sharded.yaml",
    } <= names
    assert all(
        any(d.get("kind") == "DriftMonitor" for d in load_yaml_documents(p)) for p in EXAMPLES
    )


@pytest.mark.parametrize(
    ("name", "doc"), example_monitors(), ids=[n for n, _ in example_monitors()]
)
def test_examples_pass_the_schema_the_cel_rules_and_the_operator(name, doc):
    assert schema_errors(doc) == []
    if importlib.util.find_spec("celpy") is not None:
        assert cel_errors(doc, SCHEMA) == []
    assert validate_manifest(doc) == []
    defaulted = apply_defaults(doc, SCHEMA)
    assert schema_errors(defaulted) == []
    # the API server's defaults mean what the operator's defaults mean
    original, stored = parse_monitor(doc), parse_monitor(defaulted)
    assert stored.run == original.run
    assert stored.schedule == original.schedule
    assert stored.job == original.job
    assert stored.retraining == original.retraining
    assert stored.suspend == original.suspend


def test_minio_example_secret_holds_placeholders_only():
    docs = load_yaml_documents(next(p for p in EXAMPLES if p.name == "s3-minio-with-secret.yaml"))
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert set(secret["stringData"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert all(v.startswith("REPLACE-WITH-") for v in secret["stringData"].values())
    monitor = next(d for d in docs if d["kind"] == "DriftMonitor")
    assert monitor["spec"]["storage"]["secretRef"]["name"] == secret["metadata"]["name"]
    assert monitor["metadata"]["namespace"] == secret["metadata"]["namespace"]


# ---------------------------------------------------------------- rejected manifests


def spec_with(path: str, value: Any) -> dict[str, Any]:
    doc = manifest()
    target = doc["spec"]
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    if value is None:
        target.pop(last, None)
    else:
        target[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("detection.numerical.method", "magic"),
        ("detection.categorical.method", "wasserstein"),
        ("detection.numerical.threshold", 0),
        ("detection.numerical.threshold", -0.5),
        ("detection.driftShare", 1.5),
        ("detection.driftShare", 0),
        ("detection.significance", 1),
        ("detection.correction", "holm"),
        ("detection.overrides", [{"feature": "a", "method": "magic"}]),
        ("detection.overrides", [{"method": "ks"}]),
        (
            "detection.overrides",
            [{"feature": "a", "method": "ks"}, {"feature": "a", "method": "psi"}],
        ),
        ("reference", None),
        ("current", None),
        ("reference.format", "excel"),
        ("reference.partitioning", "daily"),
        ("current.window", "a day"),
        ("schedule", "every hour"),
        ("schedule", "* * *"),
        ("interval", "30 minutes"),
        ("storage.endpoint", "minio:9000"),
        ("storage.secretRef", {}),
        ("profile.bins", 1),
        ("profile.sampleSize", 10),
        ("job.backoffLimit", -1),
        ("job.ttlSecondsAfterFinished", 0),
        ("job.resources", {"requests": {"cpu": "lots"}}),
        ("job.imagePullPolicy", "Sometimes"),
        ("features.include", "age"),
        ("suspend", "no"),
        ("surprise", True),
        (
            "retraining.jobTemplate",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "t", "image": "i"}],
                            "restartPolicy": "Always",
                        }
                    }
                }
            },
        ),
        (
            "retraining.jobTemplate",
            {"spec": {"template": {"spec": {"containers": [{"name": "t"}]}}}},
        ),
        ("retraining.cooldown", "a while"),
    ],
)
def test_schema_rejects_bad_specs(path, value):
    doc = spec_with(path, value)
    assert schema_errors(doc), f"{path}={value!r} was accepted"
    assert validate_manifest(doc), f"{path}={value!r} was accepted by the operator"


def test_schema_rejects_a_manifest_without_spec():
    assert schema_errors(
        {"apiVersion": "driftwarden.io/v1alpha1", "kind": "DriftMonitor", "metadata": {"name": "x"}}
    )


def test_schema_accepts_the_base_manifest_and_integer_thresholds():
    assert schema_errors(BASE) == []
    assert schema_errors(spec_with("detection.numerical", {"method": "psi", "threshold": 1})) == []


# ---------------------------------------------------------------- status


def test_computed_status_fits_the_status_schema():
    from datetime import UTC, datetime

    from driftwarden.monitor.outcome import outcome_from_job
    from driftwarden.monitor.retraining import decide_retraining, retraining_record

    monitor = parse_monitor(with_retraining())
    now = datetime(2024, 5, 1, 10, 5, tzinfo=UTC)
    outcome = outcome_from_job(finished_job(), pod(summary()))
    record = retraining_record(
        {"metadata": {"name": "churn-retrain-1"}},
        outcome,
        decide_retraining(monitor, outcome, None, now),
        now,
    )
    statuses = [
        compute_status(monitor, None, None, now, running_job()),
        compute_status(monitor, None, outcome, now, retraining=record),
    ]
    failed = outcome_from_job(
        finished_job("r2", state="Failed", reason="DeadlineExceeded", slot="2024-05-01T11:00:00Z"),
        None,
    )
    statuses.append(compute_status(monitor, statuses[1], failed, now))
    status_schema = jsonschema.Draft202012Validator(to_json_schema(node("status")))
    for status in statuses:
        assert list(status_schema.iter_errors(status)) == []  # as written (nulls allowed)
        stored = {k: v for k, v in status.items() if v is not None}  # as stored after a merge patch
        assert list(status_schema.iter_errors(stored)) == []


def test_status_schema_rejects_an_unknown_phase():
    status_schema = jsonschema.Draft202012Validator(to_json_schema(node("status")))
    assert list(status_schema.iter_errors({"phase": "Exploded"}))
