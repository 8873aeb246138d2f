"""``bi_monthly_aggregation`` end to end: its structure, `airflow dags test` runs and a real backfill.

The application is the hand-written fixture of ``tests/bi_data.py`` in a fresh PostgreSQL database
(``AIRFLOW_CONN_POSTGRES_APP`` points at it for the module); each test writes to its own MongoDB
database (the ``bi_database`` Variable, ``AIRFLOW_VAR_BI_DATABASE``). The gate is opened with
``AIRFLOW_VAR_BI_AGGREGATE=true``, as the local stacks do, except where a test shuts it. The
expected numbers are those of ``tests/integration/test_bi_aggregation.py``, counted by hand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from datetime import UTC, datetime

import pytest

from analytics.stores.mongo import RUN_FIELD
from tests.bi_data import app_database

from .conftest import AIRFLOW, REPO, run_dag_test

DAG_ID = "bi_monthly_aggregation"
RUN_ID = re.compile(r"DagRun Finished: dag_id=bi_monthly_aggregation, .*?run_id=([^,]+),")


@pytest.fixture(scope="module")
def application(airflow_metadata_db):
    """The fixture's application as ``postgres_app``, and the gate open, for the module's runs."""
    variables = ("AIRFLOW_CONN_POSTGRES_APP", "AIRFLOW_VAR_BI_AGGREGATE", "AIRFLOW_VAR_BI_DATABASE")
    saved = {name: os.environ.get(name) for name in variables}
    with app_database() as url:
        os.environ["AIRFLOW_CONN_POSTGRES_APP"] = url.replace("postgresql://", "postgres://")
        os.environ["AIRFLOW_VAR_BI_AGGREGATE"] = "true"
        try:
            yield url
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture
def bi_database(application, mongo_client, monkeypatch):
    """A fresh MongoDB database for the DAG's runs (the bi_database Variable), dropped afterwards."""
    name = f"test_bi_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("AIRFLOW_VAR_BI_DATABASE", name)
    yield mongo_client[name]
    mongo_client.drop_database(name)


def documents(database) -> dict[str, dict[str, dict]]:
    """Every collection's documents by ``_id``, without the run stamp."""
    return {
        name: {doc.pop("_id"): doc for doc in database[name].find({}, {RUN_FIELD: 0})}
        for name in sorted(database.list_collection_names())
    }


def task_states(run_output: str) -> dict[str, str]:
    """The state of each task of the run `airflow dags test` printed (mapped tasks: the set of states)."""
    run_id = RUN_ID.findall(run_output)[-1]
    result = subprocess.run(
        [AIRFLOW, "tasks", "states-for-dag-run", DAG_ID, run_id, "-o", "json"],
        capture_output=True, text=True, timeout=120, cwd=REPO, env=os.environ.copy(), check=True,
    )  # fmt: skip
    rows = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("[")))
    states: dict[str, set] = {}
    for row in rows:
        states.setdefault(row["task_id"], set()).add(row["state"])
    return {task: ",".join(sorted(found)) for task, found in states.items()}


# ---------------------------------------------------------------- structure (parsed, not run)


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{DAG_ID}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[DAG_ID]


def test_monthly_timetable_in_the_configured_zone(dag):
    from airflow.sdk import CronDataIntervalTimetable

    from analytics.bi.config import BI_TIMEZONE, load_bi_config

    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 0 1 * *"
    zone = dag.timetable.timezone
    assert getattr(zone, "name", zone) == BI_TIMEZONE == load_bi_config().timezone
    assert set(dag.tags) == {"bi", "mongodb", "postgres", "monthly"}


def test_every_task_is_downstream_of_the_gate(dag):
    gate = dag.get_task("bi_aggregate_gate")
    assert not gate.upstream_task_ids
    downstream = gate.get_flat_relative_ids(upstream=False)
    assert downstream == set(dag.task_ids) - {"bi_aggregate_gate"}
    assert gate.ignore_downstream_trigger_rules  # report and check (all_done) are skipped too


def test_month_params_are_validated_by_json_schema(dag):
    from airflow.sdk.exceptions import ParamValidationError

    for name in ("from_month", "to_month"):
        param = dag.params.get_param(name)
        for good in ("2024-01", "2024-12", "", None):
            assert param.resolve(good) == good
        for wrong in ("2024-13", "2024-00", "2024-1", "24-01", "2024-01-01", "2024/01"):
            with pytest.raises(ParamValidationError):
                param.resolve(wrong)
    for name in ("forms_per_chunk", "top_users_per_institution"):
        param = dag.params.get_param(name)
        assert param.resolve(5) == 5 and param.resolve(None) is None
        with pytest.raises(ParamValidationError):
            param.resolve(0)


# ---------------------------------------------------------------- runs


def test_dags_test_of_1_april_computes_march(bi_database):
    run = run_dag_test(DAG_ID, "2024-04-01")
    assert run.state == "success", run.output[-4000:]
    found = documents(bi_database)
    assert {key: doc["submissions"] for key, doc in found["monthly_submissions"].items()} == {
        "2024-03|1|1": 1,  # s5, at 1 March 00:00
        "2024-03|1|2": 3,
        "2024-03|3|5": 1,
    }
    assert set(found["monthly_sessions"]) == {"2024-03|1|1", "2024-03|1|2", "2024-03|3|5"}
    assert {key: doc["churned_forms"] for key, doc in found["quarterly_form_churn"].items()} == {
        "2024-Q1|1": 0,
        "2024-Q1|2": 1,
        "2024-Q1|3": 0,
    }
    assert {key: doc["risk_score"] for key, doc in found["security_risk_clients"].items()} == {"2": 3, "3": 2}
    assert len(found["forms"]) == 7 and len(found["institutions"]) == 3
    assert len(found["top_users"]) == 5  # 10 per institution: Alpha's 3 submitters, Beta's 1, Gamma's 1
    for name in ("institutions", "security_risk_clients", "forms", "top_users"):
        assert {doc["as_of_month"] for doc in found[name].values()} == {"2024-03"}, name
    states = task_states(run.output)
    assert states["quarterly_form_churn"] == "success"
    assert set(states.values()) == {"success"}, states


def test_a_params_range_then_a_rerun_of_one_month_leave_identical_documents(bi_database):
    ranged = run_dag_test(
        DAG_ID, "2024-06-01", {"from_month": "2024-01", "to_month": "2024-03", "forms_per_chunk": 3}
    )
    assert ranged.state == "success", ranged.output[-4000:]
    after_range = documents(bi_database)
    assert sorted({doc["month"] for doc in after_range["monthly_submissions"].values()}) == [
        "2024-01",
        "2024-02",
        "2024-03",
    ]  # the params, not the data interval (May)
    states = task_states(ranged.output)
    assert states["quarterly_form_churn"] == "skipped,success"  # January and February close no quarter
    assert states["monthly_submissions"] == "success"  # 3 months x 3 chunks of 3 forms
    assert "monthly_submissions_cleanup" in states

    march = run_dag_test(DAG_ID, "2024-04-01")  # the scheduled run of March, again
    assert march.state == "success", march.output[-4000:]
    assert documents(bi_database) == after_range


def test_the_gate_shut_skips_every_task_and_writes_nothing(bi_database, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_BI_AGGREGATE", "false")
    run = run_dag_test(DAG_ID, "2024-04-01")
    assert run.state == "success", run.output[-4000:]
    assert "the bi_aggregate Variable is 'false'" in run.output
    states = task_states(run.output)
    assert states.pop("bi_aggregate_gate") == "success"
    assert states and set(states.values()) == {"skipped"}, states
    assert sum(bi_database[name].count_documents({}) for name in bi_database.list_collection_names()) == 0


@pytest.mark.slow
def test_a_backfill_of_twelve_months_four_at_a_time_writes_what_one_params_run_writes(
    bi_database, tmp_path, mongo_client
):
    """`airflow backfill create --max-active-runs 4` on a real scheduler, January to December 2024.

    Four months run at once (a backfill's limit, not the DAG's 2, applies); each month's
    documents, and the snapshots as of the last month, equal those of one params run over the
    year. The fixture's rows are in January to May: the later months are computed empty.
    """
    from tests.airflow_services import run_backfill

    ranged = run_dag_test(DAG_ID, "2025-01-01", {"from_month": "2024-01", "to_month": "2024-12"})
    assert ranged.state == "success", ranged.output[-4000:]
    from_params = documents(bi_database)
    assert any(from_params.values())
    for name in from_params:
        bi_database[name].drop()

    runs = run_backfill(
        tmp_path / "airflow",
        DAG_ID,
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 12, 1, tzinfo=UTC),
        dags_folder=REPO / "dags",
        timeout=1200,
        max_active_runs=4,
    )
    assert [run.state for run in runs] == ["success"] * 12
    assert [(run.data_interval_start.month, run.data_interval_end.month) for run in runs] == [
        (month, month % 12 + 1) for month in range(1, 13)
    ]
    assert documents(bi_database) == from_params
