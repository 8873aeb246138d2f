"""The PostgreSQL adapter's pure parts: client programs, connection arguments, SQL file templating."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.database_target import DatabaseTarget
from analytics.stores import postgres

CONN_URI = "postgresql://reader:s3cr%40t@db.internal:6543/analytics?sslmode=require&cursor=named"


def test_password_goes_to_the_environment_never_argv(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STORE_TEST", CONN_URI)
    monkeypatch.setenv("PGHOST", "somewhere-else")
    monkeypatch.setenv("PGPASSWORD", "inherited")

    arguments, env = postgres._client_arguments_and_env("store_test")

    assert arguments == [
        "--host",
        "db.internal",
        "--port",
        "6543",
        "--username",
        "reader",
        "--dbname",
        "analytics",
    ]
    assert not any("s3cr" in argument for argument in arguments)
    assert env["PGPASSWORD"] == "s3cr@t"
    assert env["PGSSLMODE"] == "require"
    assert "PGHOST" not in env  # the connection says it all


def test_connection_parameters_and_target(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STORE_TEST", CONN_URI)
    assert postgres.connection_parameters("store_test") == {
        "host": "db.internal",
        "port": 6543,
        "user": "reader",
        "password": "s3cr@t",
        "dbname": "analytics",
        "sslmode": "require",  # libpq extras pass; others (cursor) do not
    }
    assert postgres.target_of("store_test") == DatabaseTarget("db.internal", 6543, "analytics")


def test_a_connection_without_database_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STORE_TEST", "postgresql://reader@db.internal:6543")
    with pytest.raises(ValueError, match="names no database"):
        postgres.connection_parameters("store_test")


def test_client_programs_honour_the_override(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "pg_dump").write_text("#!/bin/sh\n")
    monkeypatch.setenv("ANALYTICS_PG_BIN", str(tmp_path))
    assert postgres.postgres_client("pg_dump") == str(tmp_path / "pg_dump")
    with pytest.raises(FileNotFoundError, match="has no pg_restore"):
        postgres.postgres_client("pg_restore")


def test_client_programs_prefer_the_highest_installed_version(monkeypatch) -> None:
    monkeypatch.delenv("ANALYTICS_PG_BIN", raising=False)
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_dump"), key=lambda p: int(p.parent.parent.name)
    )
    if not installed:
        pytest.fail("no Debian PostgreSQL client under /usr/lib/postgresql: make setup installs it")
    assert postgres.postgres_client("pg_dump") == str(installed[-1])


def test_sql_files_get_quoted_identifiers(tmp_path: Path) -> None:
    path = tmp_path / "query.sql"
    path.write_text("SELECT {columns} FROM {event_table} WHERE day >= %(start)s")
    query = postgres.read_sql_file(path, {"event_table": "Évènements", "columns": ("id", "week")})
    assert query.as_string(None) == 'SELECT "id", "week" FROM "Évènements" WHERE day >= %(start)s'
    assert postgres.read_sql_file(path).as_string(None) == path.read_text()


def test_dump_patterns_match_one_object_exactly() -> None:
    assert postgres.dump_pattern("public.log_job_id_seq") == '"public"."log_job_id_seq"'
    assert postgres.dump_pattern('odd"name') == '"odd""name"'


# ---------------------------------------------------------------- pg_dump | pg_restore, with stand-in programs


class TaskKilled(BaseException):
    """Stands for what Airflow raises in the task when it times out or gets SIGTERM."""


def _fake_clients(directory: Path, body: str) -> None:
    """pg_dump and pg_restore stand-ins: each records its pid and arguments, then runs ``body``."""
    for program in ("pg_dump", "pg_restore"):
        script = directory / program
        script.write_text(
            f'#!/bin/sh\necho $$ > "{directory}/{program}.pid"\necho "$@" > "{directory}/{program}.args"\n{body}\n'
        )
        script.chmod(0o755)


def _pids(directory: Path) -> list[int]:
    import time

    for _ in range(100):  # the programs write their pid as they start
        files = [directory / f"{program}.pid" for program in ("pg_dump", "pg_restore")]
        if all(path.exists() and path.read_text().strip() for path in files):
            return [int(path.read_text()) for path in files]
        time.sleep(0.05)
    raise AssertionError("the stand-in programs did not start")


def _running(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def fake_clients(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("ANALYTICS_PG_BIN", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_CONN_STORE_SOURCE", "postgresql://reader@db.internal:6543/prod")
    monkeypatch.setenv("AIRFLOW_CONN_STORE_TARGET", "postgresql://writer@db.internal:6543/analytics")
    return tmp_path


def test_dump_and_restore_covers_the_public_schema_only(fake_clients: Path) -> None:
    _fake_clients(fake_clients, "exit 0")
    postgres.dump_and_restore("store_source", "store_target", ["evenement_engagement"])
    dump_args = (fake_clients / "pg_dump.args").read_text().split()
    restore_args = (fake_clients / "pg_restore.args").read_text().split()
    assert "--schema=public" in dump_args and "--exclude-table=evenement_engagement" in dump_args
    # pg_restore keeps to the objects in the schema, so --clean never drops the schema itself.
    assert "--schema=public" in restore_args and "--clean" in restore_args


def test_a_timeout_stops_both_programs(fake_clients: Path) -> None:
    _fake_clients(fake_clients, "exec sleep 60")
    with pytest.raises(postgres.DumpRestoreError, match="did not finish within 0.5s: both were stopped"):
        postgres.dump_and_restore("store_source", "store_target", [], timeout_seconds=0.5)
    assert not any(_running(pid) for pid in _pids(fake_clients))


def test_a_killed_task_leaves_no_program_running(fake_clients: Path) -> None:
    """An exception raised while waiting (Airflow's timeout, SIGTERM) stops and reaps both programs."""
    import signal

    _fake_clients(fake_clients, "exec sleep 60")

    def kill_task(signum, frame):
        raise TaskKilled()

    previous = signal.signal(signal.SIGALRM, kill_task)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(TaskKilled):
            postgres.dump_and_restore("store_source", "store_target", [])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not any(_running(pid) for pid in _pids(fake_clients))


def test_a_program_ignoring_sigterm_is_killed(fake_clients: Path, monkeypatch) -> None:
    monkeypatch.setattr(postgres, "STOP_GRACE_SECONDS", 0.3)
    _fake_clients(fake_clients, "trap '' TERM\nexec sleep 60")
    with pytest.raises(postgres.DumpRestoreError, match="did not finish"):
        postgres.dump_and_restore("store_source", "store_target", [], timeout_seconds=0.3)
    assert not any(_running(pid) for pid in _pids(fake_clients))
