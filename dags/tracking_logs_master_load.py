"""
# Tracking logs: master load

## What it does

Loads daily edX tracking logs (`*.log.gz` and plain `*.log`, JSON lines, named as edX names them,
`{org}-edx-events-{YYYY-MM-DD}.log.gz`, or otherwise) from a landing directory into the master
collection **`tracking_logs.tracking`**, every line accounted for. Publishes the Asset
`tracking_logs_master`, which schedules `course_tracking_extraction`.

**Schedule.** Whenever `s3_log_download` has downloaded files (the Asset `edx_tracking_landing`),
and daily at 04:00 UTC for the day before (edX writes a day's file after midnight UTC); and by hand.

**Tasks.**
1. `plan_files`: lists the landing directory (`landing_dir`, empty: the `edx_tracking_dir`
   Variable; its sub-directories, hidden files and `*-errors` files are not input) and picks the
   files not yet complete (new, or a load that failed, stopped halfway or was partial), plus the
   `reload_files`, **oldest first**, at most `max_files_per_run` (Airflow refuses more than
   `max_map_length` mapped tasks; the rest wait for the next run, which the log says). A complete
   file whose sha256 changed since it was loaded is reported and fails the run's check; it is
   not reloaded until named in `reload_files`.
2. `load_file` (one mapped task per file, named after it): streams the file (gzip or plain,
   never whole in memory), parses each line with orjson and writes documents in batches
   (`insert_many(ordered=False)`). Each document keeps every original field, plus `event` as a
   sub-document when edX wrote it as a JSON string, `time` as a UTC datetime (`time_raw`: the
   original), `course_id` (from `context.course_id`, the `page` URL, a server event's path, a
   login page's `next`, or `event.course_id`) with `course_id_source`, `load_file`, `load_line`,
   `loaded_at`, and `_id` = `<file name>:<line>`. Keys MongoDB cannot store (`.`, a leading `$`)
   are percent-encoded (`points.possible` is stored as `points%2Epossible`; see the README).
   Each discarded line (not UTF-8, bad JSON, not an object, no time, unparseable time, blank,
   `#` comment) goes to `<name>-errors` (JSON lines: line, reason, field, detail, raw) in
   `errors_dir` (empty: beside the input). The import record
   (`tracking_logs.tracking_imported`, one per file: size, sha256, start and end, status,
   counters, events per course id) says `complete` only when every line is accounted for.
3. `report`: one line per file and the totals; skipped when no file was loaded (no Asset event).
4. `check`: fails the run when a planned file is not complete, a complete file changed, or two
   files share a name.

**Reruns.** Loading a file twice stores each event once (`_id` from file and line): the second
load counts *already loaded*. A run killed halfway leaves the file `running`; the next run loads
it again and finishes it. A truncated gzip loads what is readable and is `partial` with the
reason (its task fails without retry; other files go on; the next run tries it again).

## Params

`landing_dir`; `errors_dir`; `max_files_per_run` (default 200); `reload_files` (file names to load
again on purpose: each line is written over its stored version, and stored lines past the file's end
are removed); `batch_size` (empty: `include/config/tracking_logs.json`).

## When it fails

A failure means some tracking-log files are not in the master collection yet, so course extraction
and KPIs lag behind. What to do:

`load_file` for a file: see its log and the import record's `failure` (truncated or corrupt gzip:
replace the file; the next run loads it). `check` for a changed file: name it in `reload_files`.
`plan_files`: the landing directory does not exist, or `reload_files` names a file that is not
there.

## Owner

data-engineering (edX analytics).
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, XComArg, dag

from analytics.alerts import deadline_alert
from analytics.assets import TRACKING_LANDING, TRACKING_MASTER
from analytics.dag_defaults import default_args, optional_text, report_and_check
from analytics.operators.data_checks import MasterLoadCheckOperator
from analytics.operators.tracking import (
    LOAD_EXECUTION_TIMEOUT,
    LoadTrackingFileOperator,
    PlanTrackingFilesOperator,
    check_master_load,
    report_master_load,
)
from analytics.pools import MONGODB_WRITES


@dag(
    dag_id="tracking_logs_master_load",
    is_paused_upon_creation=False,  # started by an upstream DAG or Asset: see the README's deployment section
    # When s3_log_download brought files, and every morning for the day before (see the docs), and by hand.
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 4 * * *", timezone="UTC"), assets=[TRACKING_LANDING]
    ),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    deadline=deadline_alert("tracking_logs_master_load", __doc__),
    default_args=default_args(),
    tags=["edx", "ingestion", "mongodb", "daily"],
    params={
        "landing_dir": optional_text(
            title="Landing directory",
            description="Folder of the tracking logs; empty: the `edx_tracking_dir` Variable.",
        ),
        "errors_dir": optional_text(
            title="Errors directory",
            description="Where each file's `<name>-errors` goes; empty: beside the input file.",
        ),
        "max_files_per_run": Param(
            200,
            type="integer",
            minimum=1,
            maximum=1024,
            title="Files per run",
            description="At most this many files (oldest first) per run; the rest wait for the next.",
        ),
        "reload_files": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Files to reload",
            description="File names to load again on purpose (e.g. a file that changed since it was loaded).",
        ),
        "batch_size": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Batch size",
            description="Documents per insert_many; empty: include/config/tracking_logs.json.",
        ),
    },
)
def tracking_logs_master_load():
    plan = PlanTrackingFilesOperator(
        task_id="plan_files",
        landing_dir="{{ params.landing_dir or var.value.get('edx_tracking_dir', '') }}",
        reload_files="{{ params.reload_files }}",
        max_files_per_run="{{ params.max_files_per_run }}",
    )
    loads = LoadTrackingFileOperator.partial(
        pool=MONGODB_WRITES,
        task_id="load_file",
        errors_dir="{{ params.errors_dir or '' }}",
        batch_size="{{ params.batch_size }}",
        execution_timeout=LOAD_EXECUTION_TIMEOUT,
        max_active_tis_per_dagrun=2,
        map_index_template="{{ task.file['name'] }}",
    ).expand(file=plan.output)

    MasterLoadCheckOperator(task_id="check_loaded_files", loads=loads.output)

    planned = XComArg(plan, key="plan")
    report_and_check(report_master_load, check_master_load, planned, loads.output, outlets=[TRACKING_MASTER])


tracking_logs_master_load()
