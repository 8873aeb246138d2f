"""
# Course tracking extraction

## What it does

Copies each course's events from the master collection `tracking_logs.tracking` into its course
database (`<course db>.tracking`, the database `edx_course_ingestion` writes), each event enriched
with the block it is about. Scheduled on the Asset `tracking_logs_master` (a master load that loaded
files), and by hand; publishes the Asset `edx_course_tracking`.

**Courses.** One JSON config per course in `course_config_dir` (empty: the
`edx_course_config_dir` Variable, else `include/config/courses/`): `edx_id`, `edx_course_name`,
`course_ids`, `date_of_course_enrollment`, `date_of_course_completion` (`YYYY-MM-DD`). The
course database is named after the first course id. `courses` (a list of `edx_id`s; empty: all)
restricts a run. An invalid config (a missing field, a bad date, an end before the start, empty
`course_ids`, the template's placeholders) fails its own mapped task with a message naming the
file and the field; the other courses go on.

**Selection.** Events whose `course_id` is one of the config's ids (in both the `course-v1:`
and `ORG/COURSE/RUN` forms) and whose `time` is in [enrollment day 00:00 UTC, completion day
+ 1 day): the completion day is included whole. **Incremental**: only events loaded
(`loaded_at`) since the course's last successful extraction, minus one hour of overlap (a batch
stamped just before the mark but written after it is not missed). `full_refresh` (default
false) takes every selected event again and removes those no longer selected, once the new set
is written; a changed config (ids or dates) does so by itself.

**Enrichment.** Each event that points at a course block (a usage key in `context.module`,
`event.problem_id`, `event.id`, `event.module_id`, an xblock handler or `jump_to` URL, a
courseware URL, `activate_block_id`) gets `block` (id, block_id, category, display name) and
`parent_data` (chapter, sequential, vertical) from the course's `course_structure`. Events that
point at no block are kept unchanged and counted.

**Writes** are upserts on the master `_id`: reruns never duplicate. Each course's status is in
`<course db>.tracking_extraction` (state, mark, counts).

**Tasks.** `list_courses`; `extract_course` (one mapped task per config, named after it);
`report` (runs whatever happened: one line per course, the totals; updates the asset; skipped
when no course was extracted); `check` (fails the run when a course was not extracted).
`check_extracted_courses` (after `extract_course`): per course, the extraction is complete, the
events of the run's scope in `<course db>.tracking` (its course ids, window and mark) are as many as
it selected and as it wrote (selected = written), and no two events come from one master line
(`load_file`, `load_line`).

## Params

- `course_config_dir`: the folder of the course configs; empty: the `edx_course_config_dir`
  Variable, else `include/config/courses/`.
- `courses`: the `edx_id`s of the courses to extract; empty: all.
- `full_refresh` (default false): take every selected event again and remove those no longer
  selected, not only the events loaded since the last extraction.

## When it fails

A failure means a course's tracking collection lacks the newest events (and its KPIs wait) until the
task is cleared; the other courses are extracted. What to do:

An invalid config: fix the file named in the error, clear the task. A failed extraction keeps the
previous mark; clearing the task extracts the same events again.

`check_extracted_courses` failing (its log names the course database, check, expected and found)
means the course's tracking collection does not hold what the extraction wrote: events missing or
extra, or an event twice. The extraction is not undone and `report` still runs; rerun the course
with `full_refresh` (it rewrites the course's events), then clear the check.

## Owner

data-engineering (edX analytics).
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from analytics.assets import COURSE_TRACKING, TRACKING_MASTER
from analytics.dag_defaults import default_args, report_and_check
from analytics.operators.data_checks import ExtractionCheckOperator
from analytics.operators.extraction import (
    COURSE_CONFIG_DIR_TEMPLATE,
    ExtractCourseTrackingOperator,
    ListCourseConfigsOperator,
    check_extraction,
    course_selection_params,
    report_extraction,
)
from analytics.operators.tracking import LOAD_EXECUTION_TIMEOUT
from analytics.pools import MONGODB_WRITES


@dag(
    dag_id="course_tracking_extraction",
    is_paused_upon_creation=False,  # started by an upstream DAG or Asset: see the README's deployment section
    schedule=[TRACKING_MASTER],
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=default_args(),
    tags=["edx", "transformation", "mongodb"],
    params={
        **course_selection_params("extract"),
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Take every selected event again (and remove those no longer selected), not only the new ones.",
        ),
    },
)
def course_tracking_extraction():
    configs = ListCourseConfigsOperator(
        task_id="list_courses",
        course_config_dir=COURSE_CONFIG_DIR_TEMPLATE,
        courses="{{ params.courses }}",
    )
    extractions = ExtractCourseTrackingOperator.partial(
        pool=MONGODB_WRITES,
        task_id="extract_course",
        full_refresh="{{ params.full_refresh }}",
        execution_timeout=LOAD_EXECUTION_TIMEOUT,
        max_active_tis_per_dagrun=2,
        map_index_template="{{ task.config_path.rsplit('/', 1)[-1] }}",
    ).expand(config_path=configs.output)

    ExtractionCheckOperator(task_id="check_extracted_courses", summaries=extractions.output)

    report_and_check(
        report_extraction, check_extraction, extractions.output, configs.output, outlets=[COURSE_TRACKING]
    )


course_tracking_extraction()
