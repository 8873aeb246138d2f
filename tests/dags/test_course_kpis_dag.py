"""The course KPIs DAG: its wiring, and `airflow dags test` on the demo generator's courses.

The demo's package is ingested, its tracking logs loaded and its courses extracted by the engines
(the DAGs that do it have their own tests); then ``course_kpis`` runs twice with ``airflow dags
test``: every course with one invalid config beside them (its task fails naming the file and
the field, the others go on, ``check`` fails the run), then one course over a range.
"""

from __future__ import annotations

import json
import uuid

import pytest

from analytics.assets import COURSE_KPIS, COURSE_TRACKING
from analytics.edx.kpi_collections import KPI_COLLECTIONS, LEARNERS, STATUS_COLLECTION, WEEKLY_ACTIVITY
from analytics.edx.tracking_load import MASTER_DATABASE

from .conftest import REPO, generate_demo_data, run_dag_test

REPORT_BUCKET = "analytics-exports"  # made by the test stack


@pytest.fixture(scope="module")
def kpis_dag():
    from airflow.dag_processing.dagbag import DagBag

    dag_bag = DagBag(dag_folder=str(REPO / "dags" / "course_kpis.py"))
    assert dag_bag.import_errors == {}
    return dag_bag.dags["course_kpis"]


def test_the_dag_runs_on_the_course_tracking_asset_and_publishes_the_kpis(kpis_dag):
    assert [asset.name for asset in kpis_dag.timetable.asset_condition.objects] == [COURSE_TRACKING.name]
    assert kpis_dag.get_task("report").outlets == [COURSE_KPIS]
    assert kpis_dag.get_task("compute_course").outlets == []
    assert kpis_dag.get_task("report").trigger_rule == kpis_dag.get_task("check").trigger_rule == "all_done"
    params = kpis_dag.params
    assert params["include_contact_info"] is False and params["from_date"] is None and params["courses"] == []


def test_bad_params_are_refused_before_the_run(kpis_dag):
    from airflow.sdk.exceptions import ParamValidationError

    for name, value in (
        ("from_date", "13/03/2024"),
        ("courses", "data101x"),
        ("include_contact_info", "yes"),
    ):
        param = kpis_dag.params.get_param(name)
        with pytest.raises(ParamValidationError):
            param.resolve(value)


def test_the_dag_computes_every_course_and_a_range(tmp_path, mongo_client, airflow_metadata_db):
    from analytics.edx.course_configs import list_course_configs, parse_course_config
    from analytics.edx.discovery import discover_package
    from analytics.edx.extraction import extract_course
    from analytics.edx.ingestion import ingest_course_package
    from analytics.edx.tracking_files import find_tracking_files
    from analytics.edx.tracking_load import TrackingSettings, load_tracking_file
    from analytics.stores.s3 import S3Store

    demo = generate_demo_data(tmp_path / "demo", courses=2, days=3, events_per_day=150)
    mongo_client.drop_database(MASTER_DATABASE)
    configs = [parse_course_config(path) for path in list_course_configs(demo / "courses")]
    for config in configs:
        mongo_client.drop_database(config.database_name)
    for course in discover_package(demo / "package").courses:
        ingest_course_package(course, mongo_client)
    master = mongo_client[MASTER_DATABASE]
    for found in find_tracking_files(demo / "tracking")[0]:
        load_tracking_file(master, found, errors_dir=tmp_path / "errors", settings=TrackingSettings())
    for config in configs:
        extract_course(mongo_client, config, progress_every_seconds=3600)
    (demo / "courses" / "zz_broken.json").write_text(
        json.dumps(
            {"edx_id": "broken", "edx_course_name": "x", "course_ids": [], "date_of_course_enrollment": ""}
        ),
        encoding="utf-8",
    )
    reports = tmp_path / "reports"
    prefix = f"test-course-kpis/{uuid.uuid4().hex[:8]}/"
    conf = {"course_config_dir": str(demo / "courses"), "report_dir": str(reports), "s3_prefix": prefix}

    first = run_dag_test("course_kpis", "2024-03-10", conf)

    assert first.state == "failed", first.output[-3000:]  # the broken config fails its task, then check
    assert "zz_broken.json: key 'course_ids': empty" in first.output
    assert "1 of 3 course(s) without KPIs" in first.output
    with S3Store() as store:
        for config in configs:
            database = mongo_client[config.database_name]
            status = database[STATUS_COLLECTION].find_one({"whole_course": True})
            assert status["state"] == "complete", status
            assert status["learners_counted"] > 0 and status["events_read"] > 0
            for name in KPI_COLLECTIONS:
                assert database[name].count_documents({}) == status["loaded"][name] > 0, name
            path = reports / f"{config.edx_id}.html"
            assert status["report_path"] == str(path) and path.stat().st_size > 0
            uploaded = store.head(REPORT_BUCKET, f"{prefix}{path.name}")
            assert uploaded is not None and uploaded.size == path.stat().st_size
            assert f"{config.edx_id} (" in first.output and "learners counted" in first.output

    # one course, one range: its learners rows are beside the whole course's, its weeks are rewritten
    config = configs[0]
    database = mongo_client[config.database_name]
    whole_learners = database[LEARNERS].count_documents(
        {"from_date": config.date_of_course_enrollment.isoformat()}
    )
    weeks_before = database[WEEKLY_ACTIVITY].count_documents({})
    (demo / "courses" / "zz_broken.json").unlink()
    second = run_dag_test(
        "course_kpis",
        "2024-03-11",
        {**conf, "courses": [config.edx_id], "from_date": "2024-03-05", "to_date": "2024-03-06"},
    )
    assert second.state == "success", second.output[-3000:]
    assert "task_id=check_course_kpis" in second.output  # its checks ran, and passed
    status = database[STATUS_COLLECTION].find_one({"from_date": "2024-03-05", "to_date": "2024-03-06"})
    assert status["state"] == "complete" and status["whole_course"] is False
    assert database[LEARNERS].count_documents({"from_date": "2024-03-05"}) == status["loaded"][LEARNERS] > 0
    assert database[LEARNERS].count_documents(
        {"from_date": config.date_of_course_enrollment.isoformat()}
    ) == (whole_learners)
    assert database[WEEKLY_ACTIVITY].count_documents({}) == weeks_before
    assert (reports / f"{config.edx_id}_2024-03-05_2024-03-06.html").exists()
