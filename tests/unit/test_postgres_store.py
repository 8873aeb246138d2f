"""The PostgreSQL adapter's parts that open no connection: the arguments PostgresHook builds, client
programs and their arguments, SQL file templating, and stopping pg_dump | pg_restore.

The same behaviour against the test stack's PostgreSQL is in tests/integration/test_postgres_store.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from analytics.database_target import DatabaseTarget
from analytics.stores import postgres

REPO = Path(__file__).resolve().parents[2]
CONN_URI = "postgresql://reader:s3cr%40t@db.internal:6543/analytics?sslmode=require&cursor=named"


def _json_connection(monkeypatch, conn_id: str, **extra) -> None:
    connection = {
        "conn_type": "postgres",
        "host": "db.internal",
        "port": 6543,
        "login": "reader",
        "password": "s3cr@t",
        "schema": "analytics",
        "extra": extra,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))


def test_importing_the_store_loads_no_driver_nor_provider_hook() -> None:
    """DAG files import the store at parse time: psycopg, SQLAlchemy and the provider hook stay unloaded."""
    heavy = ("psycopg", "psycopg2", "sqlalchemy", "airflow.providers.postgres.hooks.postgres")
    code = (
        f"import sys; sys.path[:0] = [{str(REPO / 'plugins')!r}]; "
        "import analytics.stores.postgres; "
        f"print(sorted(name for name in {heavy!r} if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_password_goes_to_the_environment_never_argv(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STORE_TEST", CONN_URI)
    monkeypatch.setenv("PGPASSWORD", "inherited")

    arguments, env = postgres._client_arguments_and_env("store_test")

    assert len(arguments) == 1 and arguments[0].startswith("--dbname=")
    assert not any("s3cr" in argument for argument in arguments)
    assert conninfo_to_dict(arguments[0].removeprefix("--dbname=")) == {
        "host": "db.internal",
        "port": "6543",
        "user": "reader",
        "dbname": "analytics",
        "sslmode": "require",
        "application_name": postgres.APPLICATION_NAME,
    }
    assert env["PGPASSWORD"] == "s3cr@t"  # the connection's, not the inherited one


def test_the_programs_get_every_keyword_psycopg_gets_but_the_password(monkeypatch) -> None:
    _json_connection(
        monkeypatch,
        "store_test",
        options="-c search_path=staging,public -c role=reporting",
        client_encoding="UTF8",
        target_session_attrs="read-write",
        keepalives_idle=30,
    )
    parameters = postgres.connection_parameters("store_test")
    arguments, _ = postgres._client_arguments_and_env("store_test")
    in_conninfo = conninfo_to_dict(arguments[0].removeprefix("--dbname="))
    assert in_conninfo == {key: str(value) for key, value in parameters.items() if key != "password"}
    assert in_conninfo["options"] == "-c search_path=staging,public -c role=reporting"


def test_connection_parameters_and_target(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STORE_TEST", CONN_URI)
    assert postgres.connection_parameters("store_test") == {
        "host": "db.internal",
        "port": 6543,
        "user": "reader",
        "password": "s3cr@t",
        "dbname": "analytics",
        "sslmode": "require",
        "application_name": postgres.APPLICATION_NAME,  # cursor is the hook's row shape: not for the store
    }
    assert postgres.target_of("store_test") == DatabaseTarget("db.internal", 6543, "analytics")


def test_the_hook_decides_which_extras_reach_libpq(monkeypatch) -> None:
    """Every extra passes but those PostgresHook keeps for itself (its AWS and SQLAlchemy settings)."""
    _json_connection(
        monkeypatch,
        "store_test",
        sslmode="verify-full",
        sslrootcert="/etc/ssl/ca.pem",
        sslcrl="/etc/ssl/crl.pem",
        application_name="reporting",
        aws_conn_id="aws_other",
        sqlalchemy_scheme="postgresql+psycopg",
    )
    parameters = postgres.connection_parameters("store_test")
    assert {key: parameters[key] for key in ("sslmode", "sslrootcert", "sslcrl")} == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ssl/ca.pem",
        "sslcrl": "/etc/ssl/crl.pem",
    }
    assert parameters["application_name"] == "reporting"  # the connection's own name wins
    assert not {"aws_conn_id", "sqlalchemy_scheme"} & set(parameters)


def test_an_extra_can_point_the_connection_elsewhere_and_the_target_follows(monkeypatch) -> None:
    """The hook lets extras override the fields; the safety guard must see where the connection goes."""
    _json_connection(monkeypatch, "store_test", host="replica.internal", dbname="other")
    assert postgres.target_of("store_test") == DatabaseTarget("replica.internal", 6543, "other")


def test_a_key_passphrase_is_refused_rather_than_put_on_argv(monkeypatch) -> None:
    _json_connection(monkeypatch, "store_test", sslkey="/etc/ssl/key.pem", sslpassword="hunter2")
    with pytest.raises(ValueError, match="sets sslpassword"):
        postgres._client_arguments_and_env("store_test")


def test_a_connection_without_database_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STORE_TEST", "postgresql://reader@db.internal:6543")
    with pytest.raises(ValueError, match="names no database"):
        postgres.connection_parameters("store_test")
    with pytest.raises(ValueError, match="names no database"):
        postgres.connect("store_test")  # refused before any connection attempt


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
            f'#!/bin/sh\necho $$ > "{directory}/{program}.pid"\necho "$@" > "{directory}/{program}.args"\n'
            f'env > "{directory}/{program}.env"\n{body}\n'
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
    monkeypatch.setenv("AIRFLOW_CONN_STORE_SOURCE", "postgresql://reader:read%3Apass@db.internal:6543/prod")
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


def test_the_programs_get_the_connection_in_dbname_and_the_password_in_their_environment(
    fake_clients: Path, monkeypatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    _fake_clients(fake_clients, "exit 0")
    postgres.dump_and_restore("store_source", "store_target", [])
    for program, user, password in (("pg_dump", "reader", "read:pass"), ("pg_restore", "writer", None)):
        arguments = (fake_clients / f"{program}.args").read_text()
        assert "pass" not in arguments
        conninfo = conninfo_to_dict(arguments.split("--dbname=", 1)[1].strip())
        assert (conninfo["host"], conninfo["port"], conninfo["user"]) == ("db.internal", "6543", user)
        assert conninfo["application_name"] == postgres.APPLICATION_NAME
        env = dict(
            line.split("=", 1)
            for line in (fake_clients / f"{program}.env").read_text().splitlines()
            if "=" in line
        )
        assert env.get("PGPASSWORD") == password


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
