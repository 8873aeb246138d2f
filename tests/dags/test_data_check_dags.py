"""The data check tasks in real runs: ``airflow dags test`` of the weekly views runs its check
after the computation, and the check run again on broken data fails on its own, naming the check,
while the rows stay as they were. The DAGs' check tasks sit after the tasks they check.
"""

from __future__ import annotations

import subprocess
from datetime import date

import pytest

from analytics.engagement.weekly_views import WEEKLY_VIEWS
from tests.dags.test_engagement_dags import (  # noqa: F401 (fixtures)
    WEEKLY_DAG_ID,
    _load_days,
    _reset_analytics,
    _rows,
    engagement_databases,
    own_metadata_db,
)

from .conftest import AIRFLOW, REPO, run_dag_test


def _task_test(dag_id: str, task_id: str, logical_date: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [AIRFLOW, "tasks", "test", dag_id, task_id, logical_date],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=os.environ.copy(),
    )


@pytest.mark.parametrize(
    ("dag_id", "after", "check"),
    [
        ("engagement_elt_daily", "enrich_events", "check_events_loaded"),
        ("engagement_elt_daily", "enrich_events", "check_event_keys"),
        ("engagement_elt_daily", "enrich_events", "check_load_log"),
        ("engagement_weekly_views", "compute_week", "check_weekly_views"),
        ("tracking_logs_master_load", "load_file", "check_loaded_files"),
        ("bi_monthly_aggregation", "institutions", "check_bi_collections"),
        ("edx_course_ingestion", "ingest_course", "check_ingested_courses"),
        ("course_tracking_extraction", "extract_course", "check_extracted_courses"),
        ("course_kpis", "compute_course", "check_course_kpis"),
    ],
)
def test_each_check_task_follows_what_it_checks(dag_id: str, after: str, check: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]
    assert after in dag.get_task(check).upstream_task_ids
    assert {"report", "check"}.isdisjoint(dag.get_task(check).downstream_task_ids)
    # Runs once what it checks did not fail (the BI check: a skipped churn is fine); nothing waits
    # on it, so the report runs whatever it finds.
    assert dag.get_task(check).trigger_rule in ("all_success", "none_failed")
    assert not dag.get_task(check).downstream_task_ids
    if "report" in dag.task_ids:
        assert check not in dag.get_task("report").upstream_task_ids


def test_a_weekly_run_runs_its_check_and_the_check_fails_alone_on_broken_data(
    engagement_databases,  # noqa: F811
    own_metadata_db,  # noqa: F811
) -> None:
    """``airflow dags test`` shows the check in the run; ``airflow tasks test`` of the check alone,
    after a view lost its week, fails naming the check, and leaves the rows as they are."""
    _, analytics = engagement_databases
    _reset_analytics(analytics)
    _load_days(date(2024, 1, 1), date(2024, 1, 22))

    run = run_dag_test(WEEKLY_DAG_ID, "2024-01-29", {"from_week": "2024-01-08", "to_week": "2024-01-15"})

    assert run.state == "success", run.output[-4000:]
    assert "task_id=check_weekly_views" in run.output
    assert "All tests have passed" in run.output
    _rows(analytics, "DELETE FROM analytics_fonctionnalites WHERE week = '2024-01-15' RETURNING week")
    left = {view: _rows(analytics, f"SELECT * FROM {view} ORDER BY 1, 2, 3") for view in WEEKLY_VIEWS}

    result = _task_test(WEEKLY_DAG_ID, "check_weekly_views", "2024-01-29")

    output = result.stdout + result.stderr
    # `tasks test` exits 0 even when the task fails: its log says the task failed, and why.
    assert "new_state=failed" in output, output[-3000:]
    assert "views_hold_their_rows" in output and "Test failed" in output, output[-3000:]
    assert {view: _rows(analytics, f"SELECT * FROM {view} ORDER BY 1, 2, 3") for view in WEEKLY_VIEWS} == left
