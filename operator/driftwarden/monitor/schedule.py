"""When a monitor runs: schedule slots from a cron expression or a fixed interval.

A *slot* is the instant a run is due. It names the analysis Job and ends the
current data window, so it must be the same whoever computes it and whenever:

- cron expressions are evaluated in UTC (croniter);
- interval slots are aligned to the Unix epoch, ``floor(t / interval) * interval``,
  so a restarted operator computes the same slots as the one before it.

Slots missed while the operator was down collapse into the latest one: a monitor
never starts a burst of catch-up runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from driftwarden.durations import format_duration, parse_duration
from driftwarden.errors import ConfigError
from driftwarden.monitor.times import utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_INTERVAL = timedelta(minutes=1)
CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?LW#]+$")


@dataclass(frozen=True)
class Schedule:
    """Exactly one of ``cron`` (5-field expression or macro, UTC) and ``interval``."""

    cron: str | None = None
    interval: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("a Schedule has exactly one of cron and interval")

    def describe(self) -> str:
        """``cron "0 * * * *" (UTC)`` or ``every 30m``, for messages."""
        if self.cron is not None:
            return f'cron "{self.cron}" (UTC)'
        assert self.interval is not None
        return f"every {format_duration(self.interval)}"


def parse_cron(text: object, where: str = "spec.schedule") -> str:
    """Validate a 5-field cron expression (or a macro such as ``@hourly``); return it normalised."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: expected a cron expression like '0 * * * *', got {text!r}")
    expr = " ".join(text.split())
    if expr.upper().startswith(("TZ=", "CRON_TZ=")):
        raise ConfigError(
            f"{where}: time zones are not supported in {text!r}",
            hint="schedules are evaluated in UTC; shift the hour field instead",
        )
    if expr.startswith("@"):
        if expr.lower() not in CRON_MACROS:
            raise ConfigError(
                f"{where}: unknown macro {text!r}", hint=f"use one of {', '.join(CRON_MACROS)}"
            )
        return expr.lower()
    fields = expr.split(" ")
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ConfigError(
            f"{where}: {text!r} is not a 5-field cron expression",
            hint="write minute hour day-of-month month day-of-week, e.g. '0 * * * *' for hourly",
        )
    if not croniter.is_valid(expr):
        raise ConfigError(
            f"{where}: cannot read {text!r} as a cron expression",
            hint="check each field's range: minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6",
        )
    try:
        croniter(expr, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError) as exc:
        raise ConfigError(
            f"{where}: {text!r} never fires", hint="check day-of-month against month"
        ) from exc
    return expr


def parse_interval(text: object, where: str = "spec.interval") -> timedelta:
    """Parse an interval like ``30m``; at least one minute."""
    interval = parse_duration(text, field=where)  # type: ignore[arg-type]
    if interval < MIN_INTERVAL:
        raise ConfigError(
            f"{where}: {text!r} is shorter than the minimum of 1m",
            hint="an analysis Job takes longer than that to start; use 1m or more",
        )
    return interval


def slot_at_or_before(schedule: Schedule, moment: datetime) -> datetime:
    """The latest slot ``<= moment``."""
    moment = utc(moment)
    if schedule.interval is not None:
        steps = (moment - EPOCH) // schedule.interval
        return EPOCH + steps * schedule.interval
    assert schedule.cron is not None
    if croniter.match(schedule.cron, moment) and moment.second == 0 and moment.microsecond == 0:
        return moment
    return utc(croniter(schedule.cron, moment).get_prev(datetime))


def next_slot(schedule: Schedule, after: datetime) -> datetime:
    """The first slot strictly after ``after``."""
    after = utc(after)
    if schedule.interval is not None:
        return slot_at_or_before(schedule, after) + schedule.interval
    assert schedule.cron is not None
    return utc(croniter(schedule.cron, after).get_next(datetime))


def latest_due_slot(
    schedule: Schedule, now: datetime, last_slot: datetime | None
) -> datetime | None:
    """The slot to run now, or None when nothing is due.

    That is the latest slot ``<= now`` if it is later than ``last_slot`` (the slot
    of the last run started, from ``status.currentRun``/``status.lastRun``).
    Any earlier slots missed since ``last_slot`` are skipped on purpose. A new
    monitor (``last_slot`` None) runs its latest past slot at once, so it has a
    verdict without waiting a whole period.
    """
    slot = slot_at_or_before(schedule, now)
    if last_slot is not None and slot <= utc(last_slot):
        return None
    return slot


def missed_slots(
    schedule: Schedule, now: datetime, last_slot: datetime | None, limit: int = 1000
) -> int:
    """How many slots after ``last_slot`` are skipped because only the latest one runs.

    Bounded by ``limit`` (cron expressions are stepped through one by one); for messages only.
    """
    if last_slot is None:
        return 0
    latest = slot_at_or_before(schedule, now)
    last = utc(last_slot)
    if latest <= last:
        return 0
    if schedule.interval is not None:
        return min(limit, max(0, (latest - last) // schedule.interval - 1))
    count = 0
    it = croniter(schedule.cron, last)
    while count < limit:
        slot = utc(it.get_next(datetime))
        if slot >= latest:
            break
        count += 1
    return count
