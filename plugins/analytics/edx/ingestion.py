"""The edX ingestion engine: one course of a research data package into its own MongoDB database.

:func:`ingest_course_package` is a plain function (no Airflow) that the operator, the tests and
the demo call. Each file of the course is read twice: first to account for every record and
judge the file (:meth:`FileAccount.judge`: a file-level fault, or more rejections than the
threshold, rejects it whole), then, only when the file is accepted, to replace its collection
through :class:`SafeReplacement`, so readers never see less than they had. A file rejected
whole, or a table the package no longer carries, keeps the collection's previous contents and
makes the course ``partial``. Every record is accounted for: loaded, or stored with file, line,
field, reason and excerpt in ``ingestion_errors``; credential columns (``auth_user.password``)
are dropped and counted. ``ingestion_status`` (one document, ``_id`` "latest") says whether the
last ingestion is running, complete, partial or failed, with its counts.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.core.accounting import (
    DEFAULT_REJECTION_THRESHOLD,
    FAILED,
    RUNNING,
    FileAccount,
    Rejection,
    RejectionLog,
    check_threshold,
    overall_state,
    status_document,
)
from analytics.core.config import config_path, load_json_config, require
from analytics.core.progress import Progress
from analytics.edx.naming import course_database_name
from analytics.edx.package import CoursePackage, PackageFile
from analytics.edx.readers import credential_columns, records_for
from analytics.edx.tables import COURSE_STRUCTURE_COLLECTION, FORUM_COLLECTION, TABLE_COLLECTIONS
from analytics.stores.mongo import DEFAULT_BATCH_SIZE, SafeReplacement, replace_document

log = logging.getLogger(__name__)

CONFIG_FILE = config_path("edx_ingestion.json")
ERRORS_COLLECTION = "ingestion_errors"
STATUS_COLLECTION = "ingestion_status"
STATUS_ID = "latest"
DUPLICATE_ID = "duplicate id"
NO_FILE_IN_PACKAGE = "no file for it in this package: previous contents kept"

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


@dataclass(frozen=True)
class IngestionSettings:
    """How a course is ingested: batch size, the rejection threshold (a share), progress interval."""

    batch_size: int = DEFAULT_BATCH_SIZE
    rejection_threshold: float = DEFAULT_REJECTION_THRESHOLD
    progress_every_seconds: float = 10.0

    def __post_init__(self) -> None:
        check_threshold(self.rejection_threshold)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")


def load_ingestion_settings(path: Path = CONFIG_FILE, **overrides: Any) -> IngestionSettings:
    """``include/config/edx_ingestion.json``, with ``overrides`` (a DAG param, say) that are not None."""
    raw = load_json_config(path)
    defaults = IngestionSettings()
    values = {
        "batch_size": require(raw, "batch_size", int, path, defaults.batch_size),
        "rejection_threshold": require(
            raw, "rejection_threshold", (int, float), path, defaults.rejection_threshold
        ),
        "progress_every_seconds": require(
            raw, "progress_every_seconds", (int, float), path, defaults.progress_every_seconds
        ),
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return IngestionSettings(**values)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


@dataclass
class CourseIngestionSummary:
    """What ingesting one course did; returned as the task's XCom and printed in the log."""

    course_id: str
    package_key: str
    database: str
    run: str
    state: str = RUNNING
    files_found: int = 0
    loaded: dict[str, int] = field(default_factory=dict)  # collection -> documents
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> records
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # file name -> FileAccount record
    kept: dict[str, str] = field(default_factory=dict)  # collection -> why its previous contents were kept
    dropped_columns: dict[str, int] = field(default_factory=dict)  # "table.column" -> values not stored
    skipped_files: list[str] = field(default_factory=list)

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, value: dict[str, Any]) -> CourseIngestionSummary:
        return cls(**value)

    @property
    def files_rejected_whole(self) -> dict[str, str]:
        return {name: record["reason"] for name, record in self.files.items() if record["reason"]}

    def log_lines(self) -> list[str]:
        lines = [
            f"course {self.course_id} -> database {self.database}: {self.state}, {self.files_found} files found"
        ]
        lines += [f"  loaded {count:>8} documents into {name}" for name, count in sorted(self.loaded.items())]
        lines += [f"  rejected {count:>6} records: {reason}" for reason, count in self.rejected.items()]
        for name, record in sorted(self.files.items()):
            line = f"  file {name}: read {record['read']}, loaded {record['loaded']}, rejected {record['rejected']}"
            lines.append(line + (f"; REJECTED WHOLE: {record['reason']}" if record["reason"] else ""))
        lines += [f"  kept {name} as it was: {reason}" for name, reason in sorted(self.kept.items())]
        lines += [
            f"  dropped {count} values of credential column {name}"
            for name, count in self.dropped_columns.items()
        ]
        lines += [f"  skipped file {name}" for name in self.skipped_files]
        return lines


class _CourseIngestion:
    """One course's ingestion: the files, the error log, the status document, the summary."""

    def __init__(self, course: CoursePackage, database: Any, settings: IngestionSettings, run: str) -> None:
        self.course = course
        self.database = database
        self.settings = settings
        self.run = run
        self.accounts: dict[str, FileAccount] = {}
        self.summary = CourseIngestionSummary(
            course_id=course.course.course_id,
            package_key=course.course.package_key,
            database=database.name,
            run=run,
            files_found=len(course.files),
        )

    def ingest(self, errors: SafeReplacement) -> None:
        rejections = RejectionLog(
            errors.add,
            log,
            f"{self.database.name}.{ERRORS_COLLECTION}",
            {"course_id": self.summary.course_id},
        )
        try:
            for package_file in self.course.files:
                self._ingest_file(package_file, rejections)
        finally:
            self._fill_summary()
        self._keep_collections_without_a_file()
        errors.commit()

    def _ingest_file(self, package_file: PackageFile, rejections: RejectionLog) -> None:
        name = package_file.path.name
        target = records_for(package_file)
        if target is None:
            self.summary.skipped_files.append(f"{name} (table '{package_file.table}' is not ingested)")
            log.info("skipping %s: table %r is not ingested", name, package_file.table)
            return
        collection, records = target
        if collection in self.summary.loaded or collection in self.summary.kept:
            raise ValueError(f"{self.summary.course_id}: two files map to collection {collection!r} ({name})")
        account = self.accounts[name] = FileAccount(name)
        self._check_file(account, records, rejections)
        reason = account.judge(self.settings.rejection_threshold)
        if reason:
            log.error(
                "%s is rejected whole, %s.%s keeps its previous contents: %s",
                name,
                self.database.name,
                collection,
                reason,
            )
            self.summary.kept[collection] = f"{name} rejected whole: {reason}"
            return
        self._replace_collection(package_file, collection, account, rejections)
        self.summary.loaded[collection] = account.loaded

    def _check_file(self, account: FileAccount, records: Iterator, rejections: RejectionLog) -> None:
        """First pass: count every record, store every rejection; nothing is written to the collection."""
        progress = Progress(
            f"{account.file} (checking)", every_seconds=self.settings.progress_every_seconds, logger=log
        )
        for record in records:
            account.read += 1
            if isinstance(record, Rejection):
                account.reject(record)
                rejections.record(record)
            progress.advance()
        progress.finish(f"{account.rejected} rejected")

    def _replace_collection(
        self, package_file: PackageFile, collection: str, account: FileAccount, rejections: RejectionLog
    ) -> None:
        """Second pass, for an accepted file: write its documents over the collection's, then drop the rest."""
        name = account.file

        def reject_duplicate(document: dict, line: int | None) -> None:
            detail = f"_id {document['_id']!r} is already loaded from another record of this file"
            duplicate = Rejection(name, line, DUPLICATE_ID, field="_id", detail=detail)
            account.reject(duplicate)
            rejections.record(duplicate)

        _, records = records_for(package_file)  # type: ignore[misc]
        log.info("loading %s into %s.%s", name, self.database.name, collection)
        replacement = SafeReplacement(
            self.database[collection],
            self.run,
            COLLECTION_INDEXES.get(collection, ()),
            self.settings.batch_size,
            on_duplicate=reject_duplicate,
        )
        progress = Progress(
            name,
            total=account.read,
            every_seconds=self.settings.progress_every_seconds,
            logger=log,
            extra=lambda: f"{replacement.written} written, {account.rejected} rejected",
        )
        with replacement:
            for record in records:
                if not isinstance(record, Rejection):
                    replacement.add(record.document, origin=record.line)
                progress.advance()
            removed = replacement.commit()
        account.loaded = replacement.written
        for column in credential_columns(package_file.path) if package_file.table else ():
            self.summary.dropped_columns[f"{package_file.table}.{column}"] = account.loaded
        progress.finish(f"loaded into {self.database.name}.{collection}, {removed} earlier documents removed")

    def _keep_collections_without_a_file(self) -> None:
        existing = set(self.database.list_collection_names())
        for collection in COURSE_COLLECTIONS:
            if (
                collection in self.summary.loaded
                or collection in self.summary.kept
                or collection not in existing
            ):
                continue
            if self.database[collection].count_documents({}, limit=1):
                self.summary.kept[collection] = NO_FILE_IN_PACKAGE
                log.warning("%s.%s: %s", self.database.name, collection, NO_FILE_IN_PACKAGE)

    def _fill_summary(self) -> None:
        rejected: Counter[str] = Counter()
        for account in self.accounts.values():
            rejected.update(account.by_reason)
        self.summary.rejected = dict(rejected.most_common())
        self.summary.files = {name: account.as_record() for name, account in sorted(self.accounts.items())}


def ingest_course_package(
    course: CoursePackage,
    client: Any,
    settings: IngestionSettings | None = None,
    *,
    package_dir: str | Path | None = None,
    run: str | None = None,
) -> CourseIngestionSummary:
    """Ingest one course; returns its summary, whose ``state`` is ``complete`` or ``partial``.

    ``partial``: a file was rejected whole or a collection has no file in this package; those
    collections keep their previous contents (``summary.kept`` says why). A failure marks the
    status ``failed`` and is raised again; what was read so far stays readable and a rerun
    replaces it. ``run`` stamps the documents written (unique per attempt; a fresh one by default).
    """
    settings = settings or IngestionSettings()
    database = client[course_database_name(course.course)]
    ingestion = _CourseIngestion(course, database, settings, run or uuid.uuid4().hex)
    status = _StatusWriter(database, ingestion, str(package_dir or _common_folder(course)))
    status.write(RUNNING)
    try:
        errors = SafeReplacement(
            database[ERRORS_COLLECTION], ingestion.run, ["file", "reason"], settings.batch_size
        )
        with errors:
            ingestion.ingest(errors)
    except BaseException as error:  # also a killed task: the database is half-ingested either way
        status.failed(error)
        raise
    summary = ingestion.summary
    summary.state = overall_state(ingestion.accounts, summary.kept)
    status.write(summary.state, finished=True)
    return summary


class _StatusWriter:
    """The course database's ``ingestion_status`` document, rewritten at each step of the ingestion."""

    def __init__(self, database: Any, ingestion: _CourseIngestion, package_dir: str) -> None:
        self.collection = database[STATUS_COLLECTION]
        self.ingestion = ingestion
        self.package_dir = package_dir
        self.started_at = datetime.now(UTC)  # now-ok: when this ingestion ran (bookkeeping)

    def write(self, state: str, *, finished: bool = False, error: str | None = None) -> None:
        summary = self.ingestion.summary
        document = status_document(
            state=state,
            started_at=self.started_at,
            finished_at=datetime.now(UTC) if finished else None,  # now-ok
            files=self.ingestion.accounts,
            loaded=summary.loaded,
            kept=summary.kept,
            error=error,
            _id=STATUS_ID,
            course_id=summary.course_id,
            package_dir=self.package_dir,
            run=summary.run,
        )
        document["dropped_columns"] = dict(summary.dropped_columns)
        replace_document(self.collection, document)

    def failed(self, error: BaseException) -> None:
        """Record the failure; a failure to record it is logged, so the original error is the one raised."""
        try:
            self.write(FAILED, finished=True, error=f"{type(error).__name__}: {error}")
        except Exception:
            log.exception(
                "could not mark %s as failed in %s", self.ingestion.summary.database, STATUS_COLLECTION
            )


def _common_folder(course: CoursePackage) -> str:
    folders = [str(package_file.path.parent) for package_file in course.files]
    return os.path.commonpath(folders) if folders else ""
