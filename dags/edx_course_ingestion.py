"""
# edX course ingestion

Turns an edX research data package into **one MongoDB database per course**.

**What it does.** `discover_courses` lists the courses in `package_dir` (files that fit none of
the package's name forms are logged as ignored). `ingest_course` runs once per course (dynamic
task mapping; the map index shows the course) and replaces that course's collections: `user`,
`userprofile`, `certificates`, `courseware_studentmodule`, `enrollment`, `user_id_map`, `forum`
and `course_structure`. Tables edX ships that we do not use are skipped and listed as skipped.
`report` prints one line per course and collection.

**Params.** `package_dir`: the folder of the package; empty means the `edx_package_dir`
Variable (the demo package on the local stack).

**Idempotent.** Each run replaces the course's collections, so a rerun leaves the same data.

**When it fails.** Rows that cannot be loaded do not fail the task: each one is stored with
file, line, field and reason in the course database's `ingestion_errors` collection, and the
first ones are in the task log. A failed task means the package folder is missing, no course
was found, or MongoDB (`mongo_default`) is unreachable: fix that and clear the task.

**Owner.** data-engineering.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from analytics.assets import EDX_COURSE_DATABASES
from analytics.dag_defaults import default_args
from analytics.operators.edx import DiscoverEdxCoursesOperator, IngestEdxCourseOperator

PACKAGE_DIR = "{{ params.package_dir or var.value.get('edx_package_dir', '') }}"


@dag(
    dag_id="edx_course_ingestion",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(),
    tags=["edx", "ingestion", "mongodb", "manual"],
    max_active_runs=1,
    params={
        "package_dir": Param(
            "",
            type="string",
            title="Package folder",
            description="Folder of the edX research data package; empty: the `edx_package_dir` Variable.",
        ),
    },
)
def edx_course_ingestion():
    courses = DiscoverEdxCoursesOperator(task_id="discover_courses", package_dir=PACKAGE_DIR)
    ingest = IngestEdxCourseOperator.partial(
        task_id="ingest_course",
        package_dir=PACKAGE_DIR,
        map_index_template="{{ task.course_key }}",
        outlets=[EDX_COURSE_DATABASES],
    ).expand(course_key=courses.output)

    @task
    def report(summaries: list[dict]) -> dict:
        """One line per course and collection; the totals as XCom."""
        from analytics.operators.edx import summarize_ingestion

        return summarize_ingestion([summaries[index] for index in range(len(summaries))])

    report(ingest.output)


edx_course_ingestion()
