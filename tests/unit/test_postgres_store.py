"""The PostgreSQL adapter's pure parts: client programs, connection arguments, SQL file templating."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.engagement.guard import DatabaseTarget
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
        pytest.skip("no Debian PostgreSQL client installed")
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
