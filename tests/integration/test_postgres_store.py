"""The PostgreSQL store against the test stack's server: the extras PostgresHook honours reach both
psycopg and pg_dump/pg_restore, and the password never reaches a command line.

Each test gets two fresh databases (source and target, one table ``probe`` in the source) and a
role without privileges, and defines its own Airflow connections to them as ``AIRFLOW_CONN_*``
JSON with the extras under test. The stack's server has no SSL and trusts local connections, so
``sslmode=require`` must fail and a password is accepted whatever it is.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from analytics.stores import postgres
from analytics.stores.postgres import DumpRestoreError

PROBE_ROWS = [(1, "un"), (2, "deux"), (3, "trois")]


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    source: str
    target: str
    nobody: str  # a role with no privilege on the probe table

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"


def _stack_server() -> tuple[str, int, str]:
    uri = os.environ.get("AIRFLOW_CONN_POSTGRES_PROD")
    if not uri:
        pytest.fail("AIRFLOW_CONN_POSTGRES_PROD is not set: start the test stack with `make stack-test`")
    parts = urlsplit(uri)
    return parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres"


@pytest.fixture
def server() -> Server:
    host, port, user = _stack_server()
    prefix = f"test_store_{uuid.uuid4().hex[:10]}"
    names = Server(host, port, user, f"{prefix}_source", f"{prefix}_target", f"{prefix}_nobody")
    admin_url = names.url("postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for database in (names.source, names.target):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(names.nobody)))
    with psycopg.connect(names.url(names.source)) as conn:
        conn.execute("CREATE TABLE probe (id int PRIMARY KEY, label text)")
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO probe VALUES (%s, %s)", PROBE_ROWS)
    try:
        yield names
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for database in (names.source, names.target):
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
                )
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(names.nobody)))


def _connection(monkeypatch, server: Server, database: str, password: str | None = None, **extra) -> str:
    """Define an Airflow connection to ``database`` with ``extra``; return its id."""
    conn_id = f"store_{uuid.uuid4().hex[:8]}"
    connection = {
        "conn_type": "postgres",
        "host": server.host,
        "port": server.port,
        "login": server.user,
        "password": password,
        "schema": database,
        "extra": extra,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


def _target_rows(server: Server) -> list[tuple]:
    with psycopg.connect(server.url(server.target)) as conn:
        return conn.execute("SELECT id, label FROM probe ORDER BY id").fetchall()


# ---------------------------------------------------------------- psycopg


def test_extras_reach_the_psycopg_session(server: Server, monkeypatch) -> None:
    conn_id = _connection(
        monkeypatch,
        server,
        server.source,
        options="-c search_path=elsewhere,public -c statement_timeout=4321",
        application_name="store-probe",
        client_encoding="LATIN1",
    )
    settings = ("search_path", "statement_timeout", "application_name", "client_encoding")
    query = "SELECT " + ", ".join(f"current_setting('{name}')" for name in settings)
    with postgres.connect(conn_id) as conn:
        assert conn.execute(query).fetchone() == ("elsewhere,public", "4321ms", "store-probe", "LATIN1")


def test_a_connection_gets_the_store_application_name_and_the_autocommit_asked_for(
    server: Server, monkeypatch
) -> None:
    conn_id = _connection(monkeypatch, server, server.source)
    with postgres.connect(conn_id) as conn:
        assert conn.autocommit is False
        assert conn.execute("SELECT current_setting('application_name')").fetchone() == (
            postgres.APPLICATION_NAME,
        )
    with postgres.connect(conn_id, autocommit=True) as conn:
        assert conn.autocommit is True
        conn.execute("CREATE TABLE committed_at_once (id int)")
    with psycopg.connect(server.url(server.source)) as conn:
        assert conn.execute("SELECT to_regclass('committed_at_once') IS NOT NULL").fetchone() == (True,)


def test_psycopg_connects_with_exactly_the_parameters_the_programs_get(server: Server, monkeypatch) -> None:
    conn_id = _connection(
        monkeypatch, server, server.source, sslmode="disable", options="-c work_mem=8MB", connect_timeout=7
    )
    with postgres.connect(conn_id) as conn:
        used = conn.info.get_parameters()  # what libpq connected with (defaults and password left out)
    arguments, _ = postgres._client_arguments_and_env(conn_id)
    given = psycopg.conninfo.conninfo_to_dict(arguments[0].removeprefix("--dbname="))
    assert given == {key: value for key, value in used.items() if key in given}
    assert {"sslmode", "options", "connect_timeout", "application_name"} <= set(given)


def test_a_hook_giving_psycopg2_connections_is_refused(server: Server, monkeypatch) -> None:
    """The provider falls back to psycopg2 without SQLAlchemy 2; the store's code needs psycopg 3."""
    from airflow.providers.postgres.hooks import postgres as provider

    monkeypatch.setattr(provider, "USE_PSYCOPG3", False)
    with pytest.raises(RuntimeError, match="psycopg2 connection: the store needs psycopg 3"):
        postgres.connect(_connection(monkeypatch, server, server.source))


# ---------------------------------------------------------------- sslmode on both sides


def test_sslmode_is_honoured_by_psycopg_pg_dump_and_pg_restore(server: Server, monkeypatch) -> None:
    with psycopg.connect(server.url(server.source)) as conn:
        assert conn.execute("SHOW ssl").fetchone() == ("off",), "the test needs a server without SSL"
    source_plain = _connection(monkeypatch, server, server.source, sslmode="disable")
    target_plain = _connection(monkeypatch, server, server.target, sslmode="disable")
    source_ssl = _connection(monkeypatch, server, server.source, sslmode="require")
    target_ssl = _connection(monkeypatch, server, server.target, sslmode="require")

    with postgres.connect(source_plain) as conn:
        assert conn.pgconn.ssl_in_use is False
    with pytest.raises(psycopg.OperationalError, match="server does not support SSL"):
        postgres.connect(source_ssl)

    with pytest.raises(DumpRestoreError, match=r"pg_dump exit 1(.|\n)*server does not support SSL"):
        postgres.dump_and_restore(source_ssl, target_plain, [])
    with pytest.raises(DumpRestoreError, match=r"pg_restore exit 1(.|\n)*server does not support SSL"):
        postgres.dump_and_restore(source_plain, target_ssl, [])
    postgres.dump_and_restore(source_plain, target_plain, [])
    assert _target_rows(server) == PROBE_ROWS


# ---------------------------------------------------------------- options on both sides


def test_options_reach_pg_dump_and_pg_restore(server: Server, monkeypatch) -> None:
    # The source session takes a role that may not read the table; the target's is read-only.
    source_as_nobody = _connection(monkeypatch, server, server.source, options=f"-c role={server.nobody}")
    target_read_only = _connection(
        monkeypatch, server, server.target, options="-c default_transaction_read_only=on"
    )
    source = _connection(monkeypatch, server, server.source)
    target = _connection(monkeypatch, server, server.target)

    with postgres.connect(source_as_nobody) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (server.nobody,)
    with pytest.raises(DumpRestoreError, match=r"pg_dump exit 1(.|\n)*permission denied for table probe"):
        postgres.dump_and_restore(source_as_nobody, target, [])
    with pytest.raises(DumpRestoreError, match=r"pg_restore exit 1(.|\n)*read-only transaction"):
        postgres.dump_and_restore(source, target_read_only, [])
    postgres.dump_and_restore(source, target, [])
    assert _target_rows(server) == PROBE_ROWS


def test_inherited_pg_variables_never_redirect_the_connection(server: Server, monkeypatch) -> None:
    """The connection's host, port, user and database win over PGHOST & co. for psycopg and the programs."""
    for name, value in {
        "PGHOST": "nowhere.invalid",
        "PGPORT": "1",
        "PGUSER": "nobody",
        "PGDATABASE": "nothing",
    }.items():
        monkeypatch.setenv(name, value)
    source = _connection(monkeypatch, server, server.source)
    target = _connection(monkeypatch, server, server.target)
    with postgres.connect(source) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (server.source,)
    postgres.dump_and_restore(source, target, [])
    assert _target_rows(server) == PROBE_ROWS


def test_libpq_defaults_from_the_environment_apply_to_both_sides_alike(server: Server, monkeypatch) -> None:
    """A keyword the connection leaves unset comes from the task's PG* variables for psycopg and the programs."""
    monkeypatch.setenv("PGOPTIONS", f"-c role={server.nobody}")
    source = _connection(monkeypatch, server, server.source)
    target = _connection(monkeypatch, server, server.target)
    with postgres.connect(source) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (server.nobody,)
    with pytest.raises(DumpRestoreError, match=r"pg_dump exit 1(.|\n)*permission denied for table probe"):
        postgres.dump_and_restore(source, target, [])


# ---------------------------------------------------------------- the running programs


def _processes_of(program: str, database: str) -> list[int]:
    """Pids of running ``program`` processes whose command line names ``database``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(program.encode()) and any(database.encode() in arg for arg in argv):
            pids.append(int(entry.name))
    return pids


def test_pg_dump_runs_with_the_connections_settings_and_no_password_on_its_command_line(
    server: Server, monkeypatch
) -> None:
    """While pg_dump waits for a lock, its session and its process are looked at from outside."""
    secret = f"not-on-argv-{uuid.uuid4().hex}"
    source = _connection(
        monkeypatch, server, server.source, password=secret, application_name="store-dump-probe"
    )
    target = _connection(monkeypatch, server, server.target)
    outcome: dict[str, object] = {}

    def copy() -> None:
        try:
            outcome["result"] = postgres.dump_and_restore(source, target, [], timeout_seconds=60)
        except BaseException as error:  # reported by the main thread
            outcome["error"] = error

    with psycopg.connect(server.url(server.source)) as blocker:
        blocker.execute("LOCK TABLE probe IN ACCESS EXCLUSIVE MODE")  # pg_dump waits for this lock
        worker = threading.Thread(target=copy)
        worker.start()
        waiting: list[tuple] = []
        with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
            deadline = time.monotonic() + 30
            while not waiting and time.monotonic() < deadline and worker.is_alive():
                waiting = admin.execute(
                    "SELECT usename FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name = %s AND wait_event_type = 'Lock'",
                    (server.source, "store-dump-probe"),
                ).fetchall()
                time.sleep(0.05)
        dumps = _processes_of("pg_dump", server.source)
        command_lines = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in dumps]
        environments = [Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") for pid in dumps]
        blocker.rollback()
    worker.join(timeout=60)

    assert waiting == [(server.user,)], "no pg_dump session with the connection's application_name"
    assert len(dumps) == 1
    assert secret.encode() not in command_lines[0]
    assert f"PGPASSWORD={secret}".encode() in environments[0]
    assert "error" not in outcome, outcome.get("error")
    assert _target_rows(server) == PROBE_ROWS
