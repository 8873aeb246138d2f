"""The edX course ingestion against the local MongoDB server (real pymongo, real wire protocol)."""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

import pytest

import analytics.edx.ingestion as edx_ingestion
import analytics.edx.readers as edx_readers
from analytics.edx.discovery import discover_package
from analytics.edx.ingestion import (
    ERRORS_COLLECTION,
    STATUS_COLLECTION,
    CourseIngestionSummary,
    IngestionSettings,
    ingest_course_package,
)
from analytics.edx.naming import course_database_name, parse_course_key
from analytics.stores.mongo import RUN_FIELD, MongoBatchWriter

SAMPLE_PACKAGE = "edx-analytics-pipeline/obfuscation_state"
HEADER_ENROLLMENT = "id\tuser_id\tcourse_id\tcreated\tis_active\tmode\n"
HEADER_USER = "id\tusername\tfirst_name\tlast_name\temail\tis_staff\tis_active\tdate_joined\n"


def _ingest(directory: Path, client, threshold: float = 1.0, **options) -> CourseIngestionSummary:
    """Ingest the package's one course in batches of 2; the threshold is off (1.0) unless a test sets it."""
    inventory = discover_package(directory)
    assert len(inventory.courses) == 1, inventory
    settings = IngestionSettings(batch_size=2, rejection_threshold=threshold, **options)
    summary = ingest_course_package(inventory.courses[0], client, settings)
    _assert_every_record_is_accounted_for(summary)
    return summary


def _assert_every_record_is_accounted_for(summary: CourseIngestionSummary) -> None:
    """Nothing lost: per file, read == loaded + rejected, and the totals agree with the summary."""
    for name, counts in summary.files.items():
        assert counts["read"] == counts["loaded"] + counts["rejected"], (name, counts)
        assert sum(counts["rejected_by_reason"].values()) == counts["rejected"], (name, counts)
    accepted = [counts for counts in summary.files.values() if counts["outcome"] == "replaced"]
    assert sum(counts["loaded"] for counts in accepted) == sum(summary.loaded.values())
    assert sum(counts["rejected"] for counts in summary.files.values()) == sum(summary.rejected.values())


def _contents(database) -> dict[str, list]:
    """Every collection's documents, ``_id`` included, in a stable order, without what names the run.

    The run stamp of each document and the status's times and run id differ from run to run by design.
    """
    run_fields = ("started_at", "finished_at", "run", RUN_FIELD)
    result = {}
    for name in sorted(database.list_collection_names()):
        documents = [
            {key: value for key, value in document.items() if key not in run_fields}
            for document in database[name].find({})
        ]
        result[name] = sorted(documents, key=repr)
    return result


def _counts(summary: CourseIngestionSummary, file_name: str) -> tuple[int, int, int]:
    record = summary.files[file_name]
    return record["read"], record["loaded"], record["rejected"]


def _status(database) -> dict:
    return database[STATUS_COLLECTION].find_one({"_id": "latest"})


@pytest.fixture
def course_database(mongo_client):
    """Drop the databases a test's courses map to, before and after it."""
    names: list[str] = []

    def for_course(course_id: str):
        name = course_database_name(parse_course_key(course_id))
        mongo_client.drop_database(name)
        names.append(name)
        return mongo_client[name]

    yield for_course
    for name in names:
        mongo_client.drop_database(name)


def test_real_sample_package_loads(samples_dir, tmp_path, mongo_client, course_database):
    package = tmp_path / "package"
    shutil.copytree(samples_dir / SAMPLE_PACKAGE, package)
    database = course_database("course-v1:edX+DemoX+Demo_Course")

    summary = _ingest(package, mongo_client)

    assert summary.database == database.name == "edX_DemoX_Demo_Course"
    assert summary.loaded == {
        "certificates": 4,
        "course_structure": 1,
        "courseware_studentmodule": 4,
        "enrollment": 4,
        "forum": 3,
        "user": 4,
        "userprofile": 4,
    }
    assert summary.rejected == {"missing child": 1}
    structure_file = "edX-DemoX-Demo_Course-course_structure-acceptance.json"
    assert _counts(summary, structure_file) == (2, 1, 1)
    assert _counts(summary, "edX-DemoX-Demo_Course-auth_user-acceptance.sql") == (4, 4, 0)
    assert summary.dropped_columns == {"auth_user.password": 4}
    assert all("password" not in document for document in database["user"].find({}))
    skipped_tables = sorted(name.split("-")[3] for name in summary.skipped_files)
    assert "wiki_article" in skipped_tables and "user_api_usercoursetag" in skipped_tables
    honor = database["user"].find_one({"username": "honor"})
    assert honor["_id"] == honor["id"] == 1 and honor["is_staff"] is True and honor["email_key"] is None
    state = database["courseware_studentmodule"].find_one({"id": 1})["state"]
    assert isinstance(state, dict) and "student_answers" in state
    forum = database["forum"].find_one({"author_username": "honor"})
    assert type(forum["_id"]).__name__ == "ObjectId"
    chapter = database["course_structure"].find_one({"category": "chapter"})
    assert chapter["display_name"] == "About Exams and Certificates"
    error = database[ERRORS_COLLECTION].find_one({})
    assert error["reason"] == "missing child" and error["file"].endswith("course_structure-acceptance.json")
    status = _status(database)
    assert status["state"] == "complete" and status["finished_at"] >= status["started_at"]
    assert status["loaded"] == summary.loaded and status["rejected"] == {"missing child": 1}
    assert status["package_dir"] == str(package) and status["error"] is None


def _write_bad_package(directory: Path) -> None:
    directory.mkdir()
    prefix = "TestX-BAD101-2024_T1"
    (directory / f"{prefix}-auth_user-prod-analytics.sql").write_text(
        HEADER_USER
        + "1\tana\tAna\tA\tana@example.org\t0\t1\t2024-01-02 10:00:00\n"
        + "2\tbob\tBob\tB\tbob@example.org\t0\t1\n"  # broken row: 7 fields instead of 8
        + "3\tcid\tCid\tC\tcid@example.org\tNULL\t1\t2024-01-03 11:00:00\n"
        + "x4\tdee\tDee\tD\tdee@example.org\t0\t1\t2024-01-03 11:00:00\n"  # id is not an integer
    )
    (directory / f"{prefix}-student_courseenrollment-prod-analytics.sql").write_bytes(
        HEADER_ENROLLMENT.encode()
        + b"1\t1\tcourse-v1:TestX+BAD101+2024_T1\t2024-01-02 10:00:00\t1\thonor\n"
        + b"2\t3\tcourse-v1:TestX+BAD101+2024_T1\t2024-01-02 10:00:00\t1\tcaf\xe9\n"  # Latin-1, not UTF-8
        + b"3\t5\tcourse-v1:TestX+BAD101+2024_T1\t2024-01-04 10:00:00\t0\taudit\n"
    )
    (directory / f"{prefix}-certificates_generatedcertificate-prod-analytics.sql").write_bytes(b"")
    (directory / f"{prefix}-some_new_table-prod-analytics.sql").write_text("id\tvalue\n1\ta\n")
    (directory / f"{prefix}-course_structure-prod-analytics.json").write_text(
        '{"block-v1:TestX+BAD101+2024_T1+type@course+block@course": {"category": "course", "children": '
        '["block-v1:TestX+BAD101+2024_T1+type@chapter+block@c1", "block-v1:TestX+BAD101+2024_T1+type@chapter+block@gone"],'
        ' "metadata": {"display_name": "Bad course"}},'
        ' "block-v1:TestX+BAD101+2024_T1+type@chapter+block@c1": {"category": "chapter", "children": [],'
        ' "metadata": {"display_name": "Week 1"}}}'
    )
    (directory / "README.txt").write_text("not part of the package grammar")


def test_bad_input_is_reported_and_the_rest_loads(tmp_path, mongo_client, course_database):
    package = tmp_path / "bad"
    _write_bad_package(package)
    database = course_database("course-v1:TestX+BAD101+2024_T1")

    summary = _ingest(package, mongo_client)

    assert summary.loaded["user"] == 2  # ana and cid
    assert summary.loaded["enrollment"] == 2
    assert summary.loaded["course_structure"] == 2
    assert "certificates" not in summary.loaded  # 0 bytes: rejected whole
    assert summary.kept["certificates"].startswith("TestX-BAD101-2024_T1-certificates_generatedcertificate")
    assert summary.state == "partial" and _status(database)["state"] == "partial"
    assert summary.skipped_files == [
        "TestX-BAD101-2024_T1-some_new_table-prod-analytics.sql (table 'some_new_table' is not ingested)"
    ]
    errors = {
        (e["file"].split("-")[3], e["line"], e["field"], e["reason"])
        for e in database[ERRORS_COLLECTION].find({})
    }
    assert ("auth_user", 3, None, "wrong field count") in errors
    assert any(table == "auth_user" and line == 5 and field == "id" for table, line, field, _ in errors)
    assert ("student_courseenrollment", 3, None, "not UTF-8") in errors
    assert ("certificates_generatedcertificate", None, None, "empty file") in errors
    assert ("course_structure", None, None, "missing child") in errors
    assert sum(summary.rejected.values()) == len(errors) == 5
    messages = [e["message"] for e in database[ERRORS_COLLECTION].find({"reason": "wrong field count"})]
    assert messages and "auth_user-prod-analytics.sql:3" in messages[0] and "expected 8" in messages[0]


def test_running_twice_leaves_the_same_collections(tmp_path, mongo_client, course_database):
    package = tmp_path / "bad"
    _write_bad_package(package)
    database = course_database("course-v1:TestX+BAD101+2024_T1")

    first = _ingest(package, mongo_client)
    after_first = _contents(database)
    second = _ingest(package, mongo_client)
    after_second = _contents(database)

    assert first.run != second.run  # each attempt stamps its own documents
    assert {**first.as_xcom(), "run": None} == {**second.as_xcom(), "run": None}
    assert after_first == after_second
    assert sum(len(documents) for documents in after_first.values()) > 0
    assert sorted(document["_id"] for document in after_first["user"]) == [1, 3]
    assert {document["_id"] for document in after_first[ERRORS_COLLECTION]} >= {
        "TestX-BAD101-2024_T1-auth_user-prod-analytics.sql#1",
        "TestX-BAD101-2024_T1-auth_user-prod-analytics.sql#2",
    }


def test_a_table_missing_from_a_newer_package_keeps_its_collection(tmp_path, mongo_client, course_database):
    package = tmp_path / "bad"
    _write_bad_package(package)
    database = course_database("course-v1:TestX+BAD101+2024_T1")
    _ingest(package, mongo_client)
    before = sorted(database["enrollment"].find({}), key=repr)
    assert len(before) == 2

    next(package.glob("*student_courseenrollment*")).unlink()
    summary = _ingest(package, mongo_client)

    assert "enrollment" not in summary.loaded
    assert sorted(database["enrollment"].find({}), key=repr) == before
    assert summary.kept["enrollment"] == edx_ingestion.NO_FILE_IN_PACKAGE
    status = _status(database)
    assert status["state"] == "partial" and status["kept"]["enrollment"] == edx_ingestion.NO_FILE_IN_PACKAGE


def test_large_table_streams_in_batches(tmp_path, mongo_client, course_database):
    """Many rows go through the batch writer; the count and the indexes are right."""
    package = tmp_path / "big"
    package.mkdir()
    rows = 5000
    with open(package / "TestX-BIG101-2024_T1-courseware_studentmodule-prod.sql", "w") as handle:
        handle.write(
            "id\tmodule_type\tmodule_id\tstudent_id\tstate\tgrade\tcreated\tmodified\tmax_grade\tdone\tcourse_id\n"
        )
        for row in range(1, rows + 1):
            handle.write(
                f'{row}\tproblem\tblock-v1:TestX+BIG101+2024_T1+type@problem+block@p{row % 7}\t{row % 50}\t{{"attempts": {row % 3}}}'
                "\t1.0\t2024-01-01 00:00:00\t2024-01-01 00:00:00\t1.0\tna\tcourse-v1:TestX+BIG101+2024_T1\n"
            )
    database = course_database("course-v1:TestX+BIG101+2024_T1")
    inventory = discover_package(package)

    summary = ingest_course_package(inventory.courses[0], mongo_client, IngestionSettings(batch_size=500))

    assert summary.loaded == {"courseware_studentmodule": rows}
    assert database["courseware_studentmodule"].count_documents({"student_id": 7}) == rows // 50
    assert database["courseware_studentmodule"].find_one({"id": 10})["state"] == {"attempts": 1}
    indexed = {
        key
        for index in database["courseware_studentmodule"].index_information().values()
        for key, _ in index["key"]
    }
    assert {"student_id", "course_id", "module_id"} <= indexed


def test_gzip_is_not_mistaken_for_a_table(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    with gzip.open(package / "TestX-GZ101-2024_T1-course-prod.xml.tar.gz", "wb") as handle:
        handle.write(b"x")
    (package / "TestX-GZ101-2024_T1-auth_user-prod.sql").write_text(HEADER_USER)
    inventory = discover_package(package)
    assert [name for name, _ in inventory.ignored] == ["TestX-GZ101-2024_T1-course-prod.xml.tar.gz"]


def test_operator_fails_clearly_on_a_missing_folder(tmp_path):
    """Checked on the operator, not with `airflow dags test`: a failing task there waits out its retries."""
    from analytics.operators.edx import DiscoverEdxCoursesOperator

    operator = DiscoverEdxCoursesOperator(task_id="discover", package_dir=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        operator.execute({})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no edX course files found"):
        DiscoverEdxCoursesOperator(task_id="discover", package_dir=str(empty)).execute({})


def test_the_batch_writer_hands_back_duplicates_with_their_origin(mongo_database):
    duplicates = []
    with MongoBatchWriter(
        mongo_database["things"],
        batch_size=3,
        on_duplicate=lambda document, origin: duplicates.append((document, origin)),
    ) as writer:
        for line, key in enumerate([1, 2, 1, 3, 2, 4, 4], start=10):  # repeats within and across batches
            writer.add({"_id": key, "line": line}, origin=line)
    assert writer.counts.inserted == 4 and writer.counts.duplicates == 3
    assert sorted((document["_id"], origin) for document, origin in duplicates) == [(1, 12), (2, 14), (4, 16)]
    assert sorted(document["line"] for document in mongo_database["things"].find({})) == [10, 11, 13, 15]


def test_the_batch_writer_still_writes_its_buffer_when_the_block_raises(mongo_database):
    with (
        pytest.raises(RuntimeError, match="reader failed"),
        MongoBatchWriter(mongo_database["things"]) as writer,
    ):
        writer.add({"_id": "before the failure"})
        raise RuntimeError("reader failed")
    assert mongo_database["things"].count_documents({}) == 1


def _write_duplicates_package(directory: Path) -> None:
    directory.mkdir()
    prefix = "TestX-DUP101-2024_T1"
    (directory / f"{prefix}-auth_user-prod.sql").write_text(
        HEADER_USER
        + "1\tana\tAna\tA\tana@example.org\t0\t1\t2024-01-02 10:00:00\n"
        + "2\tbob\tBob\tB\tbob@example.org\t0\t1\t2024-01-02 10:00:00\n"
        + "1\tana2\tAna\tA\tana@example.org\t0\t1\t2024-01-02 10:00:00\n"  # line 4: id 1 again
        + "3\tcid\tCid\tC\tcid@example.org\t0\t1\t2024-01-02 10:00:00\n"
        + "2\tbob2\tBob\tB\tbob@example.org\t0\t1\t2024-01-02 10:00:00\n"  # line 6: id 2 again
    )
    (directory / f"{prefix}-prod.mongo").write_text(
        '{"_id": {"$oid": "cd72760dff103dd383012d3f"}, "body": "first"}\n'
        '{"_id": {"$oid": "cd72760dff103dd383012d3f"}, "body": "same id"}\n'
        '{"body": "no id"}\n'
    )
    (directory / f"{prefix}-user_id_map-prod.sql").write_text(
        "hash_id\tid\tusername\tusername\naa\t1\tana\tana\n"
    )


def test_duplicate_ids_are_rejected_naming_file_line_and_id(tmp_path, mongo_client, course_database):
    package = tmp_path / "dup"
    _write_duplicates_package(package)
    database = course_database("course-v1:TestX+DUP101+2024_T1")

    summary = _ingest(package, mongo_client)

    assert summary.loaded == {"user": 3, "forum": 2}
    assert "user_id_map" in summary.kept  # a duplicate column rejects the file whole
    assert summary.rejected == {"duplicate id": 3, "duplicate column": 1}
    assert _counts(summary, "TestX-DUP101-2024_T1-auth_user-prod.sql") == (5, 3, 2)
    assert _counts(summary, "TestX-DUP101-2024_T1-prod.mongo") == (3, 2, 1)
    assert _counts(summary, "TestX-DUP101-2024_T1-user_id_map-prod.sql") == (1, 0, 1)
    assert sorted(document["username"] for document in database["user"].find({})) == ["ana", "bob", "cid"]
    errors = sorted(
        (error["file"].split("-")[3], error["line"], error["field"], error["reason"], error["detail"])
        for error in database[ERRORS_COLLECTION].find({})
    )
    assert errors[:2] == [
        ("auth_user", 4, "_id", "duplicate id", "_id 1 is already loaded from another record of this file"),
        ("auth_user", 6, "_id", "duplicate id", "_id 2 is already loaded from another record of this file"),
    ]
    assert (
        errors[2][:4] == ("prod.mongo", 2, "_id", "duplicate id")
        and "cd72760dff103dd383012d3f" in errors[2][4]
    )
    assert errors[3][:4] == ("user_id_map", 1, "username", "duplicate column")
    assert _status(database)["rejected"] == {"duplicate id": 3, "duplicate column": 1}


def test_a_failure_midway_keeps_the_rejections_and_marks_the_status_failed(
    tmp_path, mongo_client, course_database, monkeypatch
):
    package = tmp_path / "bad"
    _write_bad_package(package)
    (package / "TestX-BAD101-2024_T1-prod.mongo").write_text('{"body": "never read"}\n')
    database = course_database("course-v1:TestX+BAD101+2024_T1")
    states_seen = []

    def failing_forum_reader(path):
        states_seen.append(_status(database)["state"])
        raise RuntimeError("disk gone")
        yield  # a generator, like the real reader

    monkeypatch.setattr(edx_readers, "iter_forum_documents", failing_forum_reader)
    course = discover_package(package).courses[0]

    with pytest.raises(RuntimeError, match="disk gone"):
        ingest_course_package(
            course, mongo_client, IngestionSettings(batch_size=1000, rejection_threshold=1.0)
        )

    assert states_seen == ["running"]
    reasons = sorted(error["reason"] for error in database[ERRORS_COLLECTION].find({}))
    assert reasons == [
        "bad int",
        "empty file",
        "missing child",
        "wrong field count",
    ]  # the files before the forum
    status = _status(database)
    assert status["state"] == "failed" and status["finished_at"] is not None
    assert status["error"] == "RuntimeError: disk gone"
    assert status["loaded"] == {"user": 2, "course_structure": 2}
    assert status["kept"] == {"certificates": summary_kept_certificates(package)}
    assert sum(status["rejected"].values()) == 4
    assert {entry["file"].split("-")[3] for entry in status["files"]} == {
        "auth_user",
        "certificates_generatedcertificate",
        "course_structure",
        "prod.mongo",  # the forum, whose reader failed on its first record
    }


def summary_kept_certificates(package: Path) -> str:
    name = next(package.glob("*certificates*")).name
    return f"{name} rejected whole: {name}: empty file (no header line)"


def test_progress_is_logged_per_file_with_records_rate_and_eta(
    tmp_path, mongo_client, course_database, caplog
):
    package = tmp_path / "bad"
    _write_bad_package(package)
    course_database("course-v1:TestX+BAD101+2024_T1")
    caplog.set_level(logging.INFO, logger="analytics.edx.ingestion")

    _ingest(package, mongo_client, progress_every_seconds=0)  # a line for every record

    messages = [record.getMessage() for record in caplog.records]
    user_file = "TestX-BAD101-2024_T1-auth_user-prod-analytics.sql"
    checking = [m for m in messages if m.startswith(f"{user_file} (checking): ") and "done" not in m]
    assert [m.split(",")[0] for m in checking] == [
        f"{user_file} (checking): {n} records" for n in (1, 2, 3, 4)
    ]
    writing = [m for m in messages if m.startswith(f"{user_file}: ") and " of 4 records" in m]
    assert [m.split(" (")[0] for m in writing] == [f"{user_file}: {n} of 4 records" for n in (1, 2, 3, 4)]
    assert all(" records/s, " in m and "ETA" in m and "rejected" in m for m in writing)
    final = [m for m in messages if m.startswith(f"{user_file}: done, 4 records in ")]
    assert len(final) == 1 and "2 written, 2 rejected" in final[0]
    assert final[0].endswith("loaded into TestX_BAD101_2024_T1.user, 0 earlier documents removed")
