"""Where the course KPIs live: the collections of a course database, their keys, indexes and scopes.

The engine (:mod:`analytics.edx.course_kpis`) writes them, the run (:mod:`analytics.edx.kpi_run`)
reads them back for the report, and the DAG's checks and the demo read them; this module is what
they share. A *scope* is the filter of the documents one course and range own: ``time_on_task``
the range's days, ``weekly_activity`` its whole ISO weeks, the other three the documents keyed by
course and range (``edx_id``, ``from_date``, ``to_date``).
"""

from __future__ import annotations

from typing import Any

from analytics.edx.extraction import TRACKING_COLLECTION
from analytics.edx.kpi_settings import KpiRange
from analytics.edx.tables import TABLE_COLLECTIONS
from analytics.stores.mongo import RUN_FIELD

TIME_ON_TASK, WEEKLY_ACTIVITY, VIDEOS, VIDEO_SEGMENTS, LEARNERS = (
    "time_on_task",
    "weekly_activity",
    "videos",
    "video_segments",
    "learners",
)
KPI_COLLECTIONS = (TIME_ON_TASK, WEEKLY_ACTIVITY, VIDEOS, VIDEO_SEGMENTS, LEARNERS)
RANGE_COLLECTIONS = (VIDEOS, VIDEO_SEGMENTS, LEARNERS)  # keyed by (course, range)
STATUS_COLLECTION = "kpi_status"
READ_SORT = [("username", 1), ("time", 1), ("_id", 1)]
# The index the read needs. Not (username, time, _id): the local server then refuses every insert into
# the collection (README, compatibility notes); within one (username, time) the _id order is a small sort.
READ_INDEX = [("username", 1), ("time", 1)]
RANGE_INDEX = [("edx_id", 1), ("from_date", 1), ("to_date", 1)]
INDEXES: dict[str, list[str | list[tuple[str, int]]]] = {
    TIME_ON_TASK: ["day", "username"],
    WEEKLY_ACTIVITY: ["interval_start"],
    VIDEOS: [RANGE_INDEX],
    VIDEO_SEGMENTS: [RANGE_INDEX],
    LEARNERS: [RANGE_INDEX, "username"],
}
USER, USERPROFILE, CERTIFICATES, ENROLLMENT = (
    TABLE_COLLECTIONS["auth_user"],
    TABLE_COLLECTIONS["auth_userprofile"],
    TABLE_COLLECTIONS["certificates_generatedcertificate"],
    TABLE_COLLECTIONS["student_courseenrollment"],
)


def ensure_indexes(database: Any) -> None:
    """The indexes the engine's read, its scoped replacements and its joins with the tables need."""
    database[TRACKING_COLLECTION].create_index(READ_INDEX)
    for name, indexes in INDEXES.items():
        for keys in (*indexes, RUN_FIELD):
            database[name].create_index(keys)
    for name in (USER,):
        database[name].create_index("username")
    for name in (ENROLLMENT, CERTIFICATES, USERPROFILE):
        database[name].create_index("user_id")


def scopes(edx_id: str, kpi_range: KpiRange) -> dict[str, dict[str, Any]]:
    """Per collection, the filter of the documents one course and range own (what a run replaces)."""
    days = {"$gte": kpi_range.from_date.isoformat(), "$lte": kpi_range.to_date.isoformat()}
    weeks = {"$gte": kpi_range.first_week.isoformat(), "$lte": kpi_range.last_week.isoformat()}
    in_range = {
        "edx_id": edx_id,
        "from_date": kpi_range.from_date.isoformat(),
        "to_date": kpi_range.to_date.isoformat(),
    }
    return {
        TIME_ON_TASK: {"day": days},
        WEEKLY_ACTIVITY: {"interval_start": weeks},
        **{name: dict(in_range) for name in RANGE_COLLECTIONS},
    }


def range_fields(edx_id: str, kpi_range: KpiRange) -> dict[str, Any]:
    """The fields that key a range collection's documents to their course and range."""
    return {
        "edx_id": edx_id,
        "from_date": kpi_range.from_date.isoformat(),
        "to_date": kpi_range.to_date.isoformat(),
    }


def read_kpi_rows(database: Any, edx_id: str, kpi_range: KpiRange) -> dict[str, list[dict[str, Any]]]:
    """The documents of one course and range, per collection, as the kpis modules' rows (no ``_id``, no stamp)."""
    selected = scopes(edx_id, kpi_range)
    order = {
        TIME_ON_TASK: ("username", "day"),
        WEEKLY_ACTIVITY: ("interval_start", "label"),
        VIDEOS: ("video_id",),
        VIDEO_SEGMENTS: ("video_id", "segment"),
        LEARNERS: ("username",),
    }
    rows = {}
    for name in KPI_COLLECTIONS:
        found = database[name].find(selected[name], {"_id": 0, RUN_FIELD: 0})
        rows[name] = sorted(found, key=lambda row, keys=order[name]: tuple(row.get(key) for key in keys))
    return rows


def status_id(edx_id: str, kpi_range: KpiRange) -> str:
    """``<edx_id>|<from>|<to>``. Never an id that starts with a date: the local server's ``find`` by such an
    ``_id`` finds nothing, and an upsert over it then fails (README, compatibility notes)."""
    return f"{edx_id}|{kpi_range.key}"


def read_status(database: Any, edx_id: str, kpi_range: KpiRange) -> dict[str, Any] | None:
    """The status document of one course and range, or None."""
    return database[STATUS_COLLECTION].find_one({"_id": status_id(edx_id, kpi_range)})
