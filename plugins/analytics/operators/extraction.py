"""Operators of ``course_tracking_extraction`` (and of ``course_kpis``' course listing): list the
course configs, extract one course, report.

Airflow glue only: each operator reads its arguments and context, calls one function of
:mod:`analytics.edx.course_configs` or :mod:`analytics.edx.extraction`, logs, and returns a small
summary (XCom).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from airflow.sdk import BaseOperator, Param

from analytics.connections import MONGO_DEFAULT
from analytics.dag_defaults import optional_text
from analytics.operators.tracking import LOAD_EXECUTION_TIMEOUT, _names
from analytics.pools import MONGODB_WRITES

COURSE_CONFIG_DIR_TEMPLATE = "{{ params.course_config_dir or var.value.get('edx_course_config_dir', '') }}"
"""The configs folder a run reads: the param, else the Variable (else the operator's default folder)."""


def course_selection_params(what: str) -> dict[str, Param]:
    """The params of a DAG that works per course config: the folder and the ``edx_id``s to ``what`` (a verb)."""
    return {
        "course_config_dir": optional_text(
            title="Course config directory",
            description=(
                "Folder of the course configs (one JSON file per course); empty: the "
                "`edx_course_config_dir` Variable, else include/config/courses/."
            ),
        ),
        "courses": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Courses",
            description=f"The edx_ids of the courses to {what}; empty: all.",
        ),
    }


class ListCourseConfigsOperator(BaseOperator):
    """List the course configs to extract (``courses``: edx_ids, empty: all); returns their paths.

    ``course_config_dir`` empty: ``include/config/courses/``. A file that cannot be parsed is
    listed all the same, so that its own mapped task fails with the reason and the others run.
    """

    template_fields: Sequence[str] = ("course_config_dir", "courses")
    ui_color = "#e8f1fb"

    def __init__(self, *, course_config_dir: str = "", courses: Any = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.course_config_dir = course_config_dir
        self.courses = courses

    def execute(self, context: Any) -> list[str]:
        from analytics.edx.course_configs import COURSE_CONFIG_DIR, list_course_configs

        directory = Path(self.course_config_dir).expanduser() if self.course_config_dir else COURSE_CONFIG_DIR
        paths = list_course_configs(directory, _names(self.courses))
        self.log.info(
            "%d course config(s) in %s: %s", len(paths), directory, ", ".join(p.name for p in paths)
        )
        if not paths:
            self.log.warning("no course config in %s: nothing to extract", directory)
        return [str(path) for path in paths]


class ExtractCourseTrackingOperator(BaseOperator):
    """Copy one course's events from the master into its course database, enriched with its blocks.

    An invalid config fails this task only (no retry: the file must be fixed), with a message
    naming the file and the field.
    """

    writes_to: ClassVar[str] = MONGODB_WRITES  # the pool the DAGs give its tasks (analytics.pools)

    template_fields: Sequence[str] = ("config_path", "full_refresh")
    ui_color = "#dff3e4"

    def __init__(
        self,
        *,
        config_path: str,
        full_refresh: Any = False,
        mongo_conn_id: str = MONGO_DEFAULT,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("execution_timeout", LOAD_EXECUTION_TIMEOUT)
        super().__init__(**kwargs)
        self.config_path = config_path
        self.full_refresh = full_refresh
        self.mongo_conn_id = mongo_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.core.config import ConfigError
        from analytics.edx.course_configs import parse_course_config
        from analytics.edx.extraction import extract_course
        from analytics.edx.tracking_load import load_tracking_settings
        from analytics.stores.mongo import mongo_client

        try:
            config = parse_course_config(self.config_path)
        except ConfigError as error:
            raise AirflowFailException(f"invalid course config: {error}") from None
        settings = load_tracking_settings()
        full_refresh = str(self.full_refresh).lower() in ("true", "1")
        with mongo_client(self.mongo_conn_id) as client:
            summary = extract_course(
                client,
                config,
                master_database=settings.master_database,
                full_refresh=full_refresh,
                batch_size=settings.batch_size,
                progress_every_seconds=settings.progress_every_seconds,
            )
        self.log.info("%s", summary.log_line())
        return summary.as_dict()


def report_extraction(summaries: Sequence[dict[str, Any]], config_paths: Sequence[str]) -> dict[str, Any]:
    """Log one line per course and the totals; skipped (no Asset event) when no course was extracted."""
    import logging

    from airflow.sdk.exceptions import AirflowSkipException

    from analytics.edx.tracking_reports import extraction_totals

    log = logging.getLogger(__name__)
    totals = extraction_totals(summaries, len(config_paths))
    for summary in summaries:
        log.info(
            "%s -> %s.tracking: %s %s, %d selected, %d written, %d enriched, %d not enriched, %d removed",
            summary["edx_id"],
            summary["database"],
            summary["state"],
            summary["mode"],
            summary["selected"],
            summary["written"],
            summary["enriched"],
            summary["not_enriched"],
            summary["removed"],
        )
    log.info(
        "%d of %d course(s) extracted: %d events selected, %d written (%d enriched, %d not), %d removed",
        totals["courses"],
        totals["configs"],
        totals["selected"],
        totals["written"],
        totals["enriched"],
        totals["not_enriched"],
        totals["removed"],
    )
    if not summaries:
        raise AirflowSkipException("no course was extracted (no Asset event)")
    return totals


def check_extraction(summaries: Sequence[dict[str, Any]], config_paths: Sequence[str]) -> None:
    """Fail the run when a listed course has no summary (its config is invalid or its task failed)."""
    from airflow.sdk.exceptions import AirflowFailException

    done = len(summaries)
    if done < len(config_paths):
        raise AirflowFailException(
            f"{len(config_paths) - done} of {len(config_paths)} course(s) not extracted: "
            "see the failed extract_course tasks (an invalid config names its file and field)"
        )
