import copy
import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest

from driftwarden.errors import DriftwardenError
from driftwarden.report import document
from driftwarden.report.document import (
    SCHEMA_VERSION,
    ReportError,
    drift_ratio,
    dump_report,
    load_report,
    sort_features,
    to_jsonable,
    validate_report,
)
from driftwarden.report.example import example_report
from tests.report.helpers import categories, feature, histogram, report


def test_example_report_is_valid_and_round_trips():
    doc = example_report(12)
    validate_report(doc)
    text = dump_report(doc)
    assert text.endswith("\n")
    assert load_report(text) == to_jsonable(doc)
    assert dump_report(load_report(text)) == text


def test_dump_orders_keys_stably_whatever_the_insertion_order():
    doc = example_report(3)
    shuffled = json.loads(json.dumps(doc, sort_keys=True))  # alphabetical insertion order
    assert dump_report(shuffled) == dump_report(doc)
    loaded = json.loads(dump_report(shuffled))
    assert list(loaded)[:3] == ["schemaVersion", "generatedAt", "driftwardenVersion"]
    assert list(loaded["features"][0])[:7] == [
        "name",
        "kind",
        "method",
        "score",
        "pValue",
        "threshold",
        "drifted",
    ]
    assert list(loaded["dataset"]) == [
        "drifted",
        "driftShare",
        "driftedFeatures",
        "totalFeatures",
        "threshold",
    ]


def test_dump_orders_what_lies_inside_objects_already_in_order_and_changes_nothing():
    # The feature's own keys are in written order, its scores and one finding's are not:
    # the dump reorders those inside, and the prepared document keeps its own order.
    from driftwarden.report.document import prepare_report

    doc = report([feature("a", scores={"tvd": 0.2, "ks": 0.1, "psi": 0.3}), feature("b")])
    doc["findings"] = [{"message": "m", "code": "C", "severity": "info", "feature": None}]
    prepared = prepare_report(doc)
    before = json.dumps(prepared)
    loaded = json.loads(dump_report(prepared))
    assert json.dumps(prepared) == before
    assert list(loaded["features"][0]["scores"]) == ["psi", "ks", "tvd"]
    assert list(loaded["findings"][0]) == ["severity", "code", "feature", "message"]
    assert dump_report(prepared) == dump_report(json.loads(json.dumps(doc, sort_keys=True)))


def test_dump_unknown_keys_follow_known_ones_alphabetically():
    doc = report([feature("a")], zeta=1, alpha=2)
    assert list(json.loads(dump_report(doc)))[-3:] == ["durationSeconds", "alpha", "zeta"]


def test_dump_compact_is_one_line():
    text = dump_report(example_report(2), indent=None)
    assert text.count("\n") == 1


def test_nan_and_infinity_are_written_as_null():
    f = feature("x", math.nan, drifted=False)
    f["scores"] = {"psi": math.inf, "ks": -math.inf, "kl": 0.5}
    f["reference"] = {"rows": 10, "mean": math.nan}
    doc = report([f], durationSeconds=math.nan)
    validate_report(doc)
    text = dump_report(doc)
    for bad in ("NaN", "Infinity"):
        assert bad not in text
    loaded = load_report(text)
    assert loaded["features"][0]["score"] is None
    assert loaded["features"][0]["scores"] == {"psi": None, "ks": None, "kl": 0.5}
    assert loaded["features"][0]["reference"]["mean"] is None
    assert loaded["durationSeconds"] is None


def test_numpy_values_are_written_as_plain_numbers():
    f = feature("x", np.float64(0.25), threshold=np.float32(0.5), drifted=np.bool_(False))
    f["distribution"] = histogram(np.array([1.0, 2.0]), np.array([0.2, 0.3, 0.5]), (0.1, 0.1, 0.8))
    f["reference"] = {"rows": np.int64(7), "nulls": np.int32(0)}
    doc = report([f])
    doc["dataset"]["totalFeatures"] = np.int64(1)
    validate_report(doc)
    loaded = load_report(dump_report(doc))
    assert loaded["features"][0]["score"] == 0.25
    assert loaded["features"][0]["drifted"] is False
    assert loaded["features"][0]["reference"]["rows"] == 7
    assert loaded["features"][0]["distribution"]["current"] == [0.1, 0.1, 0.8]


def test_datetimes_become_utc_strings_and_naive_ones_are_refused():
    assert to_jsonable(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    with pytest.raises(ReportError, match=r"\$\.generatedAt: datetime .* has no time zone"):
        to_jsonable({"generatedAt": datetime(2026, 1, 2)})


def test_values_without_json_form_are_refused_with_their_path():
    with pytest.raises(ReportError, match=r"\$\.features\[0\]\.score: a object value"):
        dump_report(report([feature("a", object(), drifted=False)]))


def test_to_jsonable_converts_every_kind_of_value_as_the_path_carrying_walk_does():
    # to_jsonable walks plain values by exact type and hands anything else to the walk
    # that carries JSON paths: both must give the same values of the same types.
    from collections import OrderedDict

    from driftwarden.report.document import _to_jsonable

    doc = {
        "plain": [1, 2.5, -0.0, "a", None, True, False],
        "nonFinite": [math.nan, math.inf, -math.inf, 1.0],
        "tuple": (1, (2.0, "x"), [math.nan]),
        "numpy": {"f": np.float64(0.5), "nan": np.float64("nan"), "i": np.int64(7),
                  "b": np.bool_(True), "array": np.array([1.0, np.inf])},
        "mapping": OrderedDict(b=1.5, a=[{"deep": (math.inf,)}]),
        "time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "big": 10**400,
        "features": [{"name": "x", "scores": {"ks": 0.1, "psi": math.nan}}] * 3,
    }  # fmt: skip
    fast, slow = to_jsonable(doc), _to_jsonable(doc, "$")
    assert json.dumps(fast) == json.dumps(slow)
    assert fast["nonFinite"] == [None, None, None, 1.0]
    assert fast["numpy"]["nan"] is None and type(fast["numpy"]["i"]) is int
    assert fast["tuple"] == [1, [2.0, "x"], [None]]
    assert fast["mapping"] == {"b": 1.5, "a": [{"deep": [None]}]}
    assert fast["features"][0] is not doc["features"][0]  # a copy, not the caller's dicts


@pytest.mark.parametrize(
    ("bad", "path"),
    [
        (object(), r"\$\.features\[2\]\.scores\.ks: a object value"),
        ({1: "a"}, r"\$\.features\[2\]\.scores\.ks: object key 1 is not a string"),
        ([1.0, {2}], r"\$\.features\[2\]\.scores\.ks\[1\]: a set value"),
        (datetime(2026, 1, 2), r"\$\.features\[2\]\.scores\.ks: datetime .* no time zone"),
    ],
)
def test_a_value_without_json_form_deep_in_plain_values_is_named_by_its_path(bad, path):
    doc = {"features": [{"scores": {"ks": 0.5}} for _ in range(3)]}
    doc["features"][2]["scores"]["ks"] = bad
    with pytest.raises(ReportError, match=path):
        to_jsonable(doc)


def test_report_error_is_a_value_error_and_a_driftwarden_error():
    with pytest.raises(ValueError) as info:
        validate_report({})
    assert isinstance(info.value, DriftwardenError)
    assert info.value.reason == "InvalidReport"


def _mutate(path_and_value):
    def apply(doc):
        path, value = path_and_value
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


def _three():
    features = [
        feature("a", 0.5),
        feature("b", 0.01),
        feature("c", 0.2, kind="categorical", method="jensenshannon"),
    ]
    features[0]["distribution"] = histogram([0.0, 1.0], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8])
    features[2]["distribution"] = categories(["x", "__other__"], [0.5, 0.5], [0.9, 0.1])
    doc = report(features)
    doc["findings"] = [{"severity": "warning", "code": "Constant", "feature": "b", "message": "m"}]
    return doc


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ((["schemaVersion"], "driftwarden.io/report/v2"), r"\$\.schemaVersion: expected"),
        ((["dataset"], KeyError), r"\$\.dataset: expected an object, got null"),
        ((["dataset", "drifted"], "yes"), r"\$\.dataset\.drifted: expected true or false"),
        ((["dataset", "driftShare"], 1.5), r"\$\.dataset\.driftShare: expected a share"),
        ((["dataset", "driftShare"], math.nan), r"\$\.dataset\.driftShare: expected a finite"),
        ((["dataset", "driftedFeatures"], -1), r"\$\.dataset\.driftedFeatures: expected a non-neg"),
        ((["dataset", "totalFeatures"], 4), r"\$\.dataset\.totalFeatures: is 4 but"),
        ((["dataset", "driftedFeatures"], 3), r"\$\.dataset\.driftedFeatures: is 3 but 2 of"),
        ((["features"], {}), r"\$\.features: expected an array, got object"),
        ((["features", 1], "b"), r"\$\.features\[1\]: expected an object"),
        ((["features", 1, "name"], ""), r"\$\.features\[1\]\.name: expected a non-empty string"),
        ((["features", 1, "name"], "a"), r"\$\.features\[1\]\.name: feature 'a' already listed"),
        ((["features", 1, "kind"], "text"), r"\$\.features\[1\]\.kind: expected 'numerical'"),
        ((["features", 1, "method"], None), r"\$\.features\[1\]\.method: expected a non-empty"),
        ((["features", 1, "score"], "high"), r"\$\.features\[1\]\.score: .* got 'high'"),
        ((["features", 1, "score"], True), r"\$\.features\[1\]\.score: .* got True"),
        ((["features", 1, "pValue"], "0.1"), r"\$\.features\[1\]\.pValue: expected a finite"),
        ((["features", 1, "threshold"], None), r"\$\.features\[1\]\.threshold: .* got null"),
        ((["features", 1, "threshold"], math.inf), r"\$\.features\[1\]\.threshold: .* got null"),
        ((["features", 1, "drifted"], 0), r"\$\.features\[1\]\.drifted: expected true or false"),
        ((["features", 1, "reason"], "vibes"), r"\$\.features\[1\]\.reason: expected"),
        (
            (["features", 0, "distribution", "current"], [0.5, 0.5]),
            r"\$\.features\[\d\]\.distribution\.current: expected 3 values",
        ),
        (
            (["features", 0, "distribution", "edges"], [2.0, 1.0]),
            r"\$\.features\[\d\]\.distribution\.edges: expected ascending",
        ),
        (
            (["features", 0, "distribution", "type"], "kde"),
            r"\$\.features\[\d\]\.distribution\.type: expected",
        ),
        (
            (["features", 2, "distribution", "labels"], ["x", 1]),
            r"\$\.features\[\d\]\.distribution\.labels\[1\]: expected a string",
        ),
        ((["features", 0, "missing"], {"current": "lots"}), r"\$\.features\[0\]\.missing\.current"),
        ((["features", 0, "reference"], {"rows": 1.5}), r"\$\.features\[0\]\.reference\.rows"),
        ((["findings", 0, "severity"], "fatal"), r"\$\.findings\[0\]\.severity: expected 'error'"),
        ((["findings", 0, "message"], None), r"\$\.findings\[0\]\.message"),
        ((["reference", "rows"], "many"), r"\$\.reference\.rows: expected a non-negative integer"),
        ((["current", "window"], "24h"), r"\$\.current\.window: expected an object or null"),
    ],
)
def test_validate_names_the_path_of_the_first_problem(change, path):
    doc = _three()
    validate_report(doc)
    _mutate(change)(doc)
    with pytest.raises(ReportError, match=r"^invalid report: " + path):
        validate_report(doc)


def test_validate_refuses_non_objects():
    with pytest.raises(ReportError, match=r"\$: expected an object, got array"):
        validate_report([])


def test_validate_does_not_change_the_document():
    doc = _three()
    doc["features"][0]["score"] = math.nan
    before = copy.deepcopy(doc)
    validate_report(doc)
    assert math.isnan(doc["features"][0]["score"])
    doc["features"][0]["score"] = before["features"][0]["score"] = None
    assert doc == before


def test_load_names_the_version_it_found():
    doc = json.loads(dump_report(_three()))
    doc["schemaVersion"] = "driftwarden.io/report/v2"
    with pytest.raises(
        ReportError,
        match=r"schemaVersion 'driftwarden.io/report/v2'.*reads 'driftwarden.io/report/v1'",
    ):
        load_report(json.dumps(doc))
    del doc["schemaVersion"]
    with pytest.raises(ReportError, match="no schemaVersion"):
        load_report(json.dumps(doc))


def test_load_accepts_bytes_and_refuses_what_is_not_json():
    text = dump_report(_three())
    assert load_report(text.encode("utf-8")) == load_report(text)
    with pytest.raises(ReportError, match=r"not valid JSON: .* \(line 4, column 2\)"):
        load_report(text[:100])
    with pytest.raises(ReportError, match="NaN is not valid JSON"):
        load_report(text.replace('"durationSeconds": 0.5', '"durationSeconds": NaN'))
    with pytest.raises(ReportError, match="must be a JSON object, got array"):
        load_report("[]")
    with pytest.raises(ReportError, match="not UTF-8"):
        load_report(b"\xff\xfe{}")


def test_load_validates():
    doc = json.loads(dump_report(_three()))
    doc["features"][0]["drifted"] = "true"
    with pytest.raises(ReportError, match=r"\$\.features\[0\]\.drifted"):
        load_report(json.dumps(doc))


def test_unicode_is_kept_readable():
    doc = report([feature("préço 📈", 0.2)])
    text = dump_report(doc)
    assert "préço 📈" in text
    assert load_report(text)["features"][0]["name"] == "préço 📈"


# ---------------------------------------------------------------- ranking


def test_drift_ratio_of_effect_sizes_p_values_and_missing_rates():
    assert drift_ratio(feature("a", 0.3, threshold=0.1)) == pytest.approx(3.0)
    assert drift_ratio(feature("a", 0.001, threshold=0.05, method="ks")) == pytest.approx(50.0)
    assert drift_ratio(feature("a", 0.0, threshold=0.05, method="chisquare")) == math.inf
    with_missing = feature("a", 0.01, missing={"score": 0.5, "threshold": 0.1})
    assert drift_ratio(with_missing) == pytest.approx(5.0)
    assert drift_ratio(feature("a", None)) is None
    assert drift_ratio(feature("a", 0.2, threshold=0.0)) == math.inf


def test_sort_puts_drifted_first_then_the_furthest_past_their_threshold():
    features = [
        feature("quiet", 0.01),
        feature("unscored", None, drifted=False),
        feature("small", 0.15),
        feature("pvalue", 1e-9, threshold=0.05, method="ks", drifted=True),
        feature("missing", 0.0, drifted=True, missing={"score": 0.4, "threshold": 0.1}),
        feature("large", 0.9),
        feature("loud", 0.09),
    ]
    names = [f["name"] for f in sort_features(features)]
    assert names == ["pvalue", "large", "missing", "small", "loud", "quiet", "unscored"]


def test_sort_is_stable_for_ties():
    features = [feature(n, 0.2) for n in "dcba"]
    assert [f["name"] for f in sort_features(features)] == list("dcba")


def test_schema_version_constant():
    assert SCHEMA_VERSION == "driftwarden.io/report/v1"


def test_a_huge_integer_is_a_report_error_not_an_overflow():
    doc = json.loads(dump_report(_three()))
    doc["dataset"]["driftShare"] = 10**400
    with pytest.raises(ReportError, match=r"\$\.dataset\.driftShare"):
        load_report(json.dumps(doc))
    doc["dataset"]["driftShare"] = 0.5
    doc["features"][0]["score"] = 10**400
    assert drift_ratio(load_report(json.dumps(doc))["features"][0]) is None


def test_each_feature_is_one_line_and_the_text_parses_to_the_same_document():
    doc = example_report(300)
    text = dump_report(doc)
    compact = dump_report(doc, indent=None)
    assert json.loads(text) == json.loads(compact)
    lines = text.splitlines()
    feature_lines = [line for line in lines if line.startswith('  {"name":')]
    assert len(feature_lines) == 300
    assert all(json.loads(line.rstrip(","))["name"] for line in feature_lines)
    assert len(text) < 1.05 * len(compact)


def test_a_report_without_features_is_still_indented():
    doc = example_report(0)
    assert json.loads(dump_report(doc))["features"] == []


_ODD_VALUES = (
    None,
    True,
    False,
    0,
    -1,
    2,
    0.5,
    math.nan,
    math.inf,
    -math.inf,
    "",
    "x",
    [],
    {},
    [1.0],
)


def _feature_variants():
    """Every key of a feature (and of its sections) set to each of a few odd values."""
    base = _three()["features"]
    base[0]["significance"] = {"test": "ks", "pValue": 0.2, "rawPValue": 0.1, "alpha": 0.05}
    base[0]["missing"] = {"reference": 0.0, "current": 0.1, "score": 0.2, "threshold": 0.1}
    base[0]["scores"] = {"psi": 0.1, "ks": None}
    base[0]["reference"] = {"rows": 10, "nulls": 0, "mean": 1.0, "std": None}
    base[0]["current"] = {"rows": 10, "nan": 1, "max": 3}
    for original in base:
        yield original
        for key, value in original.items():
            sections = [(key, None)] + (
                [(key, inner) for inner in value] if isinstance(value, dict) else []
            )
            for outer, inner in sections:
                for odd in _ODD_VALUES:
                    changed = copy.deepcopy(original)
                    if inner is None:
                        changed[outer] = odd
                    else:
                        changed[outer][inner] = odd
                    yield changed


def test_the_quick_feature_check_passes_nothing_the_full_check_refuses():
    passed = 0
    for candidate in _feature_variants():
        if document._feature_passes(candidate):
            passed += 1
            document._validate_feature(candidate, "$.features[0]")  # must not raise
    assert passed > 50  # the quick check does pass the common features


@pytest.mark.parametrize("n", [0, 1, 7, 40])
def test_prepared_report_keeps_the_analysis_order_and_writes_the_written_one(n):
    doc = example_report(n, seed=n)
    doc["features"][:0] = (
        [] if n == 0 else [{**doc["features"][0], "name": "numpy", "score": np.float64(0.5)}]
    )
    doc["dataset"]["totalFeatures"] = len(doc["features"])
    doc["dataset"]["driftedFeatures"] = sum(1 for f in doc["features"] if f["drifted"])
    shuffled = json.loads(json.dumps(doc, sort_keys=True))
    for source in (doc, shuffled):
        prepared = document.prepare_report(source)
        plain = to_jsonable(source)
        assert json.dumps(prepared) == json.dumps(plain)  # same values, same key order
        assert json.dumps(prepared.written) == json.dumps(document._ordered(plain, "$"))
        assert dump_report(prepared) == dump_report(source) == dump_report(plain)


@pytest.mark.parametrize(
    "bad", [math.nan, np.float64("inf"), object(), {1: 2}, datetime(2026, 1, 1)]
)
def test_prepare_refuses_what_validate_refuses_with_the_same_message(bad):
    doc = _three()
    doc["features"][1]["scores"] = {"psi": bad}
    if isinstance(bad, float):  # NaN and inf become null, which a score may be
        document.prepare_report(doc)
        doc["features"][1]["threshold"] = bad
    with pytest.raises(ReportError) as expected:
        validate_report(doc)
    with pytest.raises(ReportError) as got:
        document.prepare_report(doc)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("n", [0, 1, 9, 60])
def test_ranked_features_are_sort_features_with_their_ratios_and_kept_on_a_prepared_report(n):
    doc = example_report(n, seed=n)
    doc["features"].reverse()  # least drifted first: the ranking has something to do
    features, ratios = document.ranked_features(doc)
    assert features == sort_features(doc["features"])
    assert ratios == [drift_ratio(f) for f in features]
    prepared = document.prepare_report(doc)
    assert document.ranked_features(prepared) == (features, ratios)
    assert document.ranked_features(prepared) is document.ranked_features(prepared)
