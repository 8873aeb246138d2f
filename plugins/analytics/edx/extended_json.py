"""Read a data package's forum dump: mongoexport extended JSON, one document per line, into BSON values.

``mongoexport`` writes types JSON lacks as wrapper objects: ``{"$oid": ...}``, ``{"$date": ...}``
(an ISO string, epoch milliseconds, or ``{"$numberLong": ...}``), ``{"$numberLong": ...}``,
``{"$numberInt": ...}``, ``{"$numberDouble": ...}`` and a few rarer ones. ``decode_extended_json``
turns them back into ``ObjectId``, timezone-aware UTC ``datetime``, ``int`` and ``float`` (rarer
wrappers as PyMongo's ``bson.json_util`` decodes them), so the documents are stored as the forum
database held them. ``iter_forum_documents`` streams a ``.mongo`` file and accounts for every
non-blank line as a document (keeping its ``$oid`` as ``_id``) or a ``Rejection``. ``bson`` is
imported on first use, not with this module, so DAG files that import the operators parse fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from functools import cache
from typing import Any

from analytics.core.accounting import Rejection, excerpt
from analytics.edx.tables import SourceDocument


class ExtendedJsonError(ValueError):
    """A malformed extended-JSON wrapper, such as ``{"$oid": "not-hex"}``."""


def decode_extended_json(obj: Any) -> Any:
    """The value with every extended-JSON wrapper, at any depth, replaced by its Python/BSON value.

    Raises ``ExtendedJsonError`` on a malformed wrapper.
    """
    from bson.errors import BSONError

    try:
        return _decode(obj, _object_hook())
    except (ValueError, TypeError, OverflowError, BSONError) as error:
        raise ExtendedJsonError(str(error)) from error


@cache
def _object_hook() -> Callable[[dict[str, Any]], Any]:
    """``bson.json_util``'s wrapper decoder, giving timezone-aware UTC datetimes."""
    from bson import json_util

    options = json_util.JSONOptions(tz_aware=True, tzinfo=UTC)
    return lambda decoded: json_util.object_hook(decoded, options)


def _decode(obj: Any, object_hook: Callable[[dict[str, Any]], Any]) -> Any:
    if isinstance(obj, list):
        return [_decode(item, object_hook) for item in obj]
    if isinstance(obj, dict):
        # Inner values first, as json.loads(object_hook=...) would: {"$date": {"$numberLong": ...}}.
        return object_hook({key: _decode(value, object_hook) for key, value in obj.items()})
    return obj


def line_to_document(file_name: str, line_number: int, raw_line: bytes) -> SourceDocument | Rejection:
    try:
        text = raw_line.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection(file_name, line_number, "not UTF-8", detail=str(error), excerpt=excerpt(raw_line))
    try:
        value = json.loads(text)
    except ValueError as error:
        return Rejection(file_name, line_number, "bad JSON", detail=str(error), excerpt=excerpt(raw_line))
    if not isinstance(value, dict):
        return Rejection(
            file_name,
            line_number,
            "not a JSON object",
            detail=type(value).__name__,
            excerpt=excerpt(raw_line),
        )
    try:
        document = decode_extended_json(value)
    except ExtendedJsonError as error:
        return Rejection(
            file_name, line_number, "bad extended JSON", detail=str(error), excerpt=excerpt(raw_line)
        )
    if not isinstance(document, dict):  # a whole line such as {"$oid": "..."}
        return Rejection(
            file_name,
            line_number,
            "not a JSON object",
            detail=type(document).__name__,
            excerpt=excerpt(raw_line),
        )
    if "_id" not in document:
        document = {"_id": f"{file_name}:{line_number}", **document}
    return SourceDocument(line_number, document)
