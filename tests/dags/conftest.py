"""Helpers for end-to-end DAG tests: run a DAG in-process with `airflow dags test`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


@dataclass
class DagTestRun:
    dag_id: str
    returncode: int
    state: str | None
    output: str


def run_dag_test(dag_id: str, logical_date: str, conf: dict | None = None, timeout: int = 600) -> DagTestRun:
    """Run ``airflow dags test`` against the test stack and return the run's final state and log."""
    command = [AIRFLOW, "dags", "test", dag_id, logical_date]
    if conf:
        command += ["-c", json.dumps(conf)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=os.environ.copy()
    )
    output = result.stdout + result.stderr
    finished = re.findall(r"DagRun Finished: .*?state=(\w+)", output)
    state = finished[-1] if finished else None
    if state == "success" and ("[DAG TEST] Error running task" in output or result.returncode != 0):
        state = "failed"  # a task that errored outside its own code (e.g. the metadata DB) must not pass
    return DagTestRun(dag_id, result.returncode, state, output)


@pytest.fixture(scope="session")
def airflow_metadata_db():
    """The test stack migrates the metadata database; fail clearly if it was not started."""
    home = os.environ.get("AIRFLOW_HOME", "")
    if not home or not (Path(home) / ".migrated").exists():
        pytest.fail("the test stack's Airflow database is missing: run `make stack-test` (or `make test`)")
    return Path(home)


def generate_demo_data(
    out: Path, *, seed: int = 7, courses: int = 2, days: int = 2, events_per_day: int = 60
) -> Path:
    """Run the demo-data generator into ``out`` (small sizes, deterministic)."""
    command = [
        sys.executable,
        str(REPO / "scripts" / "generate_demo_data.py"),
        "--seed",
        str(seed),
        "--courses",
        str(courses),
        "--days",
        str(days),
        "--events-per-day",
        str(events_per_day),
        "--out",
        str(out),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return out
