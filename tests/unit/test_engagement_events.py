"""The interval a run handles and the load's count check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pendulum
import pytest

from analytics.engagement.events import EventInterval, LoadCountMismatch, as_utc, check_loaded_count

START = datetime(2024, 1, 7, 23, tzinfo=UTC)
END = datetime(2024, 1, 8, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        START,
        "2024-01-07T23:00:00+00:00",
        "2024-01-07 23:00:00+00:00",  # how Airflow renders {{ data_interval_start }}
        "2024-01-08T00:00:00+01:00",
        pendulum.datetime(2024, 1, 8, tz="Europe/Paris"),
        datetime(2024, 1, 8, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_as_utc_accepts_aware_instants_and_iso_strings(value) -> None:
    result = as_utc(value)
    assert result == START
    assert type(result) is datetime
    assert result.tzinfo is UTC


@pytest.mark.parametrize("value", [datetime(2024, 1, 8), "2024-01-08T00:00:00", "yesterday", 20240108])
def test_as_utc_refuses_naive_or_unreadable_values(value) -> None:
    with pytest.raises((ValueError, TypeError)):
        as_utc(value)


def test_interval_is_half_open_and_non_empty() -> None:
    interval = EventInterval("2024-01-08T00:00:00+01:00", "2024-01-09T00:00:00+01:00")
    assert interval.as_params() == {"start": START, "end": END}
    assert str(interval) == "[2024-01-07T23:00:00+00:00, 2024-01-08T23:00:00+00:00)"
    with pytest.raises(ValueError, match="empty data interval"):
        EventInterval(START, START)
    with pytest.raises(ValueError, match="empty data interval"):
        EventInterval(END, START)


def test_count_check() -> None:
    interval = EventInterval(START, END)
    check_loaded_count(12, 12, interval)
    with pytest.raises(LoadCountMismatch, match="loaded 11 events .* the source holds 12"):
        check_loaded_count(11, 12, interval)


def test_index_names_follow_the_event_table() -> None:
    from analytics.engagement.events import event_index_names

    assert event_index_names("evenement_engagement") == {
        "date_index": "evenement_engagement_date_evenement_idx",
        "day_index": "evenement_engagement_day_idx",
    }
    assert event_index_names("events_v2")["date_index"] == "events_v2_date_evenement_idx"
    with pytest.raises(ValueError, match="longer than 63 bytes"):
        event_index_names("e" * 50)
