"""The ``learners`` row: one per learner, from their events and what the caller read of the course's tables.

From the learner's events (:class:`LearnerActivity`, fed every event in time order), by the
predicates of :mod:`.weekly` so that the row and the weekly labels agree:

- ``first_event``, ``last_event``, ``days_active`` (distinct UTC days), ``events``: over the
  learner's activity events (``ACTIVE``: enrollment and ``task`` events are not the learner acting);
- ``videos_watched``: distinct video ids (``event.id``) of their ``PLAYED_VIDEO`` events (a play
  counts even when its viewing was dropped by the rules of :mod:`.videos`);
- ``problems_attempted``: distinct problems of their ``ATTEMPTED_PROBLEM`` events (the matched
  block's key, else ``event.problem_id``);
- ``forum_posts``: their ``POSTED_FORUM`` events (threads, responses and comments).

From the caller: ``time_on_task_seconds`` (the sum of the learner's :mod:`.sessions` rows), the
enrollment (``mode``, ``created``, ``is_active`` of ``<course db>.enrollment``), the certificate
(``status`` of ``<course db>.certificates``), and contact details (``email`` of ``user``, ``name``
of ``userprofile``), copied only when ``include_contact_info`` is true. A learner enrolled but
never active has a row too (build it from an empty :class:`LearnerActivity`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from analytics.edx.kpis import event_payload, event_time
from analytics.edx.kpis.weekly import is_active_event, is_forum_post, is_problem_attempt, is_video_play

CONTACT_FIELDS = ("email", "name")


class LearnerActivity:
    """What one learner's events say about them; memory: their active days, videos and problems."""

    def __init__(self, username: str) -> None:
        self.username = username
        self.first_event: datetime | None = None
        self.last_event: datetime | None = None
        self.events = 0
        self.days: set[date] = set()
        self.videos: set[str] = set()
        self.problems: set[str] = set()
        self.forum_posts = 0

    def add(self, event: Mapping[str, Any]) -> None:
        if not is_active_event(event):
            return
        when = event_time(event)
        if self.first_event is None or when < self.first_event:
            self.first_event = when
        if self.last_event is None or when > self.last_event:
            self.last_event = when
        self.events += 1
        self.days.add(when.date())
        if is_video_play(event):
            video_id = event_payload(event).get("id")
            if isinstance(video_id, str) and video_id.strip():
                self.videos.add(video_id.strip())
        if is_problem_attempt(event):
            problem = _problem_key(event)
            if problem:
                self.problems.add(problem)
        if is_forum_post(event):
            self.forum_posts += 1


def _problem_key(event: Mapping[str, Any]) -> str | None:
    block = event.get("block")
    if isinstance(block, Mapping) and isinstance(block.get("id"), str) and block["id"]:
        return block["id"]
    problem_id = event_payload(event).get("problem_id")
    return problem_id.strip() if isinstance(problem_id, str) and problem_id.strip() else None


def _utc_day(value: object) -> str | None:
    """A datetime's UTC date as ``"YYYY-MM-DD"`` (a naive one, as MongoDB returns them, is UTC); else None."""
    if not isinstance(value, datetime):
        return None
    return (value.astimezone(UTC) if value.tzinfo is not None else value).date().isoformat()


def learner_row(
    activity: LearnerActivity,
    *,
    time_on_task_seconds: float,
    enrollment: Mapping[str, Any] | None = None,
    certificate: Mapping[str, Any] | None = None,
    contact: Mapping[str, Any] | None = None,
    include_contact_info: bool = False,
) -> dict[str, Any]:
    """The learner's row; ``enrollment`` / ``certificate`` None when the tables have none for them.

    ``enrollment_date`` is the enrollment's ``created`` as ``"YYYY-MM-DD"`` (UTC); ``email`` and
    ``name`` are in the row only when ``include_contact_info`` is true (``None`` when unknown).
    """
    enrollment = enrollment or {}
    created = enrollment.get("created")
    row: dict[str, Any] = {
        "username": activity.username,
        "enrollment_mode": enrollment.get("mode"),
        "enrollment_date": _utc_day(created),
        "enrollment_active": enrollment.get("is_active"),
        "first_event": activity.first_event,
        "last_event": activity.last_event,
        "days_active": len(activity.days),
        "events": activity.events,
        "videos_watched": len(activity.videos),
        "problems_attempted": len(activity.problems),
        "forum_posts": activity.forum_posts,
        "time_on_task_seconds": time_on_task_seconds,
        "certificate_status": (certificate or {}).get("status"),
    }
    if include_contact_info:
        contact = contact or {}
        row.update({name: contact.get(name) for name in CONTACT_FIELDS})
    return row
