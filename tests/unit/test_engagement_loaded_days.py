"""Cutting intervals into whole local days, and the days of a week (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from analytics.engagement.loaded_days import week_days, whole_local_days

PARIS = "Europe/Paris"


def _paris(*parts: int) -> datetime:
    import pendulum

    return pendulum.datetime(*parts, tz=PARIS)


def test_one_daily_interval_is_its_day():
    assert whole_local_days(_paris(2024, 1, 8), _paris(2024, 1, 9), PARIS) == [date(2024, 1, 8)]


def test_a_multi_day_interval_gives_each_day_in_order():
    assert whole_local_days(_paris(2024, 1, 6), _paris(2024, 1, 9), PARIS) == [
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
    assert whole_local_days(_paris(*day), _paris(*next_day), PARIS) == [date(*day)]


def test_days_cut_by_the_interval_are_left_out():
    assert whole_local_days(_paris(2024, 1, 8, 12), _paris(2024, 1, 10, 6), PARIS) == [date(2024, 1, 9)]
    assert whole_local_days(_paris(2024, 1, 8), _paris(2024, 1, 8, 23), PARIS) == []


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        whole_local_days(datetime(2024, 1, 8), datetime(2024, 1, 9), PARIS)


def test_a_week_is_monday_to_sunday_and_starts_on_a_monday():
    assert week_days(date(2024, 1, 8)) == [date(2024, 1, day) for day in range(8, 15)]
    with pytest.raises(ValueError, match="2024-01-09 is a Tuesday"):
        week_days(date(2024, 1, 9))
