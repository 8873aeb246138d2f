"""
# BI monthly aggregation

## What it does

Aggregates the clinical-audit application's PostgreSQL (`postgres_app`: institutions, forms, users,
audit sessions, submissions) into the MongoDB database `bi` (`include/config/bi.json`, or the
`bi_database` Variable) that the MongoDB Charts dashboards query. It replaces the seven Celery tasks
of the original; every task here can be rerun, and any month recomputed, without wiping anything by
hand. Each aggregate is one SQL file in `include/sql/bi/`, computed by PostgreSQL.

**Collections.** Per period, each run **replacing exactly its period** (new documents with
deterministic `_id`s written stamped with the run, then the period's other documents deleted, so
a rerun or a backfill never double-counts and dashboards never see less mid-run):
`monthly_submissions` (`month`, `institution_id`, `form_id`; computed per chunk of
`forms_per_chunk` forms, one mapped task each), `monthly_sessions` (`month`, `institution_id`,
`form_id`, by the session's start), `quarterly_form_churn` (`quarter`, `institution_id`; in the
month that closes the quarter, against the quarter before). Snapshots, resynced whole as of the
end of the run's last month (written beside the old set, then the old documents removed; a
snapshot already as of a later month is kept): `institutions`, `security_risk_clients`, `forms`,
`top_users`. `month` is `YYYY-MM`, `quarter` `YYYY-Qn`, months are UTC months, times UTC.

**Schedule.** `CronDataIntervalTimetable("0 0 1 * *", UTC)` (the zone is `BI_TIMEZONE` in
`plugins/analytics/bi/config.py`, checked against `bi.json`): the run of the 1st computes the
month before. `airflow dags test bi_monthly_aggregation 2024-04-01` computes March 2024.
`airflow backfill create --dag-id bi_monthly_aggregation --from-date 2024-02-01T00:00+00:00
--to-date 2024-04-01T00:00+00:00` recomputes January, February and March (one run each); a
manual run with params `from_month`/`to_month` recomputes a range in one run (one mapped task per
month). Both go through the same tasks and write the same documents.

**The gate.** The `bi_aggregate` Variable (`AIRFLOW_VAR_BI_AGGREGATE`, the original's
`BI_AGGREGATE`): unless it is `true` (or `1`, `yes`, `on`), `bi_aggregate_gate` short-circuits and
every other task is skipped; its log says why. The local stacks set it to true.

**Tasks.** `bi_aggregate_gate`; `plan_months` (the months of the params or the data interval);
`plan_chunks` (the application's forms in chunks, one chunk task per month and chunk);
`monthly_submissions` (mapped: month x chunk) then `monthly_submissions_cleanup` (per month: the
documents of forms no longer in the application); `monthly_sessions` and `quarterly_form_churn`
(mapped per month; churn skipped in months that close no quarter); `institutions`,
`security_risk_clients`, `forms`, `top_users` (one task each, never two runs at once); `report`
and `check`.

## Params

`from_month`, `to_month` (`YYYY-MM`; empty: the run's data interval; `to_month` empty: `from_month`
alone), `forms_per_chunk` (empty: the configuration's, 10), `top_users_per_institution` (empty: 10).

## When it fails

A failure means the BI dashboards keep the previous figures for the months that failed; nothing
already written is lost. What to do:

`plan_months` fails at once (no retry) on params it cannot use, or a run without a data interval:
trigger with a logical date or `from_month`. A chunk, cleanup, month or snapshot task that fails
leaves its period as it was (nothing is deleted before the new documents are written): clear it, and
it replaces its period again; `check` names the periods whose task did not finish. Connection errors
name `postgres_app` or `mongo_default`. A renamed table in the application: edit the SQL file of
`include/sql/bi/` that names it.

## Owner

data-engineering (BI dashboards).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, TriggerRule, XComArg, dag

from analytics.alerts import deadline_alert
from analytics.bi.config import BI_TIMEZONE
from analytics.bi.documents import SNAPSHOTS
from analytics.bi.periods import MONTH_PARAM_PATTERN
from analytics.dag_defaults import default_args, report_and_check
from analytics.operators.bi import (
    MonthlySessionsOperator,
    MonthlySubmissionsOperator,
    PlanChunksOperator,
    PlanMonthsOperator,
    QuarterlyFormChurnOperator,
    RemoveUnplannedFormsOperator,
    SnapshotOperator,
    bi_aggregate_gate,
    check_bi,
    report_bi,
)
from analytics.operators.data_checks import BiCheckOperator
from analytics.pools import MONGODB_WRITES

DATABASE = "{{ var.value.get('bi_database', '') }}"
MONTH = {"type": ["null", "string"], "pattern": MONTH_PARAM_PATTERN}


@dag(
    dag_id="bi_monthly_aggregation",
    schedule=CronDataIntervalTimetable("0 0 1 * *", timezone=BI_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=BI_TIMEZONE),
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    deadline=deadline_alert("bi_monthly_aggregation", __doc__),
    default_args=default_args(),
    tags=["bi", "mongodb", "postgres", "monthly"],
    params={
        "from_month": Param(
            None,
            **MONTH,
            title="From month",
            description="First month to recompute (YYYY-MM); empty: the month of the run's data interval.",
        ),
        "to_month": Param(
            None,
            **MONTH,
            title="To month",
            description="Last month to recompute, included (YYYY-MM); empty: from_month.",
        ),
        "forms_per_chunk": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=1000,
            title="Forms per chunk",
            description="Forms per monthly_submissions task; empty: the configuration's (10).",
        ),
        "top_users_per_institution": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=1000,
            title="Top users per institution",
            description="Users kept per institution in top_users; empty: the configuration's (10).",
        ),
    },
)
def bi_monthly_aggregation():
    gate = bi_aggregate_gate(bi_aggregate="{{ var.value.get('bi_aggregate', '') }}")
    months = PlanMonthsOperator(
        task_id="plan_months",
        from_month="{{ params.from_month or '' }}",
        to_month="{{ params.to_month or '' }}",
        database=DATABASE,
    )
    chunks = PlanChunksOperator(
        task_id="plan_chunks",
        months=months.output,
        forms_per_chunk="{{ params.forms_per_chunk }}",
        database=DATABASE,
    )
    submissions = MonthlySubmissionsOperator.partial(
        pool=MONGODB_WRITES,
        task_id="monthly_submissions",
        database=DATABASE,
        map_index_template="{{ task.month }} forms {{ task.form_ids[0] }}-{{ task.form_ids[-1] }}",
    ).expand_kwargs(chunks.output)
    cleanup = RemoveUnplannedFormsOperator.partial(
        pool=MONGODB_WRITES,
        task_id="monthly_submissions_cleanup",
        form_ids=XComArg(chunks, key="form_ids"),
        database=DATABASE,
        map_index_template="{{ task.month }}",
    ).expand(month=months.output)
    sessions = MonthlySessionsOperator.partial(
        pool=MONGODB_WRITES,
        task_id="monthly_sessions",
        database=DATABASE,
        map_index_template="{{ task.month }}",
    ).expand(month=months.output)
    churn = QuarterlyFormChurnOperator.partial(
        pool=MONGODB_WRITES,
        task_id="quarterly_form_churn",
        database=DATABASE,
        map_index_template="{{ task.month }}",
    ).expand(month=months.output)
    snapshots = [
        SnapshotOperator(
            pool=MONGODB_WRITES,
            task_id=name,
            collection=name,
            month="{{ ti.xcom_pull(task_ids='plan_months')[-1] }}",
            top_users_per_institution="{{ params.top_users_per_institution }}",
            database=DATABASE,
            max_active_tis_per_dag=1,  # two runs never resync one snapshot at once
        )
        for name in SNAPSHOTS
    ]

    BiCheckOperator(
        task_id="check_bi_collections",
        database=DATABASE,
        results=[
            submissions.output,
            cleanup.output,
            sessions.output,
            churn.output,
            *[snapshot.output for snapshot in snapshots],
        ],
        trigger_rule=TriggerRule.NONE_FAILED,  # the churn is skipped in months that close no quarter
    )

    gate >> months
    submissions >> cleanup
    months >> snapshots
    report_and_check(
        report_bi,
        check_bi,
        months.output,
        chunks.output,
        submissions.output,
        cleanup.output,
        sessions.output,
        churn.output,
        *[snapshot.output for snapshot in snapshots],
    )


bi_monthly_aggregation()
