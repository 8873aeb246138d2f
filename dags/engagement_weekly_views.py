"""
# Engagement weekly views

## What it does

Owns the four weekly views in the analytics database: `analytics_fonctionnalites`,
`analytics_fonctionnalites_demarches_ia`, `analytics_engagement` and `analytics_engagement_national`
(definitions in `include/sql/engagement/README.md`). Each week is written by one SQL file per view,
delete-the-week then insert-it, all four in one transaction, so any week can be recomputed at any
time, in any order, with the same result. Each computation is recorded in
`engagement_computed_weeks` (when, and the fingerprint of the load log's days its window read).

**Who writes a week.** `engagement_elt_daily`'s run for a Monday (it executes on Tuesday, once
the week before is over, Sunday included) triggers this DAG as run `from_daily__<week>` with
conf `{"from_week": "<week>", "wait_for_loaded_days": true}` (logical date: the Tuesday after
the week, 00:00; data interval: the week). Its `wait_for_week_loaded` sensor (reschedule mode:
it holds no worker slot, and holds the daily loads back in no way) waits until the load log
(`engagement_loaded_days`) holds the week's seven days, loaded and enriched, then the week is
written. Every daily run also triggers a run with conf `{"weeks": [...]}` for the **stale
weeks**: computed weeks that read a day whose content changed since (a late row, a moved event,
a rerun or backfill with other rows, a new geography), so the views never disagree with the
events for longer than one daily run. `SELECT * FROM engagement_stale_weeks` lists them
(with the days that changed). A backfill or manual run recomputes whatever analytics holds; its
log names the days of the week missing from the load log.

**Schedule.** `CronDataIntervalTimetable("0 0 * * 1", Europe/Paris)` (the zone is
`ENGAGEMENT_TIMEZONE` in `plugins/analytics/engagement/config.py`): one run per calendar week,
its data interval `[Monday 00:00, next Monday 00:00)` local time. That is what makes backfills
work: `airflow backfill create --dag-id engagement_weekly_views --from-date
2024-01-01T00:00+01:00 --to-date 2024-01-15T00:00+01:00` recomputes the weeks of 1, 8 and 15
January. Give the dates with their Paris offset (`+01:00` in winter, `+02:00` in summer): a date
without one is read as UTC, where Paris's Monday midnight is still Sunday, so the first week
would be left out (`--dry-run` lists the runs first). **Scheduled runs compute
nothing**: at Monday 00:00 Sunday's events are not loaded yet, so `weeks_to_compute` is skipped
(its log says which daily run triggers the week). Backfill, manual and triggered runs compute.

## Params

Manual runs only. `from_week` and `to_week` (Mondays, `YYYY-MM-DD`, validated by the trigger form's
JSON schema; `to_week` defaults to `from_week`) recompute a range; `weeks` lists Mondays;
`last_year: true` recomputes the `history_weeks_for_last_year` (52) full weeks before the run
(before its trigger time when it has no logical date); one of the three at most, at most
`max_weeks_per_run` (260) weeks. Without params the run computes the week of its data interval, so a
run triggered with neither params nor a logical date fails with a message saying what to give.
`wait_for_loaded_days: true` makes the run wait for its weeks' days first. `compute_week` fans out
with one mapped task per week (the map index shows the week).

## When it fails

A failure means a week's views keep their previous content (or are missing) until the task is
cleared. What to do:

`weeks_to_compute` fails at once, without retries, on params it cannot use (the message says why).
`wait_for_week_loaded` fails after 6 hours, without retries, naming the days still missing: rerun
those days of `engagement_elt_daily`, then clear it. `compute_week` (`execution_timeout` 30 minutes)
writes the four views of a week in one transaction, so a failed one leaves that week as it was;
clear it to rewrite the week. It waits at most `lock_timeout_seconds` (600) for a lock, another run
of the same week or `copy_production` restoring the reference tables, then fails saying which. A
guard error means `postgres_analytics` points at a production database or at the source.

## Owner

data-engineering (engagement analytics).
"""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from analytics.dag_defaults import default_args
from analytics.engagement.config import (
    COMPUTE_WEEK_EXECUTION_TIMEOUT,
    ENGAGEMENT_TIMEZONE,
    WEEK_LOADED_POKE_INTERVAL,
    WEEK_LOADED_TIMEOUT,
)
from analytics.engagement.weeks import WEEK_PARAM_PATTERN
from analytics.operators.engagement import ComputeWeeklyViewsOperator, WeeksLoadedSensor
from analytics.operators.engagement_checks import weekly_checks
from analytics.pools import POSTGRES_WRITES

log = logging.getLogger(__name__)
MONDAY = {"format": "date", "pattern": WEEK_PARAM_PATTERN}


@dag(
    dag_id="engagement_weekly_views",
    is_paused_upon_creation=False,  # started by an upstream DAG or Asset: see the README's deployment section
    schedule=CronDataIntervalTimetable("0 0 * * 1", timezone=ENGAGEMENT_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=ENGAGEMENT_TIMEZONE),
    catchup=False,
    # Weeks are independent; a run waiting for its days holds a run slot (not a worker slot).
    max_active_runs=4,
    doc_md=__doc__,
    default_args=default_args(),
    tags=["engagement", "postgres", "transformation", "weekly"],
    params={
        "from_week": Param(
            None,
            type=["null", "string"],
            **MONDAY,
            title="From week",
            description="First Monday to recompute (YYYY-MM-DD); empty: the run's week.",
        ),
        "to_week": Param(
            None,
            type=["null", "string"],
            **MONDAY,
            title="To week",
            description="Last Monday to recompute, included (YYYY-MM-DD); empty: from_week.",
        ),
        "weeks": Param(
            None,
            type=["null", "array"],
            items={"type": "string", **MONDAY},
            title="Weeks",
            description="Mondays to recompute (YYYY-MM-DD), e.g. the stale weeks the daily DAG found.",
        ),
        "last_year": Param(
            False,
            type="boolean",
            title="Last year",
            description="Recompute the full weeks before this run (history_weeks_for_last_year, 52).",
        ),
        "wait_for_loaded_days": Param(
            False,
            type="boolean",
            title="Wait for loaded days",
            description="Wait (up to 6 hours) until the load log holds every day of the weeks, loaded and enriched.",
        ),
    },
)
def engagement_weekly_views():
    @task
    def weeks_to_compute(
        params=None, data_interval_start=None, data_interval_end=None, dag_run=None
    ) -> list[str]:
        """The Mondays this run recomputes (see analytics.engagement.weeks.weeks_for_params); none when scheduled."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from analytics.engagement.config import load_engagement_config
        from analytics.engagement.weeks import describe_weeks, scheduled_run_skip_reason, weeks_for_params

        skip_reason = scheduled_run_skip_reason(dag_run.run_type, data_interval_start, ENGAGEMENT_TIMEZONE)
        if skip_reason:
            log.info(skip_reason)
            raise AirflowSkipException(skip_reason)
        try:
            weeks = weeks_for_params(
                params, data_interval_start, data_interval_end, dag_run.run_after, load_engagement_config()
            )
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        log.info(describe_weeks(weeks))
        return [week.isoformat() for week in weeks]

    weeks = weeks_to_compute()
    wait_for_week_loaded = WeeksLoadedSensor(
        task_id="wait_for_week_loaded",
        weeks=weeks,
        mode="reschedule",
        poke_interval=WEEK_LOADED_POKE_INTERVAL,
        timeout=WEEK_LOADED_TIMEOUT,  # a timeout fails the task without retries; clear it to wait again
    )
    compute_week = ComputeWeeklyViewsOperator.partial(
        pool=POSTGRES_WRITES,
        task_id="compute_week",
        map_index_template="{{ task.week_start }}",
        execution_timeout=COMPUTE_WEEK_EXECUTION_TIMEOUT,
    ).expand(week_start=weeks)
    wait_for_week_loaded >> compute_week >> weekly_checks()


engagement_weekly_views()
