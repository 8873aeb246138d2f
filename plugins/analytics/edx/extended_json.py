"""Read a data package's forum dump: mongoexport extended JSON, one document per line, into BSON values.

``mongoexport`` writes types JSON lacks as wrapper objects: ``{"$oid": ...}``, ``{"$date": ...}``
(an ISO string, epoch milliseconds, or ``{"$numberLong": ...}``), ``{"$numberLong": ...}``,
``{"$numberInt": ...}``, ``{"$numberDouble": ...}`` and a few rarer ones. ``decode_extended_json``
turns them back into ``ObjectId``, timezone-aware UTC ``datetime``, ``int`` and ``float`` (rarer
wrappers as PyMongo's ``bson.json_util`` decodes them), so the documents are stored as the forum
database held them. ``iter_forum_documents`` streams a ``.mongo`` file and accounts for every
non-blank line as a document or a ``Rejection``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

from bson import json_util
from bson.errors import BSONError

from analytics.rejections import Rejection

_EXTENDED_JSON_OPTIONS = json_util.JSONOptions(tz_aware=True, tzinfo=UTC)
# What decode_extended_json raises on a malformed wrapper such as {"$oid": "not-hex"}.
MALFORMED_EXTENDED_JSON_ERRORS = (ValueError, TypeError, OverflowError, BSONError)


def decode_extended_json(obj: Any) -> Any:
    """The value with every extended-JSON wrapper, at any depth, replaced by its Python/BSON value.

    Raises one of ``MALFORMED_EXTENDED_JSON_ERRORS`` on a malformed wrapper.
    """
    if isinstance(obj, list):
        return [decode_extended_json(item) for item in obj]
    if isinstance(obj, dict):
        # Inner values first, as json.loads(object_hook=...) would: {"$date": {"$numberLong": ...}}.
        decoded = {key: decode_extended_json(value) for key, value in obj.items()}
        return json_util.object_hook(decoded, _EXTENDED_JSON_OPTIONS)
    return obj


def iter_forum_documents(path: Path) -> Iterator[dict[str, Any] | Rejection]:
    """Stream a ``.mongo`` forum dump: one decoded document per line, or a Rejection naming the line.

    The file is read line by line in binary; blank lines are skipped; line numbers are 1-based.
    """
    file_name = path.name
    with path.open("rb") as lines:
        for line_number, raw_line in enumerate(lines, start=1):
            if not raw_line.strip():
                continue
            yield _line_to_document(file_name, line_number, raw_line)


def _line_to_document(file_name: str, line_number: int, raw_line: bytes) -> dict[str, Any] | Rejection:
    try:
        text = raw_line.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection(file_name, line_number, "not UTF-8", detail=str(error))
    try:
        value = json.loads(text)
    except ValueError as error:
        return Rejection(file_name, line_number, "bad JSON", detail=str(error))
    if not isinstance(value, dict):
        return Rejection(file_name, line_number, "not a JSON object", detail=type(value).__name__)
    try:
        document = decode_extended_json(value)
    except MALFORMED_EXTENDED_JSON_ERRORS as error:
        return Rejection(file_name, line_number, "bad extended JSON", detail=str(error))
    if not isinstance(document, dict):  # a whole line such as {"$oid": "..."}
        return Rejection(file_name, line_number, "not a JSON object", detail=type(document).__name__)
    return document
