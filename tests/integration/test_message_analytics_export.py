"""The message export's engine against the real local MongoDB and moto, on the hand-counted fixture of ``tests/messages_data.py``.

Each test gets a fresh MongoDB database and a fresh bucket; every expected number is written
literally below (counted by hand in the fixture's docstring).
"""

from __future__ import annotations

import dataclasses
import os
import random
import uuid
from datetime import datetime

import orjson
import pendulum
import pytest
from bson import ObjectId

from analytics.messages.config import load_messages_config
from analytics.messages.engine import compute_counts, export_app
from analytics.messages.ranges import resolve_range
from analytics.stores.s3 import S3Store
from tests.messages_data import APP, MARCH_1, load_platform

MARCH_2 = pendulum.datetime(2024, 3, 2, tz="UTC")


def day(end: pendulum.DateTime = MARCH_2):
    """The day before ``end``, as a daily run at ``end`` computes it with ``1D``."""
    return resolve_range("1D", "", "", end, end, "UTC")


@pytest.fixture(scope="module", autouse=True)
def aws_connection() -> None:
    if not os.environ.get("AIRFLOW_CONN_AWS_DEFAULT"):
        pytest.fail("AIRFLOW_CONN_AWS_DEFAULT is not set: start the test stack with `make stack-test`")


@pytest.fixture
def platform(mongo_database):
    load_platform(mongo_database)
    return mongo_database


@pytest.fixture
def store():
    with S3Store() as store:
        yield store


@pytest.fixture
def bucket(store):
    client = store.hook.get_conn()
    name = f"test-messages-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for entry in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=entry["Key"])
    client.delete_bucket(Bucket=name)


@pytest.fixture
def config(tmp_path, bucket):
    return dataclasses.replace(load_messages_config(), bucket=bucket, local_dir=str(tmp_path / "out"))


def export(platform, store, config, time_range=None, personal=False):
    result = export_app(platform, store, APP, time_range or day(), config, personal=personal)
    directory = config.local_dir + "/messages/app-a/" + (time_range or day()).label
    return result, directory


def read(directory: str, name: str) -> str:
    with open(f"{directory}/{name}", encoding="utf-8") as file:
        return file.read()


def test_every_metric_by_hand(platform):
    assert compute_counts(platform, APP, day()) == MARCH_1


def test_the_midnight_message_is_in_exactly_one_day(platform):
    """m10 (02-29 00:00) and m2 (03-01 00:00) each fall in their own day only; m8 (03-02 00:00) in none of these."""
    feb_29 = compute_counts(platform, APP, day(pendulum.datetime(2024, 3, 1, tz="UTC")))
    assert feb_29["total_messages"] == 1 and feb_29["new_users"] == 0  # m10; u1 wrote m1 on 02-28
    two_days = resolve_range("2D", "", "", MARCH_2, MARCH_2, "UTC")
    assert compute_counts(platform, APP, two_days)["total_messages"] == 7


def test_today_is_the_runs_own_whole_day(platform):
    """A daily run's TODAY is its interval's day; a manual run at 15:00 still gets the whole day (m7 at 23:59:59 too)."""
    daily = resolve_range("TODAY", "", "", MARCH_2.subtract(days=1), MARCH_2, "UTC")
    afternoon = pendulum.datetime(2024, 3, 1, 15, tz="UTC")
    manual = resolve_range("TODAY", "", "", afternoon, afternoon, "UTC")
    assert compute_counts(platform, APP, daily) == compute_counts(platform, APP, manual) == MARCH_1


def test_all_is_everything_before_the_interval_end(platform):
    """ALL to 03-02 00:00: m1, m10 and m2..m7 (m8 at 03-02 00:00 is out), t1..t4 and their transactions but q3."""
    everything = resolve_range("ALL", "", "", MARCH_2.subtract(days=1), MARCH_2, "UTC")
    assert compute_counts(platform, APP, everything) == {
        **MARCH_1,
        "new_users": 3,  # nobody wrote before the epoch
        "total_messages": 8,
        "user_messages": 5,  # m1 m10 m2 m4 m7
        "user_text_messages": 3,  # m1 m10 m2
        "questions": 4,  # t4 (02-29) too
    }
    day_after = resolve_range("ALL", "", "", MARCH_2, MARCH_2.add(days=1), "UTC")
    counts = compute_counts(platform, APP, day_after)
    assert (counts["total_messages"], counts["active_users"], counts["question_reports"]) == (
        9,
        3,
        1,
    )  # m8, q3


def test_time_range_equals_the_same_explicit_range(platform, store, config):
    named, named_dir = export(platform, store, config, resolve_range("1D", "", "", MARCH_2, MARCH_2, "UTC"))
    explicit_range = resolve_range("", "2024-03-01T01:00:00+01:00", "2024-03-02T00:00:00Z", None, None, "UTC")
    explicit, explicit_dir = export(platform, store, config, explicit_range)
    assert named_dir == explicit_dir and named.counts == explicit.counts == MARCH_1


def test_analytics_and_questions_files_in_csv_and_tsv(platform, store, config, bucket):
    result, directory = export(platform, store, config)
    analytics = read(directory, "analytics.csv").splitlines()
    assert analytics[0] == "app_id,start,end,metric,count,description"
    assert analytics[1] == (
        "app-a,2024-03-01T00:00:00+00:00,2024-03-02T00:00:00+00:00,total_users,3,distinct users with a message in the range"
    )
    assert [line.split(",")[4] for line in analytics[1:]] == [str(count) for count in MARCH_1.values()]
    assert read(directory, "questions.csv") == (
        "task_id,created,question,best_answer\n"
        "t1,2024-03-01T08:00:00+00:00,How do I reset it?,Use the menu.\n"
        't2,2024-03-01T10:00:00+00:00,"Where is it, exactly?",\n'
        "t3,2024-03-01T13:00:00+00:00,Why?,\n"
    )
    body = store.hook.get_conn().get_object(Bucket=bucket, Key=f"messages/app-a/{day().label}/questions.csv")[
        "Body"
    ]
    assert body.read().decode() == read(directory, "questions.csv")
    tsv = dataclasses.replace(
        config, files={**config.files, "analytics": "analytics.tsv", "questions": "q.tsv"}
    )
    export(platform, store, tsv)
    assert (
        read(directory, "q.tsv").splitlines()[2] == "t2\t2024-03-01T10:00:00+00:00\tWhere is it, exactly?\t"
    )
    assert read(directory, "analytics.tsv").splitlines()[4].split("\t")[3:5] == ["new_users", "2"]
    assert result.files["analytics.csv"] > 0 and "users.csv" not in result.files


def test_personal_data_only_with_the_param(platform, store, config, bucket):
    result, directory = export(platform, store, config)
    assert sorted(result.files) == ["analytics.csv", "messages.jsonl", "questions.csv", "tasks.jsonl"]
    for name in result.files:
        assert "@example.org" not in read(directory, name) and "Lovelace" not in read(directory, name)
    result, directory = export(platform, store, config, personal=True)
    assert read(directory, "users.csv") == (
        "user_id,first_name,last_name,email,gender,incentive_cohort,questions,answers,first_activity,last_activity\n"
        "u1,Ada,Lovelace,ada@example.org,female,A,1,1,2024-03-01T00:00:00+00:00,2024-03-01T00:00:00+00:00\n"
        "u2,Bob,Martin,bob@example.org,male,B,2,1,2024-03-01T09:00:00+00:00,2024-03-01T23:59:59+00:00\n"
        "u3,Cy,Young,cy@example.org,,,0,1,,\n"
        "u5,Eve,Quiet,eve@example.org,,A,0,0,,\n"
    )
    assert read(directory, "id_email.csv").splitlines()[1:] == [
        "u1,ada@example.org", "u2,bob@example.org", "u3,cy@example.org", "u5,eve@example.org"
    ]  # fmt: skip
    keys = [entry["Key"] for entry in store.hook.get_conn().list_objects_v2(Bucket=bucket)["Contents"]]
    assert f"messages/app-a/{day().label}/id_email.csv" in keys


def test_the_dumps_hold_the_ranges_documents_in_order(platform, store, config):
    _, directory = export(platform, store, config)
    messages = [orjson.loads(line) for line in read(directory, "messages.jsonl").splitlines()]
    assert [m["messageId"] for m in messages] == ["m2", "m3", "m4", "m5", "m6", "m7"]
    assert messages[0]["timestamp"] == "2024-03-01T00:00:00+00:00"
    tasks = [orjson.loads(line)["id"] for line in read(directory, "tasks.jsonl").splitlines()]
    assert tasks == ["t1", "t2", "t3"]


def test_rerun_writes_identical_bytes_and_leaves_no_partial_file(platform, store, config):
    _, directory = export(platform, store, config, personal=True)
    first = {name: read(directory, name) for name in sorted(os.listdir(directory))}
    export(platform, store, config, personal=True)
    assert {name: read(directory, name) for name in sorted(os.listdir(directory))} == first
    assert not [name for name in first if name.startswith(".")]


def test_thousands_of_messages_at_one_timestamp_are_each_dumped_once(mongo_database, store, config):
    """3,000 messages at one instant, inserted in shuffled ``_id`` order: the dump is in ``_id`` order, each once."""
    moment = datetime(2024, 3, 1, 12)
    ids = [ObjectId(f"{index:024x}") for index in range(3000)]
    shuffled = ids[:]
    random.Random(3).shuffle(shuffled)
    mongo_database.messages.insert_many(
        [
            {"_id": id_, "project": APP, "userId": "u1", "type": "request", "timestamp": moment}
            for id_ in shuffled
        ]
    )
    _, directory = export(mongo_database, store, config)
    dumped = [orjson.loads(line)["_id"] for line in read(directory, "messages.jsonl").splitlines()]
    assert dumped == [str(id_) for id_ in ids]
