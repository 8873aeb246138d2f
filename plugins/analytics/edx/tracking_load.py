"""Engine of ``tracking_logs_master_load``: stream one tracking-log file into ``tracking_logs.tracking``.

A file is read once, as a stream (gzip or plain), line by line; its sha256 is computed from the
same bytes as they are read. Each line becomes a master document
(:func:`analytics.edx.tracking_lines.parse_tracking_line`) written in batches with
``insert_many(ordered=False)``, or a rejection written to the file's errors file
(``<name>-errors``: JSON lines with the line number, reason, field, detail and the raw line).
Every line is accounted for: ``read = loaded + already_loaded + discarded``.

The import record (``tracking_logs.tracking_imported``, ``_id`` = the file's name) says
``running`` while the file loads, and ``complete`` only once every line is accounted for. A load
that dies halfway leaves ``running`` (or ``partial``/``failed``), so the next run loads the file
again; documents have a deterministic ``_id`` (file name and line), so the lines stored the
first time count as *already loaded* and each event is stored exactly once. A truncated gzip
stream loads every line before the fault and records the file as ``partial`` with the reason.

A reload on purpose, or of a file whose size or time changed since an unfinished load, writes
each line over the stored document with the same ``_id`` (``upsert``), removes the stored event of
each line that this version discards (a line that was an event and is now bad), and at the end the
stored lines beyond the file's new end, so the master holds the file as it is now; readers never
see fewer of its events meanwhile than the file now has.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from analytics.core.accounting import COMPLETE, FAILED, PARTIAL, RUNNING, Rejection
from analytics.core.config import config_path, load_json_config, require
from analytics.core.gzip_lines import gzip_lines
from analytics.core.progress import Progress
from analytics.edx.tracking_files import DEFAULT_MAX_FILES_PER_RUN, RELOAD, TrackingFile
from analytics.edx.tracking_lines import event_id, parse_tracking_line
from analytics.stores.mongo import DEFAULT_BATCH_SIZE, MongoBatchWriter, replace_document

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

CONFIG_FILE = config_path("tracking_logs.json")
MASTER_DATABASE = "tracking_logs"
MASTER_COLLECTION = "tracking"
IMPORTED_COLLECTION = "tracking_imported"
MASTER_INDEXES: list[str | list[tuple[str, int]]] = [
    [("course_id", 1), ("time", 1)],
    "time",
    "event_type",
    "username",
    "loaded_at",
]
READ_CHUNK_BYTES = 1 << 20
REJECTIONS_LOGGED_PER_FILE = 20
TRUNCATED = "truncated stream"


@dataclass(frozen=True)
class TrackingSettings:
    """How files are loaded: the master database, batch size and how often progress is logged."""

    master_database: str = MASTER_DATABASE
    batch_size: int = DEFAULT_BATCH_SIZE
    progress_every_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if not self.master_database:
            raise ValueError("master_database must not be empty")


def load_tracking_settings(path: Path = CONFIG_FILE, **overrides: Any) -> TrackingSettings:
    """``include/config/tracking_logs.json``, with ``overrides`` (DAG params) that are not None."""
    raw = load_json_config(path)
    defaults = TrackingSettings()
    values: dict[str, Any] = {
        "master_database": require(raw, "master_database", str, path, defaults.master_database),
        "batch_size": require(raw, "batch_size", int, path, defaults.batch_size),
        "progress_every_seconds": require(
            raw, "progress_every_seconds", (int, float), path, defaults.progress_every_seconds
        ),
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return TrackingSettings(**values)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


@dataclass
class FileLoad:
    """What loading one file did: the task's XCom and the import record's counters."""

    name: str
    path: str
    status: str = RUNNING
    mode: str = "insert"
    size: int = 0
    sha256: str | None = None
    read: int = 0
    loaded: int = 0
    already_loaded: int = 0
    discarded: int = 0
    removed_beyond_end: int = 0
    removed_discarded: int = 0  # a reload: stored events of lines this version discards
    discarded_by_reason: Counter[str] = field(default_factory=Counter)
    events_by_course: Counter[str] = field(default_factory=Counter)
    events_without_course: int = 0
    failure: str | None = None
    errors_file: str | None = None
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.read == self.loaded + self.already_loaded + self.discarded

    def as_dict(self) -> dict[str, Any]:
        summary = asdict(self)
        summary["discarded_by_reason"] = dict(self.discarded_by_reason.most_common())
        # Course ids may hold dots: a list, not an object keyed by course id.
        summary["events_by_course"] = [
            {"course_id": course_id, "events": events}
            for course_id, events in sorted(self.events_by_course.items())
        ]
        return summary


class _HashingReader(io.RawIOBase):
    """Reads a binary file and feeds every byte read to a sha256."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.raw.readinto(buffer)
        if count:
            self.sha256.update(memoryview(buffer)[:count])
        return count or 0


def iter_lines(path: Path, raw: IO[bytes]) -> Iterator[bytes]:
    """The lines of a tracking file, streamed; a ``.gz`` is decompressed a block ahead in a second thread."""
    buffered = io.BufferedReader(raw, READ_CHUNK_BYTES)
    if path.name.lower().endswith(".gz"):
        yield from gzip_lines(buffered)
    else:
        yield from buffered


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes on disk (compressed, for a ``.gz``), read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


class ErrorsFile:
    """The errors file of one input: written beside it under a hidden name, renamed into place at the end.

    A file with no discarded line leaves no errors file (and removes one left by an earlier load).
    """

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name}-errors"
        self._temporary = directory / f".{name}-errors.partial"
        self._handle: IO[bytes] | None = None
        self.count = 0

    def write(self, rejection: Rejection, raw: bytes) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self._temporary.open("wb")
        record = {
            "line": rejection.line,
            "reason": rejection.reason,
            "field": rejection.field,
            "detail": rejection.detail,
            "raw": raw.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace"),
        }
        self._handle.write(orjson.dumps(record) + b"\n")
        self.count += 1

    def close(self) -> str | None:
        """Put the errors file in place; returns its path, or None when nothing was discarded."""
        if self._handle is None:
            self.path.unlink(missing_ok=True)
            return None
        self._handle.close()
        os.replace(self._temporary, self.path)
        return str(self.path)

    def abandon(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._temporary.unlink(missing_ok=True)


def ensure_master_indexes(database: Database) -> None:
    """The master's indexes (created once; creating an existing index is a no-op)."""
    master = database[MASTER_COLLECTION]
    for keys in MASTER_INDEXES:
        master.create_index(keys)
    database[IMPORTED_COLLECTION].create_index("status")


def imported_records(database: Database) -> dict[str, dict[str, Any]]:
    """Every file's import record, by name (without the counters: planning needs the version and status)."""
    fields = {"status": 1, "size": 1, "mtime_ns": 1, "sha256": 1}
    return {record["_id"]: record for record in database[IMPORTED_COLLECTION].find({}, fields)}


def load_tracking_file(
    database: Database,
    found: TrackingFile,
    *,
    errors_dir: Path | None = None,
    reload: bool = False,
    run_id: str = "",
    settings: TrackingSettings | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),  # now-ok: loaded_at is bookkeeping
) -> FileLoad:
    """Load one tracking file into the master; the counters, also written to its import record.

    ``reload`` writes every line over its stored version (see the module's docstring); without
    it, a file whose last, unfinished load saw another size or time is reloaded the same way.
    """
    settings = settings or TrackingSettings()
    imported = database[IMPORTED_COLLECTION]
    previous = imported.find_one({"_id": found.name}, {"size": 1, "mtime_ns": 1}) or {}
    version_changed = bool(previous) and (
        previous.get("size") != found.size or previous.get("mtime_ns") != found.mtime_ns
    )
    result = FileLoad(name=found.name, path=str(found.path), size=found.size)
    result.mode = "upsert" if reload or version_changed else "insert"
    started_at = clock()
    record = {
        "_id": found.name,
        "name": found.name,
        "path": str(found.path),
        "size": found.size,
        "mtime_ns": found.mtime_ns,
        "status": RUNNING,
        "run_id": run_id,
        "started_at": started_at,
        "ended_at": None,
    }
    replace_document(imported, record)
    errors = ErrorsFile(errors_dir or found.path.parent, found.name)
    writer = MongoBatchWriter(database[MASTER_COLLECTION], mode=result.mode, batch_size=settings.batch_size)
    progress = Progress(
        found.path.name,
        unit="lines",
        every_seconds=settings.progress_every_seconds,
        logger=log,
        extra=lambda: _counters_text(result, writer),
    )
    stale = (
        _StaleLines(database[MASTER_COLLECTION], result, settings.batch_size)
        if result.mode == "upsert"
        else None
    )
    try:
        with writer:
            _stream_file(found, result, writer, errors, clock, progress, stale)
        if stale is not None:
            stale.flush()
    except BaseException:
        errors.abandon()
        raise
    result.loaded = writer.counts.inserted + writer.counts.upserted
    result.already_loaded = writer.counts.duplicates + writer.counts.replaced
    result.errors_file = errors.close()
    if result.mode == "upsert" and result.failure is None:
        result.removed_beyond_end = (
            database[MASTER_COLLECTION]
            .delete_many({"load_file": found.name, "load_line": {"$gt": result.read}})
            .deleted_count
        )
    if not result.balanced:  # cannot happen: every branch of the loop counts its line
        raise RuntimeError(f"{found.path}: the counts do not add up: {result.as_dict()}")
    if result.failure is None:
        result.status = COMPLETE
    else:
        result.status = PARTIAL if result.read else FAILED
    result.seconds = progress.finish(result.status)
    record.update(result.as_dict())
    record.update({"_id": found.name, "started_at": started_at, "ended_at": clock()})
    replace_document(imported, record)
    return result


def _stream_file(
    found: TrackingFile,
    result: FileLoad,
    writer: MongoBatchWriter,
    errors: ErrorsFile,
    clock: Callable[[], datetime],
    progress: Progress,
    stale: _StaleLines | None = None,
) -> None:
    """Account for every line of the file in ``result``, writing documents and errors as it goes.

    ``stale`` (a reload) is told each discarded line, whose event an earlier version stored.

    A stream that breaks (a truncated or corrupt gzip, a read error) ends the loop with
    ``result.failure`` set; the lines before the fault are loaded.
    """
    try:
        handle = found.path.open("rb")
    except OSError as error:
        result.failure = f"cannot open: {error}"
        return
    logged = 0
    batch_size = writer.batch_size
    by_course = result.events_by_course
    line_number = 0
    with handle:
        hashing = _HashingReader(handle)
        lines = iter_lines(found.path, hashing)
        loaded_at = clock()
        while True:
            try:
                raw = next(lines)
            except StopIteration:
                break
            except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as error:
                result.failure = f"{TRUNCATED} after line {line_number}: {error}"
                log.error("%s: %s; the lines before it are loaded", found.path.name, result.failure)
                break
            line_number += 1
            if line_number % batch_size == 0:
                loaded_at = clock()  # stamped per batch: see course_tracking_extraction's overlap
            document = parse_tracking_line(raw, found.name, line_number, loaded_at)
            if type(document) is dict:
                writer.add(document)
                course_id = document["course_id"]
                if course_id is None:
                    result.events_without_course += 1
                else:
                    by_course[course_id] += 1
            else:
                result.discarded += 1
                result.discarded_by_reason[document.reason] += 1
                errors.write(document, raw)
                if stale is not None:
                    stale.add(event_id(found.name, line_number))
                if logged < REJECTIONS_LOGGED_PER_FILE:
                    logged += 1
                    log.warning("discarded %s", document)
            progress.advance()
        result.read = line_number
        while hashing.read(READ_CHUNK_BYTES):  # the bytes after a truncated stream count in the hash too
            pass
        result.sha256 = hashing.sha256.hexdigest()


class _StaleLines:
    """A reload's discarded lines: their stored events (an earlier version's) deleted by ``_id``, a batch at a time."""

    def __init__(self, collection: Any, result: FileLoad, batch_size: int) -> None:
        self.collection = collection
        self.result = result
        self.batch_size = batch_size
        self.ids: list[str] = []

    def add(self, document_id: str) -> None:
        self.ids.append(document_id)
        if len(self.ids) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.ids:
            deleted = self.collection.delete_many({"_id": {"$in": self.ids}}).deleted_count
            self.result.removed_discarded += deleted
            self.ids = []


def _counters_text(result: FileLoad, writer: MongoBatchWriter) -> str:
    counts = writer.counts
    text = f"{counts.inserted + counts.upserted:,} loaded, {counts.duplicates + counts.replaced:,} already loaded"
    text += f", {result.discarded:,} discarded"
    if result.discarded:
        text += f" ({', '.join(f'{n} {reason}' for reason, n in result.discarded_by_reason.most_common())})"
    return text


@dataclass
class RunPlan:
    """What a run of the master load does: the files to load (as the mapped tasks' arguments), and the rest."""

    directory: str
    to_load: list[dict[str, Any]] = field(default_factory=list)
    complete: int = 0
    changed: list[dict[str, str]] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # size or time changed, same sha256: still complete
    deferred: list[str] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_master_load(
    database: Database,
    directory: Path,
    *,
    reload_files: Sequence[str] = (),
    max_files: int = DEFAULT_MAX_FILES_PER_RUN,
) -> RunPlan:
    """List the landing directory, compare it with the import records, hash the complete files
    whose size or time changed; the indexes of the master are created on the way."""
    from analytics.edx.tracking_files import find_tracking_files, plan_files

    if not directory.is_dir():
        raise FileNotFoundError(f"landing directory {directory} does not exist")
    ensure_master_indexes(database)
    files, ignored = find_tracking_files(directory)
    records = imported_records(database)
    plan = plan_files(files, records, reload_files, max_files)
    run_plan = RunPlan(
        directory=str(directory),
        to_load=[
            {"path": str(found.path), "name": found.name, "reason": reason, "reload": reason == RELOAD}
            for found, reason in plan.to_load
        ],
        complete=len(plan.complete),
        deferred=plan.deferred,
        ignored=[{"file": name, "reason": reason} for name, reason in ignored],
    )
    for found in plan.to_check:
        digest = file_sha256(found.path)
        if digest == records[found.name].get("sha256"):
            database[IMPORTED_COLLECTION].update_one(
                {"_id": found.name}, {"$set": {"size": found.size, "mtime_ns": found.mtime_ns}}
            )
            run_plan.touched.append(found.name)
            run_plan.complete += 1
        else:
            run_plan.changed.append(
                {
                    "name": found.name,
                    "path": str(found.path),
                    "sha256": digest,
                    "loaded_sha256": records[found.name].get("sha256") or "",
                }
            )
    return run_plan
