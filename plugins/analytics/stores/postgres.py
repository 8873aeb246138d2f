"""The one PostgreSQL adapter: psycopg 3 connections from PostgresHook, the COPY streamer,
SQL files, and ``pg_dump | pg_restore``.

The Airflow connection is interpreted by ``PostgresHook`` (apache-airflow-providers-postgres),
not here: its host, port, login, password and database, IAM tokens, and every extra the hook
passes on to libpq (``sslmode``, ``sslcert``, ``options``, ``application_name``,
``client_encoding``, ``target_session_attrs``...). :func:`connect` is the hook's own
``get_conn()`` (psycopg 3, which the provider uses with SQLAlchemy 2); :func:`dump_and_restore`
gives pg_dump and pg_restore the same libpq keywords as a conninfo in ``--dbname`` and the
password in ``PGPASSWORD``, never on the command line (argv is readable by every user of the
machine). No business logic here: callers decide what to copy and check.
:func:`copy_query_to_table` streams ``COPY (query) TO STDOUT`` from one connection straight into
``COPY table FROM STDIN`` on another, block by block as the server sends them, so no result is
ever held whole in memory. :func:`dump_and_restore` pipes ``pg_dump -Fc`` into ``pg_restore``
process to process (Python never sees the archive), fails on any error of either program, and
never leaves either running: on a timeout, an error or the task being killed, both are stopped
and waited for. psycopg and the provider hook (which imports psycopg and SQLAlchemy) are
imported inside the functions, so importing this module, as DAG files do through the operators,
loads no database driver.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
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
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from psycopg import sql

log = logging.getLogger(__name__)

# The application_name of the store's sessions (psycopg's and pg_dump's), unless the connection's
# extra sets one.
APPLICATION_NAME = "analytics-dags"
# Extras the store does not hand to the hook: ``cursor`` picks the row shape of the hook's own query
# methods, and the store's functions work on tuples.
EXTRAS_NOT_FOR_THE_STORE = ("cursor",)
# Arguments of psycopg.connect that configure the Python connection object, not libpq.
PSYCOPG_ONLY_ARGUMENTS = frozenset(
    {"autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory"}
)
# Secret libpq keywords with no environment variable: pg_dump could only get them on argv.
SECRETS_WITHOUT_ENVIRONMENT_VARIABLE = ("sslpassword",)
STDERR_TAIL_CHARS = 4000
# How long pg_dump and pg_restore get to exit after SIGTERM before they are killed.
STOP_GRACE_SECONDS = 10.0


# ---------------------------------------------------------------- connections


@functools.cache
def _hook_class() -> type[PostgresHook]:
    """``PostgresHook`` with the store's check, made at the point where the hook has built its arguments.

    The hook resolves the Airflow connection (fields, extras, IAM token) into the keyword
    arguments of ``psycopg.connect`` and hands them to ``_create_connection``. There the store
    refuses arguments that name no database, and :meth:`connect_arguments` takes them instead of
    connecting, so pg_dump gets exactly what psycopg gets. Built on first use: importing the
    provider imports psycopg and SQLAlchemy.
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    class StorePostgresHook(PostgresHook):
        _arguments_only = False

        def connect_arguments(self) -> dict[str, Any]:
            """The keyword arguments ``get_conn()`` would pass to ``psycopg.connect``; no connection is opened."""
            self._arguments_only = True
            try:
                arguments = self.get_conn()
            finally:
                self._arguments_only = False
            if not isinstance(arguments, dict):  # the provider changed how get_conn connects
                arguments.close()
                raise RuntimeError("PostgresHook no longer builds its connections through _create_connection")
            return arguments

        def _create_connection(self, conn_args: dict[str, Any]) -> Any:
            if not conn_args.get("dbname"):
                raise ValueError(
                    f"connection {self.get_conn_id()!r} names no database "
                    "(the URI's path, the connection's schema)"
                )
            if self._arguments_only:
                return dict(conn_args)
            return super()._create_connection(conn_args)

    return StorePostgresHook


def postgres_hook(conn_id: str) -> PostgresHook:
    """The ``PostgresHook`` the store connects through, for an Airflow connection id.

    The hook gets the connection as it is stored, with two changes: ``application_name``
    defaults to :data:`APPLICATION_NAME`, and ``cursor`` (see :data:`EXTRAS_NOT_FOR_THE_STORE`)
    is dropped.
    """
    hook_class = _hook_class()
    connection = copy.copy(hook_class.get_connection(conn_id))
    extras = {
        key: value for key, value in connection.extra_dejson.items() if key not in EXTRAS_NOT_FOR_THE_STORE
    }
    extras.setdefault("application_name", APPLICATION_NAME)
    connection.extra = json.dumps(extras)
    return hook_class(postgres_conn_id=conn_id, connection=connection)


def connection_parameters(conn_id: str) -> dict[str, Any]:
    """The libpq keywords PostgresHook connects with for an Airflow connection (no connection is opened).

    Host, port, user, password and dbname from the connection's fields, then every extra the hook
    passes on, as the hook resolves them (an IAM token as the password, say).
    """
    arguments = postgres_hook(conn_id).connect_arguments()
    return {
        key: value
        for key, value in arguments.items()
        if value is not None and key not in PSYCOPG_ONLY_ARGUMENTS
    }


@functools.cache
def _unavailable_error_class() -> type[Exception]:
    import psycopg

    class PostgresUnavailableError(psycopg.OperationalError):
        """The PostgreSQL server of an Airflow connection could not be reached, or went away mid-task.

        Raised from psycopg's ``OperationalError`` (chained, and still one), with the connection id
        and host:port, so the task's log says which store to look at; Airflow retries the task.
        """

    return PostgresUnavailableError


def __getattr__(name: str) -> Any:
    """``PostgresUnavailableError``, made on first use: it subclasses psycopg's error, imported lazily."""
    if name == "PostgresUnavailableError":
        return _unavailable_error_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _unavailable(conn_id: str, address: str, error: BaseException) -> Exception:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return _unavailable_error_class()(f"PostgreSQL connection {conn_id!r} ({address}) failed: {first_line}")


@functools.cache
def _store_connection_class() -> type[psycopg.Connection]:
    """psycopg's ``Connection``, whose ``with`` block names its Airflow connection when the server goes away."""
    import psycopg

    class StoreConnection(psycopg.Connection):
        conn_id = ""
        address = ""

        def __exit__(self, exc_type, exc, traceback) -> None:
            lost = (  # a broken connection, not a query cancelled; an inner connection's error named already
                isinstance(exc, psycopg.OperationalError)
                and not isinstance(exc, _unavailable_error_class())
                and self.broken
            )
            super().__exit__(exc_type, exc, traceback)
            if lost:
                raise _unavailable(self.conn_id, self.address, exc) from exc

    return StoreConnection


def connect(conn_id: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg 3 connection for an Airflow connection id, from ``PostgresHook.get_conn()``; use it as a context manager.

    A server that does not answer, or that goes away inside the ``with`` block (the connection
    broken), raises :class:`PostgresUnavailableError` naming ``conn_id`` and the host:port.
    """
    import psycopg

    hook = postgres_hook(conn_id)
    try:
        conn = hook.get_conn()
    except psycopg.OperationalError as error:
        connection = hook.connection
        raise _unavailable(conn_id, f"{connection.host}:{connection.port}", error) from error
    if not isinstance(conn, psycopg.Connection):
        conn.close()
        raise RuntimeError(
            "PostgresHook returned a psycopg2 connection: the store needs psycopg 3, which the "
            "postgres provider uses when psycopg and SQLAlchemy 2 are installed"
        )
    conn.__class__ = _store_connection_class()  # same layout: only __exit__ differs
    conn.conn_id, conn.address = conn_id, f"{conn.info.host}:{conn.info.port}"
    conn.autocommit = autocommit
    return conn


def target_of(conn_id: str) -> DatabaseTarget:
    """Host, port and database an Airflow connection points at, as PostgresHook resolves it (no connection is opened)."""
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
    """``--dbname=<conninfo>`` and the environment for a client program: the hook's libpq keywords, the password in the env.

    The conninfo holds every keyword :func:`connect` gives psycopg except the password, which goes
    in ``PGPASSWORD`` (argv is visible to every user in ``ps``; a process's environment only to
    its owner). The programs inherit the task's environment, as psycopg does in this process, so
    what libpq takes from ``PG*`` variables for keywords the connection leaves unset is the same
    on both sides.
    """
    from psycopg.conninfo import make_conninfo

    parameters = connection_parameters(conn_id)
    password = parameters.pop("password", None)
    for keyword in SECRETS_WITHOUT_ENVIRONMENT_VARIABLE:
        if keyword in parameters:
            raise ValueError(
                f"connection {conn_id!r} sets {keyword}: pg_dump and pg_restore could only get it on "
                "their command line, which every user of the machine can read"
            )
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return [f"--dbname={make_conninfo(**parameters)}"], env


def _tail(handle: Any) -> str:
    handle.seek(0)
    text = handle.read().decode("utf-8", errors="replace").strip()
    return text if len(text) <= STDERR_TAIL_CHARS else "..." + text[-STDERR_TAIL_CHARS:]


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _end_with_the_task() -> None:
    """In the child, before exec: SIGTERM when the task process dies, even by SIGKILL (Linux).

    A task killed outright runs no ``finally``: without this, pg_dump and pg_restore would go on
    as orphans, holding their transaction and locks on the target until they ended by themselves.
    pg_dump and pg_restore answer SIGTERM by cancelling their query, so the restore's single
    transaction is rolled back at once and the target keeps its previous copy.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


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
    Airflow's task timeout or SIGTERM, or the task process killed outright), neither program is
    left running.
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
            dump = subprocess.Popen(
                dump_command,
                stdout=subprocess.PIPE,
                stderr=dump_stderr,
                env=source_env,
                preexec_fn=_end_with_the_task,
            )
            restore = subprocess.Popen(
                restore_command,
                stdin=dump.stdout,
                stdout=subprocess.DEVNULL,
                stderr=restore_stderr,
                env=target_env,
                preexec_fn=_end_with_the_task,
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
