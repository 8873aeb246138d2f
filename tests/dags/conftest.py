"""Helpers for end-to-end DAG tests: run a DAG in-process with `airflow dags test`."""

from __future__ import annotations

import os
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
    """Run ``airflow dags test`` against the test stack and return the run's final state and log.

    The command and the judgement of its outcome are the demo's (``scripts/run_demo.py``).
    """
    from scripts.run_demo import dag_test_command, dag_test_state

    result = subprocess.run(
        dag_test_command(dag_id, logical_date, conf, airflow=AIRFLOW),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=os.environ.copy(),
    )
    output = result.stdout + result.stderr
    return DagTestRun(dag_id, result.returncode, dag_test_state(output, result.returncode), output)


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
    """Run the demo-data generator's ``edx`` source into ``out`` (small sizes, deterministic)."""
    command = [
        sys.executable,
        "-m",
        "scripts.demo_data",
        "edx",
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
    subprocess.run(command, check=True, capture_output=True, timeout=300, cwd=REPO)
    return out
