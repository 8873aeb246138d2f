"""
# edX course ingestion

Turns an edX research data package into **one MongoDB database per course**.

**What it does.** `discover_courses` lists the courses in `package_dir` (files that fit none of
the package's name forms are logged as ignored; when a table comes from several sites, the `prod`
file is kept and the others are logged as ignored). `ingest_course` runs once per course (dynamic
task mapping; the map index shows the course) and replaces that course's collections: `user`,
`userprofile`, `certificates`, `courseware_studentmodule`, `enrollment`, `user_id_map`, `forum`
and `course_structure`, logging its progress every 50,000 records of a file. Tables edX ships
that we do not use are skipped and listed as skipped. `report` runs when every course is done,
failed or not: it prints one line per course, collection and file, then fails if a course was
not ingested; when it succeeds it updates the `edx_course_databases` asset.

**Params.** `package_dir`: the folder of the package; empty means the `edx_package_dir`
Variable (the demo package on the local stack).

**Idempotent.** Each run replaces the course's collections, and every document has a
deterministic `_id` (the table's key, the forum's `$oid`, the block key), so a rerun leaves the
same data.

**When it fails.** Rows that cannot be loaded do not fail the task: each one is stored with
file, line, field and reason in the course database's `ingestion_errors` collection (a row whose
`_id` is already loaded is a `duplicate id`), and the first ones are in the task log. Each course
database's `ingestion_status` document (`_id` "latest") says `running`, `complete` or `failed`:
anything but `complete` means the database is half-ingested. A failed task means the package
folder is missing, no course was found, two courses would share a database, or MongoDB
(`mongo_default`) is unreachable: fix that and clear the failed `ingest_course` tasks, then `report`.

**Owner.** data-engineering.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow.sdk import Param, TriggerRule, dag, task

from analytics.assets import EDX_COURSE_DATABASES
from analytics.dag_defaults import default_args
from analytics.operators.edx import DiscoverEdxCoursesOperator, IngestEdxCourseOperator, summarize_ingestion

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
    ).expand(course_key=courses.output)

    @task(trigger_rule=TriggerRule.ALL_DONE, outlets=[EDX_COURSE_DATABASES])
    def report(summaries: Sequence[dict], course_keys: list[str]) -> dict:
        """One line per course, collection and file; the totals as XCom; fails if a course is missing."""
        # A slice fetches every mapped summary in one request; iterating would also ask for the
        # item after the last and log a spurious "XCom not found" error.
        return summarize_ingestion(summaries[:], course_keys)

    report(ingest.output, courses.output)


edx_course_ingestion()
