"""One tracking-log line into one master document: parsing, times, course ids, keys, rejections."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from analytics.core.accounting import Rejection
from analytics.core.mongo_keys import decode_keys
from analytics.edx.tracking_lines import (
    BAD_JSON,
    BAD_TIME,
    BLANK,
    COMMENT,
    NO_TIME,
    NOT_OBJECT,
    NOT_UTF8,
    course_id_in_url,
    event_id,
    parse_event_time,
    parse_tracking_line,
    resolve_course_id,
    tracking_file_name,
)
from tests.samples import edx_sample

LOADED_AT = datetime(2024, 3, 5, 3, 0, tzinfo=UTC)
COURSE = "course-v1:TestX+TRK101+2024_T1"


def line(**fields) -> bytes:
    event = {
        "username": "ada",
        "event_type": "play_video",
        "event_source": "browser",
        "context": {"course_id": COURSE, "user_id": 7, "path": "/event"},
        "time": "2024-03-04T10:00:00.123456+00:00",
        "page": None,
        "event": '{"id": "block-v1:TestX+TRK101+2024_T1+type@video+block@v1", "currentTime": 3}',
    }
    event.update(fields)
    return (json.dumps(event) + "\n").encode()


def parse(raw: bytes, number: int = 1):
    return parse_tracking_line(raw, "testx-edx-events-2024-03-04.log", number, LOADED_AT)


def test_a_line_keeps_every_field_and_gains_the_load_fields():
    document = parse(line(), 12)
    assert document["_id"] == "testx-edx-events-2024-03-04.log:12"
    assert document["load_file"] == "testx-edx-events-2024-03-04.log"
    assert document["load_line"] == 12
    assert document["loaded_at"] == LOADED_AT
    assert document["time"] == datetime(2024, 3, 4, 10, 0, 0, 123456, tzinfo=UTC)
    assert document["time_raw"] == "2024-03-04T10:00:00.123456+00:00"
    assert document["username"] == "ada" and document["context"]["user_id"] == 7
    assert document["event"] == {"id": "block-v1:TestX+TRK101+2024_T1+type@video+block@v1", "currentTime": 3}
    assert (document["course_id"], document["course_id_source"]) == (COURSE, "context")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ('{"a": 1}', {"a": 1}),  # a JSON object in a string: a sub-document
        ("{not json", "{not json"),  # not JSON: the raw string stays
        ('"input_1=a%20b"', '"input_1=a%20b"'),  # JSON, but not an object: stays a string
        ("", ""),
        ({"already": "a dict"}, {"already": "a dict"}),
        ('[{"a": 1}]', '[{"a": 1}]'),
    ],
)
def test_the_event_becomes_a_sub_document_only_when_it_holds_a_json_object(event, expected):
    assert parse(line(event=event))["event"] == expected


def test_keys_mongodb_cannot_store_are_encoded_reversibly_also_inside_a_string_event():
    inner = {"parts": [{"option": {"points.possible": 3}}], "$meta": 1}
    document = parse(line(event=json.dumps(inner), **{"top.level": 1}))
    assert document["event"] == {"parts": [{"option": {"points%2Epossible": 3}}], "%24meta": 1}
    assert document["top%2Elevel"] == 1
    assert decode_keys(document["event"]) == inner


def test_two_identical_lines_are_two_events():
    first, second = parse(line(), 1), parse(line(), 2)
    assert first["_id"] != second["_id"]
    assert {k: v for k, v in first.items() if k not in ("_id", "load_line")} == {
        k: v for k, v in second.items() if k not in ("_id", "load_line")
    }


def test_an_original_field_with_an_added_name_is_kept_under_another_name():
    document = parse(line(course_id="edX/Old/1", load_file="x"))
    assert document["original_course_id"] == "edX/Old/1"
    assert document["original_load_file"] == "x"
    assert document["load_file"] == "testx-edx-events-2024-03-04.log"


@pytest.mark.parametrize(
    ("raw", "reason", "field"),
    [
        (b"\n", BLANK, None),
        (b"   \r\n", BLANK, None),
        (b"# Expect to see five segments\n", COMMENT, None),
        (b'{"username": "\xff\xfe", "time": "2024-03-04T10:00:00+00:00"}\n', NOT_UTF8, None),
        (b'{"username": "ada", "time": "2024-03-04T1', BAD_JSON, None),
        (b"[1, 2]\n", NOT_OBJECT, None),
        (b'"text"\n', NOT_OBJECT, None),
        (b'{"username": "ada"}\n', NO_TIME, "time"),
        (b'{"username": "ada", "time": null}\n', NO_TIME, "time"),
        (b'{"username": "ada", "time": "yesterday"}\n', BAD_TIME, "time"),
        (b'{"username": "ada", "time": 1709546400}\n', BAD_TIME, "time"),
    ],
)
def test_a_line_that_cannot_be_an_event_is_a_named_rejection(raw, reason, field):
    rejection = parse(raw, 9)
    assert isinstance(rejection, Rejection)
    assert (rejection.file, rejection.line, rejection.reason, rejection.field) == (
        "testx-edx-events-2024-03-04.log",
        9,
        reason,
        field,
    )


def test_json_only_python_reads_loads_and_huge_integers_become_floats():
    document = parse(
        b'{"time": "2024-03-04T10:00:00+00:00", "event": {"t": NaN}, "n": 123456789012345678901234}'
    )
    assert document["event"]["t"] != document["event"]["t"]  # NaN
    assert document["n"] == float(123456789012345678901234)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-05-02T16:44:35.901775+00:00", datetime(2014, 5, 2, 16, 44, 35, 901775, tzinfo=UTC)),
        (
            "2014-05-02T16:44:35.901775",
            datetime(2014, 5, 2, 16, 44, 35, 901775, tzinfo=UTC),
        ),  # no offset: UTC
        ("2014-05-02T16:44:35Z", datetime(2014, 5, 2, 16, 44, 35, tzinfo=UTC)),
        ("2014-05-02T18:44:35+02:00", datetime(2014, 5, 2, 16, 44, 35, tzinfo=UTC)),
        ("2014-05-02", datetime(2014, 5, 2, tzinfo=UTC)),
        ("02/05/2014", None),
        ("", None),
        (12, None),
    ],
)
def test_event_times_become_utc(text, expected):
    parsed = parse_event_time(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)
        assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"context": {"course_id": "edX/DemoX/Demo_Course"}}, ("edX/DemoX/Demo_Course", "context")),
        (
            {"context": {"course_id": ""}, "page": f"https://x.org/courses/{COURSE}/courseware/c/s/1?x=1"},
            (COURSE, "page"),
        ),
        (
            {
                "context": {"course_id": ""},
                "page": "http://x.org/courses/edX/DemoX/Demo_Course/courseware/a/b/",
            },
            ("edX/DemoX/Demo_Course", "page"),
        ),
        (
            {"context": {}, "page": "https://x.org/courses/ccx-v1:edX+DemoX+Demo+ccx@3/info"},
            ("ccx-v1:edX+DemoX+Demo+ccx@3", "page"),
        ),
        (
            {
                "context": {"course_id": ""},
                "event_source": "server",
                "event_type": f"/courses/{COURSE}/xblock/b/handler/h",
            },
            (COURSE, "event_type"),
        ),
        (
            {"context": {"course_id": ""}, "event_type": "/courses/edX/DemoX/Demo_Course/info"},
            ("edX/DemoX/Demo_Course", "event_type"),
        ),
        (
            {
                "context": {"course_id": ""},
                "event_type": "/login_ajax",
                "event": {"GET": {"next": [f"/courses/{COURSE}/courseware"]}, "POST": {}},
            },
            (COURSE, "login_next"),
        ),
        (
            {
                "context": {"course_id": ""},
                "event_type": "/register",
                "event": {"GET": {"next": ["%2Fcourses%2Fcourse-v1%3ATestX%2BTRK101%2B2024_T1%2Fabout"]}},
            },
            (COURSE, "login_next"),
        ),
        (
            {
                "context": {"course_id": ""},
                "event_type": "edx.bookmark.added",
                "event": {"course_id": COURSE},
            },
            (COURSE, "event"),
        ),
        ({"context": {"course_id": ""}, "event_type": "/dashboard", "page": None}, (None, None)),
        ({"event_type": "/dashboard"}, (None, None)),
    ],
)
def test_course_ids_are_resolved_in_order(fields, expected):
    assert resolve_course_id(fields) == expected


def test_the_context_wins_over_the_url():
    document = {"context": {"course_id": "edX/A/1"}, "page": f"https://x.org/courses/{COURSE}/info"}
    assert resolve_course_id(document) == ("edX/A/1", "context")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"/courses/{COURSE}/jump_to/block-v1:TestX+TRK101+2024_T1+type@video+block@v1", COURSE),
        (f"https://x.org/courses/{COURSE}?a=b", COURSE),
        (f"https://x.org/courses/{COURSE}#top", COURSE),
        ("/courses/edX/DemoX", None),  # two segments: not a course
        ("/dashboard", None),
        (None, None),
    ],
)
def test_course_id_in_url(url, expected):
    assert course_id_in_url(url) == expected


def test_file_names_and_ids():
    assert (
        tracking_file_name("/in/DemoOrgX-edx-events-2024-03-04.log.gz")
        == "demoorgx-edx-events-2024-03-04.log"
    )
    assert tracking_file_name("tracking.log") == "tracking.log"
    assert event_id("a.log", 3) == "a.log:3"


def test_every_line_of_the_real_edx_logs_is_an_event_or_a_named_rejection():
    """The public edX acceptance logs: every line accounted for, comment lines discarded by name."""
    folder = edx_sample("edx-analytics-pipeline/tracking_logs")
    totals = {"events": 0, "rejected": {}}
    for path in sorted(folder.glob("*.log")):
        for number, raw in enumerate(path.read_bytes().splitlines(keepends=True), start=1):
            result = parse_tracking_line(raw, tracking_file_name(path.name), number, LOADED_AT)
            if isinstance(result, Rejection):
                totals["rejected"][result.reason] = totals["rejected"].get(result.reason, 0) + 1
                assert result.reason in (COMMENT, BLANK), f"{path.name}:{number}: {result}"
            else:
                totals["events"] += 1
                assert result["time"].tzinfo is not None
    # 176 lines: 17 + 15 + 68 + 18 + 13 + 23 events; 18 comment lines and 5 blank ones.
    assert totals == {"events": 154, "rejected": {COMMENT: 18, BLANK: 5}}
