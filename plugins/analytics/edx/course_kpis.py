"""The course KPIs engine: one course's ``<course db>.tracking`` and ingested tables into its five KPI collections.

:func:`compute_course_kpis` is a plain function (no Airflow). It reads the course's events sorted
by ``(username, time, _id)`` with :data:`~analytics.edx.kpis.KPI_PROJECTION`, learner by learner
(memory: one learner's events, plus counters bounded by the course's content and the set of its
learners' usernames), feeds each event to the staff detector and to the accumulators of
:mod:`analytics.edx.kpis`, and finishes a learner's accumulators only when the learner is not
staff. The ``learners`` rows are joined with the tables a batch of learners at a time (indexed
``$in`` look-ups). It writes, in the course database:

- ``time_on_task``: learner x UTC day (``_id`` ``<edx_id>|<username>|<day>``);
- ``weekly_activity``: ISO week x label (``_id`` ``<edx_id>|<interval_start>|<label>``);
- ``videos``, ``video_segments``, ``learners``: aggregates over the range, each document carrying
  ``edx_id``, ``from_date``, ``to_date`` (``_id`` ``<edx_id>|<from>|<to>|<video>[|<segment>]`` or
  ``...|<username>``);
- ``kpi_status``: one document per range (``_id`` ``<edx_id>|<from>|<to>``): running, complete or failed,
  the counts, the staff excluded by reason, the events skipped, the session timeout.

**Ranges.** ``from_date``/``to_date`` empty: the whole course, [date_of_course_enrollment,
date_of_course_completion] of the config (days included). ``time_on_task`` replaces the days of
the range; it reads the events from ``timeout`` before the range to ``timeout`` after it, so a
day's row is exactly what a whole-course run gives (a session that crosses a range boundary is
seen whole). ``weekly_activity`` widens the range to whole ISO weeks (the Monday on or before
``from_date`` to the Sunday on or after ``to_date``) and replaces those weeks. ``videos``,
``video_segments`` and ``learners`` count the events of the range's days and replace the
documents of that course and range only. Staff are decided from the events read for the range
(with the ``user`` table's flags, and Studio events of the master), so a user seen on instructor
pages only outside a recomputed range counts as a learner in it.

**Replacement.** Every document is written stamped with this attempt (``RUN_FIELD``), over the
one with the same ``_id`` or beside the others; only once all five collections are written are
the documents of the same scope that this attempt did not write deleted. Readers never see fewer
documents than they had; a crash halfway deletes nothing, and a rerun converges (deterministic
``_id``) to the state of one clean run.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from analytics.core.accounting import COMPLETE, FAILED, RUNNING, status_document
from analytics.core.progress import Progress
from analytics.edx.course_configs import CourseConfig
from analytics.edx.extraction import TRACKING_COLLECTION
from analytics.edx.kpi_collections import (
    KPI_COLLECTIONS,
    LEARNERS,
    READ_SORT,
    STATUS_COLLECTION,
    TIME_ON_TASK,
    VIDEO_SEGMENTS,
    VIDEOS,
    WEEKLY_ACTIVITY,
    ensure_indexes,
    range_fields,
    scopes,
    status_id,
)
from analytics.edx.kpi_settings import (
    KpiRange,
    KpiSettings,
    resolve_range,
)
from analytics.edx.kpi_tables import CourseTables
from analytics.edx.kpis import KPI_PROJECTION, NO_USERNAME, event_time, learner_streams
from analytics.edx.kpis.learners import LearnerActivity, learner_row
from analytics.edx.kpis.sessions import LearnerTimeOnTask
from analytics.edx.kpis.staff import REASONS, StaffDetector
from analytics.edx.kpis.videos import VideoViewings
from analytics.edx.kpis.weekly import WeeklyActivity
from analytics.edx.tables import COURSE_STRUCTURE_COLLECTION
from analytics.edx.tracking_load import MASTER_COLLECTION, MASTER_DATABASE
from analytics.stores.mongo import SafeReplacement, replace_document

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ results


@dataclass
class CourseKpiSummary:
    """What computing one course's KPIs did; ``as_dict`` is the task's XCom (no contact details)."""

    edx_id: str
    course_name: str
    database: str
    kpi_range: KpiRange
    run_id: str = ""
    state: str = RUNNING
    session_timeout_minutes: float = 30.0
    events_read: int = 0
    anonymous_events: int = 0  # events without a username: no learner to count them for
    staff_events: int = 0  # events of the learners excluded as staff
    learners_counted: int = 0  # rows of `learners`
    learners_with_events: int = 0  # of them, with an event in the range
    staff_excluded: int = 0
    staff_by_reason: Counter[str] = field(default_factory=Counter)
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KPI_COLLECTIONS, 0))
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KPI_COLLECTIONS, 0))
    video_drops: Counter[str] = field(default_factory=Counter)
    report_path: str | None = None
    report_s3_key: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "edx_id": self.edx_id,
            "course_name": self.course_name,
            "database": self.database,
            "from_date": self.kpi_range.from_date.isoformat(),
            "to_date": self.kpi_range.to_date.isoformat(),
            "whole_course": self.kpi_range.whole_course,
            "run_id": self.run_id,
            "state": self.state,
            "session_timeout_minutes": self.session_timeout_minutes,
            "events_read": self.events_read,
            "anonymous_events": self.anonymous_events,
            "staff_events": self.staff_events,
            "learners_counted": self.learners_counted,
            "learners_with_events": self.learners_with_events,
            "staff_excluded": self.staff_excluded,
            "staff_by_reason": {reason: self.staff_by_reason[reason] for reason in REASONS},
            "rows": dict(self.rows),
            "removed": dict(self.removed),
            "video_drops": dict(sorted(self.video_drops.items())),
            "report_path": self.report_path,
            "report_s3_key": self.report_s3_key,
        }

    def log_line(self) -> str:
        rows = ", ".join(f"{name} {count}" for name, count in self.rows.items())
        return (
            f"{self.edx_id} ({self.kpi_range.from_date} .. {self.kpi_range.to_date}) -> {self.database}: "
            f"{self.state}; {self.events_read} events read, {self.learners_counted} learners counted, "
            f"{self.staff_excluded} staff excluded {dict(self.staff_by_reason)}, "
            f"{self.anonymous_events} anonymous events skipped; rows: {rows}"
        )


# ------------------------------------------------------------------ one learner


class _Learner:
    """One learner's accumulators, each fed the events of its own window."""

    def __init__(
        self,
        username: str,
        kpi_range: KpiRange,
        timeout: timedelta,
        videos: VideoViewings,
        weekly: WeeklyActivity,
    ) -> None:
        self.username = username
        self.days = kpi_range.days()
        self.weeks = kpi_range.weeks()
        self.sessions = kpi_range.sessions(timeout)
        self.time_on_task = LearnerTimeOnTask(username, timeout)
        self.videos = videos.learner(username)
        self.weekly = weekly.learner(username)
        self.activity = LearnerActivity(username)
        self.events = 0
        self.events_in_range = 0

    def add(self, event: Mapping[str, Any]) -> None:
        self.events += 1
        when = event_time(event)
        if self.sessions[0] <= when < self.sessions[1]:
            self.time_on_task.add(event)
        if self.weeks[0] <= when < self.weeks[1]:
            self.weekly.add(event)
        if self.days[0] <= when < self.days[1]:
            self.events_in_range += 1
            self.videos.add(event)
            self.activity.add(event)

    def finish(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Merge into the course counters; the learner's time-on-task rows of the range's days."""
        self.videos.finish()
        self.weekly.finish()
        return [row for row in self.time_on_task.finish() if first_day <= row["day"] <= last_day]


# ------------------------------------------------------------------ the engine


def compute_course_kpis(
    client: Any,
    config: CourseConfig,
    *,
    from_date: date | str | None = None,
    to_date: date | str | None = None,
    settings: KpiSettings | None = None,
    include_contact_info: bool = False,
    run_id: str = "",
    master_database: str = MASTER_DATABASE,
) -> CourseKpiSummary:
    """Compute and write one course's KPIs for a range (empty dates: the whole course); see the module.

    Returns the summary (state complete). A failure marks the range's status ``failed`` and is
    raised again; nothing of the previous documents is deleted, and a rerun completes the state.
    """
    settings = settings or KpiSettings()
    kpi_range = resolve_range(config, from_date, to_date)
    database = client[config.database_name]
    summary = CourseKpiSummary(
        edx_id=config.edx_id,
        course_name=config.edx_course_name,
        database=database.name,
        kpi_range=kpi_range,
        run_id=run_id,
        session_timeout_minutes=settings.session_timeout_minutes,
    )
    status = _StatusWriter(database, config, summary)
    status.write(RUNNING)
    log.info(
        "%s: KPIs of %s.%s for %s .. %s%s, session timeout %g min, contact info %s",
        config.edx_id,
        database.name,
        TRACKING_COLLECTION,
        kpi_range.from_date,
        kpi_range.to_date,
        " (the whole course)" if kpi_range.whole_course else "",
        settings.session_timeout_minutes,
        "included" if include_contact_info else "left out",
    )
    try:
        ensure_indexes(database)
        master = client[master_database][MASTER_COLLECTION] if settings.studio_events_from_master else None
        _compute(database, master, summary, settings, include_contact_info)
    except BaseException as error:  # also a killed task: nothing was deleted, a rerun completes it
        status.failed(error)
        raise
    summary.state = COMPLETE
    status.write(COMPLETE, finished=True)
    log.info("%s", summary.log_line())
    return summary


def _compute(
    database: Any,
    master: Any,
    summary: CourseKpiSummary,
    settings: KpiSettings,
    include_contact_info: bool,
) -> None:
    kpi_range = summary.kpi_range
    timeout = settings.session_timeout
    stamp = (
        uuid.uuid4().hex
    )  # unique per attempt (a retry of the same run must not take its writes as its own)
    scoped = scopes(summary.edx_id, kpi_range)
    writers = {
        name: SafeReplacement(database[name], stamp, batch_size=settings.batch_size, scope=scoped[name])
        for name in KPI_COLLECTIONS
    }
    tables = CourseTables(database, include_contact_info)
    detector = StaffDetector(settings.staff_rule, tables.users_with_flags())
    read_start, read_end = kpi_range.read_window(timeout)
    if master is not None and settings.staff_rule.studio:
        _look_for_studio_users(master, detector, read_start, read_end, settings.batch_size)
    videos = VideoViewings(_structure_durations(database))
    weekly = WeeklyActivity()
    learners = _LearnerRows(tables, writers[LEARNERS], summary, include_contact_info, settings.batch_size)
    first_day, last_day = kpi_range.from_date.isoformat(), kpi_range.to_date.isoformat()
    skipped: Counter[str] = Counter()
    handled: set[str] = set()  # learners with a row, or excluded (the enrollment pass skips them)
    progress = Progress(
        f"{summary.edx_id}: events",
        unit="events",
        every_seconds=settings.progress_every_seconds,
        logger=log,
        extra=lambda: f"{summary.learners_counted} learners, {summary.staff_excluded} staff excluded",
    )
    cursor = database[TRACKING_COLLECTION].find(
        {"time": {"$gte": read_start, "$lt": read_end}},
        KPI_PROJECTION,
        sort=READ_SORT,
        batch_size=settings.batch_size,
    )
    for username, events in learner_streams(cursor, skipped):
        learner = _Learner(username, kpi_range, timeout, videos, weekly)
        for event in events:
            detector.add(event)
            learner.add(event)
        summary.events_read += learner.events
        progress.advance(learner.events)
        handled.add(username)
        if detector.is_staff(username):
            summary.staff_events += learner.events
            _count_staff(summary, detector, username)
            continue  # not finished: nothing of theirs reaches the course's counters
        rows = learner.finish(first_day, last_day)
        for row in rows:
            writers[TIME_ON_TASK].add(_time_on_task_document(summary.edx_id, row))
        if learner.events_in_range:
            learners.add(learner.activity, sum(row["seconds"] for row in rows))
        else:  # seen only in the week or session margins of the range: a row only if enrolled (below)
            handled.discard(username)
    summary.anonymous_events = skipped[NO_USERNAME]
    summary.events_read += summary.anonymous_events
    learners.flush()
    _enrolled_without_events(tables, detector, learners, summary, handled, settings.batch_size)
    _write_course_rows(writers, summary, videos, weekly)
    summary.video_drops = Counter(videos.drops)
    for name, writer in writers.items():  # every collection is written: only now is anything deleted
        summary.removed[name] = writer.commit()
        summary.rows[name] = writer.written
    progress.finish(f"{summary.learners_counted} learners counted, {summary.staff_excluded} staff excluded")


def _look_for_studio_users(
    master: Any, detector: StaffDetector, start: datetime, end: datetime, batch_size: int
) -> None:
    """Feed the detector the master's events of no course in the window: Studio's name none."""
    seen = 0
    for event in master.find(
        {"course_id": None, "time": {"$gte": start, "$lt": end}}, KPI_PROJECTION, batch_size=batch_size
    ):
        detector.add(event)
        seen += 1
    log.info("%d events of no course in the master looked at for Studio users", seen)


def _structure_durations(database: Any) -> dict[str, float]:
    """Video durations the course structure gives (``metadata.duration``), by block id."""
    durations = {}
    for block in database[COURSE_STRUCTURE_COLLECTION].find(
        {"category": "video"}, {"block_id": 1, "metadata.duration": 1}
    ):
        duration = (block.get("metadata") or {}).get("duration")
        if isinstance(duration, int | float) and not isinstance(duration, bool) and duration > 0:
            durations[block["block_id"]] = float(duration)
    return durations


def _count_staff(summary: CourseKpiSummary, detector: StaffDetector, username: str) -> None:
    summary.staff_excluded += 1
    summary.staff_by_reason.update(detector.evidence(username).keys())


def _enrolled_without_events(
    tables: CourseTables,
    detector: StaffDetector,
    learners: _LearnerRows,
    summary: CourseKpiSummary,
    handled: set[str],
    batch_size: int,
) -> None:
    """A row for every enrolled learner without an event in the range; enrolled staff are counted as excluded."""
    for user_ids in tables.enrolled_user_ids(batch_size):
        users = tables.users_by_id([user_id for user_id in user_ids if user_id is not None])
        for username in sorted(set(users) - handled):
            handled.add(username)
            if detector.is_staff(username):
                _count_staff(summary, detector, username)
            else:
                learners.add(LearnerActivity(username), 0.0, user=users[username])
    learners.flush()


def _write_course_rows(
    writers: dict[str, SafeReplacement],
    summary: CourseKpiSummary,
    videos: VideoViewings,
    weekly: WeeklyActivity,
) -> None:
    edx_id, in_range = summary.edx_id, range_fields(summary.edx_id, summary.kpi_range)
    for row in weekly.rows():
        key = f"{edx_id}|{row['interval_start']}|{row['label']}"
        writers[WEEKLY_ACTIVITY].add({"_id": key, "edx_id": edx_id, **row})
    for row in videos.video_rows():
        key = f"{edx_id}|{summary.kpi_range.key}|{row['video_id']}"
        writers[VIDEOS].add({"_id": key, **in_range, **row})
    for row in videos.segment_rows():
        key = f"{edx_id}|{summary.kpi_range.key}|{row['video_id']}|{row['segment']}"
        writers[VIDEO_SEGMENTS].add({"_id": key, **in_range, **row})


def _time_on_task_document(edx_id: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"_id": f"{edx_id}|{row['username']}|{row['day']}", "edx_id": edx_id, **row}


class _LearnerRows:
    """The ``learners`` rows, joined with the tables a batch of learners at a time."""

    def __init__(
        self,
        tables: CourseTables,
        writer: SafeReplacement,
        summary: CourseKpiSummary,
        include_contact_info: bool,
        batch_size: int,
    ) -> None:
        self.tables = tables
        self.writer = writer
        self.summary = summary
        self.include_contact_info = include_contact_info
        self.batch_size = batch_size
        self.pending: list[tuple[LearnerActivity, float, Mapping[str, Any] | None]] = []

    def add(self, activity: LearnerActivity, seconds: float, user: Mapping[str, Any] | None = None) -> None:
        self.pending.append((activity, seconds, user))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        unknown = [activity.username for activity, _, user in pending if user is None]
        users = self.tables.users_by_username(unknown) if unknown else {}
        users.update({user["username"]: user for _, _, user in pending if user is not None})
        joined = self.tables.joined(users.values())
        in_range = range_fields(self.summary.edx_id, self.summary.kpi_range)
        for activity, seconds, _ in pending:
            user = users.get(activity.username)
            tables = joined.get(user["_id"]) if user is not None else None
            row = learner_row(
                activity,
                time_on_task_seconds=seconds,
                enrollment=(tables or {}).get("enrollment"),
                certificate=(tables or {}).get("certificate"),
                contact=(tables or {}).get("contact"),
                include_contact_info=self.include_contact_info,
            )
            key = f"{in_range['edx_id']}|{self.summary.kpi_range.key}|{activity.username}"
            self.writer.add({"_id": key, **in_range, **row})
            self.summary.learners_counted += 1
            self.summary.learners_with_events += activity.events > 0


# ------------------------------------------------------------------ status


class _StatusWriter:
    """The range's ``kpi_status`` document, rewritten at the start and the end of a run."""

    def __init__(self, database: Any, config: CourseConfig, summary: CourseKpiSummary) -> None:
        self.collection = database[STATUS_COLLECTION]
        self.config = config
        self.summary = summary
        self.started_at = datetime.now(UTC)  # now-ok: when this computation ran (bookkeeping)

    def write(self, state: str, *, finished: bool = False, error: str | None = None) -> None:
        summary = self.summary
        details = summary.as_dict()
        document = status_document(
            state=state,
            started_at=self.started_at,
            finished_at=datetime.now(UTC) if finished else None,  # now-ok: bookkeeping
            files={},
            loaded=summary.rows,
            error=error,
            _id=status_id(summary.edx_id, summary.kpi_range),
            config_path=str(self.config.path),
            **{name: details[name] for name in details if name not in ("state", "rows")},
        )
        replace_document(self.collection, document)

    def failed(self, error: BaseException) -> None:
        """Record the failure; a failure to record it is logged, so the original error is the one raised."""
        try:
            self.summary.state = FAILED
            self.summary.error = f"{type(error).__name__}: {error}"
            self.write(FAILED, finished=True, error=self.summary.error)
        except Exception:
            log.exception("could not mark %s as failed in %s", self.summary.database, STATUS_COLLECTION)
