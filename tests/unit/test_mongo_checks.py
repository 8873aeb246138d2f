"""The Mongo check's conditions and messages, and the checks built from a run's summaries (pure)."""

from __future__ import annotations

import pytest

from analytics.checks import bi_checks, master_load_checks
from analytics.operators.mongo_checks import CheckOutcome, MongoCheck, failure_message


def test_a_check_needs_one_measure_and_one_condition() -> None:
    with pytest.raises(ValueError, match="exactly one of filter and pipeline"):
        MongoCheck("c", "coll", equal_to=1)
    with pytest.raises(ValueError, match="exactly one of equal_to, at_least, at_most"):
        MongoCheck("c", "coll", filter={}, equal_to=1, at_most=2)


@pytest.mark.parametrize(
    ("condition", "actual", "holds"),
    [
        ({"equal_to": 3}, 3, True),
        ({"equal_to": 3}, 4, False),
        ({"at_least": 3}, 3, True),
        ({"at_least": 3}, 2, False),
        ({"at_most": 0}, 0, True),
        ({"at_most": 0}, 1, False),
    ],
)
def test_conditions(condition: dict, actual: int, holds: bool) -> None:
    assert MongoCheck("c", "coll", filter={}, **condition).holds(actual) is holds


def test_the_failure_message_names_collection_check_expected_and_actual() -> None:
    passed = CheckOutcome(MongoCheck("rows", "coll", filter={}, equal_to=2), "db", 2)
    failed = CheckOutcome(MongoCheck("no duplicates", "coll", filter={}, equal_to=0), "db", 3)
    assert failure_message([passed]) is None
    assert failure_message([passed, failed]) == (
        "1 of 2 data check(s) failed:\nFAILED: db.coll: no duplicates: expected equal to 0, actual 3"
    )


def test_master_load_checks_cover_the_complete_files_only() -> None:
    loads = [
        {"name": "a.log", "status": "complete", "read": 10, "discarded": 1},
        {"name": "b.log", "status": "partial", "read": 4, "discarded": 0},
    ]
    checks = master_load_checks(loads)
    assert [check.name for check in checks] == [
        "import records complete",
        "read = loaded + rejected",
        "events of a.log = lines read - discarded",
    ]
    assert checks[0].filter == {"_id": {"$in": ["a.log"]}, "status": "complete"}
    assert checks[2].equal_to == 9
    assert master_load_checks([]) == []


def test_bi_checks_sum_a_months_chunks_and_skip_kept_snapshots() -> None:
    summaries = [
        {"collection": "monthly_submissions", "period": "2024-03", "rows": 4, "state": "complete"},
        {"collection": "monthly_submissions", "period": "2024-03", "rows": 2, "state": "complete"},
        {"collection": "forms", "period": "as of 2024-03", "rows": 5, "state": "complete"},
        {"collection": "institutions", "period": "as of 2024-03", "rows": 5, "state": "kept"},
    ]
    checks = {(check.collection, check.name): check for check in bi_checks(summaries)}
    assert checks["monthly_submissions", "2024-03: documents = rows from PostgreSQL"].equal_to == 6
    assert checks["monthly_submissions", "2024-03: documents = rows from PostgreSQL"].filter == {
        "month": "2024-03"
    }
    assert checks["forms", "as of 2024-03: documents = rows from PostgreSQL"].filter == {
        "as_of_month": "2024-03"
    }
    assert ("forms", "as of 2024-03: no duplicate form_id") in checks
    assert not any(collection == "institutions" for collection, _ in checks)
