"""Weeks and days of the engagement ELT: Mondays, local days across clock changes, the Monday rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from analytics.engagement.weeks import (
    day_bounds_in_zone,
    days_to_load,
    last_year_weeks,
    local_day,
    local_week,
    week_bounds_in_zone,
    week_days,
    week_start,
    week_that_just_ended,
    weeks_between,
    whole_local_days,
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
    assert all(
        later - earlier == timedelta(days=7) for earlier, later in zip(weeks[:-1], weeks[1:], strict=True)
    )


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


# ---------------------------------------------------------------- what a DAG run does


def _config(**changes):
    from dataclasses import replace

    from analytics.engagement.config import load_engagement_config

    return replace(load_engagement_config(), **changes)


def _paris(*parts: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*parts, tzinfo=ZoneInfo(PARIS))


# The weekly run of the week of 2024-03-04: [Mon 4 Mar 00:00, Mon 11 Mar 00:00) Paris.
WEEK_START, WEEK_END = _paris(2024, 3, 4), _paris(2024, 3, 11)
TRIGGERED_AT = datetime(2024, 5, 15, 9, 30, tzinfo=UTC)  # a Wednesday


def test_weeks_for_params_without_params_is_the_intervals_week() -> None:
    from analytics.engagement.weeks import weeks_for_params

    for params in (None, {}, {"from_week": None, "to_week": None, "last_year": False}, {"from_week": ""}):
        assert weeks_for_params(params, WEEK_START, WEEK_END, TRIGGERED_AT, _config()) == [date(2024, 3, 4)]


def test_weeks_for_params_range_needs_no_interval() -> None:
    from analytics.engagement.weeks import weeks_for_params

    params = {"from_week": "2024-01-01", "to_week": "2024-01-15"}
    expected = [date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)]
    assert weeks_for_params(params, None, None, TRIGGERED_AT, _config()) == expected
    assert weeks_for_params(params, WEEK_START, WEEK_END, TRIGGERED_AT, _config()) == expected
    assert weeks_for_params({"from_week": "2024-01-08"}, None, None, None, _config()) == [date(2024, 1, 8)]


def test_weeks_for_params_last_year_falls_back_to_run_after_without_interval() -> None:
    from analytics.engagement.weeks import weeks_for_params

    with_interval = weeks_for_params({"last_year": True}, WEEK_START, WEEK_END, TRIGGERED_AT, _config())
    assert (len(with_interval), with_interval[0], with_interval[-1]) == (
        52,
        date(2023, 3, 13),
        date(2024, 3, 4),
    )
    # Triggered on Wednesday 15 May without a logical date: the 52 full weeks before the week of 13 May.
    without = weeks_for_params({"last_year": True}, None, None, TRIGGERED_AT, _config())
    assert (len(without), without[0], without[-1]) == (52, date(2023, 5, 15), date(2024, 5, 6))
    short = weeks_for_params(
        {"last_year": True}, None, None, TRIGGERED_AT, _config(history_weeks_for_last_year=1)
    )
    assert short == [date(2024, 5, 6)]


def test_weeks_for_params_without_params_nor_interval_is_a_clear_error() -> None:
    from analytics.engagement.weeks import weeks_for_params

    with pytest.raises(ValueError, match="no data interval .* give from_week .* or last_year"):
        weeks_for_params({}, None, None, TRIGGERED_AT, _config())
    with pytest.raises(ValueError, match="last_year needs"):
        weeks_for_params({"last_year": True}, None, None, None, _config())


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from_week": "2024-1-1"}, "from_week must be a date written YYYY-MM-DD"),
        ({"from_week": "2024-01-01T00:00"}, "YYYY-MM-DD"),
        ({"from_week": "01/01/2024"}, "YYYY-MM-DD"),
        ({"from_week": 20240101}, "YYYY-MM-DD"),
        ({"from_week": "2024-02-30"}, "not a valid date"),
        ({"from_week": "2024-01-02"}, "from_week must be a Monday, not Tuesday"),
        ({"from_week": "2024-01-01", "to_week": "2024-01-07"}, "to_week must be a Monday"),
        ({"to_week": "2024-01-08"}, "to_week needs from_week"),
        ({"from_week": "2024-01-15", "to_week": "2024-01-01"}, "after to_week"),
        ({"from_week": "2024-01-01", "last_year": True}, "not both"),
    ],
)
def test_weeks_for_params_refuses_unusable_params(params: dict, message: str) -> None:
    from analytics.engagement.weeks import weeks_for_params

    with pytest.raises(ValueError, match=message):
        weeks_for_params(params, WEEK_START, WEEK_END, TRIGGERED_AT, _config())


def test_weeks_for_params_caps_the_range_before_listing_it() -> None:
    from analytics.engagement.weeks import weeks_for_params

    config = _config(max_weeks_per_run=260)
    five_years = weeks_for_params(
        {"from_week": "2020-01-06", "to_week": "2024-12-23"}, None, None, None, config
    )
    assert len(five_years) == 260
    with pytest.raises(ValueError, match=r"261 weeks, more than max_weeks_per_run \(260"):
        weeks_for_params({"from_week": "2020-01-06", "to_week": "2024-12-30"}, None, None, None, config)
    with pytest.raises(ValueError, match="more than max_weeks_per_run"):
        weeks_for_params({"from_week": "0001-01-01", "to_week": "9999-12-27"}, None, None, None, config)


def test_scheduled_runs_compute_nothing_and_say_who_writes_the_week() -> None:
    from analytics.engagement.weeks import scheduled_run_skip_reason

    reason = scheduled_run_skip_reason("scheduled", WEEK_START, PARIS)
    assert reason is not None
    assert "week of 2024-03-04" in reason
    assert "engagement_elt_daily's run for Monday 2024-03-11 triggers this week" in reason
    assert "from_daily__2024-03-04" in reason
    for run_type in ("manual", "backfill", "operator_triggered", "asset_triggered", None):
        assert scheduled_run_skip_reason(run_type, WEEK_START, PARIS) is None


def test_scheduled_run_type_is_read_from_airflows_enum() -> None:
    """The task gets ``dag_run.run_type`` as an enum: its value decides, not its str()."""
    import enum

    from analytics.engagement.weeks import scheduled_run_skip_reason

    class RunType(str, enum.Enum):  # noqa: UP042  (as airflow.sdk.api.datamodels._generated.DagRunType)
        SCHEDULED = "scheduled"
        MANUAL = "manual"

    assert scheduled_run_skip_reason(RunType.SCHEDULED, WEEK_START, PARIS)
    assert scheduled_run_skip_reason(RunType.MANUAL, WEEK_START, PARIS) is None


def test_describe_weeks() -> None:
    from analytics.engagement.weeks import describe_weeks

    assert (
        describe_weeks([date(2024, 1, 15), date(2024, 1, 22)])
        == "2 week(s) to compute: 2024-01-15 .. 2024-01-22"
    )
    assert describe_weeks([]) == "no week to compute"


@pytest.mark.parametrize(
    ("start", "end", "day"),
    [
        (_paris(2024, 1, 8), _paris(2024, 1, 9), date(2024, 1, 8)),
        (_paris(2024, 3, 31), _paris(2024, 4, 1), date(2024, 3, 31)),  # 23 hours
        (_paris(2024, 10, 27), _paris(2024, 10, 28), date(2024, 10, 27)),  # 25 hours
    ],
)
def test_daily_run_day_is_the_local_day_of_the_interval(start: datetime, end: datetime, day: date) -> None:
    from analytics.engagement.weeks import daily_run_day

    assert daily_run_day(start, end, PARIS) == day
    assert daily_run_day(start.astimezone(UTC), end.astimezone(UTC), PARIS) == day


def test_daily_run_without_interval_says_to_trigger_with_a_logical_date() -> None:
    from analytics.engagement.weeks import daily_run_day

    for start, end in ((None, None), (_paris(2024, 1, 8), None), (None, _paris(2024, 1, 9))):
        with pytest.raises(
            ValueError, match="trigger it with a logical date: the run loads the local day before it"
        ):
            daily_run_day(start, end, PARIS)


def test_daily_run_day_refuses_an_interval_that_is_not_one_local_day() -> None:
    from analytics.engagement.weeks import daily_run_day

    with pytest.raises(ValueError, match="not one local day"):
        daily_run_day(_paris(2024, 1, 8), _paris(2024, 1, 10), PARIS)
    with pytest.raises(ValueError, match="not one local day"):
        daily_run_day(datetime(2024, 1, 8, tzinfo=UTC), datetime(2024, 1, 9, tzinfo=UTC), PARIS)


# ---------------------------------------------------------------- configuration (zone and limits)


def _write_config(tmp_path, **changes):
    import json

    from analytics.engagement.config import CONFIG_PATH

    raw = {**json.loads(CONFIG_PATH.read_text()), **changes}
    path = tmp_path / "engagement.json"
    path.write_text(json.dumps(raw))
    return path


def test_the_time_zone_has_one_source(tmp_path) -> None:
    import json

    from analytics.engagement.config import CONFIG_PATH, ENGAGEMENT_TIMEZONE, load_engagement_config

    assert ENGAGEMENT_TIMEZONE == PARIS
    assert "timezone" not in json.loads(CONFIG_PATH.read_text())
    assert load_engagement_config().timezone == ENGAGEMENT_TIMEZONE
    assert load_engagement_config(_write_config(tmp_path, timezone=PARIS)).timezone == PARIS
    with pytest.raises(ValueError, match="timezone 'UTC' differs from ENGAGEMENT_TIMEZONE"):
        load_engagement_config(_write_config(tmp_path, timezone="UTC"))


def test_config_limits_are_checked(tmp_path) -> None:
    from analytics.engagement.config import load_engagement_config

    config = load_engagement_config()
    assert (config.max_weeks_per_run, config.copy_timeout_seconds, config.history_weeks_for_last_year) == (
        260,
        3600,
        52,
    )
    for changes, message in [
        ({"history_weeks_for_last_year": 0}, "history_weeks_for_last_year must be between 1 and"),
        ({"history_weeks_for_last_year": 300}, "history_weeks_for_last_year must be between 1 and"),
        ({"max_weeks_per_run": 0}, "max_weeks_per_run must be at least 1"),
        ({"copy_timeout_seconds": 0}, "copy_timeout_seconds must be between 1 and"),
        ({"copy_timeout_seconds": 7200}, "below the copy task's execution_timeout"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_engagement_config(_write_config(tmp_path, **changes))


# ---------------------------------------------------------------- whole local days (the load log's days)


def _paris_pendulum(*parts: int) -> datetime:
    import pendulum

    return pendulum.datetime(*parts, tz=PARIS)


def test_one_daily_interval_is_its_day():
    assert whole_local_days(_paris_pendulum(2024, 1, 8), _paris_pendulum(2024, 1, 9), PARIS) == [
        date(2024, 1, 8)
    ]


def test_a_multi_day_interval_gives_each_day_in_order():
    assert whole_local_days(_paris_pendulum(2024, 1, 6), _paris_pendulum(2024, 1, 9), PARIS) == [
        date(2024, 1, 6), date(2024, 1, 7), date(2024, 1, 8),
    ]  # fmt: skip


def test_the_same_instants_given_in_utc_give_the_same_days():
    start, end = datetime(2024, 1, 7, 23, tzinfo=UTC), datetime(2024, 1, 8, 23, tzinfo=UTC)
    assert whole_local_days(start, end, PARIS) == [date(2024, 1, 8)]
    assert whole_local_days(start, end, "UTC") == []  # in UTC neither day is whole


@pytest.mark.parametrize(
    ("day", "next_day"),
    [((2024, 3, 31), (2024, 4, 1)), ((2024, 10, 27), (2024, 10, 28))],
    ids=["23-hour day", "25-hour day"],
)
def test_dst_days_are_whole_days(day, next_day):
    assert whole_local_days(_paris_pendulum(*day), _paris_pendulum(*next_day), PARIS) == [date(*day)]


def test_days_cut_by_the_interval_are_left_out():
    assert whole_local_days(_paris_pendulum(2024, 1, 8, 12), _paris_pendulum(2024, 1, 10, 6), PARIS) == [
        date(2024, 1, 9)
    ]
    assert whole_local_days(_paris_pendulum(2024, 1, 8), _paris_pendulum(2024, 1, 8, 23), PARIS) == []


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        whole_local_days(datetime(2024, 1, 8), datetime(2024, 1, 9), PARIS)


def test_a_week_is_monday_to_sunday_and_starts_on_a_monday():
    assert week_days(date(2024, 1, 8)) == [date(2024, 1, day) for day in range(8, 15)]
    with pytest.raises(ValueError, match="2024-01-09 is a Tuesday"):
        week_days(date(2024, 1, 9))


# ---------------------------------------------------------------- a daily run's days, its Monday trigger


def test_a_daily_run_loads_its_day_and_the_lookback_days_before_it() -> None:
    assert days_to_load([date(2024, 1, 9)], 1) == [date(2024, 1, 8), date(2024, 1, 9)]
    assert days_to_load([date(2024, 1, 9)], 0) == [date(2024, 1, 9)]
    assert days_to_load([date(2024, 1, 9)], 3) == [
        date(2024, 1, 6),
        date(2024, 1, 7),
        date(2024, 1, 8),
        date(2024, 1, 9),
    ]
    # across a month and a year
    assert days_to_load([date(2024, 1, 1)], 2) == [date(2023, 12, 30), date(2023, 12, 31), date(2024, 1, 1)]
    # a multi-day interval: the lookback is before its first day
    assert days_to_load([date(2024, 1, 9), date(2024, 1, 10)], 1) == [
        date(2024, 1, 8),
        date(2024, 1, 9),
        date(2024, 1, 10),
    ]


def test_the_lookback_never_reaches_before_the_elts_first_day() -> None:
    first_day = date(2024, 1, 1)
    assert days_to_load([date(2024, 1, 1)], 1, first_day) == [date(2024, 1, 1)]
    assert days_to_load([date(2024, 1, 2)], 3, first_day) == [date(2024, 1, 1), date(2024, 1, 2)]
    assert days_to_load([date(2023, 12, 20)], 1, first_day) == [date(2023, 12, 20)]  # a run's own day always


def test_a_daily_run_needs_a_whole_day_and_a_non_negative_lookback() -> None:
    with pytest.raises(ValueError, match="at least one whole local day"):
        days_to_load([], 1)
    with pytest.raises(ValueError, match="lookback_days must be >= 0"):
        days_to_load([date(2024, 1, 9)], -1)


def test_the_triggered_weekly_run_takes_the_tuesday_after_its_week_as_logical_date() -> None:
    from analytics.engagement.weeks import weekly_run_logical_date

    # Tuesday 9 January 00:00 Paris = 8 January 23:00 UTC; never a Monday 00:00 (scheduled and backfill runs').
    assert weekly_run_logical_date(date(2024, 1, 1), PARIS) == datetime(2024, 1, 8, 23, tzinfo=UTC)
    # summer time: Tuesday 9 July 00:00 Paris = 8 July 22:00 UTC
    assert weekly_run_logical_date(date(2024, 7, 1), PARIS) == datetime(2024, 7, 8, 22, tzinfo=UTC)
    # the week of the autumn clock change: Tuesday 29 October 00:00 CET = 28 October 23:00 UTC
    assert weekly_run_logical_date(date(2024, 10, 21), PARIS) == datetime(2024, 10, 28, 23, tzinfo=UTC)
    with pytest.raises(ValueError, match="Monday"):
        weekly_run_logical_date(date(2024, 1, 2), PARIS)


@pytest.mark.parametrize(
    ("run_day", "weekly_views", "week", "reason"),
    [
        (
            date(2024, 1, 15),
            True,
            date(2024, 1, 8),
            "2024-01-15 is a Monday: weekly views for the week of 2024-01-08",
        ),
        (date(2024, 1, 16), True, None, "2024-01-16 is a Tuesday: no weekly views today"),
        (
            date(2024, 1, 15),
            False,
            None,
            "2024-01-15 is a Monday: weekly views for the week of 2024-01-08 not triggered (param weekly_views is false)",
        ),
        (
            date(2024, 1, 1),
            True,
            None,
            "2024-01-01 is a Monday: weekly views for the week of 2023-12-25 not triggered "
            "(the week starts before the ELT's first day, 2024-01-01)",
        ),
        (
            date(2024, 1, 8),
            True,
            date(2024, 1, 1),
            "2024-01-08 is a Monday: weekly views for the week of 2024-01-01",
        ),
    ],
)
def test_which_week_a_daily_run_triggers(run_day, weekly_views, week, reason) -> None:
    from analytics.engagement.weeks import week_to_trigger

    assert week_to_trigger(run_day, weekly_views, date(2024, 1, 1)) == (week, reason)


def test_weeks_param_lists_mondays() -> None:
    from analytics.engagement.weeks import weeks_for_params

    params = {"weeks": ["2024-01-15", "2024-01-01", "2024-01-15"]}
    assert weeks_for_params(params, None, None, None, _config()) == [date(2024, 1, 1), date(2024, 1, 15)]
    for wrong, message in [
        ({"weeks": ["2024-01-02"]}, "each of weeks must be a Monday"),
        ({"weeks": ["2024-1-1"]}, "YYYY-MM-DD"),
        ({"weeks": "2024-01-01"}, "weeks must be a list"),
        ({"weeks": ["2024-01-01", ""]}, "must not hold empty values"),
        ({"weeks": ["2024-01-01"], "from_week": "2024-01-08"}, "only one of them"),
        ({"weeks": ["2024-01-01"], "last_year": True}, "only one of them"),
    ]:
        with pytest.raises(ValueError, match=message):
            weeks_for_params(wrong, None, None, None, _config())
    with pytest.raises(ValueError, match=r"weeks lists 3 weeks, more than max_weeks_per_run \(2"):
        weeks_for_params(
            {"weeks": ["2024-01-01", "2024-01-08", "2024-01-15"]},
            None,
            None,
            None,
            _config(max_weeks_per_run=2, history_weeks_for_last_year=2),
        )
    assert weeks_for_params({"weeks": []}, WEEK_START, WEEK_END, None, _config()) == [date(2024, 3, 4)]


# ---------------------------------------------------------------- include/config/engagement.json through the shared loader


def test_config_errors_name_the_file_and_the_key(tmp_path) -> None:
    import json

    from analytics.core.config import ConfigError
    from analytics.engagement.config import CONFIG_PATH, load_engagement_config

    raw = json.loads(CONFIG_PATH.read_text())
    for changes, key in [
        ({"lookback_days": "1"}, "lookback_days"),
        ({"lookback_days": True}, "lookback_days"),
        ({"active_user_rule": {"measure": "distinct_days"}}, "active_user_rule.minimum"),
        ({"tables_not_copied": "evenement_engagement"}, "tables_not_copied"),
        ({"tables_not_copied": ["evenement_engagement", 3]}, "tables_not_copied"),
    ]:
        path = tmp_path / "engagement.json"
        path.write_text(json.dumps({**raw, **changes}))
        with pytest.raises(ConfigError, match=rf"engagement.json: key '{key}'"):
            load_engagement_config(path)
    missing = {key: value for key, value in raw.items() if key != "event_table"}
    path.write_text(json.dumps(missing))
    with pytest.raises(ConfigError, match="key 'event_table': missing"):
        load_engagement_config(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_engagement_config(path)


def test_lookback_and_lock_timeout_are_configured_and_checked(tmp_path) -> None:
    from analytics.engagement.config import load_engagement_config

    config = load_engagement_config()
    assert (config.lookback_days, config.lock_timeout_seconds) == (1, 600)
    for changes, message in [
        ({"lookback_days": -1}, "lookback_days must be between 0 and 31"),
        ({"lookback_days": 32}, "lookback_days must be between 0 and 31"),
        ({"lock_timeout_seconds": 0}, "lock_timeout_seconds must be between 1 and 1799"),
        ({"lock_timeout_seconds": 1800}, "below the compute_week task's execution_timeout"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_engagement_config(_write_config(tmp_path, **changes))
    raw_without = _write_config(tmp_path)
    import json

    text = json.loads(raw_without.read_text())
    del text["lookback_days"]
    raw_without.write_text(json.dumps(text))
    assert load_engagement_config(raw_without).lookback_days == 1  # the documented default
