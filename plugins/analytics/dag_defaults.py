"""What every DAG shares: the tag vocabulary, default task arguments, owners, and the closing tasks.

DAG files take their tags from :data:`TAGS` (the integrity tests reject any other tag) and
their ``default_args`` from :func:`default_args`, so retries and owners are set in one place;
:func:`report_and_check` adds the ``report`` and ``check`` tasks that end every DAG's run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset, Param, TriggerRule, task

from analytics.alerts import FailureNotifier

TAGS = frozenset(
    {
        "edx",  # data from edX (research data packages, tracking logs)
        "engagement",  # the engagement ELT and its weekly views
        "bi",  # aggregates that dashboards query
        "messages",  # message analytics
        "kpi",  # course KPIs for course staff
        "ingestion",  # raw data into a store
        "transformation",  # derived data from stored data
        "export",  # files for people outside Airflow
        "mongodb",
        "postgres",
        "s3",
        "daily",
        "weekly",
        "monthly",
        "manual",  # triggered by people with params, no schedule
    }
)

DATA_ENGINEERING = "data-engineering"
DEFAULT_RETRIES = 2


def default_args(owner: str = DATA_ENGINEERING, **overrides: Any) -> dict[str, Any]:
    """Task defaults: an owner, two retries with a growing delay, one alert per task that fails its last try."""
    return {
        "owner": owner,
        "retries": DEFAULT_RETRIES,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": FailureNotifier(),  # analytics.alerts: e-mail or the configured notifier
        **overrides,
    }


def optional_text(*, title: str, description: str, **schema: Any) -> Param:
    """An optional string param: empty (null) by default, so the trigger form does not require it.

    Airflow's trigger form treats a ``type="string"`` param as required, even with ``""`` as its
    default, and sends an emptied field as null; ``["null", "string"]`` accepts both. A
    ``pattern`` applies to strings only. Templates read it as ``{{ params.name or '' }}``: a bare
    ``{{ params.name }}`` renders null as the text ``None``.
    """
    return Param(None, type=["null", "string"], title=title, description=description, **schema)


def report_and_check(
    report: Callable[..., Any], check: Callable[..., None], *inputs: Any, outlets: Sequence[Asset] = ()
) -> None:
    """The last two tasks of a run: ``report`` then ``check``, both run whatever happened upstream.

    ``report`` logs one line per item and returns the totals (its ``outlets`` get an Asset event
    unless it raises ``AirflowSkipException``, as a run that changed nothing does); ``check``
    fails the run when something did not complete, after the report has said what. Both are
    called with ``inputs`` (XComs), a mapped task's outputs as a plain list; their docstrings
    become the tasks' docs.
    """
    report_task = task(
        task_id="report", trigger_rule=TriggerRule.ALL_DONE, outlets=list(outlets), doc_md=report.__doc__
    )(_with_plain_lists(report))
    check_task = task(task_id="check", trigger_rule=TriggerRule.ALL_DONE, doc_md=check.__doc__)(
        _with_plain_lists(check)
    )
    report_task(*inputs) >> check_task(*inputs)


def _with_plain_lists(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` called with each lazy XCom sequence (a mapped task's outputs) read into a list."""

    @functools.wraps(function)
    def call(*values: Any) -> Any:
        return function(*(_plain(value) for value in values))

    return call


def _plain(value: Any) -> Any:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | list | tuple):
        return list(value)
    return value
