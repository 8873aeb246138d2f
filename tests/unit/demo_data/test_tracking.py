"""The tracking logs (scripts/demo_data/tracking_*.py): reproducible gzip files, events in time
order beside intended broken lines only, the event types and shapes of real edX events, and
scheduled events that match the package's rows."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from .conftest import (
    COURSE_CODES,
    COURSE_IDS,
    DAYS,
    EVENTS_PER_DAY,
    MISSING_SAMPLES,
    ORG,
    PIPELINE_SAMPLES,
    SAMPLES,
    VIDEO_EVENT_TYPES,
    classify_line,
    package_file,
    read_tsv,
    walk_keys,
)


def test_gzip_header_has_no_time_and_no_file_name(demo: Path) -> None:
    header = (demo / "tracking" / f"{ORG}-edx-events-{DAYS[0]}.log.gz").read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] & 0x08 == 0, "FNAME flag set"
    assert header[4:8] == b"\0\0\0\0", "mtime is not 0"


def test_every_tracking_line_is_an_event_or_an_intended_broken_line(
    tracking_lines: dict[str, list[bytes]], manifest: dict
) -> None:
    for day, lines in tracking_lines.items():
        kinds = Counter(kind for kind, _ in map(classify_line, lines))
        entry = manifest["days"][day]
        assert kinds["event"] == entry["events"] == EVENTS_PER_DAY
        assert kinds["truncated_json"] == entry["broken_lines"]["truncated_json"] >= 1
        assert kinds["invalid_utf8"] == entry["broken_lines"]["invalid_utf8"] >= 1
        assert len(lines) == entry["lines"]
        assert all(line.endswith(b"\n") for line in lines)


def test_events_are_in_time_order_inside_their_day(tracking_lines: dict[str, list[bytes]]) -> None:
    for day, lines in tracking_lines.items():
        times = [event["time"] for kind, event in map(classify_line, lines) if kind == "event"]
        assert all(time.endswith("+00:00") for time in times)
        moments = [datetime.fromisoformat(time) for time in times]
        assert moments == sorted(moments)
        start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
        assert start <= moments[0] and moments[-1] < start + timedelta(days=1)


def test_events_cover_the_expected_types(events: list[dict]) -> None:
    types = Counter(event["event_type"] for event in events)
    expected = {*VIDEO_EVENT_TYPES, "seq_goto", "seq_next", "problem_check", "edx.forum.thread.created"}
    expected |= {
        "edx.forum.comment.created",
        "edx.course.enrollment.activated",
        "edx.course.enrollment.deactivated",
    }
    assert expected <= set(types)
    assert any(event_type.startswith("/courses/course-v1:") for event_type in types), "no page views"
    assert any(event["event_source"] == "server" and isinstance(event["event"], dict) for event in events)
    server_checks = [
        event
        for event in events
        if event["event_type"] == "problem_check" and event["event_source"] == "server"
    ]
    assert server_checks and all(isinstance(event["event"], dict) for event in server_checks)


def test_browser_video_events_carry_positions_in_a_json_string(events: list[dict]) -> None:
    videos = [
        event
        for event in events
        if event["event_source"] == "browser" and event["event_type"] in VIDEO_EVENT_TYPES
    ]
    seen = set()
    for event in videos:
        assert isinstance(event["event"], str)
        details = json.loads(event["event"])
        seen.add(event["event_type"])
        if event["event_type"] == "seek_video":
            assert details["old_time"] >= 0 and details["new_time"] >= 0
        elif event["event_type"] != "load_video":
            assert 0 <= details["currentTime"] <= details["duration"]
        assert event["context"]["course_id"] in COURSE_IDS
    assert seen == set(VIDEO_EVENT_TYPES)


def test_some_events_have_the_course_only_in_the_page_url(events: list[dict], manifest: dict) -> None:
    url_pattern = re.compile(r"https://courses\.example\.org/courses/(course-v1:[^/]+)/courseware/")
    courseless = [event for event in events if event["context"].get("course_id") == ""]
    in_url = [
        event for event in courseless if url_pattern.search(event["page"] or event.get("referer") or "")
    ]
    assert in_url
    assert {url_pattern.search(event["page"] or event["referer"]).group(1) for event in in_url} <= set(
        COURSE_IDS
    )
    assert len(in_url) == sum(day["events_with_course_only_in_url"] for day in manifest["days"].values())


def test_open_assessment_events_have_dotted_and_dollar_keys(events: list[dict]) -> None:
    assessments = [event for event in events if event["event_type"].startswith("openassessmentblock.")]
    keys = [key for event in assessments for key in walk_keys(event["event"])]
    assert any("." in key for key in keys)
    assert any(key.startswith("$") for key in keys)


def test_scheduled_events_match_package_rows(demo: Path, events: list[dict]) -> None:
    """Enrollment activations in the logs are the package's enrollments, to the second, and forum
    creation events carry the ids of documents in the mongo dump."""
    enrollments = {}
    documents = {}
    for code in COURSE_CODES:
        header, rows = read_tsv(package_file(demo, code, "student_courseenrollment"))
        for row in rows:
            enrollments[(row[header.index("user_id")], row[header.index("course_id")])] = row[
                header.index("created")
            ]
        for line in (demo / "package" / f"{ORG}-{code}-2024_T1-prod.mongo").read_text().splitlines():
            document = json.loads(line)
            documents[document["_id"]["$oid"]] = document
    activations = [event for event in events if event["event_type"] == "edx.course.enrollment.activated"]
    for event in activations:
        created = enrollments[(str(event["event"]["user_id"]), event["event"]["course_id"])]
        assert event["time"][:19].replace("T", " ") == created
    forum = [event for event in events if event["event_type"].startswith("edx.forum.")]
    assert forum
    for event in forum:
        document = documents[event["event"]["id"]]
        assert document["author_username"] == event["username"]
        assert document["created_at"]["$date"][:23] == event["time"][:23]


def test_event_key_sets_include_those_of_real_edx_events(events: list[dict]) -> None:
    """Each of our events has at least the top-level and context keys of a real event of its type."""
    real_logs = [
        PIPELINE_SAMPLES / "tracking_logs" / "module_engagement_acceptance_tracking_20150413.log",
        PIPELINE_SAMPLES / "tracking_logs" / "obfuscation_tracking.log",
        PIPELINE_SAMPLES / "tracking_logs" / "student_forum_activity.log",
        SAMPLES / "edx-documentation" / "sample_event_problem_check.log",
    ]
    if not all(path.exists() for path in real_logs):
        pytest.fail(MISSING_SAMPLES)
    real_events = [
        json.loads(line)
        for path in real_logs
        for line in path.read_text().splitlines()
        if line.startswith("{")
    ]

    def signature(event: dict) -> tuple[str, str]:
        is_page_view = event["event_type"].startswith("/courses/")
        return event["event_source"], "page_view" if is_page_view else event["event_type"]

    ours_by_signature: dict[tuple[str, str], list[dict]] = {}
    for event in events:
        ours_by_signature.setdefault(signature(event), []).append(event)
    compared = set()
    for real in real_events:
        ours = ours_by_signature.get(signature(real))
        if not ours or (signature(real)[1] == "page_view" and not real["context"].get("course_id")):
            continue
        compared.add(signature(real))
        assert all(set(real) <= set(event) for event in ours), (signature(real), set(real) - set(ours[0]))
        assert all(set(real["context"]) <= set(event["context"]) for event in ours), signature(real)
        if isinstance(real["event"], dict):
            assert set(real["event"]) - {"group_id"} <= set(ours[0]["event"]), signature(real)
    assert {
        ("server", "page_view"),
        ("browser", "play_video"),
        ("browser", "pause_video"),
        ("browser", "load_video"),
        ("server", "problem_check"),
        ("server", "edx.forum.thread.created"),
        ("server", "edx.forum.comment.created"),
    } <= compared
