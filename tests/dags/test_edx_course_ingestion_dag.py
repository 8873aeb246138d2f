"""End to end: `airflow dags test edx_course_ingestion` on a generated package, twice."""

from __future__ import annotations

from pathlib import Path

from analytics.edx.naming import course_database_name
from analytics.edx.package import discover_package
from analytics.edx.tables import collection_for_table
from analytics.operators.edx import ERRORS_COLLECTION

from .conftest import generate_demo_data, run_dag_test


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

        second = run_dag_test("edx_course_ingestion", "2024-03-04", {"package_dir": str(package)})
        assert second.state == "success", second.output[-4000:]
        assert {name: _collection_counts(mongo_client, name) for name in databases} == counts_after_first
    finally:
        for name in databases:
            mongo_client.drop_database(name)
