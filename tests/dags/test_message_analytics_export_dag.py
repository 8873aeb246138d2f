"""``message_analytics_export``: its params checked before any work, and one `airflow dags test` run end to end.

The platform is the hand-counted fixture of ``tests/messages_data.py`` in a fresh MongoDB database
(the ``messages_database`` Variable); files go to moto's ``analytics-exports`` bucket and a fresh
local directory (the ``messages_export_dir`` Variable). The expected numbers are those of
``tests/integration/test_message_analytics_export.py``.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from datetime import UTC, datetime

import pendulum
import pytest

from tests.messages_data import MARCH_1, load_platform

from .conftest import REPO, run_dag_test

DAG_ID = "message_analytics_export"
PREFIX = "messages/app-a/20240301T000000+0000_20240302T000000+0000/"
MARCH_2 = pendulum.datetime(2024, 3, 2, tz="UTC")


def plan(**params):
    from analytics.operators.messages import PlanExportOperator

    context = {
        "params": params,
        "data_interval_start": MARCH_2.subtract(days=1),
        "data_interval_end": MARCH_2,
    }
    return PlanExportOperator(task_id="validate_params").execute(context)


def test_the_plan_gives_each_app_the_range_and_files():
    planned = plan(app_ids=["app-a", "app-b"], time_range="7D", questions_file="q.tsv")
    assert [entry["app_id"] for entry in planned] == ["app-a", "app-b"]
    assert (
        planned[0]["start"] == "2024-02-24T00:00:00+00:00"
        and planned[0]["end"] == "2024-03-02T00:00:00+00:00"
    )
    assert planned[0]["files"]["questions"] == "q.tsv" and planned[0]["include_personal_data"] is False


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"time_range": "3Y"}, "time_range: '3Y'"),
        (
            {"start_time": "2024-03-02T00:00:00Z", "end_time": "2024-03-01T00:00:00Z"},
            "is not after start_time",
        ),
        ({"users_file": "users.xlsx"}, "users_file: 'users.xlsx' must end in .csv or .tsv"),
    ],
)
def test_bad_params_fail_before_any_work_naming_the_value(params, message):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=message.replace(".", r"\.")):
        plan(app_ids=["app-a"], **params)


@pytest.fixture
def platform(airflow_metadata_db, mongo_client, monkeypatch, tmp_path):
    name = f"test_messages_{uuid.uuid4().hex[:10]}"
    load_platform(mongo_client[name])
    monkeypatch.setenv("AIRFLOW_VAR_MESSAGES_DATABASE", name)
    monkeypatch.setenv("AIRFLOW_VAR_MESSAGES_EXPORT_DIR", str(tmp_path))
    yield tmp_path
    mongo_client.drop_database(name)


@pytest.fixture
def s3_client():
    from analytics.stores.s3 import S3Store

    with S3Store() as store:
        client = store.hook.get_conn()
        if "analytics-exports" not in [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]:
            client.create_bucket(Bucket="analytics-exports")
        yield client


def test_dags_test_of_2_march_exports_1_march(platform, s3_client):
    run = run_dag_test(DAG_ID, "2024-03-02", {"app_ids": ["app-a"], "include_personal_data": True})
    assert run.state == "success", run.output[-4000:]
    local = platform / PREFIX
    analytics = (local / "analytics.csv").read_text().splitlines()
    assert {line.split(",")[3]: int(line.split(",")[4]) for line in analytics[1:]} == MARCH_1
    assert sorted(path.name for path in local.iterdir()) == [
        "analytics.csv", "id_email.csv", "messages.jsonl", "questions.csv", "tasks.jsonl", "users.csv"
    ]  # fmt: skip
    for name in ("analytics.csv", "users.csv", "messages.jsonl"):
        body = s3_client.get_object(Bucket="analytics-exports", Key=PREFIX + name)["Body"].read()
        assert body == (local / name).read_bytes(), name
    assert "new_users" in run.output and "total_users" in run.output  # the report's table


def tree(directory) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.mark.slow
def test_a_backfill_of_two_days_writes_what_the_engine_writes_for_each_day(platform, s3_client, mongo_client):
    """`airflow backfill` on a real scheduler, 4 runs at a time: each day's files byte for byte as one export of that day."""
    from analytics.messages.config import load_messages_config
    from analytics.messages.engine import export_app
    from analytics.messages.ranges import resolve_range
    from tests.airflow_services import run_backfill

    days = [pendulum.datetime(2024, 2, 29, tz="UTC"), pendulum.datetime(2024, 3, 1, tz="UTC")]
    out, expected = platform / "backfill", platform / "expected"
    os.environ["AIRFLOW_VAR_MESSAGES_EXPORT_DIR"] = str(out)  # platform's monkeypatch restores it
    database = mongo_client[os.environ["AIRFLOW_VAR_MESSAGES_DATABASE"]]
    config = dataclasses.replace(load_messages_config(), local_dir=str(expected))
    for start in days:
        time_range = resolve_range("", "", "", start, start.add(days=1), "UTC")
        export_app(database, None, "app-a", time_range, config, personal=True)

    runs = run_backfill(
        platform / "airflow",
        DAG_ID,
        datetime(2024, 2, 29, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
        dags_folder=REPO / "dags",
        timeout=300,
        max_active_runs=4,
        dag_run_conf={"app_ids": ["app-a"], "include_personal_data": True},
    )
    assert [(run.data_interval_start, run.state) for run in runs] == [(day, "success") for day in days]
    written = tree(out)
    assert len(written) == 2 * 6 and written == tree(expected)
    feb_29 = "messages/app-a/20240229T000000+0000_20240301T000000+0000/"
    body = s3_client.get_object(Bucket="analytics-exports", Key=feb_29 + "analytics.csv")["Body"].read()
    assert body == written[feb_29 + "analytics.csv"]
