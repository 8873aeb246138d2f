"""Time on task per learner and UTC day: the gaps between a learner's consecutive events, by category.

The rule, for one learner's activity events (``ACTIVE`` of :mod:`.weekly`: enrollment events and
``task`` events are not the learner acting, and take no part) in time order:

- the gap from an event to the learner's next one counts when it is shorter than the timeout
  (default 30 minutes); a gap at or above the timeout ends the session and counts nothing, and
  the next event opens a new session. The last event of a session adds nothing;
- the gap counts for the **category of the event that opens it** (:func:`event_category`) and
  for the **UTC day of that event**: a gap that crosses midnight counts whole for the earlier day;
- ``sessions`` counts the sessions that start on the day (a session that goes on past midnight
  counts once, on the day it started); ``events`` counts the day's activity events.

Known biases: the time after a learner's last event of a session (reading the last page,
watching the last video to its end) is never counted, so time on task is an underestimate,
most for short sessions (a one-event session counts 0 s); a pause shorter than the timeout
(a coffee, another tab) counts in full, so long pauses are an overestimate up to the timeout;
events the learner's browser fires without them acting (``page_close``, video ``pause`` at the
end) are gaps like any other; a gap across midnight goes to the earlier day (at most the
timeout's worth); a browser event and the server event of the same click both count as events
(the gap between them is ~0 s, so the time is not doubled).

Rows: ``{username, day, seconds, seconds_by_category: {video, problem, forum, courseware,
other}, sessions, events}``, one per UTC day with activity, seconds exact to the microsecond.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from analytics.edx.kpis import event_time, learner_streams
from analytics.edx.kpis.weekly import is_active_event

DEFAULT_SESSION_TIMEOUT = timedelta(minutes=30)
VIDEO, PROBLEM, FORUM, COURSEWARE, OTHER = "video", "problem", "forum", "courseware", "other"
CATEGORIES = (VIDEO, PROBLEM, FORUM, COURSEWARE, OTHER)

# 1. Event types by name (checked first).
VIDEO_EVENT_PREFIXES = ("edx.video.",)
VIDEO_EVENT_SUFFIX = (
    "_video"  # load_video, play_video, pause_video, seek_video, stop_video, speed_change_video
)
VIDEO_EVENT_TYPES = frozenset(
    {"show_transcript", "hide_transcript", "video_show_cc_menu", "video_hide_cc_menu"}
)
PROBLEM_EVENT_PREFIXES = (
    "problem_",
    "edx.problem.",
    "edx.grades.problem.",
    "openassessmentblock.",
    "openassessment.",
)
PROBLEM_EVENT_TYPES = frozenset(
    {"showanswer", "save_problem_success", "save_problem_fail", "reset_problem", "reset_problem_fail"}
)
FORUM_EVENT_PREFIXES = ("edx.forum.",)
# 2. The category of the block the event is about (``block.category``, when the extraction found it).
VIDEO_BLOCK_CATEGORIES = frozenset({"video"})
PROBLEM_BLOCK_CATEGORIES = frozenset({"problem", "openassessment", "drag-and-drop-v2"})
FORUM_BLOCK_CATEGORIES = frozenset({"discussion"})  # any other block category: courseware
# 3. Navigation in the course's content, by name.
COURSEWARE_EVENT_PREFIXES = ("seq_", "edx.ui.lms.", "edx.bookmark.", "textbook.")
COURSEWARE_EVENT_TYPES = frozenset({"book"})
# 4. The path of a server event's event_type, then of the page URL: forum pages, then courseware pages.
FORUM_PATH_PARTS = ("/discussion/",)
COURSEWARE_PATH_PARTS = ("/courseware", "/jump_to/", "/jump_to_id/", "/xblock/")


def event_category(event: Mapping[str, Any]) -> str:
    """The category an event's time counts for; the first rule that applies:

    1. its ``event_type`` name: ``edx.video.*``, ``*_video``, transcript and caption events are
       ``video``; ``problem_*``, ``edx.problem.*``, ``edx.grades.problem.*``,
       ``openassessmentblock.*``, ``openassessment.*``, ``showanswer``, ``save_problem_*``,
       ``reset_problem*`` are ``problem``; ``edx.forum.*`` is ``forum``;
    2. its block's category (``block.category``): ``video``; ``problem``, ``openassessment``,
       ``drag-and-drop-v2`` are ``problem``; ``discussion`` is ``forum``; any other block
       (html, vertical, sequential, chapter...) is ``courseware``;
    3. navigation by name: ``seq_*``, ``edx.ui.lms.*``, ``edx.bookmark.*``, ``textbook.*``,
       ``book`` are ``courseware``;
    4. the path of the ``event_type`` (server events name their URL path) or else of the ``page``
       URL (browser events): ``/discussion/`` is ``forum``; ``/courseware``, ``/jump_to/``,
       ``/jump_to_id/``, ``/xblock/`` are ``courseware``;
    5. everything else (dashboard, progress, course info, wiki, ...) is ``other``.
    """
    event_type = event.get("event_type")
    event_type = event_type if isinstance(event_type, str) else ""
    if (
        event_type.startswith(VIDEO_EVENT_PREFIXES)
        or event_type.endswith(VIDEO_EVENT_SUFFIX)
        or event_type in VIDEO_EVENT_TYPES
    ):
        return VIDEO
    if event_type.startswith(PROBLEM_EVENT_PREFIXES) or event_type in PROBLEM_EVENT_TYPES:
        return PROBLEM
    if event_type.startswith(FORUM_EVENT_PREFIXES):
        return FORUM
    block = event.get("block")
    block_category = block.get("category") if isinstance(block, Mapping) else None
    if isinstance(block_category, str) and block_category:
        if block_category in VIDEO_BLOCK_CATEGORIES:
            return VIDEO
        if block_category in PROBLEM_BLOCK_CATEGORIES:
            return PROBLEM
        if block_category in FORUM_BLOCK_CATEGORIES:
            return FORUM
        return COURSEWARE
    if event_type.startswith(COURSEWARE_EVENT_PREFIXES) or event_type in COURSEWARE_EVENT_TYPES:
        return COURSEWARE
    for path in _paths(event_type, event.get("page")):
        if any(part in path for part in FORUM_PATH_PARTS):
            return FORUM
        if any(part in path for part in COURSEWARE_PATH_PARTS):
            return COURSEWARE
    return OTHER


def _paths(event_type: str, page: object) -> Iterator[str]:
    if event_type.startswith("/"):
        yield event_type
    if isinstance(page, str) and page:
        try:
            yield urlsplit(page).path
        except ValueError:  # not a URL (an odd page value): no path
            return


@dataclass
class _Day:
    microseconds: int = 0
    by_category: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    sessions: int = 0
    events: int = 0


class LearnerTimeOnTask:
    """One learner's time on task: feed their events in time order with :meth:`add`, then :meth:`finish`."""

    def __init__(self, username: str, timeout: timedelta = DEFAULT_SESSION_TIMEOUT) -> None:
        if timeout <= timedelta(0):
            raise ValueError(f"the session timeout must be positive, not {timeout}")
        self.username = username
        self.timeout = timeout
        self.skipped = 0  # events that are not activity (enrollment, task)
        self._days: dict[date, _Day] = {}
        self._previous: tuple[datetime, str, _Day] | None = None  # time, category, day of the last event

    def add(self, event: Mapping[str, Any]) -> None:
        if not is_active_event(event):
            self.skipped += 1
            return
        when = event_time(event)
        day = self._days.get(when.date())
        if day is None:
            day = self._days[when.date()] = _Day()
        day.events += 1
        previous = self._previous
        if previous is None:
            day.sessions += 1
        else:
            opened_at, category, opening_day = previous
            gap = when - opened_at
            if gap < timedelta(0):
                raise ValueError(
                    f"events of {self.username!r} are not in time order: {when.isoformat()} after "
                    f"{opened_at.isoformat()}"
                )
            if gap < self.timeout:
                microseconds = gap // timedelta(microseconds=1)
                opening_day.microseconds += microseconds
                opening_day.by_category[category] += microseconds
            else:
                day.sessions += 1
        self._previous = (when, event_category(event), day)

    @property
    def total_seconds(self) -> float:
        """The learner's time on task over every day so far."""
        return sum(day.microseconds for day in self._days.values()) / 1_000_000

    def finish(self) -> list[dict[str, Any]]:
        """One row per UTC day with activity, in day order."""
        return [
            {
                "username": self.username,
                "day": day.isoformat(),
                "seconds": totals.microseconds / 1_000_000,
                "seconds_by_category": {
                    category: microseconds / 1_000_000
                    for category, microseconds in totals.by_category.items()
                },
                "sessions": totals.sessions,
                "events": totals.events,
            }
            for day, totals in sorted(self._days.items())
        ]


def time_on_task(
    events: Iterable[Mapping[str, Any]], timeout: timedelta = DEFAULT_SESSION_TIMEOUT
) -> Iterator[dict[str, Any]]:
    """The rows of a whole event stream in ``(username, time)`` order, learner by learner."""
    for username, learner_events in learner_streams(events):
        learner = LearnerTimeOnTask(username, timeout)
        for event in learner_events:
            learner.add(event)
        yield from learner.finish()
