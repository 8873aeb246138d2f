"""End to end: `airflow dags test` of the engagement DAGs on generated production data.

Each test module gets its own pair of databases (``e2e_<uuid>_prod`` / ``e2e_<uuid>_analytics``)
on the test stack's PostgreSQL, and the DAG runs see them through ``AIRFLOW_CONN_POSTGRES_*``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from analytics.engagement.weekly_views import WEEKLY_VIEWS

from .conftest import REPO, run_dag_test

PARIS = ZoneInfo("Europe/Paris")
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
        [sys.executable, str(REPO / "scripts" / "generate_engagement_data.py"),
         "--seed", "11", "--weeks", "12", "--users", "300", "--events", "12000",
         "--start-monday", "2024-01-01", "--database-url", _url(prod)],
        check=True, capture_output=True, timeout=300,
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


def test_daily_run_loads_the_local_day_of_its_interval_and_triggers_views_on_monday(
    engagement_databases, airflow_metadata_db
):
    prod, analytics = engagement_databases
    # `dags test` with 2024-01-09 runs the interval that ended last before 2024-01-09 00:00 UTC:
    # [Mon 8 Jan 00:00, Tue 9 Jan 00:00) Paris time, the run the scheduler starts on Tuesday at 00:00.
    run = run_dag_test("engagement_elt_daily", "2024-01-09")
    assert run.state == "success", run.output[-4000:]

    expected = _events_of_day(prod, date(2024, 1, 8))
    assert expected, "the generator should produce events on every day"
    assert _events_of_day(analytics, date(2024, 1, 8)) == expected
    assert _rows(analytics, "SELECT count(*) FROM evenement_engagement")[0][0] == len(expected)
    assert _rows(analytics, "SELECT DISTINCT day, week FROM evenement_engagement") == [
        (date(2024, 1, 8), date(2024, 1, 8))
    ]
    assert "Following branch {'trigger_weekly_views'}" in run.output
    assert "Dag Run triggered successfully" in run.output
    assert "2024-01-08 is a Monday: weekly views for the week of 2024-01-01" in run.output
    assert _rows(analytics, "SELECT count(*) FROM agence")[0][0] > 0, (
        "copy_production should bring the reference tables"
    )
    assert not _rows(
        analytics, "SELECT 1 FROM pg_tables WHERE tablename IN ('log_api_partenaire', 'log_job')"
    )


def test_daily_run_on_a_tuesday_skips_the_weekly_views(engagement_databases, airflow_metadata_db):
    _, analytics = engagement_databases
    run = run_dag_test("engagement_elt_daily", "2024-01-10")
    assert run.state == "success", run.output[-4000:]
    assert "Following branch {'skip_weekly_views'}" in run.output
    assert "Dag Run triggered successfully" not in run.output
    assert _rows(analytics, "SELECT count(*) FROM evenement_engagement WHERE day = '2024-01-09'")[0][0] > 0


def test_rerunning_a_day_leaves_identical_rows(engagement_databases, airflow_metadata_db):
    _, analytics = engagement_databases
    before = _rows(analytics, "SELECT * FROM evenement_engagement ORDER BY id")
    run = run_dag_test("engagement_elt_daily", "2024-01-09")
    assert run.state == "success", run.output[-4000:]
    assert _rows(analytics, "SELECT * FROM evenement_engagement ORDER BY id") == before


def _load_and_enrich_six_weeks() -> None:
    """What six weeks of daily runs leave in analytics, written directly (the daily DAG is tested above)."""
    from analytics.engagement.config import load_engagement_config
    from analytics.operators.engagement import copy_production, enrich_events, load_events
    from analytics.stores.postgres import connect

    config = load_engagement_config()
    start, end = datetime(2024, 1, 1, tzinfo=PARIS), datetime(2024, 2, 12, tzinfo=PARIS)
    copy_production("postgres_prod", "postgres_analytics", config)
    with connect("postgres_prod") as source, connect("postgres_analytics") as target:
        load_events(source, target, start, end, config)
        enrich_events(target, start, end, config)


def _truncate_views(analytics: str) -> None:
    with psycopg.connect(_url(analytics), autocommit=True) as conn:
        for view in WEEKLY_VIEWS:
            conn.execute(f"TRUNCATE {view}")


def test_manual_range_equals_one_run_per_week(engagement_databases, airflow_metadata_db):
    """A manual run over three weeks (mapped) writes exactly what three single-week runs write."""
    _, analytics = engagement_databases
    _load_and_enrich_six_weeks()

    ranged = run_dag_test(
        "engagement_weekly_views", "2024-02-12", {"from_week": "2024-01-15", "to_week": "2024-01-29"}
    )
    assert ranged.state == "success", ranged.output[-4000:]
    assert "3 week(s) to compute: 2024-01-15 .. 2024-01-29" in ranged.output
    from_range = _view_rows(analytics)
    assert {week for (week, *_rest) in from_range["analytics_engagement_national"]} == {
        date(2024, 1, 15), date(2024, 1, 22), date(2024, 1, 29),
    }  # fmt: skip

    _truncate_views(analytics)
    for logical_date in ("2024-01-22", "2024-01-29", "2024-02-05"):
        # no params: each run computes the week of its own interval (the scheduled path)
        single = run_dag_test("engagement_weekly_views", logical_date)
        assert single.state == "success", single.output[-4000:]
    assert _view_rows(analytics) == from_range


def test_backfill_over_three_weeks_gives_the_rows_of_three_weekly_runs(engagement_databases, tmp_path):
    """`airflow backfill create` on a real scheduler recomputes exactly what the weekly runs wrote."""
    from tests.airflow_services import airflow_services, migrate_metadata_db

    _, analytics = engagement_databases
    _load_and_enrich_six_weeks()
    _truncate_views(analytics)
    for logical_date in ("2024-01-22", "2024-01-29", "2024-02-05"):
        weekly = run_dag_test("engagement_weekly_views", logical_date)
        assert weekly.state == "success", weekly.output[-4000:]
    from_weekly_runs = _view_rows(analytics)
    assert len({row[0] for row in from_weekly_runs["analytics_engagement"]}) == 3

    _truncate_views(analytics)
    home = tmp_path / "airflow"
    migrate_metadata_db(home, os.environ)
    with airflow_services(home, os.environ, dags_folder=REPO / "dags") as services:
        services.wait_for_dag_serialized("engagement_weekly_views", timeout=120)
        services.unpause("engagement_weekly_views")
        backfill = services.create_backfill(
            "engagement_weekly_views",
            datetime(2024, 1, 15, tzinfo=PARIS),
            datetime(2024, 1, 29, tzinfo=PARIS),
        )
        runs = services.wait_for_backfill(backfill, timeout=300)

    assert [run.state for run in runs] == ["success"] * 3
    assert [run.data_interval_start.astimezone(PARIS).date() for run in runs] == [
        date(2024, 1, 15), date(2024, 1, 22), date(2024, 1, 29),
    ]  # fmt: skip
    assert _view_rows(analytics) == from_weekly_runs
