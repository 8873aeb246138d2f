"""``make ui`` stops cleanly: SIGTERM or Ctrl-C (SIGINT) to ``scripts/ui.py`` ends every process it started.

Every process started under the supervisor inherits a marker variable with a fresh value; after
the supervisor has exited, no process on the machine may carry it (``/proc/<pid>/environ``), so a
process that left the tree (a new process group, a new session, an orphan) is still found. Two
trees: the real ``airflow standalone`` on a fresh metadata database (api-server, scheduler,
dag-processor, triggerer), and a small one built to be hard to stop (a child in its own process
group as the task SDK puts tasks, an orphan whose parent has exited, one that ignores SIGTERM).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest

from tests.airflow_services import api_port, metadata_database, migrate_metadata_db

REPO = Path(__file__).resolve().parents[2]
UI_SCRIPT = REPO / "scripts" / "ui.py"
MARK = "ANALYTICS_UI_TEST_MARK"

HARD_TREE = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time

    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    stubborn = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"]
    subprocess.Popen(sleeper, process_group=0)            # its own process group, like a task
    subprocess.Popen(stubborn)                            # ignores SIGTERM
    orphan_parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True)")])                     # its child outlives it, in a new session
    orphan_parent.wait()
    print("tree up", flush=True)
    time.sleep(600)
    """
)


def marked_processes(mark: str) -> list[int]:
    """Pids of the living processes whose environment holds ``MARK=mark``."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and process.environ().get(MARK) == mark:
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what} not within {timeout:.0f}s")


def start_supervisor(
    command: list[str], env: dict[str, str], log: Path, timeout: float = 20
) -> subprocess.Popen:
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, str(UI_SCRIPT), "--timeout", str(timeout), "--", *command],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # like a terminal: the signal goes to the supervisor only
        )


def stop_and_check(supervisor: subprocess.Popen, signum: int, mark: str, log: Path) -> int:
    """Send ``signum`` to the supervisor alone; it must exit 128 + signum and leave nothing marked."""
    supervisor.send_signal(signum)
    try:
        code = supervisor.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"scripts/ui.py still running 60 s after {signum.name}:\n{log.read_text()[-3000:]}")
    left = marked_processes(mark)
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"left running after {signum.name}: {left}\n{log.read_text()[-3000:]}"
    assert code == 128 + signum, log.read_text()[-3000:]
    return code


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_tree_built_to_escape_is_stopped_whole(tmp_path, signum):
    mark = uuid.uuid4().hex
    log = tmp_path / "ui.log"
    supervisor = start_supervisor(
        [sys.executable, "-c", HARD_TREE], {**os.environ, MARK: mark}, log, timeout=3
    )
    wait_for(lambda: "tree up" in log.read_text(), 30, "the tree")
    started = marked_processes(mark)
    assert supervisor.pid in started and len(started) == 5  # supervisor, tree, sleeper, stubborn, orphan
    adopted = [pid for pid in started if psutil.Process(pid).ppid() == supervisor.pid]
    assert len(adopted) == 2, started  # the tree, and the orphan (the supervisor is a subreaper)
    stop_and_check(supervisor, signum, mark, log)
    assert "SIGKILL" in log.read_text()  # the one that ignores SIGTERM needed it


def _health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as answer:
            return json.loads(answer.read())
    except OSError:
        return {}


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_airflow_standalone_and_all_its_children_stop(tmp_path, signum):
    port = api_port() + 2  # beside the harness's api-server and log server
    home = tmp_path / "airflow"
    mark = uuid.uuid4().hex
    log = tmp_path / "ui.log"
    with metadata_database(os.environ) as database_url:
        migrate_metadata_db(home, os.environ, database_url)
        env = {
            **os.environ,
            MARK: mark,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # as make ui
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(port + 1),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(port + 2),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
        supervisor = start_supervisor([str(Path(sys.executable).parent / "airflow"), "standalone"], env, log)
        try:
            wait_for(
                lambda: all(
                    _health(port).get(part, {}).get("status") == "healthy"
                    for part in ("metadatabase", "scheduler", "dag_processor", "triggerer")
                ),
                240,
                f"airflow standalone healthy (log {log})",
            )
            running = marked_processes(mark)
            # the supervisor, standalone, and at least its api-server, scheduler, dag-processor, triggerer
            assert len(running) >= 6, running
            stop_and_check(supervisor, signum, mark, log)
        finally:
            if supervisor.poll() is None:
                supervisor.kill()
            for pid in marked_processes(mark):
                os.kill(pid, signal.SIGKILL)
