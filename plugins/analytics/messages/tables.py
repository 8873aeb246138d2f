"""The export's tables as pandas frames, and their bytes: pure, deterministic (sorted rows, fixed formats).

Times are written as ISO 8601 in the range's zone with their offset (``2024-03-01T00:00:00+00:00``),
counts as integers, missing text as an empty field; each table's rows are sorted on its key, so a
rerun writes the same bytes. The JSON-lines dumps use orjson with sorted keys, naive datetimes as
UTC and ObjectIds as their hex.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
import pandas as pd
import pendulum

from analytics.messages.metrics import ANSWER_LABEL, BEST_ANSWER_LABEL, METRICS
from analytics.messages.ranges import TimeRange

ANALYTICS_COLUMNS = ["app_id", "start", "end", "metric", "count", "description"]
QUESTIONS_COLUMNS = ["task_id", "created", "question", "best_answer"]
USERS_COLUMNS = [
    "user_id", "first_name", "last_name", "email", "gender", "incentive_cohort",
    "questions", "answers", "first_activity", "last_activity",
]  # fmt: skip
ID_EMAIL_COLUMNS = ["user_id", "email"]
JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_APPEND_NEWLINE


def format_time(moment: datetime | None, timezone: str) -> str:
    """``moment`` (naive UTC, as MongoDB returns it, or aware) in ``timezone``, ISO 8601 with offset; "" for None."""
    if moment is None:
        return ""
    aware = pendulum.instance(moment, tz="UTC") if moment.tzinfo is None else pendulum.instance(moment)
    return aware.in_timezone(timezone).isoformat()


def analytics_table(app_id: str, time_range: TimeRange, counts: Mapping[str, int]) -> pd.DataFrame:
    """One row per metric of :data:`METRICS`, in its order; a metric missing from ``counts`` is 0."""
    start, end = time_range.start.isoformat(), time_range.end.isoformat()
    rows = [[app_id, start, end, name, int(counts.get(name, 0)), text] for name, text in METRICS.items()]
    return pd.DataFrame(rows, columns=ANALYTICS_COLUMNS)


def best_answer(task: Mapping[str, Any]) -> str:
    """The text of the answer the task's (latest) best-answer transaction points to; "" when none or no text."""
    transactions = task.get("transactions") or []
    chosen = [t for t in transactions if t.get("label") == BEST_ANSWER_LABEL]
    if not chosen:
        return ""
    latest = max(chosen, key=lambda t: (t.get("creationTs") or datetime.min, str(t.get("id", ""))))
    answer_id = (latest.get("attributes") or {}).get("transactionId")
    for transaction in transactions:
        if transaction.get("label") == ANSWER_LABEL and transaction.get("id") == answer_id:
            text = (transaction.get("attributes") or {}).get("answer")
            return text if isinstance(text, str) else ""
    return ""


def questions_table(tasks: Iterable[Mapping[str, Any]], timezone: str) -> pd.DataFrame:
    """One row per task, by creation time then id."""
    rows = sorted(
        (
            [
                str(task.get("id", "")),
                task.get("creationTs"),
                (task.get("goal") or {}).get("name") or "",
                best_answer(task),
            ]
            for task in tasks
        ),
        key=lambda row: (row[1] or datetime.min, row[0]),
    )
    for row in rows:
        row[1] = format_time(row[1], timezone)
    return pd.DataFrame(rows, columns=QUESTIONS_COLUMNS)


def users_table(
    users: Iterable[Mapping[str, Any]],
    questions: Mapping[str, int],
    answers: Mapping[str, int],
    activity: Mapping[str, tuple[datetime, datetime]],
    timezone: str,
) -> pd.DataFrame:
    """One row per user, by id: profile, then questions, answers and first/last request within the range."""
    rows = []
    for user in sorted(users, key=lambda user: str(user.get("id", ""))):
        user_id = str(user.get("id", ""))
        name = user.get("name") or {}
        first, last = activity.get(user_id, (None, None))
        rows.append([
            user_id, _text(name.get("first")), _text(name.get("last")), _text(user.get("email")),
            _text(user.get("gender")), _text(user.get("incentive_cohort")),
            int(questions.get(user_id, 0)), int(answers.get(user_id, 0)),
            format_time(first, timezone), format_time(last, timezone),
        ])  # fmt: skip
    return pd.DataFrame(rows, columns=USERS_COLUMNS)


def id_email_table(users_frame: pd.DataFrame) -> pd.DataFrame:
    """``user_id, email`` of the users table."""
    return users_frame[ID_EMAIL_COLUMNS].copy()


def table_bytes(frame: pd.DataFrame, separator: str) -> bytes:
    """The frame as CSV or TSV (``separator``): header, ``\\n`` line ends, minimal quoting, no index."""
    return frame.to_csv(sep=separator, index=False, lineterminator="\n").encode()


def json_line(document: Mapping[str, Any]) -> bytes:
    """One document as a JSON line, keys sorted."""
    return orjson.dumps(document, default=_json_default, option=JSON_OPTIONS)


def _json_default(value: Any) -> str:
    from bson import ObjectId

    if isinstance(value, ObjectId):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _text(value: Any) -> str:
    return "" if value is None else str(value)
