"""Time on task: gaps, the timeout, the category and the day a gap counts for, sessions, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.edx.kpis.sessions import (
    COURSEWARE,
    FORUM,
    OTHER,
    PROBLEM,
    VIDEO,
    LearnerTimeOnTask,
    event_category,
    time_on_task,
)

COURSE = "course-v1:TestX+KPI101+2024_T1"
COURSEWARE_PAGE = f"https://lms.example.org/courses/{COURSE}/courseware/chapter1/sequential1/1"
NOTHING = dict.fromkeys((VIDEO, PROBLEM, FORUM, COURSEWARE, OTHER), 0.0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(when: str, event_type: str = "seq_goto", source: str = "browser", username: str = "ada", **fields):
    return {
        "username": username,
        "time": at(when),
        "event_type": event_type,
        "event_source": source,
        **fields,
    }


def rows_of(*events, timeout: timedelta | None = None) -> list[dict]:
    learner = LearnerTimeOnTask("ada") if timeout is None else LearnerTimeOnTask("ada", timeout)
    for one in events:
        learner.add(one)
    return learner.finish()


def by_category(**seconds: float) -> dict[str, float]:
    return {**NOTHING, **seconds}


def test_each_gap_counts_for_the_category_of_the_event_that_opens_it():
    rows = rows_of(
        event("2024-03-04T10:00:00", "seq_goto"),  # opens 30 s of courseware
        event("2024-03-04T10:00:30", "play_video"),  # opens 300 s of video
        event("2024-03-04T10:05:30", "problem_check", "server"),  # opens 30 s of problem
        event("2024-03-04T10:06:00", "edx.forum.thread.created", "server"),  # the last: adds nothing
    )
    # 30 + 300 + 30 = 360 s, one session, four events
    assert rows == [
        {
            "username": "ada",
            "day": "2024-03-04",
            "seconds": 360.0,
            "seconds_by_category": by_category(courseware=30.0, video=300.0, problem=30.0),
            "sessions": 1,
            "events": 4,
        }
    ]


def test_a_gap_of_exactly_the_timeout_ends_the_session_and_counts_nothing():
    rows = rows_of(event("2024-03-04T10:00:00"), event("2024-03-04T10:30:00"))
    # 10:30:00 - 10:00:00 = 30 min = the default timeout: not < 30 min, so 0 s and a second session
    assert rows[0]["seconds"] == 0.0
    assert rows[0]["sessions"] == 2
    assert rows[0]["events"] == 2


def test_a_gap_just_under_the_timeout_counts_in_full():
    rows = rows_of(event("2024-03-04T10:00:00"), event("2024-03-04T10:29:59.999999"))
    # 29 min 59.999999 s = 1799.999999 s < 1800 s: counted, to the microsecond, one session
    assert rows[0]["seconds"] == 1799.999999
    assert rows[0]["seconds_by_category"] == by_category(courseware=1799.999999)
    assert rows[0]["sessions"] == 1


def test_the_timeout_is_configurable():
    events = (
        event("2024-03-04T10:00:00"),
        event("2024-03-04T10:09:00"),  # 9 min after: < 10 min, counts 540 s
        event("2024-03-04T10:19:00"),  # 10 min after: = 10 min, ends the session
    )
    rows = rows_of(*events, timeout=timedelta(minutes=10))
    assert (rows[0]["seconds"], rows[0]["sessions"]) == (540.0, 2)
    # with the default 30 min, both gaps count: 540 + 600 = 1140 s, one session
    assert (rows_of(*events)[0]["seconds"], rows_of(*events)[0]["sessions"]) == (1140.0, 1)


@pytest.mark.parametrize("timeout", [timedelta(0), timedelta(seconds=-1)])
def test_a_timeout_that_is_not_positive_is_refused(timeout):
    with pytest.raises(ValueError, match="must be positive"):
        LearnerTimeOnTask("ada", timeout)


def test_a_gap_across_midnight_counts_whole_for_the_day_of_the_event_that_opens_it():
    rows = rows_of(
        event("2024-03-04T23:50:00", "seq_goto"),  # opens 20 min to 00:10: all of it on the 4th
        event("2024-03-05T00:10:00", "problem_check", "server"),  # opens 5 min on the 5th
        event("2024-03-05T00:15:00", "seq_next"),
    )
    assert rows == [
        {
            "username": "ada",
            "day": "2024-03-04",
            "seconds": 1200.0,  # 20 min, though 10 of them were on the 5th (the documented bias)
            "seconds_by_category": by_category(courseware=1200.0),
            "sessions": 1,
            "events": 1,
        },
        {
            "username": "ada",
            "day": "2024-03-05",
            "seconds": 300.0,
            "seconds_by_category": by_category(problem=300.0),
            "sessions": 0,  # the session started on the 4th and counts there only
            "events": 2,
        },
    ]


def test_a_day_with_one_event_has_a_session_and_no_time():
    rows = rows_of(event("2024-03-04T10:00:00"), event("2024-03-06T10:00:00"))
    # two days apart: the gap ends the session; each day has one event, one session, 0 s
    assert [(row["day"], row["seconds"], row["sessions"], row["events"]) for row in rows] == [
        ("2024-03-04", 0.0, 1, 1),
        ("2024-03-06", 0.0, 1, 1),
    ]


def test_enrollment_and_task_events_are_not_activity_and_do_not_split_gaps():
    learner = LearnerTimeOnTask("ada")
    for one in (
        event("2024-03-04T10:00:00", "seq_goto"),
        event("2024-03-04T10:10:00", "edx.course.enrollment.activated", "server"),
        event("2024-03-04T10:20:00", "edx.grades.subsection.grade_calculated", "task"),
        event("2024-03-04T10:25:00", "seq_next"),
    ):
        learner.add(one)
    rows = learner.finish()
    # only seq_goto and seq_next are activity: one gap of 25 min = 1500 s, for courseware
    assert rows[0]["seconds"] == 1500.0
    assert rows[0]["seconds_by_category"] == by_category(courseware=1500.0)
    assert rows[0]["events"] == 2
    assert learner.skipped == 2
    assert learner.total_seconds == 1500.0


def test_events_out_of_time_order_are_refused():
    learner = LearnerTimeOnTask("ada")
    learner.add(event("2024-03-04T10:00:01"))
    with pytest.raises(ValueError, match="not in time order"):
        learner.add(event("2024-03-04T10:00:00"))


def test_events_at_the_same_time_add_nothing_and_naive_times_are_utc():
    same = datetime(2024, 3, 4, 23, 59, 59)  # naive, as MongoDB returns times: UTC
    rows = rows_of(
        {"username": "ada", "time": same, "event_type": "play_video", "event_source": "browser"},
        {"username": "ada", "time": same, "event_type": "/courses/x/xblock/y", "event_source": "server"},
    )
    assert [(row["day"], row["seconds"], row["events"]) for row in rows] == [("2024-03-04", 0.0, 2)]


def test_a_whole_stream_gives_rows_learner_by_learner_and_refuses_an_unsorted_one():
    stream = [
        event("2024-03-04T10:00:00", username="ada"),
        event("2024-03-04T10:01:00", username="ada"),  # ada: 60 s
        event("2024-03-04T09:00:00", username="bob"),
        event("2024-03-04T09:00:10", username="bob"),  # bob: 10 s
        event("2024-03-04T09:00:00", username=""),  # anonymous: skipped
    ]
    assert [(row["username"], row["seconds"]) for row in time_on_task(stream)] == [
        ("ada", 60.0),
        ("bob", 10.0),
    ]
    with pytest.raises(ValueError, match=r"\(username, time\) order"):
        list(time_on_task([*stream, event("2024-03-04T11:00:00", username="ada")]))


def server(path: str, block_category: str | None = None) -> dict:
    fields = {"event_type": path, "event_source": "server"}
    if block_category:
        fields["block"] = {"id": "block-v1:x", "block_id": "x", "category": block_category}
    return fields


@pytest.mark.parametrize(
    ("fields", "category"),
    [
        # 1. event type names
        ({"event_type": "play_video"}, VIDEO),
        ({"event_type": "load_video"}, VIDEO),
        ({"event_type": "speed_change_video"}, VIDEO),
        ({"event_type": "edx.video.closed_captions.shown"}, VIDEO),
        ({"event_type": "show_transcript"}, VIDEO),
        ({"event_type": "problem_check"}, PROBLEM),
        ({"event_type": "problem_graded"}, PROBLEM),
        ({"event_type": "showanswer"}, PROBLEM),
        ({"event_type": "save_problem_success"}, PROBLEM),
        ({"event_type": "reset_problem"}, PROBLEM),
        ({"event_type": "edx.problem.hint.demandhint_displayed"}, PROBLEM),
        ({"event_type": "edx.grades.problem.submitted"}, PROBLEM),
        ({"event_type": "openassessmentblock.create_submission"}, PROBLEM),
        ({"event_type": "edx.forum.thread.created"}, FORUM),
        ({"event_type": "edx.forum.thread.voted"}, FORUM),
        # a name beats the block: a forum event about a vertical is forum
        (
            {"event_type": "edx.forum.comment.created", "block": {"category": "vertical"}},
            FORUM,
        ),
        # 2. the block of a server handler event
        (server(f"/courses/{COURSE}/xblock/k/handler/xmodule_handler/problem_get", "problem"), PROBLEM),
        (server(f"/courses/{COURSE}/xblock/k/handler/xmodule_handler/save_user_state", "video"), VIDEO),
        (server(f"/courses/{COURSE}/xblock/k/handler/submit", "openassessment"), PROBLEM),
        (server(f"/courses/{COURSE}/xblock/k/handler/h", "drag-and-drop-v2"), PROBLEM),
        (server(f"/courses/{COURSE}/xblock/k/handler/h", "discussion"), FORUM),
        (server(f"/courses/{COURSE}/xblock/k/handler/h", "html"), COURSEWARE),
        # the block beats a path: an html block on a discussion page is courseware
        (server(f"/courses/{COURSE}/discussion/forum/x/inline", "html"), COURSEWARE),
        # 3. navigation by name
        ({"event_type": "seq_goto"}, COURSEWARE),
        ({"event_type": "seq_next"}, COURSEWARE),
        ({"event_type": "edx.ui.lms.link_clicked"}, COURSEWARE),
        ({"event_type": "edx.bookmark.added"}, COURSEWARE),
        ({"event_type": "textbook.pdf.page.scrolled"}, COURSEWARE),
        ({"event_type": "book"}, COURSEWARE),
        # 4. paths: a server event's event_type, else the page URL
        (server(f"/courses/{COURSE}/discussion/forum/x/threads/y"), FORUM),
        (server(f"/courses/{COURSE}/courseware/chapter1/sequential1/"), COURSEWARE),
        (server(f"/courses/{COURSE}/jump_to/block-v1:x"), COURSEWARE),
        (server(f"/courses/{COURSE}/xblock/block-v1:x/handler/h"), COURSEWARE),
        ({"event_type": "page_close", "page": COURSEWARE_PAGE}, COURSEWARE),
        (
            {
                "event_type": "page_close",
                "page": f"https://lms.example.org/courses/{COURSE}/discussion/forum/",
            },
            FORUM,
        ),
        # 5. the rest
        (server(f"/courses/{COURSE}/progress"), OTHER),
        (server(f"/courses/{COURSE}/info"), OTHER),
        (server("/dashboard"), OTHER),
        ({"event_type": "page_close", "page": f"https://lms.example.org/courses/{COURSE}/info"}, OTHER),
        ({"event_type": "page_close", "page": None}, OTHER),
        ({"event_type": None}, OTHER),
    ],
)
def test_event_categories(fields, category):
    assert event_category({"event_source": "browser", **fields}) == category
