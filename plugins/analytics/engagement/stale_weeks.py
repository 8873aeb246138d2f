"""Stale weeks: computed weeks of the weekly views that read a day whose content changed since.

A view row for week W reads up to two months of events before W's end. ``compute_week`` records
in ``engagement_computed_weeks``, in the week's transaction, when it computed W and the
fingerprint of the load log's days of that window as its snapshot read them; the load log
changes a day's fingerprint when its rows change (a late row, an event moved, a rerun or a
backfill with different rows, a new geography), never on an identical reload. W is stale when
the fingerprint of its window now differs: the view ``engagement_stale_weeks`` is that query.
The daily DAG runs :func:`find_stale_weeks` after its load and triggers the weekly views for
them, so the views never disagree with the events for longer than one daily run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from analytics.engagement.config import SQL_DIR, EngagementConfig
from analytics.engagement.load_log import LOADED_DAYS_TABLE
from analytics.engagement.weeks import local_day
from analytics.stores import postgres

if TYPE_CHECKING:
    import psycopg

COMPUTED_WEEKS_TABLE = "engagement_computed_weeks"
STALE_WEEKS_VIEW = "engagement_stale_weeks"
SCHEMA_SQL = SQL_DIR / "computed_weeks_schema.sql"
RECORD_COMPUTED_WEEK_SQL = SQL_DIR / "record_computed_week.sql"
STALE_WEEKS_SQL = SQL_DIR / "stale_weeks.sql"
IDENTIFIERS = {
    "loaded_days": LOADED_DAYS_TABLE,
    "computed_weeks": COMPUTED_WEEKS_TABLE,
    "stale_weeks": STALE_WEEKS_VIEW,
}
STALE_WEEKS_RUN_PREFIX = "stale_weeks__"


@dataclass(frozen=True)
class StaleWeek:
    """A computed week whose window changed: when it was computed, and the days changed after that."""

    week: date
    computed_at: datetime
    changed_days: tuple[date, ...]

    def log_line(self) -> str:
        days = ", ".join(map(str, self.changed_days)) or "a day changed while the week was being computed"
        return f"stale week {self.week} (computed {self.computed_at.isoformat(timespec='seconds')}): {days}"


@dataclass
class StaleWeeks:
    """What find_stale_weeks found: every stale week, and the ones to recompute now (at most max_weeks_per_run)."""

    stale: list[StaleWeek]
    to_recompute: list[date] = field(default_factory=list)

    def log_lines(self) -> list[str]:
        if not self.stale:
            return ["no stale week: every computed week agrees with the load log"]
        lines = [f"{len(self.stale)} stale week(s): their views read days whose content changed since"]
        lines += [f"  {week.log_line()}" for week in self.stale]
        deferred = len(self.stale) - len(self.to_recompute)
        lines.append(
            f"recomputing {len(self.to_recompute)}: {', '.join(map(str, self.to_recompute))}"
            + (
                f"; {deferred} more (over max_weeks_per_run) are left for the next daily run"
                if deferred
                else ""
            )
        )
        return lines

    def as_summary(self) -> dict[str, Any]:
        return {
            "stale": [week.week.isoformat() for week in self.stale],
            "to_recompute": [week.isoformat() for week in self.to_recompute],
        }


def ensure_computed_weeks(conn: psycopg.Connection) -> None:
    """Create ``engagement_computed_weeks``, its window functions and the stale-weeks view (caller's transaction).

    The load log must exist (:func:`analytics.engagement.load_log.ensure_load_log`).
    """
    postgres.run_sql_file(conn, SCHEMA_SQL, identifiers=IDENTIFIERS)


def record_computed_week(conn: psycopg.Connection, week: date, rows_written: dict[str, int]) -> None:
    """Record, in the caller's transaction (the week's own), that ``week`` was computed from its window as it is now."""
    from psycopg.types.json import Jsonb

    postgres.run_sql_file(
        conn,
        RECORD_COMPUTED_WEEK_SQL,
        {"week_start": week, "rows_written": Jsonb(rows_written)},
        identifiers=IDENTIFIERS,
    )


def stale_weeks(conn: psycopg.Connection) -> list[StaleWeek]:
    """The stale weeks, oldest first; none when no week was ever computed. Reads in its own (sub)transaction."""
    with conn.transaction():
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (STALE_WEEKS_VIEW,)).fetchone()[0]
        if not exists:
            return []
        rows = postgres.run_sql_file(conn, STALE_WEEKS_SQL, identifiers=IDENTIFIERS)
    return [StaleWeek(week, computed_at, tuple(days)) for week, computed_at, days in rows]


def find_stale_weeks(target_conn_id: str, config: EngagementConfig) -> StaleWeeks:
    """The stale weeks of the analytics database, and the oldest ``max_weeks_per_run`` of them to recompute now."""
    with postgres.connect(target_conn_id) as conn:
        stale = stale_weeks(conn)
    return StaleWeeks(stale, [week.week for week in stale[: config.max_weeks_per_run]])


def stale_weeks_run_id(interval_start: datetime, weeks: list[date], config: EngagementConfig) -> str:
    """The weekly views' run id for recomputing ``weeks`` from the daily run of ``interval_start``'s day.

    The same daily run finding the same weeks gives the same id (its trigger then clears that
    run to compute again); other weeks give another id, so a run's conf always lists its weeks.
    """
    day = local_day(interval_start, config.timezone)
    digest = hashlib.sha1(",".join(week.isoformat() for week in weeks).encode()).hexdigest()[:8]
    return f"{STALE_WEEKS_RUN_PREFIX}{day.isoformat()}__{len(weeks)}_weeks_{digest}"
