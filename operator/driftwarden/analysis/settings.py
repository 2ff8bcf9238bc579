"""What one analysis run is asked to do, parsed from CLI flags or a DriftMonitor spec.

This module is pure (no I/O) so the operator validates a spec with exactly the
code the analysis Job will run: ``monitor`` imports it for that reason. It
imports only the standard library and driftwarden's pure modules (durations,
errors, formats): the operator process must not load pyarrow, numpy or scipy
(tests/monitor/test_operator_imports.py checks it).
Field names in specs are camelCase, as in every Kubernetes API.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from driftwarden import formats as data_formats
from driftwarden.analysis import reference as ref
from driftwarden.durations import format_duration, parse_duration
from driftwarden.errors import ConfigError

if TYPE_CHECKING:
    from driftwarden.analysis.model_settings import ModelSettings

NUMERICAL_METHODS = ("wasserstein", "psi", "ks", "jensenshannon", "kl", "hellinger", "tvd")
CATEGORICAL_METHODS = ("jensenshannon", "psi", "chisquare", "kl", "hellinger", "tvd")
# For these the score is a p-value and a feature drifts when it falls *below* the threshold.
P_VALUE_METHODS = frozenset({"ks", "chisquare"})
CORRECTIONS = ("bonferroni", "benjamini-hochberg", "none")

# Defaults are effect sizes, so they stay quiet on large undrifted data; see
# docs/statistics.md for how each threshold was chosen.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "wasserstein": 0.1,
    "psi": 0.2,
    "ks": 0.05,
    "jensenshannon": 0.1,
    "kl": 0.1,
    "hellinger": 0.1,
    "tvd": 0.1,
    "chisquare": 0.05,
}
# Bounds of what travels to the analysis pod. The spec reaches it in environment
# variables (DRIFTWARDEN_MONITOR and its chunks, each under Linux's 128 KiB per
# variable; driftwarden.envchunks), all of them within the exec's 2 MiB ARG_MAX and
# the Job within etcd's ~1.5 MiB per object, so the CRD and this parser bound every
# string and list of it: with these numbers the largest admissible spec encodes to
# about 758 KiB, under a 768 KiB budget (tests/monitor/test_crd_bounds.py builds it
# from the CRD). The CRD holds the same numbers.
MAX_PATH_LENGTH = 1024  # a URI; S3 and GCS keys are at most 1,024 bytes
# spec.output.path leaves room for the /<monitor>/<run> (63 characters each) that
# the analysis Job appends, so the path the Job is given is within MAX_PATH_LENGTH.
MAX_OUTPUT_PATH_LENGTH = MAX_PATH_LENGTH - 128
MAX_COLUMN_NAME_LENGTH = 128
MAX_FEATURE_LIST = {"include": 512, "exclude": 256, "categorical": 256, "numerical": 128}
# 240, not 256: spec.model's performance part took the room of 16 (test_crd_bounds.py).
MAX_OVERRIDES = 240
MAX_REGION_LENGTH = 64
# Control characters in a path or column name are refused: never meant, and each
# one grows to six bytes (\u0001) in the JSON that travels.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Upper bounds of each score, so a threshold outside them (never reachable) is refused.
_SCORE_UPPER = {"jensenshannon": 1.0, "hellinger": 1.0, "tvd": 1.0, "ks": 1.0, "chisquare": 1.0}


@dataclass(frozen=True)
class MethodSetting:
    """A drift method and the threshold at which a feature counts as drifted."""

    method: str
    threshold: float

    @property
    def is_p_value(self) -> bool:
        return self.method in P_VALUE_METHODS


@dataclass(frozen=True)
class DetectionSettings:
    """How features are compared and when the dataset counts as drifted."""

    numerical: MethodSetting = MethodSetting("wasserstein", DEFAULT_THRESHOLDS["wasserstein"])
    categorical: MethodSetting = MethodSetting("jensenshannon", DEFAULT_THRESHOLDS["jensenshannon"])
    overrides: Mapping[str, MethodSetting] = field(default_factory=dict)
    correction: str = "bonferroni"
    drift_share: float = 0.5
    # Effect-size methods also need a significant test (KS, chi-square, two-proportion)
    # at this level, so tiny samples whose noise looks like a large effect stay quiet.
    # None switches the gate off.
    significance: float | None = 0.05
    # Cohen's h between missing-value rates at which a feature drifts regardless of values.
    missing_threshold: float | None = 0.1


@dataclass(frozen=True)
class FeatureSelection:
    """Which columns are compared and which are forced to a kind."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    numerical: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProfileSettings:
    """Knobs of the column profiles; part of the reference-profile cache key."""

    bins: int = 10
    sample_size: int = 32768
    max_categories: int = 10000
    top_categories: int = 50
    seed: int = 0


@dataclass(frozen=True)
class SourceConfig:
    """One side of the comparison: where the data is and which rows count."""

    path: str
    format: str = "parquet"
    partitioning: str | None = "hive"
    timestamp_column: str | None = None
    window: timedelta | None = None
    # The window closes this long before the slot (rolling and offset references).
    offset: timedelta | None = None


@dataclass(frozen=True)
class StorageConfig:
    """How to reach object storage. Credentials never live here: they come from env vars."""

    endpoint: str | None = None
    region: str | None = None
    anonymous: bool = False
    secret_name: str | None = None


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything a run needs besides the data itself."""

    detection: DetectionSettings = field(default_factory=DetectionSettings)
    features: FeatureSelection = field(default_factory=FeatureSelection)
    profile: ProfileSettings = field(default_factory=ProfileSettings)
    # spec.model (analysis/model_settings.py); None for a plain feature-drift monitor.
    model: ModelSettings | None = None

    def method_for(self, feature: str, kind: str) -> MethodSetting:
        """The method and threshold that apply to one feature of a kind."""
        override = self.detection.overrides.get(feature)
        if override is not None:
            return override
        return self.detection.numerical if kind == "numerical" else self.detection.categorical


@dataclass(frozen=True)
class RunConfig:
    """A whole run as declared: sources, storage, settings and where results go."""

    reference: SourceConfig
    current: SourceConfig
    storage: StorageConfig = field(default_factory=StorageConfig)
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    output: str | None = None
    # spec.reference.mode (fixed, rolling, offset), and where this run's reference comes
    # from: spec, rolling, offset, or promoted (status.reference, after retraining).
    reference_mode: str = ref.FIXED
    reference_source: str = ref.SOURCE_SPEC


# ---------------------------------------------------------------- parsing


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as a mapping (None: empty); ConfigError naming ``where`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
    return value


def check_keys(section: Mapping[str, Any], allowed: set[str], where: str) -> None:
    """Refuse fields a section does not know, listing the ones it does."""
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {', '.join(map(str, unknown))}",
            hint=f"allowed: {', '.join(sorted(allowed))}",
        )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range
        number = math.inf
    if not math.isfinite(number):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return number


def bounded_text(value: Any, where: str, max_length: int, what: str) -> str:
    """``value`` as a non-empty string of at most ``max_length`` characters, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {what} is required, got {value!r}")
    if len(value) > max_length:
        raise ConfigError(
            f"{where}: {len(value)} characters is too long for {what}",
            hint=f"at most {max_length} characters",
        )
    if _CONTROL.search(value):
        raise ConfigError(
            f"{where}: {value!r} contains a control character",
            hint=f"write {what} without control characters",
        )
    return value


def parse_path(value: Any, where: str, max_length: int = MAX_PATH_LENGTH) -> str:
    """A data or output location (path or URI), bounded as the CRD bounds it."""
    what = "a path or URI (s3://…, gs://…, file://…, /local/dir)"
    return bounded_text(value, where, max_length, what).strip()


def _column(value: Any, where: str) -> str:
    return bounded_text(value, where, MAX_COLUMN_NAME_LENGTH, "a column name")


def _names(value: Any, where: str, max_items: int) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected a list of column names, got {value!r}")
    if len(value) > max_items:
        raise ConfigError(
            f"{where}: {len(value)} columns is more than the {max_items} a monitor may list",
            hint="list the few columns to leave out (features.exclude) or rely on type inference",
        )
    return tuple(_column(v, f"{where}[{i}]") for i, v in enumerate(value))


def method_setting(method: Any, threshold: Any, *, kind: str | None, where: str) -> MethodSetting:
    """Validate one method/threshold pair; ``kind`` restricts the methods allowed."""
    allowed = {
        "numerical": NUMERICAL_METHODS,
        "categorical": CATEGORICAL_METHODS,
        None: tuple(dict.fromkeys(NUMERICAL_METHODS + CATEGORICAL_METHODS)),
    }[kind]
    if not isinstance(method, str) or method.lower() not in allowed:
        raise ConfigError(
            f"{where}.method: unknown method {method!r} for {kind or 'any'} features",
            hint=f"choose one of {', '.join(allowed)}",
        )
    method = method.lower()
    value = (
        DEFAULT_THRESHOLDS[method]
        if threshold is None
        else _number(threshold, f"{where}.threshold")
    )
    upper = _SCORE_UPPER.get(method)
    if value <= 0 or (upper is not None and value > upper):
        bound = f"in (0, {upper:g}]" if upper is not None else "greater than 0"
        what = "a p-value level" if method in P_VALUE_METHODS else "a distance"
        raise ConfigError(
            f"{where}.threshold: {value:g} is out of range for {method}",
            hint=f"{method} takes {what} {bound}",
        )
    return MethodSetting(method, value)


def parse_detection(spec: Any, where: str = "spec.detection") -> DetectionSettings:
    """Parse ``spec.detection`` into DetectionSettings, with defaults for what is absent."""
    section = as_mapping(spec, where)
    check_keys(
        section,
        {
            "numerical",
            "categorical",
            "overrides",
            "correction",
            "driftShare",
            "significance",
            "missingThreshold",
        },
        where,
    )
    defaults = DetectionSettings()
    settings: dict[str, Any] = {}
    for kind in ("numerical", "categorical"):
        if kind in section:
            sub = as_mapping(section[kind], f"{where}.{kind}")
            check_keys(sub, {"method", "threshold"}, f"{where}.{kind}")
            # Without a threshold, method_setting takes the method's default one.
            method = sub.get("method", getattr(defaults, kind).method)
            settings[kind] = method_setting(
                method, sub.get("threshold"), kind=kind, where=f"{where}.{kind}"
            )
    overrides: dict[str, MethodSetting] = {}
    raw_overrides = section.get("overrides") or []
    if not isinstance(raw_overrides, list):
        raise ConfigError(f"{where}.overrides: expected a list, got {raw_overrides!r}")
    if len(raw_overrides) > MAX_OVERRIDES:
        raise ConfigError(
            f"{where}.overrides: {len(raw_overrides)} overrides is more than {MAX_OVERRIDES}",
            hint="set the method for a whole kind in detection.numerical/categorical instead",
        )
    for i, item in enumerate(raw_overrides):
        item_where = f"{where}.overrides[{i}]"
        item = as_mapping(item, item_where)
        check_keys(item, {"feature", "method", "threshold"}, item_where)
        name = _column(item.get("feature"), f"{item_where}.feature")
        if name in overrides:
            raise ConfigError(f"{item_where}.feature: {name!r} is overridden twice")
        overrides[name] = method_setting(
            item.get("method"), item.get("threshold"), kind=None, where=item_where
        )
    settings["overrides"] = overrides
    if "correction" in section:
        correction = str(section["correction"]).lower()
        if correction not in CORRECTIONS:
            raise ConfigError(
                f"{where}.correction: unknown correction {section['correction']!r}",
                hint=f"choose one of {', '.join(CORRECTIONS)}",
            )
        settings["correction"] = correction
    if "driftShare" in section:
        share = _number(section["driftShare"], f"{where}.driftShare")
        if not 0 < share <= 1:
            raise ConfigError(f"{where}.driftShare: {share:g} must be in (0, 1]")
        settings["drift_share"] = share
    for key, attr in (("significance", "significance"), ("missingThreshold", "missing_threshold")):
        if key in section:
            if section[key] is None:
                settings[attr] = None
                continue
            value = _number(section[key], f"{where}.{key}")
            upper = 1.0 if key == "significance" else 3.2  # Cohen's h is at most pi
            if not 0 <= value < upper:
                raise ConfigError(f"{where}.{key}: {value:g} must be in [0, {upper:g})")
            settings[attr] = value or None
    return replace(defaults, **settings)


def parse_features(spec: Any, where: str = "spec.features") -> FeatureSelection:
    """Parse ``spec.features`` (include, exclude, categorical, numerical lists)."""
    section = as_mapping(spec, where)
    check_keys(section, {"include", "exclude", "categorical", "numerical"}, where)
    selection = FeatureSelection(
        **{
            key: _names(section.get(key), f"{where}.{key}", max_items)
            for key, max_items in MAX_FEATURE_LIST.items()
        }
    )
    both = sorted(set(selection.categorical) & set(selection.numerical))
    if both:
        raise ConfigError(f"{where}: {', '.join(both)} declared both categorical and numerical")
    return selection


def parse_profile(spec: Any, where: str = "spec.profile") -> ProfileSettings:
    """Parse ``spec.profile`` (bins, sampleSize, maxCategories, topCategories)."""
    section = as_mapping(spec, where)
    keys = {
        "bins": (2, 1000),
        "sampleSize": (1000, 10_000_000),
        "maxCategories": (10, 10_000_000),
        "topCategories": (2, 1000),
    }
    check_keys(section, set(keys), where)
    values: dict[str, int] = {}
    attr = {
        "bins": "bins",
        "sampleSize": "sample_size",
        "maxCategories": "max_categories",
        "topCategories": "top_categories",
    }
    for key, (low, high) in keys.items():
        if key in section:
            value = section[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(
                    f"{where}.{key}: expected an integer in [{low}, {high}], got {value!r}"
                )
            values[attr[key]] = value
    return ProfileSettings(**values)


def normalize_format(value: Any, where: str) -> str:
    """Map a format name (and its aliases) to one of FORMATS; the error names ``where``."""
    try:
        return data_formats.normalize_format(value)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error.message}", hint=error.hint) from None


def parse_source(spec: Any, where: str) -> SourceConfig:
    """Parse ``spec.reference`` or ``spec.current``."""
    section = as_mapping(spec, where)
    check_keys(section, {"path", "format", "partitioning", "timestampColumn", "window"}, where)
    path = parse_path(section.get("path"), f"{where}.path")
    partitioning = section.get("partitioning", "hive")
    if partitioning not in ("hive", "none", None):
        raise ConfigError(f"{where}.partitioning: expected hive or none, got {partitioning!r}")
    window = section.get("window")
    timestamp_column = section.get("timestampColumn")
    if timestamp_column is not None:
        timestamp_column = _column(timestamp_column, f"{where}.timestampColumn")
    if window is not None and not timestamp_column:
        raise ConfigError(
            f"{where}.window: needs {where}.timestampColumn to know which rows fall in it"
        )
    return SourceConfig(
        path=path,
        format=(
            normalize_format(section["format"], f"{where}.format")
            if section.get("format") is not None
            # Unambiguous extensions decide (data.csv, logs/*.jsonl.gz), else parquet.
            else data_formats.format_from_extension(path) or "parquet"
        ),
        partitioning=None if partitioning in ("none", None) else "hive",
        timestamp_column=timestamp_column,
        window=None if window is None else parse_duration(window, field=f"{where}.window"),
    )


def parse_storage(spec: Any, where: str = "spec.storage") -> StorageConfig:
    """Parse ``spec.storage``; credentials are only ever referenced by Secret name."""
    section = as_mapping(spec, where)
    check_keys(section, {"endpoint", "region", "anonymous", "secretRef"}, where)
    secret = as_mapping(section.get("secretRef"), f"{where}.secretRef")
    check_keys(secret, {"name"}, f"{where}.secretRef")
    if "secretRef" in section and (
        not isinstance(secret.get("name"), str) or not secret.get("name")
    ):
        raise ConfigError(
            f"{where}.secretRef.name: the name of a Secret is required",
            hint="the Secret holds AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; omit secretRef to use the pod's identity",
        )
    endpoint = section.get("endpoint")
    if endpoint is not None:
        endpoint = bounded_text(endpoint, f"{where}.endpoint", MAX_PATH_LENGTH, "an endpoint URL")
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.endpoint: {endpoint!r} must start with http:// or https://")
    region = section.get("region")
    if region is not None:
        region = bounded_text(region, f"{where}.region", MAX_REGION_LENGTH, "a region")
    anonymous = section.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise ConfigError(f"{where}.anonymous: expected true or false, got {anonymous!r}")
    return StorageConfig(
        endpoint=endpoint,
        region=region,
        anonymous=anonymous,
        secret_name=secret.get("name"),
    )


def parse_run_config(spec: Mapping[str, Any]) -> RunConfig:
    """Parse the analysis-relevant parts of a DriftMonitor spec."""
    spec = as_mapping(spec, "spec")
    if "reference" not in spec or "current" not in spec:
        missing = [k for k in ("reference", "current") if k not in spec]
        raise ConfigError(
            f"spec: missing {', '.join(missing)}",
            hint="both spec.reference.path and spec.current.path are required",
        )
    output = as_mapping(spec.get("output"), "spec.output").get("path")
    if output is not None:
        output = parse_path(output, "spec.output.path")
    current = parse_source(spec["current"], "spec.current")
    reference, mode = parse_reference(spec["reference"], current)
    return RunConfig(
        reference=reference,
        current=current,
        reference_mode=mode,
        reference_source=ref.source_of_mode(mode),
        storage=parse_storage(spec.get("storage")),
        settings=AnalysisSettings(
            detection=parse_detection(spec.get("detection")),
            features=parse_features(spec.get("features")),
            profile=parse_profile(spec.get("profile")),
            model=_parse_model(spec.get("model")),
        ),
        output=output,
    )


def _parse_model(section: Any) -> ModelSettings | None:
    """``spec.model``; None without one."""
    if section is None:
        return None  # without importing the model's settings: a plain run never needs them
    # model_settings builds on this module's readers, so it is imported here, not at the top.
    from driftwarden.analysis.model_settings import parse_model

    return parse_model(section)


# ---------------------------------------------------------------- reference modes

_REFERENCE_ONLY_KEYS = {"mode", "offset"}
# What a rolling or offset reference takes from spec.current (partitioning is left
# out: the schema gives it a default, so its presence says nothing).
_SHIFTED_REFUSED = ("path", "format", "timestampColumn", "window")


def parse_reference(spec: Any, current: SourceConfig) -> tuple[SourceConfig, str]:
    """Parse ``spec.reference`` (modes fixed, rolling, offset); ``(source, mode)``.

    A fixed reference is a source like ``spec.current``. Rolling and offset references
    are ``current`` shifted back in time, so they need ``spec.current.window`` and
    ``timestampColumn`` and refuse a path of their own.
    """
    where = "spec.reference"
    section = as_mapping(spec, where)
    mode = section.get("mode", ref.FIXED)
    if mode is None:
        mode = ref.FIXED
    if mode not in ref.MODES:
        raise ConfigError(
            f"{where}.mode: unknown mode {mode!r}",
            hint="fixed (spec.reference.path), rolling (the previous window of spec.current) "
            "or offset (the current window spec.reference.offset earlier)",
        )
    raw_offset = section.get("offset")
    if mode != ref.OFFSET and raw_offset is not None:
        raise ConfigError(
            f"{where}.offset: only an offset reference has an offset (mode is {mode})",
            hint="set mode: offset, or remove offset",
        )
    if mode == ref.FIXED:
        plain = {k: v for k, v in section.items() if k not in _REFERENCE_ONLY_KEYS}
        return parse_source(plain, where), mode
    check_keys(section, {*_REFERENCE_ONLY_KEYS, *_SHIFTED_REFUSED, "partitioning"}, where)
    the_mode = "an offset" if mode == ref.OFFSET else "a rolling"
    given = [key for key in _SHIFTED_REFUSED if section.get(key) is not None]
    if given:
        raise ConfigError(
            f"{where}.{given[0]}: {the_mode} reference reads spec.current "
            f"(its path, format, timestampColumn and window)",
            hint=f"remove {where}.{given[0]}, or use mode: fixed",
        )
    if current.window is None or current.timestamp_column is None:
        raise ConfigError(
            f"{where}.mode: {the_mode} reference needs spec.current.window and "
            "spec.current.timestampColumn (it is the current data's window, shifted back)",
            hint="e.g. current: {timestampColumn: ts, window: 24h}",
        )
    offset = current.window
    if mode == ref.OFFSET:
        if raw_offset is None:
            raise ConfigError(
                f"{where}.offset: an offset reference needs an offset",
                hint="e.g. offset: 7d compares with the same window a week earlier",
            )
        offset = parse_duration(raw_offset, field=f"{where}.offset")
        if offset < current.window:
            raise ConfigError(
                f"{where}.offset: {format_duration(offset)} is shorter than spec.current.window "
                f"({format_duration(current.window)}): the two windows would overlap",
                hint="use an offset at least as long as the window; mode rolling is offset = window",
            )
    return replace(current, offset=offset), mode
