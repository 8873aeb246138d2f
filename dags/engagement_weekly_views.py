"""
# Engagement weekly views

Owns the four weekly views in the analytics database: `analytics_fonctionnalites`,
`analytics_fonctionnalites_demarches_ia`, `analytics_engagement` and
`analytics_engagement_national` (definitions in `include/sql/engagement/README.md`). Each week
is written by one SQL file per view, delete-the-week then insert-it, so any week can be
recomputed at any time, in any order, with the same result.

**Schedule.** `CronDataIntervalTimetable("0 0 * * 1", Europe/Paris)`: one run per calendar week,
its data interval `[Monday 00:00, next Monday 00:00)` local time. That is what makes backfills
work: `airflow backfill create --dag-id engagement_weekly_views --from-date 2024-01-01
--to-date 2024-01-21` recomputes the weeks of 1, 8 and 15 January. The scheduled run at Monday
00:00 may run before Sunday's events are loaded; `engagement_elt_daily` triggers this DAG
again (`from_daily__<week>`) once the week is complete, so the final numbers include Sunday.

**Params (manual runs).** `from_week` and `to_week` (Mondays, `to_week` defaults to
`from_week`) recompute a range; `last_year: true` recomputes the 52 full weeks before the run.
`compute_week` fans out with one mapped task per week (the map index shows the week).

**When it fails.** A failed `compute_week` leaves the views it already wrote for that week
committed and the others unchanged; clear it to rewrite the week. A guard error means
`postgres_analytics` points at a production database.

**Owner.** data-engineering (engagement analytics).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from analytics.dag_defaults import default_args
from analytics.operators.engagement import ComputeWeeklyViewsOperator

TIMEZONE = "Europe/Paris"
MONDAY = {"type": ["null", "string"], "format": "date"}


@dag(
    dag_id="engagement_weekly_views",
    schedule=CronDataIntervalTimetable("0 0 * * 1", timezone=TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=TIMEZONE),
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
            description="Last Monday to recompute, included; empty: from_week.",
        ),
        "last_year": Param(
            False,
            type="boolean",
            title="Last year",
            description="Recompute the 52 full weeks before this run.",
        ),
    },
)
def engagement_weekly_views():
    @task
    def weeks_to_compute(params=None, data_interval_start=None, data_interval_end=None) -> list[str]:
        """The Mondays this run recomputes: from the params, else the run's own week."""
        from datetime import date

        from analytics.engagement.config import load_engagement_config
        from analytics.engagement.weeks import local_day, weeks_for_run

        config = load_engagement_config()
        weeks = weeks_for_run(
            interval_start_day=local_day(data_interval_start, config.timezone),
            interval_end_day=local_day(data_interval_end, config.timezone),
            from_week=date.fromisoformat(params["from_week"]) if params.get("from_week") else None,
            to_week=date.fromisoformat(params["to_week"]) if params.get("to_week") else None,
            last_year=bool(params.get("last_year")),
            last_year_count=config.history_weeks_for_last_year,
        )
        print(f"{len(weeks)} week(s) to compute: {weeks[0]} .. {weeks[-1]}")
        return [week.isoformat() for week in weeks]

    ComputeWeeklyViewsOperator.partial(
        task_id="compute_week",
        map_index_template="{{ task.week_start }}",
    ).expand(week_start=weeks_to_compute())


engagement_weekly_views()
