"""End to end: `airflow dags test` of the engagement DAGs on generated production data.

Each test module gets its own pair of databases (``e2e_<uuid>_prod`` / ``e2e_<uuid>_analytics``)
on the test stack's PostgreSQL, and the DAG runs see them through ``AIRFLOW_CONN_POSTGRES_*``.
Tests share the databases but not their state: each one empties the analytics database and
sets up what it needs, so any test runs alone or in any order. The runs the daily DAG triggers
are read back from Airflow's metadata database (the ORM, in a subprocess). The first tests of
the module check the DAGs' structure without running them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from analytics.engagement.weekly_views import WEEKLY_VIEWS

from .conftest import AIRFLOW, REPO, run_dag_test

PARIS = ZoneInfo("Europe/Paris")
WEEKLY_DAG_ID = "engagement_weekly_views"
SERVER = "postgresql://{user}@{host}:{port}/{database}"


def _url(database: str) -> str:
    return SERVER.format(
        user=os.environ.get("PGUSER", "postgres"),
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=os.environ.get("PGPORT", "54330"),
        database=database,
    )


def _rows(database: str, query: str, params=()) -> list[tuple]:
    with psycopg.connect(_url(database)) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def engagement_databases():
    """Fresh prod and analytics databases filled by the engagement generator (12 weeks from 2024-01-01)."""
    prefix = f"e2e_{uuid.uuid4().hex[:8]}"
    prod, analytics = f"{prefix}_prod", f"{prefix}_analytics"
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        for name in (prod, analytics):
            admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "-m", "scripts.demo_data", "engagement",
         "--seed", "11", "--weeks", "12", "--users", "300", "--events", "12000",
         "--start-monday", "2024-01-01", "--database-url", _url(prod)],
        check=True, capture_output=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    saved = {
        key: os.environ.get(key) for key in ("AIRFLOW_CONN_POSTGRES_PROD", "AIRFLOW_CONN_POSTGRES_ANALYTICS")
    }
    os.environ["AIRFLOW_CONN_POSTGRES_PROD"] = _url(prod).replace("postgresql://", "postgres://")
    os.environ["AIRFLOW_CONN_POSTGRES_ANALYTICS"] = _url(analytics).replace("postgresql://", "postgres://")
    yield prod, analytics
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        for name in (prod, analytics):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _local_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=PARIS)
    end = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=PARIS)
    return start, end


def _events_of_day(database: str, day: date) -> list[tuple]:
    start, end = _local_day_bounds(day)
    return _rows(
        database,
        "SELECT id, date_evenement, categorie, action, nom, id_utilisateur, type_utilisateur, structure, code"
        " FROM evenement_engagement WHERE date_evenement >= %s AND date_evenement < %s ORDER BY id",
        (start, end),
    )


def _view_rows(database: str) -> dict[str, list[tuple]]:
    return {view: sorted(_rows(database, f"SELECT * FROM {view}"), key=repr) for view in WEEKLY_VIEWS}


def _reset_analytics(analytics: str) -> None:
    """An empty analytics database, so a test sees only what it loads."""
    with psycopg.connect(_url(analytics), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _load_days(first_day: date, end_day: date) -> None:
    """What daily runs of [first_day, end_day) leave in analytics, written by the steps' own functions."""
    from analytics.engagement.config import load_engagement_config
    from analytics.engagement.elt import copy_production, enrich_events, load_events
    from analytics.stores.postgres import connect

    config = load_engagement_config()
    start, end = (
        datetime.combine(first_day, datetime.min.time(), PARIS),
        datetime.combine(end_day, datetime.min.time(), PARIS),
    )
    copy_production("postgres_prod", "postgres_analytics", config)
    with connect("postgres_prod") as source, connect("postgres_analytics") as target:
        load_events(source, target, start, end, config)
        enrich_events(target, start, end, config)


# Reads (and deletes) DAG runs in Airflow's metadata database with the ORM, in a subprocess so
# this test process never binds Airflow's settings: argv = dag_id, then run ids to delete first.
DAG_RUNS_SCRIPT = """
import json, sys
from datetime import datetime
from sqlalchemy import select
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunType

def iso(moment):
    return moment.isoformat() if moment else None

dag_id, to_delete, to_add = sys.argv[1], set(json.loads(sys.argv[2])), json.loads(sys.argv[3])
with create_session() as session:
    for run in session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)).all():
        added = {datetime.fromisoformat(add["logical_date"]) for add in to_add}
        if run.run_id in to_delete or run.logical_date in added:
            session.delete(run)
    session.flush()
    for add in to_add:  # a finished scheduled run, as the scheduler leaves it
        start, end = datetime.fromisoformat(add["logical_date"]), datetime.fromisoformat(add["end"])
        session.add(DagRun(
            dag_id=dag_id, run_id=add["run_id"], logical_date=start, run_after=end, data_interval=(start, end),
            run_type=DagRunType.SCHEDULED, state=DagRunState.SUCCESS,
        ))
    session.flush()
    rows = [
        {"run_id": run.run_id, "run_type": str(run.run_type), "state": str(run.state), "conf": run.conf,
         "logical_date": iso(run.logical_date), "data_interval": [iso(run.data_interval_start), iso(run.data_interval_end)]}
        for run in session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)).all()
    ]
print("DAG_RUNS " + json.dumps(rows))
"""


def _dag_runs(
    dag_id: str, *, delete: tuple[str, ...] = (), add_scheduled: tuple[dict, ...] = ()
) -> dict[str, dict]:
    """The runs of ``dag_id`` in the metadata database, by run id, after deleting ``delete`` and adding ``add_scheduled``.

    ``add_scheduled``: ``{"run_id", "logical_date", "end"}`` (ISO), finished scheduled runs as the
    scheduler makes them (an existing run at that logical date is replaced).
    """
    result = subprocess.run(
        [sys.executable, "-c", DAG_RUNS_SCRIPT, dag_id, json.dumps(delete), json.dumps(list(add_scheduled))],
        capture_output=True, text=True, timeout=120, cwd=REPO, env=os.environ.copy(), check=True,
    )  # fmt: skip
    line = next(line for line in result.stdout.splitlines() if line.startswith("DAG_RUNS "))
    return {run["run_id"]: run for run in json.loads(line.removeprefix("DAG_RUNS "))}


def _triggered_runs() -> dict[str, dict]:
    """The weekly views' runs that a daily run triggered (``from_daily__<week>``)."""
    return {
        run_id: run for run_id, run in _dag_runs(WEEKLY_DAG_ID).items() if run_id.startswith("from_daily__")
    }


def _airflow(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [AIRFLOW, *arguments], capture_output=True, text=True, timeout=300, cwd=REPO, env=os.environ.copy()
    )


@pytest.fixture(scope="module")
def own_metadata_db(airflow_metadata_db, tmp_path_factory):
    """A fresh Airflow metadata database for this module's runs, so they never meet another session's.

    `airflow dags test` replaces any run of the same DAG and logical date: two test sessions
    running this module at once on the shared test metadata database would delete each other's
    runs halfway. The database is made in the test stack's cluster and dropped afterwards.
    """
    from tests.airflow_services import metadata_database, migrate_metadata_db

    variable = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    with metadata_database(os.environ) as database_url:
        migrate_metadata_db(tmp_path_factory.mktemp("airflow_home"), os.environ, database_url)
        saved = os.environ.get(variable)
        os.environ[variable] = database_url
        try:
            yield database_url
        finally:
            if saved is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = saved


@pytest.fixture(scope="module")
def weekly_views_unpaused(own_metadata_db):
    """The daily DAG's trigger fails on a paused weekly DAG (fail_when_dag_is_paused): unpause it.

    It stays unpaused: no scheduler runs on the test stack's metadata database, and a test
    module running at the same time must not find it paused again halfway through.
    """
    # In a fresh metadata database the DAGs are not there yet (and `unpause` of a missing DAG succeeds).
    for command in (("dags", "reserialize"), ("dags", "unpause", WEEKLY_DAG_ID)):
        result = _airflow(*command)
        assert result.returncode == 0, result.stderr[-2000:]
    listed = _airflow("dags", "list", "-o", "json")
    dags = json.loads(next(line for line in listed.stdout.splitlines() if line.startswith("[")))
    assert [dag["is_paused"] for dag in dags if dag["dag_id"] == WEEKLY_DAG_ID] == ["False"]


# ---------------------------------------------------------------- structure (parsed, not run)


@pytest.fixture(scope="module")
def engagement_dags():
    from airflow.dag_processing.dagbag import DagBag

    dags = {}
    for name in ("engagement_elt_daily", WEEKLY_DAG_ID):
        bag = DagBag(dag_folder=str(REPO / "dags" / f"{name}.py"))
        assert not bag.import_errors, bag.import_errors
        dags[name] = bag.dags[name]
    return dags


def test_both_timetables_use_the_configured_zone(engagement_dags):
    from analytics.engagement.config import ENGAGEMENT_TIMEZONE, load_engagement_config

    for dag in engagement_dags.values():
        zone = dag.timetable.timezone
        assert getattr(zone, "name", zone) == ENGAGEMENT_TIMEZONE == load_engagement_config().timezone
    for path in (REPO / "dags").glob("engagement_*.py"):
        assert '"Europe/Paris"' not in path.read_text(), f"{path.name} sets its own time zone"


def test_week_params_are_validated_by_json_schema(engagement_dags):
    from airflow.sdk.exceptions import ParamValidationError

    params = engagement_dags[WEEKLY_DAG_ID].params
    for name in ("from_week", "to_week"):
        param = params.get_param(name)
        assert param.schema["format"] == "date" and param.schema["pattern"] == r"^\d{4}-\d{2}-\d{2}$"
        assert param.resolve("2024-01-01") == "2024-01-01"
        assert param.resolve(None) is None
        for wrong in ("2024-1-1", "2024-02-30", "01/01/2024", "2024-01-01T00:00:00"):
            with pytest.raises(ParamValidationError):
                param.resolve(wrong)
    weeks = params.get_param("weeks")
    assert weeks.resolve(["2024-01-01", "2024-01-08"]) == ["2024-01-01", "2024-01-08"]
    assert weeks.resolve(None) is None
    for wrong in (["2024-1-1"], "2024-01-01", [20240101]):
        with pytest.raises(ParamValidationError):
            weeks.resolve(wrong)
    assert params.get_param("wait_for_loaded_days").resolve(False) is False


def test_daily_dag_fails_loudly_and_bounds_its_long_tasks(engagement_dags):
    from analytics.engagement.config import (
        COMPUTE_WEEK_EXECUTION_TIMEOUT,
        COPY_EXECUTION_TIMEOUT,
        LOAD_EXECUTION_TIMEOUT,
        WEEK_LOADED_TIMEOUT,
        load_engagement_config,
    )

    daily, weekly = engagement_dags["engagement_elt_daily"], engagement_dags[WEEKLY_DAG_ID]
    for trigger in ("trigger_weekly_views", "trigger_stale_weeks"):
        assert daily.get_task(trigger).fail_when_dag_is_paused is True
        assert daily.get_task(trigger).trigger_dag_id == WEEKLY_DAG_ID
    # Monday's branch triggers at once: the wait for the week's days is the weekly run's own.
    assert "wait_for_week_loaded" not in daily.task_ids
    assert daily.get_task("branch_on_weekday").downstream_task_ids == {
        "trigger_weekly_views",
        "skip_weekly_views",
    }
    assert daily.get_task("find_stale_weeks").downstream_task_ids == {"trigger_stale_weeks", "no_stale_weeks"}
    assert daily.get_task("enrich_events").downstream_task_ids == {
        "branch_on_weekday",
        "find_stale_weeks",
        "check_events_loaded",  # the data checks read what the run loaded, beside the branches
        "check_event_keys",
        "check_load_log",
    }
    wait = weekly.get_task("wait_for_week_loaded")
    assert wait.mode == "reschedule" and wait.timeout == WEEK_LOADED_TIMEOUT.total_seconds()
    assert weekly.get_task("compute_week").upstream_task_ids == {"weeks_to_compute", "wait_for_week_loaded"}
    assert (
        weekly.get_task("compute_week").partial_kwargs["execution_timeout"] == COMPUTE_WEEK_EXECUTION_TIMEOUT
    )
    assert daily.get_task("copy_production").execution_timeout == COPY_EXECUTION_TIMEOUT
    assert daily.get_task("load_events").execution_timeout == LOAD_EXECUTION_TIMEOUT
    config = load_engagement_config()
    assert timedelta(seconds=config.copy_timeout_seconds) < COPY_EXECUTION_TIMEOUT
    assert timedelta(seconds=config.lock_timeout_seconds) < COMPUTE_WEEK_EXECUTION_TIMEOUT
    # No step starts before the run's day is known: a run without a data interval fails first.
    assert daily.get_task("day_to_load").downstream_task_ids >= {"copy_production", "load_events"}
    assert not daily.get_task("day_to_load").upstream_task_ids


def test_the_weekly_timetable_gives_the_triggered_run_its_week_as_data_interval() -> None:
    """Airflow infers a triggered run's data interval from its run_after: the week, with the Tuesday after it."""
    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    from analytics.engagement.config import ENGAGEMENT_TIMEZONE
    from analytics.engagement.weeks import week_bounds_in_zone, weekly_run_logical_date

    timetable = CronDataIntervalTimetable("0 0 * * 1", timezone=ENGAGEMENT_TIMEZONE)
    for week in (date(2024, 1, 1), date(2024, 3, 25), date(2024, 10, 21)):
        interval = timetable.infer_manual_data_interval(
            run_after=pendulum.instance(weekly_run_logical_date(week, ENGAGEMENT_TIMEZONE))
        )
        assert (interval.start, interval.end) == week_bounds_in_zone(week, ENGAGEMENT_TIMEZONE)


def test_daily_dag_catches_up_from_the_configured_start_date(engagement_dags):
    """Days missed while the scheduler was down or the DAG paused get their runs: catchup from ENGAGEMENT_START_DATE."""
    from analytics.engagement.config import ENGAGEMENT_START_DATE

    daily = engagement_dags["engagement_elt_daily"]
    assert daily.catchup is True
    assert daily.start_date == datetime(2024, 1, 1, tzinfo=PARIS) and ENGAGEMENT_START_DATE == date(
        2024, 1, 1
    )
    assert daily.max_active_runs == 1  # days in order
    # The first run the scheduler makes (the core timetable, as the scheduler has it): the start date's day.
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable("0 0 * * *", timezone=daily.timetable.timezone)
    first = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=daily.start_date, latest=None, catchup=daily.catchup),
    )
    assert (first.data_interval.start, first.data_interval.end) == (
        datetime(2024, 1, 1, tzinfo=PARIS),
        datetime(2024, 1, 2, tzinfo=PARIS),
    )


def test_scheduled_weekly_runs_compute_nothing_other_runs_do(engagement_dags, caplog):
    """The task body of weeks_to_compute, called as Airflow calls it, for each kind of run."""
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowSkipException

    weeks_to_compute = engagement_dags[WEEKLY_DAG_ID].get_task("weeks_to_compute").python_callable
    interval = {
        "data_interval_start": datetime(2024, 1, 15, tzinfo=PARIS),
        "data_interval_end": datetime(2024, 1, 22, tzinfo=PARIS),
    }
    run_after = datetime(2024, 1, 22, tzinfo=PARIS)

    with caplog.at_level("INFO"), pytest.raises(AirflowSkipException, match="week of 2024-01-15"):
        weeks_to_compute(
            params={}, dag_run=SimpleNamespace(run_type="scheduled", run_after=run_after), **interval
        )
    assert "engagement_elt_daily's run for Monday 2024-01-22 triggers this week" in caplog.text
    for run_type in ("backfill", "manual", "operator_triggered"):
        run = SimpleNamespace(run_type=run_type, run_after=run_after)
        assert weeks_to_compute(params={}, dag_run=run, **interval) == ["2024-01-15"]


# ---------------------------------------------------------------- scripts/run_demo.py (the demo's engagement runs)


def test_demo_reset_refuses_anything_but_the_local_demo_stack():
    from scripts.run_demo import check_demo_reset_target

    check_demo_reset_target("demo", "127.0.0.1")
    check_demo_reset_target("demo", "localhost")
    with pytest.raises(SystemExit, match="ANALYTICS_STACK_PROFILE is 'test'"):
        check_demo_reset_target("test", "127.0.0.1")
    with pytest.raises(SystemExit, match="ANALYTICS_STACK_PROFILE is None"):
        check_demo_reset_target(None, "127.0.0.1")
    with pytest.raises(SystemExit, match="host 'warehouse'"):
        check_demo_reset_target("demo", "warehouse")


def test_demo_logs_one_file_per_run_and_reads_the_branch_back(tmp_path):
    from scripts.run_demo import DEMO_RUNS, branch_lines, log_file_name

    names = [log_file_name(run) for run in DEMO_RUNS]
    assert len(set(names)) == len(names)
    assert "engagement_elt_daily__2024-03-05.log" in names
    log = tmp_path / "run.log"
    log.write_text(
        "[2024-03-05T00:00:01Z] {taskinstance} INFO - 2024-03-04 is a Monday: weekly views for the week of 2024-02-26\n"
    )
    assert branch_lines(log) == ["2024-03-04 is a Monday: weekly views for the week of 2024-02-26"]
    not_triggered = "2024-02-26 is a Monday: weekly views for the week of 2024-02-19 not triggered (param weekly_views is false)"
    log.write_text(f"2024-02-27T00:00:01Z [info     ] {not_triggered} [airflow.task]\n")
    assert branch_lines(log) == [not_triggered]
    from analytics.engagement.weeks import week_to_trigger  # the line the branch logs, not one written here

    _, before_start = week_to_trigger(date(2024, 1, 1), True, date(2024, 1, 1))
    log.write_text(f"2024-01-02T00:00:01Z [info     ] {before_start} [airflow.task]\n")
    assert branch_lines(log) == [before_start]
    # the demo's first Monday has no loaded week before it: it must not wait for one
    first_monday = next(run for run in DEMO_RUNS if run.logical_date == "2024-02-27")
    assert first_monday.conf == {"weekly_views": False}


# ---------------------------------------------------------------- end to end


def test_daily_run_loads_the_local_day_of_its_interval_and_triggers_views_on_monday(
    engagement_databases, own_metadata_db, weekly_views_unpaused
):
    prod, analytics = engagement_databases
    _reset_analytics(analytics)
    _load_days(date(2024, 1, 1), date(2024, 1, 8))  # the week before, which the triggered run waits for
    # The weekly DAG's scheduled run of that week, as the scheduler creates it on Monday 00:00 (it
    # computes nothing): the triggered run must not take its logical date, which Airflow keeps unique.
    week_start, week_end = datetime(2024, 1, 1, tzinfo=PARIS), datetime(2024, 1, 8, tzinfo=PARIS)
    _dag_runs(
        WEEKLY_DAG_ID,
        delete=("from_daily__2024-01-01",),
        add_scheduled=(
            {
                "run_id": "scheduled__2024-01-01",
                "logical_date": week_start.isoformat(),
                "end": week_end.isoformat(),
            },
        ),
    )
    # `dags test` with 2024-01-09 runs the interval that ended last before 2024-01-09 00:00 UTC:
    # [Mon 8 Jan 00:00, Tue 9 Jan 00:00) Paris time, the run the scheduler starts on Tuesday at 00:00.
    run = run_dag_test("engagement_elt_daily", "2024-01-09")
    assert run.state == "success", run.output[-4000:]

    expected = _events_of_day(prod, date(2024, 1, 8))
    assert expected, "the generator should produce events on every day"
    assert _events_of_day(analytics, date(2024, 1, 8)) == expected
    assert _events_of_day(analytics, date(2024, 1, 7)) == _events_of_day(prod, date(2024, 1, 7))  # lookback
    monday = "date_evenement >= '2024-01-08 00:00+01' AND date_evenement < '2024-01-09 00:00+01'"
    assert _rows(analytics, f"SELECT DISTINCT day, week FROM evenement_engagement WHERE {monday}") == [
        (date(2024, 1, 8), date(2024, 1, 8))
    ]
    assert _rows(analytics, "SELECT day, events FROM engagement_loaded_days WHERE day = '2024-01-08'") == [
        (date(2024, 1, 8), len(expected))
    ]
    assert "this run loads Monday, 2024-01-08 in Europe/Paris" in run.output
    assert "Following branch {'trigger_weekly_views'}" in run.output
    assert "2024-01-08 is a Monday: weekly views for the week of 2024-01-01" in run.output
    assert "no stale week: every computed week agrees with the load log" in run.output
    triggered = _dag_runs(WEEKLY_DAG_ID).get("from_daily__2024-01-01")
    assert triggered is not None, "the Monday run should have created the weekly views' run"
    assert triggered["conf"] == {"from_week": "2024-01-01", "wait_for_loaded_days": True}
    assert triggered["run_type"] == "operator_triggered"
    # Its logical date comes from the week (the Tuesday after it, 00:00 Paris), never "now"; its
    # data interval is the week.
    assert datetime.fromisoformat(triggered["logical_date"]) == datetime(2024, 1, 9, tzinfo=PARIS)
    assert [datetime.fromisoformat(moment) for moment in triggered["data_interval"]] == [week_start, week_end]
    # What the scheduler then runs, with that conf: the sensor reads the weeks from weeks_to_compute's
    # XCom, finds the week whole, and the week is written.
    weekly = run_dag_test(WEEKLY_DAG_ID, "2024-01-09", triggered["conf"])
    assert weekly.state == "success", weekly.output[-4000:]
    assert "week 2024-01-01: its 7 days are loaded and enriched" in weekly.output
    assert {row[0] for row in _view_rows(analytics)["analytics_engagement_national"]} == {date(2024, 1, 1)}
    assert _rows(analytics, "SELECT week FROM engagement_computed_weeks") == [(date(2024, 1, 1),)]
    assert _rows(analytics, "SELECT count(*) FROM agence")[0][0] > 0, (
        "copy_production should bring the reference tables"
    )
    assert not _rows(
        analytics, "SELECT 1 FROM pg_tables WHERE tablename IN ('log_api_partenaire', 'log_job')"
    )


def test_a_monday_run_with_weekly_views_false_loads_its_day_only(engagement_databases, own_metadata_db):
    """The first Monday after the ELT starts: its week before was never loaded, so nothing waits for it."""
    prod, analytics = engagement_databases
    _reset_analytics(analytics)
    triggered_before = _triggered_runs()

    run = run_dag_test("engagement_elt_daily", "2024-01-16", {"weekly_views": False})

    assert run.state == "success", run.output[-4000:]
    assert "Following branch {'skip_weekly_views'}" in run.output
    assert (
        "2024-01-15 is a Monday: weekly views for the week of 2024-01-08 not triggered (param weekly_views is false)"
    ) in run.output
    assert _triggered_runs() == triggered_before
    assert _events_of_day(analytics, date(2024, 1, 15)) == _events_of_day(prod, date(2024, 1, 15))


def test_daily_run_on_a_tuesday_skips_the_weekly_views(engagement_databases, own_metadata_db):
    prod, analytics = engagement_databases
    _reset_analytics(analytics)
    triggered_before = _triggered_runs()

    run = run_dag_test("engagement_elt_daily", "2024-01-10")

    assert run.state == "success", run.output[-4000:]
    assert "Following branch {'skip_weekly_views'}" in run.output
    assert "2024-01-09 is a Tuesday: no weekly views today" in run.output
    assert _triggered_runs() == triggered_before  # the metadata DB is shared: look only at from_daily__ runs
    assert _events_of_day(analytics, date(2024, 1, 9)) == _events_of_day(prod, date(2024, 1, 9))
    # the run's day and its lookback day (lookback_days 1), nothing else
    assert _rows(analytics, "SELECT DISTINCT day FROM evenement_engagement ORDER BY day") == [
        (date(2024, 1, 8),),
        (date(2024, 1, 9),),
    ]


def test_rerunning_a_day_leaves_identical_rows(engagement_databases, own_metadata_db):
    _, analytics = engagement_databases
    _reset_analytics(analytics)
    _load_days(date(2024, 1, 8), date(2024, 1, 11))  # what the runs of 8, 9 and 10 January leave
    before = _rows(analytics, "SELECT * FROM evenement_engagement ORDER BY id")
    assert {row[-4] for row in before} == {date(2024, 1, 8), date(2024, 1, 9), date(2024, 1, 10)}

    run = run_dag_test("engagement_elt_daily", "2024-01-10")  # the day of 9 January, again

    assert run.state == "success", run.output[-4000:]
    assert "events [2024-01-08T23:00:00+00:00, 2024-01-09T23:00:00+00:00)" in run.output
    assert _rows(analytics, "SELECT * FROM evenement_engagement ORDER BY id") == before


# `airflow dags test` always gives a logical date; a run triggered without one (`airflow dags
# trigger DAG` with no -l, or the UI's trigger form left empty) has no data interval. DAG.test
# with logical_date=None makes exactly that run, in a subprocess like run_dag_test.
NO_LOGICAL_DATE_SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag

dag_id, conf = sys.argv[1], json.loads(sys.argv[2])
dag = DagBag(dag_folder=f"dags/{dag_id}.py").dags[dag_id]
run = dag.test(logical_date=None, run_conf=conf)
states = {}
for ti in run.get_task_instances():
    states.setdefault(ti.task_id, []).append(str(ti.state))
print("RUN " + json.dumps({"state": str(run.state), "interval": str(run.data_interval_start), "tasks": states}))
"""


def _run_without_logical_date(dag_id: str, conf: dict | None = None) -> tuple[dict, str]:
    result = subprocess.run(
        [sys.executable, "-c", NO_LOGICAL_DATE_SCRIPT, dag_id, json.dumps(conf or {})],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "plugins")},
    )  # fmt: skip
    output = result.stdout + result.stderr
    line = next((line for line in result.stdout.splitlines() if line.startswith("RUN ")), None)
    assert line, output[-4000:]
    return json.loads(line.removeprefix("RUN ")), output


def test_runs_without_a_logical_date(engagement_databases, own_metadata_db):
    """No data interval: the daily DAG fails at once, saying how to trigger it; the weekly views take their weeks from params."""
    _, analytics = engagement_databases
    _reset_analytics(analytics)

    daily, output = _run_without_logical_date("engagement_elt_daily")
    assert (daily["state"], daily["interval"]) == ("failed", "None")
    assert daily["tasks"]["day_to_load"] == ["failed"]
    assert daily["tasks"]["copy_production"] == daily["tasks"]["load_events"] == ["upstream_failed"]
    assert "trigger it with a logical date: the run loads the local day before it" in output
    assert "AttributeError" not in output

    without_params, output = _run_without_logical_date(WEEKLY_DAG_ID)
    assert without_params["state"] == "failed"
    assert without_params["tasks"]["weeks_to_compute"] == ["failed"]
    assert "no params, so it has no week to compute: give from_week" in output

    _load_days(date(2024, 1, 8), date(2024, 1, 15))
    ranged, output = _run_without_logical_date(WEEKLY_DAG_ID, {"from_week": "2024-01-08"})
    assert ranged["state"] == "success", output[-4000:]
    assert ranged["tasks"]["compute_week"] == ["success"]
    assert "1 week(s) to compute: 2024-01-08 .. 2024-01-08" in output
    assert {row[0] for row in _view_rows(analytics)["analytics_engagement_national"]} == {date(2024, 1, 8)}


def _truncate_views(analytics: str) -> None:
    with psycopg.connect(_url(analytics), autocommit=True) as conn:
        for view in WEEKLY_VIEWS:
            conn.execute(f"TRUNCATE {view}")


def test_manual_range_equals_one_run_per_week(engagement_databases, own_metadata_db):
    """A manual run over three weeks (mapped) writes exactly what three single-week runs write."""
    prod, analytics = engagement_databases
    _reset_analytics(analytics)
    _load_days(date(2024, 1, 1), date(2024, 2, 12))

    ranged = run_dag_test(WEEKLY_DAG_ID, "2024-02-12", {"from_week": "2024-01-15", "to_week": "2024-01-29"})
    assert ranged.state == "success", ranged.output[-4000:]
    assert "3 week(s) to compute: 2024-01-15 .. 2024-01-29" in ranged.output
    from_range = _view_rows(analytics)
    assert {week for (week, *_rest) in from_range["analytics_engagement_national"]} == {
        date(2024, 1, 15), date(2024, 1, 22), date(2024, 1, 29),
    }  # fmt: skip

    # Not only self-consistent: the events per (structure, user type, categorie) of each week, counted
    # here from production's rows and their Paris dates, are the view's categorie grain.
    for week in (date(2024, 1, 15), date(2024, 1, 22), date(2024, 1, 29)):
        assert _categorie_counts(analytics, week) == _categorie_counts_from_source(prod, week), week

    _truncate_views(analytics)
    for logical_date in ("2024-01-22", "2024-01-29", "2024-02-05"):
        # no params: each run (manual, as `dags test` makes it) computes the week of its own interval
        single = run_dag_test(WEEKLY_DAG_ID, logical_date)
        assert single.state == "success", single.output[-4000:]
    assert _view_rows(analytics) == from_range


def _categorie_counts(analytics: str, week: date) -> dict[tuple, int]:
    rows = _rows(
        analytics,
        "SELECT structure, type_utilisateur, categorie, nombre_evenements FROM analytics_fonctionnalites"
        " WHERE week = %s AND grain = 'categorie'",
        (week,),
    )
    return {tuple(row[:3]): row[3] for row in rows}


def _categorie_counts_from_source(prod: str, week: date) -> dict[tuple, int]:
    """Counted in Python from production's rows: the events of the week's Paris days, with a structure."""
    counts: dict[tuple, int] = {}
    start = datetime.combine(week, datetime.min.time(), PARIS) - timedelta(days=1)
    rows = _rows(
        prod,
        "SELECT date_evenement, structure, type_utilisateur, categorie FROM evenement_engagement"
        " WHERE date_evenement >= %s AND date_evenement < %s",
        (start, start + timedelta(days=9)),
    )
    for moment, structure, user_type, categorie in rows:
        day = moment.astimezone(PARIS).date()
        if week <= day < week + timedelta(days=7) and structure is not None:
            key = (structure, user_type, categorie)
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_backfill_over_three_weeks_gives_the_rows_of_three_weekly_runs(engagement_databases, tmp_path):
    """`airflow backfill create` on a real scheduler recomputes exactly what the weekly runs wrote."""
    from tests.airflow_services import run_backfill

    prod, analytics = engagement_databases
    _reset_analytics(analytics)
    _load_days(date(2024, 1, 1), date(2024, 2, 12))
    for logical_date in ("2024-01-22", "2024-01-29", "2024-02-05"):
        weekly = run_dag_test(WEEKLY_DAG_ID, logical_date)
        assert weekly.state == "success", weekly.output[-4000:]
    from_weekly_runs = _view_rows(analytics)
    assert len({row[0] for row in from_weekly_runs["analytics_engagement"]}) == 3

    _truncate_views(analytics)
    runs = run_backfill(
        tmp_path / "airflow",
        WEEKLY_DAG_ID,
        datetime(2024, 1, 15, tzinfo=PARIS),
        datetime(2024, 1, 29, tzinfo=PARIS),
        dags_folder=REPO / "dags",
        timeout=300,
    )

    assert [run.state for run in runs] == ["success"] * 3
    assert [run.data_interval_start.astimezone(PARIS).date() for run in runs] == [
        date(2024, 1, 15), date(2024, 1, 22), date(2024, 1, 29),
    ]  # fmt: skip
    assert _view_rows(analytics) == from_weekly_runs
    for week in (
        date(2024, 1, 15),
        date(2024, 1, 22),
        date(2024, 1, 29),
    ):  # and right, counted from the source
        assert _categorie_counts(analytics, week) == _categorie_counts_from_source(prod, week), week


@pytest.mark.slow
def test_a_backfill_of_30_days_four_at_a_time_leaves_what_30_single_runs_leave(
    engagement_databases, tmp_path
):
    """`airflow backfill create --max-active-runs 4` of the daily ELT, 8 January to 6 February.

    Airflow 3.3.2's scheduler holds a backfill's runs to the backfill's ``max_active_runs``, not
    to the DAG's (1): four days load at once, and each run's lookback rewrites the day before,
    which another run may be loading. The events and the load log must equal what the steps leave
    when run one day after another (``_load_days``, the functions the tasks call).
    """
    from tests.airflow_services import run_backfill

    first, days = date(2024, 1, 8), 30
    events = "SELECT * FROM evenement_engagement ORDER BY id"
    load_log = (
        "SELECT day, events, fingerprint, enriched_at IS NOT NULL FROM engagement_loaded_days ORDER BY day"
    )
    prod, analytics = engagement_databases
    _reset_analytics(analytics)
    _load_days(first - timedelta(days=1), first + timedelta(days=days))  # the first run's lookback too
    single_runs = (_rows(analytics, events), _rows(analytics, load_log))
    assert len(single_runs[1]) == days + 1 and all(row[1] > 0 for row in single_runs[1])

    _reset_analytics(analytics)
    runs = run_backfill(
        tmp_path / "airflow",
        "engagement_elt_daily",
        datetime.combine(first, datetime.min.time(), PARIS),
        datetime.combine(first + timedelta(days=days - 1), datetime.min.time(), PARIS),
        dags_folder=REPO / "dags",
        timeout=1500,
        max_active_runs=4,
        dag_run_conf={"weekly_views": False},  # the views' own backfill test covers them
    )

    assert [run.state for run in runs] == ["success"] * days
    assert [run.data_interval_start.astimezone(PARIS).date() for run in runs] == [
        first + timedelta(days=offset) for offset in range(days)
    ]
    assert (_rows(analytics, events), _rows(analytics, load_log)) == single_runs


def test_a_changed_day_recomputes_its_weeks_through_the_weekly_dag(
    engagement_databases, own_metadata_db, weekly_views_unpaused
):
    """A late row on Sunday 7 January: the next daily run reloads the day (lookback) and triggers the stale week."""
    from analytics.engagement.config import load_engagement_config
    from analytics.engagement.weekly_views import recompute_week

    prod, analytics = engagement_databases
    _reset_analytics(analytics)
    _load_days(date(2024, 1, 1), date(2024, 1, 9))
    recompute_week("postgres_analytics", date(2024, 1, 1), load_engagement_config())
    national_before = _view_rows(analytics)["analytics_engagement_national"]
    with psycopg.connect(_url(prod), autocommit=True) as conn:  # a young person's late event, Sunday noon
        conn.execute(
            "INSERT INTO evenement_engagement (id, date_evenement, categorie, action, nom, id_utilisateur,"
            " type_utilisateur, structure, code) VALUES (99000001, '2024-01-07 12:00+01', 'Action', 'Creation',"
            " 'Action', 'late-user', 'JEUNE', 'MILO', 'ACTION_CREEE')"
        )

    run = run_dag_test("engagement_elt_daily", "2024-01-10")  # Tuesday 9 January and its lookback, Monday 8
    assert run.state == "success", run.output[-4000:]
    assert "Following branch {'no_stale_weeks'}" in run.output  # Sunday 7 is not in this run's days
    run = run_dag_test("engagement_elt_daily", "2024-01-09")  # Monday 8 January, lookback Sunday 7

    assert run.state == "success", run.output[-4000:]
    assert "1 stale week(s): their views read days whose content changed since" in run.output
    assert "stale week 2024-01-01 (computed " in run.output and "): 2024-01-07" in run.output
    assert "Following branch {'trigger_stale_weeks'}" in run.output
    stale_runs = {
        run_id: stale
        for run_id, stale in _dag_runs(WEEKLY_DAG_ID).items()
        if run_id.startswith("stale_weeks__2024-01-08__")
    }
    assert [stale["conf"] for stale in stale_runs.values()] == [{"weeks": ["2024-01-01"]}]
    assert [stale["logical_date"] for stale in stale_runs.values()] == [None]

    # What the scheduler then runs: the weekly views with that conf.
    recompute = run_dag_test(WEEKLY_DAG_ID, "2024-01-09", next(iter(stale_runs.values()))["conf"])
    assert recompute.state == "success", recompute.output[-4000:]
    national_after = _view_rows(analytics)["analytics_engagement_national"]
    assert national_after != national_before  # late-user is in the week of 1 January now
    assert _rows(analytics, "SELECT count(*) FROM engagement_stale_weeks") == [(0,)]
    again = run_dag_test("engagement_elt_daily", "2024-01-09")  # an identical reload: nothing stale
    assert "no stale week" in again.output and "Following branch {'no_stale_weeks'}" in again.output
