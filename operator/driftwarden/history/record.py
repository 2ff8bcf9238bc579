"""One run's history record: what a run leaves behind so a monitor's trend can be drawn.

Every run of a monitor keeps one small JSON object under the monitor's history
prefix (``<output.path>/<monitor>/history/``, see :func:`record_name` and
docs/history.md)::

    {"v": 1, "run": "churn-202611231000-1a2b3c4d", "slot": "2026-11-23T10:00:00Z",
     "time": "2026-11-23T10:00:41Z", "outcome": "Succeeded", "reason": null,
     "message": null, "drifted": true, "driftShare": 0.4, "driftThreshold": 0.5,
     "driftedFeatures": 2, "totalFeatures": 5, "rows": {"reference": 1000, "current": 500},
     "report": ".../report.json", "reportHtml": ".../report.html",
     "durationSeconds": 1.2, "retraining": {"job": ..., "run": ..., "time": ...} | null,
     "settings": [{"kind": "numerical", "method": "psi", "threshold": 0.2}, ...],
     "features": {"name": [...], "setting": [0, 1, ...], "score": [...],
                  "pValue": [...], "drifted": [0, 1, ...]}, "omittedFeatures": 0}

``features`` is column-wise (one array per field, aligned by index), and each
feature's kind, method and threshold are an index into ``settings`` (a monitor has
a handful of distinct ones), so a run's record at 1,000 features is ~50 KiB: every
feature's score is kept, rounded to 6 significant digits, and field names and
settings are written once, not once per feature. A failed run has ``outcome: "Failed"``, its ``reason`` and
``message``, and no verdict (``drifted`` etc. are null, ``features`` empty).

``retraining`` is the last retraining Job the operator had started when it
created this run's Job (``status.lastRetraining``, passed in
``DRIFTWARDEN_LAST_RETRAINING``): the Job cannot see the cluster, so the record
carries what the operator knew. The trend page marks each retraining Job at the
run that triggered it.

Pure standard library: the operator side may read records without the data stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeGuard

from driftwarden.report.document import P_VALUE_METHODS, ReportError, parse_json_object
from driftwarden.report.performance_summary import check_performance, summary_performance
from driftwarden.report.summary import NAME_BYTES, URI_BYTES, round_number, shorten

RECORD_VERSION = 1
SUCCEEDED = "Succeeded"
FAILED = "Failed"
OUTCOMES = (SUCCEEDED, FAILED)
#: Record files: ``<YYYYmmddTHHMMSSZ>-<run>.json``; the fixed-width UTC time first, so
#: sorting the names sorts the runs by time.
RECORD_SUFFIX = ".json"
_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_NAME_RE = re.compile(r"^(\d{8}T\d{6}Z)-([A-Za-z0-9][A-Za-z0-9._-]{0,199})\.json$")
_RUN_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
MESSAGE_BYTES = 512
#: The record names at most this many features; a wider report keeps its most drifted
#: (``omittedFeatures`` counts the rest), so a record stays bounded whatever the data.
MAX_FEATURES = 10_000
_FEATURE_FIELDS = ("name", "setting", "score", "pValue", "drifted")
#: The root cause's summary line a record keeps (spec.model; report rootCause.summary).
ROOT_CAUSE_BYTES = 200
#: spec.model's prediction and target columns a record keeps (16 predictions, a target).
MAX_MODEL_COLUMNS = 17
_SETTING_FIELDS = ("kind", "method", "threshold")

Record = dict[str, Any]


class RecordError(ReportError):
    """A stored history record cannot be read (not JSON, another version, a wrong field)."""


# ---------------------------------------------------------------- names


def run_slug(run: str) -> str:
    """``run`` as it appears in a record's file name: letters, digits, ``.``, ``_``, ``-``."""
    slug = _RUN_CHARS.sub("-", run).strip("-.")[:200]
    return slug or "run"


def record_name(time: datetime, run: str) -> str:
    """The file name of a run's record: ``20261123T100000Z-<run>.json`` (UTC, sortable).

    ``time`` is the run's schedule slot (the end of its window) when it has one, so a
    retried Job overwrites its own record instead of adding a second one.
    """
    moment = time if time.tzinfo else time.replace(tzinfo=UTC)
    return f"{moment.astimezone(UTC):{_TIME_FORMAT}}-{run_slug(run)}{RECORD_SUFFIX}"


def is_record_name(name: str) -> bool:
    """True for a file name :func:`record_name` could have written."""
    return _NAME_RE.match(name) is not None


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, to the second (as the status writes times)."""
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- building


def _text(value: Any, max_bytes: int) -> str | None:
    return None if value is None else shorten(str(value), max_bytes)


def _retraining(value: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The retraining entry kept in a record: job, run and time as short strings."""
    if not isinstance(value, Mapping) or not isinstance(value.get("job"), str):
        return None
    return {
        key: shorten(str(value[key]), NAME_BYTES * 2)
        for key in ("job", "run", "time")
        if isinstance(value.get(key), str) and value.get(key)
    }


def _base(
    run: str,
    slot: datetime | None,
    time: datetime,
    outcome: str,
    retraining: Mapping[str, Any] | None,
) -> Record:
    return {
        "v": RECORD_VERSION,
        "run": shorten(run, 256, keep_end=True),
        "slot": format_time(slot) if slot is not None else None,
        "time": format_time(time),
        "outcome": outcome,
        "reason": None,
        "message": None,
        "drifted": None,
        "driftShare": None,
        "driftThreshold": None,
        "driftedFeatures": None,
        "totalFeatures": None,
        "rows": None,
        "report": None,
        "reportHtml": None,
        "durationSeconds": None,
        "retraining": _retraining(retraining),
        "settings": [],
        "features": {field: [] for field in _FEATURE_FIELDS},
        "omittedFeatures": 0,
    }


def build_record(
    report: Mapping[str, Any],
    *,
    run: str,
    slot: datetime | None,
    time: datetime,
    report_uri: str | None = None,
    report_html_uri: str | None = None,
    retraining: Mapping[str, Any] | None = None,
) -> Record:
    """The record of a run that produced ``report`` (a validated report document).

    Features are kept most drifted first (the report's order), column-wise; URIs must
    already be redacted (no credentials), and are shortened to 1 KiB.
    """
    record = _base(run, slot, time, SUCCEEDED, retraining)
    dataset = report["dataset"]
    rows = {
        side: round_number((report.get(side) or {}).get("rows"))
        for side in ("reference", "current")
    }
    record.update(
        drifted=bool(dataset["drifted"]),
        driftShare=round_number(dataset["driftShare"]),
        driftThreshold=round_number(dataset.get("threshold")),
        driftedFeatures=dataset["driftedFeatures"],
        totalFeatures=dataset["totalFeatures"],
        rows=rows,
        report=_text(report_uri, URI_BYTES),
        reportHtml=_text(report_html_uri, URI_BYTES),
        durationSeconds=round_number(report.get("durationSeconds")),
    )
    columns: dict[str, list[Any]] = record["features"]
    settings: dict[tuple[str, str, Any], int] = {}
    features = list(report["features"])
    for feature in features[:MAX_FEATURES]:
        setting = (
            str(feature["kind"]),
            str(feature["method"]),
            round_number(feature.get("threshold")),
        )
        columns["name"].append(shorten(str(feature["name"]), NAME_BYTES, keep_end=True))
        columns["setting"].append(settings.setdefault(setting, len(settings)))
        columns["score"].append(round_number(feature.get("score")))
        p_value = feature.get("pValue") if feature.get("method") in P_VALUE_METHODS else None
        columns["pValue"].append(round_number(p_value))
        columns["drifted"].append(1 if feature.get("drifted") else 0)
    record["settings"] = [dict(zip(_SETTING_FIELDS, key, strict=True)) for key in settings]
    record["omittedFeatures"] = max(0, len(features) - MAX_FEATURES)
    predictions = _predictions(report.get("predictions"))
    if predictions is not None:
        record["predictions"] = predictions
    # spec.model's performance on delayed labels: the summary's compact verdict
    performance = summary_performance(report.get("performance"))
    if performance is not None:
        record["performance"] = performance
    cause = report.get("rootCause")
    if isinstance(cause, Mapping) and cause.get("triggered") and cause.get("summary"):
        # spec.model's root cause of a run that moved: "top cause: income (62%)"
        record["rootCause"] = _text(str(cause["summary"]), ROOT_CAUSE_BYTES)
    return record


def _predictions(section: Any) -> dict[str, Any] | None:
    """The record's ``predictions``: the verdict and each compared prediction or target
    column ``{name, role, kind, method, threshold, score, pValue, drifted}`` (spec.model);
    None when the run compared none. At most MAX_MODEL_COLUMNS columns."""
    if not isinstance(section, Mapping):
        return None
    columns = []
    for column in (section.get("columns") or [])[:MAX_MODEL_COLUMNS]:
        p_value = column.get("pValue") if column.get("method") in P_VALUE_METHODS else None
        columns.append(
            {
                "name": shorten(str(column["name"]), NAME_BYTES, keep_end=True),
                "role": "target" if column.get("role") == "target" else "prediction",
                "kind": str(column.get("kind")),
                "method": str(column.get("method")),
                "threshold": round_number(column.get("threshold")),
                "score": round_number(column.get("score")),
                "pValue": round_number(p_value),
                "drifted": 1 if column.get("drifted") else 0,
            }
        )
    return {"drifted": bool(section.get("drifted")), "columns": columns}


def build_failure_record(
    reason: str,
    message: str,
    *,
    run: str,
    slot: datetime | None,
    time: datetime,
    retraining: Mapping[str, Any] | None = None,
) -> Record:
    """The record of a run that failed with ``reason`` (CamelCase) and ``message``."""
    record = _base(run, slot, time, FAILED, retraining)
    record.update(reason=shorten(reason, 64) or "Error", message=shorten(message, MESSAGE_BYTES))
    return record


def dump_record(record: Mapping[str, Any]) -> str:
    """The record as compact JSON (UTF-8 kept), exactly as stored."""
    return json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# ---------------------------------------------------------------- reading


def _bad(path: str, expected: str, value: Any) -> RecordError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return RecordError(f"{path}: expected {expected}, got {shown}")


def _is_num(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check(ok: bool, path: str, expected: str, value: Any) -> None:
    if not ok:
        raise _bad(path, expected, value)


def _check_settings(settings: Any) -> int:
    _check(isinstance(settings, list), "settings", "an array", settings)
    for i, setting in enumerate(settings):
        _check(isinstance(setting, dict), f"settings[{i}]", "an object", setting)
        for key in ("kind", "method"):
            value = setting.get(key)
            _check(isinstance(value, str), f"settings[{i}].{key}", "a string", value)
        value = setting.get("threshold")
        _check(value is None or _is_num(value), f"settings[{i}].threshold", "a number", value)
    return len(settings)


def _check_columns(features: Any, settings: int) -> int:
    _check(isinstance(features, dict), "features", "an object", features)
    lengths = set()
    for field in _FEATURE_FIELDS:
        column = features.get(field)
        _check(isinstance(column, list), f"features.{field}", "an array", column)
        lengths.add(len(column))
    if len(lengths) != 1:
        raise RecordError("features: the arrays have different lengths")
    for i, name in enumerate(features["name"]):
        _check(isinstance(name, str), f"features.name[{i}]", "a string", name)
    for i, value in enumerate(features["setting"]):
        _check(
            _is_count(value) and value < settings,
            f"features.setting[{i}]",
            f"an index into settings (0 to {settings - 1})",
            value,
        )
    for field in ("score", "pValue"):
        for i, value in enumerate(features[field]):
            _check(value is None or _is_num(value), f"features.{field}[{i}]", "a number", value)
    for i, value in enumerate(features["drifted"]):
        _check(
            value in (0, 1) and not isinstance(value, float),
            f"features.drifted[{i}]",
            "0 or 1",
            value,
        )
    return lengths.pop()


def parse_record(text: str | bytes) -> Record:
    """A stored record, checked; raises :class:`RecordError` naming the first problem.

    Unknown keys are kept (a newer driftwarden may add some); another ``v`` is refused.
    """
    try:
        record = parse_json_object(text, "the history record")
    except ReportError as error:
        raise RecordError(str(error)) from None
    if record.get("v") != RECORD_VERSION:
        raise RecordError(
            f"the history record has version {record.get('v')!r}; this driftwarden reads "
            f"version {RECORD_VERSION}",
            hint="read it with the driftwarden version that wrote it",
        )
    _check(
        isinstance(record.get("run"), str) and record["run"] != "",
        "run",
        "a name",
        record.get("run"),
    )
    _check(
        record.get("outcome") in OUTCOMES, "outcome", "Succeeded or Failed", record.get("outcome")
    )
    for key in ("time", "slot"):
        value = record.get(key)
        if key == "slot" and value is None:
            continue
        _check(
            isinstance(value, str) and parse_time(value) is not None, key, "an RFC 3339 time", value
        )
    for key in ("reason", "message", "report", "reportHtml"):
        value = record.get(key)
        _check(value is None or isinstance(value, str), key, "a string or null", value)
    retraining = record.get("retraining")
    _check(
        retraining is None
        or (isinstance(retraining, dict) and isinstance(retraining.get("job"), str)),
        "retraining",
        "null or an object with a job",
        retraining,
    )
    width = _check_columns(record.get("features"), _check_settings(record.get("settings")))
    if record["outcome"] == FAILED:
        _check(isinstance(record.get("reason"), str), "reason", "a string", record.get("reason"))
        return record
    _check(
        isinstance(record.get("drifted"), bool), "drifted", "true or false", record.get("drifted")
    )
    share = record.get("driftShare")
    _check(_is_num(share) and 0 <= share <= 1, "driftShare", "a number between 0 and 1", share)
    threshold = record.get("driftThreshold")
    _check(threshold is None or _is_num(threshold), "driftThreshold", "a number", threshold)
    for key in ("driftedFeatures", "totalFeatures"):
        _check(_is_count(record.get(key)), key, "a non-negative integer", record.get(key))
    omitted = record.get("omittedFeatures", 0)
    _check(_is_count(omitted), "omittedFeatures", "a non-negative integer", omitted)
    if width + omitted != record["totalFeatures"]:
        raise RecordError(
            f"features: {width} listed + {omitted} omitted != totalFeatures "
            f"{record['totalFeatures']}"
        )
    rows = record.get("rows")
    _check(rows is None or isinstance(rows, dict), "rows", "an object or null", rows)
    _check_predictions(record.get("predictions"))
    check_performance(record.get("performance"), _performance_error)
    cause = record.get("rootCause")
    _check(cause is None or isinstance(cause, str), "rootCause", "a string or null", cause)
    return record


def _performance_error(path: str, expected: str, value: Any) -> RecordError:
    return RecordError(f"{path}: expected {expected}, got {value!r}")


def _check_predictions(section: Any) -> None:
    """``predictions`` (optional: records of runs without spec.model columns have none)."""
    if section is None:
        return
    _check(isinstance(section, dict), "predictions", "an object", section)
    drifted = section.get("drifted")
    _check(isinstance(drifted, bool), "predictions.drifted", "true or false", drifted)
    columns = section.get("columns")
    _check(isinstance(columns, list), "predictions.columns", "an array", columns)
    for i, column in enumerate(columns):
        path = f"predictions.columns[{i}]"
        _check(isinstance(column, dict), path, "an object", column)
        for key in ("name", "kind", "method"):
            _check(isinstance(column.get(key), str), f"{path}.{key}", "a string", column.get(key))
        role = column.get("role")
        _check(role in ("prediction", "target"), f"{path}.role", "prediction or target", role)
        for key in ("threshold", "score", "pValue"):
            value = column.get(key)
            _check(value is None or _is_num(value), f"{path}.{key}", "a number", value)
        _check(column.get("drifted") in (0, 1), f"{path}.drifted", "0 or 1", column.get("drifted"))


def parse_time(value: str) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime, or None."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def record_features(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A parsed record's features as one dict per feature (the report's field names)."""
    columns, settings = record["features"], record["settings"]
    return [
        {
            "name": columns["name"][i],
            **{key: settings[columns["setting"][i]][key] for key in _SETTING_FIELDS},
            "score": columns["score"][i],
            "pValue": columns["pValue"][i],
            "drifted": columns["drifted"][i],
        }
        for i in range(len(columns["name"]))
    ]


def retraining_marks(records: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The distinct retraining Jobs the records name, oldest first (by their time)."""
    seen: dict[str, dict[str, str]] = {}
    for record in records:
        entry = record.get("retraining")
        if isinstance(entry, Mapping) and isinstance(entry.get("job"), str):
            seen.setdefault(
                entry["job"], {k: str(v) for k, v in entry.items() if isinstance(v, str)}
            )
    return sorted(seen.values(), key=lambda e: e.get("time", ""))
