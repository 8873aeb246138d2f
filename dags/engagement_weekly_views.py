"""
# Engagement weekly views

Owns the four weekly views in the analytics database: `analytics_fonctionnalites`,
`analytics_fonctionnalites_demarches_ia`, `analytics_engagement` and
`analytics_engagement_national` (definitions in `include/sql/engagement/README.md`). Each week
is written by one SQL file per view, delete-the-week then insert-it, so any week can be
recomputed at any time, in any order, with the same result.

**Who writes a week.** `engagement_elt_daily`'s run for a Monday (it executes on Tuesday, once
the week before is complete, Sunday included) waits until the week's seven days are loaded
and enriched, then triggers this DAG as run `from_daily__<week>` with conf
`{"from_week": "<week>"}`: that run writes the week, once. A backfill or manual run recomputes
whatever analytics holds; its log names the days of the week missing from the ELT's load log
(`engagement_loaded_days`).

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

**Params (manual runs).** `from_week` and `to_week` (Mondays, `YYYY-MM-DD`, validated by the
trigger form's JSON schema; `to_week` defaults to `from_week`) recompute a range of at most
`max_weeks_per_run` (260) weeks; `last_year: true` recomputes the `history_weeks_for_last_year`
(52) full weeks before the run (before its trigger time when it has no logical date). Without
params the run computes the week of its data interval, so a run triggered with neither params
nor a logical date fails with a message saying what to give. `compute_week` fans out with one
mapped task per week (the map index shows the week).

**When it fails.** `weeks_to_compute` fails at once, without retries, on params it cannot use
(the message says why). `compute_week` writes the four views of a week in one transaction, so
a failed one leaves that week as it was; clear it to rewrite the week. A guard error means
`postgres_analytics` points at a production database or at the source.

**Owner.** data-engineering (engagement analytics).
"""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from analytics.dag_defaults import default_args
from analytics.engagement.config import ENGAGEMENT_TIMEZONE
from analytics.engagement.weeks import WEEK_PARAM_PATTERN
from analytics.operators.engagement import ComputeWeeklyViewsOperator

log = logging.getLogger(__name__)
MONDAY = {"type": ["null", "string"], "format": "date", "pattern": WEEK_PARAM_PATTERN}


@dag(
    dag_id="engagement_weekly_views",
    schedule=CronDataIntervalTimetable("0 0 * * 1", timezone=ENGAGEMENT_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=ENGAGEMENT_TIMEZONE),
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    default_args=default_args(),
    tags=["engagement", "postgres", "transformation", "weekly"],
    params={
        "from_week": Param(
            None,
            **MONDAY,
            title="From week",
            description="First Monday to recompute (YYYY-MM-DD); empty: the run's week.",
        ),
        "to_week": Param(
            None,
            **MONDAY,
            title="To week",
            description="Last Monday to recompute, included (YYYY-MM-DD); empty: from_week.",
        ),
        "last_year": Param(
            False,
            type="boolean",
            title="Last year",
            description="Recompute the full weeks before this run (history_weeks_for_last_year, 52).",
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

    ComputeWeeklyViewsOperator.partial(
        task_id="compute_week",
        map_index_template="{{ task.week_start }}",
    ).expand(week_start=weeks_to_compute())


engagement_weekly_views()
