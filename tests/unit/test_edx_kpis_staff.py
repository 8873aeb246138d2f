"""The staff rule: auth_user flags, instructor pages, Studio, course roles, lists; options; the real log with
Studio events (edx-analytics-pipeline's module engagement acceptance log)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analytics.edx.kpis.staff import (
    COURSE_ROLE,
    INSTRUCTOR_PAGES,
    IS_STAFF,
    IS_SUPERUSER,
    LISTED,
    STUDIO,
    StaffDetector,
    StaffRule,
    is_studio_path,
    staff_evidence,
)
from analytics.edx.tracking_lines import parse_tracking_line
from tests.samples import edx_sample

COURSE = "course-v1:TestX+KPI101+2024_T1"
LMS = "https://lms.example.org"
ENGAGEMENT_LOG = "edx-analytics-pipeline/tracking_logs/module_engagement_acceptance_tracking_20150413.log"


def server(path: str, username: str = "ada", **fields) -> dict:
    return {
        "username": username,
        "event_type": path,
        "event_source": "server",
        "host": "lms.example.org",
        "context": {"path": path, "course_id": COURSE},
        **fields,
    }


def browser(event_type: str, page: str, username: str = "ada", **fields) -> dict:
    return {
        "username": username,
        "event_type": event_type,
        "event_source": "browser",
        "host": "lms.example.org",
        "page": page,
        "context": {"path": "/event", "course_id": COURSE},
        **fields,
    }


def reasons(event: dict, rule: StaffRule | None = None) -> list[str]:
    return [reason for reason, _ in staff_evidence(event, rule or StaffRule())]


def test_the_user_tables_flags():
    users = [
        {"username": "root", "is_staff": False, "is_superuser": True},
        {"username": "tess", "is_staff": True, "is_superuser": False},
        {"username": "both", "is_staff": 1, "is_superuser": "1"},  # as an untyped table would give them
        {"username": "ada", "is_staff": False, "is_superuser": False},
        {"username": "bob", "is_staff": "0", "is_superuser": None},
    ]
    detector = StaffDetector(users=users)
    assert detector.excluded() == {
        "both": [IS_STAFF, IS_SUPERUSER],
        "root": [IS_SUPERUSER],
        "tess": [IS_STAFF],
    }
    assert not detector.is_staff("ada") and not detector.is_staff("bob")
    assert StaffDetector(StaffRule(staff_flags=False), users=users).excluded() == {}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (server(f"/courses/{COURSE}/instructor/api/list_forum_members"), [INSTRUCTOR_PAGES]),
        (server(f"/courses/{COURSE}/instructor"), [INSTRUCTOR_PAGES]),
        (server("/courses/edX/DemoX/Demo_Course/instructor_dashboard"), [INSTRUCTOR_PAGES]),
        (server("/courses/edX/DemoX/Demo_Course/legacy_instructor_dash"), [INSTRUCTOR_PAGES]),
        (
            browser("edx.instructor.report.downloaded", f"{LMS}/courses/{COURSE}/instructor#view-data"),
            [INSTRUCTOR_PAGES],
        ),
        (browser("edx.instructor.report.requested", None), [INSTRUCTOR_PAGES]),  # by its name alone
        (browser("page_close", f"{LMS}/courses/{COURSE}/instructor#view-membership"), [INSTRUCTOR_PAGES]),
        # a named server event says its request's path in context.path
        (
            {
                "username": "ada",
                "event_type": "edx.bulk_email.sent",
                "context": {"path": f"/courses/{COURSE}/instructor/api/send_email"},
            },
            [INSTRUCTOR_PAGES],
        ),
        (browser("page_close", f"{LMS}/courses/{COURSE}/instructor?tab=x"), [INSTRUCTOR_PAGES]),
        (server(f"/courses/{COURSE}/info", referer=f"{LMS}/courses/{COURSE}/instructor"), [INSTRUCTOR_PAGES]),
        # not instructor pages: a unit whose url name starts with "instructor", another word, the learner's pages
        (server(f"/courses/{COURSE}/courseware/instructor_intro/welcome/"), []),
        (server(f"/courses/{COURSE}/instructors"), []),
        (server(f"/courses/{COURSE}/discussion/forum/instructor/threads/1"), []),
        (browser("play_video", f"{LMS}/courses/{COURSE}/courseware/ch/seq/1"), []),
    ],
)
def test_instructor_pages(event, expected):
    assert reasons(event) == expected


@pytest.mark.parametrize(
    ("path", "studio"),
    [
        ("/course/edX/DemoX/Demo_Course", True),
        (f"/course/{COURSE}", True),
        ("/container/block-v1:TestX+KPI101+2024_T1+type@vertical+block@v", True),
        ("/preview/xblock/i4x://edX/DemoX/video/abc/handler/transcript/translation/en", True),
        ("/transcripts/check", True),
        (f"/settings/details/{COURSE}", True),
        ("/xblock/", True),  # creating a block
        ("/xblock/container/i4x://edX/DemoX/vertical/v", True),
        ("/xblock/i4x://edX/DemoX/video/abc/studio_view", True),
        ("/xblock/i4x://edX/DemoX/vertical/v/container_preview", True),
        ("/xblock/i4x://edX/DemoX/video/abc/reorderable_container_child_preview", True),
        # the LMS serves a bare /xblock/<key> to the mobile apps: not evidence
        ("/xblock/block-v1:TestX+KPI101+2024_T1+type@html+block@h", False),
        ("/xblock/i4x://edX/DemoX/video/abc", False),
        (f"/courses/{COURSE}/xblock/block-v1:x/handler/xmodule_handler/save_user_state", False),
        (f"/courses/{COURSE}/courseware", False),
        ("/dashboard", False),
        ("/certificates/1234", False),  # the LMS's web certificates
    ],
)
def test_studio_paths(path, studio):
    assert is_studio_path(path) is studio
    assert reasons(server(path)) == ([STUDIO] if studio else [])


def test_a_named_event_of_studio_is_known_by_its_context_path():
    published = {
        "username": "ada",
        "event_type": "edx.course.index.published",
        "event_source": "server",
        "host": "precise64",
        "context": {"path": "/xblock/container/i4x://edX/DemoX/vertical/v", "course_id": ""},
    }
    assert reasons(published) == [STUDIO]


def test_studio_hosts():
    assert reasons(server("/i18n.js", host="studio.example.org")) == [STUDIO]
    assert reasons(server("/i18n.js", host="Studio.Example.org")) == [STUDIO]
    assert reasons(server("/i18n.js", referer="https://studio.example.org/home/")) == [STUDIO]
    assert reasons(browser("page_close", "https://studio.example.org/course/x")) == [STUDIO]
    assert reasons(server("/i18n.js", host="lms.example.org", referer=f"{LMS}/dashboard")) == []
    assert reasons(server("/i18n.js", host="mystudio.example.org")) == []  # "studio." is a prefix
    # a devstack's Studio is localhost:8001: an exact entry
    devstack = StaffRule(studio_hosts=("localhost:8001",))
    assert reasons(server("/i18n.js", referer="http://localhost:8001/home/"), devstack) == [STUDIO]
    assert reasons(server("/i18n.js", referer="http://localhost:8000/home/"), devstack) == []
    assert reasons(server("/course/x", host="studio.example.org"), StaffRule(studio=False)) == []


def test_course_roles_of_forum_events():
    post = server(
        "edx.forum.thread.created",
        event={"user_course_roles": ["instructor", "staff"], "user_forums_roles": []},
    )
    assert reasons(post) == [COURSE_ROLE]
    learner_post = server(
        "edx.forum.thread.created", event={"user_course_roles": [], "user_forums_roles": ["Student"]}
    )
    assert reasons(learner_post) == []
    beta = server("edx.forum.comment.created", event={"user_course_roles": ["beta_testers"]})
    assert reasons(beta) == []
    assert reasons(post, StaffRule(course_roles=())) == []
    assert reasons(beta, StaffRule(course_roles=("beta_testers",))) == [COURSE_ROLE]


def test_lists_and_evidence():
    rule = StaffRule(always_exclude=("demo_teacher",), never_exclude=("tess",))
    detector = StaffDetector(rule, users=[{"username": "tess", "is_staff": True}])
    detector.add(server(f"/courses/{COURSE}/instructor", username="tess"))  # never excluded
    detector.add(server(f"/courses/{COURSE}/instructor/api/a", username="ivy"))
    detector.add(server(f"/courses/{COURSE}/instructor/api/b", username="ivy"))
    detector.add(server("/course/x", username="ivy"))
    detector.add(server(f"/courses/{COURSE}/instructor", username=""))  # anonymous: nobody to exclude
    assert detector.excluded() == {"demo_teacher": [LISTED], "ivy": [INSTRUCTOR_PAGES, STUDIO]}
    # the first evidence of each reason is kept
    assert detector.evidence("ivy") == {
        INSTRUCTOR_PAGES: f"/courses/{COURSE}/instructor/api/a",
        STUDIO: "/course/x",
    }
    assert detector.summary() == {
        "excluded": 2,
        "by_reason": {
            IS_STAFF: 0,
            IS_SUPERUSER: 0,
            INSTRUCTOR_PAGES: 1,
            STUDIO: 1,
            COURSE_ROLE: 0,
            LISTED: 1,
        },
    }


def test_the_rule_from_a_mapping():
    rule = StaffRule.from_mapping({"studio_hosts": ["studio.", "localhost:8001"], "instructor_pages": False})
    assert rule == StaffRule(studio_hosts=("studio.", "localhost:8001"), instructor_pages=False)
    assert StaffRule.from_mapping(None) == StaffRule()
    with pytest.raises(ValueError, match="unknown staff rule option"):
        StaffRule.from_mapping({"studio_host": ["studio."]})
    with pytest.raises(ValueError, match="must be a list of strings"):
        StaffRule.from_mapping({"studio_hosts": "studio."})
    with pytest.raises(ValueError, match="must be true or false"):
        StaffRule.from_mapping({"studio": "yes"})


def engagement_log_events() -> list[dict]:
    path = edx_sample(ENGAGEMENT_LOG)
    loaded_at = datetime(2024, 1, 1, tzinfo=UTC)
    documents = [
        parse_tracking_line(raw, "engagement.log", number, loaded_at)
        for number, raw in enumerate(path.read_bytes().splitlines(), 1)
    ]
    return [document for document in documents if isinstance(document, dict)]


def test_the_real_log_with_studio_events():
    events = engagement_log_events()
    by_line = {event["load_line"]: event for event in events}
    # The "staff" user works in a devstack's Studio (port 8001), then looks at the course in the LMS (8000).
    # Studio evidence, line by line, by hand from the log:
    #   1-2  /course/edX/DemoX/Demo_Course (Studio's course outline)
    #   5, 7, 8  /i18n.js, /xmodule/xmodule.js: LMS-like paths, but the referer is Studio's /course/ or /container/
    #   6  /container/...; 9 /xblock/.../container_preview; 10, 18, 25, 45 /xblock/container/...
    #   11, 13, 16, 17, 23, 24  /preview/xblock/...; 14 /xblock/; 15, 22 .../reorderable_container_child_preview
    #   19 .../studio_view; 20 /transcripts/check
    #   21, 42  a bare /xblock/<key> (no evidence alone), but referred by Studio's /container/ page
    #   26, 27  LMS pages (jump_to, courseware) opened from Studio's /container/ page ("View Live")
    #   43  edx.course.index.published, with Studio's /container/ page as referer
    # No evidence: 3 (/courses/.../about), 4 (/dashboard), 12 (/jsi18n/ from the LMS dashboard), 62 (a play_video).
    studio_lines = {
        1,
        2,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        20,
        21,
        22,
        23,
        24,
        25,
        26,
        27,
        42,
        43,
        45,
    }
    staff_lines = {line for line, event in by_line.items() if event["username"] == "staff"}
    assert staff_lines == studio_lines | {3, 4, 12, 62}
    assert {line for line in staff_lines if reasons(by_line[line]) == [STUDIO]} == studio_lines
    # nobody else shows any evidence (honor and the anonymous events)
    assert [line for line, event in by_line.items() if event["username"] != "staff" and reasons(event)] == []

    detector = StaffDetector()
    for event in events:
        detector.add(event)
    assert detector.excluded() == {"staff": [STUDIO]}
    assert detector.evidence("staff") == {STUDIO: "/course/edX/DemoX/Demo_Course"}
    assert detector.summary()["excluded"] == 1

    # The course database holds only the events that name the course: there, "staff" is still caught,
    # by the LMS pages opened from Studio (lines 26, 27)
    in_course = StaffDetector()
    for event in events:
        if event["course_id"] == "edX/DemoX/Demo_Course":
            in_course.add(event)
    assert in_course.excluded() == {"staff": [STUDIO]}
    assert in_course.evidence("staff")[STUDIO].startswith("http://localhost:8001/container/")
