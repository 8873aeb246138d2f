"""One course's KPI job: compute (:func:`~analytics.edx.course_kpis.compute_course_kpis`), then the staff report.

:func:`run_course_kpis` is what the DAG's mapped task calls: the KPIs, then the report rendered
from the documents just written, written atomically and uploaded to S3 when a bucket is given;
the range's ``kpi_status`` records where the report went, or why it failed.
:func:`kpi_run_totals` sums a run's course summaries for the DAG's report task.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from analytics.connections import AWS_DEFAULT
from analytics.core.files import write_text_atomically
from analytics.edx.course_configs import CourseConfig
from analytics.edx.course_kpis import CourseKpiSummary, compute_course_kpis
from analytics.edx.kpi_collections import (
    KPI_COLLECTIONS,
    LEARNERS,
    STATUS_COLLECTION,
    TIME_ON_TASK,
    VIDEO_SEGMENTS,
    VIDEOS,
    WEEKLY_ACTIVITY,
    read_kpi_rows,
    status_id,
)
from analytics.edx.kpi_settings import KpiRange, KpiSettings
from analytics.edx.tracking_load import MASTER_DATABASE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportTarget:
    """Where a course's report goes: a directory, and an S3 bucket and prefix (no bucket: not uploaded)."""

    directory: Path
    s3_bucket: str = ""
    s3_prefix: str = ""
    aws_conn_id: str = AWS_DEFAULT


def report_file_name(edx_id: str, kpi_range: KpiRange) -> str:
    """``<edx_id>.html`` for the whole course, ``<edx_id>_<from>_<to>.html`` for a range."""
    if kpi_range.whole_course:
        return f"{edx_id}.html"
    return f"{edx_id}_{kpi_range.from_date.isoformat()}_{kpi_range.to_date.isoformat()}.html"


def write_course_report(
    client: Any, summary: CourseKpiSummary, target: ReportTarget, *, generated_for: str = ""
) -> tuple[Path, str | None]:
    """Render the report of a computed course and range from its documents, write it atomically under
    ``target.directory`` and upload it; returns the path and the S3 key (None when not uploaded)."""
    from analytics.edx.kpi_report import CourseReportData, render_course_report

    kpi_range = summary.kpi_range
    rows = read_kpi_rows(client[summary.database], summary.edx_id, kpi_range)
    data = CourseReportData(
        edx_id=summary.edx_id,
        course_name=summary.course_name,
        database=summary.database,
        from_date=kpi_range.from_date.isoformat(),
        to_date=kpi_range.to_date.isoformat(),
        learners_counted=summary.learners_counted,
        staff_excluded=summary.staff_excluded,
        weekly_activity=rows[WEEKLY_ACTIVITY],
        videos=rows[VIDEOS],
        video_segments=rows[VIDEO_SEGMENTS],
        time_on_task=rows[TIME_ON_TASK],
        learners=rows[LEARNERS],
        generated_for=generated_for,
    )
    path = target.directory / report_file_name(summary.edx_id, kpi_range)
    write_text_atomically(path, render_course_report(data))
    log.info("%s: report written to %s", summary.edx_id, path)
    key = None
    if target.s3_bucket:
        from analytics.stores.s3 import S3Store

        key = f"{target.s3_prefix}{path.name}"
        with S3Store(target.aws_conn_id) as store:
            store.upload(path, target.s3_bucket, key)
    return path, key


def run_course_kpis(
    client: Any,
    config: CourseConfig,
    target: ReportTarget,
    *,
    from_date: date | str | None = None,
    to_date: date | str | None = None,
    settings: KpiSettings | None = None,
    include_contact_info: bool = False,
    run_id: str = "",
    master_database: str = MASTER_DATABASE,
) -> CourseKpiSummary:
    """One course's job: :func:`compute_course_kpis`, then its report; the status records where the report went.

    A report that fails leaves the KPIs written (state complete) and the error in the status's
    ``report_error``, and is raised.
    """
    summary = compute_course_kpis(
        client,
        config,
        from_date=from_date,
        to_date=to_date,
        settings=settings,
        include_contact_info=include_contact_info,
        run_id=run_id,
        master_database=master_database,
    )
    status = client[summary.database][STATUS_COLLECTION]
    selection = {"_id": status_id(summary.edx_id, summary.kpi_range)}
    try:
        path, key = write_course_report(client, summary, target, generated_for=run_id)
    except Exception as error:
        status.update_one(selection, {"$set": {"report_error": f"{type(error).__name__}: {error}"}})
        raise
    summary.report_path, summary.report_s3_key = str(path), key
    status.update_one(
        selection, {"$set": {"report_path": str(path), "report_s3_key": key, "report_error": None}}
    )
    return summary


def kpi_run_totals(summaries: Iterable[Mapping[str, Any]], configs: int) -> dict[str, Any]:
    """A run's totals over its courses' summaries (``as_dict``): what the DAG's report logs and returns."""
    summaries = list(summaries)
    rows: Counter[str] = Counter()
    for summary in summaries:
        rows.update(summary["rows"])
    return {
        "configs": configs,
        "courses": len(summaries),
        "learners_counted": sum(summary["learners_counted"] for summary in summaries),
        "staff_excluded": sum(summary["staff_excluded"] for summary in summaries),
        "rows": {name: rows[name] for name in KPI_COLLECTIONS},
        "reports": {summary["edx_id"]: summary["report_path"] for summary in summaries},
    }
