"""
# edX course ingestion

## What it does

Turns an edX research data package into **one MongoDB database per course**.

`discover_courses` lists the courses in `package_dir` (files that fit none of
the package's name forms are logged as ignored; when a table comes from several sites, the `prod`
file is kept and the others are logged as ignored; a name whose org may hold a hyphen takes its
course id from the file's contents). `ingest_course` runs once per course (dynamic task mapping;
the map index shows the course) and replaces that course's collections: `user`, `userprofile`,
`certificates`, `courseware_studentmodule`, `enrollment`, `user_id_map`, `forum` and
`course_structure`, logging its progress (records, rate, ETA) every few seconds. Tables edX ships
that we do not use are skipped and listed. `report` runs when every course is done, failed or
not: one line per course, collection and file; it fails if a course was not ingested or is
partial; when it succeeds it updates the `edx_course_databases` asset.
`check_ingested_courses` runs beside it once every course is ingested: for each course it
checks that the status is this run's, that every file's records read = loaded + rejected, and that
each collection it loaded holds the documents the summary counts, none without its keys (e.g.
`user_id` in `enrollment`), no two sharing a key (a learner enrolled twice).

**Never wipes good data.** Each file is read to the end (every record counted) before it touches
its collection; only then are its documents written over the old ones and the old ones that it
no longer holds removed, so readers always see at least what they had. A file **rejected whole**
(0 bytes, unreadable or blank header, duplicate columns, unreadable course structure, or more
than `rejection_threshold` of its records rejected) keeps the collection's previous contents, as
does a collection the package has no file for. Either makes the course **partial**.

**Idempotent.** Every document has a deterministic `_id` (the table's key, the forum's `$oid`,
the block key) and a rerun writes the same documents; `_ingestion_run` names the run that wrote
each one.

**Credentials are never stored.** `auth_user.password`, and any column whose name says password,
secret, token or key (`CREDENTIAL_COLUMN_WORDS` in `analytics/edx/tables.py`), is dropped while
reading; the status counts what was dropped.

## Params

`package_dir`: the folder of the package; empty means the `edx_package_dir` Variable (the demo
package on the local stack). `rejection_threshold`: the share of a file's records (0.05 = 5 %) above
which the file is rejected whole; empty means `include/config/edx_ingestion.json` (0.05).

## When it fails

A failure means a course's data in MongoDB was not (or only partly) refreshed from the package; the
previous data stays readable. What to do:

Rows that cannot be loaded do not fail the task: each one is stored with file, line, field, reason
and an excerpt in the course database's `ingestion_errors` (a row whose `_id` is already loaded is a
`duplicate id`), and the first ones are in the task log. Each course database's `ingestion_status`
(`_id` "latest") says `running`, `complete`, `partial` (which collections were kept, and why, are in
`kept` and `files`) or `failed`. A **partial** course fails its `ingest_course` task without
retries, after its other files are loaded: fix or replace the file named in the log (or raise
`rejection_threshold` for that run if the rejections are acceptable), then clear the task. Other
failures: the package folder is missing, no course was found, two courses would share a database, or
MongoDB (`mongo_default`) is unreachable: fix that and clear the failed `ingest_course` tasks, then
`report`.

`check_ingested_courses` failing (its log names the database, collection, check, expected and
found) means the data written does not match what the ingestion counted: a document missing or
extra, a key missing, a duplicate key. The load is not undone and `report` still runs; look at the
collection named, fix the package file or the documents, ingest the course again, then clear the
check.

## Owner

data-engineering.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow.sdk import Param, TriggerRule, dag, task

from analytics.assets import EDX_COURSE_DATABASES
from analytics.dag_defaults import default_args, optional_text
from analytics.operators.data_checks import IngestionCheckOperator
from analytics.operators.edx import (
    INGEST_EXECUTION_TIMEOUT,
    DiscoverEdxCoursesOperator,
    IngestEdxCourseOperator,
    summarize_ingestion,
)
from analytics.pools import MONGODB_WRITES

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
        "package_dir": optional_text(
            title="Package folder",
            description="Folder of the edX research data package; empty: the `edx_package_dir` Variable.",
        ),
        "rejection_threshold": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            title="Rejection threshold",
            description=(
                "Share of a file's records (0.05 = 5 %) above which the file is rejected whole and its "
                "collection kept as it was; empty: include/config/edx_ingestion.json."
            ),
        ),
    },
)
def edx_course_ingestion():
    courses = DiscoverEdxCoursesOperator(task_id="discover_courses", package_dir=PACKAGE_DIR)
    ingest = IngestEdxCourseOperator.partial(
        pool=MONGODB_WRITES,
        task_id="ingest_course",
        package_dir=PACKAGE_DIR,
        rejection_threshold="{{ params.rejection_threshold }}",
        execution_timeout=INGEST_EXECUTION_TIMEOUT,
        map_index_template="{{ task.course_key }}",
    ).expand(course_key=courses.output)

    IngestionCheckOperator(task_id="check_ingested_courses", summaries=ingest.output)

    @task(trigger_rule=TriggerRule.ALL_DONE, outlets=[EDX_COURSE_DATABASES])
    def report(summaries: Sequence[dict], course_keys: list[str]) -> dict:
        """One line per course, collection and file; the totals as XCom; fails if a course is missing."""
        # A slice fetches every mapped summary in one request; iterating would also ask for the
        # item after the last and log a spurious "XCom not found" error.
        return summarize_ingestion(summaries[:], course_keys)

    report(ingest.output, courses.output)


edx_course_ingestion()
