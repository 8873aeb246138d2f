"""Weeks and days of the engagement ELT, in the configured time zone (pure, no Airflow).

A week starts on Monday 00:00 local time and is named by that Monday (a ``date``); a day is a
local date. The daily DAG run handles its data interval ``[D 00:00, D+1 00:00)`` in the zone,
and its *run day* is D, the local date of the interval's start (:func:`local_day`).

**The week that just ended.** The run whose run day is a Monday M handles ``[M 00:00, M+1
00:00)`` and executes after that interval has ended, i.e. on Tuesday. The week before it,
``[M-7, M)``, ended a full day earlier, and the runs of all its days (M-7 .. M-1, Sunday
included) come before the Monday run in the schedule. So when runs execute in order (the DAG
has ``max_active_runs=1``), the Monday run is the first one for which the previous week is
complete and loaded: :func:`week_that_just_ended` returns M-7 for it and ``None`` for every
other day. (The Sunday run would see the week complete only after its own load of Sunday; the
Monday run does not depend on task order inside a run, and its week has been over for a day.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ONE_DAY = timedelta(days=1)
ONE_WEEK = timedelta(days=7)


def zone(name: str | ZoneInfo) -> ZoneInfo:
    """The time zone called ``name`` (an IANA name such as ``Europe/Paris``)."""
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"unknown time zone {name!r}: expected an IANA name such as 'Europe/Paris'"
        ) from error


def _require_date(value: date, what: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{what} must be a date, not {value!r} (use local_day() for an instant)")
    return value


def _require_monday(value: date, what: str) -> date:
    _require_date(value, what)
    if value.weekday() != 0:
        raise ValueError(f"{what} must be a Monday, not {value:%A} {value.isoformat()}")
    return value


def week_start(day: date) -> date:
    """The Monday of the week that contains ``day``."""
    _require_date(day, "day")
    return day - timedelta(days=day.weekday())


def local_day(instant: datetime, time_zone: str | ZoneInfo) -> date:
    """The local date of an aware instant in ``time_zone``; for a data interval's start, the run day."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, not {instant!r}")
    return instant.astimezone(zone(time_zone)).date()


def local_week(instant: datetime, time_zone: str | ZoneInfo) -> date:
    """The Monday of the local week that contains an aware instant."""
    return week_start(local_day(instant, time_zone))


def day_bounds_in_zone(day: date, time_zone: str | ZoneInfo) -> tuple[datetime, datetime]:
    """The half-open interval ``[day 00:00, day+1 00:00)`` local time, as UTC instants.

    A day lasts 23 or 25 hours when the clocks change; the bounds are always local midnights.
    """
    _require_date(day, "day")
    tz = zone(time_zone)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + ONE_DAY, time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def week_bounds_in_zone(week: date, time_zone: str | ZoneInfo) -> tuple[datetime, datetime]:
    """The half-open interval ``[Monday 00:00, next Monday 00:00)`` local time, as UTC instants."""
    _require_monday(week, "week")
    start, _ = day_bounds_in_zone(week, time_zone)
    end, _ = day_bounds_in_zone(week + ONE_WEEK, time_zone)
    return start, end


def weeks_between(from_week: date, to_week: date) -> list[date]:
    """The Mondays from ``from_week`` to ``to_week``, both included; empty when from_week > to_week."""
    _require_monday(from_week, "from_week")
    _require_monday(to_week, "to_week")
    count = (to_week - from_week).days // 7 + 1
    return [from_week + i * ONE_WEEK for i in range(max(count, 0))]


def last_year_weeks(reference: date, count: int = 52) -> list[date]:
    """The ``count`` full weeks that end before the week containing ``reference``, oldest first."""
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count}")
    current = week_start(reference)
    return [current - i * ONE_WEEK for i in range(count, 0, -1)]


def week_that_just_ended(run_day: date) -> date | None:
    """The week that became complete with the run of ``run_day``: the previous Monday if run_day is a Monday, else None.

    ``run_day`` is the local date of the run's data interval start (see the module docstring).
    """
    _require_date(run_day, "run_day")
    if run_day.weekday() != 0:
        return None
    return run_day - ONE_WEEK


def weeks_for_run(
    *,
    interval_start_day: date,
    interval_end_day: date,
    from_week: date | None = None,
    to_week: date | None = None,
    last_year: bool = False,
    last_year_count: int = 52,
) -> list[date]:
    """The weeks one run of ``engagement_weekly_views`` computes, oldest first.

    Params win over the run's own interval: ``from_week``/``to_week`` (``to_week`` defaults to
    ``from_week``) give an explicit range; ``last_year`` gives the ``last_year_count`` full weeks
    before the week containing the interval's end. Without params (a scheduled run, or one run of
    a backfill) the run computes the week its data interval starts in.
    """
    if from_week is not None or to_week is not None:
        if last_year:
            raise ValueError("give either from_week/to_week or last_year, not both")
        if from_week is None:
            raise ValueError("to_week needs from_week")
        weeks = weeks_between(from_week, to_week or from_week)
        if not weeks:
            raise ValueError(f"from_week {from_week} is after to_week {to_week}")
        return weeks
    if last_year:
        return last_year_weeks(interval_end_day, last_year_count)
    return [week_start(interval_start_day)]
