"""Months and quarters of the BI aggregation (pure): labels, half-open bounds, runs' months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.bi.periods import (
    RUN_WITHOUT_MONTHS,
    Month,
    Quarter,
    months_between,
    months_for_run,
    months_of_interval,
)


def test_labels_and_parsing():
    assert Month.parse("2024-03") == Month(2024, 3) and Month(2024, 3).label == "2024-03"
    for wrong in ("2024-13", "2024-00", "2024-1", "2024-03-01", "", None):
        with pytest.raises(ValueError):
            Month.parse(wrong)


def test_bounds_are_half_open_utc_months_across_year_and_leap_day():
    assert Month(2024, 2).start("UTC") == datetime(2024, 2, 1, tzinfo=UTC)
    assert Month(2024, 2).end("UTC") == datetime(2024, 3, 1, tzinfo=UTC)  # 29 days, leap year
    assert Month(2024, 12).end("UTC") == datetime(2025, 1, 1, tzinfo=UTC)
    edge = datetime(2024, 3, 1, tzinfo=UTC)
    assert Month.of(edge, "UTC") == Month(2024, 3)  # 00:00 on the 1st is the new month's
    assert Month.of(edge - timedelta(microseconds=1), "UTC") == Month(2024, 2)


def test_utc_months_ignore_daylight_saving_changes():
    # Europe's clocks change on 31 March 2024 and 27 October 2024: UTC months are not moved.
    assert Month(2024, 3).end("UTC") - Month(2024, 3).start("UTC") == timedelta(days=31)
    assert Month(2024, 10).end("UTC") - Month(2024, 10).start("UTC") == timedelta(days=31)
    assert Month.of(datetime(2024, 3, 31, 23, 30, tzinfo=UTC), "UTC") == Month(2024, 3)


def test_month_arithmetic():
    assert Month(2024, 12).next() == Month(2025, 1)
    assert Month(2024, 1).minus(1) == Month(2023, 12)
    assert Month(2024, 3).minus(14) == Month(2023, 1)


@pytest.mark.parametrize(
    ("month", "quarter", "closes"),
    [
        (Month(2024, 1), "2024-Q1", False),
        (Month(2024, 2), "2024-Q1", False),
        (Month(2024, 3), "2024-Q1", True),
        (Month(2024, 6), "2024-Q2", True),
        (Month(2024, 9), "2024-Q3", True),
        (Month(2024, 11), "2024-Q4", False),
        (Month(2024, 12), "2024-Q4", True),
    ],
)
def test_quarters_and_the_months_that_close_them(month, quarter, closes):
    assert month.quarter.label == quarter
    assert month.closes_quarter is closes


def test_quarter_bounds_and_the_quarter_before():
    q1 = Quarter(2024, 1)
    assert (q1.start("UTC"), q1.end("UTC")) == (
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 4, 1, tzinfo=UTC),
    )
    assert q1.previous() == Quarter(2023, 4)
    assert Quarter(2024, 3).previous() == Quarter(2024, 2)


def test_the_data_interval_of_a_monthly_run_is_its_month():
    start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
    assert months_of_interval(start, end, "UTC") == [Month(2024, 3)]
    assert months_of_interval(datetime(2024, 1, 1, tzinfo=UTC), end, "UTC") == [
        Month(2024, m) for m in (1, 2, 3)
    ]
    with pytest.raises(ValueError, match="not whole months"):
        months_of_interval(datetime(2024, 3, 2, tzinfo=UTC), end, "UTC")


def test_months_for_a_run_come_from_params_else_the_data_interval_never_now():
    start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
    assert months_for_run(None, None, start, end, "UTC", 60) == [Month(2024, 3)]
    assert months_for_run("2023-11", "2024-02", start, end, "UTC", 60) == [
        Month(2023, 11), Month(2023, 12), Month(2024, 1), Month(2024, 2),
    ]  # fmt: skip
    assert months_for_run("2024-01", "", None, None, "UTC", 60) == [Month(2024, 1)]
    with pytest.raises(ValueError, match=RUN_WITHOUT_MONTHS[:20]):
        months_for_run(None, None, None, None, "UTC", 60)
    with pytest.raises(ValueError, match="without from_month"):
        months_for_run(None, "2024-01", start, end, "UTC", 60)
    with pytest.raises(ValueError, match="before from_month"):
        months_for_run("2024-03", "2024-01", start, end, "UTC", 60)
    with pytest.raises(ValueError, match="max_months_per_run"):
        months_for_run("2019-12", "2024-12", start, end, "UTC", 60)  # 61 months


def test_months_between_is_inclusive():
    assert months_between(Month(2024, 1), Month(2024, 1)) == [Month(2024, 1)]
    assert len(months_between(Month(2023, 1), Month(2024, 12))) == 24
