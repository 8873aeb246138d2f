"""End to end: a real backfill (api-server, scheduler, dag-processor) of a throwaway weekly DAG.

Proves the harness in ``tests/airflow_services.py``: a fresh AIRFLOW_HOME and a fresh PostgreSQL
metadata database (so the shared test metadata database stays clean), a temporary dags folder holding one DAG on the same kind of
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

from tests.airflow_services import airflow_services, metadata_database, migrate_metadata_db

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


def _interval_files(out: Path) -> dict[str, tuple[datetime, datetime]]:
    """What the probe wrote: Paris week start -> (data interval start, data interval end)."""
    files = {}
    for path in sorted(out.iterdir()):
        start, end = path.read_text().split()
        files[path.stem] = (datetime.fromisoformat(start), datetime.fromisoformat(end))
    return files


def test_backfill_runs_three_weekly_intervals_then_reruns_one(tmp_path):
    started = time.monotonic()
    airflow_home = tmp_path / "airflow"
    dags_folder = tmp_path / "dags"
    out = tmp_path / "out"
    dags_folder.mkdir()
    out.mkdir()
    (dags_folder / f"{DAG_ID}.py").write_text(PROBE_DAG.format(out=str(out), dag_id=DAG_ID))
    weeks = ["2024-01-01", "2024-01-08", "2024-01-15"]
    paris_midnights = [datetime.fromisoformat(week).replace(tzinfo=PARIS) for week in weeks]

    with metadata_database(os.environ) as database_url:
        migrate_metadata_db(airflow_home, os.environ, database_url)
        migrated = time.monotonic()
        with airflow_services(
            airflow_home, os.environ, database_url=database_url, dags_folder=dags_folder
        ) as services:
            healthy = time.monotonic()
            services.wait_for_dag_serialized(DAG_ID)
            services.unpause(DAG_ID)
            serialized = time.monotonic()

            backfill_id = services.create_backfill(DAG_ID, paris_midnights[0], paris_midnights[-1])
            runs = services.wait_for_backfill(backfill_id)
            first_done = time.monotonic()
            assert [(run.logical_date, run.state) for run in runs] == [
                (midnight, "success") for midnight in paris_midnights
            ]
            assert [run.data_interval_start for run in runs] == paris_midnights
            files = _interval_files(out)
            assert files == {
                week: (run.data_interval_start, run.data_interval_end)
                for week, run in zip(weeks, runs, strict=True)
            }
            assert all(start.astimezone(UTC).hour == 23 for start, _ in files.values())  # Paris, winter

            # Reprocess the middle week: the same run is cleared and run again, no new run appears.
            (out / f"{weeks[1]}.txt").unlink()
            rerun_id = services.create_backfill(
                DAG_ID, paris_midnights[1], paris_midnights[1], reprocess_behavior="completed"
            )
            reruns = services.wait_for_backfill(rerun_id)
            second_done = time.monotonic()
            assert [(run.run_id, run.state) for run in reruns] == [(runs[1].run_id, "success")]
            assert _interval_files(out) == files
            every_run = services.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
            assert len(every_run) == 3, "unpausing must not add scheduled runs to the backfill's"
    stopped = time.monotonic()
    print(
        f"\n[backfill harness] migrate {migrated - started:.1f}s, services healthy {healthy - migrated:.1f}s,"
        f" dag serialised {serialized - healthy:.1f}s, backfill of 3 runs {first_done - serialized:.1f}s,"
        f" rerun of 1 {second_done - first_done:.1f}s, stop {stopped - second_done:.1f}s,"
        f" total {stopped - started:.1f}s"
    )
