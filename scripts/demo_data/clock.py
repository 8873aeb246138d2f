"""Time in the edX demo data: where each generated day starts (UTC), when each of a day's event
slots happens (busier at noon than at midnight, always in time order), and how moments and
durations are written by each system the data imitates: MySQL dumps, mongoexport, course
metadata, tracking logs and the video player."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

DAY_MICROSECONDS = 86_400_000_000
DIURNAL_AMPLITUDE = 0.6  # events are 4x denser around 12:00 UTC than around midnight


def day_start(start_date: date, day: int) -> datetime:
    return datetime(start_date.year, start_date.month, start_date.day, tzinfo=UTC) + timedelta(days=day)


def slot_offset_microseconds(slot: int, slot_count: int, jitter: float) -> int:
    """Time of a day's event slot, in microseconds after midnight UTC.

    Slot i falls in [i, i+1) / slot_count before a monotonic warp that makes noon busier than
    midnight, so slots are in time order and inside the day whatever the jitter in [0, 1).
    """
    fraction = (slot + jitter) / slot_count
    warped = fraction - DIURNAL_AMPLITUDE * math.sin(2 * math.pi * fraction) / (2 * math.pi)
    return min(int(warped * DAY_MICROSECONDS), DAY_MICROSECONDS - 1)


def event_time_text(day_prefix: str, microseconds: int) -> str:
    """'2024-03-04T13:43:34.967980+00:00' from '2024-03-04T' and microseconds after midnight."""
    seconds, micro = divmod(microseconds, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{day_prefix}{hour:02d}:{minute:02d}:{second:02d}.{micro:06d}+00:00"


def sql_datetime(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def mongo_date(moment: datetime) -> dict[str, str]:
    return {"$date": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}


def iso_seconds(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def video_position(seconds: float) -> float | int:
    """A player position as browsers report it: milliseconds at most, whole seconds as integers."""
    rounded = round(float(seconds), 3)
    return int(rounded) if rounded.is_integer() else rounded


def video_clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
