"""The engagement ELT's engines: copy production's reference tables, load and enrich events, day by day.

Plain functions, testable without Airflow (the operators, the integration tests and the
benchmark call them). Each one first checks, with :mod:`analytics.engagement.guard`, that it is
not about to write to production.

- :func:`copy_production`: ``pg_dump | pg_restore --clean --single-transaction`` of the
  reference tables (the ``public`` schema but ``tables_not_copied``) within
  ``copy_timeout_seconds``.
- :func:`load_events`: one interval, in one target transaction reading one source snapshot:
  delete the interval's events, COPY the interval's rows in (through a temporary table, taking
  them over, when some are still in analytics under another day: moved in production), check
  the count against the source's, and record the days in the load log (the days events left
  included).
- :func:`enrich_events`: week, day and geography of one interval's events; the load log's days
  get their fingerprint and ``enriched_at``.
- :func:`load_days` and :func:`enrich_days`: the same for a list of local days (a daily run's
  day and its lookback days), one transaction per day, with progress in the log.

psycopg is imported inside the functions that use it (type hints only when type checking): the
DAG files import the operators, hence this module, when they are parsed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from analytics.core.progress import Progress, rate
from analytics.database_target import DatabaseTarget
from analytics.engagement.config import SQL_DIR, EngagementConfig
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
from analytics.engagement.load_log import record_day_contents, record_days_left, record_loaded_days
from analytics.engagement.weeks import day_bounds_in_zone, zone
from analytics.stores import postgres

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

ANALYTICS_EVENTS_SCHEMA_SQL = SQL_DIR / "analytics_events_schema.sql"
SOURCE_EVENTS_SQL = SQL_DIR / "source_events.sql"
DELETE_EVENTS_SQL = SQL_DIR / "delete_events.sql"
DELETE_MOVED_EVENTS_SQL = SQL_DIR / "delete_moved_events.sql"
CREATE_INCOMING_EVENTS_SQL = SQL_DIR / "incoming_events_schema.sql"
INSERT_INCOMING_EVENTS_SQL = SQL_DIR / "insert_incoming_events.sql"
ENRICH_EVENTS_SCHEMA_SQL = SQL_DIR / "enrich_events_schema.sql"
ENRICH_EVENTS_SQL = SQL_DIR / "enrich_events.sql"
RESOLVED = "resolved"
# The load's temporary table of the interval's rows from the source (dropped at commit).
INCOMING_EVENTS_TABLE = "engagement_incoming_events"


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
    deleted: int  # the interval's rows in analytics before the load
    loaded: int
    source_count: int
    seconds: float
    days_recorded: list[str] = field(default_factory=list)  # local days covered whole, now in the load log
    moved_in: int = 0  # events analytics held under another day, taken over by this interval
    days_left: dict[str, int] = field(default_factory=dict)  # day they left -> its events now (load log)

    @property
    def rows_per_second(self) -> float:
        return rate(self.loaded, self.seconds)

    def as_summary(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": self.rows_per_second}

    def log_line(self) -> str:
        line = (
            f"events [{self.interval_start}, {self.interval_end}): deleted {self.deleted}, loaded {self.loaded} "
            f"(source: {self.source_count}) in {self.seconds:.2f}s, {self.rows_per_second:.0f} rows/s; "
            f"days recorded as loaded: {', '.join(self.days_recorded) or 'none (no whole local day)'}"
        )
        if self.moved_in:
            left = ", ".join(f"{day} (now {events} events)" for day, events in self.days_left.items())
            line += (
                f"; {self.moved_in} event(s) moved in from other days: {left or 'days not in the load log'}"
            )
        return line


@dataclass
class EnrichResult:
    """What enrich_events did for one interval: events by geography status, rows rewritten, days changed."""

    interval_start: str
    interval_end: str
    timezone: str
    events: int
    rewritten: int
    by_geography_status: dict[str, int]
    schema_changed: bool
    seconds: float
    days_recorded: list[str] = field(default_factory=list)  # loaded days now stamped as enriched
    days_changed: list[str] = field(default_factory=list)  # of those, the days whose content changed

    @property
    def without_geography(self) -> int:
        return self.events - self.by_geography_status.get(RESOLVED, 0)

    def as_summary(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "without_geography": self.without_geography,
            "rows_per_second": rate(self.events, self.seconds),
        }

    def log_lines(self) -> list[str]:
        lines = [
            f"events [{self.interval_start}, {self.interval_end}) in {self.timezone}: {self.events} enriched, "
            f"{self.rewritten} rewritten, in {self.seconds:.2f}s"
            + (" (enrichment columns added)" if self.schema_changed else ""),
            f"  days recorded as enriched: {', '.join(self.days_recorded) or 'none'}; "
            f"content changed: {', '.join(self.days_changed) or 'none'}",
        ]
        lines += [
            f"  geography: {status}: {count}" for status, count in sorted(self.by_geography_status.items())
        ]
        return lines


@dataclass
class DaysResult:
    """What load_days or enrich_days did: one result per day, oldest first."""

    step: str
    days: dict[str, LoadResult | EnrichResult]
    seconds: float

    def as_summary(self) -> dict[str, Any]:
        summaries = {day: result.as_summary() for day, result in self.days.items()}
        total = sum(
            result.loaded if isinstance(result, LoadResult) else result.events
            for result in self.days.values()
        )
        return {
            "step": self.step,
            "days": summaries,
            "events": total,
            "seconds": round(self.seconds, 3),
            "rows_per_second": rate(total, self.seconds),
        }


# ---------------------------------------------------------------- copy_production


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


# ---------------------------------------------------------------- the event table


def _event_table_identifiers(config: EngagementConfig) -> dict[str, str]:
    """The identifiers of the event SQL files: the configured table and its index names, derived from it."""
    return {"event_table": config.event_table, **event_index_names(config.event_table)}


def lock_event_table(conn: psycopg.Connection, config: EngagementConfig) -> None:
    """Wait for, then hold until the caller's transaction ends, the event table's writer lock.

    A transaction-level advisory lock keyed on the table's name: loads and enrichments of
    concurrent runs (a backfill with several active runs; a run's lookback rewriting the day
    another run loads) take turns instead of racing on the table's creation, on the same day's
    rows or on its load log row. Each is one short transaction, so the wait is short; readers are
    not blocked.
    """
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"analytics.engagement:{config.event_table}",),
    )


def ensure_event_table(conn: psycopg.Connection, config: EngagementConfig) -> None:
    """Create the analytics event table and its date index when missing (in the caller's transaction)."""
    postgres.run_sql_file(conn, ANALYTICS_EVENTS_SCHEMA_SQL, identifiers=_event_table_identifiers(config))


def ensure_enrichment_columns(conn: psycopg.Connection, config: EngagementConfig) -> bool:
    """Add the enrichment columns (and the table) when any is missing; True when the schema changed.

    The ALTER TABLE takes a table lock, so it runs only when a column is missing.
    """
    if not postgres.missing_columns(conn, config.event_table, ENRICHMENT_COLUMNS):
        return False
    ensure_event_table(conn, config)
    postgres.run_sql_file(conn, ENRICH_EVENTS_SCHEMA_SQL, identifiers=_event_table_identifiers(config))
    return True


# ---------------------------------------------------------------- load


def load_events(
    source_conn: psycopg.Connection,
    target_conn: psycopg.Connection,
    start: datetime | str,
    end: datetime | str,
    config: EngagementConfig,
) -> LoadResult:
    """Copy the source's events of ``[start, end)`` into the target, replacing the target's rows of that interval.

    One transaction on the target, reading one snapshot of the source: create the table if
    missing; count the source's rows of the interval; delete the target's rows of the interval;
    COPY the interval's rows in. When that COPY fails on the primary key, an incoming event is
    still in the target under another day (its ``date_evenement`` was changed in production): the
    COPY is undone (a savepoint) and :func:`_take_over_moved_events` loads the interval through a
    temporary table instead, taking those events over. Then the rows inserted must equal the
    source's count, else the whole transaction is rolled back; the interval's whole days go in
    the load log, and the days the moved events left are counted and fingerprinted again. Both
    connections must have no transaction in progress.
    """
    interval = EventInterval(start, end)
    check_copy_target(
        postgres.target_of_connection(source_conn),
        postgres.target_of_connection(target_conn),
        config.production_database_names,
    )
    import psycopg
    from psycopg import sql

    table = {"event_table": config.event_table}
    source_rows = postgres.read_sql_file(SOURCE_EVENTS_SQL, {**table, "columns": EVENT_COLUMNS})
    count_query = sql.SQL("SELECT count(*) FROM ({}) AS interval_events").format(source_rows)
    started = time.monotonic()
    with postgres.read_snapshot(source_conn), target_conn.transaction():
        lock_event_table(target_conn, config)
        ensure_event_table(target_conn, config)
        source_count = source_conn.execute(count_query, interval.as_params()).fetchone()[0]
        with target_conn.cursor() as cursor:
            cursor.execute(postgres.read_sql_file(DELETE_EVENTS_SQL, table), interval.as_params())
            deleted = cursor.rowcount
        moved_from: list[date] = []
        try:
            with target_conn.transaction():  # a savepoint: a COPY refused on the primary key leaves nothing
                loaded = postgres.copy_query_to_table(
                    source_conn,
                    source_rows,
                    interval.as_params(),
                    target_conn,
                    config.event_table,
                    EVENT_COLUMNS,
                )
        except psycopg.errors.UniqueViolation:
            log.info(
                "%s: an incoming event is in analytics under another day: taking moved events over", interval
            )
            loaded, moved_from = _take_over_moved_events(source_conn, target_conn, interval, config)
        check_loaded_count(loaded, source_count, interval)
        days = record_loaded_days(
            target_conn, interval.start, interval.end, config.timezone, config.event_table
        )
        days_left = {}
        if moved_from:
            ensure_enrichment_columns(target_conn, config)  # the fingerprint reads them
            days_left = record_days_left(target_conn, moved_from, config.timezone, config.event_table)
    return LoadResult(
        interval_start=interval.start.isoformat(),
        interval_end=interval.end.isoformat(),
        deleted=deleted,
        loaded=loaded,
        source_count=source_count,
        seconds=round(time.monotonic() - started, 3),
        days_recorded=[day.isoformat() for day in days],
        moved_in=len(moved_from),
        days_left={day.isoformat(): contents.events for day, contents in days_left.items()},
    )


def _take_over_moved_events(
    source_conn: psycopg.Connection,
    target_conn: psycopg.Connection,
    interval: EventInterval,
    config: EngagementConfig,
) -> tuple[int, list[date]]:
    """Load the interval (its rows already deleted) taking over the incoming events the target holds under other days.

    In the load's transaction and snapshot: COPY the interval's rows into a temporary table,
    delete the target's rows with those ids (``delete_moved_events.sql``, outside the interval
    by then), insert the rows. Returns the rows inserted and the local day each moved event left.
    """
    from psycopg import sql

    table = {"event_table": config.event_table}
    incoming = {**table, "incoming": INCOMING_EVENTS_TABLE, "columns": EVENT_COLUMNS}
    source_rows = postgres.read_sql_file(SOURCE_EVENTS_SQL, {**table, "columns": EVENT_COLUMNS})
    postgres.run_sql_file(target_conn, CREATE_INCOMING_EVENTS_SQL, identifiers=incoming)
    postgres.copy_query_to_table(
        source_conn, source_rows, interval.as_params(), target_conn, INCOMING_EVENTS_TABLE, EVENT_COLUMNS
    )
    target_conn.execute(
        sql.SQL("ANALYZE {}").format(sql.Identifier(INCOMING_EVENTS_TABLE))
    )  # index probes for few ids
    moved_from = postgres.run_sql_file(
        target_conn, DELETE_MOVED_EVENTS_SQL, {"timezone": config.timezone}, identifiers=incoming
    )
    with target_conn.cursor() as cursor:
        cursor.execute(postgres.read_sql_file(INSERT_INCOMING_EVENTS_SQL, incoming))
        loaded = cursor.rowcount
    target_conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(INCOMING_EVENTS_TABLE)))
    return loaded, [day for (day,) in moved_from]


def load_days(
    source_conn_id: str, target_conn_id: str, days: Sequence[date], config: EngagementConfig
) -> DaysResult:
    """Load each local day of ``days`` with :func:`load_events`, oldest first, one transaction per day.

    A day that fails stops the run; the days before it stay loaded (each is whole), and a rerun
    loads them again to the same rows.
    """
    check_conn_ids(source_conn_id, target_conn_id, config)
    progress = Progress("load_events", total=len(days), unit="days", logger=log)
    results: dict[str, LoadResult] = {}
    with postgres.connect(source_conn_id) as source_conn, postgres.connect(target_conn_id) as target_conn:
        for day in sorted(days):
            start, end = day_bounds_in_zone(day, config.timezone)
            results[day.isoformat()] = load_events(source_conn, target_conn, start, end, config)
            log.info("%s: %s", day, results[day.isoformat()].log_line())
            progress.advance()
    return DaysResult("load_events", results, progress.finish())


# ---------------------------------------------------------------- enrich


def enrich_events(
    target_conn: psycopg.Connection,
    start: datetime | str,
    end: datetime | str,
    config: EngagementConfig,
) -> EnrichResult:
    """Fill week, day, agence, department and region of the target's events of ``[start, end)``.

    Adds the columns first when any is missing (and the table, when load_events never ran).
    One transaction; idempotent (a rerun rewrites no row unless the reference tables changed in
    between). The geography is the reference tables' as they are when the step runs. The load
    log's days of the interval get their fingerprint (``changed_at`` moves when it differs) and
    ``enriched_at``.
    """
    interval = EventInterval(start, end)
    zone(config.timezone)  # fail early, with a clear message, on a misspelt zone
    check_writable_target(postgres.target_of_connection(target_conn), config.production_database_names)
    started = time.monotonic()
    with target_conn.transaction():
        lock_event_table(target_conn, config)
        schema_changed = ensure_enrichment_columns(target_conn, config)
        rows = postgres.run_sql_file(
            target_conn,
            ENRICH_EVENTS_SQL,
            {**interval.as_params(), "timezone": config.timezone},
            identifiers={"event_table": config.event_table},
        )
        recorded = record_day_contents(
            target_conn, interval.start, interval.end, config.timezone, config.event_table, enriched=True
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
        days_recorded=[day.isoformat() for day in recorded],
        days_changed=[day.isoformat() for day, contents in recorded.items() if contents.changed],
    )


def enrich_days(target_conn_id: str, days: Sequence[date], config: EngagementConfig) -> DaysResult:
    """Enrich each local day of ``days`` with :func:`enrich_events`, oldest first, one transaction per day."""
    progress = Progress("enrich_events", total=len(days), unit="days", logger=log)
    results: dict[str, EnrichResult] = {}
    with postgres.connect(target_conn_id) as target_conn:
        for day in sorted(days):
            start, end = day_bounds_in_zone(day, config.timezone)
            results[day.isoformat()] = enrich_events(target_conn, start, end, config)
            for line in results[day.isoformat()].log_lines():
                log.info("%s: %s", day, line)
            progress.advance()
    return DaysResult("enrich_events", results, progress.finish())
