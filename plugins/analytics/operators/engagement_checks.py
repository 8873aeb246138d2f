"""The engagement DAGs' data checks: common-sql's ``SQLTableCheckOperator`` and ``SQLColumnCheckOperator``.

Each factory returns check tasks scoped to the run: the daily DAG's checks read the days that
``load_events`` loaded (its XCom: each day's interval and production's count), the weekly
DAG's the Mondays of ``weeks_to_compute``. They only read, so a failed check leaves the load
as it is and shows on its own in the grid. The event table and the analytics connection are the
configuration's (include/config/engagement.json), read when the task runs: the operators below
add it to the template context as ``engagement``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

TARGET_CONN = "{{ engagement.target_connection_id }}"
EVENT_TABLE = "{{ engagement.event_table }}"
LOADED_DAYS_TABLE = "{{ engagement_tables.loaded_days }}"
COMPUTED_WEEKS_TABLE = "{{ engagement_tables.computed_weeks }}"
LOADED = "ti.xcom_pull(task_ids='load_events')['days']"
WEEKS = "ti.xcom_pull(task_ids='weeks_to_compute')"
# The interval load_events replaced: its days are consecutive, each half-open [start, end).
LOADED_INTERVAL = (
    f"date_evenement >= '{{{{ {LOADED}.values() | map(attribute='interval_start') | min }}}}'::timestamptz "
    f"AND date_evenement < '{{{{ {LOADED}.values() | map(attribute='interval_end') | max }}}}'::timestamptz"
)
SOURCE_COUNT = f"{{{{ {LOADED}.values() | sum(attribute='source_count') }}}}"
LOADED_DAYS = f"day = ANY(string_to_array('{{{{ {LOADED}.keys() | join(',') }}}}', ',')::date[])"
DAY_COUNT = f"{{{{ {LOADED} | length }}}}"
COMPUTED_WEEKS = f"week = ANY(string_to_array('{{{{ {WEEKS} | join(',') }}}}', ',')::date[])"
WEEK_COUNT = f"{{{{ {WEEKS} | length }}}}"
# Keys of an event once enriched: the weekly views group on week and day.
EVENT_KEYS = ("id", "date_evenement", "id_utilisateur", "type_utilisateur", "week", "day")


class _EngagementCheckOperator(BaseOperator):
    """Renders a common-sql check's arguments, then runs that check operator on them.

    Why not subclass it: importing common-sql costs about half a second, which every parse of the
    DAG file would pay; here it is imported when the task runs. Before rendering, the context gets
    the engagement configuration (``engagement``) and the ELT's table names
    (``engagement_tables``), read at run time too. A failed check fails the task at once
    (``retry_on_failure=False``: the rows would not change); a connection fault is retried.
    """

    template_fields: Sequence[str] = ("conn_id", "table", "partition_clause", "checks")
    ui_color = "#fff4d6"
    check_operator = ""  # the common-sql operator's class name
    checks_argument = ""  # and the name of its argument that takes ``checks``

    def __init__(
        self, *, conn_id: str, table: str, partition_clause: str, checks: dict, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.table = table
        self.partition_clause = partition_clause
        self.checks = checks

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        from analytics.engagement.config import load_engagement_config
        from analytics.engagement.load_log import LOADED_DAYS_TABLE as loaded_days
        from analytics.engagement.stale_weeks import COMPUTED_WEEKS_TABLE as computed_weeks
        from analytics.engagement.weekly_views import WEEKLY_VIEWS as weekly_views

        context["engagement"] = load_engagement_config()  # type: ignore[typeddict-unknown-key]
        context["engagement_tables"] = {  # type: ignore[typeddict-unknown-key]
            "loaded_days": loaded_days,
            "computed_weeks": computed_weeks,
            "weekly_views": weekly_views,
        }
        super().render_template_fields(context, jinja_env)

    def execute(self, context: Any) -> None:
        from airflow.providers.common.sql.operators import sql

        operator = getattr(sql, self.check_operator)(
            task_id=self.task_id,
            conn_id=self.conn_id,
            table=self.table,
            partition_clause=self.partition_clause,
            retry_on_failure=False,
            **{self.checks_argument: self.checks},
        )
        self.log.info("%s on %s where %s", self.check_operator, self.table, self.partition_clause)
        operator.execute(context)


class EngagementTableCheckOperator(_EngagementCheckOperator):
    """common-sql's ``SQLTableCheckOperator`` on the engagement configuration's analytics database."""

    check_operator = "SQLTableCheckOperator"
    checks_argument = "checks"


class EngagementColumnCheckOperator(_EngagementCheckOperator):
    """common-sql's ``SQLColumnCheckOperator`` on the engagement configuration's analytics database."""

    check_operator = "SQLColumnCheckOperator"
    checks_argument = "column_mapping"


def daily_checks() -> list[Any]:
    """The checks after ``enrich_events``: the run's days hold production's rows, keyed, logged once each."""
    events_loaded = EngagementTableCheckOperator(
        task_id="check_events_loaded",
        doc_md="The events of the run's days in analytics are as many as production had when they were loaded.",
        conn_id=TARGET_CONN,
        table=EVENT_TABLE,
        partition_clause=LOADED_INTERVAL,
        checks={"row_count_matches_source": {"check_statement": f"COUNT(*) = {SOURCE_COUNT}"}},
    )
    event_keys = EngagementColumnCheckOperator(
        task_id="check_event_keys",
        doc_md="No event of the run's days has a NULL key (id, time, user, user type, week, day).",
        conn_id=TARGET_CONN,
        table=EVENT_TABLE,
        partition_clause=LOADED_INTERVAL,
        checks={column: {"null_check": {"equal_to": 0}} for column in EVENT_KEYS},
    )
    load_log = EngagementTableCheckOperator(
        task_id="check_load_log",
        doc_md=(
            "The load log has each of the run's days once, enriched, and its events add up to "
            "production's count."
        ),
        conn_id=TARGET_CONN,
        table=LOADED_DAYS_TABLE,
        partition_clause=LOADED_DAYS,
        checks={
            "one_row_per_day": {
                "check_statement": f"COUNT(*) = {DAY_COUNT} AND COUNT(DISTINCT day) = COUNT(*)"
            },
            "every_day_enriched": {"check_statement": "COUNT(enriched_at) = COUNT(*)"},
            "events_match_source": {"check_statement": f"COALESCE(SUM(events), 0) = {SOURCE_COUNT}"},
        },
    )
    return [events_loaded, event_keys, load_log]


def weekly_checks() -> EngagementTableCheckOperator:
    """The check after ``compute_week``: every week of the run is recorded once and each view holds its rows."""
    # One statement over the four views (their names are known at run time only): all must hold.
    views_hold_their_rows = (
        "{% for view in engagement_tables.weekly_views %}"
        "(rows_written ->> '{{ view }}')::bigint = (SELECT count(*) FROM {{ view }} AS v "
        "WHERE v.week = " + COMPUTED_WEEKS_TABLE + ".week) AND "
        "{% endfor %}TRUE"
    )
    return EngagementTableCheckOperator(
        task_id="check_weekly_views",
        doc_md=(
            "Each week of the run is recorded once in the computed weeks, and each of the four views "
            "holds, for that week, the rows compute_week wrote."
        ),
        conn_id=TARGET_CONN,
        table=COMPUTED_WEEKS_TABLE,
        partition_clause=COMPUTED_WEEKS,
        checks={
            "every_week_computed_once": {
                "check_statement": f"COUNT(*) = {WEEK_COUNT} AND COUNT(DISTINCT week) = COUNT(*)"
            },
            "views_hold_their_rows": {"check_statement": views_hold_their_rows},
        },
    )
