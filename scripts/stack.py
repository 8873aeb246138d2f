"""The local embedded stack: PostgreSQL, a MongoDB wire-protocol server, an S3 API server and an SMTP server.

``python scripts/stack.py [--profile demo|test] up|down|status|env`` manages, under ``.local/``
(``.local/test/`` for the test profile, so tests never clobber the demo's data), a PostgreSQL
cluster built from Debian's server binaries with the databases ``prod``, ``analytics`` and
``app`` (and ``airflow``, Airflow's metadata database); ``nx-27017`` (NeoSQLite's MongoDB wire-protocol server); moto in server mode;
and aiosmtpd, an SMTP server that keeps every mail (the DAGs' failure alerts) in a Maildir, ``mail/``.
``up`` is a no-op for services that already answer, waits until each one does, migrates the
Airflow metadata database once, and writes ``env`` (shell ``export`` lines with
``AIRFLOW_HOME``, the dags and plugins folders and an ``AIRFLOW_CONN_*`` per connection).
``down`` stops only the processes this script started, found through their pid files.
Ports are fixed per profile; ``ANALYTICS_PG_PORT``, ``ANALYTICS_MONGO_PORT`` and
``ANALYTICS_S3_PORT``, ``ANALYTICS_SMTP_PORT`` override the demo's, ``ANALYTICS_TEST_PG_PORT`` (and so on) the test's. Everything here is for the local stack only: PostgreSQL
trusts connections from 127.0.0.1 and the S3 keys are moto's dummies.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
POOLS_FILE = REPO / "include" / "config" / "pools.json"  # analytics.pools reads the same file
DATABASES = ("prod", "analytics", "app")
DEADLINE_DAGS = (
    "engagement_elt_daily",
    "tracking_logs_master_load",
    "bi_monthly_aggregation",
)  # analytics.alerts.DEADLINES
# Airflow's own metadata lives in the same cluster: on SQLite, a scheduler and an api-server
# writing at once lock each other out (Airflow refuses to create a backfill under that load).
METADATA_DATABASE = "airflow"
DEFAULT_PORTS = {
    "demo": {"pg": 54320, "mongo": 27017, "s3": 5000, "smtp": 2525},
    "test": {"pg": 54330, "mongo": 27027, "s3": 5010, "smtp": 2535},
}
S3_BUCKETS = ("edx-tracking-logs", "analytics-exports")
STARTUP_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Stack:
    """Where one profile's services live and listen."""

    profile: str
    root: Path
    pg_port: int
    mongo_port: int
    s3_port: int
    smtp_port: int

    @functools.cached_property  # a frozen dataclass without __slots__: cached in __dict__
    def pg_root(self) -> Path:
        """Where the cluster lives: under ``.local/`` when the ``postgres`` user can reach it."""
        return postgres_reachable_dir(self.root / "pg", self.profile)

    @property
    def pg_data(self) -> Path:
        return self.pg_root / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.pg_root / "run"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def env_file(self) -> Path:
        return self.root / "env"

    @property
    def mail_dir(self) -> Path:
        """The local SMTP server's Maildir: every alert the stack's DAG runs send."""
        return self.root / "mail"

    def pid_file(self, service: str) -> Path:
        return self.root / "run" / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.root / "logs" / f"{service}.log"


def port_variable(profile: str, service: str) -> str:
    """The environment variable that overrides a port: ANALYTICS_PG_PORT, ANALYTICS_TEST_PG_PORT, ..."""
    middle = "" if profile == "demo" else f"{profile.upper()}_"
    return f"ANALYTICS_{middle}{service.upper()}_PORT"


def _ports(profile: str) -> dict[str, int]:
    return {
        service: int(os.environ.get(port_variable(profile, service), default))
        for service, default in DEFAULT_PORTS[profile].items()
    }


def stack_for(profile: str) -> Stack:
    ports = _ports(profile)
    for other in DEFAULT_PORTS:
        shared = set(ports.values()) & set(_ports(other).values()) if other != profile else set()
        if shared:
            raise SystemExit(f"[stack] the {profile} and {other} stacks would share port(s) {sorted(shared)}")
    root = REPO / ".local" if profile == "demo" else REPO / ".local" / profile
    return Stack(
        profile=profile,
        root=root,
        pg_port=ports["pg"],
        mongo_port=ports["mongo"],
        s3_port=ports["s3"],
        smtp_port=ports["smtp"],
    )


# ---------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check, what: str, log_path: Path | None = None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tail = ""
    if log_path and log_path.exists():
        tail = "\n" + "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
    raise SystemExit(f"[stack] {what} did not answer within {STARTUP_TIMEOUT_SECONDS}s{tail}")


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process still runs the program recorded with it."""
    try:
        pid_text, program = pid_file.read_text().split()[:2]
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return None
    try:
        if program not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            return None  # the pid was reused by another program: not ours to stop
    except FileNotFoundError:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def start_background(stack: Stack, service: str, command: list[str]) -> None:
    """Start a long-running process detached from this one and record its pid."""
    stack.log_file(service).parent.mkdir(parents=True, exist_ok=True)
    stack.pid_file(service).parent.mkdir(parents=True, exist_ok=True)
    with open(stack.log_file(service), "ab") as log_handle:
        process = subprocess.Popen(
            command,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPO,
        )
    stack.pid_file(service).write_text(f"{process.pid}\n{Path(command[0]).name}\n")


# ---------------------------------------------------------------- PostgreSQL


@functools.cache
def postgres_bin_dir() -> Path:
    """Debian's newest PostgreSQL server binaries, or ``ANALYTICS_PG_BIN`` (read once per process)."""
    override = os.environ.get("ANALYTICS_PG_BIN")
    if override:
        return Path(override)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
    )
    if not candidates:
        raise SystemExit(
            "[stack] PostgreSQL server binaries not found: run `make setup` (it installs Debian's postgresql)"
        )
    return candidates[-1].parent


def postgres_reachable_dir(preferred: Path, profile: str) -> Path:
    """``preferred``, unless we run as root and the ``postgres`` user cannot traverse its parents.

    A checkout under a private home (``/root`` is mode 700) would make ``initdb`` fail as the
    ``postgres`` user; the cluster then goes to ``/var/tmp/analytics-dags/<checkout hash>/``.
    """
    if os.geteuid() != 0:
        return preferred
    for parent in preferred.parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            digest = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
            return Path("/var/tmp/analytics-dags") / digest / profile / "pg"
    return preferred


def as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the `postgres` system user when we are root."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *command]


def run_as_postgres(command: list[str], check: bool) -> None:
    """Run a PostgreSQL server program as the ``postgres`` user, from a folder it can enter."""
    subprocess.run(as_postgres_user(command), check=check, stdout=subprocess.DEVNULL, cwd="/")


def chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def postgres_answers(stack: Stack) -> bool:
    result = subprocess.run(
        [str(postgres_bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(stack.pg_port), "-q"],
        check=False,
    )
    return result.returncode == 0


def postgres_up(stack: Stack) -> None:
    bin_dir = postgres_bin_dir()
    if postgres_answers(stack):
        log(f"postgres already answers on 127.0.0.1:{stack.pg_port}")
    else:
        if not (stack.pg_data / "PG_VERSION").exists():
            stack.pg_data.mkdir(parents=True, exist_ok=True)
            chown_to_postgres(stack.pg_data)
            if stack.pg_root != stack.root / "pg":
                log(f"the postgres user cannot reach {stack.root}: the cluster goes to {stack.pg_root}")
            log(f"initialising a PostgreSQL cluster in {stack.pg_data}")
            run_as_postgres(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(stack.pg_data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
            )
        stack.pg_socket_dir.mkdir(parents=True, exist_ok=True)
        chown_to_postgres(stack.pg_socket_dir)
        log_path = stack.pg_root / "postgres.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch()
        chown_to_postgres(log_path)
        options = f"-p {stack.pg_port} -k {stack.pg_socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run_as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(stack.pg_data),
                "-l",
                str(log_path),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
        )
        wait_until(lambda: postgres_answers(stack), "postgres", log_path)
        log(f"postgres started on 127.0.0.1:{stack.pg_port}")
    existing = set(psql_value(stack, "postgres", "SELECT datname FROM pg_database").splitlines())
    for database in (*DATABASES, METADATA_DATABASE):
        if database not in existing:
            subprocess.run(
                [
                    str(bin_dir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(stack.pg_port),
                    "-U",
                    "postgres",
                    database,
                ],
                check=True,
            )
            log(f"created database {database}")


def psql_value(stack: Stack, database: str, query: str) -> str:
    """The single value ``query`` returns in ``database`` of this stack's cluster, as text."""
    answer = subprocess.run(
        [
            str(postgres_bin_dir() / "psql"),
            *("-h", "127.0.0.1", "-p", str(stack.pg_port), "-U", "postgres", "-d", database),
            *("-tAc", query),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return answer.stdout.strip()


def postgres_down(stack: Stack) -> None:
    if not (stack.pg_data / "postmaster.pid").exists():
        log("postgres is not running from this stack")
        return
    run_as_postgres(
        [str(postgres_bin_dir() / "pg_ctl"), "-D", str(stack.pg_data), "-m", "fast", "-w", "stop"],
        check=False,
    )
    log("postgres stopped")


# ---------------------------------------------------------------- MongoDB (nx-27017)


def mongo_answers(stack: Stack) -> bool:
    if not port_answers(stack.mongo_port):
        return False
    from pymongo import MongoClient

    try:
        with MongoClient(f"mongodb://127.0.0.1:{stack.mongo_port}/", serverSelectionTimeoutMS=1000) as client:
            return client.admin.command("ping").get("ok") == 1
    except Exception:
        return False


def mongo_up(stack: Stack) -> None:
    if mongo_answers(stack):
        log(f"mongo already answers on 127.0.0.1:{stack.mongo_port}")
        return
    if port_answers(stack.mongo_port):
        raise SystemExit(
            f"[stack] port {stack.mongo_port} is taken by something that is not a MongoDB server"
        )
    # The test profile keeps its databases in memory: throwaway, and faster.
    data_dir = "memory" if stack.profile == "test" else str(stack.root / "mongo")
    if data_dir != "memory":
        Path(data_dir).mkdir(parents=True, exist_ok=True)
    start_background(
        stack,
        "mongo",
        [
            str(VENV_BIN / "nx-27017"),
            "--data-dir",
            data_dir,
            "--host",
            "127.0.0.1",
            "-p",
            str(stack.mongo_port),
            "--log-file",
            str(stack.log_file("mongo")),
            "--pid-file",
            str(stack.pid_file("nx-27017")),
        ],
    )
    wait_until(lambda: mongo_answers(stack), "mongo (nx-27017)", stack.log_file("mongo"))
    log(f"mongo (nx-27017) started on 127.0.0.1:{stack.mongo_port}, data in {data_dir}")


# ---------------------------------------------------------------- S3 (moto server)


def s3_endpoint(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.s3_port}"


def s3_answers(stack: Stack) -> bool:
    if not port_answers(stack.s3_port):
        return False
    try:
        with urllib.request.urlopen(f"{s3_endpoint(stack)}/moto-api/", timeout=1) as response:
            return response.status == 200
    except Exception:
        return False


def s3_up(stack: Stack) -> None:
    if s3_answers(stack):
        log(f"s3 (moto) already answers on {s3_endpoint(stack)}")
    else:
        if port_answers(stack.s3_port):
            raise SystemExit(f"[stack] port {stack.s3_port} is taken by something that is not moto")
        start_background(
            stack, "s3", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(stack.s3_port)]
        )
        wait_until(lambda: s3_answers(stack), "s3 (moto)", stack.log_file("s3"))
        log(f"s3 (moto) started on {s3_endpoint(stack)}")
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint(stack),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    for bucket in S3_BUCKETS:
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)


# ---------------------------------------------------------------- SMTP (aiosmtpd, a Maildir)


def smtp_answers(stack: Stack) -> bool:
    """An SMTP server greets on the port (``220``)."""
    try:
        with socket.create_connection(("127.0.0.1", stack.smtp_port), timeout=1) as sock:
            return sock.recv(64).startswith(b"220")
    except OSError:
        return False


def smtp_up(stack: Stack) -> None:
    """aiosmtpd on loopback keeping every mail in ``mail_dir`` (a Maildir): the alerts of local runs."""
    if smtp_answers(stack):
        log(f"smtp already answers on 127.0.0.1:{stack.smtp_port}")
        return
    if port_answers(stack.smtp_port):
        raise SystemExit(f"[stack] port {stack.smtp_port} is taken by something that is not an SMTP server")
    start_background(
        stack,
        "smtp",
        [
            str(VENV_BIN / "python"),
            *("-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{stack.smtp_port}"),
            *("-c", "aiosmtpd.handlers.Mailbox", str(stack.mail_dir)),
        ],
    )
    wait_until(lambda: smtp_answers(stack), "smtp (aiosmtpd)", stack.log_file("smtp"))
    log(f"smtp (aiosmtpd) started on 127.0.0.1:{stack.smtp_port}, mail kept in {stack.mail_dir}")


# ---------------------------------------------------------------- env and Airflow


def environment(stack: Stack) -> dict[str, str]:
    """The variables that point Airflow and the tests at this stack."""
    pg = f"postgres://postgres@127.0.0.1:{stack.pg_port}"
    aws = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": s3_endpoint(stack), "region_name": "us-east-1"},
    }
    return {
        "ANALYTICS_STACK_PROFILE": stack.profile,
        "ANALYTICS_LOCAL_DIR": str(stack.root),
        "AIRFLOW_HOME": str(stack.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_database_url(stack),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        **{f"AIRFLOW_CONN_POSTGRES_{database.upper()}": f"{pg}/{database}" for database in DATABASES},
        "AIRFLOW_CONN_MONGO_DEFAULT": f"mongo://127.0.0.1:{stack.mongo_port}/",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws, separators=(",", ":")),
        # The failure alerts go to the stack's own SMTP server (no TLS on loopback).
        "AIRFLOW_CONN_SMTP_DEFAULT": (
            f"smtp://127.0.0.1:{stack.smtp_port}?disable_tls=true&disable_ssl=true&timeout=10&retry_limit=1"
        ),
        "AIRFLOW_VAR_EDX_PACKAGE_DIR": str(stack.root / "demo-data" / "package"),
        "AIRFLOW_VAR_EDX_TRACKING_DIR": str(
            stack.root / "demo-data" / "landing"
        ),  # where s3_log_download puts them
        "AIRFLOW_VAR_EDX_COURSE_CONFIG_DIR": str(stack.root / "demo-data" / "courses"),
        "AIRFLOW_VAR_BI_AGGREGATE": "true",  # bi_monthly_aggregation's gate (the original BI_AGGREGATE)
        # Airflow 3.3.2's `airflow dags test` fails on a DAG that carries a Deadline Alert (the run's
        # update looks the alert up by its definition, not its id): the local stacks, which run DAGs
        # with `dags test`, leave the three deadlines off (analytics.alerts.DEADLINES).
        **{f"ANALYTICS_DEADLINE__{dag_id.upper()}": "off" for dag_id in DEADLINE_DAGS},
        "PGHOST": "127.0.0.1",
        "PGPORT": str(stack.pg_port),
        "PGUSER": "postgres",
    }


def metadata_database_url(stack: Stack) -> str:
    """SQLAlchemy URL of Airflow's metadata database in this stack's cluster."""
    return f"postgresql+psycopg2://postgres@127.0.0.1:{stack.pg_port}/{METADATA_DATABASE}"


def metadata_database_migrated(stack: Stack) -> bool:
    """Whether Airflow's tables exist (a cluster made anew after the last migration has none)."""
    return (
        psql_value(stack, METADATA_DATABASE, "SELECT to_regclass('public.alembic_version') IS NOT NULL")
        == "t"
    )


def write_env_file(stack: Stack) -> None:
    stack.env_file.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"export {name}={shlex.quote(value)}" for name, value in environment(stack).items()]
    stack.env_file.write_text(
        "# Written by scripts/stack.py: local stack only, no secrets.\n" + "\n".join(lines) + "\n"
    )


def migrate_airflow_db(stack: Stack) -> None:
    """Run `airflow db migrate` and import the pools once per Airflow version, pools file and cluster."""
    import importlib.metadata

    pools = hashlib.sha256(POOLS_FILE.read_bytes()).hexdigest()[:16]
    version = f"{importlib.metadata.version('apache-airflow-core')} pools {pools}"
    stamp = stack.airflow_home / ".migrated"
    if stamp.exists() and stamp.read_text().strip() == version and metadata_database_migrated(stack):
        return
    stack.airflow_home.mkdir(parents=True, exist_ok=True)
    log("migrating the Airflow metadata database and importing the pools (once)")
    env = {**os.environ, **environment(stack)}
    airflow = str(VENV_BIN / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    # A task whose pool does not exist is never scheduled: the pools come with the database.
    subprocess.run(
        [airflow, "pools", "import", str(POOLS_FILE)], env=env, check=True, stdout=subprocess.DEVNULL
    )
    stamp.write_text(version + "\n")


# ---------------------------------------------------------------- commands


def up(stack: Stack, migrate: bool) -> None:
    postgres_up(stack)
    mongo_up(stack)
    s3_up(stack)
    smtp_up(stack)
    write_env_file(stack)
    if migrate:
        migrate_airflow_db(stack)
    log(f"{stack.profile} stack is up; variables in {stack.env_file.relative_to(REPO)}")


def down(stack: Stack) -> None:
    postgres_down(stack)
    for service in ("mongo", "s3", "smtp"):
        pid = read_pid(stack.pid_file(service))
        if pid is None:
            log(f"{service} is not running from this stack")
            continue
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            if read_pid(stack.pid_file(service)) is None:
                break
            time.sleep(0.1)
        stack.pid_file(service).unlink(missing_ok=True)
        log(f"{service} stopped")


def status(stack: Stack) -> int:
    checks = {
        f"postgres 127.0.0.1:{stack.pg_port}": postgres_answers(stack),
        f"mongo    127.0.0.1:{stack.mongo_port}": mongo_answers(stack),
        f"s3       {s3_endpoint(stack)}": s3_answers(stack),
        f"smtp     127.0.0.1:{stack.smtp_port}": smtp_answers(stack),
    }
    for name, answers in checks.items():
        print(f"{name}: {'up' if answers else 'down'}")
    return 0 if all(checks.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(DEFAULT_PORTS), default="demo")
    parser.add_argument(
        "--no-migrate", action="store_true", help="do not migrate the Airflow metadata database"
    )
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    args = parser.parse_args(argv)
    stack = stack_for(args.profile)
    if args.command == "up":
        up(stack, migrate=not args.no_migrate)
    elif args.command == "down":
        down(stack)
    elif args.command == "status":
        return status(stack)
    else:
        write_env_file(stack)
        sys.stdout.write(stack.env_file.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
