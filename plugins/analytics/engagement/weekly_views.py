"""Compute one week of the four weekly engagement views from ``include/sql/engagement/``.

Every path that writes a week (weekly run, backfill, manual fan-out) calls :func:`compute_week`,
which runs the same SQL file per view: delete the week, insert it, in one transaction per view,
so any week can be recomputed at any time and in any order. The SQL files are read at run time;
their definitions are documented in ``include/sql/engagement/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import psycopg

from analytics.engagement.config import SQL_DIR, ActiveUserRule

SCHEMA_SQL_PATH = SQL_DIR / "weekly_views_schema.sql"
WEEKLY_VIEWS = (
    "analytics_fonctionnalites",
    "analytics_fonctionnalites_demarches_ia",
    "analytics_engagement",
    "analytics_engagement_national",
)


def view_sql_path(name: str) -> Path:
    """The SQL file that computes one week of the view ``name``."""
    if name not in WEEKLY_VIEWS:
        raise ValueError(f"unknown weekly view {name!r}; expected one of {WEEKLY_VIEWS}")
    return SQL_DIR / f"{name}.sql"


def week_parameters(week_start: date, rule: ActiveUserRule) -> dict[str, object]:
    """The named parameters every view file takes (each file uses the ones it needs)."""
    if isinstance(week_start, datetime) or not isinstance(week_start, date):
        raise ValueError(f"week_start must be a date, not {week_start!r}")
    if week_start.isoweekday() != 1:
        raise ValueError(f"week_start must be a Monday, not {week_start:%A} {week_start.isoformat()}")
    return {"week_start": week_start, "active_measure": rule.measure, "active_minimum": rule.minimum}


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the four view tables and their keys if they are missing (idempotent)."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute(SCHEMA_SQL_PATH.read_text())


def compute_week(
    conn: psycopg.Connection,
    week_start: date,
    rule: ActiveUserRule,
    views: Sequence[str] = WEEKLY_VIEWS,
) -> dict[str, int]:
    """Recompute the week starting on Monday ``week_start`` for each of ``views``.

    Each view is rewritten in its own transaction (delete the week, insert it): a reader sees a
    view's week either before or after, never half-written; if a later view fails, the earlier
    ones stay committed and a retry rewrites them identically. Returns rows written per view.
    """
    parameters = week_parameters(week_start, rule)
    sql_files = {name: view_sql_path(name).read_text() for name in views}
    ensure_schema(conn)
    rows_written: dict[str, int] = {}
    for name, sql_text in sql_files.items():
        with conn.transaction():
            rows_written[name] = _run_view_script(conn, sql_text, parameters)
    return rows_written


def _run_view_script(conn: psycopg.Connection, sql_text: str, parameters: dict[str, object]) -> int:
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
