"""Probe: an Airflow 2 DAG file.

Never imported: tests/dags/test_dag_integrity.py parses it to prove the Airflow-2 idiom check.
This docstring may name schedule_interval, days_ago and airflow.operators: it is prose.
"""

from __future__ import annotations

from datetime import timedelta

from airflow import Dataset  # expect idiom: airflow.Dataset
from airflow.decorators import task  # expect idiom: airflow.decorators.task
from airflow.models import DAG  # expect idiom: airflow.models.DAG
from airflow.operators.python import PythonOperator  # expect idiom: airflow.operators.python.PythonOperator
from airflow.utils.dates import days_ago  # expect idiom: airflow.utils.dates.days_ago

# A comment may say schedule_interval too.
DEFAULT_ARGS = {"owner": "data-engineering", "retries": 2, "sla": timedelta(hours=1)}  # expect idiom: sla

with DAG(
    dag_id="probe_schedule_interval",
    schedule_interval="@daily",  # expect idiom: schedule_interval
    start_date=days_ago(1),  # expect idiom: days_ago
    concurrency=4,  # expect idiom: concurrency
    default_args=DEFAULT_ARGS,
    tags=["daily"],
) as probe_dag:
    hello = PythonOperator(
        task_id="hello",
        python_callable=print,
        provide_context=True,  # expect idiom: provide_context
        outlets=[Dataset("s3://logs/hello")],  # expect idiom: Dataset
    )

    @task(sla=timedelta(minutes=5))  # expect idiom: sla
    def world() -> str:
        return "world"

    hello >> world()
