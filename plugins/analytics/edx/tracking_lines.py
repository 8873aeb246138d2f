"""One edX tracking-log line into one master document, or a named rejection. Pure: no I/O.

edX writes one JSON object per line (``*.log`` or ``*.log.gz``, one file per day and server).
:func:`parse_tracking_line` keeps every original field and adds what the master collection is
queried by:

- ``event``: parsed into a sub-document when edX wrote it as a JSON string holding an object
  (browser events do); any other string (not JSON, or JSON that is not an object, such as a
  problem's quoted form data) is kept as it was;
- keys MongoDB cannot store (a ``.`` anywhere or a leading ``$``, as openassessment events have)
  rewritten by the reversible rule of :mod:`analytics.core.mongo_keys`;
- ``time``: a UTC datetime (a time without an offset is taken as UTC, as edX writes them), with
  the original string in ``time_raw``;
- ``course_id`` and ``course_id_source``: the first of ``context.course_id`` (``"context"``), the
  course in the ``page`` URL (``"page"``), in a server event's ``event_type`` path
  (``"event_type"``), in the ``next`` parameter of a login or registration page
  (``event.GET.next``: ``"login_next"``), then ``event.course_id`` (``"event"``, which server
  events such as enrolments and bookmarks carry); ``None`` when there is none. Both
  ``course-v1:ORG+COURSE+RUN`` (and ``ccx-v1:``) and old ``ORG/COURSE/RUN`` ids are found; the id
  is stored as the event wrote it;
- ``load_file``, ``load_line``, ``loaded_at``, and ``_id`` = ``<load_file>:<load_line>``, which
  makes a reload of the same file store each event once.

An original top-level field with the name of an added one is kept as ``original_<name>``.
A line that cannot become a document is a :class:`~analytics.core.accounting.Rejection` with one
of :data:`REASONS`. Two identical lines are two events (their ``_id`` differ by line number).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import orjson

from analytics.core.accounting import Rejection, excerpt
from analytics.core.mongo_keys import encode_keys, has_unsafe_keys

BLANK, COMMENT, NOT_UTF8, BAD_JSON, NOT_OBJECT, NO_TIME, BAD_TIME = (
    "blank line",
    "comment line",
    "not UTF-8",
    "bad JSON",
    "not a JSON object",
    "no time",
    "unparseable time",
)
REASONS = (BLANK, COMMENT, NOT_UTF8, BAD_JSON, NOT_OBJECT, NO_TIME, BAD_TIME)

ADDED_FIELDS = frozenset(
    {"_id", "time_raw", "course_id", "course_id_source", "load_file", "load_line", "loaded_at"}
)
# In a URL path: /courses/<course-v1:...|ccx-v1:...> or /courses/<org>/<course>/<run>.
_COURSE_IN_PATH = re.compile(r"/courses/((?:course-v1|ccx-v1):[^/?#]+|[^/?#:]+/[^/?#]+/[^/?#]+)")
_INT64 = 2**63


def tracking_file_name(file_name: str) -> str:
    """The name a tracking file is known by: its base name in lower case, without ``.gz``.

    The convention of the original loader, kept so that ``x.log`` and ``x.log.gz`` are one file.
    """
    base = file_name.rsplit("/", 1)[-1].lower()
    return base[: -len(".gz")] if base.endswith(".gz") else base


def event_id(load_file: str, line_number: int) -> str:
    """The master ``_id`` of a file's line: the same on every load of that file."""
    return f"{load_file}:{line_number}"


def parse_tracking_line(
    raw: bytes, load_file: str, line_number: int, loaded_at: datetime
) -> dict | Rejection:
    """The master document of one raw line (its end of line included or not), or why there is none."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        parsed = _parse_leniently(raw, load_file, line_number, error)
        if isinstance(parsed, Rejection):
            return parsed
        document = parsed
    if type(document) is not dict:
        return Rejection(
            load_file, line_number, NOT_OBJECT, detail=type(document).__name__, excerpt=excerpt(raw)
        )
    time_text = document.get("time")
    if time_text is None:
        return Rejection(load_file, line_number, NO_TIME, field="time", excerpt=excerpt(raw))
    when = parse_event_time(time_text)
    if when is None:
        return Rejection(
            load_file, line_number, BAD_TIME, field="time", detail=repr(time_text)[:80], excerpt=excerpt(raw)
        )
    event = document.get("event")
    if type(event) is str and event[:1] == "{":
        try:
            parsed_event = orjson.loads(event)
        except orjson.JSONDecodeError:
            pass  # not JSON after all: the raw string stays
        else:
            if type(parsed_event) is dict:
                document["event"] = parsed_event
    if not ADDED_FIELDS.isdisjoint(document):
        for name in ADDED_FIELDS.intersection(document):
            document[f"original_{name}"] = document.pop(name)
    if has_unsafe_keys(document):
        document = encode_keys(document)
    course_id, source = resolve_course_id(document)
    document["_id"] = f"{load_file}:{line_number}"
    document["time"] = when
    document["time_raw"] = time_text
    document["course_id"] = course_id
    document["course_id_source"] = source
    document["load_file"] = load_file
    document["load_line"] = line_number
    document["loaded_at"] = loaded_at
    return document


def _parse_leniently(raw: bytes, load_file: str, line_number: int, error: Exception) -> object:
    """What orjson refused: a blank or comment line, bytes that are not UTF-8, bad JSON, or JSON
    that only Python's parser reads (``NaN``, ``Infinity``), parsed as such."""
    stripped = raw.strip()
    if not stripped:
        return Rejection(load_file, line_number, BLANK)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        return Rejection(
            load_file,
            line_number,
            NOT_UTF8,
            detail=f"byte {decode_error.start}: {decode_error.reason}",
            excerpt=excerpt(raw),
        )
    if stripped[:1] == b"#":
        return Rejection(load_file, line_number, COMMENT, excerpt=excerpt(raw))
    try:  # ints beyond 64 bits become floats, as orjson reads them (BSON has no bigger integer)
        return json.loads(text, parse_int=_int_or_float)
    except ValueError:
        return Rejection(load_file, line_number, BAD_JSON, detail=str(error), excerpt=excerpt(raw))


def _int_or_float(text: str) -> int | float:
    number = int(text)
    return number if -_INT64 <= number < _INT64 else float(number)


def parse_event_time(value: object) -> datetime | None:
    """A tracking event's ``time`` as an aware UTC datetime; None when it is not an ISO 8601 time.

    edX writes ``2014-05-02T16:44:35.901775+00:00``; older logs have no offset (UTC) or a ``Z``.
    """
    if type(value) is not str:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is UTC:
        return when
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def resolve_course_id(document: dict) -> tuple[str | None, str | None]:
    """The course an event belongs to and where it was found (see the module's docstring)."""
    context = document.get("context")
    if type(context) is dict:
        course_id = context.get("course_id")
        if type(course_id) is str and course_id.strip():
            return course_id.strip(), "context"
    page = document.get("page")
    if type(page) is str and "/courses/" in page:
        found = course_id_in_url(page)
        if found:
            return found, "page"
    event_type = document.get("event_type")
    if type(event_type) is str and event_type.startswith("/courses/"):
        found = course_id_in_url(event_type)
        if found:
            return found, "event_type"
    event = document.get("event")
    if type(event) is dict:
        get = event.get("GET")
        if type(get) is dict and "next" in get:
            found = course_id_in_url(_first(get["next"]))
            if found:
                return found, "login_next"
        course_id = event.get("course_id")
        if type(course_id) is str and course_id.strip():
            return course_id.strip(), "event"
    return None, None


def course_id_in_url(url: object) -> str | None:
    """The course id in a URL or path with ``/courses/<id>/...`` (percent-encoding undone), or None."""
    if type(url) is not str:
        return None
    if "%" in url:
        url = unquote(url)
    match = _COURSE_IN_PATH.search(url)
    return match[1] if match else None


def _first(value: object) -> object:
    """edX logs query parameters as lists (``{"next": ["/courses/..."]}``): the first value."""
    if type(value) is list:
        return value[0] if value else None
    return value
