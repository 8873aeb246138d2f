"""Which tables are ingested, and how their MySQL TSV rows become typed documents or rejections."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from analytics.core.accounting import Rejection
from analytics.edx.readers import credential_columns, iter_table_documents
from analytics.edx.tables import (
    TABLE_COLLECTIONS,
    TABLE_ID_COLUMNS,
    TABLE_SCHEMAS,
    SourceDocument,
    ValueTypeError,
    collection_for_table,
    is_credential_column,
    typed_value,
    unescape_mysql,
)
from tests.samples import OBFUSCATION_STATE, edx_sample

STUDENTMODULE_HEADER = (
    "id\tmodule_type\tmodule_id\tstudent_id\tstate\tgrade\tcreated\tmodified\tmax_grade\tdone\tcourse_id"
)


def obfuscation_state_directory() -> Path:
    """The real data-package sample."""
    return edx_sample(OBFUSCATION_STATE)


def sample_table(table: str) -> Path:
    return obfuscation_state_directory() / f"edX-DemoX-Demo_Course-{table}-acceptance.sql"


def write_table(directory: Path, content: str | bytes, name: str = "t.sql") -> Path:
    path = directory / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read_table(path: Path, table: str) -> list[dict | Rejection]:
    """The file's documents (without their line numbers) and rejections, in order."""
    return [
        record if isinstance(record, Rejection) else record.document
        for record in iter_table_documents(path, table)
    ]


@pytest.mark.parametrize(("table", "collection"), sorted(TABLE_COLLECTIONS.items()))
def test_ingested_tables_map_to_their_collections(table: str, collection: str) -> None:
    assert collection_for_table(table) == collection


@pytest.mark.parametrize(
    "table",
    ["email_opt_in", "user_api_usercoursetag", "wiki_article", "wiki_articlerevision", "teams", "anything"],
)
def test_other_tables_are_skipped(table: str) -> None:
    assert collection_for_table(table) is None


def test_every_ingested_table_declares_a_schema() -> None:
    assert set(TABLE_SCHEMAS) == set(TABLE_COLLECTIONS)
    assert (
        TABLE_COLLECTIONS["auth_user"] == "user"
        and TABLE_COLLECTIONS["student_courseenrollment"] == "enrollment"
    )


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        ("a\\\\b", "a\\b"),
        ("a\\tb", "a\tb"),
        ("a\\nb", "a\nb"),
        ("a\\rb", "a\rb"),
        ("a\\0b", "a\x00b"),
        ("\\\\n", "\\n"),  # an escaped backslash followed by n is not a newline
        ("a\\qb", "a\\qb"),  # unknown escapes are kept
        ("plain", "plain"),
    ],
)
def test_mysql_escapes_are_resolved(escaped: str, plain: str) -> None:
    assert unescape_mysql(escaped) == plain


@pytest.mark.parametrize(
    ("raw", "column_type", "expected"),
    [
        ("42", "int", 42),
        ("-7", "int", -7),
        ("0.27", "float", 0.27),
        ("1e3", "float", 1000.0),
        ("5", "float", 5.0),
        ("1", "bool", True),
        ("0", "bool", False),
        ("true", "bool", True),
        ("False", "bool", False),
        ("NULL", "int", None),
        ("NULL", None, None),
        ("\\N", "datetime", None),
        ("null", None, "null"),  # only the upper-case literal is SQL NULL
        ("0", None, "0"),  # undeclared columns stay strings
        ("a\\tb", None, "a\tb"),
    ],
)
def test_values_are_typed_by_their_declared_column_type(
    raw: str, column_type: str | None, expected: object
) -> None:
    value = typed_value(raw, column_type)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2015-08-12 23:13:03", datetime(2015, 8, 12, 23, 13, 3, tzinfo=UTC)),
        ("2015-08-12 23:13:03.250000", datetime(2015, 8, 12, 23, 13, 3, 250000, tzinfo=UTC)),
        ("2015-08-12T23:13:03", datetime(2015, 8, 12, 23, 13, 3, tzinfo=UTC)),
        ("2015-08-12T23:13:03+00:00", datetime(2015, 8, 12, 23, 13, 3, tzinfo=UTC)),
        ("2015-08-12T23:13:03Z", datetime(2015, 8, 12, 23, 13, 3, tzinfo=UTC)),
        ("2015-08-13T01:13:03+02:00", datetime(2015, 8, 12, 23, 13, 3, tzinfo=UTC)),
        ("0000-00-00 00:00:00", None),
    ],
)
def test_datetimes_become_aware_utc(raw: str, expected: datetime | None) -> None:
    value = typed_value(raw, "datetime")
    assert value == expected
    if value is not None:
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo is UTC


def test_an_offset_is_converted_not_dropped() -> None:
    value = typed_value("2015-08-12T23:13:03-05:00", "datetime")
    assert value == datetime(2015, 8, 12, 23, 13, 3, tzinfo=timezone(timedelta(hours=-5)))
    assert value.hour == 4


@pytest.mark.parametrize(
    ("raw", "column_type", "reason"),
    [
        ("x1", "int", "bad int"),
        ("1.5", "int", "bad int"),
        ("1_000", "int", "bad int"),
        ("", "int", "bad int"),
        ("abc", "float", "bad float"),
        ("", "float", "bad float"),
        ("yes", "bool", "bad bool"),
        ("2015-09-31 21:32:17", "datetime", "bad datetime"),
        ("2015-1-31 21:32:17", "datetime", "bad datetime"),
        ("", "datetime", "bad datetime"),
    ],
)
def test_values_that_do_not_fit_their_type_raise_with_a_reason(
    raw: str, column_type: str, reason: str
) -> None:
    with pytest.raises(ValueTypeError) as raised:
        typed_value(raw, column_type)
    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"position": 2}', {"position": 2}),
        ("[1, 2]", [1, 2]),
        ("{not json", "{not json"),
        ("", ""),
        ("5", "5"),  # valid JSON, but not a sub-document: kept as the string
        ('{"a.b": {"$c": 1}}', {"a%2Eb": {"%24c": 1}}),
    ],
)
def test_json_columns_become_sub_documents_or_stay_strings(raw: str, expected: object) -> None:
    assert typed_value(raw, "json") == expected


def test_json_column_keys_follow_the_one_reversible_key_rule() -> None:
    raw = '{"$set": {"a.b.c": [{"$x": "$value.with.dots"}]}, "plain": 1, "mid$dle": 2}'
    assert typed_value(raw, "json") == {
        "%24set": {"a%2Eb%2Ec": [{"%24x": "$value.with.dots"}]},
        "plain": 1,
        "mid$dle": 2,
    }


def test_a_studentmodule_row_is_typed(tmp_path: Path) -> None:
    row = '7\tproblem\tblock-v1:edX+DemoX+Demo_Course+type@problem+block@p1\t12\t{"attempts": 1}\t0.5\t2015-11-06 11:28:36\t2015-11-06 11:29:36\t1\tna\tcourse-v1:edX+DemoX+Demo_Course'
    path = write_table(tmp_path, f"{STUDENTMODULE_HEADER}\n{row}\n")
    assert read_table(path, "courseware_studentmodule") == [
        {
            "_id": 7,
            "id": 7,
            "module_type": "problem",
            "module_id": "block-v1:edX+DemoX+Demo_Course+type@problem+block@p1",
            "student_id": 12,
            "state": {"attempts": 1},
            "grade": 0.5,
            "created": datetime(2015, 11, 6, 11, 28, 36, tzinfo=UTC),
            "modified": datetime(2015, 11, 6, 11, 29, 36, tzinfo=UTC),
            "max_grade": 1.0,
            "done": "na",
            "course_id": "course-v1:edX+DemoX+Demo_Course",
        }
    ]


def test_user_id_map_keeps_the_hex_hash_id_and_types_the_user_id(tmp_path: Path) -> None:
    path = write_table(tmp_path, "hash_id\tid\tusername\n5f1d0a9e3c2b4a8f9e7d6c5b4a3f2e1d\t1\t007\n")
    assert read_table(path, "user_id_map") == [
        {"_id": 1, "hash_id": "5f1d0a9e3c2b4a8f9e7d6c5b4a3f2e1d", "id": 1, "username": "007"}
    ]
    newer = write_table(tmp_path, "hash_id\tuser_id\tusername\n00ff\t2\tana\n")
    assert read_table(newer, "user_id_map") == [
        {"_id": 2, "hash_id": "00ff", "user_id": 2, "username": "ana"}
    ]


def test_null_and_escapes_inside_rows(tmp_path: Path) -> None:
    path = write_table(tmp_path, "id\tname\tbio\n1\tNULL\tline one\\nline\\ttwo \\\\o/\n")
    assert read_table(path, "auth_userprofile") == [
        {"_id": 1, "id": 1, "name": None, "bio": "line one\nline\ttwo \\o/"}
    ]


def test_unknown_columns_and_unknown_tables_stay_strings(tmp_path: Path) -> None:
    path = write_table(tmp_path, "id\tshow_country\tteam_size\n1\t0\t4\n")
    assert read_table(path, "auth_user") == [{"_id": 1, "id": 1, "show_country": "0", "team_size": "4"}]
    assert read_table(path, "teams") == [{"_id": "t.sql:2", "id": "1", "show_country": "0", "team_size": "4"}]


def test_a_bad_int_rejects_the_row_naming_the_field(tmp_path: Path) -> None:
    path = write_table(
        tmp_path,
        "id\tuser_id\tcreated\tis_active\n1\t5\t2015-08-12 23:13:04\t1\n2\tfive\t2015-08-12 23:13:04\t1\n",
    )
    documents = read_table(path, "student_courseenrollment")
    assert documents[0]["user_id"] == 5 and documents[0]["_id"] == 1
    assert documents[1] == Rejection(
        "t.sql", 3, "bad int", field="user_id", detail="five", excerpt="2\tfive\t2015-08-12 23:13:04\t1"
    )


def test_a_row_with_the_wrong_field_count_is_rejected_and_the_rest_loads(tmp_path: Path) -> None:
    path = write_table(tmp_path, "id\tuser_id\n1\t2\n3\t4\t5\n6\n7\t8\n")
    assert read_table(path, "user_id_map") == [
        {"_id": 1, "id": 1, "user_id": 2},
        Rejection("t.sql", 3, "wrong field count", detail="expected 2 fields, got 3", excerpt="3\t4\t5"),
        Rejection("t.sql", 4, "wrong field count", detail="expected 2 fields, got 1", excerpt="6"),
        {"_id": 7, "id": 7, "user_id": 8},
    ]


def test_a_line_that_is_not_utf8_is_rejected_and_the_rest_loads(tmp_path: Path) -> None:
    path = write_table(tmp_path, b"id\tname\n1\tJos\xe9\n2\tJos\xc3\xa9\n")
    documents = read_table(path, "auth_user")
    assert isinstance(documents[0], Rejection)
    assert (documents[0].line, documents[0].reason) == (2, "not UTF-8")
    assert documents[1] == {"_id": 2, "id": 2, "name": "José"}


def test_an_empty_file_is_one_rejection(tmp_path: Path) -> None:
    path = write_table(tmp_path, b"")
    assert read_table(path, "auth_user") == [
        Rejection("t.sql", None, "empty file", detail="no header line", whole_file=True)
    ]


def test_a_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = write_table(tmp_path, "id\tusername\n")
    assert read_table(path, "auth_user") == []


def test_an_unreadable_header_is_one_rejection_for_the_file(tmp_path: Path) -> None:
    path = write_table(tmp_path, b"i\xffd\tname\n1\ta\n")
    documents = read_table(path, "auth_user")
    assert len(documents) == 1
    assert (documents[0].line, documents[0].reason) == (1, "not UTF-8")


def test_blank_trailing_lines_are_ignored_but_a_blank_middle_line_is_not(tmp_path: Path) -> None:
    path = write_table(tmp_path, "id\tname\n1\ta\n\n2\tb\n\n\n")
    assert read_table(path, "auth_user") == [
        {"_id": 1, "id": 1, "name": "a"},
        Rejection("t.sql", 3, "wrong field count", detail="expected 2 fields, got 1", excerpt=""),
        {"_id": 2, "id": 2, "name": "b"},
    ]


def test_crlf_line_endings_and_a_missing_final_newline(tmp_path: Path) -> None:
    path = write_table(tmp_path, "id\tname\r\n1\ta\r\n2\tb")
    assert read_table(path, "auth_user") == [
        {"_id": 1, "id": 1, "name": "a"},
        {"_id": 2, "id": 2, "name": "b"},
    ]


def test_documents_are_streamed_not_built_as_a_list(tmp_path: Path) -> None:
    path = write_table(tmp_path, "id\tname\n1\ta\n")
    documents = iter_table_documents(path, "auth_user")
    assert isinstance(documents, Iterator)
    assert next(documents) == SourceDocument(2, {"_id": 1, "id": 1, "name": "a"})


def test_real_auth_user_rows_are_typed() -> None:
    documents = read_table(sample_table("auth_user"), "auth_user")
    assert [document["username"] for document in documents] == ["honor", "audit", "verified", "staff"]
    staff = documents[3]
    assert staff["id"] == 4 and staff["is_superuser"] is True and staff["is_staff"] is True
    assert staff["last_login"] == datetime(2015, 9, 11, 13, 36, 15, tzinfo=UTC)
    assert staff["email_key"] is None and staff["date_of_birth"] is None
    assert staff["consecutive_days_visit_count"] == "0"


def test_real_studentmodule_state_column_parses_after_unescaping() -> None:
    documents = read_table(sample_table("courseware_studentmodule"), "courseware_studentmodule")
    assert [document["state"] for document in documents[1:]] == [
        {"position": 2},
        {"position": 4},
        {"position": 1},
    ]
    answer_text = documents[0]["state"]["student_answers"]["5b60fa3470a2440eafeee24d6806eb1a_2_1"]
    answer = json.loads(answer_text)  # the answer is itself JSON, holding JSON in "state"
    assert answer["answer"] == "correct"
    assert json.loads(answer["state"])["answer"] == "OC(O)C(Cl)(Cl)Cl"
    assert "\nM  END\n" in json.loads(answer["state"])["state"]
    assert documents[0]["grade"] is None and documents[0]["student_id"] == 1


def test_real_userprofile_meta_is_a_sub_document_or_the_empty_string() -> None:
    documents = read_table(sample_table("auth_userprofile"), "auth_userprofile")
    assert documents[0]["meta"] == {"old_emails": [["honor@example.com"]]}
    assert documents[0]["year_of_birth"] == 1980
    assert [document["meta"] for document in documents[1:]] == ["", "", ""]
    assert [document["year_of_birth"] for document in documents[1:]] == [None, None, None]


def test_real_enrollment_and_certificate_rows_are_typed() -> None:
    enrollments = read_table(sample_table("student_courseenrollment"), "student_courseenrollment")
    assert [(row["user_id"], row["is_active"], row["mode"]) for row in enrollments] == [
        (1, True, "honor"),
        (2, True, "audit"),
        (3, True, "verified"),
        (4, True, "honor"),
    ]
    certificates = read_table(
        sample_table("certificates_generatedcertificate"), "certificates_generatedcertificate"
    )
    assert [row["grade"] for row in certificates] == [0.27, 0.0, 0.0, 0.51]
    assert certificates[0]["created_date"] == datetime(2015, 3, 18, 4, 55, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "table",
    [
        "auth_user",
        "auth_userprofile",
        "certificates_generatedcertificate",
        "courseware_studentmodule",
        "student_courseenrollment",
        "wiki_articlerevision",
        "teams",
    ],
)
def test_every_real_sample_row_loads(table: str) -> None:
    documents = read_table(sample_table(table), table)
    assert documents and not [document for document in documents if isinstance(document, Rejection)]


def test_real_wiki_revision_content_has_its_escapes_resolved() -> None:
    documents = read_table(sample_table("wiki_articlerevision"), "wiki_articlerevision")
    assert documents[0]["content"] == "<h2Instructions:</h2>\r\nThis is the wiki for **edX**."


def test_every_ingested_table_declares_its_key_in_one_place() -> None:
    assert set(TABLE_ID_COLUMNS) == set(TABLE_COLLECTIONS)
    assert all(columns and columns[0] == "id" for columns in TABLE_ID_COLUMNS.values())
    assert TABLE_ID_COLUMNS["user_id_map"] == ("id", "user_id")


def test_a_row_s_id_is_its_table_key_and_the_same_on_every_read(tmp_path: Path) -> None:
    path = write_table(
        tmp_path, "id\tuser_id\tcreated\tis_active\n41\t5\t2015-08-12 23:13:04\t1\n\n42\t6\tNULL\t0\n"
    )
    first = list(iter_table_documents(path, "student_courseenrollment"))
    assert [
        (record.line, record.document["_id"]) for record in first if isinstance(record, SourceDocument)
    ] == [
        (2, 41),
        (4, 42),
    ]
    assert list(iter_table_documents(path, "student_courseenrollment")) == first


def test_a_file_without_its_key_column_and_a_table_without_a_key_get_file_and_line_ids(
    tmp_path: Path,
) -> None:
    path = write_table(
        tmp_path, "username\temail\nana\ta@example.org\nbob\tb@example.org\n", name="users.sql"
    )
    assert [document["_id"] for document in read_table(path, "auth_user")] == ["users.sql:2", "users.sql:3"]
    assert [document["_id"] for document in read_table(path, "wiki_article")] == [
        "users.sql:2",
        "users.sql:3",
    ]


def test_a_row_whose_key_is_null_is_rejected_as_missing_id(tmp_path: Path) -> None:
    path = write_table(tmp_path, "id\tusername\nNULL\tana\n2\tbob\n")
    assert read_table(path, "auth_user") == [
        Rejection("t.sql", 2, "missing id", field="id", detail="NULL key", excerpt="NULL\tana"),
        {"_id": 2, "id": 2, "username": "bob"},
    ]


def test_a_repeated_key_is_read_as_is_the_loader_rejects_the_second_as_a_duplicate(tmp_path: Path) -> None:
    path = write_table(tmp_path, "id\tusername\n1\tana\n1\tbob\n")
    assert [document["_id"] for document in read_table(path, "auth_user")] == [1, 1]


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("id\tusername\temail\tusername", "username"),
    ],
)
def test_a_header_naming_a_column_twice_rejects_the_file_once(
    tmp_path: Path, header: str, column: str
) -> None:
    path = write_table(tmp_path, f"{header}\n1\ta\tb\tc\n2\td\te\tf\n\n")
    records = list(iter_table_documents(path, "auth_user"))
    assert len(records) == 1
    rejection = records[0]
    assert isinstance(rejection, Rejection)
    assert (rejection.file, rejection.line, rejection.reason, rejection.field) == (
        "t.sql",
        1,
        "duplicate column",
        column,
    )
    assert "none of the file's 2 rows is loaded" in rejection.detail


def test_real_sample_rows_take_their_id_column_as_id() -> None:
    for table in ("auth_user", "auth_userprofile", "student_courseenrollment"):
        documents = read_table(sample_table(table), table)
        assert [document["_id"] for document in documents] == [document["id"] for document in documents]
        assert len({document["_id"] for document in documents}) == len(documents)


@pytest.mark.parametrize(
    ("column", "credential"),
    [
        ("password", True),
        ("PASSWORD", True),
        ("old_password_hash", True),
        ("api_key", True),
        ("activation_key", True),
        ("auth_token", True),
        ("client_secret", True),
        ("username", False),
        ("hash_id", False),  # user_id_map's anonymous id, not a credential
        ("key", False),  # certificates' verification key is a public code
        ("email", False),
    ],
)
def test_credential_columns_are_recognised_by_name(column: str, credential: bool) -> None:
    assert is_credential_column(column) is credential


def test_credential_columns_are_dropped_from_every_row(tmp_path: Path) -> None:
    path = write_table(tmp_path, b"id\tusername\tpassword\n1\tana\tpbkdf2_sha256$secret\n2\tbob\t!\n")
    documents = read_table(path, "auth_user")
    assert documents == [
        {"_id": 1, "id": 1, "username": "ana"},
        {"_id": 2, "id": 2, "username": "bob"},
    ]
    assert credential_columns(path) == ["password"]
