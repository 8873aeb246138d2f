"""
# Engagement ELT, daily

Copies production into the analytics database and loads **one local day** of engagement events
(`evenement_engagement`), then enriches them; on the run for a Monday it triggers the weekly
views for the week that just ended.

**Schedule.** `CronDataIntervalTimetable("0 0 * * *", Europe/Paris)`: each run's data interval
is one local day `[D 00:00, D+1 00:00)` (23 or 25 hours on DST changes) and the run starts
when that day is over. A plain cron string would, in Airflow 3, give zero-length intervals at
the run time; the interval timetable is chosen so that the day loaded is the interval's day.
`max_active_runs=1` keeps days in order.

**Tasks.**
1. `copy_production`: `pg_dump -Fc | pg_restore --clean --if-exists` of `prod` into
   `analytics`, without the event and log tables (`tables_not_copied` in
   `include/config/engagement.json`). Refuses to run when the target is the source or is named
   like production (`production_database_names`).
2. `load_events`: deletes the interval's events in analytics and streams the source's with
   `COPY ... TO STDOUT` into `COPY ... FROM STDIN`, in one transaction, then checks the row
   count against the source's. Rerunning a day gives the same rows.
3. `enrich_events`: adds `week`, `day`, `agence`, `department`, `region` (idempotent schema step)
   and fills them for the interval's events, in the configured time zone.
4. `branch_on_weekday`: on the run whose day is a Monday, `trigger_weekly_views` starts
   `engagement_weekly_views` for the week before (complete since Sunday's run); on other days
   `skip_weekly_views`. The branch is visible in the grid.

**When it fails.** A guard error means a connection points at production: fix
`postgres_analytics`. A count mismatch in `load_events` means the source changed during the
copy or rows were refused: clear the task to rerun the day (it replaces the day). Any
`pg_dump`/`pg_restore` error fails `copy_production` with its stderr in the log.

**Owner.** data-engineering (engagement analytics).
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import CronDataIntervalTimetable, dag, task

from analytics.dag_defaults import default_args
from analytics.operators.engagement import CopyProductionOperator, EnrichEventsOperator, LoadEventsOperator

TIMEZONE = "Europe/Paris"


@dag(
    dag_id="engagement_elt_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=default_args(),
    tags=["engagement", "postgres", "ingestion", "daily"],
)
def engagement_elt_daily():
    copy_production = CopyProductionOperator(task_id="copy_production")
    load_events = LoadEventsOperator(task_id="load_events")
    enrich_events = EnrichEventsOperator(task_id="enrich_events")

    @task.branch
    def branch_on_weekday(data_interval_start=None, ti=None) -> str:
        """Monday's run triggers the weekly views for the week that just ended; other days skip."""
        from analytics.engagement.config import load_engagement_config
        from analytics.engagement.weeks import local_day, week_that_just_ended

        day = local_day(data_interval_start, load_engagement_config().timezone)
        week = week_that_just_ended(day)
        if week is None:
            print(f"{day} is a {day:%A}: no weekly views today")
            return "skip_weekly_views"
        ti.xcom_push(key="week", value=week.isoformat())
        print(f"{day} is a Monday: weekly views for the week of {week}")
        return "trigger_weekly_views"

    trigger_weekly_views = TriggerDagRunOperator(
        task_id="trigger_weekly_views",
        trigger_dag_id="engagement_weekly_views",
        trigger_run_id="from_daily__{{ ti.xcom_pull(task_ids='branch_on_weekday', key='week') }}",
        conf={"from_week": "{{ ti.xcom_pull(task_ids='branch_on_weekday', key='week') }}"},
        reset_dag_run=True,
    )
    skip_weekly_views = EmptyOperator(task_id="skip_weekly_views")

    (
        [copy_production, load_events]
        >> enrich_events
        >> branch_on_weekday()
        >> [trigger_weekly_views, skip_weekly_views]
    )


engagement_elt_daily()
