"""Course KPIs: pure computations over one course's tracking events, one learner at a time (no I/O, no Airflow).

The events are documents of ``<course db>.tracking`` (see :mod:`analytics.edx.extraction`), read
in ``(username, time)`` order with :data:`KPI_PROJECTION`. :func:`learner_streams` cuts that
stream into one sub-stream per learner, and every computation is a per-learner accumulator
(``add(event)`` for each of the learner's events, then ``finish()``) whose memory is bounded
by one learner's events; what outlives a learner is a counter bounded by the course's size
(per video, per 5-second segment, per week and label), merged by ``finish()``:

- :mod:`.sessions`: time on task per learner and UTC day, split by category of activity;
- :mod:`.videos`: viewings of videos, per video and per 5-second segment (``videos``,
  ``video_segments``), by the rules of edx-analytics-pipeline's video task;
- :mod:`.weekly`: distinct learners per ISO week and label (``weekly_activity``), and the
  predicates that say which events are activity, problem attempts, video plays, forum posts;
- :mod:`.learners`: one row per learner (``learners``);
- :mod:`.staff`: which usernames are course staff, and why, so their events can be left out.

A learner found to be staff is left out by not calling ``finish()`` on their accumulators:
nothing of theirs reaches the course counters. The helpers below are the one place that reads
an event's time and its ``event`` payload. A typical engine loop::

    for username, events in learner_streams(cursor, skipped):
        ...  # one accumulator per computation, fed every event of the learner
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import orjson

# The fields of <course db>.tracking that the KPI modules read: the engine's find() projection.
KPI_PROJECTION: dict[str, int] = {
    "username": 1,
    "time": 1,
    "event_type": 1,
    "event_source": 1,
    "event": 1,
    "block": 1,
    "host": 1,
    "page": 1,
    "referer": 1,
    "context.path": 1,
}
NO_USERNAME = "event without username"
NOT_IN_LEARNER_ORDER = "events are not in (username, time) order"


def event_payload(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's ``event`` field as a mapping: the sub-document, or an old log's JSON string parsed; else ``{}``."""
    payload = event.get("event")
    if isinstance(payload, Mapping):
        return payload
    if isinstance(payload, str | bytes) and payload[:1] in ("{", b"{"):
        try:
            parsed = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def event_time(event: Mapping[str, Any]) -> datetime:
    """The event's ``time`` as an aware UTC datetime (MongoDB gives naive UTC ones back).

    Every extracted event has a time; one without is a bug upstream and raises ``ValueError``.
    """
    when = event.get("time")
    if not isinstance(when, datetime):
        raise ValueError(f"event {event.get('_id')!r} has no datetime 'time': {when!r}")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def username_of(event: Mapping[str, Any]) -> str:
    """The learner an event belongs to: its ``username``, stripped; ``""`` for anonymous events."""
    username = event.get("username")
    return username.strip() if isinstance(username, str) else ""


def learner_streams(
    events: Iterable[Mapping[str, Any]], skipped: Counter[str] | None = None
) -> Iterator[tuple[str, Iterator[Mapping[str, Any]]]]:
    """``(username, that learner's events)`` for each learner of an event stream in ``(username, time)`` order.

    Anonymous events (no username) are skipped, and counted under :data:`NO_USERNAME` in
    ``skipped`` when given. A username that comes back after another learner's events raises
    ``ValueError``: the stream was not sorted by username, and every per-learner result would
    be wrong. Consume each learner's events before asking for the next learner.
    """
    finished: set[str] = set()
    for username, learner_events in groupby(events, key=username_of):
        if not username:
            count = sum(1 for _ in learner_events)
            if skipped is not None:
                skipped[NO_USERNAME] += count
            continue
        if username in finished:
            raise ValueError(f"{NOT_IN_LEARNER_ORDER}: {username!r} appears again after other learners")
        finished.add(username)
        yield username, learner_events
