"""Video viewings: per video (``videos``) and per video x 5-second segment (``video_segments``).

The rules of edx-analytics-pipeline's video task (``edx/analytics/tasks/insights/video.py``),
applied to one learner's events of one video (named by ``event.id``, as it appears) in time order:

- only ``play_video``, ``pause_video``, ``seek_video`` and ``stop_video`` take part; ``event`` is
  a sub-document, or (old logs) a JSON string, both read;
- positions: ``currentTime`` (play, pause, stop), ``old_time`` and ``new_time`` (seek). An event
  whose position is missing, not a number (a numeric string is read as the number, as the
  pipeline's ``float()`` does; ``true`` is not a number), NaN or infinite, negative, or over
  10 hours is dropped, under that reason;
- a viewing starts at a ``play_video``'s ``currentTime``, or at the ``new_time`` of the
  ``seek_video`` just before the play (the learner's previous kept event of that video: players
  often log the position before the seek in the play that follows it); it ends at the next
  ``pause_video`` or ``stop_video`` (its ``currentTime``) or ``seek_video`` (its ``old_time``).
  A pause, stop or seek with no viewing open ends nothing (counted as outside a viewing);
- a viewing that ends before it starts, or lasts less than 0.25 s, is dropped; a play followed
  by another play, or by nothing, has no end and is dropped; every drop is counted by reason;
- a viewing from ``start`` to ``end`` covers the segments ``floor(start / 5)`` to
  ``floor(end / 5)``, both included (so 0 to 5.0 covers segments 0 and 1).

Per segment: ``num_views`` (viewings covering it), ``num_users`` (learners with one). Per video:
``duration`` (the largest valid ``duration`` of its events, else the caller's duration from the
course structure, else the furthest valid position seen in its events; ``duration_source``
says which), ``segment_length`` 5, ``users_at_start`` (``num_users`` of segment 0),
``users_at_end`` (``num_users`` of the segment at ``max(duration - 30, 0.95 x duration)``),
``total_viewed_seconds`` (all views x 5), ``unique_viewers``, ``viewings``, and the viewers'
share of the video covered (the union of a learner's viewings / duration, at most 1): its mean
and a histogram of tenths. A learner's own rows (:meth:`LearnerVideoViewings.finish`) give their
covered seconds and share.

Differences from the pipeline: its pause without ``currentTime`` counts as position 0 (here it
is dropped as missing, as the issue's rule says, and the viewing stays open for the next end);
its start-from-seek uses only a seek that ended a viewing (here any seek just before the play);
it drops viewings ending past ``duration + 1`` and cuts segments past the last one (not here);
with no duration it infers one from a drop-off in viewers (here the furthest position); it
keys videos by course and id (here the course is the database, the id is kept as it appears:
a browser's short id and a mobile app's ``block-v1`` key for one video are two rows, each with
the ``block_id`` that the extraction matched, by which they can be told to be one).
Pure: no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analytics.edx.kpis import event_payload, learner_streams

PLAY, PAUSE, SEEK, STOP = "play_video", "pause_video", "seek_video", "stop_video"
VIDEO_EVENT_TYPES = frozenset({PLAY, PAUSE, SEEK, STOP})
SEGMENT_LENGTH = 5  # seconds
MAXIMUM_POSITION = 10 * 3600.0  # seconds; a position above is nonsense
MINIMUM_VIEWING = 0.25  # seconds
END_MARGIN_SECONDS = 30.0  # users_at_end: the segment at max(duration - 30 s, 95 % of duration)
END_FRACTION = 0.95
SHARE_BINS = 10  # the share histogram: [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]
DURATION_FROM_EVENTS, DURATION_FROM_COURSE_STRUCTURE, DURATION_FROM_POSITIONS = (
    "events",
    "course_structure",
    "furthest_position",
)

POSITION_MISSING = "event dropped: position missing"
POSITION_NOT_A_NUMBER = "event dropped: position not a number"
POSITION_NOT_FINITE = "event dropped: position NaN or infinite"
POSITION_NEGATIVE = "event dropped: position negative"
POSITION_TOO_LARGE = "event dropped: position over 10 hours"
NO_VIDEO_ID = "event dropped: no video id"
OUTSIDE_VIEWING = "event ignored: pause, stop or seek outside a viewing"
ENDS_BEFORE_START = "viewing dropped: ends before it starts"
TOO_SHORT = "viewing dropped: shorter than 0.25 s"
PLAY_THEN_PLAY = "viewing dropped: play with no end (another play followed)"
PLAY_WITHOUT_END = "viewing dropped: play with no end (no later event)"
DROP_REASONS = (
    POSITION_MISSING,
    POSITION_NOT_A_NUMBER,
    POSITION_NOT_FINITE,
    POSITION_NEGATIVE,
    POSITION_TOO_LARGE,
    NO_VIDEO_ID,
    OUTSIDE_VIEWING,
    ENDS_BEFORE_START,
    TOO_SHORT,
    PLAY_THEN_PLAY,
    PLAY_WITHOUT_END,
)
_POSITION_FIELDS = {
    PLAY: ("currentTime",),
    PAUSE: ("currentTime",),
    STOP: ("currentTime",),
    SEEK: ("old_time", "new_time"),
}


def position(value: object) -> float | str:
    """A video position in seconds, or the reason it is unusable (one of the ``POSITION_*`` reasons)."""
    if value is None:
        return POSITION_MISSING
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return POSITION_NOT_A_NUMBER
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return POSITION_NOT_A_NUMBER
    if not math.isfinite(number):
        return POSITION_NOT_FINITE
    if number < 0:
        return POSITION_NEGATIVE
    if number > MAXIMUM_POSITION:
        return POSITION_TOO_LARGE
    return number


def segment_of(seconds: float) -> int:
    """The 5-second segment a position falls in: 4.99 is segment 0, 5.0 segment 1."""
    return math.floor(seconds / SEGMENT_LENGTH)


def end_segment(duration: float) -> int:
    """The segment whose viewers count as having watched to the end (the pipeline's "complete end segment")."""
    return segment_of(max(duration - END_MARGIN_SECONDS, duration * END_FRACTION))


def covered_length(intervals: Iterable[tuple[float, float]]) -> float:
    """The length of the union of ``(start, end)`` intervals (overlaps counted once)."""
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_end is not None:
        total += current_end - current_start
    return total


def _valid_duration(value: object) -> float | None:
    number = position(value)
    return number if isinstance(number, float) and number > 0 else None


@dataclass
class _VideoTotals:
    """What the course keeps of one video: counters bounded by the video's length, not by its events."""

    block_id: str | None = None
    display_name: str | None = None
    event_duration: float | None = None
    furthest_position: float = 0.0
    views: Counter[int] = field(default_factory=Counter)  # segment -> viewings covering it
    users: Counter[int] = field(default_factory=Counter)  # segment -> learners with a viewing covering it
    viewers: int = 0
    viewings: int = 0
    covered: Counter[float] = field(default_factory=Counter)  # a viewer's covered seconds (0.01 s) -> viewers


class VideoViewings:
    """The course's video counters; :meth:`learner` gives one learner's accumulator, merged by its ``finish()``.

    ``durations`` are the caller's durations from the course structure, in seconds, by block id
    (``block.block_id``) or by the id as events give it; an event's own ``duration`` wins.
    """

    def __init__(self, durations: Mapping[str, float] | None = None) -> None:
        self.durations = dict(durations or {})
        self.drops: Counter[str] = Counter()
        self.viewings = 0  # viewings counted, every video
        self.learners = 0  # learners merged
        self._videos: dict[str, _VideoTotals] = {}

    def learner(self, username: str) -> LearnerVideoViewings:
        return LearnerVideoViewings(self, username)

    def duration(self, video_id: str) -> tuple[float | None, str | None]:
        """The video's duration and where it comes from (``None, None`` when nothing says)."""
        totals = self._videos.get(video_id) or _VideoTotals()
        known = self._known_duration(video_id, totals)
        if known[0] is not None:
            return known
        if totals.furthest_position > 0:
            return totals.furthest_position, DURATION_FROM_POSITIONS
        return None, None

    def _known_duration(self, video_id: str, totals: _VideoTotals) -> tuple[float | None, str | None]:
        """The duration from events or the course structure: known before every learner is read."""
        if totals.event_duration is not None:
            return totals.event_duration, DURATION_FROM_EVENTS
        for key in (totals.block_id, video_id):
            structure_duration = _valid_duration(self.durations.get(key)) if key else None
            if structure_duration is not None:
                return structure_duration, DURATION_FROM_COURSE_STRUCTURE
        return None, None

    def video_rows(self) -> list[dict[str, Any]]:
        """One row per video seen in a kept event (viewers or not), by video id."""
        rows = []
        for video_id, totals in sorted(self._videos.items()):
            duration, source = self.duration(video_id)
            shares = _shares(totals.covered, duration)
            rows.append(
                {
                    "video_id": video_id,
                    "block_id": totals.block_id,
                    "display_name": totals.display_name,
                    "duration": duration,
                    "duration_source": source,
                    "segment_length": SEGMENT_LENGTH,
                    "users_at_start": totals.users[0],
                    "users_at_end": totals.users[end_segment(duration)] if duration is not None else 0,
                    "total_viewed_seconds": sum(totals.views.values()) * SEGMENT_LENGTH,
                    "unique_viewers": totals.viewers,
                    "viewings": totals.viewings,
                    "mean_share": _mean_share(shares),
                    "share_histogram": _share_histogram(shares),
                }
            )
        return rows

    def segment_rows(self) -> list[dict[str, Any]]:
        """One row per video and viewed segment (segments nobody viewed have none), by video then segment."""
        return [
            {
                "video_id": video_id,
                "block_id": totals.block_id,
                "segment": segment,
                "num_users": totals.users[segment],
                "num_views": totals.views[segment],
            }
            for video_id, totals in sorted(self._videos.items())
            for segment in sorted(totals.views)
        ]

    def _totals(self, video_id: str) -> _VideoTotals:
        totals = self._videos.get(video_id)
        if totals is None:
            totals = self._videos[video_id] = _VideoTotals()
        return totals


def _shares(covered: Counter[float], duration: float | None) -> list[tuple[float, int]]:
    if not duration:
        return []
    return [(min(seconds / duration, 1.0), viewers) for seconds, viewers in covered.items()]


def _mean_share(shares: list[tuple[float, int]]) -> float | None:
    viewers = sum(count for _, count in shares)
    return sum(share * count for share, count in shares) / viewers if viewers else None


def _share_histogram(shares: list[tuple[float, int]]) -> list[int]:
    histogram = [0] * SHARE_BINS
    for share, count in shares:
        histogram[min(int(share * SHARE_BINS), SHARE_BINS - 1)] += count
    return histogram


@dataclass
class _LearnerVideo:
    """One learner's state for one video: bounded by that learner's events of it."""

    open_start: float | None = None  # where the open viewing started; None: no viewing open
    seek_new_time: float | None = None  # the new_time of the previous kept event, when it was a seek
    intervals: list[tuple[float, float]] = field(default_factory=list)  # kept viewings
    views: Counter[int] = field(default_factory=Counter)
    block_id: str | None = None
    display_name: str | None = None
    event_duration: float | None = None
    furthest_position: float = 0.0


class LearnerVideoViewings:
    """One learner's viewings: feed their events in time order with :meth:`add`, then :meth:`finish`."""

    def __init__(self, course: VideoViewings, username: str) -> None:
        self.course = course
        self.username = username
        self.drops: Counter[str] = Counter()
        self._videos: dict[str, _LearnerVideo] = {}

    def add(self, event: Mapping[str, Any]) -> None:
        event_type = event.get("event_type")
        if event_type not in VIDEO_EVENT_TYPES:
            return
        payload = event_payload(event)
        video_id = payload.get("id")
        video_id = video_id.strip() if isinstance(video_id, str) else ""  # ids with a leading newline exist
        if not video_id:
            self.drops[NO_VIDEO_ID] += 1
            return
        positions = []
        for name in _POSITION_FIELDS[event_type]:
            value = position(payload.get(name))
            if isinstance(value, str):
                self.drops[value] += 1
                return
            positions.append(value)
        video = self._videos.get(video_id)
        if video is None:
            video = self._videos[video_id] = _LearnerVideo()
        self._note_video(video, event, payload, positions)
        if event_type == PLAY:
            if video.open_start is not None:
                self.drops[PLAY_THEN_PLAY] += 1
            video.open_start = video.seek_new_time if video.seek_new_time is not None else positions[0]
        elif video.open_start is None:
            self.drops[OUTSIDE_VIEWING] += 1
        else:
            self._end_viewing(video, positions[0])  # currentTime, or a seek's old_time
        video.seek_new_time = positions[1] if event_type == SEEK else None

    def _note_video(
        self,
        video: _LearnerVideo,
        event: Mapping[str, Any],
        payload: Mapping[str, Any],
        positions: list[float],
    ) -> None:
        video.furthest_position = max(video.furthest_position, *positions)
        duration = _valid_duration(payload.get("duration"))
        if duration is not None and (video.event_duration is None or duration > video.event_duration):
            video.event_duration = duration
        block = event.get("block")
        if video.block_id is None and isinstance(block, Mapping) and block.get("block_id"):
            video.block_id = block["block_id"]
            video.display_name = block.get("display_name")

    def _end_viewing(self, video: _LearnerVideo, end: float) -> None:
        start = video.open_start
        assert start is not None
        video.open_start = None
        if end < start:
            self.drops[ENDS_BEFORE_START] += 1
        elif end - start < MINIMUM_VIEWING:
            self.drops[TOO_SHORT] += 1
        else:
            video.intervals.append((start, end))
            video.views.update(range(segment_of(start), segment_of(end) + 1))

    def finish(self) -> list[dict[str, Any]]:
        """Merge this learner into the course's counters; their rows, one per video with a kept viewing.

        A row: ``{username, video_id, block_id, viewings, covered_seconds, share}``; ``share`` is
        ``None`` when the duration is known only from positions (final only once every learner
        is read: take ``covered_seconds / duration`` of the video's row then).
        """
        course = self.course
        rows = []
        for video_id, video in sorted(self._videos.items()):
            if video.open_start is not None:
                self.drops[PLAY_WITHOUT_END] += 1
            totals = course._totals(video_id)
            if totals.block_id is None and video.block_id is not None:
                totals.block_id, totals.display_name = video.block_id, video.display_name
            if video.event_duration is not None and (
                totals.event_duration is None or video.event_duration > totals.event_duration
            ):
                totals.event_duration = video.event_duration
            totals.furthest_position = max(totals.furthest_position, video.furthest_position)
            if not video.intervals:
                continue
            covered = round(covered_length(video.intervals), 6)
            totals.views.update(video.views)
            totals.users.update(video.views.keys())
            totals.viewers += 1
            totals.viewings += len(video.intervals)
            totals.covered[round(covered, 2)] += 1
            course.viewings += len(video.intervals)
            duration, _ = course._known_duration(video_id, totals)
            rows.append(
                {
                    "username": self.username,
                    "video_id": video_id,
                    "block_id": totals.block_id,
                    "viewings": len(video.intervals),
                    "covered_seconds": covered,
                    "share": min(covered / duration, 1.0) if duration else None,
                }
            )
        course.drops.update(self.drops)
        course.learners += 1
        self._videos = {}
        self.drops = Counter()
        return rows


def video_viewings(
    events: Iterable[Mapping[str, Any]], durations: Mapping[str, float] | None = None
) -> VideoViewings:
    """The course counters of a whole event stream in ``(username, time)`` order (every learner counted)."""
    viewings = VideoViewings(durations)
    for username, learner_events in learner_streams(events):
        learner = viewings.learner(username)
        for event in learner_events:
            learner.add(event)
        learner.finish()
    return viewings
