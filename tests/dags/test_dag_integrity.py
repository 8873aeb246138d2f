"""Every DAG imports cleanly and carries what operators and analysts rely on.

The DagBag is loaded once per session with connections from ``AIRFLOW_CONN_*`` (see
tests/conftest.py), so parsing needs no secrets and no metadata database.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.dag_defaults import TAGS

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
PARSE_BUDGET_SECONDS = 1.0


@pytest.fixture(scope="session")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def _dags(dag_bag):
    return sorted(dag_bag.dags.values(), key=lambda dag: dag.dag_id)


def test_dag_files_exist():
    assert DAG_FILES, "no DAG files found in dags/"


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}, "\n".join(
        f"{path}: {error}" for path, error in dag_bag.import_errors.items()
    )


def test_one_dag_per_file_named_after_its_dag_id(dag_bag):
    assert sorted(dag.dag_id for dag in dag_bag.dags.values()) == sorted(path.stem for path in DAG_FILES)


def test_every_dag_has_docs(dag_bag):
    for dag in _dags(dag_bag):
        assert dag.doc_md and len(dag.doc_md.strip()) > 100, f"{dag.dag_id}: doc_md missing or too short"
        assert "owner" in dag.doc_md.lower(), f"{dag.dag_id}: doc_md should say who owns it"


def test_every_dag_has_owner_and_retries(dag_bag):
    for dag in _dags(dag_bag):
        assert dag.default_args.get("owner") not in (None, "", "airflow"), f"{dag.dag_id}: owner not set"
        for task in dag.tasks:
            assert task.owner not in (None, "", "airflow"), f"{dag.dag_id}.{task.task_id}: owner not set"
            assert task.retries >= 2, f"{dag.dag_id}.{task.task_id}: retries={task.retries}, expected >= 2"


def test_tags_come_from_the_vocabulary(dag_bag):
    for dag in _dags(dag_bag):
        assert dag.tags, f"{dag.dag_id}: no tags"
        unknown = set(dag.tags) - TAGS
        assert not unknown, f"{dag.dag_id}: tags {sorted(unknown)} are not in analytics.dag_defaults.TAGS"


def test_every_param_has_a_type_and_a_description(dag_bag):
    for dag in _dags(dag_bag):
        for name, param in dag.params.items():
            param = dag.params.get_param(name)
            assert param.schema.get("type"), f"{dag.dag_id}: param {name!r} has no type"
            assert param.description, f"{dag.dag_id}: param {name!r} has no description"


def test_no_airflow2_idioms_in_dag_files():
    for path in DAG_FILES:
        source = path.read_text()
        for idiom in (
            "schedule_interval",
            "execution_date",
            "airflow.decorators",
            "airflow.operators.python",
            "days_ago(",
        ):
            assert idiom not in source, f"{path.name}: uses {idiom}"


def test_dag_files_do_no_io_at_top_level():
    """Top-level statements of a DAG file are imports, constants, the DAG definition and its call."""
    for path in DAG_FILES:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                callee = node.value.func
                assert isinstance(callee, ast.Name) and callee.id == path.stem, (
                    f"{path.name}:{node.lineno}: top-level call other than the DAG function"
                )


HEAVY_MODULES = ("psycopg", "pymongo", "bson", "boto3", "pandas")


@pytest.mark.parametrize("path", DAG_FILES, ids=[path.name for path in DAG_FILES])
def test_dag_file_imports_no_database_or_data_library(path):
    """Drivers and data libraries are imported inside the code that runs tasks, never at parse time."""
    code = (
        "import runpy, sys; "
        f"sys.path[:0] = [{str(REPO / 'plugins')!r}]; "
        f"runpy.run_path({str(path)!r}); "
        f"print(sorted(name for name in {HEAVY_MODULES!r} if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]", (
        f"{path.name} imports {result.stdout.strip()} at parse time"
    )


@pytest.mark.parametrize("path", DAG_FILES, ids=[path.name for path in DAG_FILES])
def test_dag_file_imports_quickly(path):
    """Each DAG file imports in under a second in a fresh interpreter (Airflow re-parses them often).

    Airflow itself is imported first and not counted: the budget is for the file's own work.
    """
    code = (
        "import time, runpy, sys; import airflow.sdk; "
        f"sys.path[:0] = [{str(REPO / 'plugins')!r}]; "
        f"start = time.perf_counter(); runpy.run_path({str(path)!r}); "
        "print(time.perf_counter() - start)"
    )
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    seconds = float(result.stdout.strip().splitlines()[-1])
    print(
        f"{path.name}: imports in {seconds * 1000:.0f} ms (whole interpreter {time.perf_counter() - started:.1f} s)"
    )
    assert seconds < PARSE_BUDGET_SECONDS, f"{path.name} took {seconds:.2f}s to import"
