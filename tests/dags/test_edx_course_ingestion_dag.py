"""The `edx_course_ingestion` DAG: its wiring, its report, and `airflow dags test` on a generated package, twice."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from analytics.assets import EDX_COURSE_DATABASES
from analytics.edx.discovery import discover_package
from analytics.edx.ingestion import (
    ERRORS_COLLECTION,
    STATUS_COLLECTION,
    IngestionSettings,
    ingest_course_package,
)
from analytics.edx.naming import course_database_name
from analytics.operators.edx import summarize_ingestion

from .conftest import REPO, generate_demo_data, run_dag_test

# The collection each data-package table goes to, as the README lists them (not read from the code).
TABLE_COLLECTIONS = {
    "auth_user": "user",
    "auth_userprofile": "userprofile",
    "certificates_generatedcertificate": "certificates",
    "courseware_studentmodule": "courseware_studentmodule",
    "student_courseenrollment": "enrollment",
    "user_id_map": "user_id_map",
}


@pytest.fixture(scope="module")
def ingestion_dag():
    from airflow.dag_processing.dagbag import DagBag

    dag_bag = DagBag(dag_folder=str(REPO / "dags" / "edx_course_ingestion.py"))
    assert dag_bag.import_errors == {}
    return dag_bag.dags["edx_course_ingestion"]


def test_the_asset_is_updated_once_per_run_by_the_report_which_runs_whatever_happened(ingestion_dag):
    report = ingestion_dag.get_task("report")
    assert report.outlets == [EDX_COURSE_DATABASES]
    assert report.trigger_rule == "all_done"
    assert ingestion_dag.get_task("ingest_course").outlets == []
    assert report.upstream_task_ids == {"discover_courses", "ingest_course"}


HEADER_USER = "id\tusername\temail\n"


def _package(directory: Path, prefix: str, users: int, broken: int = 0) -> Path:
    """A one-table package: ``users`` good rows of auth_user and ``broken`` rows with a missing field."""
    directory.mkdir(parents=True)
    rows = [f"{n}\tu{n}\tu{n}@example.org\n" for n in range(1, users + 1)]
    rows += [f"{users + n}\tbroken\n" for n in range(1, broken + 1)]
    (directory / f"{prefix}-auth_user-prod.sql").write_text(HEADER_USER + "".join(rows))
    return directory


@pytest.fixture
def summaries(tmp_path, mongo_client):
    """Real XComs: what ingest_course_package returns for three courses (one partial), as the operator pushes them."""
    courses = {"TestX-REP1-2024": (2, 0), "TestX-REP2-2024": (3, 1), "TestX-REP3-2024": (3, 3)}
    values, names = {}, []
    for prefix, (users, broken) in courses.items():
        (course,) = discover_package(_package(tmp_path / prefix, prefix, users, broken)).courses
        names.append(course_database_name(course.course))
        mongo_client.drop_database(names[-1])
        summary = ingest_course_package(course, mongo_client, IngestionSettings(rejection_threshold=0.3))
        values[prefix] = summary.as_xcom()
    yield values
    for name in names:
        mongo_client.drop_database(name)


def test_the_report_sums_every_course(summaries):
    complete = [summaries["TestX-REP1-2024"], summaries["TestX-REP2-2024"]]
    totals = summarize_ingestion(complete, ["TestX-REP1-2024", "TestX-REP2-2024"])
    assert totals["documents_loaded"] == 2 + 3 and totals["rejected_by_reason"] == {"wrong field count": 1}
    assert totals["courses_not_ingested"] == [] and totals["courses_partial"] == []


def test_the_report_logs_everything_then_fails_without_retry_when_a_course_is_missing_or_partial(
    summaries, caplog
):
    from airflow.sdk.exceptions import AirflowFailException

    caplog.set_level(logging.INFO, logger="analytics.operators.edx")
    keys = ["TestX-REP1-2024", "TestX-REP2-2024", "TestX-REP3-2024", "TestX-GONE-2024"]
    given = [summaries["TestX-REP1-2024"], summaries["TestX-REP3-2024"]]
    with pytest.raises(
        AirflowFailException,
        match=r"2 course\(s\) not ingested: TestX-REP2-2024, TestX-GONE-2024; 1 partial: TestX-REP3-2024",
    ):
        summarize_ingestion(given, keys)
    messages = [record.getMessage() for record in caplog.records]
    assert "  file TestX-REP1-2024-auth_user-prod.sql: read 2, loaded 2, rejected 0" in messages
    assert any(
        m.startswith(
            "  file TestX-REP3-2024-auth_user-prod.sql: read 6, loaded 0, rejected 3; REJECTED WHOLE: 3 of 6"
        )
        for m in messages
    )
    assert "2 of 4 course(s) ingested (1 partial), 2 documents loaded, 3 records rejected" in messages
    assert any("course TestX-GONE-2024 was not ingested" in message for message in messages)


def _data_rows(path: Path) -> int:
    """Rows in a TSV export: lines after the header (the generator writes no broken rows)."""
    with open(path, "rb") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)


def _collection_counts(mongo_client, database_name: str) -> dict[str, int]:
    database = mongo_client[database_name]
    return {name: database[name].count_documents({}) for name in sorted(database.list_collection_names())}


def test_ingestion_dag_loads_every_course_and_is_idempotent(tmp_path, mongo_client, airflow_metadata_db):
    demo = generate_demo_data(tmp_path / "demo")
    package = demo / "package"
    inventory = discover_package(package)
    assert len(inventory.courses) == 2
    databases = [course_database_name(course.course) for course in inventory.courses]
    for name in databases:
        mongo_client.drop_database(name)

    try:
        first = run_dag_test("edx_course_ingestion", "2024-03-04", {"package_dir": str(package)})
        assert first.state == "success", first.output[-4000:]
        assert "task_id=check_ingested_courses" in first.output  # its checks ran, and passed
        counts_after_first = {name: _collection_counts(mongo_client, name) for name in databases}

        for course, name in zip(inventory.courses, databases, strict=True):
            counts = counts_after_first[name]
            for package_file in course.files:
                collection = TABLE_COLLECTIONS.get(package_file.table or "")
                if collection:
                    assert counts[collection] == _data_rows(package_file.path), (name, package_file.path.name)
            assert counts["course_structure"] > 0 and counts["forum"] > 0
            assert counts.get(ERRORS_COLLECTION, 0) == 0, list(mongo_client[name][ERRORS_COLLECTION].find({}))
        assert "ingest_course" in first.output and "skipped file" in first.output
        assert "2 of 2 course(s) ingested" in first.output
        assert "XCom not found" not in first.output  # the report fetches the summaries in one slice
        for name in databases:
            status = mongo_client[name][STATUS_COLLECTION].find_one({"_id": "latest"})
            assert status["state"] == "complete" and status["rejected"] == {}

        second = run_dag_test("edx_course_ingestion", "2024-03-04", {"package_dir": str(package)})
        assert second.state == "success", second.output[-4000:]
        assert {name: _collection_counts(mongo_client, name) for name in databases} == counts_after_first
    finally:
        for name in databases:
            mongo_client.drop_database(name)


def test_a_file_rejected_whole_fails_its_course_after_the_rest_and_the_report_shows_it(
    tmp_path, mongo_client, airflow_metadata_db
):
    """`airflow dags test`: the partial course's task fails (no retry), its summary still reaches the report."""
    package = tmp_path / "package"
    _package(package / "good", "TestX-DAGOK-2024", users=3)
    _package(package / "bad", "TestX-DAGBAD-2024", users=2)
    (package / "bad" / "TestX-DAGBAD-2024-certificates_generatedcertificate-prod.sql").write_bytes(b"")
    names = [course_database_name(course.course) for course in discover_package(package).courses]
    for name in names:
        mongo_client.drop_database(name)
    try:
        run = run_dag_test("edx_course_ingestion", "2024-03-05", {"package_dir": str(package)})

        assert run.state == "failed", run.output[-4000:]
        bad, good = (mongo_client[name] for name in names)  # sorted by course id: DAGBAD, DAGOK
        assert bad[STATUS_COLLECTION].find_one({"_id": "latest"})["state"] == "partial"
        assert bad["user"].count_documents({}) == 2  # the course's other files were loaded
        assert good[STATUS_COLLECTION].find_one({"_id": "latest"})["state"] == "complete"
        assert "course course-v1:TestX+DAGBAD+2024 is partial: certificates kept" in run.output
        assert "1 partial: TestX-DAGBAD-2024" in run.output  # the report read the failed task's summary
        assert "2 of 2 course(s) ingested (1 partial)" in run.output
        assert "XCom not found" not in run.output
    finally:
        for name in names:
            mongo_client.drop_database(name)
