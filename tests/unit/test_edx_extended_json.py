"""mongoexport extended JSON back to BSON values, and streaming a data package's forum dump."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bson import ObjectId

from analytics.core.accounting import Rejection
from analytics.edx.extended_json import ExtendedJsonError, decode_extended_json
from analytics.edx.readers import iter_forum_documents
from analytics.edx.tables import SourceDocument
from tests.samples import OBFUSCATION_STATE, edx_sample

OBJECT_ID = "cd72760dff103dd383012d3f"


def sample_forum_dump() -> Path:
    """The real forum dump; its absence is a failure, never a skip."""
    return edx_sample(f"{OBFUSCATION_STATE}/edX-DemoX-Demo_Course-acceptance.mongo")


def test_object_id() -> None:
    assert decode_extended_json({"$oid": OBJECT_ID}) == ObjectId(OBJECT_ID)


@pytest.mark.parametrize(
    ("wrapped", "expected"),
    [
        ({"$date": "2013-12-13T02:59:58.520Z"}, datetime(2013, 12, 13, 2, 59, 58, 520000, tzinfo=UTC)),
        ({"$date": "2013-12-13T03:59:58.520+01:00"}, datetime(2013, 12, 13, 2, 59, 58, 520000, tzinfo=UTC)),
        ({"$date": 1386903598520}, datetime(2013, 12, 13, 2, 59, 58, 520000, tzinfo=UTC)),
        ({"$date": {"$numberLong": "1386903598520"}}, datetime(2013, 12, 13, 2, 59, 58, 520000, tzinfo=UTC)),
        ({"$date": {"$numberLong": "-86400000"}}, datetime(1969, 12, 31, tzinfo=UTC)),
    ],
)
def test_every_date_form_becomes_an_aware_utc_datetime(wrapped: dict, expected: datetime) -> None:
    value = decode_extended_json(wrapped)
    assert value == expected
    assert value.tzinfo is not None and value.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("wrapped", "expected"),
    [
        ({"$numberLong": "9007199254740993"}, 9007199254740993),
        ({"$numberInt": "-5"}, -5),
    ],
)
def test_number_wrappers_become_ints(wrapped: dict, expected: int) -> None:
    value = decode_extended_json(wrapped)
    assert value == expected
    assert isinstance(value, int)


def test_number_double_becomes_a_float() -> None:
    assert decode_extended_json({"$numberDouble": "1.5"}) == 1.5
    assert math.isnan(decode_extended_json({"$numberDouble": "NaN"}))


def test_wrappers_are_decoded_at_any_depth_and_plain_values_are_kept() -> None:
    document = {
        "_id": {"$oid": OBJECT_ID},
        "parent_ids": [{"$oid": OBJECT_ID}, {"$oid": OBJECT_ID}],
        "votes": {"count": {"$numberInt": "1"}, "up": ["1"], "history": [{"at": {"$date": 0}}]},
        "title": "plain",
        "visible": True,
        "nothing": None,
    }
    assert decode_extended_json(document) == {
        "_id": ObjectId(OBJECT_ID),
        "parent_ids": [ObjectId(OBJECT_ID), ObjectId(OBJECT_ID)],
        "votes": {"count": 1, "up": ["1"], "history": [{"at": datetime(1970, 1, 1, tzinfo=UTC)}]},
        "title": "plain",
        "visible": True,
        "nothing": None,
    }


@pytest.mark.parametrize(
    "wrapped",
    [
        {"$oid": "not-hex"},
        {"$date": "yesterday"},
        {"$numberLong": "x"},
        {"nested": [{"$date": {"$numberLong": "y"}}]},
    ],
)
def test_a_malformed_wrapper_raises_a_documented_error(wrapped: dict) -> None:
    with pytest.raises(ExtendedJsonError):
        decode_extended_json(wrapped)


def write_dump(directory: Path, content: bytes) -> Path:
    path = directory / "forum.mongo"
    path.write_bytes(content)
    return path


def test_a_forum_dump_accounts_for_every_line(tmp_path: Path) -> None:
    path = write_dump(
        tmp_path,
        b'{"_id": {"$oid": "cd72760dff103dd383012d3f"}, "body": "first"}\n'
        b"\n"
        b"{not json\n"
        b'{"body": "caf\xe9"}\n'
        b"[1, 2]\n"
        b'{"_id": {"$oid": "zz"}}\n'
        b'{"$oid": "cd72760dff103dd383012d3f"}\n'
        b'{"_id": {"$oid": "af573b91e8f6d23c9b3ac0d8"}, "body": "last"}',
    )
    results = list(iter_forum_documents(path))
    assert results[0] == SourceDocument(1, {"_id": ObjectId(OBJECT_ID), "body": "first"})
    assert results[-1] == SourceDocument(8, {"_id": ObjectId("af573b91e8f6d23c9b3ac0d8"), "body": "last"})
    rejections = [result for result in results if isinstance(result, Rejection)]
    assert [(rejection.file, rejection.line, rejection.reason) for rejection in rejections] == [
        ("forum.mongo", 3, "bad JSON"),
        ("forum.mongo", 4, "not UTF-8"),
        ("forum.mongo", 5, "not a JSON object"),
        ("forum.mongo", 6, "bad extended JSON"),
        ("forum.mongo", 7, "not a JSON object"),
    ]
    assert len(results) == 7  # eight lines, one blank


def test_a_document_without_an_id_gets_its_file_and_line_so_a_reload_gives_the_same_id(
    tmp_path: Path,
) -> None:
    path = write_dump(tmp_path, b'\n{"body": "no id"}\n{"_id": "kept", "body": "own id"}\n')
    assert list(iter_forum_documents(path)) == [
        SourceDocument(2, {"_id": "forum.mongo:2", "body": "no id"}),
        SourceDocument(3, {"_id": "kept", "body": "own id"}),
    ]


def test_bson_is_imported_on_first_use_not_with_the_module() -> None:
    """DAG files import the operators, which import this module: it must not pull in bson."""
    code = "import sys, analytics.edx.extended_json; print('bson' in sys.modules)"
    plugins = Path(__file__).resolve().parents[2] / "plugins"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(plugins)},
    )
    assert result.stdout.strip() == "False", result.stderr


def test_the_real_forum_dump_decodes() -> None:
    records = list(iter_forum_documents(sample_forum_dump()))
    assert len(records) == 3
    assert not [record for record in records if isinstance(record, Rejection)]
    documents = [record.document for record in records]
    assert [document["_id"] for document in documents] == [
        ObjectId("cd72760dff103dd383012d3f"),
        ObjectId("69963c2c9103a8d2ac7dcb34"),
        ObjectId("af573b91e8f6d23c9b3ac0d8"),
    ]
    reply = documents[2]
    assert reply["created_at"] == datetime(2013, 12, 12, 17, 44, 8, 128000, tzinfo=UTC)
    assert reply["parent_id"] == ObjectId("69963c2c9103a8d2ac7dcb34")
    assert reply["parent_ids"] == [ObjectId("69963c2c9103a8d2ac7dcb34")]
    assert reply["comment_thread_id"] == ObjectId("b099eb018ae1d5b44762e333")
    assert {document["course_id"] for document in documents} == {"edX/DemoX/Demo_Course"}
    assert documents[0]["body"].startswith("Dear John,\n")
