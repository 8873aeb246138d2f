"""Probe: the execution date, in code and templates, in an otherwise Airflow 3 DAG file.

Never imported: tests/dags/test_dag_integrity.py parses it to prove the Airflow-2 idiom check.
This docstring may say execution_date, {{ ds }} and {{ prev_ds }}: it is prose.
"""

from __future__ import annotations

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

REPORT_DAY = "{{ ds }}"  # expect idiom: ds
PREVIOUS = "{{ prev_ds_nodash }}/{{ macros.ds_add(ds, -1) }}"  # expect idiom: prev_ds_nodash, ds
INTERVAL = "{{ data_interval_start | ds }}..{{ data_interval_end | ts_nodash }} {{ dag_run.conf }}"
PROSE = "this string says execution_date in a sentence and is no context key"


@dag(schedule=None, tags=["manual"])
def probe_execution_date():
    @task
    def report(day: str, execution_date=None, ds=None, **context) -> str:  # expect idiom: execution_date, ds
        logical = context["execution_date"]  # expect idiom: execution_date
        nodash = context.get("ds_nodash")  # expect idiom: ds_nodash
        run = context["dag_run"]
        return f"{day} {logical} {nodash} {run.execution_date} {run.external_trigger}"  # expect idiom: execution_date, external_trigger

    BashOperator(
        task_id="echo",
        bash_command="echo {{ execution_date }} {{ conf.get('core', 'x') }}",  # expect idiom: execution_date, conf
    )
    TriggerDagRunOperator(
        task_id="trigger",
        trigger_dag_id="probe_schedule_interval",
        execution_date="{{ logical_date }}",  # expect idiom: execution_date
        conf={"interval": INTERVAL, "previous": PREVIOUS, "prose": PROSE},
    )
    report(REPORT_DAY)


probe_execution_date()
