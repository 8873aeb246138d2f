"""What the local MongoDB-compatible server (nx-27017) answers differently from MongoDB, pinned, beside the form our code uses.

Each test states the server's answer to the plain query (where MongoDB's would differ) and shows
that the form our code writes instead gives MongoDB's answer. When the server is fixed, the first
assertion fails: update the README's "MongoDB compatibility notes" and consider simplifying the
code named in the test. The message export's engine (``analytics.messages.engine``) is where
these forms live; the README lists them.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from analytics.messages.engine import all_of, app_users, distinct_values, grouped_counts

MARCH_1, MARCH_2 = datetime(2024, 3, 1), datetime(2024, 3, 2)
IN_MARCH_1 = {"timestamp": {"$gte": MARCH_1, "$lt": MARCH_2}}
ROWS = [  # (app, hour on 03-01, type, user)
    ("a", 1, "request", "u1"),
    ("a", 2, "response", "u1"),
    ("a", 3, "request", "u2"),
    ("a", 4, "notification", "u3"),
    ("b", 5, "request", "u9"),
]
BY_TYPE = {"request": 2, "response": 1, "notification": 1}  # app a on 03-01, as MongoDB counts it


def server_says(finding: str) -> str:
    return f"the local server no longer {finding}: update the README's compatibility notes"


@pytest.fixture
def messages(mongo_database):
    collection = mongo_database.messages
    collection.insert_many(
        [
            {"project": app, "timestamp": datetime(2024, 3, 1, hour), "type": kind, "userId": user}
            for app, hour, kind, user in ROWS
        ]
    )
    collection.create_index([("project", 1), ("timestamp", 1)])
    return collection


def test_a_match_of_several_conditions_before_a_group_matches_nothing(messages):
    plain = [{"$match": {"project": "a", **IN_MARCH_1}}, {"$group": {"_id": "$type", "n": {"$sum": 1}}}]
    assert list(messages.aggregate(plain)) == [], server_says("drops a several-condition $match")
    assert grouped_counts(messages, all_of({"project": "a"}, IN_MARCH_1), "type") == BY_TYPE


def test_a_compound_group_key_comes_back_as_its_literal_strings(messages):
    pipeline = [
        {"$match": {"project": "a"}},
        {"$group": {"_id": {"type": "$type", "user": "$userId"}, "n": {"$sum": 1}}},
    ]
    rows = list(messages.aggregate(pipeline))
    assert rows == [{"_id": {"type": "$type", "user": "$userId"}, "n": 4}], server_says(
        "returns a compound $group _id literally"
    )
    # our code groups on one field at a time: each user's requests, as MongoDB's compound key would give them
    requests = grouped_counts(messages, all_of({"project": "a"}, {"type": "request"}), "userId")
    assert requests == {"u1": 1, "u2": 1}


def test_min_and_max_of_datetimes_come_back_as_strings(messages):
    pipeline = [
        {"$match": {"project": "a"}},
        {"$group": {"_id": None, "first": {"$min": "$timestamp"}, "last": {"$max": "$timestamp"}}},
    ]
    (row,) = messages.aggregate(pipeline)
    assert isinstance(row["first"], str) and isinstance(row["last"], str), server_says(
        "returns $min/$max of datetimes as strings"
    )
    # our code reads the first and last times from a sorted scan (request_activity), which keeps them datetimes
    times = [document["timestamp"] for document in messages.find({"project": "a"}).sort("timestamp", 1)]
    assert (times[0], times[-1]) == (datetime(2024, 3, 1, 1), datetime(2024, 3, 1, 4))


def test_equality_on_an_indexed_array_field_matches_nothing(mongo_database):
    users = mongo_database.users
    users.insert_many(
        [{"id": "u1", "apps": ["a"]}, {"id": "u2", "apps": ["a", "b"]}, {"id": "u3", "apps": ["b"]}]
    )
    assert sorted(user["id"] for user in users.find({"apps": "a"})) == ["u1", "u2"]  # no index yet: right
    users.create_index([("apps", 1)])
    assert list(users.find({"apps": "a"})) == [], server_says("misses {apps: x} on an indexed array")
    assert sorted(user["id"] for user in app_users(mongo_database, "a")) == ["u1", "u2"]


def test_distinct_values_is_exact_on_the_range(messages):
    """Not a finding (once suspected of ``distinct``, not reproduced): the export groups instead, and that is exact."""
    assert distinct_values(messages, all_of({"project": "a"}, IN_MARCH_1), "userId") == ["u1", "u2", "u3"]
    assert distinct_values(messages, all_of({"project": "a"}, IN_MARCH_1, {"type": "request"}), "userId") == [
        "u1",
        "u2",
    ]


def test_count_documents_of_a_null_key_misses_explicit_nulls(mongo_database):
    """Found by the data checks: ``{k: None}`` counts a missing key but not a null one; ``$in: [None]`` counts both."""
    from analytics.checks import scoped_collection_checks

    collection = mongo_database.nulls
    collection.insert_many([{"_id": 1, "k": None}, {"_id": 2}, {"_id": 3, "k": "v"}])
    assert collection.count_documents({"k": None}) == 1, server_says("counts {k: None} without the nulls")
    assert len(list(collection.find({"k": None}))) == 2  # find answers as MongoDB does
    (check,) = scoped_collection_checks("probe", "nulls", {}, required=["k"])
    assert collection.count_documents(check.filter) == 2


def test_an_aggregation_match_on_a_datetime_range_is_wrong(mongo_database):
    """Found by the data checks: in ``aggregate``, ``$lt`` on a datetime matches nothing and ``$gte`` everything.

    ``count_documents`` with the same filter answers right, so the checks count with it and
    aggregate (for duplicates) over a scope without times.
    """
    collection = mongo_database.times
    collection.insert_many([{"_id": hour, "time": datetime(2024, 3, 1, hour)} for hour in range(5)])
    window = {"time": {"$gte": datetime(2024, 3, 1, 1), "$lt": datetime(2024, 3, 1, 3)}}
    counted = list(collection.aggregate([{"$match": window}, {"$count": "value"}]))
    assert counted in ([], [{"value": 0}]), server_says("miscounts a datetime range in $match")
    assert collection.count_documents(window) == 2
