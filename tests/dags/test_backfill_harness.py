"""End to end: a real backfill (api-server, scheduler, dag-processor) of a throwaway weekly DAG.

Proves the harness in ``tests/airflow_services.py``: a fresh AIRFLOW_HOME (so the shared test
metadata database stays clean), a temporary dags folder holding one DAG on the same kind of
timetable as ``engagement_weekly_views`` (weekly, Monday midnight, Europe/Paris), a backfill over
three weeks, and one file per run holding the run's data interval.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.airflow_services import airflow_services, migrate_metadata_db

pytestmark = pytest.mark.slow

DAG_ID = "backfill_harness_probe"
PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")

PROBE_DAG = '''
"""Throwaway DAG for the backfill harness test: one file per run with its data interval."""

from pathlib import Path

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

OUT = Path({out!r})


@dag(
    dag_id={dag_id!r},
    schedule=CronDataIntervalTimetable("0 0 * * 1", timezone="Europe/Paris"),
    start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Paris"),
    catchup=False,
    default_args={{"retries": 0}},
    tags=["test"],
)
def probe():
    @task
    def record_interval(data_interval_start=None, data_interval_end=None):
        week = data_interval_start.in_timezone("Europe/Paris").date().isoformat()
        (OUT / f"{{week}}.txt").write_text(
            f"{{data_interval_start.isoformat()}} {{data_interval_end.isoformat()}}"
        )

    record_interval()


probe()
'''


def test_backfill_runs_three_weekly_intervals(tmp_path):
    started = time.monotonic()
    airflow_home = tmp_path / "airflow"
    dags_folder = tmp_path / "dags"
    out = tmp_path / "out"
    dags_folder.mkdir()
    out.mkdir()
    (dags_folder / f"{DAG_ID}.py").write_text(PROBE_DAG.format(out=str(out), dag_id=DAG_ID))

    migrate_metadata_db(airflow_home, os.environ)
    migrated = time.monotonic()
    with airflow_services(airflow_home, os.environ, dags_folder=dags_folder) as services:
        healthy = time.monotonic()
        services.wait_for_dag_serialized(DAG_ID)
        services.unpause(DAG_ID)
        serialized = time.monotonic()
        backfill_id = services.create_backfill(
            DAG_ID, datetime(2024, 1, 1, tzinfo=PARIS), datetime(2024, 1, 15, tzinfo=PARIS)
        )
        runs = services.wait_for_backfill(backfill_id)
        finished = time.monotonic()
        every_run = services.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
    stopped = time.monotonic()
    print(
        f"\n[backfill harness] migrate {migrated - started:.1f}s, services healthy {healthy - migrated:.1f}s,"
        f" dag serialised {serialized - healthy:.1f}s, backfill of {len(runs)} runs {finished - serialized:.1f}s,"
        f" stop {stopped - finished:.1f}s, total {stopped - started:.1f}s"
    )

    weeks = ["2024-01-01", "2024-01-08", "2024-01-15"]
    expected_starts = [datetime.fromisoformat(week).replace(tzinfo=PARIS) for week in weeks]
    assert [(run.logical_date, run.state) for run in runs] == [(start, "success") for start in expected_starts]
    assert [run.data_interval_start for run in runs] == expected_starts
    assert len(every_run) == 3, "unpausing must not add scheduled runs to the backfill's"
    assert sorted(path.name for path in out.iterdir()) == [f"{week}.txt" for week in weeks]
    for week, run in zip(weeks, runs, strict=True):
        interval_start, interval_end = (Path(out / f"{week}.txt").read_text()).split()
        assert datetime.fromisoformat(interval_start) == run.data_interval_start
        assert datetime.fromisoformat(interval_end) == run.data_interval_end
        assert datetime.fromisoformat(interval_start).astimezone(UTC).hour == 23  # Paris midnight in winter
