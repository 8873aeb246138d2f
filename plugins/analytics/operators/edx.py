"""Operators of the edX course ingestion: find the courses of a package, ingest one course, report.

Airflow glue only: each operator reads its arguments and context, calls one function of
:mod:`analytics.edx.discovery` or :mod:`analytics.edx.ingestion`, logs, and returns a small summary
(XCom). A course left ``partial`` (a file rejected whole) fails its task, without retries (a retry
would read the same files), after every other file of the course is done; its summary is pushed
first, so the report still shows what it loaded and kept.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from analytics.connections import MONGO_DEFAULT
from analytics.pools import MONGODB_WRITES

log = logging.getLogger(__name__)

# A course's tables are at most a few million rows; at the local server's slowest (4 k documents/s)
# that is well under this.
INGEST_EXECUTION_TIMEOUT = timedelta(hours=6)


def _existing_directory(path: str) -> Path:
    if not path:
        raise ValueError(
            "no package directory: set the `package_dir` param or the `edx_package_dir` Variable"
        )
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"package directory {directory} does not exist")
    return directory


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
        from analytics.edx.discovery import discover_package

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
    """Load one course of an edX research data package into its own MongoDB database.

    ``rejection_threshold`` (a share, 0.05 for 5 %; templated, empty: the configuration's) is the
    rejected share above which a file is rejected whole and its collection kept as it was.
    """

    writes_to: ClassVar[str] = MONGODB_WRITES  # the pool the DAGs give its tasks (analytics.pools)

    template_fields: Sequence[str] = ("package_dir", "course_key", "rejection_threshold")
    ui_color = "#dff3e4"

    def __init__(
        self,
        *,
        package_dir: str,
        course_key: str,
        mongo_conn_id: str = MONGO_DEFAULT,
        rejection_threshold: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("execution_timeout", INGEST_EXECUTION_TIMEOUT)
        super().__init__(**kwargs)
        self.package_dir = package_dir
        self.course_key = course_key
        self.mongo_conn_id = mongo_conn_id
        self.rejection_threshold = rejection_threshold

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.core.accounting import PARTIAL
        from analytics.edx.discovery import discover_package
        from analytics.edx.ingestion import ingest_course_package, load_ingestion_settings
        from analytics.stores.mongo import mongo_client

        threshold = self.rejection_threshold
        settings = load_ingestion_settings(
            rejection_threshold=float(threshold) if threshold not in (None, "", "None") else None
        )
        directory = _existing_directory(self.package_dir)
        courses = {course.course.package_key: course for course in discover_package(directory).courses}
        if self.course_key not in courses:
            raise ValueError(f"course {self.course_key!r} not found in {directory}; found: {sorted(courses)}")
        with mongo_client(self.mongo_conn_id) as client:
            summary = ingest_course_package(courses[self.course_key], client, settings, package_dir=directory)
        for line in summary.log_lines():
            self.log.info(line)
        if summary.state == PARTIAL:
            context["ti"].xcom_push(key="return_value", value=summary.as_xcom())
            raise AirflowFailException(
                f"course {summary.course_id} is partial: {_partial_reasons(summary.kept)}; "
                f"see {summary.database}.ingestion_status and ingestion_errors"
            )
        return summary.as_xcom()


def _partial_reasons(kept: dict[str, str]) -> str:
    return "; ".join(f"{collection} kept ({reason})" for collection, reason in sorted(kept.items()))


def summarize_ingestion(summaries: Sequence[dict[str, Any]], course_keys: Sequence[str]) -> dict[str, Any]:
    """Log what every course loaded, rejected and kept, and the totals; return the totals.

    ``course_keys`` are the courses discovered. After logging, raises ``AirflowFailException``
    (fail, no retry: a retry would find the same summaries) when a course has no summary (its
    ingestion failed or did not run) or is ``partial``.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from analytics.core.accounting import PARTIAL
    from analytics.edx.ingestion import CourseIngestionSummary

    loaded: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    partial = []
    for value in summaries:
        summary = CourseIngestionSummary.from_xcom(value)
        for line in summary.log_lines():
            log.info(line)
        loaded.update(summary.loaded)
        rejected.update(summary.rejected)
        if summary.state == PARTIAL:
            partial.append(summary.package_key)
    ingested = {summary["package_key"] for summary in summaries}
    missing = [key for key in course_keys if key not in ingested]
    totals = {
        "courses": len(summaries),
        "databases": [summary["database"] for summary in summaries],
        "documents_loaded": sum(loaded.values()),
        "loaded_by_collection": dict(loaded),
        "rejected_by_reason": dict(rejected),
        "courses_partial": partial,
        "courses_not_ingested": missing,
    }
    log.info(
        "%d of %d course(s) ingested (%d partial), %d documents loaded, %d records rejected",
        totals["courses"],
        len(course_keys),
        len(partial),
        totals["documents_loaded"],
        sum(rejected.values()),
    )
    for key in partial:
        log.error("course %s is partial: some collections kept their previous contents (see above)", key)
    for key in missing:
        log.error("course %s was not ingested: its ingest_course task failed or did not run", key)
    if missing or partial:
        raise AirflowFailException(
            f"{len(missing)} course(s) not ingested{': ' + ', '.join(missing) if missing else ''}; "
            f"{len(partial)} partial{': ' + ', '.join(partial) if partial else ''}"
        )
    return totals
