"""Operators of ``message_analytics_export``: Airflow glue only.

:class:`PlanExportOperator` reads the run's params and data interval, checks them all (range,
file names, apps) before any work, and returns one set of keyword arguments per app;
:class:`ExportAppOperator` (mapped over them) calls :func:`analytics.messages.engine.run_export`
and returns its summary. The configuration (``include/config/messages.json``) is read when a
task runs; ``database`` and ``local_dir`` (templated: the ``messages_database`` and
``messages_export_dir`` Variables) override it. The engine is imported inside ``execute``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from analytics.messages.config import MessagesConfig

log = logging.getLogger(__name__)
FILE_PARAMS = {"analytics": "analytics_file", "questions": "questions_file", "users": "users_file", "id_email": "id_email_file"}  # fmt: skip


class _MessagesOperator(BaseOperator):
    """The configuration, with this deployment's database and local directory laid over it."""

    template_fields: Sequence[str] = ("database", "local_dir")
    ui_color = "#eef5e6"

    def __init__(self, *, database: str = "", local_dir: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database = database
        self.local_dir = local_dir

    def _config(self, **overrides: Any) -> MessagesConfig:
        from analytics.messages.config import load_messages_config

        given = {name: value for name, value in overrides.items() if value is not None}
        if self.database:
            given["database"] = self.database
        if self.local_dir:
            given["local_dir"] = self.local_dir
        config = load_messages_config()
        return dataclasses.replace(config, **given) if given else config


class PlanExportOperator(_MessagesOperator):
    """Check the params and plan one export per app; fails (no retry) naming the param and value."""

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.messages.ranges import resolve_range

        params = context["params"]
        try:
            config = self._config()
            config = dataclasses.replace(config, files=self._files(params, config.files))
            time_range = resolve_range(
                params.get("time_range"),
                params.get("start_time"),
                params.get("end_time"),
                context.get("data_interval_start"),
                context.get("data_interval_end"),
                config.timezone,
            )
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        app_ids = list(params.get("app_ids") or config.app_ids)
        if not app_ids:
            raise AirflowFailException("app_ids is empty and include/config/messages.json lists no app")
        personal = bool(params.get("include_personal_data"))
        self.log.info(
            "range %s .. %s (%s); apps %s", time_range.start, time_range.end, config.timezone, app_ids
        )
        self.log.info("files %s; personal data %s", config.files, "included" if personal else "not written")
        common = {
            "start": time_range.start.isoformat(),
            "end": time_range.end.isoformat(),
            "files": config.files,
        }
        return [{"app_id": app_id, "include_personal_data": personal, **common} for app_id in app_ids]

    @staticmethod
    def _files(params: Any, configured: dict[str, str]) -> dict[str, str]:
        """The configured file names with those the params give laid over them, each checked (ValueError naming the param)."""
        from analytics.messages.formats import table_format

        files = dict(configured)
        for table, param in FILE_PARAMS.items():
            if params.get(param):
                table_format(params[param], param)
                files[table] = params[param]
        return files


class ExportAppOperator(_MessagesOperator):
    """One app's files for the planned range, to S3 and the local directory."""

    template_fields: Sequence[str] = ("database", "local_dir", "app_id", "start", "end")

    def __init__(
        self,
        *,
        app_id: str,
        start: str,
        end: str,
        files: dict[str, str],
        include_personal_data: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.app_id, self.start, self.end = app_id, start, end
        self.files = files
        self.include_personal_data = include_personal_data

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.messages.engine import run_export
        from analytics.messages.ranges import explicit_range

        config = self._config(files=dict(self.files))
        time_range = explicit_range(self.start, self.end, config.timezone)
        result = run_export(config, self.app_id, time_range, personal=bool(self.include_personal_data))
        self.log.info("%s", result.log_line())
        return result.as_summary()


def report_messages(plan: list[dict], *results: Any) -> dict[str, Any]:
    """Log each app's analytics (metric: count) and files; return the apps exported."""
    summaries = [result for group in results for result in (group or []) if result]
    for summary in summaries:
        log.info(
            "%s %s .. %s -> %s", summary["app_id"], summary["start"], summary["end"], summary["s3_prefix"]
        )
        for metric, count in summary["counts"].items():
            log.info("    %-24s %8d", metric, count)
        log.info("    files: %s", ", ".join(f"{name} ({size} B)" for name, size in summary["files"].items()))
    return {"apps": [summary["app_id"] for summary in summaries]}


def check_messages(plan: list[dict], *results: Any) -> None:
    """Fail the run (no retry) when a planned app has no export (its task failed)."""
    from airflow.sdk.exceptions import AirflowFailException

    done = {result["app_id"] for group in results for result in (group or []) if result}
    missing = [entry["app_id"] for entry in plan or [] if entry["app_id"] not in done]
    if not plan:
        raise AirflowFailException("no export was planned: see the validate_params task")
    if missing:
        raise AirflowFailException(f"no export for {', '.join(missing)}: clear its export_app task")
