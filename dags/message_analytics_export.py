"""
# Message analytics export

## What it does

Exact analytics of the chatbot platform's apps over a time range, as CSV or TSV files. Reads the
MongoDB database `messages` (`mongo_default`; `include/config/messages.json`, or the
`messages_database` Variable): `messages` (the logger), `tasks` (questions and their answer
transactions), `users` (the user hub). Creates the indexes it needs ((`project`, `timestamp`),
(`project`, `userId`, `timestamp`), (`appId`, `creationTs`), `apps`).

**Files**, per app and range, under `s3://analytics-exports/messages/<app_id>/<start>_<end>/`
(`aws_default`) and, when the `messages_export_dir` Variable (or `local_dir` in the file) names a
directory, the same path below it: `analytics` (one row per metric: `app_id, start, end, metric,
count, description`; every count exact), `questions` (tasks created in the range, with the text
of their best answer), `messages.jsonl` and `tasks.jsonl` (the range's documents in (time, `_id`)
order, each once). **Personal data**: `users` and `id_email` (names, e-mails) are written only when
`include_personal_data` is true. CSV or TSV follows each file name's extension. Files are written
to a hidden partial name and renamed when complete; a rerun writes identical bytes.

**Ranges** are half-open `[start, end)` in UTC (`MESSAGES_TIMEZONE`). The daily run at midnight
exports the day before (its data interval). Params: `time_range` (`TODAY`: the run's day; `ALL`;
`<n>D`, `<n>W`, `<n>M`: the whole days, weeks or months ending at the start of the data
interval's end's day) or `start_time`/`end_time` (ISO 8601 with offset); `app_ids` (empty: the
configuration's); `analytics_file`, `questions_file`, `users_file`, `id_email_file` (`.csv` or
`.tsv`); `include_personal_data`. A backfill or a manual run of any past range writes the same
files.

## Params

- `app_ids`: the apps to export; empty: every app of `include/config/messages.json`.
- `time_range`: `TODAY`, `ALL`, or `<n>D`, `<n>W`, `<n>M` ending at the data interval's end;
  empty: the data interval.
- `start_time`, `end_time` (ISO 8601 with offset, `end_time` excluded): an explicit range,
  instead of `time_range`.
- `analytics_file`, `questions_file`, `users_file`, `id_email_file`: the file name of each
  table (`.csv` or `.tsv`); empty: the configuration's.
- `include_personal_data` (default false): also write the `users` and `id_email` files
  (names, e-mails).

## When it fails

A failure means an app's files for the range are missing or still those of an earlier run. What to
do:

`validate_params` fails at once (no retry) naming the param and value (an unknown range, an end
before its start, a file that is not `.csv`/`.tsv`, a run without a data interval and no
`start_time`/`end_time`): fix the params and trigger again. An `export_app` task that fails leaves
the files of earlier runs whole (nothing is replaced before it is complete): clear it. `check` names
the apps whose export did not finish. Connection errors name `mongo_default` or `aws_default`; a
missing bucket must be created (MinIO's init does).

## Owner

data-engineering (message analytics).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag

from analytics.dag_defaults import default_args, report_and_check
from analytics.messages.config import MESSAGES_TIMEZONE
from analytics.messages.ranges import TIME_RANGE_PATTERN
from analytics.operators.messages import (
    ExportAppOperator,
    PlanExportOperator,
    check_messages,
    report_messages,
)

DATABASE = "{{ var.value.get('messages_database', '') }}"
LOCAL_DIR = "{{ var.value.get('messages_export_dir', '') }}"
FILE_NAME = {"type": ["null", "string"], "pattern": r"^[^/\\]*$"}
TIME = {"type": ["null", "string"]}


def file_param(table: str) -> Param:
    return Param(
        None,
        **FILE_NAME,
        title=f"{table} file",
        description=f"File name of the {table} table (.csv or .tsv); empty: the configuration's.",
    )


@dag(
    dag_id="message_analytics_export",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=MESSAGES_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=MESSAGES_TIMEZONE),
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    default_args=default_args(),
    tags=["messages", "export", "mongodb", "s3", "daily"],
    params={
        "app_ids": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Apps",
            description="App ids to export; empty: every app in include/config/messages.json.",
        ),
        "time_range": Param(
            None,
            type=["null", "string"],
            pattern=TIME_RANGE_PATTERN,
            title="Time range",
            description="TODAY, ALL, or <n>D, <n>W, <n>M ending at the data interval's end; empty: the data interval.",
        ),
        "start_time": Param(None, **TIME, title="Start", description="Range start, ISO 8601 with offset (instead of time_range)."),
        "end_time": Param(None, **TIME, title="End", description="Range end, excluded, ISO 8601 with offset."),
        "analytics_file": file_param("analytics"),
        "questions_file": file_param("questions"),
        "users_file": file_param("users"),
        "id_email_file": file_param("id_email"),
        "include_personal_data": Param(
            False,
            type="boolean",
            title="Include personal data",
            description="Write the users and id_email files (names, e-mails); false: they are not written.",
        ),
    },
)  # fmt: skip
def message_analytics_export():
    plan = PlanExportOperator(task_id="validate_params", database=DATABASE, local_dir=LOCAL_DIR)
    exports = ExportAppOperator.partial(
        task_id="export_app", database=DATABASE, local_dir=LOCAL_DIR, map_index_template="{{ task.app_id }}"
    ).expand_kwargs(plan.output)
    report_and_check(report_messages, check_messages, plan.output, exports.output)


message_analytics_export()
