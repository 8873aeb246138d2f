"""Probe: Variables read at parse time, assigned, called bare, and in the DAG function's body.

Never imported: tests/dags/test_dag_integrity.py parses it to prove the parse-time I/O check.
This docstring may say Variable.get("x"): it is prose, not a call.
"""

from __future__ import annotations

from airflow.sdk import Variable, dag, task
from airflow.sdk import Variable as AirflowVariable

THRESHOLD = Variable.get("threshold")  # expect io: Variable.get
Variable.get("warm_up_the_cache")  # expect io: Variable.get
LIMITS = {"rows": int(AirflowVariable.get("row_limit", default="10"))}  # expect io: AirflowVariable.get
TEMPLATE = "{{ var.value.threshold }}"


def threshold_for(name: str) -> str:
    """A helper: its body runs at parse time because the DAG function calls it."""
    return Variable.get(f"threshold_{name}")  # expect io: Variable.get


def record_failure(context) -> None:
    """A callback: passed to the DAG, called when a task fails, never at parse time."""
    Variable.set("last_failure", context["run_id"])


@dag(schedule=None, tags=["manual"], on_failure_callback=record_failure)
def probe_top_level_variable():
    limit = Variable.get("limit", default="0")  # expect io: Variable.get

    @task(retries=int(Variable.get("retries", default="2")))  # expect io: Variable.get
    def check(threshold: str, limit: str, template: str = TEMPLATE) -> int:
        """Runs in a worker: reading a Variable here is right."""
        return int(Variable.get("threshold")) - int(threshold) - int(limit)

    check(threshold_for("daily"), limit)


probe_top_level_variable()
