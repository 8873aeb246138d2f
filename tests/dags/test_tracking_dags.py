"""The tracking-log DAGs: their wiring, and `airflow dags test` of the master load on generated logs."""

from __future__ import annotations

import shutil

import pytest

from analytics.assets import TRACKING_MASTER
from analytics.edx.tracking_load import IMPORTED_COLLECTION, MASTER_COLLECTION, MASTER_DATABASE
from analytics.operators.tracking import check_master_load, report_master_load
from tests.tracking_logs import write_log

from .conftest import REPO, run_dag_test


@pytest.fixture(scope="module")
def master_dag():
    from airflow.dag_processing.dagbag import DagBag

    dag_bag = DagBag(dag_folder=str(REPO / "dags" / "tracking_logs_master_load.py"))
    assert dag_bag.import_errors == {}
    return dag_bag.dags["tracking_logs_master_load"]


def test_the_master_asset_is_updated_by_the_report_only(master_dag):
    report = master_dag.get_task("report")
    assert report.outlets == [TRACKING_MASTER]
    assert report.trigger_rule == "all_done"
    assert master_dag.get_task("load_file").outlets == []
    assert master_dag.get_task("check").trigger_rule == "all_done"
    assert master_dag.max_active_runs == 1


def _load(name: str, status: str = "complete", read: int = 10, loaded: int = 10, **extra) -> dict:
    return {
        "name": name,
        "status": status,
        "read": read,
        "loaded": loaded,
        "already_loaded": read - loaded - extra.get("discarded", 0),
        "discarded": extra.get("discarded", 0),
        "discarded_by_reason": extra.get("discarded_by_reason", {}),
        "failure": extra.get("failure"),
    }


def test_the_report_adds_up_and_skips_when_nothing_was_loaded():
    from airflow.sdk.exceptions import AirflowSkipException

    plan = {
        "to_load": [{"name": "a.log"}, {"name": "b.log"}],
        "complete": 3,
        "changed": [],
        "deferred": ["c"],
    }
    totals = report_master_load(
        plan,
        [
            _load("a.log", discarded=2, loaded=8, discarded_by_reason={"bad JSON": 2}),
            _load("b.log", loaded=4),
        ],
    )
    assert totals["events_loaded"] == 12 and totals["already_loaded"] == 6 and totals["discarded"] == 2
    assert totals["discarded_by_reason"] == {"bad JSON": 2}
    assert totals["files_deferred"] == 1 and totals["files_complete_before"] == 3
    with pytest.raises(AirflowSkipException):
        report_master_load({"to_load": [], "complete": 5}, [])


def test_the_check_fails_on_an_incomplete_missing_or_changed_file():
    from airflow.sdk.exceptions import AirflowFailException

    plan = {"to_load": [{"name": "a.log"}], "changed": [], "ignored": []}
    check_master_load(plan, [_load("a.log")])
    with pytest.raises(AirflowFailException, match="a.log is partial"):
        check_master_load(plan, [_load("a.log", status="partial", failure="truncated stream")])
    with pytest.raises(AirflowFailException, match="a.log was not loaded"):
        check_master_load(plan, [])
    with pytest.raises(AirflowFailException, match="b.log changed since it was loaded"):
        check_master_load({**plan, "changed": [{"name": "b.log"}]}, [_load("a.log")])


def _master(client):
    return client[MASTER_DATABASE]


def test_the_master_load_runs_twice_and_finishes_a_partial_file(tmp_path, mongo_client, airflow_metadata_db):
    """Run 1: a good file and a truncated one (the run fails, the good one is loaded). Run 2: the
    truncated file replaced by its whole version: it is loaded, the good one is complete already."""
    mongo_client.drop_database(MASTER_DATABASE)
    landing = tmp_path / "landing"
    landing.mkdir()
    good = write_log(landing / "testx-edx-events-2024-03-04.log.gz", 150, bad_lines={3: b"# comment\n"})
    whole = tmp_path / "testx-edx-events-2024-03-05.log.gz"
    later = write_log(whole, 3000, day="2024-03-05")
    (landing / whole.name).write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    conf = {"landing_dir": str(landing), "errors_dir": str(tmp_path / "errors"), "batch_size": 100}

    first = run_dag_test("tracking_logs_master_load", "2024-03-06", conf)
    assert first.state == "failed", first.output[-3000:]
    records = {r["_id"]: r for r in _master(mongo_client)[IMPORTED_COLLECTION].find({})}
    assert records["testx-edx-events-2024-03-04.log"]["status"] == "complete"
    assert records["testx-edx-events-2024-03-05.log"]["status"] == "partial"
    assert "truncated stream" in records["testx-edx-events-2024-03-05.log"]["failure"]
    partial_events = records["testx-edx-events-2024-03-05.log"]["loaded"]
    assert 0 < partial_events < later["events"]
    errors = tmp_path / "errors" / "testx-edx-events-2024-03-04.log-errors"
    assert '"reason":"comment line"' in errors.read_text()

    shutil.copy(whole, landing / whole.name)
    second = run_dag_test("tracking_logs_master_load", "2024-03-07", conf)
    assert second.state == "success", second.output[-3000:]
    records = {r["_id"]: r for r in _master(mongo_client)[IMPORTED_COLLECTION].find({})}
    assert {r["status"] for r in records.values()} == {"complete"}
    finished = records["testx-edx-events-2024-03-05.log"]
    assert finished["already_loaded"] == partial_events
    assert finished["loaded"] + finished["already_loaded"] == later["events"]
    assert "1 complete before" in second.output
    master = _master(mongo_client)[MASTER_COLLECTION]
    assert master.count_documents({}) == good["events"] + later["events"]
    assert master.count_documents({"load_file": "testx-edx-events-2024-03-05.log"}) == later["events"]


def test_the_extraction_copies_each_course_from_the_master_and_a_rerun_changes_nothing(
    tmp_path, mongo_client, airflow_metadata_db
):
    """The demo generator's package and logs: ingested and loaded by the engines, then the DAG
    extracts every course; each course's events are those the master holds for it, in its
    window, enriched from its structure; a second run leaves the same documents."""
    from analytics.edx.course_configs import list_course_configs, parse_course_config
    from analytics.edx.discovery import discover_package
    from analytics.edx.extraction import STATUS_COLLECTION, STATUS_ID, TRACKING_COLLECTION, selection_filter
    from analytics.edx.ingestion import ingest_course_package
    from analytics.edx.tracking_files import find_tracking_files
    from analytics.edx.tracking_load import TrackingSettings, load_tracking_file

    from .conftest import generate_demo_data

    demo = generate_demo_data(tmp_path / "demo", courses=2, days=3, events_per_day=200)
    mongo_client.drop_database(MASTER_DATABASE)
    configs = [parse_course_config(path) for path in list_course_configs(demo / "courses")]
    for config in configs:
        mongo_client.drop_database(config.database_name)
    for course in discover_package(demo / "package").courses:
        ingest_course_package(course, mongo_client)
    master = mongo_client[MASTER_DATABASE]
    for found in find_tracking_files(demo / "tracking")[0]:
        load_tracking_file(master, found, errors_dir=tmp_path / "errors", settings=TrackingSettings())

    conf = {"course_config_dir": str(demo / "courses")}
    first = run_dag_test("course_tracking_extraction", "2024-03-10", conf)
    assert first.state == "success", first.output[-3000:]
    assert "task_id=check_extracted_courses" in first.output  # its checks ran, and passed
    states = {}
    for config in configs:
        expected = master[MASTER_COLLECTION].count_documents(selection_filter(config))
        course_tracking = mongo_client[config.database_name][TRACKING_COLLECTION]
        assert expected > 0
        assert course_tracking.count_documents({}) == expected
        assert course_tracking.count_documents({"block.block_id": {"$exists": True}}) > 0
        status = mongo_client[config.database_name][STATUS_COLLECTION].find_one({"_id": STATUS_ID})
        assert status["state"] == "complete"
        states[config.database_name] = sorted(course_tracking.find({}), key=lambda d: d["_id"])

    second = run_dag_test("course_tracking_extraction", "2024-03-11", conf)
    assert second.state == "success", second.output[-3000:]
    for config in configs:
        again = sorted(
            mongo_client[config.database_name][TRACKING_COLLECTION].find({}), key=lambda d: d["_id"]
        )
        assert again == states[config.database_name]
