"""Flattening a course's block tree: splicing, positions, parent_data, missing children, real samples."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from analytics.core.accounting import Rejection
from analytics.edx.course_structure import flatten_course_structure, short_block_id
from tests.samples import edx_sample


def sample_json(relative_path: str) -> dict[str, Any]:
    """A real sample file; its absence is a failure, never a skip."""
    path = edx_sample(f"edx-analytics-pipeline/{relative_path}")
    return json.loads(path.read_text(encoding="utf-8"))


def key(category: str, block_id: str) -> str:
    return f"block-v1:edX+DemoX+Demo_Course+type@{category}+block@{block_id}"


def block(
    category: str, children: Sequence[str] = (), display_name: str | None = None, **metadata: Any
) -> dict:
    return {
        "category": category,
        "children": list(children),
        "metadata": {"display_name": display_name or category, **metadata},
    }


COURSE, CHAPTER_1, CHAPTER_2 = key("course", "course"), key("chapter", "ch1"), key("chapter", "ch2")
SEQUENTIAL_1, SEQUENTIAL_2, SEQUENTIAL_3 = (
    key("sequential", "s1"),
    key("sequential", "s2"),
    key("sequential", "s3"),
)
VERTICAL_1, VERTICAL_2 = key("vertical", "v1"), key("vertical", "v2")
CONDITIONAL, WRAPPER, INNER_WRAPPER = key("conditional", "c1"), key("wrapper", "w1"), key("wrapper", "w2")
PROBLEM, HTML, VIDEO = key("problem", "p1"), key("html", "h1"), key("video", "vid1")

# course
#   chapter 1: sequential 1, conditional [sequential 2, wrapper [sequential 3]]
#     sequential 1: vertical 1 [problem, wrapper 2 [html]], vertical 2 [video]
#   chapter 2
STRUCTURE = {
    COURSE: block("course", [CHAPTER_1, CHAPTER_2], "Demo course"),
    CHAPTER_1: block("chapter", [SEQUENTIAL_1, CONDITIONAL], "Week 1"),
    CHAPTER_2: block("chapter", [], "Week 2"),
    SEQUENTIAL_1: block("sequential", [VERTICAL_1, VERTICAL_2], "Lesson 1", graded=True),
    CONDITIONAL: block("conditional", [SEQUENTIAL_2, WRAPPER]),
    SEQUENTIAL_2: block("sequential", [], "Lesson 2"),
    WRAPPER: block("wrapper", [SEQUENTIAL_3]),
    SEQUENTIAL_3: block("sequential", [], "Lesson 3"),
    VERTICAL_1: block("vertical", [PROBLEM, INNER_WRAPPER], "Unit 1"),
    INNER_WRAPPER: block("wrapper", [HTML]),
    VERTICAL_2: block("vertical", [VIDEO], "Unit 2"),
    PROBLEM: block("problem", [], "Problem 1"),
    HTML: block("html", [], "Text"),
    VIDEO: block("video", [], "Video"),
}


def documents_by_id(raw: dict, source: str = "structure.json") -> dict[str, dict]:
    result = flatten_course_structure(raw, source)
    return {document["_id"]: document for document in result.blocks}


def test_conditional_and_wrapper_blocks_are_spliced_out() -> None:
    documents = documents_by_id(STRUCTURE)
    assert set(documents) == set(STRUCTURE) - {CONDITIONAL, WRAPPER, INNER_WRAPPER}
    assert documents[CHAPTER_1]["children"] == [SEQUENTIAL_1, SEQUENTIAL_2, SEQUENTIAL_3]
    assert documents[VERTICAL_1]["children"] == [PROBLEM, HTML]
    assert documents[SEQUENTIAL_3]["parent"] == CHAPTER_1
    assert documents[HTML]["parent"] == VERTICAL_1


def test_documents_carry_ids_category_display_name_parent_and_metadata() -> None:
    sequential = documents_by_id(STRUCTURE)[SEQUENTIAL_1]
    assert sequential["block_id"] == "s1"
    assert sequential["category"] == "sequential"
    assert sequential["display_name"] == "Lesson 1"
    assert sequential["parent"] == CHAPTER_1
    assert sequential["metadata"] == {"display_name": "Lesson 1", "graded": True}
    assert documents_by_id(STRUCTURE)[COURSE]["parent"] is None


def test_parent_data_names_each_level_above_with_positions_after_splicing() -> None:
    documents = documents_by_id(STRUCTURE)
    assert documents[HTML]["parent_data"] == {
        "chapter_id": "ch1",
        "chapter_display_name": "Week 1",
        "chapter_position": 0,
        "sequential_id": "s1",
        "sequential_display_name": "Lesson 1",
        "sequential_position": 0,
        "vertical_id": "v1",
        "vertical_display_name": "Unit 1",
        "vertical_position": 0,
    }
    assert documents[VIDEO]["parent_data"]["vertical_position"] == 1
    assert documents[SEQUENTIAL_3]["parent_data"] == {
        "chapter_id": "ch1",
        "chapter_display_name": "Week 1",
        "chapter_position": 0,
    }


def test_blocks_with_no_chapter_sequential_or_vertical_above_have_empty_parent_data() -> None:
    documents = documents_by_id(STRUCTURE)
    assert documents[COURSE]["parent_data"] == {}
    assert documents[CHAPTER_2]["parent_data"] == {}


def test_a_missing_child_is_reported_and_dropped_while_the_rest_loads() -> None:
    absent = key("vertical", "gone")
    raw = {**STRUCTURE, SEQUENTIAL_2: block("sequential", [absent], "Lesson 2")}
    result = flatten_course_structure(raw, "structure.json")
    assert result.rejections == [
        Rejection(
            "structure.json", None, "missing child", detail=f"{SEQUENTIAL_2} -> {absent}", quality_only=True
        )
    ]
    assert len(result.blocks) == len(STRUCTURE) - 3
    assert next(document for document in result.blocks if document["_id"] == SEQUENTIAL_2)["children"] == []


def test_a_missing_child_of_a_spliced_block_names_the_spliced_block() -> None:
    absent = key("sequential", "gone")
    raw = {**STRUCTURE, WRAPPER: block("wrapper", [absent, SEQUENTIAL_3])}
    result = flatten_course_structure(raw, "structure.json")
    assert [rejection.detail for rejection in result.rejections] == [f"{WRAPPER} -> {absent}"]
    assert documents_by_id(raw)[CHAPTER_1]["children"] == [SEQUENTIAL_1, SEQUENTIAL_2, SEQUENTIAL_3]


def test_unreachable_blocks_get_documents_with_the_ancestors_they_have() -> None:
    raw = {
        SEQUENTIAL_1: block("sequential", [VERTICAL_1], "Orphan lesson"),
        VERTICAL_1: block("vertical", [PROBLEM], "Unit 1"),
        PROBLEM: block("problem", [], "Problem 1"),
    }
    documents = documents_by_id(raw)
    assert documents[SEQUENTIAL_1]["parent"] is None
    assert documents[PROBLEM]["parent_data"] == {
        "sequential_id": "s1",
        "sequential_display_name": "Orphan lesson",
        "sequential_position": None,
        "vertical_id": "v1",
        "vertical_display_name": "Unit 1",
        "vertical_position": 0,
    }


def test_a_shared_block_takes_its_first_parent() -> None:
    raw = {
        CHAPTER_1: block("chapter", [SEQUENTIAL_1, SEQUENTIAL_2], "Week 1"),
        SEQUENTIAL_1: block("sequential", [PROBLEM]),
        SEQUENTIAL_2: block("sequential", [VERTICAL_1, PROBLEM]),
        VERTICAL_1: block("vertical", []),
        PROBLEM: block("problem", []),
    }
    documents = documents_by_id(raw)
    assert documents[PROBLEM]["parent"] == SEQUENTIAL_1
    assert documents[SEQUENTIAL_2]["children"] == [VERTICAL_1, PROBLEM]


def test_a_wrapper_that_contains_itself_does_not_loop() -> None:
    raw = {
        CHAPTER_1: block("chapter", [WRAPPER]),
        WRAPPER: block("wrapper", [WRAPPER, SEQUENTIAL_1]),
        SEQUENTIAL_1: block("sequential", []),
    }
    assert documents_by_id(raw)[CHAPTER_1]["children"] == [SEQUENTIAL_1]


def test_a_block_that_is_not_an_object_is_rejected() -> None:
    raw = {CHAPTER_1: block("chapter", [SEQUENTIAL_1]), SEQUENTIAL_1: "oops"}
    result = flatten_course_structure(raw, "structure.json")
    assert [rejection.reason for rejection in result.rejections] == ["bad block", "missing child"]
    assert [document["_id"] for document in result.blocks] == [CHAPTER_1]


def test_metadata_keys_are_made_safe_for_mongodb() -> None:
    raw = {CHAPTER_1: {"category": "chapter", "children": [], "metadata": {"xml.attributes": {"$x": 1}}}}
    assert documents_by_id(raw)[CHAPTER_1]["metadata"] == {"xml%2Eattributes": {"%24x": 1}}


def test_the_blocks_api_shape_is_normalised_first() -> None:
    raw = {
        "root": COURSE,
        "blocks": {
            COURSE: {"id": COURSE, "type": "course", "display_name": "Demo", "children": [CHAPTER_1]},
            CHAPTER_1: {
                "id": CHAPTER_1,
                "type": "chapter",
                "display_name": "Week 1",
                "children": [CONDITIONAL],
            },
            CONDITIONAL: {"id": CONDITIONAL, "type": "conditional", "children": [SEQUENTIAL_1]},
            SEQUENTIAL_1: {
                "id": SEQUENTIAL_1,
                "type": "sequential",
                "display_name": "Lesson",
                "graded": True,
            },
        },
    }
    documents = documents_by_id(raw)
    assert set(documents) == {COURSE, CHAPTER_1, SEQUENTIAL_1}
    assert documents[CHAPTER_1]["children"] == [SEQUENTIAL_1]
    assert documents[SEQUENTIAL_1]["display_name"] == "Lesson"
    assert documents[SEQUENTIAL_1]["metadata"] == {"graded": True}
    assert documents[SEQUENTIAL_1]["parent_data"]["chapter_position"] == 0


@pytest.mark.parametrize(
    ("block_key", "short_id"),
    [
        (key("chapter", "1414ffd5143b4b508f739b563ab468b7"), "1414ffd5143b4b508f739b563ab468b7"),
        ("block-v1:edX+DemoX+Demo_Course+type@course+block@course", "course"),
        ("i4x://edX/DemoX/chapter/interactive_demonstrations", "interactive_demonstrations"),
    ],
)
def test_short_block_id(block_key: str, short_id: str) -> None:
    assert short_block_id(block_key) == short_id


def test_the_real_course_structure_sample_loads_one_chapter_and_reports_one_missing_child() -> None:
    raw = sample_json("obfuscation_state/edX-DemoX-Demo_Course-course_structure-acceptance.json")
    result = flatten_course_structure(raw, "edX-DemoX-Demo_Course-course_structure-acceptance.json")
    chapter = key("chapter", "1414ffd5143b4b508f739b563ab468b7")
    assert result.blocks == [
        {
            "_id": chapter,
            "block_id": "1414ffd5143b4b508f739b563ab468b7",
            "category": "chapter",
            "display_name": "About Exams and Certificates",
            "children": [],
            "parent": None,
            "parent_data": {},
            "metadata": {"display_name": "About Exams and Certificates", "start": "1970-01-01T05:00:00Z"},
        }
    ]
    assert result.rejections == [
        Rejection(
            "edX-DemoX-Demo_Course-course_structure-acceptance.json",
            None,
            "missing child",
            detail=f"{chapter} -> {key('sequential', 'workflow')}",
            quality_only=True,
        )
    ]


def test_the_real_blocks_api_sample_with_a_full_hierarchy() -> None:
    raw = sample_json("course_blocks/course1.json")
    result = flatten_course_structure(raw, "course1.json")
    assert result.rejections == []
    assert len(result.blocks) == 5
    drag_and_drop = next(document for document in result.blocks if document["category"] == "drag-and-drop-v2")
    assert drag_and_drop["display_name"] == "Drag and Drop"
    assert drag_and_drop["parent_data"]["chapter_display_name"] == "قسم"
    assert drag_and_drop["parent_data"]["sequential_id"] == "f5188c028bb748ee8f51e534231fd3be"
    assert drag_and_drop["parent_data"]["vertical_id"] == "4ce7b965d19e4cbd9fc8187a44df7f31"


def test_the_real_demo_course_blocks_have_sequentials_directly_under_the_course() -> None:
    result = flatten_course_structure(
        sample_json("course_blocks/demo_course_blocks.json"), "demo_course_blocks.json"
    )
    assert result.rejections == []
    assert len(result.blocks) == 51
    verticals = [document for document in result.blocks if document["category"] == "vertical"]
    assert len(verticals) == 39
    assert all(
        set(document["parent_data"]) == {"sequential_id", "sequential_display_name", "sequential_position"}
        for document in verticals
    )
    workflow_units = [
        document for document in verticals if document["parent_data"]["sequential_id"] == "workflow"
    ]
    assert {document["parent_data"]["sequential_position"] for document in workflow_units} == {5}
