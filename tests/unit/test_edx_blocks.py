"""Block matching: every reference style and URL style, on real block keys and real tracking events.

The structures are the real Course Blocks API samples (``course_blocks/*.json``) flattened as the
ingestion flattens them; the events are lines of the real tracking logs (``tracking_logs/*.log``),
read at test time and parsed by the master load's ``parse_tracking_line``, so they have the
master's shape. The real DemoX structure has no video blocks, so one is added under the real
unit that the real video events play in (``vertical_0270f6de40fc`` of ``edx_introduction``), with
the real video id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.core.accounting import Rejection
from analytics.edx.blocks import BlockIndex, block_references, enrichment, match_block, reference_ids
from analytics.edx.course_structure import flatten_course_structure
from analytics.edx.tracking_lines import parse_tracking_line

LOADED_AT = datetime(2026, 1, 1, tzinfo=UTC)
DEMO = "block-v1:edX+DemoX+Demo_Course"
VIDEO_ID = "0b9e39477cf34507a7a48f74be381fdd"  # the video of the real DemoX video events
VIDEO = f"{DEMO}+type@video+block@{VIDEO_ID}"
UNIT = f"{DEMO}+type@vertical+block@vertical_0270f6de40fc"
INTRODUCTION = f"{DEMO}+type@sequential+block@edx_introduction"
LESSON_1 = f"{DEMO}+type@sequential+block@19a30717eff543078a5d94ae9d6c18a5"
DND = "block-v1:OpenCraft+DnDv2101x+2016"
DND_CHAPTER = f"{DND}+type@chapter+block@d18abaffdfa44a1c9177a9e084d8c4a7"
DND_SEQUENTIAL = f"{DND}+type@sequential+block@f5188c028bb748ee8f51e534231fd3be"
DND_UNIT = f"{DND}+type@vertical+block@4ce7b965d19e4cbd9fc8187a44df7f31"
DND_PROBLEM = f"{DND}+type@drag-and-drop-v2+block@3bfc485604ba44f48ca653ae4907b76b"


def blocks_of(samples_dir: Path, name: str, extra: dict[str, dict] | None = None) -> list[dict]:
    raw = json.loads((samples_dir / "edx-analytics-pipeline" / "course_blocks" / name).read_text("utf-8"))
    for key, block in (extra or {}).items():
        raw["blocks"][key] = block
        parent, child = block.pop("_parent"), key
        raw["blocks"][parent].setdefault("children", []).append(child)
    return flatten_course_structure(raw, name).blocks


@pytest.fixture(scope="module")
def demo_index(samples_dir: Path) -> BlockIndex:
    video = {"type": "video", "display_name": "Welcome to the Demo", "_parent": UNIT}
    return BlockIndex.from_documents(blocks_of(samples_dir, "demo_course_blocks.json", {VIDEO: video}))


@pytest.fixture(scope="module")
def dnd_blocks(samples_dir: Path) -> list[dict]:
    return blocks_of(samples_dir, "course1.json")


@pytest.fixture(scope="module")
def dnd_index(dnd_blocks: list[dict]) -> BlockIndex:
    return BlockIndex.from_documents(dnd_blocks)


def sample_events(samples_dir: Path, log: str) -> list[dict[str, Any]]:
    """The master documents of a real log's lines, parsed by the master load's own line parser."""
    path = samples_dir / "edx-analytics-pipeline" / "tracking_logs" / log
    documents = [
        parse_tracking_line(raw, log, number, LOADED_AT)
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1)
    ]
    return [document for document in documents if not isinstance(document, Rejection)]  # '#' comments


def sample_event(samples_dir: Path, log: str, accept: Callable[[dict], bool]) -> dict[str, Any]:
    matching = [event for event in sample_events(samples_dir, log) if accept(event)]
    assert matching, f"no such event in {log}"
    return matching[0]


ENGAGEMENT_LOG = "module_engagement_acceptance_tracking_20150413.log"


def block_key(block: Any) -> str | None:
    return None if block is None else block["_id"]


# --- reference forms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (VIDEO, [("video", VIDEO_ID)]),
        (f"i4x://edX/DemoX/video/{VIDEO_ID}", [("video", VIDEO_ID)]),
        (f"i4x:;_;_edX;_DemoX;_video;_{VIDEO_ID}", [("video", VIDEO_ID)]),
        (f"i4x-edX-DemoX-video-{VIDEO_ID}", [("video", VIDEO_ID), (None, f"i4x-edX-DemoX-video-{VIDEO_ID}")]),
        (
            "i4x-UC-BerkeleyX-CS169-video-abc",
            [("CS169", "video-abc"), ("video", "abc"), (None, "i4x-UC-BerkeleyX-CS169-video-abc")],
        ),
        (DND_PROBLEM, [("drag-and-drop-v2", "3bfc485604ba44f48ca653ae4907b76b")]),
        (f" {VIDEO_ID} ", [(None, VIDEO_ID)]),
        ("", []),
    ],
)
def test_every_key_form_reduces_to_its_short_id(reference: str, expected: list) -> None:
    assert reference_ids(reference) == expected


@pytest.mark.parametrize(
    "reference",
    [
        VIDEO,
        f"i4x://edX/DemoX/video/{VIDEO_ID}",
        f"i4x:;_;_edX;_DemoX;_video;_{VIDEO_ID}",
        f"i4x-edX-DemoX-video-{VIDEO_ID}",
        VIDEO_ID,
        f"block-v1:edX+DemoX+Demo_Course_2015+type@video+block@{VIDEO_ID}",  # another run of the course
    ],
)
def test_every_key_form_finds_the_block(demo_index: BlockIndex, reference: str) -> None:
    assert block_key(demo_index.find(reference)) == VIDEO


def test_a_dashed_id_with_a_hyphenated_org_finds_its_block() -> None:
    index = BlockIndex.from_documents(
        [{"_id": "i4x://UC-BerkeleyX/CS169/video/abc", "block_id": "abc", "category": "video"}]
    )
    assert block_key(index.find("i4x-UC-BerkeleyX-CS169-video-abc")) == "i4x://UC-BerkeleyX/CS169/video/abc"


def test_a_short_id_shared_by_two_categories_is_told_apart_by_the_reference_s_category() -> None:
    # Old courses name blocks per category: i4x://org/course/video/intro and .../problem/intro coexist.
    index = BlockIndex.from_documents(
        [
            {"_id": "i4x://edX/Old/problem/intro", "block_id": "intro", "category": "problem"},
            {"_id": "i4x://edX/Old/video/intro", "block_id": "intro", "category": "video"},
        ]
    )
    assert block_key(index.find("i4x-edX-Old-video-intro")) == "i4x://edX/Old/video/intro"
    assert block_key(index.find("block-v1:edX+Old+run+type@video+block@intro")) == "i4x://edX/Old/video/intro"
    assert block_key(index.find("i4x://edX/Old/problem/intro")) == "i4x://edX/Old/problem/intro"
    assert block_key(index.find("intro")) == "i4x://edX/Old/problem/intro"  # no category: the first


def test_unknown_references_find_nothing(demo_index: BlockIndex) -> None:
    assert demo_index.find("553024d156c02c8f55000001") is None  # a forum thread id
    assert demo_index.find(f"{DEMO}+type@video+block@nope") is None
    assert demo_index.find("x_module") is None


# --- where an event names its block: real events ----------------------------------------------


def test_real_video_events_name_their_video_by_dashed_or_bare_id(
    samples_dir: Path, demo_index: BlockIndex
) -> None:
    dashed = sample_event(
        samples_dir,
        ENGAGEMENT_LOG,
        lambda e: e["event_type"] == "load_video" and VIDEO_ID in e["event"]["id"],
    )
    bare = sample_event(
        samples_dir,
        "video_timeline.log",
        lambda e: e["event_type"] == "play_video" and e["event"]["id"] == VIDEO_ID,
    )

    assert block_references(dashed)[0] == f"i4x-edX-DemoX-video-{VIDEO_ID}"
    assert block_references(bare)[0] == VIDEO_ID
    # event.id comes before the page's courseware URL (the sequential, then the chapter)
    assert block_references(bare)[1:] == ["edx_introduction", "d8a6192ade314473a78242dfeedfbf5b"]
    assert block_key(match_block(dashed, demo_index)) == VIDEO
    assert block_key(match_block(bare, demo_index)) == VIDEO


def test_a_real_server_problem_check_names_its_problem_in_event_problem_id(samples_dir: Path) -> None:
    event = sample_event(
        samples_dir,
        "event_export_tracking.log",
        lambda e: e["event_type"] == "problem_check" and e["event_source"] == "server",
    )
    problem = "block-v1:AcceptanceX+DemoX+T1_2014+type@problem+block@9cee77a606ea4c1aa5440e0ea5d0f618"
    index = BlockIndex.from_documents(
        [{"_id": problem, "block_id": problem.rsplit("@", 1)[1], "category": "problem"}]
    )

    assert block_references(event) == [problem]
    assert block_key(match_block(event, index)) == problem


def test_real_handler_urls_name_their_block_in_every_key_style(
    samples_dir: Path, demo_index: BlockIndex
) -> None:
    quoted = sample_event(
        samples_dir,
        ENGAGEMENT_LOG,
        lambda e: f"xblock/i4x:;_;_edX;_DemoX;_video;_{VIDEO_ID}" in e["event_type"],
    )
    studio = sample_event(
        samples_dir, ENGAGEMENT_LOG, lambda e: e["event_type"].startswith("/xblock/i4x://edX/DemoX/vertical/")
    )
    modern = sample_event(
        samples_dir, "obfuscation_tracking.log", lambda e: "/xblock/block-v1:" in e["event_type"]
    )

    assert block_references(quoted) == [f"i4x:;_;_edX;_DemoX;_video;_{VIDEO_ID}"]
    assert block_key(match_block(quoted, demo_index)) == VIDEO
    assert block_references(studio) == ["i4x://edX/DemoX/vertical/vertical_0270f6de40fc"]
    assert block_key(match_block(studio, demo_index)) == UNIT
    assert block_references(modern) == [
        "block-v1:edX+DemoX+Demo_Course+type@video+block@6a310e1cd29a48b5ad95a55108020174"
    ]
    assert match_block(modern, demo_index) is None  # a video the sample structure does not have


def test_a_real_jump_to_url_names_its_unit(samples_dir: Path, demo_index: BlockIndex) -> None:
    event = sample_event(samples_dir, ENGAGEMENT_LOG, lambda e: "/jump_to/" in e["event_type"])

    assert block_references(event) == ["i4x://edX/DemoX/vertical/vertical_0270f6de40fc"]
    assert block_key(match_block(event, demo_index)) == UNIT


def test_a_real_courseware_url_with_a_position_names_the_unit_at_that_position(
    samples_dir: Path, demo_index: BlockIndex
) -> None:
    event = sample_event(
        samples_dir, ENGAGEMENT_LOG, lambda e: e["event_type"].endswith("/edx_introduction/1")
    )

    assert block_references(event) == ["edx_introduction", "d8a6192ade314473a78242dfeedfbf5b"]  # no index
    assert block_references(event, demo_index)[0] == UNIT
    assert block_key(match_block(event, demo_index)) == UNIT


def test_a_real_courseware_url_without_a_position_names_the_sequential(
    samples_dir: Path, demo_index: BlockIndex
) -> None:
    page_close = sample_event(samples_dir, ENGAGEMENT_LOG, lambda e: e["event_type"] == "page_close")
    browser_check = sample_event(
        samples_dir,
        "event_export_tracking.log",
        lambda e: e["event_type"] == "problem_check" and e["event_source"] == "browser",
    )

    assert block_key(match_block(page_close, demo_index)) == INTRODUCTION
    assert block_references(browser_check) == [
        "19a30717eff543078a5d94ae9d6c18a5",
        "interactive_demonstrations",
    ]
    assert block_key(match_block(browser_check, demo_index)) == LESSON_1


def test_real_events_that_name_no_block_match_nothing(samples_dir: Path, demo_index: BlockIndex) -> None:
    forum = sample_events(samples_dir, "student_forum_activity.log")
    active = sample_events(samples_dir, "active_users_tracking.log")  # {"username", "time"} only
    enrollment = sample_event(
        samples_dir,
        "event_export_tracking.log",
        lambda e: e["event_type"] == "edx.course.enrollment.activated",
    )

    assert all(match_block(event, demo_index) is None for event in forum + active + [enrollment])
    assert all(block_references(event) == [] for event in active + [enrollment])


# --- URL styles, by hand, on the real structures -------------------------------------------------


def courseware(path: str, course: str = "course-v1:edX+DemoX+Demo_Course") -> str:
    return f"https://courses.edx.org/courses/{course}/courseware/{path}"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            courseware("interactive_demonstrations/19a30717eff543078a5d94ae9d6c18a5/3"),
            "3dc16db8d14842e38324e95d4030b8a0",
        ),
        (
            courseware("interactive_demonstrations/19a30717eff543078a5d94ae9d6c18a5/7/"),
            "134df56c516a4a0dbb24dd5facef746e",
        ),
        (
            courseware("interactive_demonstrations/19a30717eff543078a5d94ae9d6c18a5/1?x=1#top"),
            "867dddb6f55d410caaa9c1eb9c6743ec",
        ),
        (
            courseware("i/19a30717eff543078a5d94ae9d6c18a5/8"),
            "19a30717eff543078a5d94ae9d6c18a5",
        ),  # past the end
        (courseware("i/19a30717eff543078a5d94ae9d6c18a5/0"), "19a30717eff543078a5d94ae9d6c18a5"),  # 1-based
        (courseware("i/19a30717eff543078a5d94ae9d6c18a5/next"), "19a30717eff543078a5d94ae9d6c18a5"),
        (
            courseware("i/19a30717eff543078a5d94ae9d6c18a5/3", "edX/DemoX/Demo_Course"),
            "3dc16db8d14842e38324e95d4030b8a0",
        ),
        (
            courseware("i/19a30717eff543078a5d94ae9d6c18a5/3", "ccx-v1:edX+DemoX+Demo_Course+ccx@2"),
            "3dc16db8d14842e38324e95d4030b8a0",
        ),
    ],
)
def test_courseware_urls_name_the_unit_at_the_position_else_the_sequential(
    demo_index: BlockIndex, page: str, expected: str
) -> None:
    block = match_block({"event_type": "page_view", "page": page}, demo_index)
    assert block is not None and block["block_id"] == expected


def test_a_courseware_url_names_the_chapter_when_that_is_all_it_has(dnd_index: BlockIndex) -> None:
    chapter_only = courseware("d18abaffdfa44a1c9177a9e084d8c4a7/", "course-v1:OpenCraft+DnDv2101x+2016")
    unknown_sequential = courseware(
        "d18abaffdfa44a1c9177a9e084d8c4a7/gone/1", "course-v1:OpenCraft+DnDv2101x+2016"
    )

    assert block_key(match_block({"event_type": chapter_only}, dnd_index)) == DND_CHAPTER
    assert block_key(match_block({"page": unknown_sequential}, dnd_index)) == DND_CHAPTER
    assert match_block({"page": courseware("", "course-v1:OpenCraft+DnDv2101x+2016")}, dnd_index) is None


def test_activate_block_id_is_read_url_encoded_from_the_page_and_the_logged_query(
    dnd_index: BlockIndex,
) -> None:
    encoded = DND_PROBLEM.replace(":", "%3A").replace("+", "%2B").replace("@", "%40")
    page = courseware(
        f"d18abaffdfa44a1c9177a9e084d8c4a7/f5188c028bb748ee8f51e534231fd3be/1?activate_block_id={encoded}"
    )
    literal_plus = courseware(f"x/y/?foo=1&activate_block_id={DND_PROBLEM}")  # "+" must not become " "
    server = {
        "event_type": "/courses/course-v1:OpenCraft+DnDv2101x+2016/courseware/d18abaffdfa44a1c9177a9e084d8c4a7/",
        "event": {"GET": {"activate_block_id": [DND_PROBLEM]}, "POST": {}},
    }

    assert block_references({"page": page}, dnd_index) == [
        DND_PROBLEM,
        DND_UNIT,
        "f5188c028bb748ee8f51e534231fd3be",
        "d18abaffdfa44a1c9177a9e084d8c4a7",
    ]
    assert block_key(match_block({"page": literal_plus}, dnd_index)) == DND_PROBLEM
    assert block_key(match_block(server, dnd_index)) == DND_PROBLEM


def test_jump_to_urls_in_every_form(dnd_index: BlockIndex) -> None:
    course = "/courses/course-v1:OpenCraft+DnDv2101x+2016"
    encoded = DND_UNIT.replace(":", "%3A").replace("+", "%2B").replace("@", "%40")
    for url in (
        f"{course}/jump_to/{DND_UNIT}",
        f"https://courses.edx.org{course}/jump_to/{encoded}?x=1",
        f"{course}/jump_to_id/4ce7b965d19e4cbd9fc8187a44df7f31",
    ):
        assert block_key(match_block({"event_type": url}, dnd_index)) == DND_UNIT, url
        assert block_key(match_block({"event_type": "x", "page": url}, dnd_index)) == DND_UNIT, url


def test_the_event_fields_in_their_order_of_specificity(dnd_index: BlockIndex) -> None:
    page = courseware(
        "d18abaffdfa44a1c9177a9e084d8c4a7/f5188c028bb748ee8f51e534231fd3be/1",
        "course-v1:OpenCraft+DnDv2101x+2016",
    )
    event = {
        "event_type": f"/courses/course-v1:OpenCraft+DnDv2101x+2016/xblock/{DND_UNIT}/handler/x",
        "page": page,
        "context": {"module": {"usage_key": DND_PROBLEM, "display_name": "Drag and Drop"}},
        "event": {"problem_id": "p", "id": "i", "module_id": "m"},
    }

    assert block_references(event) == [
        DND_PROBLEM,
        "p",
        "i",
        "m",
        DND_UNIT,
        "f5188c028bb748ee8f51e534231fd3be",
        "d18abaffdfa44a1c9177a9e084d8c4a7",
    ]
    assert block_key(match_block(event, dnd_index)) == DND_PROBLEM
    del event["context"]
    assert block_key(match_block(event, dnd_index)) == DND_UNIT  # p, i, m are unknown: the handler URL
    event["event"] = {"module_id": DND_SEQUENTIAL}
    assert block_key(match_block(event, dnd_index)) == DND_SEQUENTIAL


def test_a_non_string_event_id_and_a_raw_string_event_are_ignored(dnd_index: BlockIndex) -> None:
    assert block_references({"event": {"id": 42, "problem_id": None}}) == []
    assert block_references({"event": "input_3bfc485604ba44f48ca653ae4907b76b_2_1=choice_2"}) == []
    assert block_references({"context": "not a dict", "event": ["x"], "page": None}) == []


def test_an_empty_structure_matches_nothing(samples_dir: Path) -> None:
    event = sample_event(samples_dir, ENGAGEMENT_LOG, lambda e: "/jump_to/" in e["event_type"])
    assert match_block(event, BlockIndex.from_documents([])) is None


# --- what is added to the event ------------------------------------------------------------------


def test_enrichment_gives_the_block_and_its_parent_data(
    dnd_blocks: list[dict], dnd_index: BlockIndex
) -> None:
    block = match_block({"context": {"module": {"usage_key": DND_PROBLEM}}}, dnd_index)

    assert enrichment(block) == {
        "block": {
            "id": DND_PROBLEM,
            "block_id": "3bfc485604ba44f48ca653ae4907b76b",
            "category": "drag-and-drop-v2",
            "display_name": "Drag and Drop",
        },
        "parent_data": {
            "chapter_id": "d18abaffdfa44a1c9177a9e084d8c4a7",
            "chapter_display_name": "قسم",
            "chapter_position": 0,
            "sequential_id": "f5188c028bb748ee8f51e534231fd3be",
            "sequential_display_name": "قسمٌ فرعيّ",
            "sequential_position": 0,
            "vertical_id": "4ce7b965d19e4cbd9fc8187a44df7f31",
            "vertical_display_name": "وحدة",
            "vertical_position": 0,
        },
    }
    added = enrichment(block)
    added["parent_data"]["chapter_id"] = "changed"
    assert block["parent_data"]["chapter_id"] == "d18abaffdfa44a1c9177a9e084d8c4a7"  # a copy, not the block's


def test_a_block_without_parent_data_adds_an_empty_one(dnd_index: BlockIndex) -> None:
    chapter = dnd_index.find(DND_CHAPTER)
    assert enrichment(chapter)["parent_data"] == {}
    assert enrichment(chapter)["block"]["category"] == "chapter"
