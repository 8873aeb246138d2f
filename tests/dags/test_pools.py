"""Pools: every task that writes to a store is in that store's pool, and every stack has the pools.

The operators that write say which pool (``writes_to``); the DAG files name it (``pool=``), and
these tests hold the two together. The pools themselves are configuration
(``include/config/pools.json``), imported by the local stacks, the scheduler harness and compose's
``airflow-init``; a task whose pool does not exist would wait forever, so each of those is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analytics.pools import MONGODB_WRITES, POOLS_FILE, POSTGRES_WRITES, pool_sizes

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def store_writing_tasks(dag_bag) -> list[tuple[str, str, str | None, str]]:
    """(dag_id, task_id, pool, writes_to) of every task whose operator writes to a store."""
    found = []
    for dag in dag_bag.dags.values():
        for task in dag.tasks:
            writes_to = getattr(task.operator_class, "writes_to", None)
            if writes_to:
                found.append((dag.dag_id, task.task_id, task.pool, writes_to))
    return found


def test_every_store_writing_task_is_in_its_stores_pool(dag_bag):
    tasks = store_writing_tasks(dag_bag)
    wrong = [(dag_id, task_id, pool, want) for dag_id, task_id, pool, want in tasks if pool != want]
    assert not wrong, f"tasks outside their store's pool (dag, task, pool, expected): {wrong}"
    # Both pools are used, by the DAGs the issue names (a DAG that lost its writes would show here).
    by_pool = {
        want: {dag_id for dag_id, _, _, w in tasks if w == want} for want in (MONGODB_WRITES, POSTGRES_WRITES)
    }
    assert by_pool[MONGODB_WRITES] >= {
        "tracking_logs_master_load",
        "edx_course_ingestion",
        "course_tracking_extraction",
        "course_kpis",
        "bi_monthly_aggregation",
    }
    assert by_pool[POSTGRES_WRITES] >= {"engagement_elt_daily", "engagement_weekly_views"}


def test_tasks_that_only_read_take_no_store_pool(dag_bag):
    """Checks, plans and reports read: they do not take a write slot from the loads."""
    pooled = {(dag_id, task_id) for dag_id, task_id, _, _ in store_writing_tasks(dag_bag)}
    for dag in dag_bag.dags.values():
        for task in dag.tasks:
            if (dag.dag_id, task.task_id) not in pooled:
                assert task.pool not in (MONGODB_WRITES, POSTGRES_WRITES), (
                    dag.dag_id,
                    task.task_id,
                    task.pool,
                )


def test_the_pools_file_sizes_every_pool_the_operators_name(dag_bag):
    sizes = pool_sizes()
    named = {writes_to for _, _, _, writes_to in store_writing_tasks(dag_bag)}
    assert named == {MONGODB_WRITES, POSTGRES_WRITES} and named <= set(sizes)
    assert all(slots >= 1 for slots in sizes.values()), sizes
    spec = json.loads(POOLS_FILE.read_text())
    assert all(pool["description"] and pool["include_deferred"] is False for pool in spec.values())


def test_the_test_stack_has_the_configured_pools():
    """`make stack-test` imported the pools into the stack's metadata database, sized as configured."""
    result = subprocess.run(
        [AIRFLOW, "pools", "list", "-o", "json"], env=os.environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    listed = {pool["pool"]: int(pool["slots"]) for pool in json.loads(result.stdout)}
    assert {name: listed.get(name) for name in pool_sizes()} == pool_sizes()


def test_compose_init_imports_the_pools_file():
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    init = compose["services"]["airflow-init"]
    script = "\n".join(init["command"])
    assert "airflow pools import /opt/airflow/include/config/pools.json" in script
    assert any(
        volume.startswith("./include:/opt/airflow/include")
        for volume in compose["x-airflow-common"]["volumes"]
    )


@pytest.mark.parametrize("module", ["scripts/stack.py", "tests/airflow_services.py"])
def test_each_stack_imports_the_same_pools_file(module):
    text = (REPO / module).read_text()
    assert '"pools", "import"' in text and '"include" / "config" / "pools.json"' in text
