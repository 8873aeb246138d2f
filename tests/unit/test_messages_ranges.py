"""Ranges of the message export: half-open, in the configured zone, from the data interval, never "now"."""

from __future__ import annotations

import pendulum
import pytest

from analytics.messages.ranges import TimeRange, resolve_range

UTC = pendulum.timezone("UTC")
# A daily run at midnight: its data interval is 2024-03-08 .. 2024-03-09.
START = pendulum.datetime(2024, 3, 8, tz="UTC")
END = pendulum.datetime(2024, 3, 9, tz="UTC")


def bounds(time_range: TimeRange) -> tuple[str, str]:
    return time_range.start.isoformat(), time_range.end.isoformat()


def resolve(time_range="", start_time="", end_time="", timezone="UTC", interval=(START, END)) -> TimeRange:
    return resolve_range(time_range, start_time, end_time, *interval, timezone)


def test_empty_params_give_the_data_interval():
    assert bounds(resolve()) == ("2024-03-08T00:00:00+00:00", "2024-03-09T00:00:00+00:00")


def test_seven_days_are_the_whole_days_before_the_interval_end():
    assert bounds(resolve("7D")) == ("2024-03-02T00:00:00+00:00", "2024-03-09T00:00:00+00:00")


def test_a_manual_run_in_the_afternoon_still_covers_whole_days():
    afternoon = pendulum.datetime(2024, 3, 9, 15, 30, tz="UTC")
    assert bounds(resolve("1D", interval=(afternoon, afternoon))) == (
        "2024-03-08T00:00:00+00:00",
        "2024-03-09T00:00:00+00:00",
    )


def test_weeks_and_months():
    assert bounds(resolve("2W")) == ("2024-02-24T00:00:00+00:00", "2024-03-09T00:00:00+00:00")
    assert bounds(resolve("1M")) == ("2024-02-09T00:00:00+00:00", "2024-03-09T00:00:00+00:00")


def test_today_is_the_runs_own_day():
    assert bounds(resolve("TODAY")) == ("2024-03-08T00:00:00+00:00", "2024-03-09T00:00:00+00:00")


def test_all_starts_at_the_epoch_and_ends_at_the_interval_end():
    assert bounds(resolve("ALL")) == ("1970-01-01T00:00:00+00:00", "2024-03-09T00:00:00+00:00")


def test_days_are_days_of_the_configured_zone():
    paris = resolve("1D", timezone="Europe/Paris", interval=(END, END))
    assert bounds(paris) == ("2024-03-08T00:00:00+01:00", "2024-03-09T00:00:00+01:00")
    assert paris.utc_bounds()[0].isoformat() == "2024-03-07T23:00:00"


def test_explicit_start_and_end_are_shown_in_the_zone():
    given = resolve(start_time="2024-03-02T01:00:00+01:00", end_time="2024-03-09T00:00:00Z")
    assert bounds(given) == ("2024-03-02T00:00:00+00:00", "2024-03-09T00:00:00+00:00")
    assert given == resolve("7D")
    assert given.label == "20240302T000000+0000_20240309T000000+0000"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"time_range": "7X"}, "time_range: '7X' is not TODAY, ALL"),
        ({"time_range": "0D"}, "time_range: '0D'"),
        ({"start_time": "2024-03-02T00:00:00+00:00"}, "end_time is empty"),
        ({"start_time": "2024-03-09T00:00:00+00:00", "end_time": "2024-03-02T00:00:00+00:00"}, "end_time '2024-03-02T00:00:00+00:00' is not after"),
        ({"start_time": "2024-03-02T00:00:00", "end_time": "2024-03-09T00:00:00+00:00"}, "start_time: '2024-03-02T00:00:00' has no UTC offset"),
        ({"start_time": "yesterday", "end_time": "2024-03-09T00:00:00+00:00"}, "start_time: 'yesterday' is not an ISO 8601"),
        ({"time_range": "7D", "start_time": "2024-03-02T00:00:00+00:00", "end_time": "2024-03-09T00:00:00+00:00"}, "give one or the other"),
    ],
)  # fmt: skip
def test_bad_params_name_the_param_and_value(params, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("+", r"\+")):
        resolve(**params)


def test_a_run_without_data_interval_needs_explicit_times():
    with pytest.raises(ValueError, match="no data interval"):
        resolve("7D", interval=(None, None))
