"""Operators of the course KPIs DAG: compute one course's KPIs and report, then report and check the run.

Airflow glue only: :class:`ComputeCourseKpisOperator` reads its templated params, calls
:func:`analytics.edx.kpi_run.run_course_kpis` once, logs, and returns the course's summary
(XCom, no contact details). The course configs are listed by the extraction's
:class:`~analytics.operators.tracking.ListCourseConfigsOperator`. An invalid config or param fails
its own task without retry (the file or the trigger must be fixed), naming the file and field.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from analytics.connections import AWS_DEFAULT, MONGO_DEFAULT
from analytics.pools import MONGODB_WRITES

# At the local server's indexed sorted read (~14 k events/s) 6 hours is ~300 M events: far above a course.
KPI_EXECUTION_TIMEOUT = timedelta(hours=6)
_EMPTY = (None, "", "None")


def _boolean(value: Any) -> bool:
    """A templated boolean param: a bool, or its rendering (``"True"``, ``"false"``)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")


def _optional_number(value: Any) -> float | None:
    return None if value in _EMPTY else float(value)


def _mapping(value: Any) -> dict[str, Any]:
    """A templated object param: a dict, or its rendering as text (``"{'always_exclude': ['x']}"``)."""
    if value in _EMPTY or value == {}:
        return {}
    if isinstance(value, str):
        value = ast.literal_eval(value)
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {value!r}")
    return value


class ComputeCourseKpisOperator(BaseOperator):
    """Compute one course's KPIs for the run's range, write its report and upload it (one mapped task per course)."""

    writes_to: ClassVar[str] = MONGODB_WRITES  # the pool the DAGs give its tasks (analytics.pools)

    template_fields: Sequence[str] = (
        "config_path",
        "from_date",
        "to_date",
        "include_contact_info",
        "report_dir",
        "session_timeout_minutes",
        "staff_rule",
        "s3_bucket",
        "s3_prefix",
    )
    ui_color = "#dff3e4"

    def __init__(
        self,
        *,
        config_path: str,
        from_date: str = "",
        to_date: str = "",
        include_contact_info: Any = False,
        report_dir: str = "",
        session_timeout_minutes: Any = None,
        staff_rule: Any = None,
        s3_bucket: str = "",
        s3_prefix: str = "",
        mongo_conn_id: str = MONGO_DEFAULT,
        aws_conn_id: str = AWS_DEFAULT,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("execution_timeout", KPI_EXECUTION_TIMEOUT)
        super().__init__(**kwargs)
        self.config_path = config_path
        self.from_date = from_date
        self.to_date = to_date
        self.include_contact_info = include_contact_info
        self.report_dir = report_dir
        self.session_timeout_minutes = session_timeout_minutes
        self.staff_rule = staff_rule
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix
        self.mongo_conn_id = mongo_conn_id
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.core.config import ConfigError
        from analytics.edx.course_configs import parse_course_config
        from analytics.edx.kpi_run import ReportTarget, run_course_kpis
        from analytics.edx.kpi_settings import load_kpi_settings, resolve_range
        from analytics.edx.tracking_load import load_tracking_settings
        from analytics.stores.mongo import mongo_client

        try:
            config = parse_course_config(self.config_path)
            settings = load_kpi_settings(
                session_timeout_minutes=_optional_number(self.session_timeout_minutes),
                staff_rule=_mapping(self.staff_rule),
            )
            resolve_range(config, self.from_date, self.to_date)  # a bad date fails here, without retry
        except ConfigError as error:
            raise AirflowFailException(f"invalid course config: {error}") from None
        except ValueError as error:
            raise AirflowFailException(f"{self.config_path}: {error}") from None
        target = ReportTarget(
            directory=settings.report_directory(self.report_dir),
            s3_bucket=self.s3_bucket or settings.s3_bucket,
            s3_prefix=self.s3_prefix or settings.s3_prefix,
            aws_conn_id=self.aws_conn_id,
        )
        with mongo_client(self.mongo_conn_id) as client:
            summary = run_course_kpis(
                client,
                config,
                target,
                from_date=self.from_date,
                to_date=self.to_date,
                settings=settings,
                include_contact_info=_boolean(self.include_contact_info),
                run_id=context["run_id"],
                master_database=load_tracking_settings().master_database,
            )
        self.log.info("%s", summary.log_line())
        self.log.info(
            "report: %s%s",
            summary.report_path,
            f", uploaded to s3://{target.s3_bucket}/{summary.report_s3_key}" if summary.report_s3_key else "",
        )
        return summary.as_dict()


def report_course_kpis(summaries: Sequence[dict[str, Any]], config_paths: Sequence[str]) -> dict[str, Any]:
    """Log one line per course and the totals; skipped (no Asset event) when no course was computed."""
    import logging

    from airflow.sdk.exceptions import AirflowSkipException

    from analytics.edx.kpi_run import kpi_run_totals

    log = logging.getLogger(__name__)
    for summary in summaries:
        log.info(
            "%s (%s .. %s) -> %s: %s; %d learners counted, %d staff excluded %s; rows %s; report %s%s",
            summary["edx_id"],
            summary["from_date"],
            summary["to_date"],
            summary["database"],
            summary["state"],
            summary["learners_counted"],
            summary["staff_excluded"],
            {reason: count for reason, count in summary["staff_by_reason"].items() if count},
            summary["rows"],
            summary["report_path"],
            f" (S3 key {summary['report_s3_key']})" if summary.get("report_s3_key") else "",
        )
    totals = kpi_run_totals(summaries, len(config_paths))
    log.info(
        "%d of %d course(s) computed: %d learners counted, %d staff excluded, rows %s",
        totals["courses"],
        totals["configs"],
        totals["learners_counted"],
        totals["staff_excluded"],
        totals["rows"],
    )
    if not summaries:
        raise AirflowSkipException("no course was computed (no Asset event)")
    return totals


def check_course_kpis(summaries: Sequence[dict[str, Any]], config_paths: Sequence[str]) -> None:
    """Fail the run when a listed course has no summary (its config is invalid or its task failed)."""
    from airflow.sdk.exceptions import AirflowFailException

    missing = len(config_paths) - len(summaries)
    if missing > 0:
        raise AirflowFailException(
            f"{missing} of {len(config_paths)} course(s) without KPIs: see the failed compute_course tasks "
            "(an invalid config names its file and field)"
        )
