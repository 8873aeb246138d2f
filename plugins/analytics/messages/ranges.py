"""The time range of an export: half-open ``[start, end)`` in one zone, from params or the run's data interval.

``time_range`` is ``TODAY`` (the day of the data interval's start), ``ALL`` (from
:data:`EPOCH` to the data interval's end), ``<n>D``/``<n>W``/``<n>M`` (n whole days, weeks or
calendar months ending at the start of the day of the data interval's end: a daily run at midnight
covers the days before it), or empty (the data interval itself). ``start_time``/``end_time`` (ISO
8601 with an offset) give a range by hand, instead of ``time_range``. Never "now": a range is
recomputed identically by a backfill or a rerun. Errors (ValueError) name the param and the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pendulum

TIME_RANGE_PATTERN = r"^(TODAY|ALL|[1-9][0-9]*[DWM])?$"
EPOCH = (1970, 1, 1)
UNITS = {"D": "days", "W": "weeks", "M": "months"}
LABEL_FORMAT = "YYYYMMDDTHHmmssZZ"  # 20240301T000000+0000: sortable, no colon, in the range's zone


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)`` in ``start``'s zone."""

    start: pendulum.DateTime
    end: pendulum.DateTime

    @property
    def label(self) -> str:
        """``<start>_<end>``, the range's part of the export's key prefix."""
        return f"{self.start.format(LABEL_FORMAT)}_{self.end.format(LABEL_FORMAT)}"

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """The bounds as naive UTC datetimes, as MongoDB stores and compares them."""
        return _naive_utc(self.start), _naive_utc(self.end)


def _naive_utc(moment: pendulum.DateTime) -> datetime:
    utc = moment.in_timezone("UTC")
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond)


def resolve_range(
    time_range: str | None,
    start_time: str | None,
    end_time: str | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    timezone: str,
) -> TimeRange:
    """The range the params (or, without them, the data interval) ask for; ValueError naming the param."""
    time_range, start_time, end_time = (_blank(value) for value in (time_range, start_time, end_time))
    if start_time or end_time:
        if time_range:
            raise ValueError(
                f"time_range {time_range!r} and start_time/end_time are given: give one or the other"
            )
        return explicit_range(start_time, end_time, timezone)
    if time_range and not re.match(TIME_RANGE_PATTERN, time_range):
        raise ValueError(f"time_range: {time_range!r} is not TODAY, ALL or <n>D, <n>W, <n>M (like 7D)")
    if data_interval_start is None or data_interval_end is None:
        raise ValueError(
            "this run has no data interval: trigger it with a logical date, or give start_time and end_time"
        )
    interval_start = pendulum.instance(data_interval_start).in_timezone(timezone)
    interval_end = pendulum.instance(data_interval_end).in_timezone(timezone)
    return named_range(time_range, interval_start, interval_end)


def named_range(
    time_range: str, interval_start: pendulum.DateTime, interval_end: pendulum.DateTime
) -> TimeRange:
    """``time_range`` (already checked against the pattern) relative to the data interval, in its zone."""
    if not time_range:
        return _checked(interval_start, interval_end)
    if time_range == "TODAY":
        day = interval_start.start_of("day")
        return TimeRange(day, day.add(days=1))
    if time_range == "ALL":
        return _checked(pendulum.datetime(*EPOCH, tz=interval_end.timezone), interval_end)
    end = interval_end.start_of("day")
    return TimeRange(end.subtract(**{UNITS[time_range[-1]]: int(time_range[:-1])}), end)


def explicit_range(start_time: str | None, end_time: str | None, timezone: str) -> TimeRange:
    """``[start_time, end_time)`` given by hand, both ISO 8601 with an offset, shown in ``timezone``."""
    if not start_time or not end_time:
        missing = "end_time" if start_time else "start_time"
        raise ValueError(f"{missing} is empty: start_time and end_time go together")
    start = _parse_moment("start_time", start_time).in_timezone(timezone)
    end = _parse_moment("end_time", end_time).in_timezone(timezone)
    if end <= start:
        raise ValueError(f"end_time {end_time!r} is not after start_time {start_time!r}")
    return TimeRange(start, end)


def _parse_moment(param: str, text: str) -> pendulum.DateTime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{param}: {text!r} is not an ISO 8601 time (like 2024-03-01T00:00:00+00:00)"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{param}: {text!r} has no UTC offset (add +00:00 or Z)")
    return pendulum.instance(moment)


def _checked(start: pendulum.DateTime, end: pendulum.DateTime) -> TimeRange:
    if end <= start:
        raise ValueError(f"the range {start} .. {end} is empty")
    return TimeRange(start, end)


def _blank(value: str | None) -> str:
    text = "" if value is None else str(value).strip()
    return "" if text == "None" else text
