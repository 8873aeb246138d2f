"""A small hand-written course for the course KPIs tests, in the shape the extraction and ingestion store it.

Course ``course-v1:KpiX+<code>+2024_T1``, 4 to 17 March 2024 (two ISO weeks, Mondays 4 and 11
March). Its learners, and what each is there to show:

- ``ada`` (user 1, verified, certificate ``downloadable``): a courseware page, video v1 viewed
  0 -> 20 (pause) and, after a seek made while paused, 40 -> 58 (stop), a graded problem, a
  55-minute gap (a new session); and in week 2 a session that crosses midnight (12 March 23:50
  -> 13 March 00:10, a problem);
- ``bob`` (user 2, audit): an enrollment event (not activity), v1 0 -> 12, a thread and a response;
- ``carol`` (user 3, enrolled): no event at all; she has a row all the same;
- ``dora`` (no user row, not enrolled): a comment and v1 5 -> 15 in week 2;
- ``root`` (user 4, ``is_staff``), ``prof`` (user 5, the instructor dashboard) and ``designer``
  (user 6, a Studio event in the master only): staff, each also watches v1;
- ``admin`` (user 7, ``is_superuser``, not enrolled, no event): staff but not of this course's
  learners, so not counted as excluded;
- two anonymous events.

``EXPECTED`` holds what the KPIs must be, computed by hand in the comments.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.edx.course_configs import CourseConfig, parse_course_config

ORG, RUN = "KpiX", "2024_T1"
ENROLLMENT, COMPLETION = "2024-03-04", "2024-03-17"
VIDEO_ID = "v1"
EMAILS = ("ada@example.org", "bob@example.org", "carol@example.org")
NAMES = ("Ada Lovelace", "Bob Marley", "Carol Shaw")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC)


@dataclass
class KpiCourse:
    """One test course: its id, database and config (a fresh code per test)."""

    code: str
    course_id: str
    database: Any
    master: Any
    config: CourseConfig

    def key(self, category: str, block_id: str) -> str:
        return f"block-v1:{ORG}+{self.code}+{RUN}+type@{category}+block@{block_id}"

    def page(self, path: str) -> str:
        return f"/courses/{self.course_id}/{path}"


def new_course(client: Any, directory: Path, master_database: str) -> KpiCourse:
    code = f"K{uuid.uuid4().hex[:8]}"
    course_id = f"course-v1:{ORG}+{code}+{RUN}"
    raw = {
        "edx_id": code.lower(),
        "edx_course_name": "KPI course",
        "course_ids": [course_id],
        "date_of_course_enrollment": ENROLLMENT,
        "date_of_course_completion": COMPLETION,
    }
    path = directory / f"{code}.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    config = parse_course_config(path)
    database = client[config.database_name]
    client.drop_database(database.name)
    return KpiCourse(code, course_id, database, client[master_database]["tracking"], config)


class Events:
    """Builds ``<course db>.tracking`` documents with deterministic ``_id``s."""

    def __init__(self, course: KpiCourse) -> None:
        self.course = course
        self.documents: list[dict[str, Any]] = []

    def add(
        self, username: str, when: datetime, event_type: str, source: str = "browser", **fields: Any
    ) -> None:
        number = len(self.documents) + 1
        document = {
            "_id": f"kpis.log:{number}",
            "username": username,
            "time": when,
            "event_type": event_type,
            "event_source": source,
            "event": fields.pop("event", {}),
            "context": {"course_id": self.course.course_id, "path": fields.pop("path", "/event")},
            "host": "courses.example.org",
            "page": fields.pop("page", None),
            "course_id": self.course.course_id,
            **fields,
        }
        self.documents.append(document)

    def page(self, username: str, when: datetime, path: str) -> None:
        self.add(username, when, self.course.page(path), source="server")

    def video(self, username: str, when: datetime, event_type: str, **positions: Any) -> None:
        block = {"id": self.course.key("video", VIDEO_ID), "block_id": VIDEO_ID, "category": "video"}
        block["display_name"] = "Video 1"
        self.add(username, when, event_type, event={"id": VIDEO_ID, **positions}, block=block)

    def problem(self, username: str, when: datetime, problem: str) -> None:
        key = self.course.key("problem", problem)
        block = {"id": key, "block_id": problem, "category": "problem", "display_name": problem}
        self.add(username, when, "problem_check", source="server", event={"problem_id": key}, block=block)


def course_events(course: KpiCourse) -> list[dict[str, Any]]:
    events = Events(course)
    courseware = "courseware/week1/lesson1/"
    # ada, 4 March: 10:00 page (60 s courseware), 10:01 play 0 (20 s video), 10:01:20 pause 20 (40 s),
    # 10:02 seek 20 -> 40 while paused (1 s; outside a viewing), 10:02:01 play 40 (18 s),
    # 10:02:19 stop 58 (161 s), 10:05 problem (the 55-minute gap to 11:00 counts nothing), 11:00 page.
    # Time: 60 + 20 + 40 + 1 + 18 + 161 = 300 s (video 240, courseware 60); 2 sessions; 8 events.
    events.page("ada", at(4, 10), courseware)
    events.video("ada", at(4, 10, 1), "play_video", currentTime=0, duration=60)
    events.video("ada", at(4, 10, 1, 20), "pause_video", currentTime=20)
    events.video("ada", at(4, 10, 2), "seek_video", old_time=20, new_time=40)
    events.video("ada", at(4, 10, 2, 1), "play_video", currentTime=40)
    events.video("ada", at(4, 10, 2, 19), "stop_video", currentTime=58)
    events.problem("ada", at(4, 10, 5), "p1")
    events.page("ada", at(4, 11), courseware)
    # ada, 12 March 23:50 page -> 13 March 00:10 problem: 1200 s courseware for the 12th (1 session);
    # the 13th: 1 event, 0 s, 0 sessions (its session started the day before).
    events.page("ada", at(12, 23, 50), "courseware/week2/lesson1/")
    events.problem("ada", at(13, 0, 10), "p2")
    # bob, 5 March: enrollment (not activity), play 0 (12 s video), pause 12 (588 s video),
    # thread (120 s forum), response. 720 s; 1 session; 4 events; 2 forum posts.
    events.add("bob", at(5, 8, 59), "edx.course.enrollment.activated", source="server")
    events.video("bob", at(5, 9), "play_video", currentTime=0)
    events.video("bob", at(5, 9, 0, 12), "pause_video", currentTime=12)
    events.add("bob", at(5, 9, 10), "edx.forum.thread.created", source="server")
    events.add("bob", at(5, 9, 12), "edx.forum.response.created", source="server")
    # dora, 11 March: comment (300 s forum), play 5 (10 s video), pause 15. 310 s; 1 session; 3 events.
    events.add("dora", at(11, 14), "edx.forum.comment.created", source="server")
    events.video("dora", at(11, 14, 5), "play_video", currentTime=5)
    events.video("dora", at(11, 14, 5, 10), "pause_video", currentTime=15)
    # staff: root (is_staff), prof (instructor dashboard), designer (Studio, in the master): each watches v1
    events.video("root", at(4, 12), "play_video", currentTime=0)
    events.video("root", at(4, 12, 0, 30), "pause_video", currentTime=30)
    events.page("prof", at(6, 10), "instructor/api/list_course_role_members")
    events.video("prof", at(6, 10, 1), "play_video", currentTime=0)
    events.video("prof", at(6, 10, 1, 50), "pause_video", currentTime=50)
    events.page("designer", at(7, 9, 30), courseware)
    events.video("designer", at(7, 9, 31), "play_video", currentTime=0)
    events.video("designer", at(7, 9, 31, 10), "pause_video", currentTime=10)
    # anonymous
    events.add("", at(5, 7), "page_close")
    events.add("", at(12, 7), "page_close")
    return events.documents


def studio_event(course: KpiCourse) -> dict[str, Any]:
    """A master event of Studio: no course id, Studio's host."""
    return {
        "_id": "studio.log:1",
        "username": "designer",
        "time": at(7, 9),
        "event_type": f"/course/{course.course_id}",
        "event_source": "server",
        "host": "studio.example.org",
        "context": {"course_id": "", "path": f"/course/{course.course_id}"},
        "event": {},
        "course_id": None,
    }


def write_tables(course: KpiCourse) -> None:
    """user, userprofile, enrollment, certificates as the ingestion stores them (``_id`` the table's id)."""
    database = course.database
    users = [
        (1, "ada", False, False),
        (2, "bob", False, False),
        (3, "carol", False, False),
        (4, "root", True, False),
        (5, "prof", False, False),
        (6, "designer", False, False),
        (7, "admin", False, True),
    ]
    database["user"].insert_many(
        [
            {
                "_id": user_id,
                "id": user_id,
                "username": username,
                "email": f"{username}@example.org",
                "first_name": username.title(),
                "is_staff": is_staff,
                "is_superuser": is_superuser,
                "is_active": True,
            }
            for user_id, username, is_staff, is_superuser in users
        ]
    )
    database["userprofile"].insert_many(
        [
            {"_id": 100 + user_id, "id": 100 + user_id, "user_id": user_id, "name": name}
            for user_id, name in zip((1, 2, 3), NAMES, strict=True)
        ]
    )
    enrollments = [
        (1, "verified", datetime(2024, 3, 1, 9, 30)),
        (2, "audit", datetime(2024, 3, 5, 8, 59)),
        (3, "honor", datetime(2024, 3, 2, 12, 0)),
        (4, "honor", datetime(2024, 3, 1, 8, 0)),
        (5, "honor", datetime(2024, 3, 1, 8, 0)),
    ]
    database["enrollment"].insert_many(
        [
            {
                "_id": 200 + user_id,
                "id": 200 + user_id,
                "user_id": user_id,
                "course_id": course.course_id,
                "mode": mode,
                "created": created,
                "is_active": True,
            }
            for user_id, mode, created in enrollments
        ]
    )
    database["certificates"].insert_many(
        [
            {"_id": 301, "id": 301, "user_id": 1, "status": "downloadable", "name": NAMES[0], "grade": 0.9},
            {"_id": 302, "id": 302, "user_id": 2, "status": "notpassing", "name": NAMES[1], "grade": 0.2},
        ]
    )


def write_course(course: KpiCourse) -> None:
    write_tables(course)
    course.database["tracking"].insert_many(course_events(course))
    course.database["tracking"].create_index([("username", 1), ("time", 1)])
    course.master.insert_one(studio_event(course))


def _categories(**seconds: float) -> dict[str, float]:
    return {
        name: float(seconds.get(name, 0)) for name in ("video", "problem", "forum", "courseware", "other")
    }


# (username, day) -> (seconds, by category, sessions, events)
EXPECTED_TIME_ON_TASK = {
    ("ada", "2024-03-04"): (300.0, _categories(video=240, courseware=60), 2, 8),
    ("ada", "2024-03-12"): (1200.0, _categories(courseware=1200), 1, 1),
    ("ada", "2024-03-13"): (0.0, _categories(), 0, 1),
    ("bob", "2024-03-05"): (720.0, _categories(video=600, forum=120), 1, 4),
    ("dora", "2024-03-11"): (310.0, _categories(forum=300, video=10), 1, 3),
}
# (interval_start, label) -> count: week 1 active ada, bob; week 2 ada, dora (staff would make week 1 five)
EXPECTED_WEEKLY = {
    ("2024-03-04", "ACTIVE"): 2,
    ("2024-03-04", "ATTEMPTED_PROBLEM"): 1,
    ("2024-03-04", "PLAYED_VIDEO"): 2,
    ("2024-03-04", "POSTED_FORUM"): 1,
    ("2024-03-11", "ACTIVE"): 2,
    ("2024-03-11", "ATTEMPTED_PROBLEM"): 1,
    ("2024-03-11", "PLAYED_VIDEO"): 1,
    ("2024-03-11", "POSTED_FORUM"): 1,
}
# segment -> (num_users, num_views): ada 0-20 (0..4) and 40-58 (8..11), bob 0-12 (0..2), dora 5-15 (1..3)
EXPECTED_SEGMENTS = {
    0: (2, 2),
    1: (3, 3),
    2: (3, 3),
    3: (2, 2),
    4: (1, 1),
    8: (1, 1),
    9: (1, 1),
    10: (1, 1),
    11: (1, 1),
}
# username -> (mode, enrollment_date, days_active, events, videos, problems, forum posts, seconds, certificate)
EXPECTED_LEARNERS = {
    "ada": ("verified", "2024-03-01", 3, 10, 1, 2, 0, 1500.0, "downloadable"),
    "bob": ("audit", "2024-03-05", 1, 4, 1, 0, 2, 720.0, "notpassing"),
    "carol": ("honor", "2024-03-02", 0, 0, 0, 0, 0, 0.0, None),
    "dora": (None, None, 1, 3, 1, 0, 1, 310.0, None),
}
