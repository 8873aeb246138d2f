"""Operators of ``s3_log_download``: plan the run, download the planned keys, report, check.

Airflow glue only: each operator resolves its params (empty: ``include/config/s3_download.json``,
the ``edx_tracking_dir`` Variable, the data interval), calls one function of
:mod:`analytics.edx.s3_download`, logs, and returns a small summary (XCom). A key that fails does
not fail the download task: it is in the summary with its reason, and ``check`` fails the run
naming it (a retry would not help a key that is refused or gone; the next run tries it again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from analytics.connections import AWS_DEFAULT, MONGO_DEFAULT

# A day of a large platform is a few GB of logs; at 10 MB/s that is well under this.
DOWNLOAD_EXECUTION_TIMEOUT = timedelta(hours=6)


def _landing(landing_dir: str) -> Path:
    from airflow.sdk.exceptions import AirflowFailException

    if not landing_dir:
        raise AirflowFailException(
            "no landing directory: set the `landing_dir` param or the `edx_tracking_dir` Variable"
        )
    return Path(landing_dir).expanduser()


class PlanS3DownloadOperator(BaseOperator):
    """List the bucket and choose the keys this run downloads; returns the plan.

    ``bucket`` and ``prefix`` empty: the configuration's; ``from_date`` empty: the data
    interval's start minus the configuration's ``lookback_days`` (a run without a data interval
    fails, asking for ``from_date``).
    """

    template_fields: Sequence[str] = ("bucket", "prefix", "landing_dir", "from_date")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        landing_dir: str,
        bucket: str = "",
        prefix: str = "",
        from_date: str = "",
        aws_conn_id: str = AWS_DEFAULT,
        mongo_conn_id: str = MONGO_DEFAULT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.landing_dir = landing_dir
        self.bucket = bucket
        self.prefix = prefix
        self.from_date = from_date
        self.aws_conn_id = aws_conn_id
        self.mongo_conn_id = mongo_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.edx.s3_download import (
            load_s3_download_settings,
            plan_s3_download,
            register_collection,
            resolve_from_date,
        )
        from analytics.edx.tracking_load import load_tracking_settings
        from analytics.stores.mongo import mongo_client
        from analytics.stores.s3 import S3Store

        settings = load_s3_download_settings(bucket=self.bucket, prefix=self.prefix)
        try:
            from_date = resolve_from_date(
                self.from_date, context.get("data_interval_start"), settings.lookback_days
            )
        except ValueError as error:
            raise AirflowFailException(str(error)) from None
        landing = _landing(self.landing_dir)
        with S3Store(self.aws_conn_id) as store, mongo_client(self.mongo_conn_id) as client:
            plan = plan_s3_download(
                store,
                register_collection(client, load_tracking_settings().master_database),
                bucket=settings.bucket,
                prefix=settings.prefix,
                landing=landing,
                from_date=from_date,
                progress_every_seconds=settings.progress_every_seconds,
            )
        for entry in plan.to_download:
            self.log.info("to download: %s (%s, %d bytes)", entry["key"], entry["reason"], entry["size"])
        for entry in plan.refused:
            self.log.error("refused %s: %s", entry["key"], entry["reason"])
        for kind, keys in plan.examples.items():
            self.log.info("left alone (%s), e.g.: %s", kind, ", ".join(keys))
        self.log.info(
            "s3://%s/%s, from %s: %d listed, %d not tracking logs, %d before from_date, %d kept: "
            "%d to download, %d already there, %d refused",
            plan.bucket,
            plan.prefix,
            plan.from_date,
            plan.listed,
            plan.not_tracking_logs,
            plan.before_from_date,
            plan.kept,
            len(plan.to_download),
            plan.already_there,
            len(plan.refused),
        )
        return plan.as_dict()


class DownloadS3LogsOperator(BaseOperator):
    """Download the planned keys into the landing directory, one at a time, each registered; returns the summary."""

    template_fields: Sequence[str] = ("plan",)
    ui_color = "#dff3e4"

    def __init__(
        self,
        *,
        plan: Any,
        aws_conn_id: str = AWS_DEFAULT,
        mongo_conn_id: str = MONGO_DEFAULT,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("execution_timeout", DOWNLOAD_EXECUTION_TIMEOUT)
        super().__init__(**kwargs)
        self.plan = plan
        self.aws_conn_id = aws_conn_id
        self.mongo_conn_id = mongo_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.edx.s3_download import (
            download_planned,
            load_s3_download_settings,
            register_collection,
        )
        from analytics.edx.tracking_load import load_tracking_settings
        from analytics.stores.mongo import mongo_client
        from analytics.stores.s3 import S3Store

        settings = load_s3_download_settings()
        with S3Store(self.aws_conn_id) as store, mongo_client(self.mongo_conn_id) as client:
            summary = download_planned(
                store,
                register_collection(client, load_tracking_settings().master_database),
                self.plan,
                run_id=context["run_id"],
                progress_every_seconds=settings.progress_every_seconds,
            )
        for entry in summary.failed:
            self.log.error("failed %s: %s", entry["key"], entry["reason"])
        return summary.as_dict()


def report_s3_download(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """Log the run's counts; skipped (no Asset event) when no file was downloaded."""
    import logging

    from airflow.sdk.exceptions import AirflowSkipException

    from analytics.edx.s3_download import summary_line

    log = logging.getLogger(__name__)
    if summary is None:
        raise AirflowSkipException("the download did not finish: nothing to report (no Asset event)")
    log.info("%s", summary_line(summary))
    for entry in [*summary["failed"], *summary["refused"]]:
        log.error("%s: %s", entry["key"], entry["reason"])
    if summary["downloaded"]:
        log.info(
            "downloaded %d file(s), %d bytes: %s",
            len(summary["downloaded"]),
            summary["bytes_downloaded"],
            ", ".join(summary["downloaded"]),
        )
    else:
        raise AirflowSkipException(
            "no file was downloaded: the landing directory is unchanged (no Asset event)"
        )
    return dict(summary)


def check_s3_download(summary: Mapping[str, Any] | None) -> None:
    """Fail the run (no retry) when a key failed or was refused, or the download did not finish."""
    from airflow.sdk.exceptions import AirflowFailException

    if summary is None:
        raise AirflowFailException("the download did not finish: see plan_downloads and download_logs")
    problems = [f"{entry['key']} failed: {entry['reason']}" for entry in summary["failed"]]
    problems += [f"{entry['key']} refused: {entry['reason']}" for entry in summary["refused"]]
    if problems:
        raise AirflowFailException(
            f"{len(summary['failed'])} key(s) failed, {len(summary['refused'])} refused: "
            + "; ".join(problems)
        )
