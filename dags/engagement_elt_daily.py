"""
# Engagement ELT, daily

## What it does

Copies production's reference tables into the analytics database, loads **one local day** of
engagement events (`evenement_engagement`) and the `lookback_days` days before it, enriches them,
then triggers the weekly views: on Mondays for the week that just ended, and on any day for the
computed weeks whose data changed (stale weeks).

**Schedule.** `CronDataIntervalTimetable("0 0 * * *", Europe/Paris)` (the zone is
`ENGAGEMENT_TIMEZONE` in `plugins/analytics/engagement/config.py`, the one place it is set):
each run's data interval is one local day `[D 00:00, D+1 00:00)` (23 or 25 hours on DST
changes) and the run starts when that day is over. `max_active_runs=1` keeps scheduled days in
order. A backfill runs as many days at once as its own `--max-active-runs` (Airflow applies that,
not the DAG's): the runs' loads and enrichments take turns on the event table (an advisory lock
per transaction) and `copy_production` runs one at a time, so each day ends as its single run
leaves it.
**Catchup** is on, from `ENGAGEMENT_START_DATE` (same module; the DAG's `start_date`): days
missed while the scheduler was down or the DAG paused get their runs, oldest first, as soon as
it runs again. To load history before that date, move the constant back; to skip a stretch,
mark its runs success.

**Late rows (lookback).** Each run also reloads the `lookback_days` days before its own
(`include/config/engagement.json`, default 1; never before `ENGAGEMENT_START_DATE`), exactly as
it loads its own: per day, delete the day, copy it, count it, in one transaction, recorded in the
load log `engagement_loaded_days`. An event that reached production after its day was loaded is
therefore in analytics after the next run. Rows later than the lookback: rerun their day (clear
its run), or raise `lookback_days`.

**Moved events.** An event whose `date_evenement` was changed in production (to another day) is
taken over by the load of its new day: when the COPY meets its id still in analytics under the
old day, the load goes through a temporary table and first deletes the rows with an incoming
id; the day it left is counted again in the load log, and its content counts as changed.

**Tasks.**
1. `day_to_load`: the local day of the run's data interval (logged, and used by the branch).
2. `copy_production`: `pg_dump -Fc --schema=public | pg_restore --clean --if-exists
   --single-transaction` of `prod` into `analytics`: the tables (and their sequences, types,
   functions) of the **public schema only**, without the event and log tables
   (`tables_not_copied`); other schemas and extensions are not copied. It stops both programs
   and fails after `copy_timeout_seconds` (1 hour), and when the task is killed;
   `execution_timeout` 2 hours. Refuses to run when the target is the source or is named like
   production (`production_database_names`).
3. `load_events`: the lookback days and the run's day, oldest first, one transaction each,
   reading one snapshot of the source per day; count-checked. Rerunning gives the same rows.
   `execution_timeout` 1 hour.
4. `enrich_events`: adds `week`, `day`, `agence`, `department`, `region` (idempotent schema step)
   and fills them for the same days, in the configured time zone; records each day's fingerprint
   in the load log (its content changed when the fingerprint did: an identical reload is no change).
5. `branch_on_weekday`: the run whose day is a Monday (it executes on Tuesday, when the week
   before is over, Sunday included) follows `trigger_weekly_views`: it starts
   `engagement_weekly_views` as run `from_daily__<week>`, logical date the Tuesday after the week
   00:00 (so never the Monday of a scheduled or backfill run), conf `{"from_week": "<week>",
   "wait_for_loaded_days": true}`; that run waits (its own sensor, in reschedule mode) for the
   week's seven days, then writes the week. Other days, and a week starting before
   `ENGAGEMENT_START_DATE`, follow `skip_weekly_views`.
6. `find_stale_weeks`: lists, in its log, the computed weeks whose window (2 months up to the
   week's end) holds a day whose content changed since they were computed, and the days that
   changed; when there are any, `trigger_stale_weeks` starts `engagement_weekly_views` with conf
   `{"weeks": [...]}` (run `stale_weeks__<day>__...`, at most `max_weeks_per_run` weeks, the oldest;
   the rest the next day), else `no_stale_weeks`.

## Params

`weekly_views` (default true): false makes a Monday's run load its day without triggering the week's
views (the stale weeks are still triggered).

## When it fails

A failure means the day's engagement events, and the weekly views that read them, are not in the
analytics database yet. What to do:

`day_to_load`: the run has no data interval; trigger it with a logical date (`airflow dags trigger
engagement_elt_daily -l 2024-01-09` loads Monday 8 January and the lookback days before it). A guard
error means a connection points at production: fix `postgres_analytics`. A count mismatch in
`load_events` means the source changed during the copy or rows were refused: clear the task (it
replaces the days). Any `pg_dump`/`pg_restore` error or timeout fails `copy_production` with its
stderr in the log. A trigger fails when `engagement_weekly_views` is paused
(`fail_when_dag_is_paused`): unpause it and clear the task. A week still incomplete does not hold
this DAG back: the weekly run waits for it, and fails after 6 hours naming the missing days: rerun
those days, then clear that run.

## Owner

data-engineering (engagement analytics).
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import CronDataIntervalTimetable, Param, XComArg, dag

from analytics.alerts import deadline_alert
from analytics.dag_defaults import default_args
from analytics.engagement.config import (
    COPY_EXECUTION_TIMEOUT,
    ENGAGEMENT_START_DATE,
    ENGAGEMENT_TIMEZONE,
    LOAD_EXECUTION_TIMEOUT,
)
from analytics.operators.engagement import (
    NO_WEEKLY_VIEWS_BRANCH,
    WEEKLY_VIEWS_BRANCH,
    CopyProductionOperator,
    EnrichEventsOperator,
    FindStaleWeeksOperator,
    LoadEventsOperator,
    TriggerWeeklyViewsOperator,
    branch_on_weekday,
    day_to_load,
)
from analytics.operators.engagement_checks import daily_checks
from analytics.pools import POSTGRES_WRITES

WEEKLY_VIEWS_DAG_ID = "engagement_weekly_views"
BRANCH_XCOM = "{{{{ ti.xcom_pull(task_ids='branch_on_weekday', key='{}') }}}}"


@dag(
    dag_id="engagement_elt_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=ENGAGEMENT_TIMEZONE),
    start_date=pendulum.datetime(
        ENGAGEMENT_START_DATE.year,
        ENGAGEMENT_START_DATE.month,
        ENGAGEMENT_START_DATE.day,
        tz=ENGAGEMENT_TIMEZONE,
    ),
    catchup=True,
    max_active_runs=1,
    doc_md=__doc__,
    deadline=deadline_alert("engagement_elt_daily", __doc__),
    default_args=default_args(),
    tags=["engagement", "postgres", "ingestion", "daily"],
    params={
        "weekly_views": Param(
            True,
            title="Weekly views on Mondays",
            type="boolean",
            description=(
                "On a Monday's run, trigger the weekly views of the week that just ended (that run "
                "waits for the week's seven days). False loads the days only."
            ),
        ),
    },
)
def engagement_elt_daily():
    day = day_to_load()
    copy_production = CopyProductionOperator(
        pool=POSTGRES_WRITES,
        task_id="copy_production",
        execution_timeout=COPY_EXECUTION_TIMEOUT,
        max_active_tis_per_dag=1,  # a backfill's concurrent runs restore the reference tables one at a time
    )
    load_events = LoadEventsOperator(
        pool=POSTGRES_WRITES, task_id="load_events", execution_timeout=LOAD_EXECUTION_TIMEOUT
    )
    enrich_events = EnrichEventsOperator(pool=POSTGRES_WRITES, task_id="enrich_events")
    week = BRANCH_XCOM.format("week")
    trigger_weekly_views = TriggerWeeklyViewsOperator(
        task_id=WEEKLY_VIEWS_BRANCH,
        trigger_dag_id=WEEKLY_VIEWS_DAG_ID,
        trigger_run_id=f"from_daily__{week}",
        # Derived from the week, never "now": a rerun of this run triggers the same run again.
        logical_date=BRANCH_XCOM.format("logical_date"),
        run_after=BRANCH_XCOM.format("logical_date"),  # the run's data interval is then the week
        conf={"from_week": week, "wait_for_loaded_days": True},
        reset_dag_run=True,
        fail_when_dag_is_paused=True,
    )
    skip_weekly_views = EmptyOperator(task_id=NO_WEEKLY_VIEWS_BRANCH)
    find_stale_weeks = FindStaleWeeksOperator(
        task_id="find_stale_weeks", trigger_task_id="trigger_stale_weeks", no_trigger_task_id="no_stale_weeks"
    )
    trigger_stale_weeks = TriggerDagRunOperator(
        task_id="trigger_stale_weeks",
        trigger_dag_id=WEEKLY_VIEWS_DAG_ID,
        trigger_run_id="{{ ti.xcom_pull(task_ids='find_stale_weeks', key='run_id') }}",
        logical_date=None,  # several weeks: no data interval; the run's weeks are its conf's
        conf={"weeks": XComArg(find_stale_weeks, key="weeks")},
        reset_dag_run=True,
        fail_when_dag_is_paused=True,
    )
    no_stale_weeks = EmptyOperator(task_id="no_stale_weeks")

    day >> [copy_production, load_events]
    [copy_production, load_events] >> enrich_events
    enrich_events >> branch_on_weekday(day) >> [trigger_weekly_views, skip_weekly_views]
    enrich_events >> find_stale_weeks >> [trigger_stale_weeks, no_stale_weeks]
    enrich_events >> daily_checks()


engagement_elt_daily()
