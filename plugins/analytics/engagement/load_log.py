"""The ELT's load log (``engagement_loaded_days``): which local days are loaded and enriched, and what they hold.

``load_events`` records, in the same transaction as a day's load, the day with its event count
and ``enriched_at`` NULL. ``enrich_events`` then records, in its transaction, the day's
fingerprint (an md5 over its rows as the weekly views read them) and stamps ``enriched_at``;
``changed_at`` moves only when the fingerprint does, so reloading identical rows changes
nothing. A day that an event moved away from (its ``date_evenement`` changed in production) is
counted and fingerprinted again by the load that took the event over.

What the log answers: whether a week is whole (its seven days loaded and enriched,
:func:`days_not_ready`), and, with ``engagement_computed_weeks``, which computed weeks read a day
whose content changed since (:mod:`analytics.engagement.stale_weeks`). Days are local days in the
configured time zone; an interval that starts or ends inside a day leaves that day unrecorded,
never recorded half-loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from analytics.engagement.config import SQL_DIR
from analytics.engagement.weeks import DAYS_IN_WEEK, day_bounds_in_zone, week_days, whole_local_days
from analytics.stores import postgres

if TYPE_CHECKING:
    from pathlib import Path

    import psycopg

LOADED_DAYS_TABLE = "engagement_loaded_days"
SCHEMA_SQL = SQL_DIR / "loaded_days_schema.sql"
RECORD_LOADED_SQL = SQL_DIR / "record_loaded_days.sql"
RECORD_DAY_CONTENTS_SQL = SQL_DIR / "record_day_contents.sql"
DAYS_READY_SQL = SQL_DIR / "days_ready.sql"


@dataclass(frozen=True)
class DayContents:
    """What the log holds for one day after a recording: its events, and whether its content changed."""

    events: int
    changed: bool


def _identifiers(event_table: str) -> dict[str, str]:
    return {"loaded_days": LOADED_DAYS_TABLE, "event_table": event_table}


def ensure_load_log(conn: psycopg.Connection) -> None:
    """Create ``engagement_loaded_days`` when missing, or add its newer columns (in the caller's transaction)."""
    postgres.run_sql_file(conn, SCHEMA_SQL, identifiers={"loaded_days": LOADED_DAYS_TABLE})


def record_loaded_days(
    conn: psycopg.Connection, start: datetime, end: datetime, timezone: str, event_table: str
) -> dict[date, int]:
    """Record the local days ``[start, end)`` covers whole as loaded, not yet enriched.

    Returns each recorded day's event count (days with no event included).
    """
    return dict(sorted(_record_whole_days(conn, RECORD_LOADED_SQL, start, end, timezone, event_table)))


def record_day_contents(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    timezone: str,
    event_table: str,
    *,
    enriched: bool,
) -> dict[date, DayContents]:
    """Count and fingerprint the logged local days ``[start, end)`` covers whole; stamp them enriched if ``enriched``.

    Returns, for each day of the log recorded, its events and whether its fingerprint changed
    (a day's first recording is a change). Days the log does not hold are left out.
    """
    rows = _record_whole_days(
        conn, RECORD_DAY_CONTENTS_SQL, start, end, timezone, event_table, enriched=enriched
    )
    return {day: DayContents(events, changed) for day, events, changed in sorted(rows)}


def _record_whole_days(
    conn: psycopg.Connection,
    sql_file: Path,
    start: datetime,
    end: datetime,
    timezone: str,
    event_table: str,
    **params: object,
) -> list[tuple]:
    """Run one of the load log's recording statements for the local days ``[start, end)`` covers whole."""
    ensure_load_log(conn)
    days = whole_local_days(start, end, timezone)
    if not days:
        return []
    return postgres.run_sql_file(
        conn,
        sql_file,
        {"days": days, "start": start, "end": end, "timezone": timezone, **params},
        identifiers=_identifiers(event_table),
    )


def record_days_left(
    conn: psycopg.Connection, days: Sequence[date], timezone: str, event_table: str
) -> dict[date, DayContents]:
    """Count and fingerprint again the ``days`` that events moved away from (their enrichment stamp unchanged)."""
    recorded: dict[date, DayContents] = {}
    for day in sorted(set(days)):
        start, end = day_bounds_in_zone(day, timezone)
        recorded |= record_day_contents(conn, start, end, timezone, event_table, enriched=False)
    return recorded


def days_not_ready(conn: psycopg.Connection, week_start: date) -> list[date]:
    """The days of the week that are not loaded and enriched yet (all seven when nothing is recorded).

    Reads in its own transaction (a savepoint inside the caller's), so a connection with no
    transaction in progress is left with none.
    """
    days = week_days(week_start)
    with conn.transaction():
        if not load_log_exists(conn):
            return days
        rows = postgres.run_sql_file(
            conn, DAYS_READY_SQL, {"days": days}, identifiers={"loaded_days": LOADED_DAYS_TABLE}
        )
    ready = {day for (day,) in rows}
    return [day for day in days if day not in ready]


def load_log_exists(conn: psycopg.Connection) -> bool:
    """Whether the load log table exists (the ELT has loaded at least once)."""
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (LOADED_DAYS_TABLE,)).fetchone()[0]


def weeks_not_ready(conn: psycopg.Connection, weeks: Sequence[date]) -> dict[date, list[date]]:
    """For each of ``weeks``, the days not loaded and enriched yet (see :func:`days_not_ready`)."""
    return {week: days_not_ready(conn, week) for week in weeks}


def describe_days_not_ready(missing: dict[date, list[date]]) -> list[str]:
    """Log lines for what :func:`weeks_not_ready` found: the days still waited for, per week."""
    lines = []
    for week, days in missing.items():
        if not days:
            lines.append(f"week {week}: its {DAYS_IN_WEEK} days are loaded and enriched")
            continue
        lines.append(
            f"week {week}: waiting: {len(days)} day(s) not loaded and enriched by the ELT: {', '.join(map(str, days))}"
        )
        if len(days) == DAYS_IN_WEEK:
            lines.append(
                f"week {week}: none of its days is loaded yet: if the ELT never loaded that week, rerun the "
                f'daily run that triggered this one with {{"weekly_views": false}}, or mark this run failed'
            )
    return lines
