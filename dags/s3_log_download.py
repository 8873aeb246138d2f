"""
# Tracking logs: download from S3

## What it does

Downloads edX tracking logs (`*.log.gz` and plain `*.log`) from an S3 bucket into the landing
directory that `tracking_logs_master_load` reads, only the keys that are new or changed, each one
complete and verified before it appears under its name. Publishes the Asset `edx_tracking_landing`
when it downloaded something, which starts the master load.

**Schedule.** Daily at 03:00 UTC (the master load's own time is 04:00), and by hand.

**Tasks.**
1. `plan_downloads`: lists the keys under `prefix` in `bucket` (page by page), keeps the
   tracking logs (not hidden, not `*-errors`) whose date in the name (`2024-03-04` or
   `20240304`) is on or after `from_date` (keys without a date in the name are kept), and
   compares each with the register **`tracking_logs.s3_downloads`** (key, ETag, size,
   last-modified, local path with its size and time, when and by which run) and with the
   landing directory: a key is downloaded when it is new, changed in S3 (ETag or size), or its
   local file is missing or was changed; otherwise it is *already there* and S3 is not asked.
   Keys land under their base name: two keys that would land as one file (same base name, or
   `x.log` beside `x.log.gz`), or a key whose file holds another key's download, are
   **refused**, never overwritten.
2. `download_logs`: one key after the other, each streamed to a hidden temporary file
   (`.<name>.<random>.partial`, which the master load ignores) and renamed once its size is
   right and the object did not change meanwhile; then registered. A key that fails is
   recorded with its reason and the others go on.
3. `report`: the counts (listed, kept, new, changed, restored, already there, failed,
   refused); skipped when nothing was downloaded (no Asset event).
4. `check`: fails the run, naming each key, when a key failed or was refused.

## Params

`bucket`, `prefix` (empty: `include/config/s3_download.json`); `landing_dir` (empty: the
`edx_tracking_dir` Variable; it must exist); `from_date` (`YYYY-MM-DD`; empty: the data interval's
start minus `lookback_days`, 2 in the configuration, to catch files written late; a run triggered
without a logical date has no data interval and must give it).

## When it fails

A failure means some tracking-log files did not reach the landing directory, so the master load
misses them until they are downloaded. What to do:

`check` names each failed key and why (the next run tries it again, or clear the run); a refused key
needs a person: rename one of the colliding keys in S3, or remove the local file that holds another
key. `plan_downloads`: the bucket or the landing directory does not exist, or `from_date` is missing
or not a date.

## Owner

data-engineering (edX analytics).
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, dag

from analytics.assets import TRACKING_LANDING
from analytics.dag_defaults import default_args, optional_text, report_and_check
from analytics.operators.s3_download import (
    DOWNLOAD_EXECUTION_TIMEOUT,
    DownloadS3LogsOperator,
    PlanS3DownloadOperator,
    check_s3_download,
    report_s3_download,
)


@dag(
    dag_id="s3_log_download",
    # Every morning, before the master load's 04:00: the day before's file is written after midnight UTC.
    schedule=CronTriggerTimetable("0 3 * * *", timezone="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=default_args(),
    tags=["edx", "ingestion", "s3", "daily"],
    params={
        "bucket": optional_text(
            title="Bucket",
            description="S3 bucket of the tracking logs; empty: include/config/s3_download.json.",
        ),
        "prefix": optional_text(
            title="Prefix",
            description="Only keys starting with this; empty: include/config/s3_download.json.",
        ),
        "landing_dir": optional_text(
            title="Landing directory",
            description="Folder the files are downloaded to; empty: the `edx_tracking_dir` Variable.",
        ),
        "from_date": optional_text(
            pattern=r"^(\d{4}-\d{2}-\d{2})?$",
            title="From date",
            description="Keys dated (in their name) before this day are left alone, YYYY-MM-DD; "
            "empty: the data interval's start minus 2 days.",
        ),
    },
)
def s3_log_download():
    plan = PlanS3DownloadOperator(
        task_id="plan_downloads",
        bucket="{{ params.bucket or '' }}",
        prefix="{{ params.prefix or '' }}",
        landing_dir="{{ params.landing_dir or var.value.get('edx_tracking_dir', '') }}",
        from_date="{{ params.from_date or '' }}",
    )
    download = DownloadS3LogsOperator(
        task_id="download_logs", plan=plan.output, execution_timeout=DOWNLOAD_EXECUTION_TIMEOUT
    )

    report_and_check(report_s3_download, check_s3_download, download.output, outlets=[TRACKING_LANDING])


s3_log_download()
