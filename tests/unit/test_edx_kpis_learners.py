"""The learners row: activity from events (by the weekly labels' rules), enrollment, certificate, contact details."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from analytics.edx.kpis.learners import LearnerActivity, learner_row
from analytics.edx.kpis.sessions import LearnerTimeOnTask

COURSE = "course-v1:TestX+KPI101+2024_T1"
PROBLEM_KEY = "block-v1:TestX+KPI101+2024_T1+type@problem+block@p1"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(when: str, event_type: str, source: str = "browser", **fields) -> dict:
    return {"username": "ada", "time": at(when), "event_type": event_type, "event_source": source, **fields}


def ada_events() -> list[dict]:
    return [
        event("2024-03-01T08:00:00", "edx.course.enrollment.activated", "server"),  # not activity
        event("2024-03-04T10:00:00", "play_video", event={"id": "v1", "currentTime": 0}),
        # an old log's event, a JSON string
        event("2024-03-04T10:01:00", "play_video", event=json.dumps({"id": "v1", "currentTime": 30})),
        event("2024-03-04T10:02:00", "play_video", "mobile", event={"id": "block-v1:X+type@video+block@v2"}),
        # the browser's click, with the block the extraction matched from its page: not an attempt
        event(
            "2024-03-04T10:03:00", "problem_check", "browser", event="input_p3=1", block={"id": "block-v1:p3"}
        ),
        event(
            "2024-03-04T10:03:01",
            "problem_check",
            "server",
            event={"problem_id": PROBLEM_KEY},
            block={"id": PROBLEM_KEY, "block_id": "p1", "category": "problem"},
        ),
        # p1 again, not enriched this time: its problem_id is the same key
        event("2024-03-04T10:04:00", "problem_check", "server", event={"problem_id": PROBLEM_KEY}),
        event("2024-03-05T09:00:00", "problem_check", "server", event={"problem_id": "block-v1:p2"}),
        event("2024-03-05T09:10:00", "edx.forum.thread.created", "server", event={"id": "t1"}),
        event("2024-03-05T09:20:00", "edx.forum.comment.created", "server", event={"id": "c1"}),
        event("2024-03-05T09:25:00", "edx.forum.thread.voted", "server", event={"id": "t1"}),
        event("2024-03-06T00:00:00", "edx.grades.course.grade_calculated", "task"),  # not activity
    ]


def activity_of(events) -> LearnerActivity:
    activity = LearnerActivity("ada")
    for one in events:
        activity.add(one)
    return activity


def test_the_activity_of_a_learner():
    activity = activity_of(ada_events())
    # activity: the 10 events between the enrollment and the task event
    assert activity.events == 10
    assert activity.first_event == at("2024-03-04T10:00:00")  # not the enrollment of 1 March
    assert activity.last_event == at("2024-03-05T09:25:00")  # not the task event of the 6th
    assert activity.days == {at("2024-03-04").date(), at("2024-03-05").date()}
    assert activity.videos == {"v1", "block-v1:X+type@video+block@v2"}  # v1 twice, v2 from the app
    # p1 (by its block key, then by its problem_id: the same key) and p2; the browser's click is no attempt
    assert activity.problems == {PROBLEM_KEY, "block-v1:p2"}
    assert activity.forum_posts == 2  # thread and comment created; the vote is no post


def test_the_learner_row_without_contact_details():
    events = ada_events()
    sessions = LearnerTimeOnTask("ada")
    for one in events:
        sessions.add(one)
    # time on task, gaps < 30 min between activity events:
    # 4 March: 10:00 -> 10:01 -> 10:02 -> 10:03 -> 10:03:01 -> 10:04: 60 + 60 + 60 + 1 + 59 = 240 s
    # 5 March: 09:00 -> 09:10 -> 09:20 -> 09:25: 600 + 600 + 300 = 1500 s; 10:04 -> 09:00 next day ends a session
    total = sum(row["seconds"] for row in sessions.finish())
    assert total == 1740.0
    row = learner_row(
        activity_of(events),
        time_on_task_seconds=total,
        enrollment={"mode": "verified", "created": datetime(2024, 3, 1, 23, 30), "is_active": True},
        certificate={"status": "downloadable", "grade": 0.9},
        contact={"email": "ada@example.org", "name": "Ada L."},
    )
    assert row == {
        "username": "ada",
        "enrollment_mode": "verified",
        "enrollment_date": "2024-03-01",  # naive from MongoDB: UTC
        "enrollment_active": True,
        "first_event": at("2024-03-04T10:00:00"),
        "last_event": at("2024-03-05T09:25:00"),
        "days_active": 2,
        "events": 10,
        "videos_watched": 2,
        "problems_attempted": 2,
        "forum_posts": 2,
        "time_on_task_seconds": 1740.0,
        "certificate_status": "downloadable",
    }


def test_contact_details_only_when_asked():
    contact = {"email": "ada@example.org", "name": "Ada L.", "password": "never copied"}
    row = learner_row(activity_of([]), time_on_task_seconds=0.0, contact=contact, include_contact_info=True)
    assert (row["email"], row["name"]) == ("ada@example.org", "Ada L.")
    assert "password" not in row
    # asked, but unknown: the fields are there, empty
    row = learner_row(activity_of([]), time_on_task_seconds=0.0, include_contact_info=True)
    assert (row["email"], row["name"]) == (None, None)


def test_an_enrolled_learner_who_never_came():
    row = learner_row(
        LearnerActivity("bob"),
        time_on_task_seconds=0.0,
        enrollment={
            "mode": "audit",
            "created": datetime(2024, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
        },
    )
    assert row["enrollment_date"] == "2024-03-02"  # 23:30 at UTC-5 is 04:30 UTC the next day
    assert (row["first_event"], row["last_event"], row["days_active"], row["events"]) == (None, None, 0, 0)
    assert (row["videos_watched"], row["problems_attempted"], row["forum_posts"]) == (0, 0, 0)
    assert (row["certificate_status"], row["enrollment_active"]) == (None, None)
    assert "email" not in row and "name" not in row
