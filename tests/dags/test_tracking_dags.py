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
