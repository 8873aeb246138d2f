"""The per-course extraction engine: a course's tracking events, from the master collection into its own database.

:func:`extract_course` is a plain function (no Airflow). It selects the events of
``tracking_logs.tracking`` whose ``course_id`` is one of the config's course id forms and whose
``time`` is in the config's window, adds to each the block it is about (``block``,
``parent_data``, from ``<course db>.course_structure``; an event that names no known block is
kept as it is and counted), and writes it to ``<course db>.tracking`` under the master ``_id``,
so reruns never duplicate. Incremental by default: only the events the loader stamped
(``loaded_at``) at or after the last successful extraction's mark minus ``overlap``. A full
refresh (asked for; forced when the config's course ids or window changed since the last
success, or when the last full refresh did not complete) rewrites every selected event through
:class:`SafeReplacement`, so events no longer selected go only once the new set is complete and
readers never see fewer events meanwhile.
``<course db>.tracking_extraction`` (``_id`` "status") says whether the last extraction is
running, complete or failed, and keeps the mark. The cursor is streamed, never held in memory.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.core.accounting import COMPLETE, FAILED, RUNNING, status_document
from analytics.core.progress import DEFAULT_EVERY_SECONDS, Progress
from analytics.edx.blocks import BlockIndex, enrichment, match_block
from analytics.edx.course_configs import CourseConfig
from analytics.edx.tables import COURSE_STRUCTURE_COLLECTION
from analytics.edx.tracking_load import MASTER_COLLECTION, MASTER_DATABASE
from analytics.stores.mongo import DEFAULT_BATCH_SIZE, MongoBatchWriter, SafeReplacement, replace_document

log = logging.getLogger(__name__)

TRACKING_COLLECTION = "tracking"
STATUS_COLLECTION = "tracking_extraction"
STATUS_ID = "status"
DEFAULT_OVERLAP = timedelta(hours=1)
INCREMENTAL, FULL = "incremental", "full"
# Indexes on <course db>.tracking: what the course KPIs filter and group on.
TRACKING_INDEXES: list[str | list[tuple[str, int]]] = [
    "time",
    [("username", 1), ("time", 1)],
    "event_type",
    "block.block_id",
]
_STRUCTURE_FIELDS = {"block_id": 1, "category": 1, "display_name": 1, "parent_data": 1, "children": 1}


@dataclass
class ExtractionSummary:
    """What extracting one course did; ``as_dict`` is the task's XCom (datetimes as ISO strings)."""

    edx_id: str
    database: str
    course_ids: list[str]
    window: tuple[datetime, datetime]
    mode: str = INCREMENTAL
    mode_reason: str = ""
    since: datetime | None = None  # the loaded_at mark the selection started from (None: every event)
    mark: datetime | None = None  # the mark this run leaves: the largest loaded_at extracted so far
    selected: int = 0
    written: int = 0
    enriched: int = 0
    not_enriched: int = 0
    removed: int = 0  # full refresh: events of earlier runs no longer selected
    blocks: int = 0  # blocks in the course structure
    state: str = RUNNING
    course_id_forms: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "edx_id": self.edx_id,
            "database": self.database,
            "course_ids": list(self.course_ids),
            "course_id_forms": list(self.course_id_forms),
            "window": [_iso(self.window[0]), _iso(self.window[1])],
            "mode": self.mode,
            "mode_reason": self.mode_reason,
            "selected": self.selected,
            "written": self.written,
            "enriched": self.enriched,
            "not_enriched": self.not_enriched,
            "removed": self.removed,
            "blocks": self.blocks,
            "since": _iso(self.since),
            "mark": _iso(self.mark),
            "state": self.state,
        }

    def log_line(self) -> str:
        return (
            f"{self.edx_id} -> {self.database}.{TRACKING_COLLECTION}: {self.state}, {self.mode} "
            f"({self.mode_reason}), {self.selected} selected since {_iso(self.since) or 'the beginning'}, "
            f"{self.written} written, {self.enriched} enriched, {self.not_enriched} not enriched, "
            f"{self.removed} removed"
        )


def extract_course(
    client: Any,
    config: CourseConfig,
    *,
    master_database: str = MASTER_DATABASE,
    full_refresh: bool = False,
    overlap: timedelta = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress_every_seconds: float = DEFAULT_EVERY_SECONDS,
) -> ExtractionSummary:
    """Copy one course's tracking events, enriched with their blocks, into ``<course db>.tracking``.

    Returns the summary (``state`` complete). A failure marks the status ``failed``, keeps the
    previous mark and is raised again; what was written stays (every write is by the master
    ``_id``), and a rerun completes it to the same state.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    if overlap < timedelta(0):
        raise ValueError(f"overlap must not be negative, not {overlap}")
    database = client[config.database_name]
    master = client[master_database][MASTER_COLLECTION]
    previous = database[STATUS_COLLECTION].find_one({"_id": STATUS_ID}) or {}
    summary = ExtractionSummary(
        edx_id=config.edx_id,
        database=database.name,
        course_ids=list(config.course_ids),
        course_id_forms=list(config.course_id_forms()),
        window=config.window(),
    )
    _choose_mode(summary, previous, full_refresh, overlap)
    status = _StatusWriter(database, config, summary, previous)
    status.write(RUNNING)
    log.info(
        "%s: extracting events of %s from %s.%s into %s.%s, %s (%s)",
        config.edx_id,
        ", ".join(summary.course_id_forms),
        master_database,
        MASTER_COLLECTION,
        database.name,
        TRACKING_COLLECTION,
        summary.mode,
        summary.mode_reason,
    )
    try:
        index = _read_course_structure(database, summary)
        _copy_events(
            config, master, database[TRACKING_COLLECTION], index, summary, batch_size, progress_every_seconds
        )
    except BaseException as error:  # also a killed task: the mark stays, a rerun selects the same events
        status.failed(error)
        raise
    if summary.mark is None:
        summary.mark = status.previous_mark  # nothing selected: keep the old mark
    summary.state = COMPLETE
    status.write(COMPLETE, finished=True)
    log.info("%s", summary.log_line())
    return summary


def selection_filter(config: CourseConfig, since: datetime | None = None) -> dict[str, Any]:
    """The master events of the course: one of its course id forms, ``time`` in its window, loaded at or after ``since``."""
    start, end = config.window()
    selection: dict[str, Any] = {
        "course_id": {"$in": list(config.course_id_forms())},
        "time": {"$gte": start, "$lt": end},
    }
    if since is not None:
        selection["loaded_at"] = {"$gte": since}
    return selection


def _choose_mode(
    summary: ExtractionSummary, previous: Mapping[str, Any], full_refresh: bool, overlap: timedelta
) -> None:
    """Full when asked, when the last full refresh did not complete, or when the selection changed since the last
    success; else incremental from the mark (every event when there was no success yet)."""
    mark = _as_utc(previous.get("mark"))
    last_selection = previous.get("selection")
    if full_refresh:
        summary.mode, summary.mode_reason = FULL, "full refresh requested"
    elif previous.get("mode") == FULL and previous.get("state") != COMPLETE:
        summary.mode, summary.mode_reason = FULL, "the last full refresh did not complete"
        log.warning("%s: %s: full refresh again", summary.edx_id, summary.mode_reason)
    elif last_selection is not None and last_selection != _selection_record(summary):
        summary.mode = FULL
        summary.mode_reason = "course ids or window changed since the last successful extraction"
        log.warning("%s: %s (was %s): full refresh", summary.edx_id, summary.mode_reason, last_selection)
    elif mark is None:
        summary.mode_reason = "no successful extraction before: every event"
    else:
        summary.since = mark - overlap
        summary.mode_reason = f"events loaded from the last mark {_iso(mark)} minus {overlap}"


def _read_course_structure(database: Any, summary: ExtractionSummary) -> BlockIndex:
    index = BlockIndex.from_documents(database[COURSE_STRUCTURE_COLLECTION].find({}, _STRUCTURE_FIELDS))
    summary.blocks = len(index)
    if not index:
        log.warning(
            "%s: %s.%s is empty: events are extracted without block enrichment "
            "(ingest the course's data package first, then rerun with a full refresh)",
            summary.edx_id,
            database.name,
            COURSE_STRUCTURE_COLLECTION,
        )
    return index


def _copy_events(
    config: CourseConfig,
    master: Any,
    target: Any,
    index: BlockIndex,
    summary: ExtractionSummary,
    batch_size: int,
    progress_every_seconds: float,
) -> None:
    """Stream the selected events, enrich each, write them; a full refresh commits (removes the rest) at the end.

    Into an empty course collection the events are inserted (nothing to write over); else each is
    written over its copy by ``_id``. The selection is not counted first: on the local server a
    count reads every selected event once more (a third of the extraction's time), so progress
    says how many events and how fast, without a percentage.
    """
    selection = selection_filter(config, summary.since)
    if summary.mode == FULL:
        writer: Any = SafeReplacement(target, uuid.uuid4().hex, TRACKING_INDEXES, batch_size)
    elif target.find_one({}, {"_id": 1}) is None:
        writer = MongoBatchWriter(target, mode="insert", batch_size=batch_size)
    else:
        writer = MongoBatchWriter(target, mode="upsert", batch_size=batch_size)
    progress = Progress(
        f"{summary.edx_id}: events",
        unit="events",
        every_seconds=progress_every_seconds,
        logger=log,
        extra=lambda: f"{summary.enriched} enriched, {summary.not_enriched} not enriched",
    )
    mark = None
    try:
        with writer:
            for event in master.find(selection, batch_size=batch_size):
                block = match_block(event, index)
                if block is None:
                    summary.not_enriched += 1
                else:
                    event.update(enrichment(block))
                    summary.enriched += 1
                loaded_at = _as_utc(event.get("loaded_at"))
                if loaded_at is not None and (mark is None or loaded_at > mark):
                    mark = loaded_at
                writer.add(event)
                summary.selected += 1
                progress.advance()
            if isinstance(writer, SafeReplacement):
                summary.removed = writer.commit()  # creates the indexes too
    finally:  # also for the status of a failed run: what was written before the failure
        summary.written = (
            writer.written
            if isinstance(writer, SafeReplacement)
            else writer.counts.inserted + writer.counts.upserted + writer.counts.replaced
        )
    if not isinstance(writer, SafeReplacement):
        for keys in TRACKING_INDEXES:
            target.create_index(keys)
    summary.mark = mark
    progress.finish(f"{summary.written} written, {summary.removed} removed")


def _selection_record(summary: ExtractionSummary) -> dict[str, Any]:
    """What the status keeps of the selection, to notice a config change."""
    return {
        "course_id_forms": sorted(summary.course_id_forms),
        "window": [_iso(summary.window[0]), _iso(summary.window[1])],
    }


class _StatusWriter:
    """The course database's ``tracking_extraction`` document, rewritten at the start and the end of a run."""

    def __init__(
        self, database: Any, config: CourseConfig, summary: ExtractionSummary, previous: Mapping[str, Any]
    ) -> None:
        self.collection = database[STATUS_COLLECTION]
        self.config = config
        self.summary = summary
        self.previous = previous
        self.previous_mark = _as_utc(previous.get("mark"))
        self.started_at = datetime.now(UTC)  # now-ok: when this extraction ran (bookkeeping)

    def write(self, state: str, *, finished: bool = False, error: str | None = None) -> None:
        summary = self.summary
        complete = state == COMPLETE
        document = status_document(
            state=state,
            started_at=self.started_at,
            finished_at=datetime.now(UTC) if finished else None,  # now-ok: bookkeeping
            files={},
            loaded={TRACKING_COLLECTION: summary.written},
            error=error,
            _id=STATUS_ID,
            edx_id=summary.edx_id,
            course_ids=summary.course_ids,
            config_path=str(self.config.path),
            mode=summary.mode,
            mode_reason=summary.mode_reason,
            since=summary.since,
            counts={
                "selected": summary.selected,
                "written": summary.written,
                "enriched": summary.enriched,
                "not_enriched": summary.not_enriched,
                "removed": summary.removed,
            },
            blocks=summary.blocks,
        )
        # The mark and the selection change only with a success; until then they are the last success's.
        document["mark"] = summary.mark if complete else self.previous_mark
        document["selection"] = _selection_record(summary) if complete else self.previous.get("selection")
        document["last_success_at"] = (
            document["finished_at"] if complete else self.previous.get("last_success_at")
        )
        replace_document(self.collection, document)

    def failed(self, error: BaseException) -> None:
        """Record the failure; a failure to record it is logged, so the original error is the one raised."""
        try:
            self.summary.state = FAILED
            self.write(FAILED, finished=True, error=f"{type(error).__name__}: {error}")
        except Exception:
            log.exception("could not mark %s as failed in %s", self.summary.database, STATUS_COLLECTION)


def _as_utc(value: Any) -> datetime | None:
    """A datetime read back from MongoDB (naive UTC by default) as an aware UTC datetime; None stays None."""
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
