"""Which local days the ELT has loaded and enriched, so a week is computed only once it is whole.

``load_events`` records, in the same transaction as the load, every local day that its interval
covers whole (a row per day in ``engagement_loaded_days``, with its event count and
``enriched_at`` NULL); ``enrich_events`` stamps ``enriched_at`` on the days it enriched. A week
is ready when its seven days are there and enriched. The daily DAG waits for that before it
triggers the weekly views: with a day missing (its run failed, or a backfill ran the days out of
order), the week would otherwise be written from part of its events, silently.

Days are local days in the configured time zone; an interval that starts or ends inside a day
leaves that day unrecorded, never recorded half-loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from analytics.engagement.config import SQL_DIR
from analytics.engagement.weeks import ONE_DAY, day_bounds_in_zone, local_day
from analytics.stores import postgres

if TYPE_CHECKING:
    import psycopg

LOADED_DAYS_TABLE = "engagement_loaded_days"
SCHEMA_SQL = SQL_DIR / "loaded_days_schema.sql"
RECORD_LOADED_SQL = SQL_DIR / "record_loaded_days.sql"
RECORD_ENRICHED_SQL = SQL_DIR / "record_enriched_days.sql"
DAYS_READY_SQL = SQL_DIR / "days_ready.sql"
DAYS_IN_WEEK = 7


def whole_local_days(start: datetime, end: datetime, timezone: str) -> list[date]:
    """The local days whose whole ``[00:00, next 00:00)`` lies inside ``[start, end)``, in order.

    ``start`` and ``end`` must be timezone-aware. DST days (23 or 25 hours) count like any other.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"[{start}, {end}) must be timezone-aware to be cut into local days")
    day = local_day(start, timezone)
    if day_bounds_in_zone(day, timezone)[0] < start:
        day += ONE_DAY
    days = []
    while day_bounds_in_zone(day, timezone)[1] <= end:
        days.append(day)
        day += ONE_DAY
    return days


def week_days(week_start: date) -> list[date]:
    """The seven days of the week that starts on the Monday ``week_start``."""
    if week_start.weekday() != 0:
        raise ValueError(f"{week_start} is a {week_start:%A}: weeks start on Monday")
    return [week_start + timedelta(days=offset) for offset in range(DAYS_IN_WEEK)]


def _identifiers(event_table: str) -> dict[str, str]:
    return {"loaded_days": LOADED_DAYS_TABLE, "event_table": event_table}


def ensure_loaded_days_table(conn: psycopg.Connection) -> None:
    """Create ``engagement_loaded_days`` when missing (in the caller's transaction)."""
    postgres.run_sql_file(conn, SCHEMA_SQL, identifiers={"loaded_days": LOADED_DAYS_TABLE})


def record_loaded_days(
    conn: psycopg.Connection, start: datetime, end: datetime, timezone: str, event_table: str
) -> dict[date, int]:
    """Record the local days ``[start, end)`` covers whole as loaded, not yet enriched.

    Returns each recorded day's event count (days with no event included).
    """
    ensure_loaded_days_table(conn)
    days = whole_local_days(start, end, timezone)
    if not days:
        return {}
    rows = postgres.run_sql_file(
        conn,
        RECORD_LOADED_SQL,
        {"days": days, "start": start, "end": end, "timezone": timezone},
        identifiers=_identifiers(event_table),
    )
    return dict(sorted(rows))


def record_enriched_days(conn: psycopg.Connection, days: Sequence[date]) -> list[date]:
    """Stamp the loaded ``days`` as enriched; returns the days stamped (days never loaded are not)."""
    ensure_loaded_days_table(conn)
    if not days:
        return []
    rows = postgres.run_sql_file(
        conn, RECORD_ENRICHED_SQL, {"days": list(days)}, identifiers={"loaded_days": LOADED_DAYS_TABLE}
    )
    return sorted(day for (day,) in rows)


def days_not_ready(conn: psycopg.Connection, week_start: date) -> list[date]:
    """The days of the week that are not loaded and enriched yet (all seven when nothing is recorded).

    Reads in its own transaction (a savepoint inside the caller's), so a connection with no
    transaction in progress is left with none.
    """
    days = week_days(week_start)
    with conn.transaction():
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (LOADED_DAYS_TABLE,)).fetchone()[0]
        if not exists:
            return days
        rows = postgres.run_sql_file(
            conn, DAYS_READY_SQL, {"days": days}, identifiers={"loaded_days": LOADED_DAYS_TABLE}
        )
    ready = {day for (day,) in rows}
    return [day for day in days if day not in ready]
