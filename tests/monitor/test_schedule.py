from datetime import UTC, datetime, timedelta

import pytest

from driftwarden.errors import ConfigError
from driftwarden.monitor.schedule import (
    Schedule,
    latest_due_slot,
    missed_slots,
    next_slot,
    parse_cron,
    parse_interval,
    slot_at_or_before,
)

HOURLY = Schedule(cron="0 * * * *")
HALF_HOUR = Schedule(interval=timedelta(minutes=30))


def at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> datetime:
    return datetime(2024, 5, day, hour, minute, second, tzinfo=UTC)


def test_cron_latest_due_slot_is_the_last_fire_time_before_now():
    assert latest_due_slot(HOURLY, at(10, 17), None) == at(10)


def test_cron_slot_exactly_now_is_due():
    assert latest_due_slot(HOURLY, at(10), at(9)) == at(10)


def test_cron_slot_already_run_is_not_due_again():
    assert latest_due_slot(HOURLY, at(10, 59, 59), at(10)) is None


def test_missed_cron_slots_collapse_into_the_latest_one():
    # operator down from 03:00 to 10:17: seven missed slots, one run
    assert latest_due_slot(HOURLY, at(10, 17), at(3)) == at(10)
    assert missed_slots(HOURLY, at(10, 17), at(3)) == 6


def test_cron_is_evaluated_in_utc_whatever_the_input_zone():
    from datetime import timezone

    plus_two = timezone(timedelta(hours=2))
    now = datetime(2024, 5, 1, 12, 30, tzinfo=plus_two)  # 10:30 UTC
    assert latest_due_slot(Schedule(cron="0 10 * * *"), now, None) == at(10)


def test_naive_datetimes_are_taken_as_utc():
    assert latest_due_slot(HOURLY, datetime(2024, 5, 1, 10, 17), None) == at(10)


def test_cron_next_slot_is_strictly_after():
    assert next_slot(HOURLY, at(10)) == at(11)
    assert next_slot(HOURLY, at(10, 17)) == at(11)
    assert next_slot(
        Schedule(cron="30 6 * * 1-5"), datetime(2024, 5, 3, 7, tzinfo=UTC)
    ) == datetime(2024, 5, 6, 6, 30, tzinfo=UTC)  # Friday after the run -> Monday


def test_interval_slots_are_aligned_to_the_epoch():
    assert slot_at_or_before(HALF_HOUR, at(10, 17)) == at(10)
    assert slot_at_or_before(HALF_HOUR, at(10, 47)) == at(10, 30)
    assert next_slot(HALF_HOUR, at(10, 17)) == at(10, 30)
    seven = Schedule(interval=timedelta(minutes=7))
    slot = slot_at_or_before(seven, at(10, 17))
    assert (slot - datetime(1970, 1, 1, tzinfo=UTC)) % timedelta(minutes=7) == timedelta(0)
    assert slot <= at(10, 17) < slot + timedelta(minutes=7)


def test_interval_slots_do_not_depend_on_when_they_are_computed():
    # two operators (or one restarted) computing at different moments agree
    first = latest_due_slot(HALF_HOUR, at(10, 1), None)
    second = latest_due_slot(HALF_HOUR, at(10, 29, 59), None)
    assert first == second == at(10)


def test_missed_interval_slots_collapse_into_the_latest_one():
    assert latest_due_slot(HALF_HOUR, at(10, 17), at(2)) == at(10)
    assert missed_slots(HALF_HOUR, at(10, 17), at(2)) == 15
    assert latest_due_slot(HALF_HOUR, at(10, 17), at(10)) is None
    assert missed_slots(HALF_HOUR, at(10, 17), at(10)) == 0


def test_sub_minute_interval_slot_boundaries():
    ninety = Schedule(interval=timedelta(seconds=90))
    slot = slot_at_or_before(ninety, at(10, 17, 42))
    assert slot.second in (0, 30)
    assert next_slot(ninety, slot) == slot + timedelta(seconds=90)


@pytest.mark.parametrize(
    "expr", ["0 * * * *", "*/15 * * * *", "30 6 * * 1-5", "0 0 1 */3 *", "@hourly", "@DAILY"]
)
def test_valid_cron_expressions(expr):
    assert parse_cron(expr)


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("61 * * * *", "cron expression"),
        ("* * * *", "5-field"),
        ("0 * * * * *", "5-field"),
        ("0 0 31 2 *", "never fires"),
        ("@reboot", "macro"),
        ("CRON_TZ=Europe/Paris 0 * * * *", "UTC"),
        ("", "expected"),
        (5, "expected"),
    ],
)
def test_invalid_cron_expressions_name_the_field_and_fix(expr, words):
    with pytest.raises(ConfigError) as info:
        parse_cron(expr)
    assert "spec.schedule" in str(info.value)
    assert words in str(info.value)


def test_interval_minimum_is_one_minute():
    assert parse_interval("1m") == timedelta(minutes=1)
    with pytest.raises(ConfigError, match="minimum of 1m"):
        parse_interval("30s")
    with pytest.raises(ConfigError, match=r"spec\.interval"):
        parse_interval("soon")


def test_schedule_has_exactly_one_kind():
    with pytest.raises(ValueError):
        Schedule()
    with pytest.raises(ValueError):
        Schedule(cron="0 * * * *", interval=timedelta(hours=1))
    assert HOURLY.describe() == 'cron "0 * * * *" (UTC)'
    assert HALF_HOUR.describe() == "every 30m"
