"""Operators of the tracking-log DAGs: plan a master load, load one file, report.

Airflow glue only: each operator reads its arguments and context, calls one function of
:mod:`analytics.edx.tracking_load` (or :mod:`analytics.edx.extraction`), logs, and returns a
small summary (XCom). A file left ``partial`` or ``failed`` fails its mapped task without retry
(a retry would read the same bytes), after pushing its summary, so the report still lists it;
the next run takes the file again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from analytics.connections import MONGO_DEFAULT
from analytics.pools import MONGODB_WRITES

# A day of a large platform is a few million lines; at the local server's slowest (4 k events/s)
# that is well under this.
LOAD_EXECUTION_TIMEOUT = timedelta(hours=6)


def _directory(path: str, param: str, variable: str) -> Path:
    if not path:
        raise ValueError(f"no directory: set the `{param}` param or the `{variable}` Variable")
    return Path(path).expanduser()


def _names(value: Any) -> list[str]:
    """A templated list param: a list, or its rendering as text (``"['a', 'b']"``)."""
    if value in (None, "", "None"):
        return []
    if isinstance(value, str):
        import ast

        value = ast.literal_eval(value)
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"expected a list of file names, got {value!r}")
    return list(value)


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "", "None") else int(value)


class PlanTrackingFilesOperator(BaseOperator):
    """List the landing directory and choose the files this run loads (oldest first, at most
    ``max_files_per_run``); returns them as the mapped load's arguments.

    Logs every file left alone with the reason: complete already, beyond this run's limit,
    ignored (errors files, hidden files, two files known by one name), or *changed since it was
    loaded* (its sha256 differs: not reloaded silently; name it in ``reload_files``).
    """

    template_fields: Sequence[str] = ("landing_dir", "reload_files", "max_files_per_run")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        landing_dir: str,
        reload_files: Any = (),
        max_files_per_run: Any = None,
        mongo_conn_id: str = MONGO_DEFAULT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.landing_dir = landing_dir
        self.reload_files = reload_files
        self.max_files_per_run = max_files_per_run
        self.mongo_conn_id = mongo_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from analytics.edx.tracking_files import DEFAULT_MAX_FILES_PER_RUN
        from analytics.edx.tracking_load import load_tracking_settings, plan_master_load
        from analytics.stores.mongo import mongo_client

        directory = _directory(self.landing_dir, "landing_dir", "edx_tracking_dir")
        settings = load_tracking_settings()
        max_files = _optional_int(self.max_files_per_run) or DEFAULT_MAX_FILES_PER_RUN
        with mongo_client(self.mongo_conn_id) as client:
            plan = plan_master_load(
                client[settings.master_database],
                directory,
                reload_files=_names(self.reload_files),
                max_files=max_files,
            )
        for entry in plan.to_load:
            self.log.info("to load: %s (%s)", entry["name"], entry["reason"])
        for entry in plan.ignored:
            self.log.warning("ignored %s: %s", entry["file"], entry["reason"])
        for entry in plan.changed:
            self.log.error(
                "%s changed since it was loaded (sha256 %s, loaded %s): not reloaded; "
                "name it in reload_files to replace its events",
                entry["name"],
                entry["sha256"][:12],
                entry["loaded_sha256"][:12],
            )
        if plan.deferred:
            self.log.warning(
                "%d file(s) beyond max_files_per_run=%d are left for the next run (oldest: %s)",
                len(plan.deferred),
                max_files,
                plan.deferred[0],
            )
        self.log.info(
            "%s: %d file(s) to load, %d complete already, %d changed, %d deferred, %d ignored",
            directory,
            len(plan.to_load),
            plan.complete,
            len(plan.changed),
            len(plan.deferred),
            len(plan.ignored),
        )
        context["ti"].xcom_push(key="plan", value=plan.as_dict())
        return plan.to_load


class LoadTrackingFileOperator(BaseOperator):
    """Stream one tracking-log file into the master collection (one mapped task per file)."""

    writes_to: ClassVar[str] = MONGODB_WRITES  # the pool the DAGs give its tasks (analytics.pools)

    template_fields: Sequence[str] = ("file", "errors_dir", "batch_size")
    ui_color = "#dff3e4"

    def __init__(
        self,
        *,
        file: dict[str, Any],
        errors_dir: str = "",
        batch_size: Any = None,
        mongo_conn_id: str = MONGO_DEFAULT,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("execution_timeout", LOAD_EXECUTION_TIMEOUT)
        super().__init__(**kwargs)
        self.file = file
        self.errors_dir = errors_dir
        self.batch_size = batch_size
        self.mongo_conn_id = mongo_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.core.accounting import COMPLETE
        from analytics.edx.tracking_files import TrackingFile
        from analytics.edx.tracking_load import load_tracking_file, load_tracking_settings
        from analytics.stores.mongo import mongo_client

        settings = load_tracking_settings(batch_size=_optional_int(self.batch_size))
        path = Path(self.file["path"])
        if not path.is_file():
            raise FileNotFoundError(f"{path} is gone since the run was planned")
        found = TrackingFile.at(path)
        self.log.info("loading %s (%s, %d bytes)", found.name, self.file.get("reason"), found.size)
        with mongo_client(self.mongo_conn_id) as client:
            result = load_tracking_file(
                client[settings.master_database],
                found,
                errors_dir=Path(self.errors_dir).expanduser() if self.errors_dir else None,
                reload=bool(self.file.get("reload")),
                run_id=context["run_id"],
                settings=settings,
            )
        summary = result.as_dict()
        self.log.info(
            "%s: %s; %d lines read = %d loaded + %d already loaded + %d discarded %s",
            result.name,
            result.status,
            result.read,
            result.loaded,
            result.already_loaded,
            result.discarded,
            summary["discarded_by_reason"] or "",
        )
        if result.errors_file:
            self.log.info("discarded lines, with their reasons: %s", result.errors_file)
        if result.status != COMPLETE:
            context["ti"].xcom_push(key="return_value", value=summary)
            raise AirflowFailException(f"{result.name} is {result.status}: {result.failure}")
        return summary


def report_master_load(plan: dict[str, Any], loads: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Log one line per file and the totals; return the totals.

    Raises ``AirflowSkipException`` when nothing was loaded (no Asset event: the course
    extraction has nothing new to do).
    """
    import logging

    from airflow.sdk.exceptions import AirflowSkipException

    from analytics.edx.tracking_reports import master_load_totals

    log = logging.getLogger(__name__)
    totals = master_load_totals(plan, loads)
    for load in loads:
        log.info(
            "%s: %s, %d read, %d loaded, %d already loaded, %d discarded%s",
            load["name"],
            load["status"],
            load["read"],
            load["loaded"],
            load["already_loaded"],
            load["discarded"],
            f" ({load['failure']})" if load.get("failure") else "",
        )
    log.info(
        "%d file(s) loaded %s: %d lines, %d new events, %d already loaded, %d discarded %s; "
        "%d complete before, %d changed, %d deferred to the next run, %d ignored",
        totals["files_loaded"],
        totals["by_status"],
        totals["lines_read"],
        totals["events_loaded"],
        totals["already_loaded"],
        totals["discarded"],
        totals["discarded_by_reason"],
        totals["files_complete_before"],
        len(totals["files_changed"]),
        totals["files_deferred"],
        totals["files_ignored"],
    )
    if not any(load["read"] for load in loads):
        raise AirflowSkipException("no file was loaded: the master is unchanged (no Asset event)")
    return totals


def check_master_load(plan: dict[str, Any], loads: Sequence[dict[str, Any]]) -> None:
    """Fail the run (no retry) when a planned file is not complete or a loaded file changed since."""
    from airflow.sdk.exceptions import AirflowFailException

    from analytics.edx.tracking_reports import master_load_problems

    problems = master_load_problems(plan, loads)
    if problems:
        raise AirflowFailException("; ".join(problems))
