"""Compute one week of the four weekly engagement views from ``include/sql/engagement/``.

Every path that writes a week (weekly run, backfill, manual fan-out) calls :func:`compute_week`,
which runs the same SQL file per view (delete the week, insert it) for all the views of the
week in ONE transaction, on one snapshot of the events, after checking that the events the
week reads are enriched. Any week can be recomputed at any time and in any order. The SQL files
are read at run time; their definitions are documented in ``include/sql/engagement/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic, sleep

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from analytics.engagement.config import SQL_DIR, ActiveUserRule, EngagementConfig
from analytics.engagement.load_log import days_not_ready, ensure_load_log
from analytics.engagement.stale_weeks import ensure_computed_weeks, record_computed_week
from analytics.stores import postgres

SCHEMA_SQL_PATH = SQL_DIR / "weekly_views_schema.sql"
# The order the views are computed in, and their locks taken: always this one, whatever order a
# caller lists them in, so two runs of the same week cannot deadlock.
WEEKLY_VIEWS = (
    "analytics_fonctionnalites",
    "analytics_fonctionnalites_demarches_ia",
    "analytics_engagement",
    "analytics_engagement_national",
)
# The lock each view file takes on its (view, week); compute_week takes the same ones first.
VIEW_WEEK_LOCK_KEY = "hashtext(%(view)s), %(week_start)s::date - date '2000-01-03'"
# The widest window a view reads is the 2 months before the week's end, at most 62 days of local
# days; a day more on each side covers any time zone (UTC-12 to UTC+14) in UTC instants.
LONGEST_WINDOW = timedelta(days=62)
TIME_ZONE_MARGIN = timedelta(days=1)
UNENRICHED_EVENTS_SQL_PATH = SQL_DIR / "unenriched_events.sql"
DEFAULT_EVENT_TABLE = "evenement_engagement"
# The reference tables (copied from production by copy_production) each view reads; the others
# read the events only. compute_week locks them before its snapshot, in this order.
REFERENCE_TABLES_READ = {"analytics_fonctionnalites_demarches_ia": ("conseiller", "feature_flip", "jeune")}
# How long compute_week waits for a lock (a (view, week) lock held by another run of the week,
# or a reference table being restored) before it fails; include/config/engagement.json's
# lock_timeout_seconds in the DAG.
DEFAULT_LOCK_TIMEOUT_SECONDS = 600.0
REFERENCE_LOCK_RETRY_SECONDS = 0.2


class LockWaitTimeout(RuntimeError):
    """compute_week waited longer than its lock timeout for a lock; nothing was written."""


class EventsNotEnriched(RuntimeError):
    """Events a week reads have no ``day`` or ``week`` yet: the views would silently leave them out."""


def view_sql_path(name: str) -> Path:
    """The SQL file that computes one week of the view ``name``."""
    if name not in WEEKLY_VIEWS:
        raise ValueError(f"unknown weekly view {name!r}; expected one of {WEEKLY_VIEWS}")
    return SQL_DIR / f"{name}.sql"


def view_sql(name: str, event_table: str = DEFAULT_EVENT_TABLE) -> sql.Composed:
    """The SQL of the view ``name`` for one week, reading the events of ``event_table``."""
    return postgres.read_sql_file(view_sql_path(name), {"event_table": event_table})


def week_parameters(week_start: date, rule: ActiveUserRule) -> dict[str, object]:
    """The named parameters every view file takes (each file uses the ones it needs)."""
    if isinstance(week_start, datetime) or not isinstance(week_start, date):
        raise ValueError(f"week_start must be a date, not {week_start!r}")
    if week_start.isoweekday() != 1:
        raise ValueError(f"week_start must be a Monday, not {week_start:%A} {week_start.isoformat()}")
    return {"week_start": week_start, "active_measure": rule.measure, "active_minimum": rule.minimum}


def read_window(week_start: date) -> tuple[datetime, datetime]:
    """UTC instants ``[start, end)`` that hold every event the week's views may read, with a margin."""
    week_end = datetime.combine(week_start + timedelta(days=7), time(), tzinfo=UTC)
    return week_end - LONGEST_WINDOW - TIME_ZONE_MARGIN, week_end + TIME_ZONE_MARGIN


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the four view tables and their keys, the load log and the computed-weeks record if missing (idempotent)."""
    with conn.transaction():
        with conn.cursor() as cursor:
            cursor.execute(SCHEMA_SQL_PATH.read_text())
        ensure_load_log(conn)
        ensure_computed_weeks(conn)


def check_events_enriched(
    conn: psycopg.Connection, week_start: date, event_table: str = DEFAULT_EVENT_TABLE
) -> None:
    """Raise :class:`EventsNotEnriched` when an event of the week's :func:`read_window` lacks day or week.

    ``load_events`` commits events with ``day`` and ``week`` NULL and ``enrich_events`` fills them
    in a later task; the views select on ``day``, so a failed or pending enrichment would remove
    those days from the figures without a word.
    """
    window_start, window_end = read_window(week_start)
    query = postgres.read_sql_file(UNENRICHED_EVENTS_SQL_PATH, {"event_table": event_table})
    unenriched, first, last = conn.execute(
        query, {"window_start": window_start, "window_end": window_end}
    ).fetchone()
    if unenriched:
        raise EventsNotEnriched(
            f"week {week_start.isoformat()}: {unenriched} events that it may read are not enriched "
            f"(day or week is NULL), date_evenement from {first.astimezone(UTC).isoformat()} to "
            f"{last.astimezone(UTC).isoformat()}. Rerun enrich_events for those days "
            f"(engagement_elt_daily: clear enrich_events of their runs), then recompute the week. "
            f"Nothing was written."
        )


def compute_week(
    conn: psycopg.Connection,
    week_start: date,
    rule: ActiveUserRule,
    views: Sequence[str] = WEEKLY_VIEWS,
    event_table: str = DEFAULT_EVENT_TABLE,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> dict[str, int]:
    """Recompute the week starting on Monday ``week_start`` for each of ``views``; rows written per view.

    All the views are rewritten in ONE transaction (delete the week, insert it, per view), in
    REPEATABLE READ so they and the enrichment check read one snapshot of the events: a reader
    sees the week's views all before or all after, and on any error nothing is written. Before
    that snapshot, the (view, week) locks are taken in :data:`WEEKLY_VIEWS` order, so a second
    run of the same week waits and then reads the first one's result; and the reference tables
    the views read are locked (ACCESS SHARE), so a ``copy_production`` restoring them (drop,
    create, copy, in one transaction) has either committed before the snapshot or waits for
    this transaction: the views never read a half-restored copy. A lock not granted within
    ``lock_timeout_seconds`` raises :class:`LockWaitTimeout`. Raises :class:`EventsNotEnriched`
    when events the week reads lack ``day`` or ``week``. When all four views are computed, the
    week and the fingerprint of the load log's days of its window go in
    ``engagement_computed_weeks`` (same transaction), which is what tells later that the week
    is stale. ``conn`` must have no transaction in progress.
    """
    parameters = week_parameters(week_start, rule)
    names = [name for name in WEEKLY_VIEWS if name in views]
    for name in views:
        view_sql_path(name)  # an unknown name fails here, before anything is written
    sql_files = {name: view_sql(name, event_table) for name in names}
    reference_tables = sorted({table for name in names for table in REFERENCE_TABLES_READ.get(name, ())})
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError("compute_week needs a connection with no transaction in progress")
    ensure_schema(conn)
    rows_written: dict[str, int] = {}
    with _view_week_locks(conn, names, week_start, lock_timeout_seconds), conn.transaction():
        # Nothing below may read a table before the LOCK: the first query fixes the snapshot.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _set_lock_timeout(conn, lock_timeout_seconds)
        _lock_reference_tables(conn, reference_tables, week_start, lock_timeout_seconds)
        check_events_enriched(conn, week_start, event_table)
        for name, sql_text in sql_files.items():
            rows_written[name] = _run_view_script(conn, sql_text, parameters)
        if names == list(WEEKLY_VIEWS):  # the week is whole again: its window as this snapshot read it
            record_computed_week(conn, week_start, rows_written)
    return rows_written


def _set_lock_timeout(conn: psycopg.Connection, seconds: float) -> None:
    """``SET LOCAL lock_timeout``: a utility statement, so it takes no snapshot."""
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{int(seconds * 1000)}ms")))


def _lock_reference_tables(
    conn: psycopg.Connection, tables: Sequence[str], week_start: date, timeout_seconds: float
) -> None:
    """``LOCK TABLE ... IN ACCESS SHARE MODE`` before the snapshot (LOCK takes none: PostgreSQL's LOCK docs).

    A restore holding a dropped-and-recreated table makes this wait until it commits; the tables
    locked are then the new ones. All the tables are locked at once or none: each attempt is
    ``NOWAIT`` inside a savepoint, retried every :data:`REFERENCE_LOCK_RETRY_SECONDS`, so this
    transaction never holds one table while it waits for another, which the restore (dropping
    them one after another) could be holding: no deadlock. Past ``timeout_seconds``,
    :class:`LockWaitTimeout`.
    """
    if not tables:
        return
    statement = sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE NOWAIT").format(
        sql.SQL(", ").join(map(sql.Identifier, tables))
    )
    deadline = monotonic() + timeout_seconds
    while True:
        try:
            with conn.transaction():  # a savepoint: a refused attempt gives back what it got
                conn.execute(statement)
            return
        except psycopg.errors.LockNotAvailable as error:
            if monotonic() >= deadline:
                raise LockWaitTimeout(
                    f"week {week_start.isoformat()}: the reference tables {', '.join(tables)} stayed locked for "
                    f"more than {timeout_seconds:.0f}s (lock_timeout_seconds in include/config/engagement.json), "
                    f"probably by copy_production restoring them; nothing was written: clear the task once the "
                    f"copy is done"
                ) from error
            sleep(REFERENCE_LOCK_RETRY_SECONDS)


@contextmanager
def _view_week_locks(
    conn: psycopg.Connection, names: Sequence[str], week_start: date, timeout_seconds: float
) -> Iterator[None]:
    """Hold the (view, week) advisory locks of ``names`` at session level, taken in order, waiting at most ``timeout_seconds``.

    Session locks, because they must be held before the transaction's snapshot is taken: in
    REPEATABLE READ a lock taken inside the transaction would leave it reading the events and
    view rows of before the run it waited for. Session locks outlive a rollback, hence the
    ``finally``. The view files take the same locks again inside the transaction (a session
    holding a lock gets it again at once). The wait is bounded by ``lock_timeout``, which
    PostgreSQL applies to advisory locks as to any other: past it, :class:`LockWaitTimeout`.
    """
    taken: list[str] = []
    try:
        with conn.transaction():
            _set_lock_timeout(conn, timeout_seconds)
            for name in names:
                try:
                    conn.execute(
                        f"SELECT pg_advisory_lock({VIEW_WEEK_LOCK_KEY})",
                        {"view": name, "week_start": week_start},
                    )
                except psycopg.errors.LockNotAvailable as error:
                    raise LockWaitTimeout(
                        f"week {week_start.isoformat()}: another computation of this week has held the lock of "
                        f"{name} for more than {timeout_seconds:.0f}s (lock_timeout_seconds in "
                        f"include/config/engagement.json); nothing was written: look for that run (a long "
                        f"recompute of the same week), then clear this task"
                    ) from error
                taken.append(name)
        yield
    finally:
        if taken and not conn.closed and not conn.broken:
            with conn.transaction():
                for name in reversed(taken):
                    conn.execute(
                        f"SELECT pg_advisory_unlock({VIEW_WEEK_LOCK_KEY})",
                        {"view": name, "week_start": week_start},
                    )


def _run_view_script(
    conn: psycopg.Connection, sql_text: sql.Composable, parameters: dict[str, object]
) -> int:
    """Run a view's whole file (lock, delete, insert) and return the rows it inserted.

    A client-side binding cursor lets one ``execute`` carry several statements with named
    parameters; psycopg adapts and quotes the values (no string formatting of values here).
    """
    with psycopg.ClientCursor(conn) as cursor:
        cursor.execute(sql_text, parameters)
        inserted = 0
        while True:
            if (cursor.statusmessage or "").startswith("INSERT"):
                inserted += cursor.rowcount
            if not cursor.nextset():
                return inserted


# ---------------------------------------------------------------- the engine of one task


@dataclass
class WeekResult:
    """What recompute_week did: rows per view, the days of the week the load log lacked, how long it took."""

    week: date
    rows: dict[str, int]
    days_not_ready: list[date]
    seconds: float
    rule: ActiveUserRule

    def log_lines(self) -> list[str]:
        lines = []
        if self.days_not_ready:
            # Not fatal: history may predate the load log; the daily DAG's trigger waits for whole weeks.
            lines.append(
                f"warning: week {self.week}: {len(self.days_not_ready)} day(s) not loaded and enriched by the ELT: "
                f"{', '.join(map(str, self.days_not_ready))}; computed from what analytics holds"
            )
        lines += [f"week {self.week}: {count} rows in {view}" for view, count in self.rows.items()]
        lines.append(
            f"week {self.week} computed in {self.seconds:.1f}s "
            f"(active rule: {self.rule.measure} >= {self.rule.minimum})"
        )
        return lines

    def as_summary(self) -> dict[str, object]:
        return {"week": self.week.isoformat(), "rows": self.rows, "seconds": round(self.seconds, 2)}


def recompute_week(target_conn_id: str, week: date, config: EngagementConfig) -> WeekResult:
    """Compute the four views of ``week`` in the configured analytics database, saying which of its days the load log lacks."""
    started = monotonic()
    with postgres.connect(target_conn_id) as conn:
        missing = days_not_ready(conn, week)
        rows = compute_week(
            conn,
            week,
            config.active_user_rule,
            event_table=config.event_table,
            lock_timeout_seconds=config.lock_timeout_seconds,
        )
    return WeekResult(week, rows, missing, monotonic() - started, config.active_user_rule)
