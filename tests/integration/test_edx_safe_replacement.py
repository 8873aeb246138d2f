"""Replacing a course's collections never leaves readers with less than they had (real MongoDB wire server)."""

from __future__ import annotations

from pathlib import Path

import pytest

import analytics.stores.mongo as mongo_store
from analytics.edx.discovery import discover_package
from analytics.edx.ingestion import STATUS_COLLECTION, IngestionSettings, ingest_course_package
from analytics.edx.naming import course_database_name, parse_course_key
from analytics.stores.mongo import RUN_FIELD, SafeReplacement

PREFIX = "TestX-SAFE101-2024_T1"
COURSE_ID = "course-v1:TestX+SAFE101+2024_T1"
HEADER_USER = "id\tusername\temail\tpassword\tis_staff\n"
GOOD_USERS = "".join(f"{n}\tuser{n}\tuser{n}@example.org\tpbkdf2$secret{n}\t0\n" for n in range(1, 21))


def _write_user_file(package: Path, body: bytes | str) -> Path:
    package.mkdir(exist_ok=True)
    path = package / f"{PREFIX}-auth_user-prod.sql"
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def _ingest(package: Path, client, threshold: float = 0.05):
    course = discover_package(package).courses[0]
    return ingest_course_package(
        course, client, IngestionSettings(batch_size=3, rejection_threshold=threshold)
    )


def _users(database) -> list[dict]:
    return sorted(
        ({k: v for k, v in document.items() if k != RUN_FIELD} for document in database["user"].find({})),
        key=lambda document: document["_id"],
    )


@pytest.fixture
def database(mongo_client):
    name = course_database_name(parse_course_key(COURSE_ID))
    mongo_client.drop_database(name)
    yield mongo_client[name]
    mongo_client.drop_database(name)


@pytest.fixture
def loaded(tmp_path, mongo_client, database):
    """A course whose `user` collection holds 20 users from a first, good package."""
    package = tmp_path / "package"
    _write_user_file(package, HEADER_USER + GOOD_USERS)
    first = _ingest(package, mongo_client)
    assert first.state == "complete" and first.loaded == {"user": 20}
    return package, _users(database)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty file"),
        (b"\xff\xfeid\tusername\n1\tx\n", "not UTF-8"),
        ("id\tusername\tusername\n1\ta\tb\n", "duplicate column"),
    ],
    ids=["zero bytes", "unreadable header", "duplicate columns"],
)
def test_a_file_rejected_whole_keeps_the_previous_collection(loaded, mongo_client, database, body, reason):
    package, before = loaded
    _write_user_file(package, body)

    summary = _ingest(package, mongo_client)

    assert _users(database) == before and len(before) == 20
    assert summary.state == "partial" and "user" not in summary.loaded
    assert reason in summary.kept["user"]
    status = database[STATUS_COLLECTION].find_one({"_id": "latest"})
    assert status["state"] == "partial" and reason in status["kept"]["user"]
    (record,) = status["files"]
    assert record["outcome"] == "rejected whole" and reason in record["reason"]


def test_more_rejections_than_the_threshold_keep_the_previous_collection(loaded, mongo_client, database):
    package, before = loaded
    # 20 rows, 2 of them broken: 10 % rejected, above the default 5 %.
    rows = GOOD_USERS.splitlines(keepends=True)
    rows[3] = "4\tuser4\n"
    rows[7] = "x8\tuser8\tuser8@example.org\tp\t0\n"
    _write_user_file(package, HEADER_USER + "".join(rows))

    summary = _ingest(package, mongo_client)

    assert summary.state == "partial" and _users(database) == before
    assert "2 of 20 records rejected (10.0 %), more than the threshold of 5 %" in summary.kept["user"]
    assert summary.rejected == {"wrong field count": 1, "bad int": 1}  # still recorded one by one

    at_fifteen_percent = _ingest(package, mongo_client, threshold=0.15)

    assert at_fifteen_percent.state == "complete" and at_fifteen_percent.loaded == {"user": 18}
    assert [user["_id"] for user in _users(database)] == [n for n in range(1, 21) if n not in (4, 8)]


def test_exactly_the_threshold_is_not_above_it(loaded, mongo_client, database):
    package, _ = loaded
    rows = GOOD_USERS.splitlines(keepends=True)
    rows[0] = "1\tuser1\n"  # 1 of 20 = 5 %
    _write_user_file(package, HEADER_USER + "".join(rows))

    summary = _ingest(package, mongo_client)

    assert summary.state == "complete" and summary.loaded == {"user": 19}


def test_a_header_only_file_is_a_real_empty_table_and_replaces(loaded, mongo_client, database):
    package, _ = loaded
    _write_user_file(package, HEADER_USER)

    summary = _ingest(package, mongo_client)

    assert summary.state == "complete" and summary.loaded == {"user": 0}
    assert database["user"].count_documents({}) == 0


def test_credentials_are_dropped_and_counted(loaded, database):
    assert all("password" not in user for user in loaded[1])
    status = database[STATUS_COLLECTION].find_one({"_id": "latest"})
    assert status["dropped_columns"] == {"auth_user.password": 20}


def test_a_crash_while_writing_leaves_every_previous_document_readable_and_a_rerun_repairs(
    loaded, mongo_client, database, monkeypatch
):
    package, before = loaded
    changed = GOOD_USERS.replace("@example.org", "@example.net")
    _write_user_file(package, HEADER_USER + changed)
    added = 0
    real_add = SafeReplacement.add

    def crash_after_seven(self, document, origin=None):
        nonlocal added
        if self.collection.name == "user":
            added += 1
            if added > 7:
                raise RuntimeError("worker lost")
        real_add(self, document, origin)

    monkeypatch.setattr(SafeReplacement, "add", crash_after_seven)
    with pytest.raises(RuntimeError, match="worker lost"):
        _ingest(package, mongo_client)

    halfway = _users(database)
    assert [user["_id"] for user in halfway] == [user["_id"] for user in before]  # nobody missing
    assert 0 < sum(user["email"].endswith(".net") for user in halfway) < 20  # some written, not all
    assert database[STATUS_COLLECTION].find_one({"_id": "latest"})["state"] == "failed"

    monkeypatch.setattr(SafeReplacement, "add", real_add)
    summary = _ingest(package, mongo_client)

    assert summary.state == "complete"
    assert all(user["email"].endswith("@example.net") for user in _users(database))
    assert database["user"].count_documents({}) == 20


def test_a_hyphenated_org_keeps_one_course_in_one_database(tmp_path, mongo_client):
    """`UC-BerkeleyX-CS169-2012_Fall` names org UC-BerkeleyX: its files, and its events, share one database."""
    package = tmp_path / "package"
    package.mkdir()
    prefix = "UC-BerkeleyX-CS169-2012_Fall"
    (package / f"{prefix}-auth_user-prod.sql").write_text(HEADER_USER + "1\tana\ta@x.org\tp\t0\n")
    (package / f"{prefix}-student_courseenrollment-prod.sql").write_text(
        "id\tuser_id\tcourse_id\tcreated\tis_active\tmode\n"
        "1\t1\tUC-BerkeleyX/CS169/2012_Fall\t2012-09-01 10:00:00\t1\thonor\n"
    )
    expected = course_database_name("UC-BerkeleyX/CS169/2012_Fall")
    assert expected == "UC-BerkeleyX_CS169_2012_Fall"
    mongo_client.drop_database(expected)
    try:
        (course,) = discover_package(package).courses
        summary = ingest_course_package(course, mongo_client)
        assert summary.database == expected and summary.course_id == "course-v1:UC-BerkeleyX+CS169+2012_Fall"
        assert summary.loaded == {"user": 1, "enrollment": 1}
    finally:
        mongo_client.drop_database(expected)


def test_safe_replacement_keeps_old_documents_until_commit(mongo_database):
    collection = mongo_database["things"]
    collection.insert_many([{"_id": n, "v": "old"} for n in range(5)])
    duplicates = []

    with SafeReplacement(
        collection, "run-2", ["v"], batch_size=2, on_duplicate=lambda d, o: duplicates.append(o)
    ) as new:
        for n in (3, 4, 5, 3):
            new.add({"_id": n, "v": "new"}, origin=f"line {n}")
        new.writer.flush()
        assert collection.count_documents({}) == 6  # the old 0, 1, 2 still there, 5 added
        new.commit()

    assert sorted((d["_id"], d["v"]) for d in collection.find({})) == [(3, "new"), (4, "new"), (5, "new")]
    assert new.removed == 3 and new.written == 3 and duplicates == ["line 3"]
    assert mongo_store.RUN_FIELD in collection.find_one({"_id": 3})


def test_safe_replacement_without_commit_removes_nothing(mongo_database):
    collection = mongo_database["things"]
    collection.insert_many([{"_id": n, "v": "old"} for n in range(3)])
    with SafeReplacement(collection, "run-2") as new:
        new.add({"_id": 9, "v": "new"})
    assert collection.count_documents({}) == 4
