"""Weekly activity: distinct learners per ISO week and label, and the predicates that define the labels.

A week is an ISO week in UTC, Monday 00:00 to the next Monday 00:00, named by its Monday
(``interval_start``, ``"YYYY-MM-DD"``). A learner counts once per week under each label that one
of their events of that week meets:

- ``ACTIVE``: any event of the course except enrollment events (``edx.course.enrollment.*``) and
  events whose ``event_source`` is ``task`` (background work, not the learner acting);
- ``ATTEMPTED_PROBLEM``: a ``problem_check`` whose ``event_source`` is ``server`` (the graded
  submission; the browser's ``problem_check`` is the click, logged as well);
- ``PLAYED_VIDEO``: a ``play_video`` from the ``browser`` or the ``mobile`` apps;
- ``POSTED_FORUM``: an ``edx.forum.*.created`` event (a thread, a response or a comment).

:class:`WeeklyActivity` keeps one counter per (week, label); a learner's accumulator
(:meth:`WeeklyActivity.learner`) keeps the set of (week, label) that learner met and adds one to
each counter when finished. Rows come for every week with any activity, all four labels each
(``count`` 0 included), in week order. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from fnmatch import fnmatchcase
from typing import Any

from analytics.edx.kpis import event_time, learner_streams

ACTIVE, ATTEMPTED_PROBLEM, PLAYED_VIDEO, POSTED_FORUM = (
    "ACTIVE",
    "ATTEMPTED_PROBLEM",
    "PLAYED_VIDEO",
    "POSTED_FORUM",
)
LABELS = (ACTIVE, ATTEMPTED_PROBLEM, PLAYED_VIDEO, POSTED_FORUM)
ENROLLMENT_EVENT_PREFIX = "edx.course.enrollment."
TASK_SOURCE = "task"
PROBLEM_CHECK, PLAY_VIDEO = "problem_check", "play_video"
VIDEO_PLAY_SOURCES = frozenset({"browser", "mobile"})
FORUM_POST_PATTERN = "edx.forum.*.created"


def is_active_event(event: Mapping[str, Any]) -> bool:
    """``ACTIVE``: not an enrollment event, not from the ``task`` source."""
    event_type = event.get("event_type")
    if isinstance(event_type, str) and event_type.startswith(ENROLLMENT_EVENT_PREFIX):
        return False
    return event.get("event_source") != TASK_SOURCE


def is_problem_attempt(event: Mapping[str, Any]) -> bool:
    """``ATTEMPTED_PROBLEM``: the server's ``problem_check``."""
    return event.get("event_type") == PROBLEM_CHECK and event.get("event_source") == "server"


def is_video_play(event: Mapping[str, Any]) -> bool:
    """``PLAYED_VIDEO``: ``play_video`` from the browser or a mobile app."""
    return event.get("event_type") == PLAY_VIDEO and event.get("event_source") in VIDEO_PLAY_SOURCES


def is_forum_post(event: Mapping[str, Any]) -> bool:
    """``POSTED_FORUM``: ``edx.forum.<thread|response|comment>.created``."""
    event_type = event.get("event_type")
    return isinstance(event_type, str) and fnmatchcase(event_type, FORUM_POST_PATTERN)


def event_labels(event: Mapping[str, Any]) -> list[str]:
    """The labels one event meets, in :data:`LABELS` order."""
    labels = [ACTIVE] if is_active_event(event) else []
    if is_problem_attempt(event):
        labels.append(ATTEMPTED_PROBLEM)
    if is_video_play(event):
        labels.append(PLAYED_VIDEO)
    if is_forum_post(event):
        labels.append(POSTED_FORUM)
    return labels


def iso_week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week (``date.isocalendar``: year, week, weekday)."""
    iso_year, iso_week, _ = day.isocalendar()
    return date.fromisocalendar(iso_year, iso_week, 1)


class WeeklyActivity:
    """The course's counters: learners per (week, label)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[date, str]] = Counter()
        self.learners = 0  # learners finished (merged)

    def learner(self, username: str) -> LearnerWeeklyActivity:
        """A fresh accumulator for one learner's events; its ``finish()`` adds them to these counters."""
        return LearnerWeeklyActivity(self, username)

    def rows(self) -> list[dict[str, Any]]:
        """``{interval_start, label, count}`` for every label of every week with activity, by week then label."""
        weeks = sorted({week for week, _ in self.counts})
        return [
            {"interval_start": week.isoformat(), "label": label, "count": self.counts[(week, label)]}
            for week in weeks
            for label in LABELS
        ]


class LearnerWeeklyActivity:
    """The (week, label) pairs one learner met."""

    def __init__(self, course: WeeklyActivity, username: str) -> None:
        self.course = course
        self.username = username
        self.met: set[tuple[date, str]] = set()

    def add(self, event: Mapping[str, Any]) -> None:
        labels = event_labels(event)
        if labels:
            week = iso_week_start(event_time(event).date())
            self.met.update((week, label) for label in labels)

    def finish(self) -> None:
        """Count this learner once in each (week, label) they met."""
        self.course.counts.update(self.met)
        self.course.learners += 1
        self.met = set()


def weekly_activity(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a whole event stream in ``(username, time)`` order (every learner counted)."""
    activity = WeeklyActivity()
    for username, learner_events in learner_streams(events):
        learner = activity.learner(username)
        for event in learner_events:
            learner.add(event)
        learner.finish()
    return activity.rows()
