"""The ``engagement`` source of the demo data: the production database of the engagement ELT
(PostgreSQL ``prod``). It creates the production schema (``include/sql/engagement/prod_schema.sql``),
empties its tables and fills them, in one transaction, with COPY from the rows of
``engagement_rows.py``, which carry what the ELT must handle (advisers with no agence, young
people who changed agence, unknown users, NULL fields, events at Monday 00:00, log tables the
ELT must never copy). The same arguments always give the same rows. Local stacks only: it
refuses a non-local host unless ``--allow-remote`` is given."""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date

from .engagement_rows import (
    DEFAULT_TIMEZONE,
    MIN_WEEKS,
    PROD_SCHEMA_SQL,
    TABLE_COLUMNS,
    GenerationPlan,
    build_reference_data,
    reference_stats,
    table_rows,
)


def write_dataset(conn, plan: GenerationPlan) -> tuple[dict[str, int], Counter]:
    """Create the production schema and replace its rows with the plan's, in one transaction;
    returns the rows written per table and what the data carries (named counts)."""
    from analytics.stores.postgres import copy_rows_to_table, run_sql_file

    reference = build_reference_data(plan)
    stats: Counter = Counter()
    counts = {}
    with conn.transaction():
        run_sql_file(conn, PROD_SCHEMA_SQL)
        conn.execute(f"TRUNCATE {', '.join(TABLE_COLUMNS)} RESTART IDENTITY CASCADE")
        for table, rows in table_rows(plan, reference, stats).items():
            counts[table] = copy_rows_to_table(conn, table, TABLE_COLUMNS[table], rows)
    conn.execute("ANALYZE")
    stats.update(reference_stats(reference))
    return counts, stats


@dataclass(frozen=True)
class EngagementRun:
    """The plan and the database it fills: an Airflow connection id, else a libpq URI."""

    plan: GenerationPlan
    database_url: str | None = None
    conn_id: str | None = None
    allow_remote: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--weeks", type=int, default=16, help=f"weeks of events (>= {MIN_WEEKS})")
    parser.add_argument("--users", type=int, default=5000, help="young people and advisers together")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--start-monday", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--timezone", default=DEFAULT_TIMEZONE, help="zone of days and weeks")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--database-url", help="libpq URI; default: $AIRFLOW_CONN_POSTGRES_PROD")
    target.add_argument("--conn", help="an Airflow connection id instead of a URI")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-local database host")


def options(arguments: argparse.Namespace) -> EngagementRun:
    """The run, or ValueError for a plan out of range or no database named."""
    plan = GenerationPlan(
        arguments.seed,
        arguments.weeks,
        arguments.users,
        arguments.events,
        arguments.start_monday,
        arguments.timezone,
    )
    if arguments.conn:
        return EngagementRun(plan, conn_id=arguments.conn, allow_remote=arguments.allow_remote)
    url = arguments.database_url or os.environ.get("AIRFLOW_CONN_POSTGRES_PROD")
    if not url:
        raise ValueError("no database: pass --database-url or --conn, or set AIRFLOW_CONN_POSTGRES_PROD")
    return EngagementRun(plan, database_url=url, allow_remote=arguments.allow_remote)


def run(engagement_run: EngagementRun) -> int:
    """Fill the database with the plan's rows and print what was written."""
    plan = engagement_run.plan
    conn, where = connect_to_local_database(engagement_run)
    started = time.monotonic()
    with conn:
        counts, stats = write_dataset(conn, plan)
    seconds = time.monotonic() - started
    print(
        f"engagement data (seed {plan.seed}, {plan.weeks} weeks from {plan.start_monday}, {plan.timezone}) "
        f"written to {where} in {seconds:.1f}s"
    )
    for table, count in counts.items():
        print(f"  {table:<22} {count:>10} rows")
    for name, count in sorted(stats.items()):
        print(f"  {name:<34} {count:>8}")
    return 0


def connect_to_local_database(engagement_run: EngagementRun):
    """A connection to the run's database and how to name it; refuses a non-local host unless allowed."""
    import psycopg

    from analytics.stores.postgres import connect, target_of_connection

    if engagement_run.conn_id:
        conn = connect(engagement_run.conn_id)
        where = engagement_run.conn_id
    else:
        conn = psycopg.connect(engagement_run.database_url)
        where = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    # Judged on the connection itself, whichever way it was named (URL, --conn, PGHOST, a service file).
    target = target_of_connection(conn)
    if not target.is_local and not engagement_run.allow_remote:
        conn.close()
        raise SystemExit(
            f"refusing to overwrite a database on {target.host!r}: this generator is for local stacks (--allow-remote)"
        )
    return conn, where
