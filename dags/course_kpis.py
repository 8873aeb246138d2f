"""
# Course KPIs

## What it does

Computes each course's KPIs from its events (`<course db>.tracking`, written by
`course_tracking_extraction`) and its ingested tables (`user`, `userprofile`, `enrollment`,
`certificates`), writes them to the course database, renders one HTML report per course and uploads
it to S3. Scheduled on the Asset `edx_course_tracking` (an extraction that extracted courses: the
whole course is recomputed), and by hand for a range; publishes the Asset `edx_course_kpis`.

**Collections** (in the course database): `time_on_task` (learner x UTC day), `weekly_activity`
(ISO week x label, `interval_start` the Monday, `label`, `count`), `videos` and `video_segments`
(per video, and per video x 5-second segment), `learners` (one row per learner: enrollment mode and
date, first and last event, days active, events, videos watched, problems attempted, forum posts,
time on task, certificate status), and `kpi_status` (one document per course and range: state,
counts, staff excluded by reason, anonymous events skipped, the session timeout).

**Ranges.** `from_date` / `to_date` (`YYYY-MM-DD`; empty: the course's enrollment and completion
days). `time_on_task` replaces the days of the range (sessions across its edges are read whole),
`weekly_activity` the ISO weeks that hold it (Monday to Sunday), and `videos`, `video_segments`
and `learners` are aggregates over the range, keyed by course and range (`edx_id`, `from_date`,
`to_date` on each document): a recomputation replaces exactly those. New documents are written
before the old ones are removed, so readers never see fewer.

**Learners counted.** Staff are left out (auth_user `is_staff` / `is_superuser`, users seen on the
instructor dashboard, in Studio, or with a staff course role in the forum); the rule is in
`include/config/course_kpis.json` (`staff_rule`), or the `staff_rule` param for one run, and the
number excluded, by reason, is in the report and the status. Contact details (email, name) are
not copied unless `include_contact_info` is true (staff exports only).

**Report.** `<report_dir>/<edx_id>.html` for the whole course, `<edx_id>_<from>_<to>.html` for a
range (`report_dir` param; empty: the `edx_report_dir` Variable, else the configuration's
`report_dir`), written under a temporary name and renamed, then uploaded to
`s3://<s3_bucket>/<s3_prefix><file>` through `aws_default` (empty params: the configuration's).

**Tasks.** `list_courses`; `compute_course` (one mapped task per config, named after it, two at a
time); `report` (whatever happened: one line per course with learners counted, staff excluded,
rows per collection, the report's path and S3 key; updates the asset; skipped when no course was
computed); `check` (fails the run when a course has no KPIs).
`check_course_kpis` (after `compute_course`): per course and range, `kpi_status` says complete, and
each KPI collection holds in the range's scope (its days, its ISO weeks, the documents keyed by course
and range) the rows the summary counts, none without its keys, no duplicate period (a learner's
day in `time_on_task`, a week's label in `weekly_activity`, a video's segment, a learner).

## Params

- `course_config_dir`: the folder of the course configs; empty: the `edx_course_config_dir`
  Variable, else `include/config/courses/`.
- `courses`: the `edx_id`s of the courses to compute; empty: all.
- `from_date`, `to_date` (`YYYY-MM-DD`, UTC, `to_date` included): the range to recompute;
  empty: the course's enrollment and completion days.
- `include_contact_info` (default false): copy learners' email and name into `learners` and
  the report (staff exports only).
- `report_dir`: where the HTML reports go; empty: the `edx_report_dir` Variable, else the
  configuration's.
- `session_timeout_minutes`: a gap at or above it ends a session; empty: the configuration's (30).
- `staff_rule`: options laid over the configured staff rule for this run, e.g.
  `{"never_exclude": ["username"]}`; empty: the configuration's.
- `s3_bucket`, `s3_prefix`: where the reports are uploaded; empty: the configuration's.

## When it fails

A failure means a course's KPIs and report were not refreshed by this run; the previous ones stay
readable. What to do:

An invalid config or date: its task fails without retry, naming the file and the field; fix it and
clear the task. A computation that fails keeps every previous document (the status says `failed`,
with the error); clearing the task computes the range again.

`check_course_kpis` failing (its log names the course database, collection, check, expected and
found) means the KPIs stored for the range are not what the computation wrote: rows missing or
extra, a key missing, a duplicate period. The KPIs are not undone and `report` still runs;
recompute the course and range (clear its `compute_course`), then clear the check.

## Owner

data-engineering (edX analytics).
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from analytics.assets import COURSE_KPIS, COURSE_TRACKING
from analytics.dag_defaults import default_args, optional_text, report_and_check
from analytics.operators.data_checks import KpiCheckOperator
from analytics.operators.extraction import (
    COURSE_CONFIG_DIR_TEMPLATE,
    ListCourseConfigsOperator,
    course_selection_params,
)
from analytics.operators.kpis import (
    KPI_EXECUTION_TIMEOUT,
    ComputeCourseKpisOperator,
    check_course_kpis,
    report_course_kpis,
)
from analytics.pools import MONGODB_WRITES

DATE_OR_EMPTY = r"^(\d{4}-\d{2}-\d{2})?$"


@dag(
    dag_id="course_kpis",
    is_paused_upon_creation=False,  # started by an upstream DAG or Asset: see the README's deployment section
    schedule=[COURSE_TRACKING],
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=default_args(),
    tags=["edx", "kpi", "transformation", "mongodb", "s3"],
    params={
        **course_selection_params("compute"),
        "from_date": optional_text(
            pattern=DATE_OR_EMPTY,
            title="From date",
            description="First day to recompute (YYYY-MM-DD, UTC); empty: the course's enrollment day.",
        ),
        "to_date": optional_text(
            pattern=DATE_OR_EMPTY,
            title="To date",
            description="Last day to recompute, included (YYYY-MM-DD, UTC); empty: the course's completion day.",
        ),
        "include_contact_info": Param(
            False,
            type="boolean",
            title="Include contact details",
            description="Copy learners' email and name into `learners` and the report: staff exports only.",
        ),
        "report_dir": optional_text(
            title="Report directory",
            description="Where the HTML reports go; empty: the `edx_report_dir` Variable, else the configuration's.",
        ),
        "session_timeout_minutes": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            title="Session timeout (minutes)",
            description="A gap at or above it ends a session; empty: the configuration's (30).",
        ),
        "staff_rule": Param(
            {},
            type="object",
            title="Staff rule",
            description=(
                "Options laid over the configured staff rule for this run, e.g. "
                '{"never_exclude": ["username"]} or {"studio": false}; empty: the configuration\'s.'
            ),
        ),
        "s3_bucket": optional_text(
            title="S3 bucket",
            description="Bucket the reports are uploaded to; empty: the configuration's.",
        ),
        "s3_prefix": optional_text(
            title="S3 prefix",
            description="Key prefix of the uploaded reports; empty: the configuration's.",
        ),
    },
)
def course_kpis():
    configs = ListCourseConfigsOperator(
        task_id="list_courses",
        course_config_dir=COURSE_CONFIG_DIR_TEMPLATE,
        courses="{{ params.courses }}",
    )
    computed = ComputeCourseKpisOperator.partial(
        pool=MONGODB_WRITES,
        task_id="compute_course",
        from_date="{{ params.from_date or '' }}",
        to_date="{{ params.to_date or '' }}",
        include_contact_info="{{ params.include_contact_info }}",
        report_dir="{{ params.report_dir or var.value.get('edx_report_dir', '') }}",
        session_timeout_minutes="{{ params.session_timeout_minutes }}",
        staff_rule="{{ params.staff_rule }}",
        s3_bucket="{{ params.s3_bucket or '' }}",
        s3_prefix="{{ params.s3_prefix or '' }}",
        execution_timeout=KPI_EXECUTION_TIMEOUT,
        max_active_tis_per_dagrun=2,
        map_index_template="{{ task.config_path.rsplit('/', 1)[-1] }}",
    ).expand(config_path=configs.output)

    KpiCheckOperator(task_id="check_course_kpis", summaries=computed.output)

    report_and_check(
        report_course_kpis, check_course_kpis, computed.output, configs.output, outlets=[COURSE_KPIS]
    )


course_kpis()
