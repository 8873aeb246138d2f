"""Operators of the engagement ELT (``engagement_elt_daily``): copy production, load and enrich one interval.

Each step is a plain function that takes connections (or connection ids) and the configuration,
so integration tests and the benchmark call it without Airflow; the operator only resolves the
data interval and the connection ids, calls it, logs the counts and rate, and returns a small
summary (XCom). Every step first checks, with :mod:`analytics.engagement.guard`, that it is not
about to write to production.

- :func:`copy_production`: ``pg_dump | pg_restore --clean`` of the reference tables (the
  ``public`` schema but ``tables_not_copied``) from the source into the target, within
  ``copy_timeout_seconds``.
- :func:`load_events`: the interval's events, deleted then streamed by COPY in one target
  transaction, read from one source snapshot, and checked against the source's count; the
  local days it covers whole go in the load log (:mod:`analytics.engagement.loaded_days`).
- :func:`enrich_events`: week, day and geography of the interval's events; the load log's days
  are stamped enriched.

psycopg is imported inside the functions that use it (type hints only when type checking): the
DAG files import this module when they are parsed, and parsing must load no database driver.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, BaseSensorOperator

from analytics.database_target import DatabaseTarget
from analytics.engagement.config import SQL_DIR, EngagementConfig, load_engagement_config
from analytics.engagement.events import (
    ENRICHMENT_COLUMNS,
    EVENT_COLUMNS,
    EventInterval,
    check_loaded_count,
    event_index_names,
)
from analytics.engagement.guard import (
    check_copy_target,
    check_tables_not_copied,
    check_writable_target,
    table_names,
)
from analytics.engagement.loaded_days import (
    DAYS_IN_WEEK,
    days_not_ready,
    record_enriched_days,
    record_loaded_days,
    whole_local_days,
)
from analytics.engagement.weeks import DAILY_RUN_WITHOUT_INTERVAL, zone
from analytics.stores import postgres

if TYPE_CHECKING:
    import psycopg

ANALYTICS_EVENTS_SCHEMA_SQL = SQL_DIR / "analytics_events_schema.sql"
SOURCE_EVENTS_SQL = SQL_DIR / "source_events.sql"
DELETE_EVENTS_SQL = SQL_DIR / "delete_events.sql"
ENRICH_EVENTS_SCHEMA_SQL = SQL_DIR / "enrich_events_schema.sql"
ENRICH_EVENTS_SQL = SQL_DIR / "enrich_events.sql"
RESOLVED = "resolved"


def _rate(rows: int, seconds: float) -> float:
    return round(rows / seconds, 1) if seconds > 0 else 0.0


# ---------------------------------------------------------------- results


@dataclass
class CopyResult:
    """What copy_production did: the tables restored (rows in the target after the restore)."""

    source: str
    target: str
    tables: dict[str, int]
    tables_not_copied: list[str]
    sequences_not_copied: list[str]
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def as_summary(self) -> dict[str, Any]:
        return {**asdict(self), "rows": sum(self.tables.values())}

    def log_lines(self) -> list[str]:
        lines = [
            f"copied {len(self.tables)} tables from {self.source} to {self.target} in {self.seconds:.1f}s"
        ]
        lines += [f"  {name}: {rows} rows" for name, rows in sorted(self.tables.items())]
        lines.append(f"  not copied: {', '.join([*self.tables_not_copied, *self.sequences_not_copied])}")
        return lines


@dataclass
class LoadResult:
    """What load_events did for one interval."""

    interval_start: str
    interval_end: str
    deleted: int
    loaded: int
    source_count: int
    seconds: float
    days_recorded: list[str] = field(default_factory=list)  # local days covered whole, now in the load log

    @property
    def rows_per_second(self) -> float:
        return _rate(self.loaded, self.seconds)

    def as_summary(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": self.rows_per_second}

    def log_line(self) -> str:
        return (
            f"events [{self.interval_start}, {self.interval_end}): deleted {self.deleted}, loaded {self.loaded} "
            f"(source: {self.source_count}) in {self.seconds:.2f}s, {self.rows_per_second:.0f} rows/s; "
            f"days recorded as loaded: {', '.join(self.days_recorded) or 'none (no whole local day)'}"
        )


@dataclass
class EnrichResult:
    """What enrich_events did for one interval: events by geography status, and rows rewritten."""

    interval_start: str
    interval_end: str
    timezone: str
    events: int
    rewritten: int
    by_geography_status: dict[str, int]
    schema_changed: bool
    seconds: float
    days_recorded: list[str] = field(default_factory=list)  # loaded days now stamped as enriched

    @property
    def without_geography(self) -> int:
        return self.events - self.by_geography_status.get(RESOLVED, 0)

    def as_summary(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "without_geography": self.without_geography,
            "rows_per_second": _rate(self.events, self.seconds),
        }

    def log_lines(self) -> list[str]:
        lines = [
            f"events [{self.interval_start}, {self.interval_end}) in {self.timezone}: {self.events} enriched, "
            f"{self.rewritten} rewritten, in {self.seconds:.2f}s"
            + (" (enrichment columns added)" if self.schema_changed else ""),
            f"  days recorded as enriched: {', '.join(self.days_recorded) or 'none'}",
        ]
        lines += [
            f"  geography: {status}: {count}" for status, count in sorted(self.by_geography_status.items())
        ]
        return lines


# ---------------------------------------------------------------- steps


def check_conn_ids(
    source_conn_id: str, target_conn_id: str, config: EngagementConfig
) -> tuple[DatabaseTarget, DatabaseTarget]:
    """Refuse a target that is the source or is named like production; returns both targets."""
    source, target = postgres.target_of(source_conn_id), postgres.target_of(target_conn_id)
    check_copy_target(source, target, config.production_database_names)
    return source, target


def copy_production(source_conn_id: str, target_conn_id: str, config: EngagementConfig) -> CopyResult:
    """Replace the target's copies of the production reference tables (all tables but ``tables_not_copied``)."""
    check_tables_not_copied(config.tables_not_copied, config.event_table)
    source, target = check_conn_ids(source_conn_id, target_conn_id, config)
    not_copied = table_names(config.tables_not_copied)
    with postgres.connect(source_conn_id, autocommit=True) as source_conn:
        copied = [name for name in postgres.list_tables(source_conn) if name not in not_copied]
        # Serial columns' sequences would otherwise be copied without their tables.
        sequences = postgres.owned_sequences(source_conn, sorted(not_copied))
    excluded = [*config.tables_not_copied, *map(postgres.dump_pattern, sequences)]
    outcome = postgres.dump_and_restore(
        source_conn_id, target_conn_id, excluded, timeout_seconds=config.copy_timeout_seconds
    )
    with postgres.connect(target_conn_id, autocommit=True) as target_conn:
        tables = postgres.table_row_counts(target_conn, copied)
    return CopyResult(
        source=str(source),
        target=str(target),
        tables=tables,
        tables_not_copied=list(config.tables_not_copied),
        sequences_not_copied=sequences,
        seconds=round(outcome.seconds, 3),
        warnings=[text for text in (outcome.dump_stderr, outcome.restore_stderr) if text],
    )


def _event_table_identifiers(config: EngagementConfig) -> dict[str, str]:
    """The identifiers of the event SQL files: the configured table and its index names, derived from it."""
    return {"event_table": config.event_table, **event_index_names(config.event_table)}


def ensure_event_table(conn: psycopg.Connection, config: EngagementConfig) -> None:
    """Create the analytics event table and its date index when missing (in the caller's transaction)."""
    postgres.run_sql_file(conn, ANALYTICS_EVENTS_SCHEMA_SQL, identifiers=_event_table_identifiers(config))


def load_events(
    source_conn: psycopg.Connection,
    target_conn: psycopg.Connection,
    start: datetime | str,
    end: datetime | str,
    config: EngagementConfig,
) -> LoadResult:
    """Copy the source's events of ``[start, end)`` into the target, replacing the target's rows of that interval.

    One transaction on the target (create the table if missing, delete the interval, COPY the
    interval's rows), reading from one snapshot of the source; the rows inserted must equal
    the source's count for the interval, else the whole transaction is rolled back.
    Both connections must have no transaction in progress.
    """
    interval = EventInterval(start, end)
    check_copy_target(
        postgres.target_of_connection(source_conn),
        postgres.target_of_connection(target_conn),
        config.production_database_names,
    )
    from psycopg import sql

    table = {"event_table": config.event_table}
    source_query = postgres.read_sql_file(SOURCE_EVENTS_SQL, {**table, "columns": EVENT_COLUMNS})
    count_query = sql.SQL("SELECT count(*) FROM ({}) AS interval_events").format(source_query)
    started = time.monotonic()
    with postgres.read_snapshot(source_conn), target_conn.transaction():
        ensure_event_table(target_conn, config)
        with target_conn.cursor() as cursor:
            cursor.execute(postgres.read_sql_file(DELETE_EVENTS_SQL, table), interval.as_params())
            deleted = cursor.rowcount
        source_count = source_conn.execute(count_query, interval.as_params()).fetchone()[0]
        loaded = postgres.copy_query_to_table(
            source_conn, source_query, interval.as_params(), target_conn, config.event_table, EVENT_COLUMNS
        )
        check_loaded_count(loaded, source_count, interval)
        days = record_loaded_days(
            target_conn, interval.start, interval.end, config.timezone, config.event_table
        )
    return LoadResult(
        interval_start=interval.start.isoformat(),
        interval_end=interval.end.isoformat(),
        deleted=deleted,
        loaded=loaded,
        source_count=source_count,
        seconds=round(time.monotonic() - started, 3),
        days_recorded=[day.isoformat() for day in days],
    )


def enrich_events(
    target_conn: psycopg.Connection,
    start: datetime | str,
    end: datetime | str,
    config: EngagementConfig,
) -> EnrichResult:
    """Fill week, day, agence, department and region of the target's events of ``[start, end)``.

    Adds the columns first when any is missing (and the table, when load_events never ran).
    One transaction; idempotent (a rerun rewrites no row unless the reference tables changed
    in between). The geography is the reference tables' as they are when the step runs.
    """
    interval = EventInterval(start, end)
    zone(config.timezone)  # fail early, with a clear message, on a misspelt zone
    check_writable_target(postgres.target_of_connection(target_conn), config.production_database_names)
    table = {"event_table": config.event_table}
    started = time.monotonic()
    with target_conn.transaction():
        schema_changed = bool(postgres.missing_columns(target_conn, config.event_table, ENRICHMENT_COLUMNS))
        if schema_changed:
            ensure_event_table(target_conn, config)
            postgres.run_sql_file(
                target_conn, ENRICH_EVENTS_SCHEMA_SQL, identifiers=_event_table_identifiers(config)
            )
        rows = postgres.run_sql_file(
            target_conn,
            ENRICH_EVENTS_SQL,
            {**interval.as_params(), "timezone": config.timezone},
            identifiers=table,
        )
        enriched_days = record_enriched_days(
            target_conn, whole_local_days(interval.start, interval.end, config.timezone)
        )
    by_status = {status: events for status, events, _ in rows}
    return EnrichResult(
        interval_start=interval.start.isoformat(),
        interval_end=interval.end.isoformat(),
        timezone=config.timezone,
        events=sum(by_status.values()),
        rewritten=sum(rewritten for _, _, rewritten in rows),
        by_geography_status=by_status,
        schema_changed=schema_changed,
        seconds=round(time.monotonic() - started, 3),
        days_recorded=[day.isoformat() for day in enriched_days],
    )


# ---------------------------------------------------------------- operators


def _interval_from(context: Any, start: datetime | str | None, end: datetime | str | None) -> tuple[Any, Any]:
    """The interval given to the operator, else the run's data interval."""
    start = start if start not in (None, "") else context.get("data_interval_start")
    end = end if end not in (None, "") else context.get("data_interval_end")
    if start is None or end is None:
        raise ValueError(
            f"no data interval: {DAILY_RUN_WITHOUT_INTERVAL}; or pass interval_start and interval_end"
        )
    return start, end


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


class _IntervalOperator(_EngagementOperator):
    def __init__(
        self,
        *,
        interval_start: datetime | str | None = None,
        interval_end: datetime | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.interval_start = interval_start
        self.interval_end = interval_end


class CopyProductionOperator(_EngagementOperator):
    """Copy the production reference tables into analytics (``pg_dump | pg_restore --clean``)."""

    template_fields: Sequence[str] = ("source_conn_id", "target_conn_id")
    ui_color = "#fdf2d0"

    def execute(self, context: Any) -> dict[str, Any]:
        config, source_conn_id, target_conn_id = self._config_and_conn_ids()
        result = copy_production(source_conn_id, target_conn_id, config)
        for line in result.log_lines():
            self.log.info(line)
        return result.as_summary()


class LoadEventsOperator(_IntervalOperator):
    """Replace the analytics events of the data interval with production's (delete + COPY, count-checked)."""

    template_fields: Sequence[str] = ("interval_start", "interval_end", "source_conn_id", "target_conn_id")
    ui_color = "#dff3e4"

    def execute(self, context: Any) -> dict[str, Any]:
        config, source_conn_id, target_conn_id = self._config_and_conn_ids()
        start, end = _interval_from(context, self.interval_start, self.interval_end)
        self.log.info("loading events [%s, %s) from %s into %s", start, end, source_conn_id, target_conn_id)
        with postgres.connect(source_conn_id) as source_conn, postgres.connect(target_conn_id) as target_conn:
            result = load_events(source_conn, target_conn, start, end, config)
        self.log.info(result.log_line())
        return result.as_summary()


class EnrichEventsOperator(_IntervalOperator):
    """Fill week, day and geography of the data interval's events in analytics."""

    template_fields: Sequence[str] = ("interval_start", "interval_end", "source_conn_id", "target_conn_id")
    ui_color = "#e8f1fb"

    def execute(self, context: Any) -> dict[str, Any]:
        config, source_conn_id, target_conn_id = self._config_and_conn_ids()
        start, end = _interval_from(context, self.interval_start, self.interval_end)
        check_conn_ids(source_conn_id, target_conn_id, config)
        with postgres.connect(target_conn_id) as target_conn:
            result = enrich_events(target_conn, start, end, config)
        for line in result.log_lines():
            self.log.info(line)
        return result.as_summary()


class ComputeWeeklyViewsOperator(_EngagementOperator):
    """Recompute the four weekly views for one week (delete the week, insert it, per view).

    ``week_start`` is a Monday (ISO date string or date). Every path that writes a week, a
    backfill, a manual range or the daily DAG's Monday trigger, ends here. Like every step, it
    refuses a target that is the source or is named like production.
    """

    template_fields: Sequence[str] = ("week_start", "source_conn_id", "target_conn_id")
    ui_color = "#efe3f7"

    def __init__(self, *, week_start: str | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.week_start = week_start

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.engagement.weekly_views import compute_week

        config, source_conn_id, target_conn_id = self._config_and_conn_ids()
        week = _week_start_date(self.week_start)
        check_conn_ids(source_conn_id, target_conn_id, config)
        started = time.monotonic()
        with postgres.connect(target_conn_id) as conn:
            missing = days_not_ready(conn, week)
            if missing:
                # Not fatal: the views are recomputed from what analytics holds, e.g. history loaded
                # before the ELT kept its log. The daily DAG waits for whole weeks itself.
                self.log.warning(
                    "week %s: %s; computing it from what analytics holds", week, _not_ready(missing)
                )
            rows = compute_week(conn, week, config.active_user_rule, event_table=config.event_table)
        seconds = time.monotonic() - started
        for view, count in rows.items():
            self.log.info("week %s: %d rows in %s", week, count, view)
        self.log.info(
            "week %s computed in %.1fs (active rule: %s >= %d)",
            week,
            seconds,
            config.active_user_rule.measure,
            config.active_user_rule.minimum,
        )
        return {"week": week.isoformat(), "rows": rows, "seconds": round(seconds, 2)}


def _week_start_date(value: date | str) -> date:
    """A templated ``week_start`` (rendered as an ISO string) or a date, as a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _not_ready(days: Sequence[Any]) -> str:
    return f"{len(days)} day(s) not loaded and enriched by the ELT: {', '.join(map(str, days))}"


class WeekLoadedSensor(BaseSensorOperator):
    """Wait until the seven days of a week are loaded and enriched, as the ELT's load log records them.

    ``week_start`` is a Monday (ISO date string or date, templated). Read-only. Each poke logs the
    days still missing, so a run that waits says what it waits for; a day whose run failed keeps
    the week waiting until that day is rerun, or until the sensor's timeout fails it.
    """

    template_fields: Sequence[str] = ("week_start", "target_conn_id")
    ui_color = "#f5e9d7"

    def __init__(self, *, week_start: str | Any, target_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.week_start = week_start
        self.target_conn_id = target_conn_id

    def poke(self, context: Any) -> bool:
        config = load_engagement_config()
        week = _week_start_date(self.week_start)
        with postgres.connect(self.target_conn_id or config.target_connection_id) as conn:
            missing = days_not_ready(conn, week)
        if missing:
            self.log.info("week %s: waiting: %s", week, _not_ready(missing))
            if len(missing) == DAYS_IN_WEEK:
                self.log.info(
                    "none of its days is loaded yet: if the ELT never loaded that week (this Monday "
                    'is its first), run this day with {"weekly_views": false} instead'
                )
            return False
        self.log.info("week %s: its 7 days are loaded and enriched", week)
        return True
