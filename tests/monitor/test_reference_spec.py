"""Reference lifecycle, the pure parts: window arithmetic, spec parsing, promotion templates."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

import pytest

from driftwarden.analysis.reference import (
    check_template,
    has_credentials,
    redact_uri,
    reference_offset,
    render_template,
    window_bounds,
)
from driftwarden.errors import ConfigError
from driftwarden.monitor.spec import parse_monitor, validate_manifest

from .helpers import RETRAINING, manifest

END = datetime(2024, 5, 8, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


# ---------------------------------------------------------------- window arithmetic


def test_current_and_fixed_windows_close_at_the_slot():
    assert window_bounds(END, DAY) == (END - DAY, END)
    assert window_bounds(END, DAY, None) == window_bounds(END, DAY, timedelta(0))
    assert window_bounds(END, None) is None
    assert window_bounds(END, None, DAY) is None  # no window: the whole dataset


def test_rolling_is_the_previous_window_and_offset_the_same_window_earlier():
    rolling = window_bounds(END, DAY, reference_offset("rolling", DAY, None))
    assert rolling == (END - 2 * DAY, END - DAY)
    offset = window_bounds(END, DAY, reference_offset("offset", DAY, 7 * DAY))
    assert offset == (END - 8 * DAY, END - 7 * DAY)
    assert reference_offset("fixed", DAY, 7 * DAY) is None
    # rolling windows tile time: the reference of one slot is the current window of the last
    previous_current = window_bounds(END - DAY, DAY)
    assert rolling == previous_current


# ---------------------------------------------------------------- spec parsing


def _reference(**reference):
    return manifest(reference=reference)


def test_default_mode_is_fixed_and_behaves_as_before():
    monitor = parse_monitor(manifest())
    assert monitor.run.reference_mode == "fixed"
    assert monitor.run.reference_source == "spec"
    assert monitor.run.reference.offset is None
    assert monitor.run.reference.path == "s3://logs/churn/train/"
    explicit = parse_monitor(
        _reference(mode="fixed", path="s3://logs/churn/train/", format="parquet")
    )
    assert explicit.run == monitor.run


def test_rolling_and_offset_read_the_current_source_shifted_back():
    rolling = parse_monitor(_reference(mode="rolling")).run
    assert rolling.reference_mode == rolling.reference_source == "rolling"
    assert rolling.reference.path == rolling.current.path
    assert rolling.reference.timestamp_column == "ts"
    assert (rolling.reference.window, rolling.reference.offset) == (DAY, DAY)
    offset = parse_monitor(_reference(mode="offset", offset="7d")).run
    assert offset.reference_source == "offset"
    assert (offset.reference.window, offset.reference.offset) == (DAY, 7 * DAY)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"reference": {"mode": "weekly"}}, "spec.reference.mode", "unknown mode"),
        (
            {"reference": {"mode": "rolling", "path": "s3://x/"}},
            "spec.reference.path",
            "reads spec.current",
        ),
        (
            {"reference": {"mode": "rolling", "window": "1h"}},
            "spec.reference.window",
            "reads spec.current",
        ),
        ({"reference": {"mode": "offset"}}, "spec.reference.offset", "needs an offset"),
        ({"reference": {"mode": "offset", "offset": "1h"}}, "spec.reference.offset", "overlap"),
        ({"reference": {"mode": "offset", "offset": "soon"}}, "spec.reference.offset", "duration"),
        (
            {"reference": {"mode": "offset", "offset": "4000d"}},
            "spec.reference.offset",
            "ten years",
        ),
        (
            {"reference": {"path": "s3://x/", "offset": "7d"}},
            "spec.reference.offset",
            "only an offset",
        ),
        ({"reference": {"mode": "rolling", "colour": "red"}}, "spec.reference", "unknown field"),
        (
            {"reference": {"mode": "rolling"}, "current": {"path": "s3://live/"}},
            "spec.reference.mode",
            "needs spec.current.window",
        ),
    ],
)
def test_bad_reference_modes_name_the_field(changes, field, words):
    doc = manifest(**changes)
    with pytest.raises(ConfigError) as caught:
        parse_monitor(doc)
    assert str(caught.value).startswith(field + ":"), str(caught.value)
    assert words in str(caught.value)
    assert caught.value.reason == "InvalidSpec"  # the CLI's exit 2


def test_a_broken_current_is_reported_on_its_own_not_as_a_reference_problem():
    problems = validate_manifest(
        manifest(reference={"mode": "offset", "offset": "7d"}, current={"path": 5})
    )
    assert len(problems) == 1 and problems[0].startswith("spec.current.path")


# ---------------------------------------------------------------- promotion spec


def _promoting(promote, **reference):
    doc = manifest(retraining={**copy.deepcopy(RETRAINING), "promoteReference": promote})
    if reference:
        doc["spec"]["reference"] = reference
    return doc


def test_promote_reference_is_parsed():
    monitor = parse_monitor(_promoting({"path": "s3://logs/churn/train/{date}/", "fromJob": True}))
    assert monitor.retraining is not None and monitor.retraining.promote is not None
    assert monitor.retraining.promote.path == "s3://logs/churn/train/{date}/"
    assert monitor.retraining.promote.from_job is True
    assert parse_monitor(manifest(retraining=RETRAINING)).retraining.promote is None


@pytest.mark.parametrize(
    ("promote", "reference", "field", "words"),
    [
        ({}, None, "spec.retraining.promoteReference", "nothing to promote"),
        ({"fromJob": False}, None, "spec.retraining.promoteReference", "nothing to promote"),
        ({"fromJob": "yes"}, None, "spec.retraining.promoteReference.fromJob", "true or false"),
        (
            {"path": "s3://b/{when}/"},
            None,
            "spec.retraining.promoteReference.path",
            "unknown placeholder {when}",
        ),
        (
            {"path": "s3://b/{date:%Y}/"},
            None,
            "spec.retraining.promoteReference.path",
            "unknown placeholder",
        ),
        (
            {"path": "s3://b/{date/"},
            None,
            "spec.retraining.promoteReference.path",
            "not a path template",
        ),
        (
            {"path": "s3://k:s@b/{date}/"},
            None,
            "spec.retraining.promoteReference.path",
            "credentials",
        ),
        (
            {"path": "s3://b/" + "x" * 1000 + "{run}"},
            None,
            "spec.retraining.promoteReference.path",
            "render to",
        ),
        (
            {"path": "s3://b/"},
            {"mode": "rolling"},
            "spec.retraining.promoteReference",
            "never promoted",
        ),
        ({"path": "s3://b/", "when": 1}, None, "spec.retraining.promoteReference", "unknown field"),
    ],
)
def test_bad_promotion_names_the_field(promote, reference, field, words):
    doc = _promoting(promote, **(reference or {}))
    with pytest.raises(ConfigError) as caught:
        parse_monitor(doc)
    assert str(caught.value).startswith(field), str(caught.value)
    assert words in str(caught.value)


def test_promotion_needs_a_job_template():
    doc = manifest(retraining={"promoteReference": {"fromJob": True}})
    with pytest.raises(ConfigError, match=r"^spec\.retraining\.promoteReference: .*jobTemplate"):
        parse_monitor(doc)


# ---------------------------------------------------------------- templates and URIs


def test_templates_render_on_the_slot_in_utc():
    slot = datetime(2024, 5, 1, 12, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    text = "s3://b/{year}/{month}/{day}/{hour}{minute}/{date}/{timestamp}/{run}/{job}/{{x}}"
    assert (
        render_template(text, slot, run="churn-1", job="churn-retrain-2")
        == "s3://b/2024/05/01/1230/2024-05-01/20240501T123000Z/churn-1/churn-retrain-2/{x}"
    )
    assert render_template("s3://b/train/", slot) == "s3://b/train/"


def test_the_longest_rendering_is_bounded_before_any_render():
    check_template("s3://b/" + "x" * (1024 - 7 - 10) + "{date}", "f", 1024)
    with pytest.raises(ConfigError, match="1025 characters"):
        check_template("s3://b/" + "x" * (1024 - 7 - 9) + "{date}", "f", 1024)


def test_credentials_in_uris_are_found_and_redacted():
    assert has_credentials("s3://key:secret@bucket/p") and not has_credentials("s3://bucket/a@b")
    assert redact_uri("s3://key:secret@bucket/p/") == "s3://bucket/p/"
    assert redact_uri("/local/a@b") == "/local/a@b"
