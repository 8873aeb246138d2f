"""Operators of ``bi_monthly_aggregation``: Airflow glue only.

Each operator reads its params and the run's context, calls one function of
:mod:`analytics.bi.engine` (plain functions, tested without Airflow), logs what it did and returns
a small summary (XCom). The configuration (``include/config/bi.json``) is read when the task runs,
never when the DAG is parsed; ``database`` (templated: the ``bi_database`` Variable) overrides its
MongoDB database. Templated numbers arrive as text: empty or ``None`` means the configuration's.
The engine (psycopg, pymongo) is imported inside ``execute``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, task

from analytics.pools import MONGODB_WRITES

if TYPE_CHECKING:
    from analytics.bi.config import BiConfig
    from analytics.bi.engine import WriteResult

log = logging.getLogger(__name__)


def optional_int(value: Any) -> int | None:
    """A templated integer param: ``None``, ``""`` and ``"None"`` are None."""
    if value in (None, "", "None"):
        return None
    return int(value)


@task.short_circuit(task_id="bi_aggregate_gate")
def bi_aggregate_gate(bi_aggregate: str = "") -> bool:
    """Go on only when the bi_aggregate Variable is true; otherwise every task is skipped."""
    from analytics.bi.config import gate_decision

    is_open, reason = gate_decision(bi_aggregate)
    log.info("%s", reason)
    return is_open


class _BiOperator(BaseOperator):
    """The configuration, with this run's database and params laid over it."""

    template_fields: Sequence[str] = ("database",)
    ui_color = "#e3f0f7"

    def __init__(self, *, database: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database = database

    def _config(self, **overrides: Any) -> BiConfig:
        from analytics.bi.config import load_bi_config

        config = load_bi_config()
        given = {name: value for name, value in overrides.items() if value is not None}
        if self.database:
            given["database"] = self.database
        return dataclasses.replace(config, **given) if given else config

    def _summary(self, result: WriteResult) -> dict[str, Any]:
        self.log.info("%s", result.log_line())
        return result.as_summary()


class PlanMonthsOperator(_BiOperator):
    """The months this run computes (``"YYYY-MM"``): its params' range, else its data interval's."""

    template_fields: Sequence[str] = ("database", "from_month", "to_month")

    def __init__(self, *, from_month: str = "", to_month: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.from_month = from_month
        self.to_month = to_month

    def execute(self, context: Any) -> list[str]:
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.bi.periods import months_for_run

        config = self._config()
        try:
            months = months_for_run(
                self.from_month if self.from_month not in ("", "None") else None,
                self.to_month if self.to_month not in ("", "None") else None,
                context.get("data_interval_start"),
                context.get("data_interval_end"),
                config.timezone,
                config.max_months_per_run,
            )
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        source = "params" if self.from_month not in ("", "None") else "the data interval"
        self.log.info("months from %s: %s (%s)", source, ", ".join(map(str, months)), config.timezone)
        return [month.label for month in months]


class PlanChunksOperator(_BiOperator):
    """The chunk tasks of ``monthly_submissions``: one per (month, ``forms_per_chunk`` forms).

    Returns their keyword arguments; pushes the application's form ids as XCom ``form_ids`` (the
    months' cleanups delete the documents of any other form).
    """

    template_fields: Sequence[str] = ("database", "months", "forms_per_chunk")

    def __init__(self, *, months: Any, forms_per_chunk: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.months = months
        self.forms_per_chunk = forms_per_chunk

    def execute(self, context: Any) -> list[dict]:
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.bi.engine import form_ids
        from analytics.bi.periods import Month
        from analytics.bi.plan import plan_run

        config = self._config(forms_per_chunk=optional_int(self.forms_per_chunk))
        forms = form_ids(config)
        try:
            plan = plan_run([Month.parse(label) for label in self.months], forms, config.forms_per_chunk)
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        for line in plan.describe():
            self.log.info("%s", line)
        context["ti"].xcom_push(key="form_ids", value=plan.form_ids)
        return plan.chunks


class _MonthOperator(_BiOperator):
    """An operator over one month (``"YYYY-MM"``, usually mapped from ``plan_months``)."""

    writes_to: ClassVar[str] = MONGODB_WRITES  # the pool the DAGs give its tasks (analytics.pools)

    template_fields: Sequence[str] = ("database", "month")

    def __init__(self, *, month: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.month = month

    def _month(self) -> Any:
        from analytics.bi.periods import Month

        return Month.parse(str(self.month))


class MonthlySubmissionsOperator(_MonthOperator):
    """``monthly_submissions`` of one month for one chunk of forms (replaces exactly that month and those forms)."""

    template_fields: Sequence[str] = ("database", "month", "form_ids")

    def __init__(self, *, form_ids: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.form_ids = form_ids

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.bi.engine import write_monthly_submissions

        result = write_monthly_submissions(
            self._month(), list(self.form_ids), self._config(), context["run_id"]
        )
        return self._summary(result)


class RemoveUnplannedFormsOperator(_MonthOperator):
    """Delete the month's ``monthly_submissions`` documents of forms the plan does not hold."""

    template_fields: Sequence[str] = ("database", "month", "form_ids")

    def __init__(self, *, form_ids: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.form_ids = form_ids

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.bi.engine import remove_unplanned_forms

        result = remove_unplanned_forms(self._month(), [int(form) for form in self.form_ids], self._config())
        return self._summary(result)


class MonthlySessionsOperator(_MonthOperator):
    """``monthly_sessions`` of one month (replaces exactly that month)."""

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.bi.engine import write_monthly_sessions

        return self._summary(write_monthly_sessions(self._month(), self._config(), context["run_id"]))


class QuarterlyFormChurnOperator(_MonthOperator):
    """``quarterly_form_churn`` of the quarter the month closes; skipped (with the reason) in other months."""

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from analytics.bi.engine import write_quarterly_form_churn

        month = self._month()
        if not month.closes_quarter:
            raise AirflowSkipException(
                f"{month} does not close a quarter: the churn of {month.quarter} is computed in its last month"
            )
        return self._summary(write_quarterly_form_churn(month, self._config(), context["run_id"]))


class SnapshotOperator(_MonthOperator):
    """Resync one snapshot collection as of the end of ``month`` (the run's last)."""

    template_fields: Sequence[str] = ("database", "month", "top_users_per_institution")

    def __init__(self, *, collection: str, top_users_per_institution: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.collection = collection
        self.top_users_per_institution = top_users_per_institution

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics.bi.engine import resync_snapshot

        config = self._config(top_users_per_institution=optional_int(self.top_users_per_institution))
        return self._summary(resync_snapshot(self.collection, self._month(), config, context["run_id"]))


def report_bi(months: list[str], chunks: list[dict], *results: Any) -> dict[str, Any]:
    """Log one line per collection and period and the totals; return the totals."""
    from analytics.bi.reports import flatten, report_lines

    summaries = flatten(*results)
    for line in report_lines(summaries):
        log.info("%s", line)
    return {"months": months, "tasks": len(summaries)}


def check_bi(months: list[str], chunks: list[dict], *results: Any) -> None:
    """Fail the run (no retry) when a planned collection and period has no summary (its task failed)."""
    from airflow.sdk.exceptions import AirflowFailException

    from analytics.bi.reports import flatten, missing_results

    problems = missing_results(months or [], chunks or [], flatten(*results))
    if problems:
        raise AirflowFailException("; ".join(problems))
