"""Probe: DAG and task-group functions called through a loop or a mapping, never by their name.

Never imported: tests/dags/test_dag_integrity.py parses it to prove that the parse-time I/O
check walks every ``@dag`` and ``@task_group`` body, whether or not a call names the function.
"""

from __future__ import annotations

from airflow.sdk import Variable, dag, task_group


@task_group
def quality_checks():
    Variable.get("quality_threshold")  # expect io: Variable.get


GROUPS = {"quality": quality_checks}


@dag(schedule=None, tags=["daily"])
def probe_dag_factory_daily():
    Variable.get("daily_limit")  # expect io: Variable.get
    GROUPS["quality"]()


@dag(schedule=None, tags=["weekly"])
def probe_dag_factory_weekly():
    Variable.get("weekly_limit")  # expect io: Variable.get


for build in (probe_dag_factory_daily, probe_dag_factory_weekly):
    build()
