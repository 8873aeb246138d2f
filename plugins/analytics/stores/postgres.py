"""The one PostgreSQL adapter: psycopg connections from Airflow connections, the COPY streamer,
SQL files, and ``pg_dump | pg_restore``.

No business logic here: callers decide what to copy and check. :func:`copy_query_to_table`
streams ``COPY (query) TO STDOUT`` from one connection straight into ``COPY table FROM STDIN``
on another, block by block as the server sends them, so no result is ever held whole in
memory. :func:`dump_and_restore` pipes ``pg_dump -Fc`` into ``pg_restore`` process to process
(Python never sees the archive), passes passwords through ``PGPASSWORD``, never argv, fails on
any error of either program, and never leaves either running: on a timeout, an error or the task
being killed, both are stopped and waited for. psycopg is imported inside the functions (and for
type hints only when type checking), so importing this module, as DAG files do through the
operators, loads no database driver.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.database_target import DatabaseTarget

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

log = logging.getLogger(__name__)

APPLICATION_NAME = "analytics-dags"
# Connection extras passed on to libpq (as keywords to psycopg, as PG* variables to pg_dump).
LIBPQ_EXTRAS = {
    "sslmode": "PGSSLMODE",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}
STDERR_TAIL_CHARS = 4000
# How long pg_dump and pg_restore get to exit after SIGTERM before they are killed.
STOP_GRACE_SECONDS = 10.0


# ---------------------------------------------------------------- connections


def connection_parameters(conn_id: str) -> dict[str, Any]:
    """libpq keywords (host, port, user, password, dbname and known extras) for an Airflow connection."""
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    if not connection.schema:
        raise ValueError(
            f"connection {conn_id!r} names no database (the URI's path, the connection's schema)"
        )
    parameters: dict[str, Any] = {
        "host": connection.host or None,
        "port": connection.port or None,
        "user": connection.login or None,
        "password": connection.password or None,
        "dbname": connection.schema,
    }
    extras = connection.extra_dejson or {}
    parameters.update({key: extras[key] for key in LIBPQ_EXTRAS if extras.get(key) not in (None, "")})
    return {key: value for key, value in parameters.items() if value is not None}


def connect(conn_id: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg connection for an Airflow connection id; use it as a context manager."""
    import psycopg

    return psycopg.connect(
        **connection_parameters(conn_id), autocommit=autocommit, application_name=APPLICATION_NAME
    )


def target_of(conn_id: str) -> DatabaseTarget:
    """Host, port and database an Airflow connection points at (no connection is opened)."""
    parameters = connection_parameters(conn_id)
    port = parameters.get("port")
    return DatabaseTarget(
        host=parameters.get("host"), port=int(port) if port else None, database=parameters["dbname"]
    )


def target_of_connection(conn: psycopg.Connection) -> DatabaseTarget:
    """Host, port and database an open connection is connected to."""
    info = conn.info
    return DatabaseTarget(host=info.host, port=int(info.port) if info.port else None, database=info.dbname)


@contextmanager
def read_snapshot(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """A read-only REPEATABLE READ transaction: every query inside sees the same snapshot."""
    import psycopg

    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("read_snapshot needs a connection with no transaction in progress")
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield conn


# ---------------------------------------------------------------- SQL files


def read_sql_file(path: Path, identifiers: Mapping[str, str | Sequence[str]] | None = None) -> sql.Composable:
    """The SQL text of ``path`` with its ``{name}`` placeholders replaced by quoted identifiers.

    A sequence becomes a comma-separated list of identifiers (a column list). Without
    identifiers the text is used as is, so it may hold braces. ``%(name)s`` parameters are
    left for the driver to bind.
    """
    from psycopg import sql

    text = Path(path).read_text()
    if not identifiers:
        return sql.SQL(text)  # type: ignore[arg-type]
    quoted = {
        name: sql.Identifier(value)
        if isinstance(value, str)
        else sql.SQL(", ").join(map(sql.Identifier, value))
        for name, value in identifiers.items()
    }
    return sql.SQL(text).format(**quoted)  # type: ignore[arg-type]


def run_sql_file(
    conn: psycopg.Connection,
    path: Path,
    params: Mapping[str, Any] | None = None,
    identifiers: Mapping[str, str | Sequence[str]] | None = None,
) -> list[tuple]:
    """Run one SQL file in the caller's transaction and return the rows of its last result (if any).

    With ``params`` the file must hold a single statement (bound server-side); without, it may
    hold several.
    """
    query = read_sql_file(path, identifiers)
    with conn.cursor() as cursor:
        cursor.execute(query, params or None)
        return cursor.fetchall() if cursor.description else []


# ---------------------------------------------------------------- COPY streaming


def copy_query_to_table(
    source_conn: psycopg.Connection,
    query: str | sql.Composable,
    params: Mapping[str, Any] | None,
    target_conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    *,
    binary: bool = True,
) -> int:
    """Stream the rows of ``query`` on the source into ``table (columns)`` on the target; return the rows copied.

    Each block the source sends is written to the target as it arrives. Runs in the callers'
    transactions (nothing is committed here). Binary format is the faster one measured here
    (scripts/bench.py); it needs the same column types on both sides, text format does not.
    Parameters are bound client-side (COPY takes none server-side).
    """
    from psycopg import sql

    copy_format = sql.SQL("BINARY" if binary else "TEXT")
    query_sql = sql.SQL(query) if isinstance(query, str) else query  # type: ignore[arg-type]
    copy_out = sql.SQL("COPY ({}) TO STDOUT (FORMAT {})").format(query_sql, copy_format)
    copy_in = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)), copy_format
    )
    with source_conn.cursor() as source_cursor, target_conn.cursor() as target_cursor:
        with source_cursor.copy(copy_out, params or None) as rows_out, target_cursor.copy(copy_in) as rows_in:
            for block in rows_out:
                rows_in.write(block)
        return target_cursor.rowcount


# ---------------------------------------------------------------- pg_dump | pg_restore


class DumpRestoreError(RuntimeError):
    """pg_dump or pg_restore failed; the message carries both exit codes and their stderr."""


@dataclass(frozen=True)
class DumpRestoreResult:
    """What a dump-and-restore did: how long it took and what the programs printed (warnings)."""

    seconds: float
    dump_stderr: str
    restore_stderr: str


def postgres_client(program: str) -> str:
    """The path of a PostgreSQL client program (pg_dump, pg_restore, psql).

    ``ANALYTICS_PG_BIN`` (a directory) wins; then the highest version under
    ``/usr/lib/postgresql/*/bin`` (Debian; pg_dump must not be older than the server);
    then ``PATH``.
    """
    override = os.environ.get("ANALYTICS_PG_BIN")
    if override:
        candidate = Path(override) / program
        if not candidate.is_file():
            raise FileNotFoundError(f"ANALYTICS_PG_BIN={override} has no {program}")
        return str(candidate)
    versions = [
        path
        for path in Path("/usr/lib/postgresql").glob(f"*/bin/{program}")
        if path.parent.parent.name.isdigit()
    ]
    if versions:
        return str(max(versions, key=lambda path: int(path.parent.parent.name)))
    found = shutil.which(program)
    if not found:
        raise FileNotFoundError(f"{program} not found: install the PostgreSQL client or set ANALYTICS_PG_BIN")
    return found


def _client_arguments_and_env(conn_id: str) -> tuple[list[str], dict[str, str]]:
    """Command-line connection options and environment for a client program; the password goes in the env."""
    parameters = connection_parameters(conn_id)
    arguments = []
    if "host" in parameters:
        arguments += ["--host", str(parameters["host"])]
    if "port" in parameters:
        arguments += ["--port", str(parameters["port"])]
    if "user" in parameters:
        arguments += ["--username", str(parameters["user"])]
    arguments += ["--dbname", str(parameters["dbname"])]
    # The connection says it all: inherited PG* variables (PGHOST, PGPASSWORD...) must not leak in.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    if "password" in parameters:
        env["PGPASSWORD"] = str(parameters["password"])
    for key, variable in LIBPQ_EXTRAS.items():
        if key in parameters:
            env[variable] = str(parameters[key])
    env["PGAPPNAME"] = APPLICATION_NAME
    return arguments, env


def _tail(handle: Any) -> str:
    handle.seek(0)
    text = handle.read().decode("utf-8", errors="replace").strip()
    return text if len(text) <= STDERR_TAIL_CHARS else "..." + text[-STDERR_TAIL_CHARS:]


def _stop(processes: Iterable[subprocess.Popen | None]) -> None:
    """Stop the processes still running (SIGTERM, then SIGKILL after a grace period) and wait for all.

    pg_dump and pg_restore answer SIGTERM by cancelling their server-side query, so their locks
    are released at once; SIGKILL is for a program that does not exit in time.
    """
    running = [process for process in processes if process is not None]
    for process in running:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def dump_and_restore(
    source_conn_id: str,
    target_conn_id: str,
    exclude_tables: Sequence[str],
    *,
    schema: str = "public",
    timeout_seconds: float | None = None,
) -> DumpRestoreResult:
    """``pg_dump -Fc`` of the source's ``schema`` (minus ``exclude_tables``) piped into ``pg_restore --clean`` on the target.

    Only the objects of ``schema`` are dumped and restored (tables, sequences, types, functions;
    not the schema itself, nor extensions or other schemas). The restore runs in a single
    transaction: on any error the target is left as it was. Objects are restored without their
    owners and privileges. Raises :class:`DumpRestoreError` when either program exits non-zero,
    with both stderr outputs, or when they have not finished within ``timeout_seconds``. Whatever
    ends the call (success, error, timeout, or an exception raised in this thread, such as
    Airflow's task timeout or SIGTERM), neither program is left running.
    """
    pg_dump, pg_restore = postgres_client("pg_dump"), postgres_client("pg_restore")
    source_arguments, source_env = _client_arguments_and_env(source_conn_id)
    target_arguments, target_env = _client_arguments_and_env(target_conn_id)
    dump_command = [
        pg_dump,
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        f"--schema={schema}",
        *(f"--exclude-table={table}" for table in exclude_tables),
        *source_arguments,
    ]
    restore_command = [
        pg_restore,
        # With --schema, pg_dump also writes the schema's own entry; restoring only the objects
        # *in* the schema keeps --clean from trying to drop the target's schema.
        f"--schema={schema}",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        *target_arguments,
    ]
    started = time.monotonic()
    dump: subprocess.Popen | None = None
    restore: subprocess.Popen | None = None
    # stderr goes to small temporary files so neither program can block on a full stderr pipe.
    with tempfile.TemporaryFile() as dump_stderr, tempfile.TemporaryFile() as restore_stderr:
        try:
            dump = subprocess.Popen(dump_command, stdout=subprocess.PIPE, stderr=dump_stderr, env=source_env)
            restore = subprocess.Popen(
                restore_command,
                stdin=dump.stdout,
                stdout=subprocess.DEVNULL,
                stderr=restore_stderr,
                env=target_env,
            )
            assert dump.stdout is not None
            dump.stdout.close()  # only pg_restore reads the pipe: pg_dump sees a broken pipe if it stops
            restore_code = restore.wait(timeout=timeout_seconds)
            remaining = (
                None if timeout_seconds is None else max(1.0, timeout_seconds - (time.monotonic() - started))
            )
            dump_code = dump.wait(timeout=remaining)
        except subprocess.TimeoutExpired as error:
            raise DumpRestoreError(
                f"pg_dump | pg_restore did not finish within {timeout_seconds}s: both were stopped and the "
                f"target was left unchanged (copy_timeout_seconds in include/config/engagement.json)"
            ) from error
        finally:
            # Any way out (success, timeout, an exception from Airflow's timeout or SIGTERM handler):
            # no program is left running, holding locks on either database.
            _stop((dump, restore))
        dump_text, restore_text = _tail(dump_stderr), _tail(restore_stderr)
    seconds = time.monotonic() - started
    if dump_code != 0 or restore_code != 0:
        raise DumpRestoreError(
            f"pg_dump | pg_restore failed (pg_dump exit {dump_code}, pg_restore exit {restore_code}); "
            f"the target was left unchanged.\npg_dump stderr:\n{dump_text or '(empty)'}\n"
            f"pg_restore stderr:\n{restore_text or '(empty)'}"
        )
    for name, text in (("pg_dump", dump_text), ("pg_restore", restore_text)):
        if text:
            log.warning("%s: %s", name, text)
    return DumpRestoreResult(
        seconds=seconds,
        dump_stderr=dump_text,
        restore_stderr=restore_text,
    )


def table_row_counts(conn: psycopg.Connection, tables: Sequence[str]) -> dict[str, int]:
    """Exact row counts of ``tables`` (in the current schema search path)."""
    from psycopg import sql

    counts = {}
    with conn.cursor() as cursor:
        for table in tables:
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            counts[table] = cursor.fetchone()[0]
    return counts


def list_tables(conn: psycopg.Connection, schema: str = "public") -> list[str]:
    """The ordinary and partitioned tables of ``schema``, by name."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
        (schema,),
    ).fetchall()
    return [name for (name,) in rows]


def missing_columns(
    conn: psycopg.Connection, table: str, columns: Sequence[str], schema: str = "public"
) -> list[str]:
    """The ``columns`` that ``table`` does not have (all of them when the table does not exist)."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    ).fetchall()
    present = {name for (name,) in rows}
    return [column for column in columns if column not in present]


def copy_rows_to_table(
    conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Stream Python rows into ``table (columns)`` with ``COPY FROM STDIN``, in the caller's transaction; return the count.

    Rows are consumed one by one from the iterable, so a generator of any length uses bounded memory.
    """
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cursor:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return cursor.rowcount


def owned_sequences(conn: psycopg.Connection, tables: Sequence[str], schema: str = "public") -> list[str]:
    """The sequences owned by columns of ``tables`` (serial columns), as ``schema.name``.

    pg_dump leaves them in a dump that excludes their tables; exclude them too.
    """
    rows = conn.execute(
        """
        SELECT sequence_namespace.nspname, sequence.relname
        FROM pg_class AS sequence
        JOIN pg_namespace AS sequence_namespace ON sequence_namespace.oid = sequence.relnamespace
        JOIN pg_depend AS dependency
            ON dependency.classid = 'pg_class'::regclass AND dependency.objid = sequence.oid
           AND dependency.refclassid = 'pg_class'::regclass AND dependency.deptype IN ('a', 'i')
        JOIN pg_class AS owner ON owner.oid = dependency.refobjid
        JOIN pg_namespace AS owner_namespace ON owner_namespace.oid = owner.relnamespace
        WHERE sequence.relkind = 'S' AND owner_namespace.nspname = %s AND owner.relname = ANY(%s)
        ORDER BY 1, 2
        """,
        (schema, list(tables)),
    ).fetchall()
    return [f"{namespace}.{name}" for namespace, name in rows]


def dump_pattern(qualified_name: str) -> str:
    """A pg_dump ``--exclude-table`` pattern matching exactly ``schema.name`` (or ``name``)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in qualified_name.split("."))
