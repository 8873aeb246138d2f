"""The research data package (scripts/demo_data/edx_package.py, edx_tables.py): edX's headers,
MySQL escaping and NULL literals, JSON state, the course_structure hierarchy, the mongoexport
forum dump, checked against the real edX samples and the manifest's counts."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from scripts.demo_data import edx_tables

from .conftest import (
    COURSE_CODES,
    COURSE_IDS,
    MISSING_SAMPLES,
    ORG,
    PACKAGE_TABLES,
    PIPELINE_SAMPLES,
    mysql_unescape,
    package_file,
    read_tsv,
)


@pytest.mark.parametrize("code", COURSE_CODES)
@pytest.mark.parametrize("table", PACKAGE_TABLES)
def test_sql_tables_have_header_consistent_fields_and_manifest_counts(
    demo: Path, manifest: dict, code: str, table: str
) -> None:
    header, rows = read_tsv(package_file(demo, code, table))
    assert header == list(edx_tables.TABLE_HEADERS[table])
    assert rows, "no rows"
    assert {len(row) for row in rows} == {len(header)}
    course_id = f"course-v1:{ORG}+{code}+2024_T1"
    assert manifest["courses"][course_id]["tables"][table]["rows"] == len(rows)


@pytest.mark.parametrize("table", [table for table in PACKAGE_TABLES if table != "user_id_map"])
def test_sql_headers_are_the_real_edx_headers(demo: Path, table: str) -> None:
    sample = PIPELINE_SAMPLES / "obfuscation_state" / f"edX-DemoX-Demo_Course-{table}-acceptance.sql"
    if not sample.exists():
        pytest.fail(MISSING_SAMPLES)
    assert read_tsv(package_file(demo, "DATA101x", table))[0] == sample.read_text().splitlines()[0].split(
        "\t"
    )


def test_user_id_map_header(demo: Path) -> None:
    assert read_tsv(package_file(demo, "DATA101x", "user_id_map"))[0] == ["hash_id", "id", "username"]


@pytest.mark.parametrize(
    "table", ["auth_user", "auth_userprofile", "courseware_studentmodule", "wiki_article"]
)
def test_sql_tables_hold_null_literals(demo: Path, table: str) -> None:
    _, rows = read_tsv(package_file(demo, "DATA101x", table))
    assert any("NULL" in row for row in rows)


def test_sql_values_are_mysql_escaped(demo: Path) -> None:
    header, rows = read_tsv(package_file(demo, "DATA101x", "auth_userprofile"))
    values = [mysql_unescape(field) for row in rows for field in row]
    assert any(value and "\n" in value for value in values), "no escaped newline"
    assert any(value and "\t" in value for value in values), "no escaped tab"
    assert any(value and "\\" in value for value in values), "no escaped backslash"
    names = [mysql_unescape(row[header.index("name")]) for row in rows]
    assert any(name and not name.isascii() for name in names), "names should include non-ASCII letters"


def test_studentmodule_state_is_json_after_unescaping(demo: Path) -> None:
    for code in COURSE_CODES:
        header, rows = read_tsv(package_file(demo, code, "courseware_studentmodule"))
        states = [json.loads(mysql_unescape(row[header.index("state")]) or "") for row in rows]
        assert all(isinstance(state, dict) for state in states)
        answers = [answer for state in states for answer in state.get("student_answers", {}).values()]
        nested = [
            json.loads(answer) for answer in answers if isinstance(answer, str) and answer.startswith("{")
        ]
        assert nested and all("state" in answer for answer in nested), "no JSON answer nested in state"
        assert {row[header.index("module_type")] for row in rows} >= {
            "problem",
            "video",
            "sequential",
            "chapter",
        }


def test_unescaping_reads_the_real_studentmodule_sample(demo: Path) -> None:
    sample = (
        PIPELINE_SAMPLES
        / "obfuscation_state"
        / "edX-DemoX-Demo_Course-courseware_studentmodule-acceptance.sql"
    )
    if not sample.exists():
        pytest.fail(MISSING_SAMPLES)
    header, rows = read_tsv(sample)
    assert all(isinstance(json.loads(mysql_unescape(row[header.index("state")]) or ""), dict) for row in rows)


def test_some_users_are_enrolled_in_several_courses(demo: Path, manifest: dict) -> None:
    users = [
        {row[1] for row in read_tsv(package_file(demo, code, "user_id_map"))[1]} for code in COURSE_CODES
    ]
    assert users[0] & users[1]
    assert manifest["totals"]["users_in_several_courses"] == len(users[0] & users[1])


def test_course_structure_has_the_edx_hierarchy(demo: Path, manifest: dict) -> None:
    for code, course_id in zip(COURSE_CODES, COURSE_IDS, strict=True):
        path = demo / "package" / f"{ORG}-{code}-2024_T1-course_structure-prod-analytics.json"
        structure = json.loads(path.read_text())
        key_pattern = re.compile(rf"^block-v1:{ORG}\+{code}\+2024_T1\+type@[a-z_]+\+block@[0-9a-z]+$")
        assert all(key_pattern.match(key) for key in structure)
        for key, block in structure.items():
            assert set(block) == {"category", "children", "metadata"}
            assert "display_name" in block["metadata"]
            assert f"type@{block['category']}+" in key
            assert all(child in structure for child in block["children"])
        categories = Counter(block["category"] for block in structure.values())
        assert categories["course"] == 1
        for special in ("conditional", "wrapper"):
            blocks = [block for block in structure.values() if block["category"] == special]
            assert blocks and all(block["children"] for block in blocks)
        assert has_chain(structure, ["course", "chapter", "sequential", "vertical", "problem"])
        assert has_chain(structure, ["course", "chapter", "sequential", "vertical", "video"])
        assert has_chain(structure, ["course", "chapter", "sequential", "vertical", "html"])
        parents = {child: block["category"] for block in structure.values() for child in block["children"]}
        assert {
            parents[key]
            for key, block in structure.items()
            if block["category"] in ("conditional", "wrapper")
        } <= {
            "vertical",
            "sequential",
        }
        entry = manifest["courses"][course_id]["course_structure"]
        assert entry["blocks"] == len(structure)
        assert entry["blocks_by_category"] == dict(sorted(categories.items()))


def has_chain(structure: dict, categories: list[str]) -> bool:
    """Whether blocks of these categories are each a direct child of the one before."""
    level = [key for key, block in structure.items() if block["category"] == categories[0]]
    for category in categories[1:]:
        level = [
            child
            for key in level
            for child in structure[key]["children"]
            if structure[child]["category"] == category
        ]
    return bool(level)


def test_forum_dump_is_mongoexport_extended_json(demo: Path, manifest: dict) -> None:
    for code, course_id in zip(COURSE_CODES, COURSE_IDS, strict=True):
        lines = (
            (demo / "package" / f"{ORG}-{code}-2024_T1-prod.mongo").read_text(encoding="utf-8").splitlines()
        )
        documents = [json.loads(line) for line in lines]
        threads = {doc["_id"]["$oid"] for doc in documents if doc["_type"] == "CommentThread"}
        comments = [doc for doc in documents if doc["_type"] == "Comment"]
        assert threads and comments
        for document in documents:
            assert re.fullmatch(r"[0-9a-f]{24}", document["_id"]["$oid"])
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document["created_at"]["$date"])
            assert document["course_id"] == course_id
            assert {"author_id", "author_username", "body", "votes", "updated_at"} <= document.keys()
        assert all(comment["comment_thread_id"]["$oid"] in threads for comment in comments)
        forum = manifest["courses"][course_id]["forum"]
        assert forum["documents"] == len(documents)
        assert forum["threads"] == len(threads)
        assert forum["responses"] + forum["comments"] == len(comments)


def test_forum_dump_keys_match_the_real_sample(demo: Path) -> None:
    sample = PIPELINE_SAMPLES / "obfuscation_state" / "edX-DemoX-Demo_Course-acceptance.mongo"
    if not sample.exists():
        pytest.fail(MISSING_SAMPLES)
    real = [json.loads(line) for line in sample.read_text().splitlines()]
    ours = [
        json.loads(line)
        for line in (demo / "package" / f"{ORG}-DATA101x-2024_T1-prod.mongo").read_text().splitlines()
    ]
    real_reply, ours_reply = (
        next(doc for doc in docs if "parent_id" in doc and doc["_type"] == "Comment") for docs in (real, ours)
    )
    assert set(real_reply) <= set(ours_reply)
