"""The drift report document: a plain, JSON-serializable dict with a versioned schema.

The analysis layer builds the document; this module defines its version, checks
its stable core (:func:`validate_report`), writes it (:func:`dump_report`) and
reads it back (:func:`load_report`). docs/report-schema.md describes every field.

Only the standard library is used, so the operator (which never reads data)
can load reports and summaries without numpy or pyarrow.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import operator
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeGuard

from driftwarden.errors import DriftwardenError

SCHEMA_VERSION = "driftwarden.io/report/v1"

KINDS = ("numerical", "categorical")
SEVERITIES = ("error", "warning", "info")
REASONS = ("distribution", "missing", "distribution+missing")
DISTRIBUTION_TYPES = ("histogram", "categories")
# spec.model's columns in the report's ``predictions`` section.
MODEL_ROLES = ("prediction", "target")
MODEL_KINDS = ("label", "score", "value")
# Methods whose score is a p-value: a feature drifts when the score falls *below*
# the threshold. Must match driftwarden.analysis.settings.P_VALUE_METHODS (the
# report layer may not import analysis).
P_VALUE_METHODS = frozenset({"ks", "chisquare"})
# Label of the bucket that holds every category outside the kept top-K.
OTHER_CATEGORY = "__other__"

Document = dict[str, Any]


class ReportError(DriftwardenError, ValueError):
    """A report or summary document is malformed or of an unsupported version."""

    reason = "InvalidReport"


# ---------------------------------------------------------------- normalising


def to_jsonable(value: Any, path: str = "$") -> Any:
    """A deep copy of ``value`` made of JSON types only.

    NaN and infinities become ``None`` (JSON has no such numbers), tuples become
    lists, numpy scalars and arrays (anything with ``tolist()``) become Python
    numbers and lists, and aware datetimes become RFC 3339 strings in UTC.
    Raises :class:`ReportError` naming the path of a value that has no JSON form.
    """
    # One walk without JSON paths for the common report of plain values (a 1,000-feature
    # report holds ~60,000; formatting each one's path was half the walk). Only a value
    # with no JSON form walks again, to name its path.
    try:
        return _plain(value)
    except ReportError:
        return _to_jsonable(value, path)


def _plain(value: Any) -> Any:
    """:func:`to_jsonable` by exact type, for the types a report is made of; any other
    value goes to :func:`_to_jsonable` (ReportError without the right path: the caller
    walks again)."""
    kind = type(value)
    if kind is float:
        return value if _isfinite(value) else None
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise ReportError("a key that is not a string")
            out[key] = _plain(item)
        return out
    if kind is list or kind is tuple:
        for item in value:
            item_kind = type(item)
            if not (item_kind is int or (item_kind is float and _isfinite(item))):
                return [_plain(item) for item in value]
        return list(value)  # bins, edges and shares
    return _to_jsonable(value, "$")


_isfinite = math.isfinite


def _written_copy(value: dict, context: str) -> tuple[dict, Any]:
    """(:func:`to_jsonable` of ``value``, the same with every object's keys in the written
    order, as :func:`_ordered` gives) from one walk: the conversion copies every object
    anyway, so ordering it on the way costs a cached key-order lookup instead of a
    second walk of ~23,000 objects and lists at 1,000 features. The two share every
    object whose keys are already in order; scalars are converted in the loop, not by a
    call each. ReportError without the right path, as :func:`_plain`: the caller walks again.
    """
    plain: dict[str, Any] = {}
    moved: dict[str, Any] | None = None  # the children whose written copy differs
    converted: Any
    written: Any
    for key, item in value.items():
        if type(key) is not str:
            raise ReportError("a key that is not a string")
        kind = type(item)
        if kind is float:
            plain[key] = item if _isfinite(item) else None
        elif kind is str or kind is int or kind is bool or item is None:
            plain[key] = item
        else:
            if kind is dict:
                converted, written = _written_copy(item, key)
            elif kind is list or kind is tuple:
                converted, written = _written_list(item, key)
            else:  # numpy values, other mappings, datetimes: the general walk
                converted = _to_jsonable(item, "$")
                written = _ordered(converted, key)
            plain[key] = converted
            if written is not converted:
                if moved is None:
                    moved = {}
                moved[key] = written
    keys = tuple(plain)
    order = _key_order(context, keys)
    if moved is None:
        return plain, plain if order == keys else {key: plain[key] for key in order}
    return plain, {key: moved[key] if key in moved else plain[key] for key in order}


def _written_list(value: list | tuple, context: str) -> tuple[list, list]:
    """:func:`_written_copy` for an array, whose objects take the array's key as context."""
    for item in value:
        item_kind = type(item)
        if not (item_kind is int or (item_kind is float and _isfinite(item))):
            break
    else:
        plain = list(value)  # bins, edges and shares
        return plain, plain
    converted: list[Any] = []
    written: list[Any] = []
    for item in value:
        kind = type(item)
        one: Any
        other: Any
        if kind is dict:
            one, other = _written_copy(item, context)
        elif kind is list or kind is tuple:
            one, other = _written_list(item, context)
        else:
            one = _plain(item)
            other = (
                one if type(one) is not dict and type(one) is not list else _ordered(one, context)
            )
        converted.append(one)
        written.append(other)
    return converted, written if any(map(operator.is_not, written, converted)) else converted


def _to_jsonable(value: Any, path: str) -> Any:
    """:func:`to_jsonable`, carrying the JSON path of every value for its errors."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ReportError(f"{path}: object key {key!r} is not a string")
            out[key] = _to_jsonable(item, f"{path}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        if all(
            type(item) is int or (type(item) is float and math.isfinite(item)) for item in value
        ):
            return list(value)  # fast path: bins, edges and shares
        return [_to_jsonable(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ReportError(f"{path}: datetime {value.isoformat()} has no time zone")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, without importing numpy
    if callable(tolist):
        return _to_jsonable(tolist(), path)
    raise ReportError(f"{path}: a {type(value).__name__} value has no JSON form")


# ---------------------------------------------------------------- validation


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, (str, int, float, bool)) else _type_name(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(path: str, expected: str, value: Any) -> ReportError:
    return ReportError(f"invalid report: {path}: expected {expected}, got {_show(value)}")


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> TypeGuard[int | float]:
    kind = type(value)  # the exact types first: ~60,000 checks in a 1,000-feature report
    if kind is float:
        return _isfinite(value)
    if kind is int:
        return True
    # Integers are always finite; math.isfinite would overflow on huge ones.
    return _is_number(value) and (isinstance(value, int) or math.isfinite(value))


def _number(doc: Mapping[str, Any], key: str, path: str, *, null: bool = False) -> None:
    value = doc.get(key)
    if value is None and null:
        return
    if not _is_finite_number(value):
        raise _fail(f"{path}.{key}", "a finite number" + (" or null" if null else ""), value)


def _count(doc: Mapping[str, Any], key: str, path: str, *, null: bool = False) -> None:
    value = doc.get(key)
    if value is None and null:
        return
    if type(value) is int and value >= 0:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        expected = "a non-negative integer" + (" or null" if null else "")
        raise _fail(f"{path}.{key}", expected, value)


def _boolean(doc: Mapping[str, Any], key: str, path: str) -> None:
    if not isinstance(doc.get(key), bool):
        raise _fail(f"{path}.{key}", "true or false", doc.get(key))


def _string(doc: Mapping[str, Any], key: str, path: str, *, null: bool = False) -> None:
    value = doc.get(key)
    if value is None and null:
        return
    if not isinstance(value, str) or not value:
        raise _fail(f"{path}.{key}", "a non-empty string" + (" or null" if null else ""), value)


def _one_of(doc: Mapping[str, Any], key: str, path: str, allowed: Iterable[str | None]) -> None:
    allowed = tuple(allowed)
    if doc.get(key) not in allowed:
        shown = " | ".join("null" if a is None else repr(a) for a in allowed)
        raise _fail(f"{path}.{key}", shown, doc.get(key))


def _object(doc: Mapping[str, Any], key: str, path: str, *, null: bool = False) -> dict | None:
    value = doc.get(key)
    if value is None and null:
        return None
    if not isinstance(value, dict):
        raise _fail(f"{path}.{key}", "an object" + (" or null" if null else ""), value)
    return value


def _array(doc: Mapping[str, Any], key: str, path: str) -> list:
    value = doc.get(key)
    if not isinstance(value, list):
        raise _fail(f"{path}.{key}", "an array", value)
    return value


def _numbers(doc: Mapping[str, Any], key: str, path: str, length: int | None = None) -> list:
    values = _array(doc, key, path)
    for i, value in enumerate(values):
        if not _is_finite_number(value):
            raise _fail(f"{path}.{key}[{i}]", "a finite number", value)
    if length is not None and len(values) != length:
        raise ReportError(
            f"invalid report: {path}.{key}: expected {length} values, got {len(values)}"
        )
    return values


def _validate_source(doc: Mapping[str, Any], key: str) -> None:
    source = _object(doc, key, "$", null=True)
    if source is None:
        return
    _string(source, "uri", f"$.{key}", null=True)
    _count(source, "rows", f"$.{key}", null=True)
    window = _object(source, "window", f"$.{key}", null=True)
    if window is not None:
        for part in ("column", "start", "end"):
            _string(window, part, f"$.{key}.window", null=True)


def _validate_distribution(feature: Mapping[str, Any], path: str) -> None:
    dist = _object(feature, "distribution", path, null=True)
    if dist is None:
        return
    path = f"{path}.distribution"
    _one_of(dist, "type", path, DISTRIBUTION_TYPES)
    if dist["type"] == "histogram":
        edges = _numbers(dist, "edges", path)
        if any(b < a for a, b in itertools.pairwise(edges)):
            raise ReportError(f"invalid report: {path}.edges: expected ascending edges")
        bins = len(edges) + 1
    else:
        labels = _array(dist, "labels", path)
        for i, label in enumerate(labels):
            if not isinstance(label, str):
                raise _fail(f"{path}.labels[{i}]", "a string", label)
        bins = len(labels)
        _count(dist, "unseen", path, null=True)
    _numbers(dist, "reference", path, bins)
    _numbers(dist, "current", path, bins)


def _validate_root_cause(doc: Mapping[str, Any]) -> None:
    """``rootCause`` (informative; the HTML view and the summary read it)."""
    section = _object(doc, "rootCause", "$", null=True)
    if section is None:
        return
    path = "$.rootCause"
    _boolean(section, "triggered", path)
    for i, trigger in enumerate(_array(section, "triggers", path)):
        if not isinstance(trigger, str):
            raise _fail(f"{path}.triggers[{i}]", "a string", trigger)
    _string(section, "summary", path, null=True)
    top = _object(section, "top", path, null=True)
    if top is not None:
        _string(top, "feature", f"{path}.top")
        _number(top, "share", f"{path}.top")
    _object(section, "importance", path, null=True)
    for i, cause in enumerate(_array(section, "causes", path)):
        where = f"{path}.causes[{i}]"
        if not isinstance(cause, dict):
            raise _fail(where, "an object", cause)
        _string(cause, "feature", where)
        for key in ("share", "importance", "magnitude", "contribution"):
            _number(cause, key, where)
        _boolean(cause, "drifted", where)
    segments = section.get("segments")
    if segments is not None and not isinstance(segments, list):
        raise _fail(f"{path}.segments", "an array or null", segments)


# A feature's fields by kind, for the full check (_validate_feature) and its fast
# path (_feature_passes) alike.
_SIGNIFICANCE_NUMBERS = ("pValue", "rawPValue", "alpha")
_MISSING_NUMBERS = ("reference", "current", "score", "threshold", "pValue", "rawPValue")
_STATS_COUNTS = ("rows", "nulls", "nan", "inf", "distinct")
_STATS_NUMBERS = ("mean", "std", "min", "max")
_REASONS_OR_NULL = (*REASONS, None)


def _validate_feature(feature: Any, path: str) -> None:
    if not isinstance(feature, dict):
        raise _fail(path, "an object", feature)
    _string(feature, "name", path)
    _one_of(feature, "kind", path, KINDS)
    _string(feature, "method", path)
    _number(feature, "score", path, null=True)
    _number(feature, "pValue", path, null=True)
    _number(feature, "threshold", path)
    _number(feature, "rawPValue", path, null=True)
    _boolean(feature, "drifted", path)
    # Informative fields: optional, but well-formed when present.
    _one_of(feature, "reason", path, _REASONS_OR_NULL)
    significance = _object(feature, "significance", path, null=True)
    if significance is not None:
        for key in _SIGNIFICANCE_NUMBERS:
            _number(significance, key, f"{path}.significance", null=True)
    missing = _object(feature, "missing", path, null=True)
    if missing is not None:
        for key in _MISSING_NUMBERS:
            _number(missing, key, f"{path}.missing", null=True)
    scores = _object(feature, "scores", path, null=True)
    if scores is not None:
        for key in scores:
            _number(scores, key, f"{path}.scores", null=True)
    for side in ("reference", "current"):
        stats = _object(feature, side, path, null=True)
        if stats is not None:
            for key in _STATS_COUNTS:
                _count(stats, key, f"{path}.{side}", null=True)
            for key in _STATS_NUMBERS:
                _number(stats, key, f"{path}.{side}", null=True)
    _validate_distribution(feature, path)


def _finite_or_null(values: Iterable[Any]) -> bool:
    """Whether every value is null or a finite int or float, by exact type (a bool or
    a subclass answers False: the full check decides)."""
    for value in values:
        kind = type(value)
        if kind is float:
            if not _isfinite(value):
                return False
        elif not (kind is int or value is None):
            return False
    return True


def _finite_numbers(values: list) -> bool:
    """Whether every value is a finite int or float, by exact type."""
    for value in values:
        kind = type(value)
        if not ((kind is float and _isfinite(value)) or kind is int):
            return False
    return True


def _feature_passes(feature: Any) -> bool:
    """True only when :func:`_validate_feature` would pass ``feature``; False says
    nothing (the full check then runs and names the problem). The common feature in
    one call and no paths: the full check's ~60 calls and ~30 path strings a feature
    were ~10 ms of writing a 1,000-feature report."""
    if type(feature) is not dict:
        return False
    get = feature.get
    name, method = get("name"), get("method")
    if not (type(name) is str and name and type(method) is str and method):
        return False
    if get("kind") not in KINDS or get("reason") not in _REASONS_OR_NULL:
        return False
    if type(get("drifted")) is not bool or not _finite_numbers([get("threshold")]):
        return False
    if not _finite_or_null((get("score"), get("pValue"), get("rawPValue"))):
        return False
    for key, numbers in (("significance", _SIGNIFICANCE_NUMBERS), ("missing", _MISSING_NUMBERS)):
        section = get(key)
        if section is not None and (
            type(section) is not dict or not _finite_or_null(map(section.get, numbers))
        ):
            return False
    scores = get("scores")
    if scores is not None and (type(scores) is not dict or not _finite_or_null(scores.values())):
        return False
    for side in ("reference", "current"):
        stats = get(side)
        if stats is None:
            continue
        if type(stats) is not dict or not _finite_or_null(map(stats.get, _STATS_NUMBERS)):
            return False
        for count in map(stats.get, _STATS_COUNTS):
            if not (count is None or (type(count) is int and count >= 0)):
                return False
    dist = get("distribution")
    if dist is None:
        return True
    if type(dist) is not dict or dist.get("type") != "histogram":
        return False  # categories: rarer, the full check
    edges, reference, current = dist.get("edges"), dist.get("reference"), dist.get("current")
    if not (type(edges) is list and type(reference) is list and type(current) is list):
        return False
    bins = len(edges) + 1
    return (
        len(reference) == bins
        and len(current) == bins
        and _finite_numbers(edges)
        and _finite_numbers(reference)
        and _finite_numbers(current)
        and all(map(operator.le, edges, itertools.islice(edges, 1, None)))
    )


def _validate_predictions(doc: Mapping[str, Any]) -> None:
    """``predictions`` (spec.model's prediction and target columns): null, or counts consistent
    with its columns, each shaped like a feature with a role."""
    section = _object(doc, "predictions", "$", null=True)
    if section is None:
        return
    path = "$.predictions"
    for key in ("drifted", "predictionDrifted"):
        _boolean(section, key, path)
    if section.get("targetDrifted") is not None:
        _boolean(section, "targetDrifted", path)
    _count(section, "driftedColumns", path)
    _count(section, "totalColumns", path)
    columns = _array(section, "columns", path)
    for i, column in enumerate(columns):
        _validate_feature(column, f"{path}.columns[{i}]")
        _one_of(column, "role", f"{path}.columns[{i}]", MODEL_ROLES)
        _one_of(column, "modelKind", f"{path}.columns[{i}]", MODEL_KINDS)
    if section["totalColumns"] != len(columns) or section["driftedColumns"] != sum(
        1 for c in columns if c["drifted"]
    ):
        raise ReportError(
            f"invalid report: {path}: totalColumns/driftedColumns disagree with its columns"
        )
    for i, item in enumerate(_array(section, "notCompared", path)):
        if not isinstance(item, dict):
            raise _fail(f"{path}.notCompared[{i}]", "an object", item)
        _string(item, "name", f"{path}.notCompared[{i}]")
        _one_of(item, "role", f"{path}.notCompared[{i}]", MODEL_ROLES)
        _string(item, "reason", f"{path}.notCompared[{i}]")


def validate_report(doc: Any) -> None:
    """Check the stable core of a report; raise :class:`ReportError` (a ValueError) if broken.

    The message names the JSON path of the first problem, e.g.
    ``invalid report: $.features[3].score: expected a finite number or null, got 'high'``.
    Checked: the schema version; ``dataset`` (drifted, driftShare, driftedFeatures,
    totalFeatures) and its consistency with ``features``; each feature's name
    (unique), kind, method, score, pValue, threshold and drifted; and, when
    present, the shape of the informative fields that the summary and the HTML
    view read (findings, missing, distribution, per-side statistics).

    ``doc`` is checked as it will be written, so NaN is accepted where null is
    (``dump_report`` writes it as null) and numpy scalars are accepted.
    """
    validate_jsonable(to_jsonable(doc))


class PreparedReport(dict[str, Any]):
    """A report already passed through :func:`to_jsonable` and :func:`validate_jsonable`.

    Made by :func:`prepare_report`. The writers (:func:`dump_report`, ``build_summary``,
    ``render_html``) take it as it is instead of converting and checking it again:
    at 1,000 features each conversion walks ~60,000 values. Treat it as read-only;
    a changed copy must go through :func:`prepare_report` again.

    Its own keys keep the analysis's order, which the HTML view shows (a feature's
    scores and error bounds); ``written`` is the same document in the order
    :func:`dump_report` writes, made by the same walk (None: ordered when written).
    """

    written: dict[str, Any] | None = None
    # (features, their drift ratios) most drifted first: see ranked_features. Read-only.
    ranked: tuple[list[Any], list[float | None]] | None = None


def prepare_report(doc: Mapping[str, Any]) -> PreparedReport:
    """``doc`` converted to JSON types once and validated once, for every writer to share.

    Raises :class:`ReportError` as :func:`validate_report` does. A
    :class:`PreparedReport` is returned unchanged.
    """
    if isinstance(doc, PreparedReport):
        return doc
    written = None
    if type(doc) is dict:
        try:
            plain, written = _written_copy(doc, "$")
        except ReportError:  # walk again with paths, for the error's path
            plain = _to_jsonable(doc, "$")
    else:
        plain = to_jsonable(doc)
    validate_jsonable(plain)
    prepared = PreparedReport(plain)
    prepared.written = written
    return prepared


def validate_jsonable(doc: Any) -> None:
    """:func:`validate_report` for a document already passed through :func:`to_jsonable`."""
    if not isinstance(doc, dict):
        raise _fail("$", "an object", doc)
    version = doc.get("schemaVersion")
    if version != SCHEMA_VERSION:
        raise ReportError(
            f"invalid report: $.schemaVersion: expected {SCHEMA_VERSION!r}, got {_show(version)}"
        )
    _object(doc, "monitor", "$", null=True)
    _validate_source(doc, "reference")
    _validate_source(doc, "current")
    _object(doc, "settings", "$", null=True)
    _number(doc, "durationSeconds", "$", null=True)
    performance = _object(doc, "performance", "$", null=True)
    if performance is not None:  # the verdict the summary and the status read
        _boolean(performance, "degraded", "$.performance")

    dataset = _object(doc, "dataset", "$")
    assert dataset is not None
    _boolean(dataset, "drifted", "$.dataset")
    _number(dataset, "driftShare", "$.dataset")
    if not 0.0 <= dataset["driftShare"] <= 1.0:
        raise _fail("$.dataset.driftShare", "a share between 0 and 1", dataset["driftShare"])
    _count(dataset, "driftedFeatures", "$.dataset")
    _count(dataset, "totalFeatures", "$.dataset")
    _number(dataset, "threshold", "$.dataset", null=True)

    features = _array(doc, "features", "$")
    seen: dict[str, int] = {}
    for i, feature in enumerate(features):
        if not _feature_passes(feature):
            _validate_feature(feature, f"$.features[{i}]")
        name = feature["name"]
        if name in seen:
            raise ReportError(
                f"invalid report: $.features[{i}].name: feature {name!r} already listed at "
                f"$.features[{seen[name]}]"
            )
        seen[name] = i
    if dataset["totalFeatures"] != len(features):
        raise ReportError(
            f"invalid report: $.dataset.totalFeatures: is {dataset['totalFeatures']} but "
            f"$.features lists {len(features)} features"
        )
    drifted = sum(1 for f in features if f["drifted"])
    if dataset["driftedFeatures"] != drifted:
        raise ReportError(
            f"invalid report: $.dataset.driftedFeatures: is {dataset['driftedFeatures']} but "
            f"{drifted} of $.features are drifted"
        )

    _validate_predictions(doc)
    _validate_root_cause(doc)

    findings = doc.get("findings", [])
    if not isinstance(findings, list):
        raise _fail("$.findings", "an array", findings)
    for i, finding in enumerate(findings):
        path = f"$.findings[{i}]"
        if not isinstance(finding, dict):
            raise _fail(path, "an object", finding)
        _one_of(finding, "severity", path, SEVERITIES)
        _string(finding, "code", path)
        _string(finding, "feature", path, null=True)
        _string(finding, "message", path)


# ---------------------------------------------------------------- ranking


def drift_ratio(feature: Mapping[str, Any]) -> float | None:
    """How far a feature is past its threshold: above 1 means beyond it.

    Effect-size methods: ``score / threshold``. p-value methods (:data:`P_VALUE_METHODS`,
    whose ``score`` is the test statistic and ``pValue`` decides): ``threshold / pValue``. When a missing-rate
    comparison is present, the larger of that ratio and ``missing.score /
    missing.threshold`` counts. ``None`` when nothing was scored.
    """
    ratios = []
    score, threshold = _finite(feature.get("score")), _finite(feature.get("threshold"))
    if feature.get("method") in P_VALUE_METHODS:
        p = _finite(feature.get("pValue"))
        if p is not None and threshold is not None:
            ratios.append(_divide(threshold, p))
    elif score is not None and threshold is not None:
        ratios.append(_divide(score, threshold))
    missing = feature.get("missing")
    if isinstance(missing, Mapping):
        m_score, m_threshold = _finite(missing.get("score")), _finite(missing.get("threshold"))
        if m_score is not None and m_threshold is not None:
            ratios.append(_divide(m_score, m_threshold))
    return max(ratios) if ratios else None


def _finite(value: Any) -> float | None:
    if type(value) is float:  # the common case first: 8 calls a feature in the HTML view
        return value if _isfinite(value) else None
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        return None
    return number if math.isfinite(number) else None


def _divide(a: float, b: float) -> float:
    if b > 0:
        return a / b
    return math.inf if a > b else 0.0


def drift_rank_key(feature: Mapping[str, Any]) -> tuple[int, float]:
    """Sort key putting the most drifted first: drifted ones, then by :func:`drift_ratio`."""
    return _rank_key(feature, drift_ratio(feature))


def _rank_key(feature: Mapping[str, Any], ratio: float | None) -> tuple[int, float]:
    """:func:`drift_rank_key` of ``feature`` whose drift ratio is ``ratio``."""
    return (0 if feature.get("drifted") else 1, -ratio if ratio is not None else math.inf)


def sort_features(features: Iterable[Mapping[str, Any]]) -> list[Any]:
    """Features most drifted first (stable: ties keep their order). The report's own order."""
    return sorted(features, key=drift_rank_key)


def ranked_features(doc: Mapping[str, Any]) -> tuple[list[Any], list[float | None]]:
    """``doc``'s features as :func:`sort_features` orders them, and each one's
    :func:`drift_ratio`. Kept on a :class:`PreparedReport`: the HTML view and the
    summary both rank the features, and the view's table shows the ratio, so each
    ratio is computed once, not three times (~3,000 calls at 1,000 features)."""
    ranked = doc.ranked if isinstance(doc, PreparedReport) else None
    if ranked is not None:
        return ranked
    features = doc["features"]
    ratios = [drift_ratio(feature) for feature in features]
    keys = list(map(_rank_key, features, ratios))  # drift_rank_key's, ratios computed once
    order = sorted(range(len(keys)), key=keys.__getitem__)  # stable, as sort_features
    ranked = ([features[i] for i in order], [ratios[i] for i in order])
    if isinstance(doc, PreparedReport):
        doc.ranked = ranked
    return ranked


# ---------------------------------------------------------------- writing and reading

# Key order when writing, per enclosing key; keys not listed follow alphabetically.
_SOURCE = ("uri", "source", "format", "rows", "fingerprint", "profileCached", "window")
_STATS = ("rows", "nulls", "nan", "inf", "mean", "std", "min", "max", "distinct")
_KEY_ORDER: dict[str, tuple[str, ...]] = {
    "$": (
        "schemaVersion",
        "generatedAt",
        "driftwardenVersion",
        "monitor",
        "reference",
        "current",
        "settings",
        "dataset",
        "rootCause",
        "findings",
        "features",
        "durationSeconds",
    ),
    "monitor": ("name", "namespace"),
    "rootCause": ("triggered", "triggers", "summary", "top", "importance", "causes", "segments"),
    "causes": ("feature", "kind", "share", "importance", "magnitude", "contribution", "drifted"),
    "reference": _SOURCE + _STATS,
    "current": _SOURCE + _STATS,
    "window": ("column", "start", "end"),
    "settings": (
        "numerical",
        "categorical",
        "significance",
        "correction",
        "driftShare",
        "missingThreshold",
        "overrides",
    ),
    "numerical": ("method", "threshold"),
    "categorical": ("method", "threshold"),
    "overrides": ("feature", "method", "threshold"),
    "dataset": ("drifted", "driftShare", "driftedFeatures", "totalFeatures", "threshold"),
    "features": (
        "name",
        "kind",
        "method",
        "score",
        "pValue",
        "rawPValue",
        "threshold",
        "drifted",
        "reason",
        "significance",
        "missing",
        "scores",
        "reference",
        "current",
        "distribution",
        "exact",
        "errorBound",
    ),
    "significance": ("test", "pValue", "rawPValue", "alpha"),
    "missing": ("reference", "current", "score", "threshold", "pValue", "rawPValue", "drifted"),
    "scores": (
        "psi",
        "ks",
        "wasserstein",
        "jensenshannon",
        "kl",
        "hellinger",
        "tvd",
        "chisquare",
    ),
    "distribution": ("type", "edges", "labels", "reference", "current", "unseen"),
    "findings": ("severity", "code", "feature", "message"),
}


def _ordered(value: Any, context: str) -> Any:
    """``value`` with every object's keys in the written order. Never changes ``value``:
    an object already in order (a feature's own keys, its statistics) is taken as it is
    unless something inside it moves, which spares ~a third of the walk at 1,000 features."""
    if isinstance(value, dict):
        keys = tuple(value)
        order = _key_order(context, keys)
        if order != keys:
            return {key: _ordered(value[key], key) for key in order}
        changed: dict[str, Any] | None = None
        for key, item in value.items():
            if isinstance(item, dict | list):
                moved = _ordered(item, key)
                if moved is not item:
                    changed = dict(value) if changed is None else changed
                    changed[key] = moved
        return value if changed is None else changed
    if isinstance(value, list):
        if _SCALARS.issuperset(map(type, value)):
            return value  # bins, edges and shares: nothing inside to order, nor to copy
        items = [_ordered(item, context) for item in value]
        return value if all(map(operator.is_, items, value)) else items
    return value


# What to_jsonable leaves in a list that holds no object or array.
_SCALARS = frozenset({int, float, str, bool, type(None)})


@functools.lru_cache(maxsize=256)
def _key_order(context: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    """``keys`` in the written order: :data:`_KEY_ORDER`'s first, then by name. Every
    feature repeats the same few key sets, so each is sorted once, not per feature."""
    order = _KEY_ORDER.get(context, ())
    rank = {key: i for i, key in enumerate(order)}
    return tuple(sorted(keys, key=lambda k: (rank.get(k, len(order)), k)))


# Stands in for the feature list while the rest of the document is indented.
_FEATURES_SLOT = "\x00driftwarden-features\x00"


def dump_report(doc: Mapping[str, Any], *, indent: int | None = 1) -> str:
    """The report as JSON text with a stable key order, ending in a newline.

    With ``indent``, the document is indented but each feature is one compact line:
    at 1,000 features that keeps the file a quarter smaller than indenting everything
    and lets ``grep`` find a feature whole. ``indent=None`` writes one line.
    NaN and infinities are written as null, numpy values as plain numbers. The
    document is not validated here: call :func:`validate_report` first.
    """
    if isinstance(doc, PreparedReport):
        plain = doc.written if doc.written is not None else _ordered(doc, "$")
    else:
        plain = _ordered(to_jsonable(doc), "$")
    options: dict[str, Any] = {"ensure_ascii": False, "allow_nan": False}
    features = plain.get("features") if isinstance(plain, dict) else None
    if indent is None or not isinstance(features, list) or not features:
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(plain, indent=indent, separators=separators, **options) + "\n"
    text = json.dumps({**plain, "features": _FEATURES_SLOT}, indent=indent, **options)
    pad = " " * (2 * indent)
    # One encoder for all features. A prepared report is a tree made by prepare_report's
    # walk (a cycle would have failed it), so the encoder's cycle check has nothing to find.
    encode = json.JSONEncoder(
        separators=(",", ":"), check_circular=not isinstance(doc, PreparedReport), **options
    ).encode
    lines = (",\n" + pad).join(map(encode, features))  # the pad joined in, not added to each
    slot = json.dumps(_FEATURES_SLOT, **options)
    return text.replace(slot, "[\n" + pad + lines + "\n" + " " * indent + "]", 1) + "\n"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """Parse JSON text that must hold an object; :class:`ReportError` names ``what`` if not."""
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ReportError(f"{what} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except ValueError as exc:
        raise ReportError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ReportError(f"{what} must be a JSON object, got {_type_name(value)}")
    return value


def load_report(text: str | bytes) -> Document:
    """Parse and validate a report written by :func:`dump_report`.

    Raises :class:`ReportError` when the text is not JSON, when its
    ``schemaVersion`` is not :data:`SCHEMA_VERSION` (the message names the
    version found), or when :func:`validate_report` finds a problem.
    """
    doc = parse_json_object(text, "the drift report")
    version = doc.get("schemaVersion")
    if version != SCHEMA_VERSION:
        found = "no schemaVersion" if version is None else f"schemaVersion {_show(version)}"
        raise ReportError(
            f"the drift report has {found}; this driftwarden reads {SCHEMA_VERSION!r}",
            hint="render it with the driftwarden version that wrote it",
        )
    validate_report(doc)
    return doc
