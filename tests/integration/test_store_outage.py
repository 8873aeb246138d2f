"""A store stopped in the middle of a write: the task fails naming its connection, and its retry succeeds.

Each test starts its own throwaway server (``scripts/stack.py``'s functions, on free ports and
data directories of its own, never the shared test stack), runs a real write task, stops the
server from a second thread once the write is under way, checks the error names the Airflow
connection id and host:port, starts the server again on the same data, runs the task again
(what Airflow's retry does: the same ``execute`` with the same arguments) and checks the final
state is that of a clean run.

- **MongoDB** (``nx-27017`` with a data directory, so the first batches survive the restart):
  the master load of one tracking file (``LoadTrackingFileOperator``), stopped once its first
  batch is in the collection.
- **PostgreSQL** (a cluster of Debian's binaries, run as the ``postgres`` user): the engagement
  ELT's ``load_events`` for Monday (``LoadEventsOperator``), stopped with ``pg_ctl stop -m fast``
  while its COPY sits inside its transaction (a trigger sleeps on one row).
"""

# ruff: noqa: F811 (the fixtures imported from test_engagement_elt are the tests' arguments)
from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import pendulum
import psycopg
import pytest
from pymongo import MongoClient

from analytics.connections import MONGO_DEFAULT
from analytics.stores.mongo import MongoUnavailableError
from analytics.stores.postgres import PostgresUnavailableError
from scripts.stack import Stack, mongo_up, postgres_down, postgres_up, read_pid
from tests.integration.test_engagement_elt import (  # noqa: F401 (fixtures)
    ANALYTICS_CONN_ID,
    MONDAY_DAY,
    MONDAY_IDS,
    PROD_CONN_ID,
    SUNDAY_DAY,
    Databases,
    _daily_run,
    _day_events,
    _load_log,
    config,
    production,
)
from tests.tracking_logs import write_log

REPO = Path(__file__).resolve().parents[2]
EVENTS = 3000
BATCH_SIZE = 100
WAIT_SECONDS = 60
OTHER_PORTS = ("smtp_port",)  # ports other sessions may add to scripts/stack.py's Stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    """A stack of this test's own: free ports, data under ``tmp_path`` (the cluster where ``postgres`` can reach)."""
    own = Stack(
        profile=f"outage-{uuid.uuid4().hex[:8]}",
        root=tmp_path / "stack",
        pg_port=_free_port(),
        mongo_port=_free_port(),
        s3_port=_free_port(),
        **{name: _free_port() for name in OTHER_PORTS if name in Stack.__dataclass_fields__},
    )
    try:
        yield own
    finally:
        postgres_down(own)
        _stop_mongo(own)
        if own.pg_root != own.root / "pg":
            shutil.rmtree(own.pg_root.parent, ignore_errors=True)  # .../<profile>/pg


def _stop_mongo(stack: Stack) -> None:
    pid = read_pid(stack.pid_file("mongo"))
    if pid is None:
        return
    os.killpg(pid, signal.SIGTERM)
    os.waitpid(pid, 0)  # our child (start_background): reaped, so its port is free again


# ---------------------------------------------------------------- MongoDB


def _master_state(client: MongoClient) -> list[dict]:
    """The master's documents as a clean load leaves them (``loaded_at`` is bookkeeping, the run's time)."""
    return list(client.tracking_logs.tracking.find({}, {"loaded_at": 0}).sort("_id"))


def test_mongo_stopped_mid_load_fails_naming_the_connection_and_the_retry_completes_the_file(
    stack: Stack, tmp_path: Path, monkeypatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from analytics.operators.tracking import LoadTrackingFileOperator

    mongo_up(stack)  # data in stack.root / "mongo": the profile is not "test", so not in memory
    address = f"127.0.0.1:{stack.mongo_port}"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{MONGO_DEFAULT.upper()}", f"mongo://{address}/?serverSelectionTimeoutMS=2000"
    )
    landing = tmp_path / "landing"
    landing.mkdir()
    path = landing / "tracking.log-20240304"
    assert write_log(path, EVENTS)["lines"] == EVENTS

    def load() -> dict:
        operator = LoadTrackingFileOperator(
            task_id="load_file", file={"path": str(path), "name": path.name}, batch_size=BATCH_SIZE
        )
        return operator.execute({"run_id": "manual__outage", "ti": None})

    watcher = MongoClient(f"mongodb://{address}/", serverSelectionTimeoutMS=2000)
    clean = load()
    clean_state = _master_state(watcher)
    assert clean["status"] == "complete" and clean["loaded"] == EVENTS == len(clean_state)
    watcher.tracking_logs.tracking.delete_many({})
    watcher.tracking_logs.tracking_imported.delete_many({})
    watcher.close()

    def stop_after_the_first_batch() -> None:
        with MongoClient(f"mongodb://{address}/", serverSelectionTimeoutMS=2000) as client:
            _wait_until(
                lambda: client.tracking_logs.tracking.count_documents({}) >= BATCH_SIZE,
                "the first batch is in the master",
            )
        _stop_mongo(stack)

    stopper = threading.Thread(target=stop_after_the_first_batch)
    stopper.start()
    try:
        with pytest.raises(MongoUnavailableError) as failure:
            load()
    finally:
        stopper.join()
    message = str(failure.value)
    assert repr(MONGO_DEFAULT) in message and address in message, message
    assert failure.value.__cause__ is not None  # pymongo's error, chained
    assert not isinstance(failure.value, AirflowFailException)  # so Airflow retries it

    with pytest.raises(MongoUnavailableError, match=f"'{MONGO_DEFAULT}' \\({address}\\)"):
        load()  # a retry while the server is still down fails the same way, within the timeout

    mongo_up(stack)  # the same data directory
    with MongoClient(f"mongodb://{address}/", serverSelectionTimeoutMS=2000) as client:
        stored = client.tracking_logs.tracking.count_documents({})
        assert BATCH_SIZE <= stored < EVENTS  # stopped in the middle: part of the file was written
        assert client.tracking_logs.tracking_imported.find_one({"_id": path.name})["status"] == "running"

        retry = load()

        assert retry["status"] == "complete", retry
        assert retry["read"] == EVENTS == retry["loaded"] + retry["already_loaded"] + retry["discarded"]
        assert retry["already_loaded"] == stored and retry["discarded"] == 0
        assert _master_state(client) == clean_state  # every line once, as a clean run left them
        record = client.tracking_logs.tracking_imported.find_one({"_id": path.name})
        assert record["status"] == "complete" and record["read"] == EVENTS


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def databases(stack: Stack, monkeypatch) -> Databases:
    """``test_engagement_elt``'s databases, on this test's own cluster (its fixtures use this one)."""
    postgres_up(stack)  # creates prod, analytics and app
    server_url = f"postgres://postgres@127.0.0.1:{stack.pg_port}"
    names = Databases(prod="prod", analytics="analytics", server_url=server_url)
    monkeypatch.setenv(f"AIRFLOW_CONN_{PROD_CONN_ID.upper()}", names.url(names.prod))
    monkeypatch.setenv(f"AIRFLOW_CONN_{ANALYTICS_CONN_ID.upper()}", names.url(names.analytics))
    return names


def _load_monday() -> dict:
    start = pendulum.datetime(2024, 1, 8, tz="Europe/Paris")
    context = {"data_interval_start": start, "data_interval_end": start.add(days=1)}
    from analytics.operators.engagement import LoadEventsOperator

    operator = LoadEventsOperator(
        task_id="load_events", source_conn_id=PROD_CONN_ID, target_conn_id=ANALYTICS_CONN_ID, lookback_days=0
    )
    return operator.execute(context)


def test_postgres_stopped_mid_load_fails_naming_the_connection_and_the_retry_loads_the_day(
    stack: Stack, production: Databases, config
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from analytics.engagement.elt import copy_production

    address = f"127.0.0.1:{stack.pg_port}"
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _daily_run(SUNDAY_DAY)
    with production.connect(production.analytics) as conn:
        sunday = _day_events(conn, SUNDAY_DAY)
        conn.execute(
            """
            CREATE FUNCTION slow_on_event_11() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN IF NEW.id = 11 THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$;
            CREATE TRIGGER slow_on_event_11 BEFORE INSERT ON evenement_engagement
                FOR EACH ROW EXECUTE FUNCTION slow_on_event_11();
            """
        )
    assert sunday

    def stop_inside_the_copy() -> None:
        with production.connect("postgres", autocommit=True) as admin:
            _wait_until(
                lambda: (
                    admin.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'analytics' AND wait_event = 'PgSleep'"
                    ).fetchone()[0]
                    > 0
                ),
                "Monday's COPY is inside its transaction",
            )
        postgres_down(stack)  # pg_ctl stop -m fast: every session is terminated

    stopper = threading.Thread(target=stop_inside_the_copy)
    stopper.start()
    try:
        with pytest.raises(PostgresUnavailableError) as failure:
            _load_monday()
    finally:
        stopper.join()
    message = str(failure.value)
    # Both connections die with the server: the load was waiting on the target's COPY.
    assert repr(ANALYTICS_CONN_ID) in message and address in message, message
    assert isinstance(failure.value.__cause__, psycopg.OperationalError)
    assert not isinstance(failure.value, AirflowFailException)  # so Airflow retries it

    with pytest.raises(PostgresUnavailableError, match=f"'{PROD_CONN_ID}' \\({address}\\)"):
        _load_monday()  # a retry while the server is still down: refused at connect, named

    postgres_up(stack)  # the same cluster
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        assert _day_events(target, MONDAY_DAY) == []  # the stopped transaction committed nothing
        assert _day_events(target, SUNDAY_DAY) == sunday
        target.execute("DROP TRIGGER slow_on_event_11 ON evenement_engagement")
        target.execute("DROP FUNCTION slow_on_event_11()")

    retry = _load_monday()

    monday = retry["days"]["2024-01-08"]
    assert monday["loaded"] == monday["source_count"] == len(MONDAY_IDS)
    _daily_run(MONDAY_DAY)  # what the run's next tasks do: load (again, idempotent) and enrich
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        for day in (SUNDAY_DAY, MONDAY_DAY):
            assert _day_events(target, day) == _day_events(source, day), day
        log = _load_log(target)
        assert log[MONDAY_DAY][0] == len(MONDAY_IDS) and log[MONDAY_DAY][3] is True


# ---------------------------------------------------------------- Airflow's retries


@pytest.mark.parametrize(
    ("dag_file", "task_id"),
    [("tracking_logs_master_load.py", "load_file"), ("engagement_elt_daily.py", "load_events")],
)
def test_the_dags_retry_these_writes(dag_file: str, task_id: str) -> None:
    """The tasks whose store failures are tested above are retried by Airflow (default_args)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / dag_file))
    assert not bag.import_errors, bag.import_errors
    (dag,) = bag.dags.values()
    assert dag.get_task(task_id).retries >= 1
