"""Operators of the engagement DAGs (``engagement_elt_daily``, ``engagement_weekly_views``): Airflow glue only.

Each operator reads its params and the run's context, calls one engine of
:mod:`analytics.engagement` (plain functions, tested without Airflow), logs what it did and
returns a small summary (XCom). Connection ids default to the configuration's, read when the
task runs, never when the DAG is parsed. Engines and psycopg are imported inside ``execute``:
the DAG files import this module when they are parsed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.standard.operators.branch import BaseBranchOperator
from airflow.sdk import BaseOperator, BaseSensorOperator, task

from analytics.engagement.config import ENGAGEMENT_START_DATE, ENGAGEMENT_TIMEZONE, load_engagement_config
from analytics.engagement.weeks import DAILY_RUN_WITHOUT_INTERVAL
from analytics.pools import POSTGRES_WRITES

if TYPE_CHECKING:
    from analytics.engagement.config import EngagementConfig

log = logging.getLogger(__name__)
WEEKLY_VIEWS_BRANCH = "trigger_weekly_views"
NO_WEEKLY_VIEWS_BRANCH = "skip_weekly_views"


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
    """Monday's run triggers the weekly views for the week that just ended; other days skip.

    The week and the weekly run's logical date go to XCom (keys ``week``, ``logical_date``) for
    the trigger task's templates.
    """
    from analytics.engagement.weeks import week_to_trigger, weekly_run_logical_date

    weekly_views = bool((params or {}).get("weekly_views", True))
    week, reason = week_to_trigger(date.fromisoformat(day), weekly_views, ENGAGEMENT_START_DATE)
    log.info(reason)
    if week is None:
        return NO_WEEKLY_VIEWS_BRANCH
    ti.xcom_push(key="week", value=week.isoformat())
    ti.xcom_push(key="logical_date", value=weekly_run_logical_date(week, ENGAGEMENT_TIMEZONE).isoformat())
    return WEEKLY_VIEWS_BRANCH


def _interval_from(context: Any, start: datetime | str | None, end: datetime | str | None) -> tuple[Any, Any]:
    """The interval given to the operator, else the run's data interval."""
    start = start if start not in (None, "") else context.get("data_interval_start")
    end = end if end not in (None, "") else context.get("data_interval_end")
    if start is None or end is None:
        raise ValueError(
            f"no data interval: {DAILY_RUN_WITHOUT_INTERVAL}; or pass interval_start and interval_end"
        )
    return start, end


def _week_start_date(value: date | str) -> date:
    """A templated week (rendered as an ISO string) or a date, as a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class _EngagementOperator(BaseOperator):
    """Connection ids default to the configuration's (read at run time, not when the DAG is parsed)."""

    def __init__(
        self, *, source_conn_id: str | None = None, target_conn_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.source_conn_id = source_conn_id
        self.target_conn_id = target_conn_id

    def _config_and_conn_ids(self) -> tuple[EngagementConfig, str, str]:
        config = load_engagement_config()
        return (
            config,
            self.source_conn_id or config.source_connection_id,
            self.target_conn_id or config.target_connection_id,
        )


class _DaysOperator(_EngagementOperator):
    """An operator over a daily run's days: the local days of its interval and the ``lookback_days`` before."""

    writes_to: ClassVar[str] = POSTGRES_WRITES  # the pool the DAGs give its tasks (analytics.pools)

    template_fields: Sequence[str] = ("interval_start", "interval_end", "source_conn_id", "target_conn_id")

    def __init__(
        self,
        *,
        interval_start: datetime | str | None = None,
        interval_end: datetime | str | None = None,
        lookback_days: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.interval_start = interval_start
        self.interval_end = interval_end
        self.lookback_days = lookback_days

    def _days(self, context: Any, config: EngagementConfig) -> list[date]:
        from analytics.engagement.events import EventInterval
        from analytics.engagement.weeks import days_to_load, whole_local_days

        interval = EventInterval(*_interval_from(context, self.interval_start, self.interval_end))
        lookback = config.lookback_days if self.lookback_days is None else self.lookback_days
        days = days_to_load(
            whole_local_days(interval.start, interval.end, config.timezone), lookback, ENGAGEMENT_START_DATE
        )
        self.log.info(
            "days of %s: %s (the interval's, and %d day(s) of lookback)",
            interval,
            ", ".join(map(str, days)),
            lookback,
        )
        return days


class CopyProductionOperator(_EngagementOperator):
    """Copy the production reference tables into analytics (``pg_dump | pg_restore --clean``)."""

    writes_to: ClassVar[str] = POSTGRES_WRITES  # the pool the DAGs give its tasks (analytics.pools)

    template_fields: Sequence[str] = ("source_conn_id", "target_conn_id")
    ui_color = "#fdf2d0"

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.engagement.elt import copy_production

        config, source_conn_id, target_conn_id = self._config_and_conn_ids()
        result = copy_production(source_conn_id, target_conn_id, config)
        for line in result.log_lines():
            self.log.info(line)
        return result.as_summary()


class LoadEventsOperator(_DaysOperator):
    """Replace the analytics events of each of the run's days with production's (delete + COPY, count-checked)."""

    ui_color = "#dff3e4"

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.engagement.elt import load_days

        config, source_conn_id, target_conn_id = self._config_and_conn_ids()
        days = self._days(context, config)
        self.log.info("loading events from %s into %s", source_conn_id, target_conn_id)
        return load_days(source_conn_id, target_conn_id, days, config).as_summary()


class EnrichEventsOperator(_DaysOperator):
    """Fill week, day and geography of the events of each of the run's days in analytics."""

    ui_color = "#e8f1fb"

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.engagement.elt import check_conn_ids, enrich_days

        config, source_conn_id, target_conn_id = self._config_and_conn_ids()
        check_conn_ids(source_conn_id, target_conn_id, config)
        return enrich_days(target_conn_id, self._days(context, config), config).as_summary()


class ComputeWeeklyViewsOperator(_EngagementOperator):
    """Recompute the four weekly views for one week (delete the week, insert it, per view).

    ``week_start`` is a Monday (ISO date string or date). Every path that writes a week, a
    backfill, a manual range or the daily DAG's triggers, ends here. Like every step, it refuses
    a target that is the source or is named like production.
    """

    writes_to: ClassVar[str] = POSTGRES_WRITES  # the pool the DAGs give its tasks (analytics.pools)

    template_fields: Sequence[str] = ("week_start", "source_conn_id", "target_conn_id")
    ui_color = "#efe3f7"

    def __init__(self, *, week_start: str | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.week_start = week_start

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.engagement.elt import check_conn_ids
        from analytics.engagement.weekly_views import recompute_week

        config, source_conn_id, target_conn_id = self._config_and_conn_ids()
        check_conn_ids(source_conn_id, target_conn_id, config)
        result = recompute_week(target_conn_id, _week_start_date(self.week_start), config)
        for line in result.log_lines():
            (self.log.warning if line.startswith("warning") else self.log.info)(line)
        return result.as_summary()


class WeeksLoadedSensor(BaseSensorOperator):
    """Wait until every day of ``weeks`` is loaded and enriched, as the ELT's load log records them.

    ``weeks`` are Mondays (ISO strings or dates, or an XCom list of them). It waits only when the
    run's param ``wait_for_loaded_days`` is true (the daily DAG's Monday trigger sets it); other
    runs compute from what analytics holds. Read-only. Each poke logs the days still missing; a
    day whose run failed keeps the week waiting until that day is rerun, or until the sensor's
    timeout fails it.
    """

    template_fields: Sequence[str] = ("weeks", "target_conn_id")
    ui_color = "#f5e9d7"

    def __init__(self, *, weeks: Any, target_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weeks = weeks
        self.target_conn_id = target_conn_id

    def poke(self, context: Any) -> bool:
        from analytics.engagement.load_log import describe_days_not_ready, weeks_not_ready
        from analytics.stores import postgres

        if not (context.get("params") or {}).get("wait_for_loaded_days"):
            self.log.info("param wait_for_loaded_days is false: computing from what analytics holds")
            return True
        weeks = [_week_start_date(week) for week in (self.weeks or [])]
        config = load_engagement_config()
        with postgres.connect(self.target_conn_id or config.target_connection_id) as conn:
            missing = weeks_not_ready(conn, weeks)
        for line in describe_days_not_ready(missing):
            self.log.info(line)
        return not any(missing.values())


class FindStaleWeeksOperator(BaseBranchOperator, _EngagementOperator):
    """Branch: ``trigger_stale_weeks`` when computed weeks read a day whose content changed since, else ``no_stale_weeks``.

    Logs each stale week and the days that made it stale, and pushes the weeks (XCom
    ``weeks``) and a run id for the trigger (XCom ``run_id``, from the run's day and the weeks).
    """

    ui_color = "#fbe3e3"

    def __init__(self, *, trigger_task_id: str, no_trigger_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trigger_task_id = trigger_task_id
        self.no_trigger_task_id = no_trigger_task_id

    def choose_branch(self, context: Any) -> str:
        from analytics.engagement.stale_weeks import find_stale_weeks, stale_weeks_run_id

        config, _, target_conn_id = self._config_and_conn_ids()
        found = find_stale_weeks(target_conn_id, config)
        for line in found.log_lines():
            self.log.info(line)
        if not found.to_recompute:
            return self.no_trigger_task_id
        weeks = [week.isoformat() for week in found.to_recompute]
        start, _ = _interval_from(context, None, None)
        context["ti"].xcom_push(key="weeks", value=weeks)
        context["ti"].xcom_push(key="run_id", value=stale_weeks_run_id(start, found.to_recompute, config))
        return self.trigger_task_id


def __getattr__(name: str) -> Any:
    """``TriggerWeeklyViewsOperator`` is built on first use: importing ``TriggerDagRunOperator``
    costs about a quarter of a second, which the weekly DAG, parsing this module too, need not pay."""
    if name == "TriggerWeeklyViewsOperator":
        return _trigger_weekly_views_operator()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _trigger_weekly_views_operator() -> type:
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    class TriggerWeeklyViewsOperator(TriggerDagRunOperator):
        """``TriggerDagRunOperator`` with a templated ``run_after`` too.

        The one override: ``template_fields`` adds ``run_after``, which the provider (1.x, Airflow
        3.3) accepts but does not template. The daily DAG renders both ``logical_date`` and
        ``run_after`` from the week (:func:`analytics.engagement.weeks.weekly_run_logical_date`),
        so the triggered run's data interval is that week whatever day the trigger runs (Airflow
        infers a triggered run's data interval from its ``run_after``, "now" when none is given).
        """

        template_fields: Sequence[str] = (*TriggerDagRunOperator.template_fields, "run_after")

    TriggerWeeklyViewsOperator.__module__ = __name__
    TriggerWeeklyViewsOperator.__qualname__ = "TriggerWeeklyViewsOperator"
    return TriggerWeeklyViewsOperator
