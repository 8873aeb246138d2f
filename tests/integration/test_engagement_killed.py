"""The engagement ELT's task process killed outright (SIGKILL) in the middle of its writes, then run again.

The task runs in a child process, as Airflow runs a task, on the real PostgreSQL databases and
data set of ``test_engagement_elt.py``; the test waits until the write is under way (seen in
``pg_stat_activity``), kills the process with SIGKILL (no ``finally``, no handler runs), and checks
what readers see: the target as it was before the run, no program or transaction left behind.
The rerun must then leave the state of a clean run.

- **Snapshot resync** (``copy_production``: ``pg_dump | pg_restore --single-transaction``): the
  restore is held up by a reader of ``jeune``. pg_dump and pg_restore die with the task
  (``PR_SET_PDEATHSIG`` in ``stores/postgres.py``); without it they were orphans still waiting
  for the lock, and their restore would have gone on after the test (or the task) had moved on.
- **Load** (``load_events``: COPY of the day's rows in one target transaction): killed while the
  rows go into the event table (a trigger sleeps on one row), so the transaction is open and never
  committed; the server rolls it back when it finds its client gone.
"""

# ruff: noqa: F811 (the fixtures imported from test_engagement_elt are the tests' arguments)
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from analytics.stores import postgres
from tests.integration.test_engagement_elt import (  # noqa: F401 (fixtures)
    ANALYTICS_CONN_ID,
    MONDAY_DAY,
    PROD_CONN_ID,
    SUNDAY_DAY,
    Databases,
    _daily_run,
    _day_events,
    _load_log,
    _rows,
    config,
    databases,
    production,
)

REPO = Path(__file__).resolve().parents[2]
REFERENCE_TABLES = {
    "agence": "id",
    "conseiller": "id",
    "jeune": "id",
    "feature_flip": "feature_tag, email_conseiller",
}
WAIT_SECONDS = 120  # the task process imports Airflow first: slow on a loaded machine

COPY_PRODUCTION = f"""
import sys
sys.path[:0] = [{str(REPO / "plugins")!r}, {str(REPO)!r}]
from dataclasses import replace
from analytics.engagement.config import load_engagement_config
from analytics.engagement.elt import copy_production
config = replace(load_engagement_config(), source_connection_id={PROD_CONN_ID!r}, target_connection_id={ANALYTICS_CONN_ID!r})
copy_production({PROD_CONN_ID!r}, {ANALYTICS_CONN_ID!r}, config)
"""

DAILY_RUN = f"""
import sys
sys.path[:0] = [{str(REPO / "plugins")!r}, {str(REPO)!r}]
from tests.integration.test_engagement_elt import MONDAY_DAY, _daily_run
_daily_run(MONDAY_DAY)
"""


def task_process(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=dict(os.environ))


def wait_until(condition, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert process is None or process.poll() is None, (
            f"the task ended (exit {process.returncode}) before {what}"
        )
        assert time.monotonic() < deadline, f"not within {WAIT_SECONDS}s: {what}"
        time.sleep(0.05)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL


def programs_on(database: str) -> list[str]:
    """The command lines of running pg_dump and pg_restore processes that name ``database``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        program = Path(command.split(" ", 1)[0]).name
        if program in ("pg_dump", "pg_restore") and database in command:
            found.append(command.strip())
    return found


def our_sessions(admin: psycopg.Connection, database: str, wait_event: str | None = None) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
    params: tuple = (database, postgres.APPLICATION_NAME)
    if wait_event is not None:
        query += " AND wait_event = %s"
        params += (wait_event,)
    return admin.execute(query, params).fetchone()[0]


def reference_tables(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {
        table: _rows(conn, f"SELECT * FROM {table} ORDER BY {order}")
        for table, order in REFERENCE_TABLES.items()
    }


def test_a_resync_killed_halfway_leaves_the_last_copy_and_nothing_running(
    production: Databases, config
) -> None:
    from analytics.engagement.elt import copy_production

    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    with production.connect(production.analytics) as conn:
        last_copy = reference_tables(conn)
    with production.connect(production.prod) as conn:  # what the next copy brings
        conn.execute(
            "INSERT INTO feature_flip (feature_tag, email_conseiller) VALUES ('DEMARCHES_IA', 'c2@example.org')"
        )
        conn.execute("UPDATE jeune SET id_conseiller = 'C2' WHERE id = 'J3'")

    restore_waits = (
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
        " AND wait_event_type = 'Lock'"
    )
    with (
        production.connect(production.analytics) as reader,
        production.connect("postgres", autocommit=True) as admin,
    ):
        reader.execute("SELECT count(*) FROM jeune")  # ACCESS SHARE on jeune: pg_restore waits for it
        task = task_process(COPY_PRODUCTION)
        try:
            wait_until(
                lambda: admin.execute(
                    restore_waits, (production.analytics, postgres.APPLICATION_NAME)
                ).fetchone()[0],
                "pg_restore waits for the lock on jeune",
                task,
            )
        finally:
            kill(task)
        wait_until(lambda: not programs_on(production.analytics), "pg_dump and pg_restore have ended")
        wait_until(lambda: our_sessions(admin, production.analytics) == 0, "the restore's session has ended")
        assert reference_tables(reader) == last_copy  # readers still see the whole last copy
        reader.rollback()
    with production.connect(production.analytics) as conn:
        assert reference_tables(conn) == last_copy  # the killed restore left nothing, even once unblocked

    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)  # the rerun
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        assert reference_tables(target) == reference_tables(source)
        assert reference_tables(target) != last_copy


def test_a_load_killed_inside_its_transaction_commits_nothing_and_the_rerun_loads_the_day(
    production: Databases, config
) -> None:
    from analytics.engagement.elt import copy_production

    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _daily_run(SUNDAY_DAY)
    with production.connect(production.analytics) as conn:
        sunday = _day_events(conn, SUNDAY_DAY)
        conn.execute(
            """
            CREATE FUNCTION slow_on_event_11() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN IF NEW.id = 11 THEN PERFORM pg_sleep(5); END IF; RETURN NEW; END $$;
            CREATE TRIGGER slow_on_event_11 BEFORE INSERT ON evenement_engagement
                FOR EACH ROW EXECUTE FUNCTION slow_on_event_11();
            """
        )
    assert sunday

    with production.connect("postgres", autocommit=True) as admin:
        task = task_process(DAILY_RUN)
        try:
            wait_until(
                lambda: our_sessions(admin, production.analytics, "PgSleep") > 0,
                "the load is inserting Monday's rows",
                task,
            )
        finally:
            kill(task)
        # The orphaned session wakes, finds no client to commit for, and rolls back.
        wait_until(
            lambda: our_sessions(admin, production.analytics) == 0, "the killed load's session has ended"
        )
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        assert _day_events(target, MONDAY_DAY) == []
        assert _day_events(target, SUNDAY_DAY) == sunday == _day_events(source, SUNDAY_DAY)
        assert MONDAY_DAY not in _load_log(target)
        target.execute("DROP TRIGGER slow_on_event_11 ON evenement_engagement")

    _daily_run(MONDAY_DAY)  # the rerun
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        for day in (SUNDAY_DAY, MONDAY_DAY):
            assert _day_events(target, day) == _day_events(source, day)
        log = {day: enriched for day, (_, _, _, enriched) in _load_log(target).items()}
        assert log[SUNDAY_DAY] is log[MONDAY_DAY] is True and all(log.values())
