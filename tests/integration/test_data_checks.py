"""The data check tasks against the real local servers: each passes on a good load, fails with a
clear message on a broken one, reads only the run's scope, and never changes the data.

MongoDB checks run on nx-27017 (a fresh database per test); the engagement SQL checks on the
stack's PostgreSQL, in the throwaway databases of ``test_engagement_elt``'s fixtures, rendered
with the XComs the DAG run would hand them.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowFailException

from analytics.checks import (
    bi_checks,
    extraction_checks,
    ingestion_checks,
    kpi_checks,
    master_load_checks,
)
from analytics.edx.tracking_files import TrackingFile
from analytics.edx.tracking_load import IMPORTED_COLLECTION, MASTER_COLLECTION, load_tracking_file
from analytics.operators.engagement import EnrichEventsOperator, LoadEventsOperator
from analytics.operators.engagement_checks import daily_checks, weekly_checks
from analytics.operators.mongo_checks import MongoCheckOperator
from tests.course_kpis_data import new_course, write_course
from tests.integration.test_course_kpis import QUIET
from tests.integration.test_course_tracking_extraction import (
    LOADED,
    Course,
    at,
    event,
    extract,
    write_config,
    write_structure,
)
from tests.integration.test_edx_course_ingestion import (  # noqa: F401 (fixture)
    SAMPLE_PACKAGE,
    _ingest,
    course_database,
)
from tests.integration.test_engagement_elt import (  # noqa: F401 (fixtures)
    ANALYTICS_CONN_ID,
    MONDAY_DAY,
    PROD_CONN_ID,
    config,
    databases,
    production,
)
from tests.tracking_logs import now, write_log

# ---------------------------------------------------------------- MongoDB


def _run_mongo_checks(database, checks) -> list[dict]:
    return MongoCheckOperator(task_id="check", database=database.name, checks=checks).execute({})


def _load_file(database, path: Path, events: int, bad: int = 0) -> dict:
    write_log(path, events, bad_lines={number: b"not json\n" for number in range(bad)})
    return load_tracking_file(database, TrackingFile.at(path), errors_dir=path.parent, clock=now).as_dict()


def test_master_load_checks_pass_then_name_what_broke(mongo_database, tmp_path: Path) -> None:
    loaded = _load_file(mongo_database, tmp_path / "tracking.log-20240304", 12, bad=2)
    assert (loaded["read"], loaded["discarded"]) == (14, 2)
    checks = master_load_checks([loaded])

    outcomes = _run_mongo_checks(mongo_database, checks)
    assert [outcome["passed"] for outcome in outcomes] == [True, True, True]
    assert outcomes[2]["actual"] == 12

    master = mongo_database[MASTER_COLLECTION]
    master.delete_one({"_id": "tracking.log-20240304:3"})
    with pytest.raises(AirflowFailException) as failed:
        _run_mongo_checks(mongo_database, checks)
    message = str(failed.value)
    assert "1 of 3 data check(s) failed" in message
    assert (
        f"{mongo_database.name}.tracking: events of tracking.log-20240304 = lines read - discarded: "
        "expected equal to 12, actual 11"
    ) in message
    assert master.count_documents({}) == 11  # the check changed nothing

    mongo_database[IMPORTED_COLLECTION].update_one({"_id": "tracking.log-20240304"}, {"$inc": {"read": 1}})
    with pytest.raises(
        AirflowFailException,
        match=r"tracking_imported: read = loaded \+ rejected: expected equal to 0, actual 1",
    ):
        _run_mongo_checks(mongo_database, checks)


def test_master_load_checks_read_only_the_runs_files(mongo_database, tmp_path: Path) -> None:
    this_run = _load_file(mongo_database, tmp_path / "tracking.log-20240305", 5)
    _load_file(mongo_database, tmp_path / "tracking.log-20240304", 5)
    # Another run's file, broken: not this run's business.
    mongo_database[MASTER_COLLECTION].delete_one({"_id": "tracking.log-20240304:1"})
    mongo_database[IMPORTED_COLLECTION].update_one({"_id": "tracking.log-20240304"}, {"$inc": {"read": 1}})
    checks = master_load_checks([this_run])
    assert all(outcome["passed"] for outcome in _run_mongo_checks(mongo_database, checks))
    assert all(outcome["passed"] for outcome in _run_mongo_checks(mongo_database, checks))  # idempotent


def _sessions(month: str, institution: int, form: int) -> dict:
    return {
        "_id": f"{month}|{institution}|{form}",
        "month": month,
        "institution_id": institution,
        "form_id": form,
    }


def test_bi_checks_catch_a_duplicate_period_of_the_run_only(mongo_database) -> None:
    collection = mongo_database["monthly_sessions"]
    collection.insert_many([_sessions("2024-03", 1, form) for form in (10, 11, 12)])
    collection.insert_many([_sessions("2024-02", 1, 10), {**_sessions("2024-02", 1, 10), "_id": "stray"}])
    summary = {
        "collection": "monthly_sessions",
        "period": "2024-03",
        "rows": 3,
        "written": 3,
        "state": "complete",
    }
    checks = bi_checks([summary])
    assert all(
        outcome["passed"] for outcome in _run_mongo_checks(mongo_database, checks)
    )  # Feb's duplicate: not this run's

    collection.insert_one({**_sessions("2024-03", 1, 11), "_id": "a second 2024-03|1|11"})
    with pytest.raises(AirflowFailException) as failed:
        _run_mongo_checks(mongo_database, checks)
    message = str(failed.value)
    assert (
        "monthly_sessions: 2024-03: documents = rows from PostgreSQL: expected equal to 3, actual 4"
        in message
    )
    assert (
        "monthly_sessions: 2024-03: no duplicate month, institution_id, form_id: expected equal to 0, actual 1"
        in message
    )
    assert collection.count_documents({"month": "2024-03"}) == 4


def _failures(database, checks) -> str:
    """The failure message of checks that must fail now."""
    with pytest.raises(AirflowFailException) as failed:
        _run_mongo_checks(database, checks)
    return str(failed.value)


@pytest.fixture
def sample_course(samples_dir, tmp_path: Path, mongo_client, course_database):  # noqa: F811
    """The sample package's course, ingested: its database and the ``ingest_course`` summary."""
    package = tmp_path / "package"
    shutil.copytree(samples_dir / SAMPLE_PACKAGE, package)
    database = course_database("course-v1:edX+DemoX+Demo_Course")
    return database, _ingest(package, mongo_client).as_xcom()


def test_ingestion_checks_pass_on_the_sample_course_then_catch_each_break(sample_course) -> None:
    database, summary = sample_course
    checks = ingestion_checks(summary)

    outcomes = _run_mongo_checks(database, checks)
    assert all(outcome["passed"] for outcome in outcomes), outcomes
    names = {outcome["check"] for outcome in outcomes}
    assert {
        "course-v1:edX+DemoX+Demo_Course: read = loaded + rejected",
        "course-v1:edX+DemoX+Demo_Course: documents = summary's count",
        "course-v1:edX+DemoX+Demo_Course: no null user_id",
        "course-v1:edX+DemoX+Demo_Course: no duplicate user_id, course_id",
        "course-v1:edX+DemoX+Demo_Course: no duplicate username",
    } <= names, names
    assert summary["loaded"]["enrollment"] == 4

    enrollment = database["enrollment"]
    copy = enrollment.find_one({})
    enrollment.insert_one({**copy, "_id": 1000, "id": 1000})  # the same learner enrolled twice
    message = _failures(database, checks)
    assert (
        "enrollment: course-v1:edX+DemoX+Demo_Course: documents = summary's count: expected equal to 4, actual 5"
        in message
    )
    assert (
        "enrollment: course-v1:edX+DemoX+Demo_Course: no duplicate user_id, course_id: expected equal to 0, actual 1"
        in message
    )
    assert enrollment.count_documents({}) == 5  # the check changed nothing
    enrollment.delete_one({"_id": 1000})

    profiles = database["userprofile"]
    profiles.update_one({"_id": profiles.find_one({})["_id"]}, {"$unset": {"user_id": ""}})
    assert (
        "userprofile: course-v1:edX+DemoX+Demo_Course: no null user_id: expected equal to 0, actual 1"
        in _failures(database, checks)
    )
    profiles.update_one({"user_id": {"$exists": True}}, {"$set": {"user_id": None}})  # null, not missing
    assert (
        "userprofile: course-v1:edX+DemoX+Demo_Course: no null user_id: expected equal to 0, actual 2"
        in _failures(database, checks)
    )
    database["userprofile"].delete_many({})
    assert (
        "userprofile: course-v1:edX+DemoX+Demo_Course: documents = summary's count: expected equal to 4, actual 0"
        in _failures(database, checks)
    )


def test_ingestion_checks_catch_an_unbalanced_status(sample_course) -> None:
    database, summary = sample_course
    checks = ingestion_checks(summary)
    assert all(outcome["passed"] for outcome in _run_mongo_checks(database, checks))

    status = database["ingestion_status"]
    files = status.find_one({"_id": "latest"})["files"]
    files[0]["read"] += 1
    status.update_one({"_id": "latest"}, {"$set": {"files": files}})
    assert "read = loaded + rejected: expected equal to 0, actual 1" in _failures(database, checks)

    status.update_one({"_id": "latest"}, {"$set": {"run": "another run"}})  # a later ingestion's status
    assert "status of this run, complete: expected equal to 1, actual 0" in _failures(database, checks)


@pytest.fixture
def tracking_course(mongo_client):
    course = Course(mongo_client)
    mongo_client.drop_database(course.database.name)
    yield course
    mongo_client.drop_database(course.database.name)


def test_extraction_checks_pass_on_an_extraction_then_catch_each_break(
    mongo_client, mongo_database, tracking_course, tmp_path: Path
) -> None:
    course = tracking_course
    master = mongo_database["tracking"]
    write_structure(course)
    master.insert_many(
        [event(line, course.course_id, at(2, line)) for line in range(1, 7)]
        + [
            event(7, course.old_id, at(3)),
            event(8, "course-v1:Other+X+Y", at(3)),
            event(9, course.course_id, at(9)),
        ]
    )
    course_config = write_config(tmp_path, course)
    first = extract(mongo_client, master, course_config).as_dict()
    assert (first["selected"], first["written"]) == (7, 7)
    assert all(outcome["passed"] for outcome in _run_mongo_checks(course.database, extraction_checks(first)))

    # An incremental run: the events loaded since the mark, and the hour of overlap.
    master.insert_many(
        [event(line, course.course_id, at(4), LOADED + timedelta(days=1)) for line in (10, 11)]
    )
    second = extract(mongo_client, master, course_config).as_dict()
    assert second["mode"] == "incremental" and (second["selected"], second["written"]) == (9, 9)
    checks = extraction_checks(second)
    outcomes = _run_mongo_checks(course.database, checks)
    assert all(outcome["passed"] for outcome in outcomes), outcomes

    tracking = course.database["tracking"]
    copy = tracking.find_one({"_id": "tracking.log-20240306.gz:10"})
    tracking.insert_one({**copy, "_id": "a copy of line 10"})
    message = _failures(course.database, checks)
    assert (
        "tracking: " + course_config.edx_id + ": events selected = written: expected equal to 9, actual 10"
        in message
    )
    assert "no duplicate load_file, load_line: expected equal to 0, actual 1" in message
    tracking.delete_many({"_id": {"$in": ["a copy of line 10", "tracking.log-20240306.gz:3"]}})
    message = _failures(course.database, checks)
    assert "documents = summary's count: expected equal to 9, actual 8" in message
    assert "duplicate" not in message


def test_extraction_checks_read_only_the_runs_scope(
    mongo_client, mongo_database, tracking_course, tmp_path: Path
) -> None:
    course = tracking_course
    master = mongo_database["tracking"]
    master.insert_many([event(line, course.course_id, at(2, line)) for line in range(1, 4)])
    course_config = write_config(tmp_path, course)
    extract(mongo_client, master, course_config)
    master.insert_one(event(4, course.course_id, at(4), LOADED + timedelta(days=1)))
    extract(mongo_client, master, course_config)
    master.insert_one(event(5, course.course_id, at(4), LOADED + timedelta(days=2)))
    summary = extract(mongo_client, master, course_config).as_dict()
    assert summary["selected"] == 2  # loaded since the last mark (day + 1, event 4) minus an hour
    # An event of an earlier run, outside this run's mark, goes: not this run's business.
    course.database["tracking"].delete_one({"_id": "tracking.log-20240306.gz:1"})
    assert all(
        outcome["passed"] for outcome in _run_mongo_checks(course.database, extraction_checks(summary))
    )


@pytest.fixture
def kpi_course(mongo_client, mongo_database, tmp_path):
    course = new_course(mongo_client, tmp_path, mongo_database.name)
    write_course(course)
    yield course
    mongo_client.drop_database(course.database.name)


def _compute(client, course, **options) -> dict:
    from analytics.edx.course_kpis import compute_course_kpis

    return compute_course_kpis(
        client, course.config, settings=QUIET, master_database=course.master.database.name, **options
    ).as_dict()


def test_kpi_checks_pass_on_a_computation_then_catch_each_break(mongo_client, kpi_course) -> None:
    course = kpi_course
    summary = _compute(mongo_client, course)
    assert all(summary["rows"][name] for name in ("time_on_task", "weekly_activity", "learners")), summary
    checks = kpi_checks(summary)
    outcomes = _run_mongo_checks(course.database, checks)
    assert all(outcome["passed"] for outcome in outcomes), outcomes
    label = f"{summary['edx_id']} {summary['from_date']} .. {summary['to_date']}"
    rows = summary["rows"]

    time_on_task = course.database["time_on_task"]
    day = time_on_task.find_one({})
    time_on_task.insert_one({**day, "_id": "a second row of " + day["_id"]})
    message = _failures(course.database, checks)
    assert f"time_on_task: {label}: no duplicate username, day: expected equal to 0, actual 1" in message
    assert (
        f"time_on_task: {label}: documents = summary's count: expected equal to {rows['time_on_task']}, "
        f"actual {rows['time_on_task'] + 1}"
    ) in message
    time_on_task.delete_one({"_id": "a second row of " + day["_id"]})

    weekly = course.database["weekly_activity"]
    week = weekly.find_one({})
    weekly.delete_one({"_id": week["_id"]})
    assert (
        f"weekly_activity: {label}: documents = summary's count: expected equal to {rows['weekly_activity']}, "
        f"actual {rows['weekly_activity'] - 1}"
    ) in _failures(course.database, checks)
    weekly.insert_one(week)

    course.database["learners"].update_one({}, {"$set": {"username": None}})
    assert f"learners: {label}: no null username: expected equal to 0, actual 1" in _failures(
        course.database, checks
    )


def test_kpi_checks_of_a_range_need_its_status_and_ignore_other_ranges(mongo_client, kpi_course) -> None:
    course = kpi_course
    _compute(mongo_client, course)  # the whole course
    summary = _compute(mongo_client, course, from_date="2024-03-02", to_date="2024-03-03")
    checks = kpi_checks(summary)
    # The whole course's learners (another range): not this run's business.
    course.database["learners"].delete_many({"from_date": {"$ne": "2024-03-02"}})
    assert all(outcome["passed"] for outcome in _run_mongo_checks(course.database, checks))

    status_id = f"{summary['edx_id']}|2024-03-02|2024-03-03"
    assert (
        course.database["kpi_status"]
        .update_one({"_id": status_id}, {"$set": {"state": "failed"}})
        .matched_count
    )
    assert "kpi_status complete: expected equal to 1, actual 0" in _failures(course.database, checks)


# ---------------------------------------------------------------- PostgreSQL (engagement)


class _RunXComs:
    """The run's XComs by task id, as ``ti.xcom_pull(task_ids=...)`` gives them to the templates."""

    def __init__(self, xcoms: dict) -> None:
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str, **_: object) -> object:
        return self.xcoms[task_ids]


def _check(operator, xcoms: dict) -> None:
    operator.conn_id = ANALYTICS_CONN_ID  # the test's analytics database (the DAG's: the configuration's)
    context = {"ti": _RunXComs(xcoms), "params": {}}
    operator.render_template_fields(context)
    operator.execute(context)


def _daily_run(day: date) -> dict:
    """copy_production, load_events and enrich_events as the daily run does them; its XComs."""
    from analytics.engagement.config import load_engagement_config
    from analytics.engagement.elt import copy_production

    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, load_engagement_config())
    start = pendulum.datetime(day.year, day.month, day.day, tz="Europe/Paris")
    context = {"data_interval_start": start, "data_interval_end": start.add(days=1)}
    conn_ids = {"source_conn_id": PROD_CONN_ID, "target_conn_id": ANALYTICS_CONN_ID}
    loaded = LoadEventsOperator(task_id="load_events", **conn_ids).execute(context)
    EnrichEventsOperator(task_id="enrich_events", **conn_ids).execute(context)
    return {"load_events": loaded}


def _daily(task_id: str):
    return next(check for check in daily_checks() if check.task_id == task_id)


def test_daily_checks_pass_on_a_good_load_and_fail_on_a_broken_one(production) -> None:  # noqa: F811
    xcoms = _daily_run(MONDAY_DAY)
    assert xcoms["load_events"]["events"] > 1
    for task_id in ("check_events_loaded", "check_event_keys", "check_load_log"):
        _check(_daily(task_id), xcoms)

    with production.connect(production.analytics) as conn:
        (before,) = conn.execute("SELECT count(*) FROM evenement_engagement").fetchone()
        conn.execute("DELETE FROM evenement_engagement WHERE id = (SELECT max(id) FROM evenement_engagement)")
    with pytest.raises(AirflowFailException, match="row_count_matches_source"):
        _check(_daily("check_events_loaded"), xcoms)

    with production.connect(production.analytics) as conn:
        conn.execute(
            "UPDATE evenement_engagement SET week = NULL WHERE id = (SELECT min(id) FROM evenement_engagement)"
        )
    with pytest.raises(AirflowFailException, match="(?s)Column: week.*null_check"):
        _check(_daily("check_event_keys"), xcoms)

    with production.connect(production.analytics) as conn:
        conn.execute("DELETE FROM engagement_loaded_days WHERE day = %s", (MONDAY_DAY,))
    with pytest.raises(AirflowFailException, match="one_row_per_day"):
        _check(_daily("check_load_log"), xcoms)

    with production.connect(production.analytics) as conn:  # the checks wrote nothing
        assert conn.execute("SELECT count(*) FROM evenement_engagement").fetchone() == (before - 1,)


def test_weekly_check_passes_on_computed_weeks_and_fails_on_a_missing_view_or_week(
    production,  # noqa: F811
    config,  # noqa: F811
) -> None:
    from analytics.engagement.weekly_views import recompute_week

    _daily_run(MONDAY_DAY)  # its reference tables, Sunday's and Monday's events
    week = date(2024, 1, 8)
    rows = recompute_week(ANALYTICS_CONN_ID, week, config).rows
    assert rows["analytics_fonctionnalites"] > 0
    _check(weekly_checks(), {"weeks_to_compute": [week.isoformat()]})

    with pytest.raises(AirflowFailException, match="every_week_computed_once"):
        _check(weekly_checks(), {"weeks_to_compute": [week.isoformat(), "2024-01-15"]})

    with production.connect(production.analytics) as conn:
        conn.execute("DELETE FROM analytics_fonctionnalites WHERE week = %s", (week,))
    with pytest.raises(AirflowFailException, match="views_hold_their_rows"):
        _check(weekly_checks(), {"weeks_to_compute": [week.isoformat()]})
