"""The data-package tables we ingest, their column types, and how their TSV rows become typed documents.

Pure: bytes in, documents or rejections out; the files are read by :mod:`analytics.edx.readers`.
Each ``.sql`` file of a data package is a MySQL batch export: a header line of column names, then
one tab-separated row per line, ``NULL`` for SQL NULL and backslash escapes (``\\\\``, ``\\t``,
``\\n``, ``\\r``, ``\\0``) inside values. :class:`RowReader` turns one such line into
one document, typed by the table's declared schema (a column not declared stays a
string), or a ``Rejection`` naming the line, and the field when one value does not fit its type.
Each document gets a deterministic ``_id``: its table's key (``TABLE_ID_COLUMNS``), or
``"<file name>:<line>"`` for a table without one, so loading the same file again gives the same
ids. Tables not listed in ``TABLE_COLLECTIONS`` are skipped by design, not rejected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from analytics.core.accounting import Rejection, excerpt
from analytics.core.mongo_keys import encode_keys

TABLE_COLLECTIONS = {
    "auth_user": "user",
    "auth_userprofile": "userprofile",
    "certificates_generatedcertificate": "certificates",
    "courseware_studentmodule": "courseware_studentmodule",
    "student_courseenrollment": "enrollment",
    "user_id_map": "user_id_map",
}
FORUM_COLLECTION = "forum"
COURSE_STRUCTURE_COLLECTION = "course_structure"

INT, FLOAT, BOOL, DATETIME, JSON = "int", "float", "bool", "datetime", "json"

# Column -> declared type, per ingested table; columns not listed are kept as strings.
TABLE_SCHEMAS: dict[str, dict[str, str]] = {
    "auth_user": {
        "id": INT,
        "is_staff": BOOL,
        "is_active": BOOL,
        "is_superuser": BOOL,
        "last_login": DATETIME,
        "date_joined": DATETIME,
    },
    "auth_userprofile": {
        "id": INT,
        "user_id": INT,
        "meta": JSON,
        "year_of_birth": INT,
        "profile_image_uploaded_at": DATETIME,
    },
    "certificates_generatedcertificate": {
        "id": INT,
        "user_id": INT,
        "grade": FLOAT,
        "distinction": BOOL,
        "created_date": DATETIME,
        "modified_date": DATETIME,
    },
    "courseware_studentmodule": {
        "id": INT,
        "student_id": INT,
        "state": JSON,
        "grade": FLOAT,
        "max_grade": FLOAT,
        "created": DATETIME,
        "modified": DATETIME,
    },
    "student_courseenrollment": {
        "id": INT,
        "user_id": INT,
        "created": DATETIME,
        "is_active": BOOL,
    },
    # hash_id is the anonymous user id, a 32-character hex string; newer exports name `id` `user_id`.
    "user_id_map": {"id": INT, "user_id": INT},
}

# The column whose value is a row's `_id`, per table: the first of the candidates that the file's
# header has. Each is the primary key of edX's table. user_id_map is not a table in edX's database:
# the exporter selects one row per auth_user id of the course's learners (with hash_id = md5 of a
# secret and that id), so its `id` (`user_id` in newer exports) is unique as well. A table not
# listed here, or a file with none of its table's candidates, gets "<file name>:<line>" instead.
TABLE_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "auth_user": ("id",),
    "auth_userprofile": ("id",),
    "certificates_generatedcertificate": ("id",),
    "courseware_studentmodule": ("id",),
    "student_courseenrollment": ("id",),
    "user_id_map": ("id", "user_id"),
}

# Columns holding credential material (password hashes, secrets, tokens, keys) are never stored:
# the reader drops them from every row. A column is one when its lower-case name contains any of
# these words; auth_user.password is the one edX packages carry today.
CREDENTIAL_COLUMN_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "activation_key",
    "session_key",
    "private_key",
)

_NULL_MARKERS = ("NULL", "\\N")  # batch-mode NULL, and SELECT ... INTO OUTFILE's NULL
_MYSQL_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", "0": "\x00"}
_MYSQL_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_BOOLEANS = {"1": True, "0": False, "true": True, "false": False}
_MYSQL_ZERO_DATETIME = re.compile(r"0000-00-00( 00:00:00(\.0+)?)?")


class SourceDocument(NamedTuple):
    """A document and the 1-based line of the file it was read from (None when it has no line).

    Every package reader yields these (or Rejections), so a loader can name the line of a
    document that turns out to be a duplicate.
    """

    line: int | None
    document: dict[str, Any]


class ValueTypeError(ValueError):
    """A value that does not fit its column's declared type; ``reason`` is the rejection reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def collection_for_table(table: str) -> str | None:
    """The MongoDB collection a table is loaded into, or None when the table is skipped."""
    return TABLE_COLLECTIONS.get(table)


def id_column_for(table: str, columns: list[str]) -> str | None:
    """The column whose value is the ``_id`` of the table's rows, or None: ids are then file:line."""
    return next((column for column in TABLE_ID_COLUMNS.get(table, ()) if column in columns), None)


def is_credential_column(column: str) -> bool:
    """True for a column of credential material (see CREDENTIAL_COLUMN_WORDS), which is never stored."""
    name = column.lower()
    return any(word in name for word in CREDENTIAL_COLUMN_WORDS)


def unescape_mysql(text: str) -> str:
    """A MySQL batch-export field with its backslash escapes resolved; unknown escapes are kept as is."""
    if "\\" not in text:
        return text
    return _MYSQL_ESCAPE.sub(lambda match: _MYSQL_ESCAPES.get(match[1], match[0]), text)


def parse_int(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueTypeError("bad int")
    return int(text)


def parse_float(text: str) -> float:
    if not _DECIMAL.fullmatch(text):
        raise ValueTypeError("bad float")
    return float(text)


def parse_bool(text: str) -> bool:
    try:
        return _BOOLEANS[text.lower()]
    except KeyError:
        raise ValueTypeError("bad bool") from None


def parse_datetime(text: str) -> datetime | None:
    """A timezone-aware UTC datetime from ``YYYY-MM-DD HH:MM:SS[.ffffff]`` or ISO 8601.

    A value without offset is taken as UTC (edX stores UTC). MySQL's zero date
    ``0000-00-00 00:00:00`` means "no date" and becomes None.
    """
    if _MYSQL_ZERO_DATETIME.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueTypeError("bad datetime") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_json(text: str) -> Any:
    """A sub-document (keys encoded by analytics.core.mongo_keys) or list when the text is a JSON object or array, else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return encode_keys(value) if isinstance(value, dict | list) else text


_PARSERS: dict[str, Callable[[str], Any]] = {
    INT: parse_int,
    FLOAT: parse_float,
    BOOL: parse_bool,
    DATETIME: parse_datetime,
    JSON: parse_json,
}


def typed_value(raw: str, column_type: str | None) -> Any:
    """One field as stored: None for NULL, else unescaped and converted to its declared type.

    Raises ValueTypeError when the value does not fit the type.
    """
    return _typed_value(raw, _PARSERS.get(column_type or ""))


def _typed_value(raw: str, parser: Callable[[str], Any] | None) -> Any:
    """``typed_value`` with the column's parser already looked up (None: the value stays a string)."""
    if raw in _NULL_MARKERS:
        return None
    text = unescape_mysql(raw)
    return text if parser is None else parser(text)


def decode_header(file_name: str, header_line: bytes) -> list[str] | Rejection:
    try:
        header_text = strip_line_end(header_line).decode("utf-8-sig")  # tolerate a byte-order mark
    except UnicodeDecodeError:
        return Rejection(
            file_name,
            1,
            "not UTF-8",
            detail="header line; no row can be read",
            excerpt=excerpt(header_line),
            whole_file=True,
        )
    if not header_text.strip():
        return Rejection(
            file_name, 1, "blank header", detail="header line is blank; no row can be read", whole_file=True
        )
    return header_text.split("\t")


def duplicate_column(
    file_name: str, header: list[str], columns: list[str], remaining_lines: Iterable[bytes]
) -> Rejection | None:
    """A rejection of the whole file when two header columns have the same (encoded) name, else None.

    Such a file cannot be read: one column's values would silently overwrite the other's. The
    rejection counts the rows that are therefore not loaded (reading the rest of the file).
    """
    first_position: dict[str, int] = {}
    for position, column in enumerate(columns):
        if column in first_position:
            earlier = first_position[column]
            rows = sum(1 for line in remaining_lines if strip_line_end(line))
            detail = (
                f"header columns {earlier + 1} ({header[earlier]!r}) and {position + 1} ({header[position]!r}) "
                f"are both {column!r}; none of the file's {rows} rows is loaded"
            )
            return Rejection(file_name, 1, "duplicate column", field=column, detail=detail, whole_file=True)
        first_position[column] = position
    return None


class RowReader:
    """Turns one data line of a table export into a SourceDocument with its ``_id``, or a Rejection."""

    def __init__(
        self, file_name: str, columns: list[str], schema: dict[str, str], id_column: str | None
    ) -> None:
        self.file_name = file_name
        self.columns = columns
        self.schema = schema
        self.id_column = id_column
        self.dropped_columns = frozenset(column for column in columns if is_credential_column(column))
        self._parsers = [_PARSERS.get(schema.get(column) or "") for column in columns]

    def read(self, line_number: int, raw_line: bytes) -> SourceDocument | Rejection:
        file_name = self.file_name
        try:
            fields = raw_line.decode("utf-8").split("\t")
        except UnicodeDecodeError as error:
            return Rejection(
                file_name, line_number, "not UTF-8", detail=str(error), excerpt=excerpt(raw_line)
            )
        if len(fields) != len(self.columns):
            detail = f"expected {len(self.columns)} fields, got {len(fields)}"
            return Rejection(
                file_name, line_number, "wrong field count", detail=detail, excerpt=excerpt(raw_line)
            )
        document: dict[str, Any] = {}
        for column, parser, raw in zip(self.columns, self._parsers, fields, strict=True):
            if column in self.dropped_columns:
                continue
            try:
                document[column] = _typed_value(raw, parser)
            except ValueTypeError as error:
                return Rejection(
                    file_name, line_number, error.reason, field=column, detail=raw, excerpt=excerpt(raw_line)
                )
        if self.id_column is None:
            return SourceDocument(line_number, {"_id": f"{file_name}:{line_number}", **document})
        if document[self.id_column] is None:
            return Rejection(
                file_name,
                line_number,
                "missing id",
                field=self.id_column,
                detail="NULL key",
                excerpt=excerpt(raw_line),
            )
        return SourceDocument(line_number, {"_id": document[self.id_column], **document})


def strip_line_end(raw_line: bytes) -> bytes:
    """The line without its ``\\n`` or ``\\r\\n`` ending (raw tabs and carriage returns inside are kept)."""
    if raw_line.endswith(b"\n"):
        raw_line = raw_line[:-1]
    if raw_line.endswith(b"\r"):
        raw_line = raw_line[:-1]
    return raw_line
