r"""The data checks of the MongoDB DAGs, built from the summaries of the tasks they follow.

Plain functions: each takes what a load or computation reported (its XCom) and returns the
:class:`~analytics.operators.mongo_checks.MongoCheck`\ s that must hold for that run's data only
(its files, months, courses and ranges), so other periods never make them fail. The operators
of :mod:`analytics.operators.data_checks` call them and run the checks; they are tested without
Airflow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from analytics.operators.mongo_checks import MongoCheck


def duplicates_check(name: str, collection: str, scope: Mapping[str, Any], keys: Sequence[str]) -> MongoCheck:
    """No two documents of ``scope`` share ``keys`` (e.g. a period and its institution and form)."""
    return MongoCheck(
        name=name,
        collection=collection,
        pipeline=[
            {"$match": dict(scope)},
            # One string key: nx-27017 groups a compound _id ({"a": "$a", ...}) as a constant.
            {"$project": {"key": {"$concat": _joined([{"$toString": f"${key}"} for key in keys])}}},
            {"$group": {"_id": "$key", "documents": {"$sum": 1}}},
            {"$match": {"documents": {"$gt": 1}}},
            {"$count": "value"},
        ],
        equal_to=0,
        description=f"key groups ({', '.join(keys)}) held by more than one document",
    )


def _joined(parts: list[Any]) -> list[Any]:
    """``parts`` with ``"|"`` between them, for ``$concat``."""
    joined: list[Any] = []
    for part in parts:
        joined += ["|", part] if joined else [part]
    return joined


# ---------------------------------------------------------------- tracking_logs_master_load


def master_load_checks(loads: Iterable[Mapping[str, Any]]) -> list[MongoCheck]:
    """The files this run loaded completely: recorded complete, read = loaded + rejected, and the
    master holds one event per line kept (lines read less lines discarded)."""
    from analytics.edx.tracking_load import IMPORTED_COLLECTION, MASTER_COLLECTION

    complete = [load for load in loads if load.get("status") == "complete"]
    names = [load["name"] for load in complete]
    if not names:
        return []
    checks = [
        MongoCheck(
            name="import records complete",
            collection=IMPORTED_COLLECTION,
            filter={"_id": {"$in": names}, "status": "complete"},
            equal_to=len(names),
        ),
        MongoCheck(
            name="read = loaded + rejected",
            collection=IMPORTED_COLLECTION,
            pipeline=[
                {"$match": {"_id": {"$in": names}}},
                {
                    "$project": {
                        "unbalanced": {
                            "$ne": ["$read", {"$add": ["$loaded", "$already_loaded", "$discarded"]}]
                        }
                    }
                },
                {"$match": {"unbalanced": True}},
                {"$count": "value"},
            ],
            equal_to=0,
            description="import records whose lines read differ from loaded + already loaded + discarded",
        ),
    ]
    for load in complete:
        name = load["name"]
        checks.append(
            MongoCheck(
                name=f"events of {name} = lines read - discarded",
                collection=MASTER_COLLECTION,
                # _id is "<file>:<line>": a range on the primary key, no scan (';' follows ':').
                filter={"_id": {"$gte": f"{name}:", "$lt": f"{name};"}},
                equal_to=load["read"] - load["discarded"],
            )
        )
    return checks


# ---------------------------------------------------------------- bi_monthly_aggregation


def bi_checks(summaries: Iterable[Mapping[str, Any]]) -> list[MongoCheck]:
    """Each collection and period this run wrote completely: as many documents as rows grouped in
    PostgreSQL, and no two documents for one period and key (a duplicate period)."""
    from analytics.bi.documents import AS_OF_MONTH, COLLECTIONS

    rows: dict[tuple[str, str], int] = defaultdict(int)
    for summary in summaries:
        if summary.get("state") == "complete":
            rows[summary["collection"], summary["period"]] += summary.get("rows", 0)
    checks = []
    for (name, period), expected in sorted(rows.items()):
        spec = COLLECTIONS[name]
        if spec.is_snapshot:  # "as of 2024-03"
            scope = {AS_OF_MONTH: period.removeprefix("as of ")}
            keys: Sequence[str] = spec.key_fields
        else:
            scope = {spec.period_field: period}
            keys = (spec.period_field, *spec.key_fields)
        checks.append(
            MongoCheck(f"{period}: documents = rows from PostgreSQL", name, filter=scope, equal_to=expected)
        )
        checks.append(duplicates_check(f"{period}: no duplicate {', '.join(keys)}", name, scope, keys))
    return checks


def superseded_snapshots(database: Any, checks: Sequence[MongoCheck]) -> list[MongoCheck]:
    """The snapshot checks whose month a later run has replaced (a snapshot collection keeps its latest month only).

    In a backfill, March's run may replace February's snapshot before February's check reads it,
    also with a snapshot of no document (the engine records each snapshot's month).
    """
    from analytics.bi.documents import AS_OF_MONTH
    from analytics.bi.engine import later_snapshot_month

    superseded = []
    for check in checks:
        month = (check.filter or {}).get(AS_OF_MONTH)
        if month is not None and later_snapshot_month(database[check.collection], month):
            superseded.append(check)
    return superseded


def scoped_collection_checks(
    label: str,
    collection: str,
    scope: Mapping[str, Any],
    *,
    documents: int | None = None,
    required: Sequence[str] = (),
    unique: Sequence[Sequence[str]] = (),
) -> list[MongoCheck]:
    """The checks of one collection's ``scope``: as many ``documents`` as the summary says, no
    document without one of the ``required`` keys (missing or null), no duplicate of each
    ``unique`` key group. ``label`` (the course, its range) starts each check's name.

    ``{key: {"$in": [None]}}``, not ``{key: None}``: the local server's ``count_documents`` matches a
    missing key with the latter but not a null one (``find`` does both; MongoDB counts both).
    """
    checks = []
    if documents is not None:
        checks.append(
            MongoCheck(f"{label}: documents = summary's count", collection, filter=scope, equal_to=documents)
        )
    for key in required:
        if key not in scope:  # a scope on the key already leaves out the documents without it
            checks.append(
                MongoCheck(
                    f"{label}: no null {key}", collection, filter={**scope, key: {"$in": [None]}}, equal_to=0
                )
            )
    for keys in unique:
        checks.append(duplicates_check(f"{label}: no duplicate {', '.join(keys)}", collection, scope, keys))
    return checks


# ---------------------------------------------------------------- edx_course_ingestion

# Per course collection: the keys every document has (documented by the tables' schemas and the
# engine's indexes) and the key groups no two documents share (edX's primary and unique keys).
INGESTION_KEYS: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "user": (("id", "username"), (("id",), ("username",))),
    "userprofile": (("user_id",), (("user_id",),)),
    "certificates": (("user_id", "course_id"), (("user_id", "course_id"),)),
    "courseware_studentmodule": (("student_id", "module_id"), (("student_id", "module_id"),)),
    "enrollment": (("user_id", "course_id"), (("user_id", "course_id"),)),
    "user_id_map": (("hash_id",), (("hash_id",),)),
    "forum": (("author_id",), ()),
    "course_structure": (("block_id", "category"), (("block_id",),)),
}


def ingestion_checks(summary: Mapping[str, Any]) -> list[MongoCheck]:
    """One ingested course (an ``ingest_course`` summary): its status is this run's, every file's
    records read = loaded + rejected, and each collection it loaded holds as many documents as the
    summary says, none without its keys, no two sharing a key. Collections kept as they were
    (``kept``: a file rejected whole, or no file) are not this run's and not checked."""
    from analytics.edx.ingestion import STATUS_COLLECTION, STATUS_ID

    course = summary["course_id"]
    status = {"_id": STATUS_ID, "run": summary["run"]}
    checks = [
        MongoCheck(
            f"{course}: status of this run, {summary['state']}",
            STATUS_COLLECTION,
            filter={**status, "state": summary["state"]},
            equal_to=1,
        ),
        MongoCheck(
            f"{course}: read = loaded + rejected",
            STATUS_COLLECTION,
            pipeline=[
                {"$match": status},
                {"$unwind": "$files"},
                {
                    "$project": {
                        "unbalanced": {"$ne": ["$files.read", {"$add": ["$files.loaded", "$files.rejected"]}]}
                    }
                },
                {"$match": {"unbalanced": True}},
                {"$count": "value"},
            ],
            equal_to=0,
            description="files whose records read differ from loaded + rejected",
        ),
    ]
    for collection, loaded in sorted(summary["loaded"].items()):
        required, unique = INGESTION_KEYS.get(collection, ((), ()))
        checks += scoped_collection_checks(
            course, collection, {}, documents=loaded, required=required, unique=unique
        )
    return checks


# ---------------------------------------------------------------- course_tracking_extraction


def extraction_checks(summary: Mapping[str, Any]) -> list[MongoCheck]:
    """One extracted course (an ``extract_course`` summary): its status is complete, and the events
    of the run's scope in ``<course db>.tracking`` (its course id forms, its window, loaded since
    the run's mark: what it selected) are as many as it selected and as it wrote (selected =
    written: the extraction rejects none), no two from one master line (``load_file``,
    ``load_line``: what the master ``_id`` it writes under is made of)."""
    from datetime import datetime

    from analytics.edx.extraction import STATUS_COLLECTION, STATUS_ID, TRACKING_COLLECTION

    if summary.get("state") != "complete":
        return []
    start, end = (datetime.fromisoformat(bound) for bound in summary["window"])
    scope: dict[str, Any] = {
        "course_id": {"$in": list(summary["course_id_forms"])},
        "time": {"$gte": start, "$lt": end},
    }
    if summary.get("since"):
        scope["loaded_at"] = {"$gte": datetime.fromisoformat(summary["since"])}
    course = summary["edx_id"]
    return [
        MongoCheck(
            f"{course}: extraction complete",
            STATUS_COLLECTION,
            filter={"_id": STATUS_ID, "state": "complete"},
            equal_to=1,
        ),
        MongoCheck(
            f"{course}: events selected = written",
            TRACKING_COLLECTION,
            filter=scope,
            equal_to=summary["selected"],
            description=f"{summary['mode']}: the events of the run's scope",
        ),
        *scoped_collection_checks(course, TRACKING_COLLECTION, scope, documents=summary["written"]),
        # Over the course's events, not the run's mark and window: the local server's aggregation
        # compares datetimes wrongly ($lt matches nothing), and the extraction de-duplicates (writes by
        # the master _id) over the whole collection anyway.
        duplicates_check(
            f"{course}: no duplicate load_file, load_line",
            TRACKING_COLLECTION,
            {"course_id": scope["course_id"]},
            ("load_file", "load_line"),
        ),
    ]


# ---------------------------------------------------------------- course_kpis

# Per KPI collection: the keys each document has and the key group that is its period (or row).
KPI_KEYS: dict[str, tuple[str, ...]] = {
    "time_on_task": ("username", "day"),
    "weekly_activity": ("interval_start", "label"),
    "videos": ("video_id",),
    "video_segments": ("video_id", "segment"),
    "learners": ("username",),
}


def kpi_checks(summary: Mapping[str, Any]) -> list[MongoCheck]:
    """One course and range (a ``compute_course`` summary): its ``kpi_status`` is complete, and each
    KPI collection holds, in the range's scope (its days, its ISO weeks, the documents keyed by
    course and range), the rows the summary counts, none without its keys, no duplicate period
    (a learner's day, a week's label, a video's segment, a learner)."""
    from datetime import date

    from analytics.edx.kpi_collections import STATUS_COLLECTION, scopes, status_id
    from analytics.edx.kpi_settings import KpiRange

    if summary.get("state") != "complete":
        return []
    kpi_range = KpiRange(date.fromisoformat(summary["from_date"]), date.fromisoformat(summary["to_date"]))
    label = f"{summary['edx_id']} {kpi_range.from_date} .. {kpi_range.to_date}"
    checks = [
        MongoCheck(
            f"{label}: kpi_status complete",
            STATUS_COLLECTION,
            filter={"_id": status_id(summary["edx_id"], kpi_range), "state": "complete"},
            equal_to=1,
        )
    ]
    for collection, scope in scopes(summary["edx_id"], kpi_range).items():
        keys = KPI_KEYS[collection]
        checks += scoped_collection_checks(
            label, collection, scope, documents=summary["rows"][collection], required=keys, unique=[keys]
        )
    return checks
