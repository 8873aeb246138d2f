"""``message_analytics_export``: its params checked before any work, and one `airflow dags test` run end to end.

The platform is the hand-counted fixture of ``tests/messages_data.py`` in a fresh MongoDB database
(the ``messages_database`` Variable); files go to moto's ``analytics-exports`` bucket and a fresh
local directory (the ``messages_export_dir`` Variable). The expected numbers are those of
``tests/integration/test_message_analytics_export.py``.
"""

from __future__ import annotations

import uuid

import pendulum
import pytest

from tests.messages_data import MARCH_1, load_platform

from .conftest import run_dag_test

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
