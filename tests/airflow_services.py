"""A real, local Airflow (api-server, scheduler, dag-processor) for tests that need one, e.g. backfills.

``airflow dags test`` runs one DAG run in-process; a backfill needs the whole machinery: the
dag-processor serialises the DAGs, the scheduler (LocalExecutor) queues the backfill's runs, and
the task processes report to the api-server's Execution API.

``metadata_database(env)`` makes a fresh, empty metadata database in the test stack's PostgreSQL
cluster (the cluster of ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``) and drops it afterwards;
``migrate_metadata_db`` creates Airflow's tables in it. PostgreSQL, not SQLite: three services
writing one SQLite file lock each other out, and Airflow then refuses to create a backfill
("Database is locked"). ``airflow_services(...)`` starts the three services on that database (each
in its own process group, logs under ``AIRFLOW_HOME/services-logs/``), waits until the api-server
answers and the scheduler and dag-processor heartbeat, and on exit stops exactly those process
groups (SIGTERM, then SIGKILL). The object it yields drives the REST API:
``wait_for_dag_serialized``, ``unpause``, ``create_backfill``, ``wait_for_backfill``,
``trigger_dag_run`` and ``wait_for_dag_run``. By default the REST API needs no login because the
simple auth manager runs with ``simple_auth_manager_all_admins``; with ``users=`` (a browser test
that logs in as an operator would) the harness writes the auth manager's users and passwords file
instead, and its own REST calls carry a token it gets as the first user. Scheduled (non-backfill) runs are switched off with ``[scheduler] use_job_schedule = False``, so
unpausing a DAG starts nothing but the backfill. Local tests only: the api-server listens on
127.0.0.1 with a throwaway JWT secret. The port is 28080 unless ``ANALYTICS_TEST_API_PORT`` says
otherwise; the scheduler's log server takes the next port.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

AIRFLOW = str(Path(sys.executable).parent / "airflow")
POOLS_FILE = Path(__file__).resolve().parents[1] / "include" / "config" / "pools.json"
DEFAULT_API_PORT = 28080
API_PORT_VARIABLE = "ANALYTICS_TEST_API_PORT"
SERVICES = ("api-server", "scheduler", "dag-processor")
MAX_WAIT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 20
POLL_SECONDS = 1.0
FINISHED_RUN_STATES = ("success", "failed")
BACKFILL_MARK_WAIT_SECONDS = 60


@dataclass(frozen=True)
class SimpleUser:
    """A login of the simple auth manager (role: viewer, user, op or admin)."""

    username: str
    password: str
    role: str = "admin"


class AirflowServicesError(RuntimeError):
    """A service did not come up, died, or a wait ran out; the message carries the log tails."""


@dataclass(frozen=True)
class BackfillRun:
    """One DAG run of a backfill, as the REST API reports it."""

    run_id: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    state: str


def api_port() -> int:
    """The api-server port for tests: ``ANALYTICS_TEST_API_PORT`` or 28080."""
    return int(os.environ.get(API_PORT_VARIABLE, DEFAULT_API_PORT))


def services_environment(
    airflow_home: Path,
    env: Mapping[str, str],
    *,
    port: int,
    database_url: str,
    dags_folder: Path | str | None = None,
    users: Sequence[SimpleUser] = (),
) -> dict[str, str]:
    """``env`` plus the settings the three services need to run together on ``database_url``.

    Without ``users`` every visitor is an admin (no login); with them, the simple auth manager
    knows those users, whose passwords ``write_passwords_file`` puts in ``AIRFLOW_HOME``.
    """
    base_url = f"http://127.0.0.1:{port}"
    dags_folder = dags_folder or env.get("AIRFLOW__CORE__DAGS_FOLDER")
    if not dags_folder:
        raise ValueError("no dags folder: pass dags_folder or set AIRFLOW__CORE__DAGS_FOLDER in env")
    login = (
        {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u.username}:{u.role}" for u in users),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(airflow_home)),
        }
        if users
        else {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    )
    return {
        **env,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # LocalExecutor starts all its `parallelism` workers at once: keep the pool small.
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # Task processes report to the Execution API with a JWT the scheduler signs: every
        # service must share one secret and know where the api-server listens.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),  # HS512 wants >= 64 bytes
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        **login,
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(port + 1),
        # Only the backfill's runs: unpausing a DAG must not also start its scheduled runs.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    }


def passwords_file(airflow_home: Path) -> Path:
    return airflow_home / "simple_auth_manager_passwords.json"


def write_passwords_file(airflow_home: Path, users: Sequence[SimpleUser]) -> Path:
    """The simple auth manager's passwords file (``{"user": "password"}``), readable by us only."""
    path = passwords_file(airflow_home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps({user.username: user.password for user in users}) + "\n")
    return path


@contextmanager
def metadata_database(env: Mapping[str, str]) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one harness; yields its SQLAlchemy URL, then drops it.

    It goes in the cluster that ``env``'s ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` points at (the
    test stack's), so the shared test metadata database stays as it was.
    """
    import psycopg

    base = urllib.parse.urlsplit(env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""))
    if not base.scheme.startswith("postgresql"):
        raise AirflowServicesError(
            "the harness needs a PostgreSQL metadata database: load the test stack's env "
            f"(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is {base.scheme or 'unset'!r})"
        )
    name = f"airflow_services_{secrets.token_hex(4)}"
    server = {
        "host": base.hostname or "127.0.0.1",
        "port": base.port or 5432,
        "user": urllib.parse.unquote(base.username or "postgres"),
        "password": urllib.parse.unquote(base.password) if base.password else None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**server) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlunsplit(base._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(**server) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_metadata_db(airflow_home: Path, env: Mapping[str, str], database_url: str) -> None:
    """Create Airflow's tables in ``database_url`` (``airflow db migrate``, ~15 s) and the DAGs' pools.

    The pools come from ``include/config/pools.json``, as on the stack and in compose: a task whose
    pool does not exist is never scheduled.
    """
    airflow_home.mkdir(parents=True, exist_ok=True)
    command_env = {
        **env,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
    }
    for command in (["db", "migrate"], ["pools", "import", str(POOLS_FILE)]):
        result = subprocess.run(
            [AIRFLOW, *command], env=command_env, capture_output=True, text=True, timeout=MAX_WAIT_SECONDS
        )
        if result.returncode != 0:
            raise AirflowServicesError(
                f"airflow {' '.join(command[:2])} failed:\n{_tail(result.stdout + result.stderr)}"
            )


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"{moment} has no time zone: backfill dates must be timezone-aware")
    return moment.isoformat()


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class AirflowServices:
    """The running services of one ``airflow_services`` block, and the REST calls tests need."""

    def __init__(
        self, airflow_home: Path, env: Mapping[str, str], port: int, users: Sequence[SimpleUser] = ()
    ) -> None:
        self.airflow_home = airflow_home
        self.env = dict(env)
        self.port = port
        self.users = tuple(users)
        self.base_url = f"http://127.0.0.1:{port}"
        self.logs_dir = airflow_home / "services-logs"
        self.processes: dict[str, subprocess.Popen] = {}
        self._token: str | None = None

    # ------------------------------------------------------------ processes

    def start(self) -> None:
        for port in (self.port, self.port + 1):
            if _port_answers(port):
                raise AirflowServicesError(
                    f"port {port} is taken (another Airflow?): set {API_PORT_VARIABLE} to a free port"
                )
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if self.users:
            write_passwords_file(self.airflow_home, self.users)
        for service in SERVICES:
            with open(self.logs_dir / f"{service}.log", "ab") as log_handle:
                self.processes[service] = subprocess.Popen(
                    [AIRFLOW, service],
                    env=self.env,
                    stdout=log_handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=self.airflow_home,
                )

    def stop(self) -> None:
        """SIGTERM each service's process group, then SIGKILL what is left after a timeout.

        Leaders are reaped only at the very end: until then their pid, hence their process group
        id, cannot be reused by an unrelated process.
        """
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not all(map(_exit_status, self.processes.values())):
            time.sleep(0.2)
        stubborn = [name for name, process in self.processes.items() if not _exit_status(process)]
        if stubborn:
            print(f"[airflow_services] SIGKILL after {STOP_TIMEOUT_SECONDS}s: {stubborn}", file=sys.stderr)
        # Also for exited leaders: their children (executor workers, task processes) may linger.
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)
        for process in self.processes.values():
            process.wait()

    def logs_tail(self, lines: int = 30) -> str:
        """The last lines of each service log, for failure messages."""
        parts = []
        for service in SERVICES:
            path = self.logs_dir / f"{service}.log"
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            parts.append(f"----- {service} ({path}) -----\n{_tail(text, lines)}")
        return "\n".join(parts)

    def _check_alive(self) -> None:
        dead = {name: status for name, p in self.processes.items() if (status := _exit_status(p))}
        if dead:
            raise AirflowServicesError(f"services exited: {dead}\n{self.logs_tail()}")

    def _fail(self, message: str) -> AirflowServicesError:
        return AirflowServicesError(f"{message}\n{self.logs_tail()}")

    # ------------------------------------------------------------ REST API

    def request(
        self, method: str, path: str, body: Any = None, query: Mapping[str, Any] | None = None
    ) -> Any:
        """Call the REST API (``/api/v2/...``) and return the decoded JSON answer."""
        url = f"{self.base_url}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if self.users and not path.startswith("/auth/"):
            headers["Authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise AirflowServicesError(f"{method} {path} answered {error.code}: {detail}") from error
        return json.loads(payload) if payload else None

    def token(self) -> str:
        """A REST API token of the first user (a login through ``/auth/token``), fetched once."""
        if self._token is None:
            user = self.users[0]
            answer = self.request(
                "POST", "/auth/token", body={"username": user.username, "password": user.password}
            )
            self._token = answer["access_token"]
        return self._token

    def health(self) -> dict:
        return self.request("GET", "/api/v2/monitor/health")

    def wait_until_healthy(self, timeout: float = 180) -> None:
        """Wait until the api-server answers and the scheduler and dag-processor heartbeat."""
        deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
        last = "no answer yet"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                health = self.health()
            except (OSError, AirflowServicesError) as error:
                last = repr(error)
            else:
                last = json.dumps(health)
                components = ("metadatabase", "scheduler", "dag_processor")
                if all(health.get(name, {}).get("status") == "healthy" for name in components):
                    return
            time.sleep(POLL_SECONDS)
        raise self._fail(f"the services were not healthy within {timeout:.0f}s (last health: {last})")

    def import_errors(self) -> list[dict]:
        return self.request("GET", "/api/v2/importErrors", query={"limit": 100})["import_errors"]

    def wait_for_dag_serialized(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until the dag-processor has parsed and stored ``dag_id``; fail on its import error."""
        deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                self.request("GET", f"/api/v2/dags/{dag_id}/details")
                return
            except AirflowServicesError as error:
                if " answered 404" not in str(error):
                    raise
            own_errors = [e for e in self.import_errors() if Path(e["filename"]).stem == dag_id]
            if own_errors:
                raise AirflowServicesError(f"{dag_id} does not import:\n{own_errors[0]['stack_trace']}")
            time.sleep(POLL_SECONDS)
        raise self._fail(
            f"{dag_id} was not serialised within {timeout:.0f}s; import errors: {self.import_errors()}"
        )

    def dag_ids(self) -> list[str]:
        """Every DAG the api-server knows, sorted."""
        return sorted(
            dag["dag_id"] for dag in self.request("GET", "/api/v2/dags", query={"limit": 100})["dags"]
        )

    def trigger_dag_run(
        self,
        dag_id: str,
        conf: dict | None = None,
        *,
        logical_date: datetime | None = None,
        run_id: str | None = None,
    ) -> str:
        """Trigger a manual run of ``dag_id`` (as the UI's Trigger button does); return its run id."""
        body: dict[str, Any] = {
            "conf": conf or {},
            "logical_date": _iso(logical_date) if logical_date else None,
        }
        if run_id:
            body["dag_run_id"] = run_id
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body=body)["dag_run_id"]

    def wait_for_dag_run(
        self, dag_id: str, run_id: str, timeout: float = MAX_WAIT_SECONDS, *, fail_fast: bool = True
    ) -> str:
        """Wait until the run has finished; return its state. ``fail_fast`` as in ``wait_for_backfill``."""
        deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
        quoted = urllib.parse.quote(run_id, safe="")
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                state = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}")["state"]
            except TimeoutError:  # a busy machine: the api-server answers late, ask again
                continue
            if state in FINISHED_RUN_STATES:
                return state
            if fail_fast:
                troubled = self.troubled_task_instances(dag_id, {run_id})
                if troubled:
                    summary = [(ti["task_id"], ti["map_index"], ti["state"]) for ti in troubled]
                    raise AirflowServicesError(
                        f"{dag_id} {run_id}: tasks in trouble {summary}\n"
                        + self.task_log_tail(dag_id, run_id, troubled[0]["task_id"])
                    )
            time.sleep(POLL_SECONDS)
        raise self._fail(f"{dag_id} {run_id} did not finish within {timeout:.0f}s")

    def unpause(self, dag_id: str) -> None:
        """Unpause ``dag_id``: the scheduler runs no task of a paused DAG, backfills included."""
        self.request("PATCH", f"/api/v2/dags/{dag_id}", body={"is_paused": False})

    def create_backfill(
        self,
        dag_id: str,
        from_date: datetime,
        to_date: datetime,
        *,
        reprocess_behavior: str = "none",
        max_active_runs: int = 10,
        dag_run_conf: dict | None = None,
        run_backwards: bool = False,
    ) -> int:
        """Create a backfill of the runs whose logical date is in [from_date, to_date]; return its id.

        Dates must be timezone-aware; a DAG on a ``Europe/Paris`` timetable has logical dates at
        Paris midnight, i.e. 23:00 or 22:00 UTC the day before. ``reprocess_behavior`` is
        ``none``, ``failed`` or ``completed`` (whether existing runs are run again).
        """
        body = {
            "dag_id": dag_id,
            "from_date": _iso(from_date),
            "to_date": _iso(to_date),
            "reprocess_behavior": reprocess_behavior,
            "max_active_runs": max_active_runs,
            "dag_run_conf": dag_run_conf or {},
            "run_backwards": run_backwards,
        }
        # One active backfill per DAG, and the scheduler marks a finished one complete only every
        # 30 s: a 409 right after the previous backfill's runs ended is worth a short wait.
        deadline = time.monotonic() + BACKFILL_MARK_WAIT_SECONDS
        while True:
            try:
                return self.request("POST", "/api/v2/backfills", body=body)["id"]
            except AirflowServicesError as error:
                if " answered 409" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(POLL_SECONDS)

    def backfill_runs(self, backfill_id: int) -> list[BackfillRun]:
        """The backfill runs of the backfill's DAG whose logical date is in the backfill's range."""
        return self._runs(self.request("GET", f"/api/v2/backfills/{backfill_id}"))

    def _runs(self, backfill: dict) -> list[BackfillRun]:
        """The backfill runs of ``backfill``'s DAG (a ``/backfills/{id}`` record) in its range."""
        answer = self.request(
            "GET",
            f"/api/v2/dags/{backfill['dag_id']}/dagRuns",
            query={
                "run_type": "backfill",
                "logical_date_gte": backfill["from_date"],
                "logical_date_lte": backfill["to_date"],
                "order_by": "logical_date",
                "limit": 100,
            },
        )
        return [
            BackfillRun(
                run_id=run["dag_run_id"],
                logical_date=_parse_time(run["logical_date"]),
                data_interval_start=_parse_time(run["data_interval_start"]),
                data_interval_end=_parse_time(run["data_interval_end"]),
                state=run["state"],
            )
            for run in answer["dag_runs"]
        ]

    def troubled_task_instances(self, dag_id: str, run_ids: set[str]) -> list[dict]:
        """Task instances of these runs that failed or wait for a retry."""
        answer = self.request(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances",
            query={"state": ["failed", "up_for_retry"], "limit": 100},
        )
        return [ti for ti in answer["task_instances"] if ti["dag_run_id"] in run_ids]

    def task_log_tail(self, dag_id: str, run_id: str, task_id: str, lines: int = 40) -> str:
        """The end of a task's latest attempt log under ``AIRFLOW_HOME/logs``."""
        folder = self.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        logs = sorted(folder.rglob("*.log"), key=lambda path: path.stat().st_mtime)
        if not logs:
            return f"(no task log under {folder})"
        return f"----- {logs[-1]} -----\n{_tail(logs[-1].read_text(errors='replace'), lines)}"

    def wait_for_backfill(
        self, backfill_id: int, timeout: float = MAX_WAIT_SECONDS, *, fail_fast: bool = True
    ) -> list[BackfillRun]:
        """Wait until every run of the backfill has finished; return the runs, oldest first.

        The runs exist as soon as ``create_backfill`` returns, so "all finished" is the end; the
        scheduler stamps the backfill itself complete up to 30 s later (``create_backfill`` waits
        for that if it needs to). With ``fail_fast``, the first task that fails or waits for a
        retry raises at once, with its log: our DAGs retry twice, minutes apart.
        """
        deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
        self._check_alive()
        # The backfill's DAG and range do not change while it runs: fetch them once.
        backfill = self.request("GET", f"/api/v2/backfills/{backfill_id}")
        dag_id = backfill["dag_id"]
        while time.monotonic() < deadline:
            self._check_alive()
            runs = self._runs(backfill)
            if runs and all(run.state in FINISHED_RUN_STATES for run in runs):
                return runs
            if fail_fast and runs:
                troubled = self.troubled_task_instances(dag_id, {run.run_id for run in runs})
                if troubled:
                    first = troubled[0]
                    summary = [(ti["dag_run_id"], ti["task_id"], ti["state"]) for ti in troubled]
                    raise AirflowServicesError(
                        f"backfill {backfill_id}: tasks in trouble {summary}\n"
                        + self.task_log_tail(dag_id, first["dag_run_id"], first["task_id"])
                    )
            time.sleep(POLL_SECONDS)
        states = [(run.run_id, run.state) for run in self._runs(backfill)]
        raise self._fail(f"backfill {backfill_id} did not finish within {timeout:.0f}s; runs: {states}")


def _port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _exit_status(process: subprocess.Popen) -> str | None:
    """How the process ended (``exit 1``, ``signal 9``), or None while it runs; it is not reaped."""
    if process.returncode is not None:
        return f"exit {process.returncode}"
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere
        return f"exit {process.wait()}"
    if info is None:
        return None
    return f"{'exit' if info.si_code == os.CLD_EXITED else 'signal'} {info.si_status}"


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


@contextmanager
def airflow_services(
    airflow_home: Path,
    env: Mapping[str, str],
    *,
    database_url: str,
    port: int | None = None,
    dags_folder: Path | str | None = None,
    overrides: Mapping[str, str] | None = None,
    startup_timeout: float = 180,
    users: Sequence[SimpleUser] = (),
) -> Iterator[AirflowServices]:
    """Run api-server, scheduler and dag-processor on the migrated ``database_url``.

    ``env`` is the base environment (e.g. ``os.environ`` with the test stack's connections);
    ``dags_folder`` replaces its ``AIRFLOW__CORE__DAGS_FOLDER``; ``overrides`` (e.g.
    ``{"AIRFLOW__CORE__PARALLELISM": "8"}``) go on top of everything the harness sets; ``users``
    turns the login on (see ``services_environment``).
    """
    port = port or api_port()
    environment = {
        **services_environment(
            airflow_home, env, port=port, database_url=database_url, dags_folder=dags_folder, users=users
        ),
        **(overrides or {}),
    }
    services = AirflowServices(airflow_home, environment, port, users)
    try:
        services.start()
        services.wait_until_healthy(startup_timeout)
        yield services
    finally:
        services.stop()


def run_backfill(
    airflow_home: Path,
    dag_id: str,
    from_date: datetime,
    to_date: datetime,
    *,
    dags_folder: Path | str,
    env: Mapping[str, str] | None = None,
    timeout: float = MAX_WAIT_SECONDS,
    **backfill_options: Any,
) -> list[BackfillRun]:
    """One backfill on services of its own: a fresh metadata database, migrated (pools included),
    the three services started, ``dag_id`` serialised and unpaused, the backfill of
    [``from_date``, ``to_date``] created with ``backfill_options`` (``max_active_runs``,
    ``dag_run_conf``, ...) and waited for; returns its runs, oldest first, once all have ended.
    """
    env = os.environ if env is None else env
    with metadata_database(env) as database_url:
        migrate_metadata_db(airflow_home, env, database_url)
        with airflow_services(
            airflow_home, env, database_url=database_url, dags_folder=dags_folder
        ) as services:
            services.wait_for_dag_serialized(dag_id, timeout=180)
            services.unpause(dag_id)
            backfill = services.create_backfill(dag_id, from_date, to_date, **backfill_options)
            return services.wait_for_backfill(backfill, timeout=timeout)
