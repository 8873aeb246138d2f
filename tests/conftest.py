"""Shared test set-up: point every test at the *test* profile of the local stack.

`make test` starts that stack (``scripts/stack.py --profile test up``) and exports its
``.local/test/env``; when pytest is run by hand the file is read here, so the tests never
touch the demo's data. Integration tests take their URIs from ``AIRFLOW_CONN_*``, so the same
suite runs unchanged against a real MongoDB or PostgreSQL when those variables point at one.
"""

from __future__ import annotations

import os
import shlex
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_ENV_FILE = REPO / ".local" / "test" / "env"


def _load_stack_env() -> None:
    """Use the test stack's variables, overriding whatever the shell has (e.g. a sourced demo env).

    Set ``ANALYTICS_TESTS_USE_CURRENT_ENV=1`` to run the suite against the servers the current
    ``AIRFLOW_CONN_*`` variables point at instead (a real MongoDB or PostgreSQL, say).
    """
    if os.environ.get("ANALYTICS_TESTS_USE_CURRENT_ENV") == "1":
        return
    if not TEST_ENV_FILE.exists():
        if os.environ.get("ANALYTICS_STACK_PROFILE", "test") != "test":
            raise pytest.UsageError(
                "the environment points at the demo stack and .local/test/env is missing: run `make stack-test`"
            )
        return
    for line in TEST_ENV_FILE.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            os.environ[name] = shlex.split(value)[0] if value else ""


_load_stack_env()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Import Airflow while pytest collects, before any test runs, when the run has tests that use it.

    On its first import Airflow installs its own ``warnings.showwarning`` (its settings and its
    logging set-up). Inside a test that would send the test's warnings to Airflow's log, past
    pytest's warning capture and ``filterwarnings``; collection ends by putting pytest's hook
    back. A run of unit tests only, which need no Airflow, skips the import (seconds).
    """
    unit_tests = REPO / "tests" / "unit"
    if "airflow" not in sys.modules and any(
        unit_tests not in Path(item.path).parents for item in session.items
    ):
        import airflow  # noqa: F401


def mongo_uri() -> str:
    uri = os.environ.get("AIRFLOW_CONN_MONGO_DEFAULT")
    if not uri:
        pytest.fail("AIRFLOW_CONN_MONGO_DEFAULT is not set: start the test stack with `make stack-test`")
    return "mongodb://" + uri.split("://", 1)[1]


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    from tests.samples import edx_sample

    return edx_sample(".")


@pytest.fixture(scope="session")
def mongo_client():
    from pymongo import MongoClient

    client = MongoClient(mongo_uri(), serverSelectionTimeoutMS=5000)
    client.admin.command("ping")
    yield client
    client.close()


@pytest.fixture
def mongo_database(mongo_client):
    """A fresh database with a unique name, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    mongo_client.drop_database(name)
