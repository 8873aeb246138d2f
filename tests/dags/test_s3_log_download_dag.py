"""The `s3_log_download` DAG: its wiring, its report and check, the master load's schedule on its
Asset, and `airflow dags test` twice against the test stack's moto server."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from analytics.assets import TRACKING_LANDING
from analytics.edx.s3_download import REGISTER_COLLECTION
from analytics.edx.tracking_load import MASTER_DATABASE
from analytics.operators.s3_download import PlanS3DownloadOperator, check_s3_download, report_s3_download

from .conftest import REPO, run_dag_test


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    dag_bag = DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py"))
    assert dag_bag.import_errors == {}
    return dag_bag.dags[dag_id]


@pytest.fixture(scope="module")
def download_dag():
    return _dag("s3_log_download")


def test_the_landing_asset_is_updated_by_the_report_only_and_the_check_runs_whatever_happened(download_dag):
    assert [task.task_id for task in download_dag.tasks] == [
        "plan_downloads",
        "download_logs",
        "report",
        "check",
    ]
    report, check = download_dag.get_task("report"), download_dag.get_task("check")
    assert report.outlets == [TRACKING_LANDING]
    assert [task.outlets for task in download_dag.tasks if task is not report] == [[], [], []]
    assert report.trigger_rule == check.trigger_rule == "all_done"
    assert report.upstream_task_ids == {"download_logs"} and check.upstream_task_ids == {
        "download_logs",
        "report",
    }
    assert download_dag.get_task("download_logs").upstream_task_ids == {"plan_downloads"}


def test_it_runs_daily_at_three_one_run_at_a_time_without_catchup(download_dag):
    timetable = download_dag.timetable
    assert type(timetable).__name__ == "CronTriggerTimetable"
    assert (timetable.expression, str(timetable.timezone)) == ("0 3 * * *", "UTC")
    assert download_dag.catchup is False and download_dag.max_active_runs == 1
    assert set(download_dag.params) == {"bucket", "prefix", "landing_dir", "from_date"}


def test_from_date_must_be_a_date_or_empty(download_dag):
    from airflow.sdk.exceptions import ParamValidationError

    param = download_dag.params.get_param("from_date")
    assert param.resolve("2024-03-04") == "2024-03-04" and param.resolve("") == ""
    for bad in ("2024-3-4", "yesterday"):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


def test_a_run_without_a_data_interval_or_from_date_fails_saying_so():
    from airflow.sdk.exceptions import AirflowFailException

    plan = PlanS3DownloadOperator(task_id="plan_downloads", landing_dir="/nowhere")
    with pytest.raises(AirflowFailException, match="no data interval.*give from_date"):
        plan.execute({"data_interval_start": None})


def test_the_master_load_runs_on_the_landing_asset_or_at_four():
    master = _dag("tracking_logs_master_load")
    schedule = master.timetable
    assert type(schedule).__name__ == "AssetOrTimeSchedule"
    assert (schedule.timetable.expression, str(schedule.timetable.timezone)) == ("0 4 * * *", "UTC")
    assert list(schedule.asset_condition.objects) == [TRACKING_LANDING]


def _summary(**overrides) -> dict:
    summary = {
        "bucket": "b",
        "prefix": "",
        "landing_dir": "/l",
        "from_date": "2024-03-04",
        "listed": 4,
        "not_tracking_logs": 0,
        "before_from_date": 1,
        "kept": 3,
        "new": 0,
        "changed": 0,
        "restored": 0,
        "already_there": 3,
        "failed": [],
        "refused": [],
        "downloaded": [],
        "bytes_downloaded": 0,
        "seconds": 0.1,
    }
    return {**summary, **overrides}


def test_the_report_skips_when_nothing_was_downloaded_so_no_asset_event():
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="no file was downloaded"):
        report_s3_download(_summary())
    with pytest.raises(AirflowSkipException, match="did not finish"):
        report_s3_download(None)
    totals = report_s3_download(_summary(new=1, already_there=2, downloaded=["a.log"], bytes_downloaded=9))
    assert totals["new"] == 1 and totals["downloaded"] == ["a.log"]


def test_the_check_names_every_failed_and_refused_key():
    from airflow.sdk.exceptions import AirflowFailException

    check_s3_download(_summary())
    failed = _summary(
        failed=[{"key": "a.log", "reason": "S3DownloadError: received 1 bytes of 2"}],
        refused=[{"key": "x/b.log", "reason": "would overwrite y/b.log"}],
    )
    with pytest.raises(AirflowFailException) as raised:
        check_s3_download(failed)
    assert str(raised.value) == (
        "1 key(s) failed, 1 refused: a.log failed: S3DownloadError: received 1 bytes of 2; "
        "x/b.log refused: would overwrite y/b.log"
    )
    with pytest.raises(AirflowFailException, match="did not finish"):
        check_s3_download(None)


# ---------------------------------------------------------------- airflow dags test


LOGS = {
    "logs/DemoOrgX-edx-events-2024-03-03.log.gz": b"before from_date\n",
    "logs/DemoOrgX-edx-events-2024-03-04.log.gz": os.urandom(5000),
    "logs/DemoOrgX-edx-events-2024-03-05.log.gz": os.urandom(7000),
    "logs/a/edx.log": b'{"event_type": "a"}\n',
    "logs/b/edx.log": b'{"event_type": "b"}\n',  # lands as edx.log too
}


def _asset_events() -> int:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(
            select(func.count(AssetEvent.id))
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == TRACKING_LANDING.name, AssetEvent.source_dag_id == "s3_log_download")
        )


def test_two_runs_download_what_is_new_refuse_collisions_and_publish_the_landing_asset(
    tmp_path, mongo_client, airflow_metadata_db
):
    """Run 1 (logical date 2024-03-06, so from 2024-03-04): the two dated files are downloaded, the two
    edx.log keys refused, the run fails naming them, and the Asset is updated. Run 2, once one edx.log
    is gone: the other is downloaded, the rest are already there, the run succeeds."""
    from analytics.stores.s3 import S3Store

    bucket = f"test-s3-dag-{uuid.uuid4().hex[:12]}"
    landing = tmp_path / "landing"
    landing.mkdir()
    register = mongo_client[MASTER_DATABASE][REGISTER_COLLECTION]
    with S3Store() as admin:
        client = admin.hook.get_conn()
        client.create_bucket(Bucket=bucket)
        try:
            for key, body in LOGS.items():
                client.put_object(Bucket=bucket, Key=key, Body=body)
            conf = {"bucket": bucket, "prefix": "logs/", "landing_dir": str(landing)}
            events = _asset_events()

            first = run_dag_test("s3_log_download", "2024-03-06", conf)
            assert first.state == "failed", first.output[-3000:]
            assert sorted(path.name for path in landing.iterdir()) == [
                "DemoOrgX-edx-events-2024-03-04.log.gz",
                "DemoOrgX-edx-events-2024-03-05.log.gz",
            ]
            for name in ("DemoOrgX-edx-events-2024-03-04.log.gz", "DemoOrgX-edx-events-2024-03-05.log.gz"):
                assert (landing / name).read_bytes() == LOGS[f"logs/{name}"]
            assert "logs/a/edx.log refused: would overwrite logs/b/edx.log" in first.output
            assert "5 listed, 4 kept (1 before from_date, 0 not tracking logs), 2 new" in first.output
            assert _asset_events() == events + 1
            records = {record["key"]: record for record in register.find({"bucket": bucket})}
            assert sorted(records) == [
                "logs/DemoOrgX-edx-events-2024-03-04.log.gz",
                "logs/DemoOrgX-edx-events-2024-03-05.log.gz",
            ]
            (first_run_id,) = {record["run_id"] for record in records.values()}  # one run wrote both
            assert first_run_id.startswith("manual__")

            client.delete_object(Bucket=bucket, Key="logs/b/edx.log")
            second = run_dag_test("s3_log_download", "2024-03-07", {**conf, "from_date": "2024-03-04"})
            assert second.state == "success", second.output[-3000:]
            assert (landing / "edx.log").read_bytes() == LOGS["logs/a/edx.log"]
            assert (
                "4 listed, 3 kept (1 before from_date, 0 not tracking logs), 1 new, 0 changed"
                in second.output
            )
            assert "2 already there, 0 failed, 0 refused" in second.output
            assert _asset_events() == events + 2
            record = register.find_one({"bucket": bucket, "key": "logs/a/edx.log"})
            assert record["etag"] == hashlib.md5(LOGS["logs/a/edx.log"]).hexdigest()
            assert record["run_id"] != first_run_id
            assert {
                r["run_id"] for r in register.find({"bucket": bucket, "key": {"$ne": "logs/a/edx.log"}})
            } == {first_run_id}
        finally:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for entry in page.get("Contents", []):
                    client.delete_object(Bucket=bucket, Key=entry["Key"])
            client.delete_bucket(Bucket=bucket)
            register.delete_many({"bucket": bucket})
