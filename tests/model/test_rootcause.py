"""Root-cause ranking: a known root cause is ranked first on synthetic data.

The features come from the engine's own comparison of real profiles (built from Arrow
batches), the importance from the reference rows, as in a run.
"""

import math

import numpy as np
import pyarrow as pa
import pytest

from driftwarden.model.importance import Importance, estimate_importance, given_importance
from driftwarden.model.rootcause import (
    MAX_CAUSES,
    drift_magnitude,
    rank_causes,
    root_cause_section,
    segments_of,
    summary_text,
)
from tests.analysis.helpers import compare


def _model(a: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """The 'model': its score rests on ``a`` and the segment, never on ``noise``."""
    return 1 / (1 + np.exp(-(2 * a + 1.5 * (segment == "b"))))


def _data(rng, n, *, a_shift=0.0, noise_shift=0.0, b_share=1 / 3):
    a = rng.normal(a_shift, 1, n)
    noise = rng.normal(noise_shift, 1, n)
    segment = rng.choice(
        np.array(["a", "b", "c"]), n, p=[(1 - b_share) / 2, b_share, (1 - b_share) / 2]
    )
    return {"a": a, "noise": noise, "segment": segment}


@pytest.fixture(scope="module")
def known_cause():
    """``a`` carries the model and moves a little (0.3σ); ``noise`` carries nothing and
    moves a lot (3σ); the segment mix is unchanged."""
    rng = np.random.default_rng(42)
    reference = _data(rng, 20_000)
    current = _data(rng, 20_000, a_shift=0.3, noise_shift=3.0)
    features, _, _ = compare(reference, current)
    importance = estimate_importance(
        {
            "a": (reference["a"], False),
            "noise": (reference["noise"], False),
            "segment": (reference["segment"], True),
        },
        _model(reference["a"], reference["segment"]),
        against_name="score",
        against_categorical=False,
    )
    assert importance is not None
    return features, importance


def test_important_feature_that_drifts_a_little_is_ranked_above_an_unimportant_one_that_drifts_a_lot(
    known_cause,
):
    features, importance = known_cause
    # The premise: by drift alone, noise is far ahead.
    assert drift_magnitude(features["noise"]) > 3 * drift_magnitude(features["a"])
    assert features["noise"]["drifted"]
    causes = rank_causes(features.values(), importance)
    assert causes[0].feature == "a"
    assert causes[0].share > 0.6
    noise = next(c for c in causes if c.feature == "noise")
    assert noise.share < 0.1
    assert math.fsum(c.share for c in causes) == pytest.approx(1.0)


def test_drift_alone_would_have_blamed_the_other_feature(known_cause):
    features, _ = known_cause
    flat = given_importance({name: 1.0 for name in features}, list(features))
    assert rank_causes(features.values(), flat)[0].feature == "noise"


def test_given_weights_decide_the_ranking(known_cause):
    features, _ = known_cause
    causes = rank_causes(features.values(), given_importance({"noise": 1.0}, list(features)))
    assert causes[0].feature == "noise" and causes[0].share == pytest.approx(1.0)
    assert all(c.share == 0 for c in causes[1:])


def test_a_segment_mix_shift_is_found_through_the_categorical_feature():
    rng = np.random.default_rng(43)
    reference = _data(rng, 20_000)
    current = _data(rng, 20_000, noise_shift=1.0, b_share=0.6)
    features, _, _ = compare(reference, current)
    importance = estimate_importance(
        {name: (reference[name], name == "segment") for name in reference},
        _model(reference["a"], reference["segment"]),
        against_name="score",
        against_categorical=False,
    )
    assert importance is not None
    causes = rank_causes(features.values(), importance)
    assert causes[0].feature == "segment" and causes[0].kind == "categorical"


def test_missing_values_count_as_drift_magnitude():
    rng = np.random.default_rng(44)
    n = 5000
    x = rng.normal(size=n)
    current = pa.array(rng.normal(size=n), mask=rng.random(n) < 0.5)
    features, _, _ = compare({"x": x}, {"x": current})
    h = features["x"]["missing"]["score"]
    assert h > 1.0
    assert drift_magnitude(features["x"]) == pytest.approx(
        math.sqrt(h * h - 2 / n) / math.pi, abs=1e-12
    )
    assert drift_magnitude(features["x"]) > features["x"]["scores"]["jensenshannon"]


@pytest.mark.parametrize("n", [500, 5000, 50_000])
def test_magnitude_of_unchanged_data_is_noise_corrected(n):
    rng = np.random.default_rng(n)
    raw, corrected = [], []
    for _ in range(30):
        ref = {"x": rng.normal(size=n), "c": rng.choice(np.array(list("abcdef")), n)}
        cur = {"x": pa.array(rng.normal(size=n), mask=rng.random(n) < 0.1), "c": ref["c"][::-1]}
        ref["x"] = pa.array(ref["x"], mask=rng.random(n) < 0.1)
        features, _, _ = compare(ref, cur, sample_size=2048)
        for name in ("x", "c"):
            raw.append(features[name]["scores"]["jensenshannon"] ** 2)
            corrected.append(drift_magnitude(features[name], 2048) ** 2)
    # Corrected squares average ~0 (they are clipped at 0, so a little above), the raw ones
    # are the expected noise: the correction removes at least 80% of it.
    assert np.mean(corrected) < 0.2 * np.mean(raw)


def test_a_real_small_shift_survives_the_noise_correction():
    rng = np.random.default_rng(45)
    features, _, _ = compare({"x": rng.normal(size=20_000)}, {"x": rng.normal(0.1, 1, 20_000)})
    assert drift_magnitude(features["x"]) > 0.5 * features["x"]["scores"]["jensenshannon"]


def test_a_feature_without_scores_has_no_magnitude():
    assert drift_magnitude({"name": "x", "scores": {"jensenshannon": None}, "missing": None}) == 0.0


def _feature(name, js, kind="numerical", drifted=False):
    return {"name": name, "kind": kind, "drifted": drifted, "scores": {"jensenshannon": js}}


def test_section_shape_summary_and_bound():
    features = [_feature(f"f{i:02d}", 0.01 * (i + 1)) for i in range(25)]
    imp = given_importance({f["name"]: 1.0 for f in features}, [f["name"] for f in features])
    section = root_cause_section(features, imp, triggers=["predictions"])
    assert section["triggered"] and section["triggers"] == ["predictions"]
    assert len(section["causes"]) == MAX_CAUSES
    assert section["causes"][0]["feature"] == "f24"
    assert section["top"]["feature"] == "f24"
    assert section["summary"] == f"top cause: f24 ({section['top']['share']:.0%})"
    assert section["importance"] == {"method": "given", "against": None, "rows": None, "bins": None}
    assert section["segments"] is None
    quiet = root_cause_section(features, imp, triggers=[])
    assert not quiet["triggered"] and quiet["summary"] is None and quiet["causes"]


def test_no_weighted_drift_names_no_cause():
    imp = Importance("given", {"a": 0.0}, {"a": 0.0})
    causes = rank_causes([_feature("a", 0.5)], imp)
    assert summary_text(causes) is None
    assert root_cause_section([_feature("a", 0.5)], imp, triggers=["performance"])["top"] is None


def _group(column, *values):
    return {
        "feature": column,
        "metric": "accuracy",
        "values": [
            {
                "value": v,
                "rows": 500,
                "current": 0.9 - drop,
                "referenceRows": 500,
                "reference": 0.9,
                "drop": drop,
                "pValue": 0.01,
            }
            for v, drop in values
        ],
    }


def test_segments_of_the_top_categorical_causes_only():
    features = [
        _feature("plan", 0.3, "categorical"),
        _feature("age", 0.5),
        _feature("region", 0.2, "categorical"),
        _feature("device", 0.1, "categorical"),
    ]
    imp = given_importance({"plan": 1, "age": 1, "region": 1}, [f["name"] for f in features])
    causes = rank_causes(features, imp)
    performance = {
        "segments": [
            _group("region", ("eu", 0.2), ("us", -0.05)),
            _group("plan", ("basic", 0.05), ("pro", 0.3)),
            _group("device", ("ios", 0.4)),
        ]
    }
    picked = segments_of(causes, performance)
    # plan and region in ranking order, then device, which weighs nothing (no drift
    # explains its drop: its segments are shown after); age is numerical. Within each,
    # the segments that got worse, largest drop first.
    assert [s["feature"] for s in picked] == ["plan", "region", "device"]
    assert [v["value"] for v in picked[0]["segments"]] == ["pro", "basic"]
    assert [v["value"] for v in picked[1]["segments"]] == ["eu"]
    assert picked[0]["metric"] == "accuracy" and "feature" not in picked[0]["segments"][0]
    assert segments_of(causes, None) is None
    assert segments_of(causes, {"segments": []}) == []


def test_summary_names_the_worst_segment_when_no_drift_explains_a_drop():
    features = [_feature("plan", 0.0, "categorical"), _feature("age", 0.0)]
    imp = given_importance({"age": 1}, ["plan", "age"])
    performance = {"segments": [_group("plan", ("basic", 0.05), ("pro", 0.3))]}
    section = root_cause_section(features, imp, triggers=["performance"], performance=performance)
    assert section["top"] is None
    assert (
        section["summary"]
        == "no drifted feature explains it; worst segment: plan=pro (accuracy -0.3)"
    )
    drifted = [_feature("plan", 0.0, "categorical"), _feature("age", 0.4)]
    section = root_cause_section(drifted, imp, triggers=["performance"], performance=performance)
    assert section["summary"] == "top cause: age (100%); worst segment: plan=pro (accuracy -0.3)"
