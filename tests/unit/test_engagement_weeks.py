"""Weeks and days of the engagement ELT: Mondays, local days across clock changes, the Monday rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from analytics.engagement.weeks import (
    day_bounds_in_zone,
    last_year_weeks,
    local_day,
    local_week,
    week_bounds_in_zone,
    week_start,
    week_that_just_ended,
    weeks_between,
    zone,
)

PARIS = "Europe/Paris"
MONDAY = date(2024, 1, 8)


@pytest.mark.parametrize("offset", range(7))
def test_week_start_is_the_monday_of_the_week(offset: int) -> None:
    assert week_start(MONDAY + timedelta(days=offset)) == MONDAY


def test_week_start_crosses_months_and_years() -> None:
    assert week_start(date(2024, 1, 3)) == date(2024, 1, 1)
    assert week_start(date(2021, 1, 2)) == date(2020, 12, 28)
    assert week_start(date(2024, 3, 1)) == date(2024, 2, 26)


def test_week_start_refuses_a_datetime() -> None:
    with pytest.raises(TypeError, match="local_day"):
        week_start(datetime(2024, 1, 8, 12, tzinfo=UTC))


def test_local_day_and_week_at_the_week_boundary_in_paris() -> None:
    # Sunday 23:30 UTC is Monday 00:30 in Paris (winter, UTC+1): the new week.
    instant = datetime(2024, 1, 7, 23, 30, tzinfo=UTC)
    assert local_day(instant, PARIS) == date(2024, 1, 8)
    assert local_week(instant, PARIS) == date(2024, 1, 8)
    assert local_week(instant, "UTC") == date(2024, 1, 1)
    # Sunday 22:59:59 UTC is still Sunday 23:59:59 in Paris.
    assert local_week(datetime(2024, 1, 7, 22, 59, 59, tzinfo=UTC), PARIS) == date(2024, 1, 1)
    # Summer time (UTC+2): Sunday 22:00 UTC is Monday 00:00 in Paris.
    assert local_week(datetime(2024, 7, 7, 22, 0, tzinfo=UTC), PARIS) == date(2024, 7, 8)
    assert local_week(datetime(2024, 7, 7, 21, 59, 59, tzinfo=UTC), PARIS) == date(2024, 7, 1)


def test_local_day_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_day(datetime(2024, 1, 8), PARIS)


def test_day_bounds_are_local_midnights_as_utc() -> None:
    assert day_bounds_in_zone(date(2024, 1, 8), PARIS) == (
        datetime(2024, 1, 7, 23, tzinfo=UTC),
        datetime(2024, 1, 8, 23, tzinfo=UTC),
    )
    assert day_bounds_in_zone(date(2024, 1, 8), "UTC") == (
        datetime(2024, 1, 8, tzinfo=UTC),
        datetime(2024, 1, 9, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2024, 3, 31), 23), (date(2024, 10, 27), 25), (date(2024, 6, 15), 24)],
)
def test_days_last_23_or_25_hours_when_the_clocks_change(day: date, hours: int) -> None:
    start, end = day_bounds_in_zone(day, PARIS)
    assert end - start == timedelta(hours=hours)
    assert local_day(start, PARIS) == day
    assert local_day(end - timedelta(microseconds=1), PARIS) == day


def test_week_bounds_span_the_clock_change() -> None:
    start, end = week_bounds_in_zone(date(2024, 3, 25), PARIS)
    assert start == datetime(2024, 3, 24, 23, tzinfo=UTC)
    assert end == datetime(2024, 3, 31, 22, tzinfo=UTC)
    with pytest.raises(ValueError, match="Monday"):
        week_bounds_in_zone(date(2024, 3, 26), PARIS)


def test_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Pariss'"):
        zone("Europe/Pariss")
    with pytest.raises(ValueError, match="unknown time zone"):
        day_bounds_in_zone(MONDAY, "not a zone")


def test_weeks_between_is_inclusive() -> None:
    assert weeks_between(date(2024, 1, 1), date(2024, 1, 22)) == [
        date(2024, 1, 1),
        date(2024, 1, 8),
        date(2024, 1, 15),
        date(2024, 1, 22),
    ]
    assert weeks_between(MONDAY, MONDAY) == [MONDAY]
    assert weeks_between(date(2024, 1, 15), date(2024, 1, 8)) == []


def test_weeks_between_crosses_the_year() -> None:
    weeks = weeks_between(date(2024, 12, 23), date(2025, 1, 13))
    assert weeks == [date(2024, 12, 23), date(2024, 12, 30), date(2025, 1, 6), date(2025, 1, 13)]


@pytest.mark.parametrize(("from_week", "to_week"), [(date(2024, 1, 2), MONDAY), (MONDAY, date(2024, 1, 14))])
def test_weeks_between_validates_mondays(from_week: date, to_week: date) -> None:
    with pytest.raises(ValueError, match="must be a Monday"):
        weeks_between(from_week, to_week)


def test_last_year_weeks_are_the_full_weeks_before_the_reference_week() -> None:
    weeks = last_year_weeks(date(2024, 6, 12))  # a Wednesday; its week starts on 2024-06-10
    assert len(weeks) == 52
    assert weeks[-1] == date(2024, 6, 3)
    assert weeks[0] == date(2023, 6, 12)
    assert all(week.weekday() == 0 for week in weeks)
    assert weeks == sorted(weeks)
    assert weeks == weeks_between(weeks[0], weeks[-1])


def test_last_year_weeks_from_a_monday_excludes_that_week() -> None:
    assert last_year_weeks(MONDAY, count=2) == [date(2023, 12, 25), date(2024, 1, 1)]
    assert last_year_weeks(MONDAY, count=0) == []
    with pytest.raises(ValueError):
        last_year_weeks(MONDAY, count=-1)


def test_week_that_just_ended_on_the_monday_run() -> None:
    # The run of Monday 2024-01-08 handles [Mon 00:00, Tue 00:00) and runs on Tuesday:
    # the week of 2024-01-01 ended a day before and all its days were loaded by earlier runs.
    assert week_that_just_ended(MONDAY) == date(2024, 1, 1)
    assert week_that_just_ended(date(2024, 12, 30)) == date(2024, 12, 23)
    assert week_that_just_ended(date(2025, 1, 6)) == date(2024, 12, 30)


@pytest.mark.parametrize("offset", range(1, 7))
def test_no_week_ends_on_other_days(offset: int) -> None:
    assert week_that_just_ended(MONDAY + timedelta(days=offset)) is None


def test_run_day_of_a_paris_data_interval_decides_the_week() -> None:
    # A daily run's interval in Paris starts at local midnight, i.e. 23:00 UTC the day before.
    interval_start = datetime(2024, 1, 7, 23, tzinfo=UTC)
    run_day = local_day(interval_start, PARIS)
    assert run_day == MONDAY
    assert week_that_just_ended(run_day) == date(2024, 1, 1)
    # Read in UTC the same instant is a Sunday: the zone matters.
    assert week_that_just_ended(local_day(interval_start, "UTC")) is None


def test_weeks_for_run_uses_the_interval_without_params():
    from analytics.engagement.weeks import weeks_for_run

    assert weeks_for_run(interval_start_day=date(2024, 3, 4), interval_end_day=date(2024, 3, 11)) == [
        date(2024, 3, 4)
    ]


def test_weeks_for_run_prefers_an_explicit_range():
    from analytics.engagement.weeks import weeks_for_run

    weeks = weeks_for_run(
        interval_start_day=date(2024, 3, 4),
        interval_end_day=date(2024, 3, 11),
        from_week=date(2024, 1, 1),
        to_week=date(2024, 1, 15),
    )
    assert weeks == [date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)]
    single = weeks_for_run(
        interval_start_day=date(2024, 3, 4), interval_end_day=date(2024, 3, 11), from_week=date(2024, 1, 8)
    )
    assert single == [date(2024, 1, 8)]


def test_weeks_for_run_last_year_gives_52_full_weeks_before_the_interval_end():
    from analytics.engagement.weeks import weeks_for_run

    weeks = weeks_for_run(
        interval_start_day=date(2024, 3, 4), interval_end_day=date(2024, 3, 11), last_year=True
    )
    assert len(weeks) == 52
    assert weeks[-1] == date(2024, 3, 4) and weeks[0] == date(2023, 3, 13)


def test_weeks_for_run_rejects_contradictory_params():
    import pytest

    from analytics.engagement.weeks import weeks_for_run

    with pytest.raises(ValueError, match="not both"):
        weeks_for_run(
            interval_start_day=date(2024, 3, 4),
            interval_end_day=date(2024, 3, 11),
            from_week=date(2024, 1, 1),
            last_year=True,
        )
    with pytest.raises(ValueError, match="after"):
        weeks_for_run(
            interval_start_day=date(2024, 3, 4),
            interval_end_day=date(2024, 3, 11),
            from_week=date(2024, 1, 15),
            to_week=date(2024, 1, 1),
        )
    with pytest.raises(ValueError, match="Monday"):
        weeks_for_run(
            interval_start_day=date(2024, 3, 4),
            interval_end_day=date(2024, 3, 11),
            from_week=date(2024, 1, 2),
        )
