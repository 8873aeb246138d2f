"""Operators for edX research data packages: find the courses in a package, ingest one course.

The package is read with the grammar in :mod:`analytics.edx.package`; each file is streamed
through the readers in :mod:`analytics.edx.tables`, :mod:`analytics.edx.extended_json` and
:mod:`analytics.edx.course_structure` and written in batches into the course's own MongoDB
database (named by :func:`analytics.edx.naming.course_database_name`). Every record read is
accounted for: loaded, or stored with file, line, field and reason in that database's
``ingestion_errors`` (a second record with an ``_id`` already loaded is a ``"duplicate id"``
rejection). ``ingestion_status`` holds one document saying whether the last ingestion is running,
complete or failed, with its counts, so a half-ingested database can be told from a whole one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from analytics.connections import MONGO_DEFAULT
from analytics.edx.course_structure import flatten_course_structure
from analytics.edx.extended_json import iter_forum_documents
from analytics.edx.naming import course_database_name
from analytics.edx.package import (
    COURSE_STRUCTURE_FILE,
    FORUM_FILE,
    CoursePackage,
    PackageFile,
    discover_package,
)
from analytics.edx.tables import (
    COURSE_STRUCTURE_COLLECTION,
    FORUM_COLLECTION,
    TABLE_COLLECTIONS,
    SourceDocument,
    collection_for_table,
    iter_table_documents,
)
from analytics.rejections import Rejection
from analytics.stores.mongo import (
    DEFAULT_BATCH_SIZE,
    MongoBatchWriter,
    collection_replacement,
    mongo_client,
    replace_document,
)

log = logging.getLogger(__name__)

ERRORS_COLLECTION = "ingestion_errors"
STATUS_COLLECTION = "ingestion_status"
STATUS_ID = "latest"
RUNNING, COMPLETE, FAILED = "running", "complete", "failed"
DUPLICATE_ID = "duplicate id"
REJECTIONS_LOGGED_PER_FILE = 20
PROGRESS_EVERY_ROWS = 50_000

# Indexes on the keys analysts and the per-course extraction join on.
COLLECTION_INDEXES: dict[str, list[str]] = {
    TABLE_COLLECTIONS["auth_user"]: ["id", "username"],
    TABLE_COLLECTIONS["auth_userprofile"]: ["user_id"],
    TABLE_COLLECTIONS["certificates_generatedcertificate"]: ["user_id", "course_id"],
    TABLE_COLLECTIONS["courseware_studentmodule"]: ["student_id", "course_id", "module_id"],
    TABLE_COLLECTIONS["student_courseenrollment"]: ["user_id", "course_id"],
    TABLE_COLLECTIONS["user_id_map"]: ["id", "username"],
    FORUM_COLLECTION: ["author_id", "course_id"],
    COURSE_STRUCTURE_COLLECTION: ["block_id", "category"],
}
COURSE_COLLECTIONS = (*TABLE_COLLECTIONS.values(), FORUM_COLLECTION, COURSE_STRUCTURE_COLLECTION)


@dataclass
class FileCounts:
    """Records of one file: ``read`` (rows, lines or blocks, and file-level rejections) = loaded + rejected."""

    read: int = 0
    loaded: int = 0
    rejected: int = 0


@dataclass
class CourseIngestionSummary:
    """What ingesting one course did; returned as the task's XCom and printed in the log."""

    course_id: str
    package_key: str
    database: str
    files_found: int = 0
    loaded: dict[str, int] = field(default_factory=dict)  # collection -> documents
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> records
    files: dict[str, FileCounts] = field(default_factory=dict)  # file name -> counts
    skipped_files: list[str] = field(default_factory=list)

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, value: dict[str, Any]) -> CourseIngestionSummary:
        files = {name: FileCounts(**counts) for name, counts in value.get("files", {}).items()}
        return cls(**{**value, "files": files})

    def log_lines(self) -> list[str]:
        lines = [f"course {self.course_id} -> database {self.database}: {self.files_found} files found"]
        lines += [f"  loaded {count:>8} documents into {name}" for name, count in sorted(self.loaded.items())]
        lines += [f"  rejected {count:>6} records: {reason}" for reason, count in self.rejected.items()]
        lines += [
            f"  file {name}: read {counts.read}, loaded {counts.loaded}, rejected {counts.rejected}"
            for name, counts in sorted(self.files.items())
        ]
        lines += [f"  skipped file {name}" for name in self.skipped_files]
        return lines


class _RejectionSink:
    """Counts rejections, logs the first few of each file, and stores every one of them.

    Each stored rejection's ``_id`` is ``"<file>#<n>"``, its rank among the file's rejections,
    which the same package always gives in the same order: a rerun stores the same documents.
    """

    def __init__(self, writer: MongoBatchWriter, course_id: str) -> None:
        self.writer = writer
        self.course_id = course_id
        self.by_reason: Counter[str] = Counter()
        self._per_file: Counter[str] = Counter()

    def record(self, rejection: Rejection) -> None:
        self.by_reason[rejection.reason] += 1
        self._per_file[rejection.file] += 1
        rank = self._per_file[rejection.file]
        if rank <= REJECTIONS_LOGGED_PER_FILE:
            log.warning("rejected %s", rejection)
        elif rank == REJECTIONS_LOGGED_PER_FILE + 1:
            log.warning(
                "%s: more rejections in this file; all are stored in %s", rejection.file, ERRORS_COLLECTION
            )
        self.writer.add(
            {
                "_id": f"{rejection.file}#{rank}",
                "course_id": self.course_id,
                **asdict(rejection),
                "message": str(rejection),
            }
        )


class _FileProgress:
    """Logs, every ``every`` records and at the end, how far the load of one file is and how fast."""

    def __init__(self, file_name: str, every: int) -> None:
        self.file_name = file_name
        self.every = every
        self.started = time.monotonic()

    def update(self, counts: FileCounts, written: int) -> None:
        if counts.read % self.every == 0:
            log.info(
                "%s: %d records read so far, %d written, %d rejected (%.0f records/s)",
                self.file_name,
                counts.read,
                written,
                counts.rejected,
                self._rate(counts.read),
            )

    def finish(self, counts: FileCounts, target: str) -> None:
        log.info(
            "%s: %d records read in %.1f s (%.0f records/s): %d loaded into %s, %d rejected",
            self.file_name,
            counts.read,
            time.monotonic() - self.started,
            self._rate(counts.read),
            counts.loaded,
            target,
            counts.rejected,
        )

    def _rate(self, records: int) -> float:
        return records / max(time.monotonic() - self.started, 1e-6)


def _course_structure_records(package_file: PackageFile) -> Iterator[SourceDocument | Rejection]:
    source = package_file.path.name
    try:
        raw = json.loads(package_file.path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        yield Rejection(source, None, "unreadable course structure", detail=str(error))
        return
    if not isinstance(raw, dict):
        yield Rejection(
            source, None, "unreadable course structure", detail=f"{type(raw).__name__}, not an object"
        )
        return
    result = flatten_course_structure(raw, source=source)
    yield from result.rejections
    for block in result.blocks:
        yield SourceDocument(None, block)


def _records_for(package_file: PackageFile) -> tuple[str, Iterator[SourceDocument | Rejection]] | None:
    """The target collection and a stream of documents and rejections for one file; None when it is skipped."""
    if package_file.kind == FORUM_FILE:
        return FORUM_COLLECTION, iter_forum_documents(package_file.path)
    if package_file.kind == COURSE_STRUCTURE_FILE:
        return COURSE_STRUCTURE_COLLECTION, _course_structure_records(package_file)
    collection = collection_for_table(package_file.table or "")
    if collection is None:
        return None
    return collection, iter_table_documents(package_file.path, package_file.table or "")


def _load_file(
    database: Any,
    collection: str,
    file_name: str,
    records: Iterator[SourceDocument | Rejection],
    sink: _RejectionSink,
    batch_size: int,
    progress_every: int,
) -> FileCounts:
    """Replace ``collection`` with the file's documents; rejections, duplicates included, go to the sink."""
    counts = FileCounts()

    def reject(rejection: Rejection) -> None:
        counts.rejected += 1
        sink.record(rejection)

    def reject_duplicate(document: dict, line: int | None) -> None:
        detail = f"_id {document['_id']!r} is already loaded from another record of this file"
        reject(Rejection(file_name, line, DUPLICATE_ID, field="_id", detail=detail))

    progress = _FileProgress(file_name, progress_every)
    indexes = COLLECTION_INDEXES.get(collection, ())
    with collection_replacement(
        database[collection], indexes, batch_size, on_duplicate=reject_duplicate
    ) as writer:
        for record in records:
            counts.read += 1
            if isinstance(record, Rejection):
                reject(record)
            else:
                writer.add(record.document, origin=record.line)
            progress.update(counts, writer.counts.inserted)
    counts.loaded = writer.counts.inserted
    progress.finish(counts, f"{database.name}.{collection}")
    return counts


def _replace_course_collections(
    course: CoursePackage,
    database: Any,
    summary: CourseIngestionSummary,
    batch_size: int,
    progress_every: int,
) -> None:
    """Load every file of the course into its collection, filling ``summary`` as each file is done."""
    with collection_replacement(database[ERRORS_COLLECTION], batch_size=batch_size) as error_writer:
        sink = _RejectionSink(error_writer, summary.course_id)
        try:
            for package_file in sorted(course.files, key=lambda f: f.path.name):
                file_name = package_file.path.name
                target = _records_for(package_file)
                if target is None:
                    summary.skipped_files.append(
                        f"{file_name} (table '{package_file.table}' is not ingested)"
                    )
                    log.info("skipping %s: table %r is not ingested", file_name, package_file.table)
                    continue
                collection, records = target
                if collection in summary.loaded:
                    raise ValueError(
                        f"{summary.course_id}: two files map to collection {collection!r} ({file_name})"
                    )
                log.info("loading %s into %s.%s", file_name, database.name, collection)
                counts = _load_file(
                    database, collection, file_name, records, sink, batch_size, progress_every
                )
                summary.files[file_name] = counts
                summary.loaded[collection] = counts.loaded
        finally:  # the error writer's exit flushes the buffered rejections, also on failure
            summary.rejected = dict(sink.by_reason.most_common())
    existing = set(database.list_collection_names())
    for collection in COURSE_COLLECTIONS:
        if collection not in summary.loaded and collection in existing:
            database[collection].drop()
            log.info("dropped %s.%s: the package has no file for it", database.name, collection)


class _IngestionStatus:
    """The course database's ``ingestion_status`` document: one, ``_id`` "latest", rewritten at each step."""

    def __init__(self, database: Any, summary: CourseIngestionSummary, package_dir: str) -> None:
        self.collection = database[STATUS_COLLECTION]
        self.summary = summary
        self.package_dir = package_dir
        self.started_at = datetime.now(UTC)

    def running(self) -> None:
        self._write(RUNNING, finished_at=None)

    def complete(self) -> None:
        self._write(COMPLETE, finished_at=datetime.now(UTC))

    def failed(self, error: BaseException) -> None:
        """Record the failure; a failure to record it is logged, so the original error is the one raised."""
        try:
            self._write(FAILED, finished_at=datetime.now(UTC), error=f"{type(error).__name__}: {error}")
        except Exception:
            log.exception("could not mark %s as failed in %s", self.summary.database, STATUS_COLLECTION)

    def _write(self, state: str, finished_at: datetime | None, error: str | None = None) -> None:
        summary = self.summary
        replace_document(
            self.collection,
            {
                "_id": STATUS_ID,
                "course_id": summary.course_id,
                "package_dir": self.package_dir,
                "state": state,
                "started_at": self.started_at,
                "finished_at": finished_at,
                "loaded": dict(summary.loaded),
                "rejected": dict(summary.rejected),
                "files": [{"file": name, **asdict(counts)} for name, counts in sorted(summary.files.items())],
                "error": error,
            },
        )


def ingest_course_package(
    course: CoursePackage,
    client: Any,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    package_dir: str | Path | None = None,
    progress_every: int = PROGRESS_EVERY_ROWS,
) -> CourseIngestionSummary:
    """Replace the course database's collections with the contents of its package files.

    Collections the package has no file for are dropped, so the database mirrors the package
    and re-running on the same package leaves exactly the same collections and ``_id``s.
    ``ingestion_status`` says ``running`` from the start, then ``complete``, or ``failed`` (and
    the error is raised again). ``package_dir`` is recorded there; by default it is the folder
    that holds the course's files.
    """
    database = client[course_database_name(course.course)]
    summary = CourseIngestionSummary(
        course_id=course.course.course_id,
        package_key=course.course.package_key,
        database=database.name,
        files_found=len(course.files),
    )
    status = _IngestionStatus(database, summary, str(package_dir or _common_folder(course)))
    status.running()
    try:
        _replace_course_collections(course, database, summary, batch_size, progress_every)
    except BaseException as error:  # also a killed task: the database is half-ingested either way
        status.failed(error)
        raise
    status.complete()
    return summary


def _common_folder(course: CoursePackage) -> str:
    return (
        os.path.commonpath([str(package_file.path.parent) for package_file in course.files])
        if course.files
        else ""
    )


class DiscoverEdxCoursesOperator(BaseOperator):
    """List the courses in an edX research data package; returns their package keys.

    Files whose names fit none of the package's forms, and copies of a file from another site,
    are logged as ignored, with the reason.
    """

    template_fields: Sequence[str] = ("package_dir",)
    ui_color = "#e8f1fb"

    def __init__(self, *, package_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.package_dir = package_dir

    def execute(self, context: Any) -> list[str]:
        directory = _existing_directory(self.package_dir)
        inventory = discover_package(directory)
        for name, reason in inventory.ignored:
            self.log.warning("ignored %s: %s", name, reason)
        keys = [course.course.package_key for course in inventory.courses]
        self.log.info(
            "found %d course(s) in %s: %s (%d file(s) ignored)",
            len(keys),
            directory,
            ", ".join(keys),
            len(inventory.ignored),
        )
        if not keys:
            raise ValueError(f"no edX course files found in {directory}")
        return keys


class IngestEdxCourseOperator(BaseOperator):
    """Load one course of an edX research data package into its own MongoDB database."""

    template_fields: Sequence[str] = ("package_dir", "course_key")
    ui_color = "#dff3e4"

    def __init__(
        self,
        *,
        package_dir: str,
        course_key: str,
        mongo_conn_id: str = MONGO_DEFAULT,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.package_dir = package_dir
        self.course_key = course_key
        self.mongo_conn_id = mongo_conn_id
        self.batch_size = batch_size

    def execute(self, context: Any) -> dict[str, Any]:
        directory = _existing_directory(self.package_dir)
        courses = {course.course.package_key: course for course in discover_package(directory).courses}
        if self.course_key not in courses:
            raise ValueError(f"course {self.course_key!r} not found in {directory}; found: {sorted(courses)}")
        with mongo_client(self.mongo_conn_id) as client:
            summary = ingest_course_package(
                courses[self.course_key], client, self.batch_size, package_dir=directory
            )
        for line in summary.log_lines():
            self.log.info(line)
        return summary.as_xcom()


def _existing_directory(path: str) -> Path:
    if not path:
        raise ValueError(
            "no package directory: set the `package_dir` param or the `edx_package_dir` Variable"
        )
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"package directory {directory} does not exist")
    return directory


def summarize_ingestion(summaries: Sequence[dict[str, Any]], course_keys: Sequence[str]) -> dict[str, Any]:
    """Log what every course loaded and rejected, and the totals; return the totals.

    ``course_keys`` are the courses discovered. After logging, raises ``AirflowFailException``
    (fail, no retry: a retry would find the same summaries) when a course has no summary, that
    is when its ingestion failed or did not run.
    """
    from airflow.sdk.exceptions import AirflowFailException

    loaded: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for summary in summaries:
        for line in CourseIngestionSummary.from_xcom(summary).log_lines():
            log.info(line)
        loaded.update(summary["loaded"])
        rejected.update(summary["rejected"])
    ingested = {summary["package_key"] for summary in summaries}
    missing = [key for key in course_keys if key not in ingested]
    totals = {
        "courses": len(summaries),
        "databases": [summary["database"] for summary in summaries],
        "documents_loaded": sum(loaded.values()),
        "loaded_by_collection": dict(loaded),
        "rejected_by_reason": dict(rejected),
        "courses_not_ingested": missing,
    }
    log.info(
        "%d of %d course(s) ingested, %d documents loaded, %d records rejected",
        totals["courses"],
        len(course_keys),
        totals["documents_loaded"],
        sum(rejected.values()),
    )
    if missing:
        for key in missing:
            log.error("course %s was not ingested: its ingest_course task failed or did not run", key)
        raise AirflowFailException(f"{len(missing)} course(s) not ingested: {', '.join(missing)}")
    return totals
