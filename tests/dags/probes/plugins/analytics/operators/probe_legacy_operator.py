"""Probe: a plugins/analytics operator module written for Airflow 2.

Never imported: tests/dags/test_dag_integrity.py parses it to prove that the Airflow-2 idiom
check covers plugins. Docstrings may name apply_defaults and execution_date: they are prose.
"""

from __future__ import annotations

import airflow.operators.bash  # expect idiom: airflow.operators.bash
from airflow.exceptions import AirflowSkipException  # expect idiom: airflow.exceptions.AirflowSkipException
from airflow.hooks.base import BaseHook  # expect idiom: airflow.hooks.base.BaseHook
from airflow.models import (
    BaseOperator,  # expect idiom: airflow.models.BaseOperator
    Variable,  # expect idiom: airflow.models.Variable
)
from airflow.utils.decorators import apply_defaults  # expect idiom: airflow.utils.decorators.apply_defaults


def default_args() -> dict:
    """Task defaults, in Airflow 2 terms."""
    return {
        "owner": "data-engineering",
        "retries": 2,
        "sla_miss_callback": print,  # expect idiom: sla_miss_callback
    }


class LegacyExportOperator(BaseOperator):
    """Exports the day before the execution date."""

    template_fields = ("day",)

    @apply_defaults  # expect idiom: apply_defaults
    def __init__(self, *, day: str = "{{ yesterday_ds }}", **kwargs) -> None:  # expect idiom: yesterday_ds
        super().__init__(task_concurrency=1, **kwargs)  # expect idiom: task_concurrency
        self.day = day

    def execute(self, context):
        if context["dag_run"].external_trigger:  # expect idiom: external_trigger
            raise AirflowSkipException("manual runs export nothing")
        connection = BaseHook.get_connection(Variable.get("export_conn_id"))
        return {
            "host": connection.host,
            "day": self.day,
            "next": context["next_execution_date"],  # expect idiom: next_execution_date
        }


def echo(message: str) -> airflow.operators.bash.BashOperator:
    return airflow.operators.bash.BashOperator(task_id="echo", bash_command=f"echo {message}")
