"""The `edx_course_ingestion` DAG: its wiring, its report, and `airflow dags test` on a generated package, twice."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from analytics.assets import EDX_COURSE_DATABASES
from analytics.edx.naming import course_database_name
from analytics.edx.package import discover_package
from analytics.edx.tables import collection_for_table
from analytics.operators.edx import ERRORS_COLLECTION, STATUS_COLLECTION, summarize_ingestion

from .conftest import REPO, generate_demo_data, run_dag_test


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


def _summary(package_key: str, loaded: int) -> dict:
    return {
        "course_id": f"course-v1:{package_key.replace('-', '+')}",
        "package_key": package_key,
        "database": package_key.replace("-", "_"),
        "files_found": 1,
        "loaded": {"user": loaded},
        "rejected": {"duplicate id": 1},
        "files": {f"{package_key}-auth_user-prod.sql": {"read": loaded + 1, "loaded": loaded, "rejected": 1}},
        "skipped_files": [],
    }


def test_the_report_sums_every_course():
    totals = summarize_ingestion([_summary("A-B-C", 2), _summary("D-E-F", 3)], ["A-B-C", "D-E-F"])
    assert totals["documents_loaded"] == 5 and totals["rejected_by_reason"] == {"duplicate id": 2}
    assert totals["courses_not_ingested"] == []


def test_the_report_logs_everything_then_fails_without_retry_when_a_course_is_missing(caplog):
    from airflow.sdk.exceptions import AirflowFailException

    caplog.set_level(logging.INFO, logger="analytics.operators.edx")
    with pytest.raises(AirflowFailException, match="1 course\\(s\\) not ingested: D-E-F"):
        summarize_ingestion([_summary("A-B-C", 2)], ["A-B-C", "D-E-F"])
    messages = [record.getMessage() for record in caplog.records]
    assert "  file A-B-C-auth_user-prod.sql: read 3, loaded 2, rejected 1" in messages
    assert "1 of 2 course(s) ingested, 2 documents loaded, 1 records rejected" in messages
    assert any("course D-E-F was not ingested" in message for message in messages)


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
        counts_after_first = {name: _collection_counts(mongo_client, name) for name in databases}

        for course, name in zip(inventory.courses, databases, strict=True):
            counts = counts_after_first[name]
            for package_file in course.files:
                collection = collection_for_table(package_file.table) if package_file.table else None
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
