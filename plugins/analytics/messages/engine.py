"""The message export's engine: one app over one range into its files, exactly, on S3 and a local directory.

Every count is a MongoDB aggregation (``$match`` on the indexed (``project``, ``timestamp``) or
(``appId``, ``creationTs``), then ``$group``); distinct users are grouped on ``userId`` and
counted, so they are exact. ``new_users`` checks the range's distinct users in batches for a
message before the range's start (index (``project``, ``userId``, ``timestamp``)). The dumps are
one cursor each, sorted on (time, ``_id``), streamed line by line into the file: every document
once, memory bounded. Each file is written to a hidden ``.partial`` name and renamed when complete,
then uploaded (an S3 PUT is atomic); a rerun writes identical bytes.

Local server note (nx-27017): an aggregation's ``$match`` with several top-level conditions is
mis-evaluated (a range beside ``project`` matched nothing before a ``$group``), so every filter
here is one ``$and`` of its conditions (:func:`all_of`), which MongoDB reads the same way.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from analytics.core.files import write_atomically
from analytics.messages.config import MessagesConfig
from analytics.messages.formats import PERSONAL_TABLES, TABLES, table_format
from analytics.messages.metrics import (
    ANSWER_LABEL,
    CONTENT_TYPE_METRICS,
    MESSAGE_TYPE_METRICS,
    TRANSACTION_METRICS,
)
from analytics.messages.ranges import TimeRange
from analytics.messages.tables import (
    analytics_table,
    id_email_table,
    json_line,
    questions_table,
    table_bytes,
    users_table,
)

log = logging.getLogger(__name__)

INDEXES = {
    "messages": [[("project", 1), ("timestamp", 1)], [("project", 1), ("userId", 1), ("timestamp", 1)]],
    "tasks": [[("appId", 1), ("creationTs", 1)]],
    "users": [[("apps", 1)]],
}


@dataclass
class ExportResult:
    """What one app's export wrote: its range, counts, files (name: bytes) and where they went."""

    app_id: str
    start: str
    end: str
    counts: dict[str, int]
    files: dict[str, int] = field(default_factory=dict)
    s3_prefix: str = ""
    local_dir: str = ""

    def as_summary(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def log_line(self) -> str:
        files = ", ".join(f"{name} {size} B" for name, size in self.files.items())
        return f"{self.app_id} {self.start} .. {self.end}: {self.counts.get('total_messages', 0)} messages; {files}"


def all_of(*conditions: dict) -> dict:
    """One ``$and`` of the conditions (see the module's note on the local server)."""
    return {"$and": list(conditions)}


def message_filter(app_id: str, time_range: TimeRange, *more: dict) -> dict:
    start, end = time_range.utc_bounds()
    return all_of({"project": app_id}, {"timestamp": {"$gte": start, "$lt": end}}, *more)


def task_filter(app_id: str, time_range: TimeRange) -> dict:
    start, end = time_range.utc_bounds()
    return all_of({"appId": app_id}, {"creationTs": {"$gte": start, "$lt": end}})


def ensure_indexes(database: Any) -> None:
    """The indexes the export's queries use (creating an existing one is a no-op)."""
    for collection, indexes in INDEXES.items():
        for keys in indexes:
            database[collection].create_index(keys)


# ---------------------------------------------------------------- counts


def grouped_counts(collection: Any, match: dict, key: str) -> dict[Any, int]:
    """``{value of key: documents}`` over the documents ``match`` selects."""
    pipeline = [{"$match": match}, {"$group": {"_id": f"${key}", "count": {"$sum": 1}}}]
    return {row["_id"]: int(row["count"]) for row in collection.aggregate(pipeline)}


def distinct_values(collection: Any, match: dict, key: str) -> list[Any]:
    """The distinct values of ``key`` (exact: a ``$group`` on it), sorted."""
    pipeline = [{"$match": match}, {"$group": {"_id": f"${key}"}}]
    return sorted(row["_id"] for row in collection.aggregate(pipeline) if row["_id"] is not None)


def new_users(
    database: Any, app_id: str, time_range: TimeRange, users: Sequence[str], batch_size: int
) -> int:
    """How many of ``users`` (the range's) have no message of the app before the range's start."""
    start, _ = time_range.utc_bounds()
    seen_before: set[str] = set()
    for offset in range(0, len(users), batch_size):
        batch = list(users[offset : offset + batch_size])
        match = all_of({"project": app_id}, {"userId": {"$in": batch}}, {"timestamp": {"$lt": start}})
        seen_before.update(distinct_values(database.messages, match, "userId"))
    return len(set(users) - seen_before)


def message_counts(database: Any, app_id: str, time_range: TimeRange, batch_size: int) -> dict[str, int]:
    """The message metrics of the app over the range."""
    messages = database.messages
    by_type = grouped_counts(messages, message_filter(app_id, time_range), "type")
    requests = {"type": "request"}
    by_content = grouped_counts(messages, message_filter(app_id, time_range, requests), "content.type")
    users = distinct_values(messages, message_filter(app_id, time_range), "userId")
    counts = {
        "total_users": len(users),
        "active_users": len(
            distinct_values(messages, message_filter(app_id, time_range, requests), "userId")
        ),
        "engaged_users": len(
            distinct_values(messages, message_filter(app_id, time_range, {"type": "notification"}), "userId")
        ),
        "new_users": new_users(database, app_id, time_range, users, batch_size),
        "total_messages": sum(by_type.values()),
    }
    counts.update({metric: by_type.get(kind, 0) for kind, metric in MESSAGE_TYPE_METRICS.items()})
    counts.update({metric: by_content.get(kind, 0) for kind, metric in CONTENT_TYPE_METRICS.items()})
    return counts


def transactions_in_range(app_id: str, time_range: TimeRange, *more: dict) -> list[dict]:
    """The pipeline stages that yield the app's transactions created in the range (one per document)."""
    start, end = time_range.utc_bounds()
    return [
        {"$match": {"appId": app_id}},
        {"$unwind": "$transactions"},
        {"$match": all_of({"transactions.creationTs": {"$gte": start, "$lt": end}}, *more)},
    ]


def task_counts(database: Any, app_id: str, time_range: TimeRange) -> dict[str, int]:
    """The question metrics: tasks created in the range, and transactions created in it by label."""
    pipeline = transactions_in_range(app_id, time_range)
    pipeline.append({"$group": {"_id": "$transactions.label", "count": {"$sum": 1}}})
    by_label = {row["_id"]: int(row["count"]) for row in database.tasks.aggregate(pipeline)}
    counts = {"questions": database.tasks.count_documents(task_filter(app_id, time_range))}
    counts.update({metric: by_label.get(label, 0) for label, metric in TRANSACTION_METRICS.items()})
    return counts


def compute_counts(
    database: Any, app_id: str, time_range: TimeRange, batch_size: int = 500
) -> dict[str, int]:
    """Every metric of the analytics table for one app and range."""
    return {
        **message_counts(database, app_id, time_range, batch_size),
        **task_counts(database, app_id, time_range),
    }


# ---------------------------------------------------------------- per-user figures


def request_activity(
    database: Any, app_id: str, time_range: TimeRange
) -> dict[str, tuple[datetime, datetime]]:
    """Each user's first and last request in the range (one sorted scan of the range's requests)."""
    activity: dict[str, tuple[datetime, datetime]] = {}
    cursor = database.messages.find(
        message_filter(app_id, time_range, {"type": "request"}), {"_id": 0, "userId": 1, "timestamp": 1}
    ).sort([("timestamp", 1), ("_id", 1)])
    for message in cursor:
        user, moment = message.get("userId"), message["timestamp"]
        first, _ = activity.get(user, (moment, moment))
        activity[user] = (first, moment)
    return activity


def user_figures(database: Any, app_id: str, time_range: TimeRange) -> tuple[dict[str, int], dict[str, int]]:
    """Questions asked (tasks created in the range) and answers given (answer transactions in it), by user."""
    questions = grouped_counts(database.tasks, task_filter(app_id, time_range), "requesterId")
    pipeline = transactions_in_range(app_id, time_range, {"transactions.label": ANSWER_LABEL})
    pipeline.append({"$group": {"_id": "$transactions.actioneerId", "count": {"$sum": 1}}})
    answers = {row["_id"]: int(row["count"]) for row in database.tasks.aggregate(pipeline)}
    return questions, answers


def app_users(database: Any, app_id: str) -> list[dict]:
    """The app's users (``apps`` holds the app id), without their MongoDB ``_id``.

    ``$in``, not equality: with an index on the array ``apps`` the local server matches nothing
    for ``{"apps": app_id}`` (MongoDB reads both the same).
    """
    return list(database.users.find({"apps": {"$in": [app_id]}}, {"_id": 0}))


# ---------------------------------------------------------------- files


def dump_lines(cursor: Any) -> Iterator[bytes]:
    """The cursor's documents as JSON lines, in blocks of about 1 MB."""
    block: list[bytes] = []
    size = 0
    for document in cursor:
        line = json_line(document)
        block.append(line)
        size += len(line)
        if size >= 1 << 20:
            yield b"".join(block)
            block, size = [], 0
    if block:
        yield b"".join(block)


def message_dump(database: Any, app_id: str, time_range: TimeRange) -> Iterator[bytes]:
    """The range's messages in (``timestamp``, ``_id``) order: one cursor, each message once."""
    cursor = database.messages.find(message_filter(app_id, time_range)).sort([("timestamp", 1), ("_id", 1)])
    return dump_lines(cursor)


def task_dump(database: Any, app_id: str, time_range: TimeRange) -> Iterator[bytes]:
    """The tasks created in the range in (``creationTs``, ``_id``) order."""
    cursor = database.tasks.find(task_filter(app_id, time_range)).sort([("creationTs", 1), ("_id", 1)])
    return dump_lines(cursor)


def table_files(
    database: Any,
    app_id: str,
    time_range: TimeRange,
    counts: dict[str, int],
    config: MessagesConfig,
    personal: bool,
) -> dict[str, Callable[[], Iterator[bytes]]]:
    """The tables' file names and, for each, how to make its bytes (personal tables only when asked)."""
    timezone = config.timezone
    tables: dict[str, Callable[[], Any]] = {
        "analytics": lambda: analytics_table(app_id, time_range, counts),
        "questions": lambda: questions_table(database.tasks.find(task_filter(app_id, time_range)), timezone),
    }
    if personal:
        users = users_table(
            app_users(database, app_id),
            *user_figures(database, app_id, time_range),
            request_activity(database, app_id, time_range),
            timezone,
        )
        tables["users"] = lambda: users
        tables["id_email"] = lambda: id_email_table(users)
    files = {}
    for table in TABLES:
        if table in tables and (personal or table not in PERSONAL_TABLES):
            name = config.files[table]
            build = tables[table]
            files[name] = lambda build=build, name=name: iter([table_bytes(build(), table_format(name))])
    return files


def export_app(
    database: Any,
    store: Any,
    app_id: str,
    time_range: TimeRange,
    config: MessagesConfig,
    *,
    personal: bool = False,
) -> ExportResult:
    """Compute and write one app's files for the range: into a local directory, then to S3 when a store is given."""
    ensure_indexes(database)
    counts = compute_counts(database, app_id, time_range, config.user_batch_size)
    result = ExportResult(app_id, time_range.start.isoformat(), time_range.end.isoformat(), counts)
    prefix = f"{config.key_prefix.strip('/')}/{app_id}/{time_range.label}/"
    files = table_files(database, app_id, time_range, counts, config, personal)
    files["messages.jsonl"] = lambda: message_dump(database, app_id, time_range)
    files["tasks.jsonl"] = lambda: task_dump(database, app_id, time_range)
    with tempfile.TemporaryDirectory(prefix="message-export-") as scratch:
        directory = Path(config.local_dir) / prefix if config.local_dir else Path(scratch) / prefix
        for name, make in files.items():
            result.files[name] = write_atomically(directory / name, make())
            log.info("%s: %s written (%d bytes)", app_id, name, result.files[name])
            if store is not None:
                store.upload(directory / name, config.bucket, prefix + name)
        result.local_dir = str(directory) if config.local_dir else ""
        result.s3_prefix = f"s3://{config.bucket}/{prefix}" if store is not None else ""
    return result


def run_export(
    config: MessagesConfig, app_id: str, time_range: TimeRange, *, personal: bool = False, upload: bool = True
) -> ExportResult:
    """:func:`export_app` on the configured MongoDB connection and S3 connection."""
    from analytics.stores.mongo import mongo_client
    from analytics.stores.s3 import S3Store

    with mongo_client(config.mongo_connection_id) as client:
        database = client[config.database]
        if not upload:
            return export_app(database, None, app_id, time_range, config, personal=personal)
        with S3Store(config.aws_connection_id) as store:
            return export_app(database, store, app_id, time_range, config, personal=personal)
