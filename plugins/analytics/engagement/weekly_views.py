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
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from analytics.engagement.config import SQL_DIR, ActiveUserRule
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
    """Create the four view tables and their keys if they are missing (idempotent)."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute(SCHEMA_SQL_PATH.read_text())


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
) -> dict[str, int]:
    """Recompute the week starting on Monday ``week_start`` for each of ``views``; rows written per view.

    All the views are rewritten in ONE transaction (delete the week, insert it, per view), in
    REPEATABLE READ so they and the enrichment check read one snapshot of the events: a reader
    sees the week's views all before or all after, and on any error nothing is written. The
    (view, week) locks are taken before that snapshot, in :data:`WEEKLY_VIEWS` order, so a
    second run of the same week waits and then reads the first one's result. Raises
    :class:`EventsNotEnriched` when events the week reads lack ``day`` or ``week``. ``conn``
    must have no transaction in progress.
    """
    parameters = week_parameters(week_start, rule)
    names = [name for name in WEEKLY_VIEWS if name in views]
    for name in views:
        view_sql_path(name)  # an unknown name fails here, before anything is written
    sql_files = {name: view_sql(name, event_table) for name in names}
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError("compute_week needs a connection with no transaction in progress")
    ensure_schema(conn)
    rows_written: dict[str, int] = {}
    with _view_week_locks(conn, names, week_start), conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        check_events_enriched(conn, week_start, event_table)
        for name, sql_text in sql_files.items():
            rows_written[name] = _run_view_script(conn, sql_text, parameters)
    return rows_written


@contextmanager
def _view_week_locks(conn: psycopg.Connection, names: Sequence[str], week_start: date) -> Iterator[None]:
    """Hold the (view, week) advisory locks of ``names`` at session level, taken in order.

    Session locks, because they must be held before the transaction's snapshot is taken: in
    REPEATABLE READ a lock taken inside the transaction would leave it reading the events and
    view rows of before the run it waited for. Session locks outlive a rollback, hence the
    ``finally``. The view files take the same locks again inside the transaction (a session
    holding a lock gets it again at once).
    """
    taken: list[str] = []
    try:
        with conn.transaction():
            for name in names:
                conn.execute(
                    f"SELECT pg_advisory_lock({VIEW_WEEK_LOCK_KEY})", {"view": name, "week_start": week_start}
                )
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
