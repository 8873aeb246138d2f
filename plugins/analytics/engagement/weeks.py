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

**What a run computes.** The DAGs' task bodies are thin calls into this module:
:func:`daily_run_day` (the day a daily run loads; a run without a data interval fails with a
clear message), :func:`weeks_for_params` (the weeks a weekly-views run computes, from its params,
else its interval, capped at ``max_weeks_per_run``) and :func:`scheduled_run_skip_reason` (a
scheduled weekly run computes nothing: it would start before Sunday's events are loaded, and the
daily DAG's Monday run triggers the week once complete).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from analytics.engagement.config import EngagementConfig

ONE_DAY = timedelta(days=1)
ONE_WEEK = timedelta(days=7)
DAYS_IN_WEEK = 7
# The form of the from_week / to_week params (the DAG's JSON schema uses the same pattern).
WEEK_PARAM_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
SCHEDULED_RUN_TYPE = "scheduled"
DAILY_RUN_WITHOUT_INTERVAL = (
    "this run has no data interval (it was triggered without a logical date), so it has no day to load: "
    "trigger it with a logical date: the run loads the local day before it "
    "(`airflow dags trigger engagement_elt_daily -l 2024-01-09` loads Monday 8 January)"
)
WEEKLY_RUN_WITHOUT_INTERVAL = (
    "this run has no data interval (it was triggered without a logical date) and no params, so it has no week "
    "to compute: give from_week (and to_week) or last_year, e.g. "
    '`airflow dags trigger engagement_weekly_views -c \'{"from_week": "2024-01-01"}\'`, '
    "or trigger it with a logical date"
)


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


def whole_local_days(start: datetime, end: datetime, time_zone: str | ZoneInfo) -> list[date]:
    """The local days whose whole ``[00:00, next 00:00)`` lies inside ``[start, end)``, in order.

    ``start`` and ``end`` must be timezone-aware. DST days (23 or 25 hours) count like any other.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"[{start}, {end}) must be timezone-aware to be cut into local days")
    day = local_day(start, time_zone)
    if day_bounds_in_zone(day, time_zone)[0] < start:
        day += ONE_DAY
    days = []
    while day_bounds_in_zone(day, time_zone)[1] <= end:
        days.append(day)
        day += ONE_DAY
    return days


def week_days(week: date) -> list[date]:
    """The seven days of the week that starts on the Monday ``week``."""
    _require_date(week, "week")
    if week.weekday() != 0:
        raise ValueError(f"{week} is a {week:%A}: weeks start on Monday")
    return [week + timedelta(days=offset) for offset in range(DAYS_IN_WEEK)]


def days_to_load(days: list[date], lookback_days: int, first_day: date | None = None) -> list[date]:
    """The days a daily run loads: its own ``days`` and the ``lookback_days`` before the first, oldest first.

    Late rows (events that reach production after their day was loaded) are loaded by the
    reload of their day in a later run. Days before ``first_day`` (the ELT's start date) are
    left out of the lookback; a run's own days never are.
    """
    if not days:
        raise ValueError("a daily run loads at least one whole local day")
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, not {lookback_days}")
    first = min(days)
    lookback = [first - timedelta(days=offset) for offset in range(lookback_days, 0, -1)]
    if first_day is not None:
        lookback = [day for day in lookback if day >= first_day]
    return sorted({*lookback, *days})


def weekly_run_logical_date(week: date, time_zone: str | ZoneInfo) -> datetime:
    """The logical date of the weekly views' run that the daily DAG triggers for ``week``: the Tuesday after, 00:00.

    That is the end of the data interval of the daily run that triggers it (the run of the
    Monday after the week), a function of the week only (never "now"). It is never a Monday
    00:00, so it never collides with the logical date of a scheduled or backfill run of the
    weekly DAG (one per week, at its Monday 00:00; Airflow keeps logical dates unique per DAG).
    Given as the run's ``run_after`` too, it makes the run's data interval the week itself.
    """
    _require_monday(week, "week")
    return day_bounds_in_zone(week + ONE_WEEK + ONE_DAY, time_zone)[0]


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
    interval_start_day: date | None,
    interval_end_day: date | None,
    from_week: date | None = None,
    to_week: date | None = None,
    last_year: bool = False,
    last_year_count: int = 52,
    max_weeks: int | None = None,
    weeks: list[date] | None = None,
) -> list[date]:
    """The weeks one run of ``engagement_weekly_views`` computes, oldest first.

    Params win over the run's own interval: ``weeks`` lists Mondays (the daily DAG's trigger for
    stale weeks gives it); ``from_week``/``to_week`` (``to_week`` defaults to ``from_week``) give
    an explicit range; ``last_year`` gives the ``last_year_count`` full weeks before the week
    containing ``interval_end_day``; one of the three at most. Without params (one run of a
    backfill, or a manual run with a logical date) the run computes the week its data interval
    starts in. More than ``max_weeks`` weeks is refused (checked before the list is built).
    """
    if weeks:
        if from_week is not None or to_week is not None or last_year:
            raise ValueError("give weeks, or from_week/to_week, or last_year: only one of them")
        for week in weeks:
            _require_monday(week, "each of weeks")
        unique = sorted(set(weeks))
        if max_weeks is not None and len(unique) > max_weeks:
            raise ValueError(
                f"weeks lists {len(unique)} weeks, more than max_weeks_per_run ({max_weeks}, "
                f"include/config/engagement.json) in one run: split them over several runs"
            )
        return unique
    if from_week is not None or to_week is not None:
        if last_year:
            raise ValueError("give either from_week/to_week or last_year, not both")
        if from_week is None:
            raise ValueError("to_week needs from_week")
        to_week = to_week or from_week
        _require_monday(from_week, "from_week")
        _require_monday(to_week, "to_week")
        if from_week > to_week:
            raise ValueError(f"from_week {from_week} is after to_week {to_week}")
        count = (to_week - from_week).days // 7 + 1
        if max_weeks is not None and count > max_weeks:
            raise ValueError(
                f"from_week {from_week} to to_week {to_week} is {count} weeks, more than max_weeks_per_run "
                f"({max_weeks}, include/config/engagement.json) in one run: split the range over several runs"
            )
        return weeks_between(from_week, to_week)
    if last_year:
        if interval_end_day is None:
            raise ValueError("last_year needs the run's data interval end or its run_after")
        if max_weeks is not None and last_year_count > max_weeks:
            raise ValueError(
                f"last_year_count {last_year_count} is more than max_weeks_per_run ({max_weeks})"
            )
        return last_year_weeks(interval_end_day, last_year_count)
    if interval_start_day is None:
        raise ValueError(WEEKLY_RUN_WITHOUT_INTERVAL)
    return [week_start(interval_start_day)]


# ---------------------------------------------------------------- what a DAG run does


def week_to_trigger(run_day: date, weekly_views: bool, first_day: date) -> tuple[date | None, str]:
    """Which week the daily run of ``run_day`` triggers the weekly views for, and the line saying why (or why not).

    Only the run of a Monday triggers, for the week that just ended (:func:`week_that_just_ended`);
    not when the param ``weekly_views`` is false, nor for a week that starts before the ELT's
    first day ``first_day`` (its days before that are never loaded, so it would never be whole).
    """
    week = week_that_just_ended(run_day)
    if week is None:
        return None, f"{run_day} is a {run_day:%A}: no weekly views today"
    prefix = f"{run_day} is a Monday: weekly views for the week of {week}"
    if week < first_day:
        return None, f"{prefix} not triggered (the week starts before the ELT's first day, {first_day})"
    if not weekly_views:
        return None, f"{prefix} not triggered (param weekly_views is false)"
    return week, prefix


def daily_run_day(
    interval_start: datetime | None, interval_end: datetime | None, time_zone: str | ZoneInfo
) -> date:
    """The local day a run of ``engagement_elt_daily`` loads: the day of its data interval.

    The interval must be one whole local day ``[D 00:00, D+1 00:00)`` (23 or 25 hours on clock
    changes), as the daily timetable makes it. Raises ValueError, with how to trigger the DAG,
    when the run has no data interval (a manual run triggered without a logical date).
    """
    if interval_start is None or interval_end is None:
        raise ValueError(DAILY_RUN_WITHOUT_INTERVAL)
    day = local_day(interval_start, time_zone)
    if (interval_start, interval_end) != day_bounds_in_zone(day, time_zone):
        raise ValueError(
            f"data interval [{interval_start.isoformat()}, {interval_end.isoformat()}) is not one local day in "
            f"{zone(time_zone).key}: the daily DAG needs CronDataIntervalTimetable('0 0 * * *') in that zone"
        )
    return day


def week_param(value: object, name: str) -> date | None:
    """A ``from_week``/``to_week`` param as a Monday; None when empty. Strict ``YYYY-MM-DD``."""
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return _require_monday(value, name)
    if not isinstance(value, str) or not re.fullmatch(WEEK_PARAM_PATTERN, value):
        raise ValueError(f"{name} must be a date written YYYY-MM-DD (a Monday), not {value!r}")
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{name} {value!r} is not a valid date") from error
    return _require_monday(day, name)


def weeks_param(value: object) -> list[date] | None:
    """The ``weeks`` param (a list of ``YYYY-MM-DD`` Mondays) as dates; None when empty."""
    if value is None or value == []:
        return None
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"weeks must be a list of dates written YYYY-MM-DD (Mondays), not {value!r}")
    weeks = [week_param(item, "each of weeks") for item in value]
    if None in weeks:
        raise ValueError(f"weeks must not hold empty values: {value!r}")
    return weeks


def weeks_for_params(
    params: Mapping[str, Any] | None,
    interval_start: datetime | None,
    interval_end: datetime | None,
    run_after: datetime | None,
    config: EngagementConfig,
) -> list[date]:
    """The weeks a run of ``engagement_weekly_views`` computes, from its params and its data interval.

    ``weeks`` lists Mondays, ``from_week``/``to_week`` give a range (no interval needed). ``last_year`` gives the
    configured number of full weeks before the interval's end, or before ``run_after`` when the
    run has no interval (triggered without a logical date). No params: the week of the interval,
    and a run with neither fails with a clear message. At most ``config.max_weeks_per_run`` weeks.
    """
    params = params or {}
    reference_end = interval_end if interval_end is not None else run_after
    return weeks_for_run(
        interval_start_day=local_day(interval_start, config.timezone) if interval_start is not None else None,
        interval_end_day=local_day(reference_end, config.timezone) if reference_end is not None else None,
        from_week=week_param(params.get("from_week"), "from_week"),
        to_week=week_param(params.get("to_week"), "to_week"),
        last_year=bool(params.get("last_year")),
        last_year_count=config.history_weeks_for_last_year,
        max_weeks=config.max_weeks_per_run,
        weeks=weeks_param(params.get("weeks")),
    )


def scheduled_run_skip_reason(
    run_type: object, interval_start: datetime | None, time_zone: str | ZoneInfo
) -> str | None:
    """Why a run of ``engagement_weekly_views`` computes nothing, or None when it computes.

    A scheduled run starts at Monday 00:00, before Sunday's events are loaded (the daily run of
    Sunday starts at that same moment): it would write the week wrongly, and the week is written
    anyway once complete, by the run ``from_daily__<week>`` that the daily DAG's Monday run
    triggers on Tuesday. The schedule stays, since it is what maps backfills to weeks; backfill,
    manual and triggered runs compute.
    """
    if getattr(run_type, "value", run_type) != SCHEDULED_RUN_TYPE:
        return None
    week = local_week(interval_start, time_zone) if interval_start is not None else None
    if week is None:
        return "scheduled run: nothing to compute; engagement_elt_daily's Monday run triggers each week once complete"
    return (
        f"scheduled run for the week of {week}: nothing to compute now, Sunday's events are not loaded yet; "
        f"engagement_elt_daily's run for Monday {week + ONE_WEEK} triggers this week "
        f"(run from_daily__{week.isoformat()}) once it is complete"
    )


def describe_weeks(weeks: list[date]) -> str:
    """One log line for the weeks a run computes."""
    if not weeks:
        return "no week to compute"
    return f"{len(weeks)} week(s) to compute: {weeks[0]} .. {weeks[-1]}"
