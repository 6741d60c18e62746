"""When a rotation runs next: every N days at a UTC time (Infisical's ``rotationInterval`` +
``rotateAtUtc``) or a five-field cron expression (minute hour day-of-month month day-of-week, UTC,
parsed by Celery's crontab so the syntax is the one beat already accepts)."""

from __future__ import annotations

import datetime as dt

from celery.schedules import crontab

UTC = dt.UTC
MAX_CRON_SEARCH_DAYS = 366 * 5


class ScheduleError(ValueError):
    """A schedule that cannot be used. ``str()`` names the problem."""


def parse_cron(expression: str) -> crontab:
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError("cron: needs five fields (minute hour day-of-month month day-of-week)")
    try:
        return crontab(
            minute=fields[0], hour=fields[1], day_of_month=fields[2], month_of_year=fields[3], day_of_week=fields[4]
        )
    except Exception:  # noqa: BLE001 - celery raises several types for a bad field
        raise ScheduleError("cron: not a valid expression") from None


def next_cron_run(expression: str, after: dt.datetime) -> dt.datetime:
    """The first minute strictly after *after* that the expression names (UTC)."""
    spec = parse_cron(expression)
    dom_any, dow_any = expression.split()[2] == "*", expression.split()[4] == "*"
    start = after.astimezone(UTC).replace(second=0, microsecond=0)
    day = start.date()
    for _ in range(MAX_CRON_SEARCH_DAYS):
        dom_ok = day.day in spec.day_of_month
        dow_ok = (day.weekday() + 1) % 7 in spec.day_of_week  # cron: 0 is Sunday
        # Classic cron: with both day fields restricted, either may match.
        day_ok = dom_ok and dow_ok if dom_any or dow_any else dom_ok or dow_ok
        if day.month in spec.month_of_year and day_ok:
            for hour in sorted(spec.hour):
                for minute in sorted(spec.minute):
                    candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                    if candidate > after:
                        return candidate
        day += dt.timedelta(days=1)
    raise ScheduleError("cron: names no time in the next five years")


def next_interval_run(
    *, interval_days: int, hour: int, minute: int, last: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """*interval_days* after the last rotation's day, at hour:minute UTC; never in the past (a
    missed slot runs at the next one)."""
    base = (last or now).astimezone(UTC)
    candidate = base.replace(hour=hour, minute=minute, second=0, microsecond=0) + dt.timedelta(days=interval_days)
    while candidate <= now:
        candidate += dt.timedelta(days=1)
    return candidate


def next_run(
    *, interval_days: int | None, hour: int, minute: int, cron: str, last: dt.datetime | None, now: dt.datetime
) -> dt.datetime | None:
    """The next slot, or None for a rotation without a schedule (manual only)."""
    if cron:
        return next_cron_run(cron, now)
    if interval_days:
        return next_interval_run(interval_days=interval_days, hour=hour, minute=minute, last=last, now=now)
    return None
