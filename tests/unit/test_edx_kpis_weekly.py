"""Weekly activity: ISO weeks in UTC (Sunday 23:59 vs Monday 00:00), the four labels, distinct learners."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from analytics.edx.kpis.weekly import (
    ACTIVE,
    ATTEMPTED_PROBLEM,
    PLAYED_VIDEO,
    POSTED_FORUM,
    WeeklyActivity,
    event_labels,
    iso_week_start,
    weekly_activity,
)


def event(username: str, when: datetime, event_type: str = "seq_goto", source: str = "browser") -> dict:
    return {"username": username, "time": when, "event_type": event_type, "event_source": source}


def counts(rows: list[dict]) -> dict[tuple[str, str], int]:
    return {(row["interval_start"], row["label"]): row["count"] for row in rows}


MONDAY = datetime(2024, 3, 11, 0, 0, tzinfo=UTC)  # 2024-03-11 is a Monday


def test_sunday_2359_is_the_week_before_and_monday_0000_the_week_after():
    rows = weekly_activity(
        [
            event(
                "ada", datetime(2024, 3, 10, 23, 59, 59, 999999, tzinfo=UTC)
            ),  # Sunday: week of Mon 4 March
            event("ada", MONDAY),  # Monday 00:00: week of Mon 11 March
            event("bob", datetime(2024, 3, 17, 23, 59, tzinfo=UTC)),  # Sunday 17: still the week of the 11th
        ]
    )
    assert counts(rows) == {
        ("2024-03-04", ACTIVE): 1,
        ("2024-03-04", ATTEMPTED_PROBLEM): 0,
        ("2024-03-04", PLAYED_VIDEO): 0,
        ("2024-03-04", POSTED_FORUM): 0,
        ("2024-03-11", ACTIVE): 2,  # ada (Monday 00:00) and bob (Sunday 23:59)
        ("2024-03-11", ATTEMPTED_PROBLEM): 0,
        ("2024-03-11", PLAYED_VIDEO): 0,
        ("2024-03-11", POSTED_FORUM): 0,
    }
    assert [row["interval_start"] for row in rows] == ["2024-03-04"] * 4 + ["2024-03-11"] * 4


def test_a_naive_time_is_utc():
    # MongoDB returns naive UTC times: Sunday 23:59 naive is still Sunday
    rows = weekly_activity([event("ada", datetime(2024, 3, 10, 23, 59))])
    assert rows[0]["interval_start"] == "2024-03-04"


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (date(2024, 3, 10), date(2024, 3, 4)),  # Sunday
        (date(2024, 3, 11), date(2024, 3, 11)),  # Monday
        (date(2024, 12, 31), date(2024, 12, 30)),  # ISO week 2025-W01 starts in 2024
        (date(2021, 1, 3), date(2020, 12, 28)),  # a Sunday of ISO week 2020-W53
        (date(2020, 2, 29), date(2020, 2, 24)),
    ],
)
def test_iso_week_start(day, monday):
    assert iso_week_start(day) == monday


def test_the_labels_and_distinct_learners():
    at = datetime(2024, 3, 12, 9, 0, tzinfo=UTC)
    events = [
        event("ada", at, "problem_check", "server"),  # ACTIVE, ATTEMPTED_PROBLEM
        event("ada", at, "problem_check", "server"),  # the same learner again: counted once
        event("bob", at, "problem_check", "browser"),  # ACTIVE only: the browser's click, not the check
        event("cy", at, "play_video", "mobile"),  # ACTIVE, PLAYED_VIDEO
        event("dee", at, "play_video", "browser"),  # ACTIVE, PLAYED_VIDEO
        event("dee", at, "play_video", "browser"),
        event("eve", at, "edx.forum.response.created", "server"),  # ACTIVE, POSTED_FORUM
        event("eve", at, "edx.forum.thread.voted", "server"),  # ACTIVE only
        event("fay", at, "edx.course.enrollment.activated", "server"),  # nothing: enrollment
        event("gus", at, "edx.grades.subsection.grade_calculated", "task"),  # nothing: a task
        event("hal", at, "play_video", "server"),  # ACTIVE, not PLAYED_VIDEO (neither browser nor mobile)
    ]
    assert counts(weekly_activity(events)) == {
        ("2024-03-11", ACTIVE): 6,  # ada, bob, cy, dee, eve, hal (not fay: enrollment; not gus: task)
        ("2024-03-11", ATTEMPTED_PROBLEM): 1,  # ada
        ("2024-03-11", PLAYED_VIDEO): 2,  # cy, dee (once each)
        ("2024-03-11", POSTED_FORUM): 1,  # eve
    }


@pytest.mark.parametrize(
    ("event_type", "source", "labels"),
    [
        ("problem_check", "server", [ACTIVE, ATTEMPTED_PROBLEM]),
        ("problem_check", "browser", [ACTIVE]),
        ("play_video", "browser", [ACTIVE, PLAYED_VIDEO]),
        ("play_video", "mobile", [ACTIVE, PLAYED_VIDEO]),
        ("pause_video", "browser", [ACTIVE]),
        ("edx.forum.thread.created", "server", [ACTIVE, POSTED_FORUM]),
        ("edx.forum.response.created", "server", [ACTIVE, POSTED_FORUM]),
        ("edx.forum.comment.created", "server", [ACTIVE, POSTED_FORUM]),
        ("edx.forum.thread.viewed", "server", [ACTIVE]),
        ("edx.course.enrollment.activated", "server", []),
        ("edx.course.enrollment.mode_changed", "server", []),
        ("problem_check", "task", []),  # a task event is not the learner acting
        ("edx.course.enrollment", "server", [ACTIVE]),  # not an enrollment.* event
    ],
)
def test_event_labels(event_type, source, labels):
    assert event_labels({"event_type": event_type, "event_source": source}) == labels


def test_a_learner_not_finished_is_not_counted():
    activity = WeeklyActivity()
    staff = activity.learner("staff")
    staff.add(event("staff", MONDAY, "play_video"))
    ada = activity.learner("ada")
    ada.add(event("ada", MONDAY, "play_video"))
    ada.finish()
    assert counts(activity.rows())[("2024-03-11", PLAYED_VIDEO)] == 1  # ada; staff never finished
    assert activity.learners == 1


def test_no_activity_no_rows():
    assert weekly_activity([event("fay", MONDAY, "edx.course.enrollment.activated", "server")]) == []
