"""The message export's pure parts: formats, metrics, the tables' rows and bytes, the configuration."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import orjson
import pendulum
import pytest
from bson import ObjectId

from analytics.core.config import ConfigError
from analytics.messages.config import load_messages_config
from analytics.messages.formats import table_format
from analytics.messages.metrics import METRICS
from analytics.messages.ranges import TimeRange
from analytics.messages.tables import (
    analytics_table,
    best_answer,
    json_line,
    questions_table,
    table_bytes,
    users_table,
)

RANGE = TimeRange(pendulum.datetime(2024, 3, 1, tz="UTC"), pendulum.datetime(2024, 3, 2, tz="UTC"))


@pytest.mark.parametrize(("name", "separator"), [("a.csv", ","), ("a.TSV", "\t"), ("users.tsv", "\t")])
def test_the_extension_chooses_the_format(name, separator):
    assert table_format(name) == separator


@pytest.mark.parametrize("name", ["a.xlsx", "a", "a.csv.gz", "../a.csv", ".csv"])
def test_other_names_are_refused_naming_the_value(name):
    with pytest.raises(ValueError, match=f"analytics_file: '{name}'".replace(".", r"\.")):
        table_format(name, "analytics_file")


def answer(id_, text=None, ts=datetime(2024, 3, 1, 1)):
    attributes = {} if text is None else {"answer": text}
    return {"id": id_, "label": "answerTransaction", "creationTs": ts, "attributes": attributes}


def best(points_to, ts=datetime(2024, 3, 1, 2)):
    return {
        "id": f"b-{points_to}",
        "label": "bestAnswerTransaction",
        "creationTs": ts,
        "attributes": {"transactionId": points_to},
    }


def test_best_answer_is_the_text_the_latest_best_answer_points_to():
    task = {
        "transactions": [
            answer("x", "first"),
            answer("y", "second"),
            best("x"),
            best("y", datetime(2024, 3, 1, 3)),
        ]
    }
    assert best_answer(task) == "second"


@pytest.mark.parametrize(
    "transactions",
    [[], [answer("x", "text")], [answer("x"), best("x")], [best("gone")], [answer("x", "t"), best(None)]],
)
def test_no_best_answer_or_no_text_is_empty(transactions):
    assert best_answer({"transactions": transactions}) == ""


def test_questions_rows_are_sorted_and_times_in_the_zone():
    tasks = [
        {"id": "t2", "creationTs": datetime(2024, 3, 1, 5), "goal": {"name": "Why?"}, "transactions": [answer("a", "So."), best("a")]},
        {"id": "t1", "creationTs": datetime(2024, 3, 1, 5), "goal": {"name": "How, really?"}},
    ]  # fmt: skip
    frame = questions_table(tasks, "Europe/Paris")
    assert table_bytes(frame, ",").decode() == (
        "task_id,created,question,best_answer\n"
        't1,2024-03-01T06:00:00+01:00,"How, really?",\n'
        "t2,2024-03-01T06:00:00+01:00,Why?,So.\n"
    )


def test_analytics_rows_follow_the_metrics_in_tsv():
    text = table_bytes(analytics_table("app", RANGE, {"total_users": 3}), "\t").decode().splitlines()
    assert text[0] == "app_id\tstart\tend\tmetric\tcount\tdescription"
    assert (
        text[1]
        == "app\t2024-03-01T00:00:00+00:00\t2024-03-02T00:00:00+00:00\ttotal_users\t3\t"
        + METRICS["total_users"]
    )
    assert [line.split("\t")[3] for line in text[1:]] == list(METRICS)
    assert [line.split("\t")[4] for line in text[2:]] == ["0"] * (len(METRICS) - 1)


def test_users_rows():
    users = [
        {"id": "u2", "name": {"first": "Bo"}, "email": "bo@example.org"},
        {"id": "u1", "name": {"first": "Al", "last": "Ng"}, "email": "al@example.org", "gender": "f", "incentive_cohort": "A"},
    ]  # fmt: skip
    frame = users_table(
        users, {"u1": 2}, {"u2": 1}, {"u1": (datetime(2024, 3, 1), datetime(2024, 3, 1, 9))}, "UTC"
    )
    assert table_bytes(frame, ",").decode().splitlines()[1:] == [
        "u1,Al,Ng,al@example.org,f,A,2,0,2024-03-01T00:00:00+00:00,2024-03-01T09:00:00+00:00",
        "u2,Bo,,bo@example.org,,,0,1,,",
    ]


def test_json_lines_have_sorted_keys_utc_times_and_hex_ids():
    line = json_line({"b": 1, "_id": ObjectId("0" * 24), "timestamp": datetime(2024, 3, 1)})
    assert line == b'{"_id":"000000000000000000000000","b":1,"timestamp":"2024-03-01T00:00:00+00:00"}\n'
    assert orjson.loads(line)["b"] == 1


def test_the_shipped_configuration_loads():
    config = load_messages_config()
    assert config.database == "messages" and config.bucket == "analytics-exports"
    assert config.files["analytics"] == "analytics.csv" and config.app_ids


def test_a_bad_configuration_names_the_file_and_key(tmp_path):
    path = tmp_path / "messages.json"
    raw = orjson.loads(load_messages_config.__defaults__[0].read_bytes())
    raw["files"]["users"] = "users.xls"
    path.write_bytes(orjson.dumps(raw))
    with pytest.raises(
        ConfigError, match=r"messages.json: files.users: 'users.xls' must end in .csv or .tsv"
    ):
        load_messages_config(path)
    with pytest.raises(ValueError, match="user_batch_size"):
        dataclasses.replace(load_messages_config(), user_batch_size=0)
