"""The numbers behind the course report's charts, from KPI rows: weekly series, drop-off curves,
the least-watched videos, learners' minutes and their histogram, time by category. Pure: no
I/O, no plotly; :mod:`analytics.edx.kpi_report` draws them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from analytics.edx.kpis.sessions import CATEGORIES
from analytics.edx.kpis.weekly import (
    LABELS,
    iso_week_start,
)

MAXIMUM_HISTOGRAM_BINS = 25
NICE_BIN_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 960)


@dataclass(frozen=True)
class DropoffPoint:
    """One segment of a video's drop-off curve: where it starts, its viewings, its learners."""

    seconds: float
    views: int
    users: int


@dataclass(frozen=True)
class MinuteHistogram:
    """Learners by total time on task: ``counts[k]`` learners have ``[k * bin_minutes, (k + 1) * bin_minutes)``."""

    bin_minutes: int
    counts: list[int]


# --- reading rows --------------------------------------------------------------------------------


def as_number(value: object, default: float = 0.0) -> float:
    """A finite number from a row's field, else ``default`` (``None``, text, NaN from a hand-edited row)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value) if math.isfinite(value) else default


def as_count(value: object) -> int:
    return int(as_number(value))


def as_text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def as_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


# --- the computations behind the charts ----------------------------------------------------------


def weekly_series(
    rows: Iterable[Mapping[str, Any]], from_date: str = "", to_date: str = ""
) -> tuple[list[str], dict[str, list[int]]]:
    """The Mondays from the period's first week to its last (weeks with no row count 0), and per label its counts.

    Labels come in :data:`LABELS` order, then any other label found, alphabetically. The weeks
    span the period's (when its dates parse) and every week a row names.
    """
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for row in rows:
        week, label = as_day(as_text(row.get("interval_start"))), as_text(row.get("label"))
        if week is not None and label:
            counts[(iso_week_start(week), label)] += as_count(row.get("count"))
    if not counts:
        return [], {}
    period = [day for day in (as_day(from_date), as_day(to_date)) if day is not None]
    mondays = [week for week, _ in counts] + [iso_week_start(day) for day in period]
    weeks = [
        min(mondays) + timedelta(weeks=number)
        for number in range((max(mondays) - min(mondays)).days // 7 + 1)
    ]
    found = {label for _, label in counts}
    labels = [label for label in LABELS if label in found] + sorted(found - set(LABELS))
    return [week.isoformat() for week in weeks], {
        label: [counts.get((week, label), 0) for week in weeks] for label in labels
    }


def video_popularity_key(video: Mapping[str, Any]) -> tuple[float, float, str]:
    """Most viewed first: more unique viewers, then more viewed seconds, then by id."""
    return (
        -as_number(video.get("unique_viewers")),
        -as_number(video.get("total_viewed_seconds")),
        as_text(video.get("video_id")),
    )


def least_watched_videos(videos: Iterable[Mapping[str, Any]], count: int) -> list[Mapping[str, Any]]:
    """The ``count`` videos with the fewest unique viewers, then the fewest viewed seconds (then by id)."""
    ordered = sorted(
        videos,
        key=lambda video: (
            as_number(video.get("unique_viewers")),
            as_number(video.get("total_viewed_seconds")),
            as_text(video.get("video_id")),
        ),
    )
    return ordered[: max(count, 0)]


def dropoff_curve(
    segments: Iterable[Mapping[str, Any]], segment_length: float, duration: float | None
) -> list[DropoffPoint]:
    """One point per segment from 0 to the video's last (by its duration or the furthest segment viewed).

    A segment nobody viewed has no row and counts 0 here, so the curve drops instead of
    bridging the gap; ``seconds`` is ``segment x segment_length``.
    """
    views: dict[int, int] = defaultdict(int)
    users: dict[int, int] = defaultdict(int)
    for row in segments:
        segment = as_count(row.get("segment"))
        if segment >= 0:
            views[segment] += as_count(row.get("num_views"))
            users[segment] += as_count(row.get("num_users"))
    if not views:
        return []
    last = max(views)
    if duration:
        last = max(last, math.ceil(duration / segment_length) - 1)
    return [
        DropoffPoint(seconds=segment * segment_length, views=views[segment], users=users[segment])
        for segment in range(last + 1)
    ]


def learner_minutes(
    learners: Iterable[Mapping[str, Any]], time_on_task: Iterable[Mapping[str, Any]]
) -> list[float]:
    """Each learner's total time on task in minutes: from ``learners`` (0 s learners included), else summed ``time_on_task``."""
    from_learners = [as_number(row.get("time_on_task_seconds")) / 60 for row in learners]
    if from_learners:
        return from_learners
    seconds_by_learner: dict[str, float] = defaultdict(float)
    for row in time_on_task:
        seconds_by_learner[as_text(row.get("username"))] += as_number(row.get("seconds"))
    return [seconds / 60 for seconds in seconds_by_learner.values()]


def minute_histogram(minutes: Sequence[float]) -> MinuteHistogram:
    """Bins of the smallest width of :data:`NICE_BIN_MINUTES` that needs at most :data:`MAXIMUM_HISTOGRAM_BINS` bins."""
    longest = max((max(value, 0.0) for value in minutes), default=0.0)  # a negative time counts as 0
    bin_minutes = next(
        (width for width in NICE_BIN_MINUTES if math.floor(longest / width) + 1 <= MAXIMUM_HISTOGRAM_BINS),
        math.ceil(longest / (MAXIMUM_HISTOGRAM_BINS - 1)) or 1,
    )
    counts = [0] * (math.floor(longest / bin_minutes) + 1)
    for value in minutes:
        counts[math.floor(max(value, 0.0) / bin_minutes)] += 1
    return MinuteHistogram(bin_minutes=bin_minutes, counts=counts)


def seconds_by_category(time_on_task: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The course's time on task per category (:data:`~analytics.edx.kpis.sessions.CATEGORIES` order), in seconds."""
    totals = dict.fromkeys(CATEGORIES, 0.0)
    for row in time_on_task:
        by_category = row.get("seconds_by_category")
        if isinstance(by_category, Mapping):
            for category, seconds in by_category.items():
                totals[as_text(category)] = totals.get(as_text(category), 0.0) + as_number(seconds)
    return totals
