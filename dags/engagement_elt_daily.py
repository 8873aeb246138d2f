"""
# Engagement ELT, daily

Copies production's reference tables into the analytics database and loads **one local day** of
engagement events (`evenement_engagement`), then enriches them; the run for a Monday triggers
the weekly views for the week that just ended.

**Schedule.** `CronDataIntervalTimetable("0 0 * * *", Europe/Paris)` (the zone is
`ENGAGEMENT_TIMEZONE` in `plugins/analytics/engagement/config.py`, the one place it is set):
each run's data interval is one local day `[D 00:00, D+1 00:00)` (23 or 25 hours on DST
changes) and the run starts when that day is over. A plain cron string would, in Airflow 3, give
zero-length intervals at the run time; the interval timetable is chosen so that the day loaded is
the interval's day. `max_active_runs=1` keeps days in order.

**Manual runs need a logical date.** `airflow dags trigger engagement_elt_daily -l 2024-01-09`
loads the local day before it (Monday 8 January; being a Monday, it then waits for the week of
1 January, unless the conf says `{"weekly_views": false}`). A run triggered without a logical
date has no data interval: `day_to_load` fails at once, without retries, and says so.

**Tasks.**
1. `day_to_load`: the local day of the run's data interval (logged, and used by the branch).
2. `copy_production`: `pg_dump -Fc --schema=public | pg_restore --clean --if-exists` of `prod`
   into `analytics`: the tables (and their sequences, types, functions) of the **public schema
   only**, without the event and log tables (`tables_not_copied` in
   `include/config/engagement.json`); other schemas and extensions are not copied. It stops
   `pg_dump` and `pg_restore` and fails after `copy_timeout_seconds` (1 hour), and when the task
   is killed; `execution_timeout` 2 hours. Refuses to run when the target is the source or is
   named like production (`production_database_names`).
3. `load_events`: deletes the interval's events in analytics and streams the source's with
   `COPY ... TO STDOUT` into `COPY ... FROM STDIN`, in one transaction, then checks the row
   count against the source's. Rerunning a day gives the same rows. `execution_timeout` 1 hour.
4. `enrich_events`: adds `week`, `day`, `agence`, `department`, `region` (idempotent schema step)
   and fills them for the interval's events, in the configured time zone.
5. `branch_on_weekday`: on the run whose day is a Monday (it executes on Tuesday, when the week
   before is over, Sunday included), `wait_for_week_loaded` waits until the load log
   (`engagement_loaded_days`, written by `load_events` and `enrich_events`) holds the week's
   seven days, loaded and enriched; then `trigger_weekly_views` starts
   `engagement_weekly_views` as run `from_daily__<week>` with conf `{"from_week": "<week>"}`:
   this is the run that writes the week (the weekly DAG's own scheduled runs compute nothing,
   they would start before Sunday's events are loaded). On other days `skip_weekly_views`. The
   branch is visible in the grid. The wait is there because `max_active_runs=1` does not keep
   every day before Monday: a failed Sunday does not stop Monday's run, and a backfill runs up to
   its own `--max-active-runs` days at once.

**Params.** `weekly_views` (default true): false makes a Monday's run load its day without
triggering the weekly views, e.g. the first Monday after the ELT starts, whose week before was
never loaded (the wait would time out).

**When it fails.** `day_to_load`: the run has no data interval; trigger it with a logical date.
A guard error means a connection points at production: fix `postgres_analytics`. A count
mismatch in `load_events` means the source changed during the copy or rows were refused: clear
the task to rerun the day (it replaces the day). Any `pg_dump`/`pg_restore` error or timeout
fails `copy_production` with its stderr in the log. `trigger_weekly_views` fails when
`engagement_weekly_views` is paused (`fail_when_dag_is_paused`): unpause it and clear the task,
or the week's views are not written. `wait_for_week_loaded` fails, without retries, when the
week is still incomplete after 6 hours; its log lists the missing days: rerun those days, then
clear it.

**Owner.** data-engineering (engagement analytics).
"""

from __future__ import annotations

import logging

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from analytics.dag_defaults import default_args
from analytics.engagement.config import (
    COPY_EXECUTION_TIMEOUT,
    ENGAGEMENT_TIMEZONE,
    LOAD_EXECUTION_TIMEOUT,
    WEEK_LOADED_POKE_INTERVAL,
    WEEK_LOADED_TIMEOUT,
)
from analytics.operators.engagement import (
    CopyProductionOperator,
    EnrichEventsOperator,
    LoadEventsOperator,
    WeekLoadedSensor,
)

log = logging.getLogger(__name__)


@dag(
    dag_id="engagement_elt_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=ENGAGEMENT_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=ENGAGEMENT_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=default_args(),
    tags=["engagement", "postgres", "ingestion", "daily"],
    params={
        "weekly_views": Param(
            True,
            type="boolean",
            description=(
                "On a Monday's run, trigger the weekly views of the week that just ended once its "
                "seven days are loaded. False loads the day only: for the first Monday after the "
                "ELT starts, whose week before was never loaded."
            ),
        ),
    },
)
def engagement_elt_daily():
    @task
    def day_to_load(data_interval_start=None, data_interval_end=None) -> str:
        """The local day this run loads; fails at once, without retrying, when the run has no data interval."""
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.engagement.weeks import daily_run_day

        try:
            day = daily_run_day(data_interval_start, data_interval_end, ENGAGEMENT_TIMEZONE)
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        log.info("this run loads %s, %s in %s", f"{day:%A}", day, ENGAGEMENT_TIMEZONE)
        return day.isoformat()

    @task.branch
    def branch_on_weekday(day: str, ti=None, params=None) -> str:
        """Monday's run triggers the weekly views for the week that just ended; other days skip."""
        from datetime import date

        from analytics.engagement.weeks import week_that_just_ended

        run_day = date.fromisoformat(day)
        week = week_that_just_ended(run_day)
        if week is None:
            log.info("%s is a %s: no weekly views today", run_day, f"{run_day:%A}")
            return "skip_weekly_views"
        if not (params or {}).get("weekly_views", True):
            log.info(
                "%s is a Monday: weekly views for the week of %s not triggered (param weekly_views is false)",
                run_day,
                week,
            )
            return "skip_weekly_views"
        ti.xcom_push(key="week", value=week.isoformat())
        log.info("%s is a Monday: weekly views for the week of %s", run_day, week)
        return "wait_for_week_loaded"

    day = day_to_load()
    copy_production = CopyProductionOperator(
        task_id="copy_production", execution_timeout=COPY_EXECUTION_TIMEOUT
    )
    load_events = LoadEventsOperator(task_id="load_events", execution_timeout=LOAD_EXECUTION_TIMEOUT)
    enrich_events = EnrichEventsOperator(task_id="enrich_events")
    week = "{{ ti.xcom_pull(task_ids='branch_on_weekday', key='week') }}"
    wait_for_week_loaded = WeekLoadedSensor(
        task_id="wait_for_week_loaded",
        week_start=week,
        mode="reschedule",
        poke_interval=WEEK_LOADED_POKE_INTERVAL,
        timeout=WEEK_LOADED_TIMEOUT,  # a timeout fails the task without retries; clear it to wait again
    )
    trigger_weekly_views = TriggerDagRunOperator(
        task_id="trigger_weekly_views",
        trigger_dag_id="engagement_weekly_views",
        trigger_run_id=f"from_daily__{week}",
        conf={"from_week": week},
        reset_dag_run=True,
        fail_when_dag_is_paused=True,
    )
    skip_weekly_views = EmptyOperator(task_id="skip_weekly_views")

    day >> [copy_production, load_events]
    (
        [copy_production, load_events]
        >> enrich_events
        >> branch_on_weekday(day)
        >> [wait_for_week_loaded, skip_weekly_views]
    )
    wait_for_week_loaded >> trigger_weekly_views


engagement_elt_daily()
