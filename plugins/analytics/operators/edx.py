"""Operators for edX research data packages: find the courses in a package, ingest one course.

The package is read with the grammar in :mod:`analytics.edx.package`; each file is streamed
through the readers in :mod:`analytics.edx.tables`, :mod:`analytics.edx.extended_json` and
:mod:`analytics.edx.course_structure` and written in batches into the course's own MongoDB
database (named by :func:`analytics.edx.naming.course_database_name`). Rows that cannot be
loaded are stored, with file, line, field and reason, in that database's ``ingestion_errors``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from analytics.connections import MONGO_DEFAULT
from analytics.edx.course_structure import flatten_course_structure
from analytics.edx.extended_json import iter_forum_documents
from analytics.edx.naming import course_database_name
from analytics.edx.package import CoursePackage, PackageFile, discover_package
from analytics.edx.tables import (
    COURSE_STRUCTURE_COLLECTION,
    FORUM_COLLECTION,
    TABLE_COLLECTIONS,
    collection_for_table,
    iter_table_documents,
)
from analytics.rejections import Rejection
from analytics.stores.mongo import DEFAULT_BATCH_SIZE, MongoBatchWriter, mongo_client, replace_collection

log = logging.getLogger(__name__)

ERRORS_COLLECTION = "ingestion_errors"
REJECTIONS_LOGGED_PER_FILE = 20

# Indexes on the keys analysts and the per-course extraction join on.
COLLECTION_INDEXES: dict[str, list[str]] = {
    "user": ["id", "username"],
    "userprofile": ["user_id"],
    "certificates": ["user_id", "course_id"],
    "courseware_studentmodule": ["student_id", "course_id", "module_id"],
    "enrollment": ["user_id", "course_id"],
    "user_id_map": ["id", "username"],
    FORUM_COLLECTION: ["author_id", "course_id"],
    COURSE_STRUCTURE_COLLECTION: ["block_id", "category"],
}
COURSE_COLLECTIONS = (*TABLE_COLLECTIONS.values(), FORUM_COLLECTION, COURSE_STRUCTURE_COLLECTION)


@dataclass
class CourseIngestionSummary:
    """What ingesting one course did; returned as the task's XCom and printed in the log."""

    course_id: str
    database: str
    files_found: int = 0
    loaded: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)

    def log_lines(self) -> list[str]:
        lines = [f"course {self.course_id} -> database {self.database}: {self.files_found} files found"]
        lines += [f"  loaded {count:>8} documents into {name}" for name, count in sorted(self.loaded.items())]
        lines += [f"  rejected {count:>6} rows: {reason}" for reason, count in self.rejected.items()]
        lines += [f"  skipped file {name}" for name in self.skipped_files]
        return lines


class _RejectionSink:
    """Counts rejections, logs the first few of each file, and stores every one of them."""

    def __init__(self, writer: MongoBatchWriter, course_id: str) -> None:
        self.writer = writer
        self.course_id = course_id
        self.by_reason: Counter[str] = Counter()
        self._logged_per_file: Counter[str] = Counter()

    def record(self, rejection: Rejection) -> None:
        self.by_reason[rejection.reason] += 1
        if self._logged_per_file[rejection.file] < REJECTIONS_LOGGED_PER_FILE:
            log.warning("rejected %s", rejection)
        elif self._logged_per_file[rejection.file] == REJECTIONS_LOGGED_PER_FILE:
            log.warning(
                "%s: more rejections in this file; all are stored in %s", rejection.file, ERRORS_COLLECTION
            )
        self._logged_per_file[rejection.file] += 1
        self.writer.add({"course_id": self.course_id, **asdict(rejection), "message": str(rejection)})


def _accepted(items: Iterable[dict | Rejection], sink: _RejectionSink) -> Iterator[dict]:
    """Pass documents through; divert rejections to the sink."""
    for item in items:
        if isinstance(item, Rejection):
            sink.record(item)
        else:
            yield item


def _course_structure_documents(package_file: PackageFile, sink: _RejectionSink) -> Iterator[dict]:
    source = package_file.path.name
    try:
        raw = json.loads(package_file.path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        sink.record(Rejection(source, None, "unreadable course structure", detail=str(error)))
        return
    result = flatten_course_structure(raw, source=source)
    for rejection in result.rejections:
        sink.record(rejection)
    yield from result.blocks


def _documents_for(package_file: PackageFile, sink: _RejectionSink) -> tuple[str, Iterator[dict]] | None:
    """The target collection and a stream of documents for one file; None when it is skipped."""
    if package_file.kind == "forum":
        return FORUM_COLLECTION, _accepted(iter_forum_documents(package_file.path), sink)
    if package_file.kind == "course_structure":
        return COURSE_STRUCTURE_COLLECTION, _course_structure_documents(package_file, sink)
    collection = collection_for_table(package_file.table or "")
    if collection is None:
        return None
    return collection, _accepted(iter_table_documents(package_file.path, package_file.table or ""), sink)


def ingest_course_package(
    course: CoursePackage, client: Any, batch_size: int = DEFAULT_BATCH_SIZE
) -> CourseIngestionSummary:
    """Replace the course database's collections with the contents of its package files.

    Collections the package has no file for are dropped, so the database mirrors the package
    and re-running on the same package leaves exactly the same collections.
    """
    course_id = course.course.course_id
    database = client[course_database_name(course.course)]
    summary = CourseIngestionSummary(
        course_id=course_id, database=database.name, files_found=len(course.files)
    )
    database[ERRORS_COLLECTION].drop()
    with MongoBatchWriter(database[ERRORS_COLLECTION], batch_size=batch_size) as error_writer:
        sink = _RejectionSink(error_writer, course_id)
        for package_file in sorted(course.files, key=lambda f: f.path.name):
            target = _documents_for(package_file, sink)
            if target is None:
                summary.skipped_files.append(
                    f"{package_file.path.name} (table '{package_file.table}' is not ingested)"
                )
                log.info("skipping %s: table %r is not ingested", package_file.path.name, package_file.table)
                continue
            collection, documents = target
            if collection in summary.loaded:
                raise ValueError(
                    f"{course_id}: two files map to collection {collection!r} ({package_file.path.name})"
                )
            log.info("loading %s into %s.%s", package_file.path.name, database.name, collection)
            counts = replace_collection(
                database[collection], documents, COLLECTION_INDEXES.get(collection, ()), batch_size
            )
            summary.loaded[collection] = counts.inserted
            log.info("loaded %d documents into %s.%s", counts.inserted, database.name, collection)
    for collection in COURSE_COLLECTIONS:
        if collection not in summary.loaded and collection in database.list_collection_names():
            database[collection].drop()
            log.info("dropped %s.%s: the package has no file for it", database.name, collection)
    summary.rejected = dict(sink.by_reason.most_common())
    return summary


class DiscoverEdxCoursesOperator(BaseOperator):
    """List the courses in an edX research data package; returns their package keys.

    Files whose names fit none of the package's forms are logged as ignored, with the reason.
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
            summary = ingest_course_package(courses[self.course_key], client, self.batch_size)
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


def summarize_ingestion(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Log a readable table of what every course loaded and rejected; return the totals."""
    loaded = Counter()
    rejected = Counter()
    for summary in summaries:
        for line in CourseIngestionSummary(**summary).log_lines():
            log.info(line)
        loaded.update(summary["loaded"])
        rejected.update(summary["rejected"])
    totals = {
        "courses": len(summaries),
        "databases": [summary["database"] for summary in summaries],
        "documents_loaded": sum(loaded.values()),
        "loaded_by_collection": dict(loaded),
        "rejected_by_reason": dict(rejected),
    }
    log.info(
        "%d course(s), %d documents loaded, %d rows rejected",
        totals["courses"],
        totals["documents_loaded"],
        sum(rejected.values()),
    )
    return totals
