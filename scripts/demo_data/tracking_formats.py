"""The shapes of edX tracking events in the demo logs: the envelopes of browser, server and mobile
events (which top-level and context keys each has, where the user, course and page go, as in
edX's own samples) and the payloads that are easiest to get wrong: a server problem_check, and
the open-assessment events whose nested keys contain dots and begin with '$'."""

from __future__ import annotations

import random

import orjson

from .courses import PROBLEM_KINDS
from .randomness import random_hex
from .tracking_sessions import Session
from .world import FORUM_BODIES
from .world_model import BASE_URL, HOST, MOBILE_APPS, Block, Course, User

Event = dict[str, object]
SERVER_EMPTY_REQUEST = '{"POST": {}, "GET": {}}'
OPEN_ASSESSMENT_CRITERIA = (("Ideas", 3), ("Organization", 2), ("Evidence", 3))
VIDEO_EVENT_NAMES_ON_MOBILE = {
    "load_video": "edx.video.loaded",
    "play_video": "edx.video.played",
    "pause_video": "edx.video.paused",
    "seek_video": "edx.video.position.changed",
    "stop_video": "edx.video.stopped",
}


def compact_json(value: object) -> str:
    """JSON as a browser's JSON.stringify writes it (no spaces)."""
    return orjson.dumps(value).decode()


def browser_event(
    org: str,
    session: Session,
    event_type: str,
    event: str,
    time_text: str,
    name: str | None = None,
    course_known: bool = True,
) -> Event:
    """A browser event; its details are a JSON string, and without course_known its context's
    org_id and course_id are empty (the course then shows only in the page URL)."""
    user, course = session.enrollment.user, session.enrollment.course
    return {
        "username": user.username,
        "event_type": event_type,
        "ip": user.ip,
        "agent": user.agent,
        "host": HOST,
        "referer": session.page.url,
        "accept_language": user.accept_language,
        "event": event,
        "event_source": "browser",
        "context": {
            "user_id": user.user_id,
            "org_id": org if course_known else "",
            "course_id": course.course_id if course_known else "",
            "path": "/event",
        },
        "time": time_text,
        "page": session.page.url,
        "session": session.session_key,
        "name": name or event_type,
        "label": course.course_id if course_known else "",  # as relayed by Segment
        "nonInteraction": 1,
    }


def server_event(
    org: str,
    user: User,
    course: Course | None,
    event_type: str,
    event: object,
    time_text: str,
    path: str,
    referer: str,
    *,
    more_context: dict[str, object] | None = None,
    page: str | None = None,
    session: str | None = None,
    name: str | None = None,
) -> Event:
    """A server event; a course of None gives the empty org_id and course_id of non-course pages."""
    context: dict[str, object] = {"course_user_tags": {}, "user_id": user.user_id}
    context.update(org_id=org if course else "", course_id=course.course_id if course else "", path=path)
    context.update(more_context or {})
    envelope: dict[str, object] = {
        "username": user.username,
        "event_type": event_type,
        "ip": user.ip,
        "agent": user.agent,
        "host": HOST,
        "referer": referer,
        "accept_language": user.accept_language,
        "event": event,
        "event_source": "server",
        "context": context,
        "time": time_text,
        "page": page,
    }
    if session is not None:
        envelope["session"] = session
    if name is not None:
        envelope["name"] = name
    return envelope


def mobile_event(
    org: str, session: Session, event_type: str, event: dict[str, object], time_text: str
) -> Event:
    """A video event of the mobile apps, as relayed by Segment (no page, no session key)."""
    user, course = session.enrollment.user, session.enrollment.course
    application, version, os_name, os_version, manufacturer, model, agent = MOBILE_APPS[user.mobile_app]
    video_key = session.video.block.key if session.video else session.page.vertical.key
    return {
        "username": user.username,
        "event_type": event_type,
        "ip": user.ip,
        "agent": agent,
        "host": HOST,
        "referer": "",
        "accept_language": user.accept_language,
        "event": event,
        "event_source": "mobile",
        "context": {
            "received_at": time_text,
            "course_id": course.course_id,
            "user_id": user.user_id,
            "org_id": org,
            "path": "/segmentio/event",
            "application": {"name": application, "version": version},
            "client": {
                "device": {"manufacturer": manufacturer, "model": model},
                "os": {"name": os_name, "version": os_version},
                "network": {"wifi": session.session_key[0] in "01234567"},
            },
            "component": "videoplayer",
            "open_in_browser_url": f"{BASE_URL}/courses/{course.course_id}/jump_to/{video_key}",
        },
        "time": time_text,
        "page": None,
        "session": "",
        "name": VIDEO_EVENT_NAMES_ON_MOBILE[event_type],
    }


def open_assessment_submission(rng: random.Random, time_text: str) -> Event:
    """The event of openassessmentblock.create_submission (with a dotted key)."""
    return {
        "answer": {"parts": [{"text": rng.choice(FORUM_BODIES)}], "file.names": ["essay.v2.pdf"]},
        "attempt_number": 1,
        "created_at": time_text,
        "submitted_at": time_text,
        "submission_uuid": random_hex(rng),
    }


def open_assessment_grade(rng: random.Random, time_text: str, score_type: str) -> Event:
    """The event of openassessmentblock.peer_assess / self_assess (with dotted and '$' keys)."""
    points = [rng.randint(0, possible) for _, possible in OPEN_ASSESSMENT_CRITERIA]
    parts = [
        {
            "option": {"name": f"{earned} points", "points": earned, "points.possible": possible},
            "criterion": {"name": criterion, "points_possible": possible},
            "feedback": "",
        }
        for (criterion, possible), earned in zip(OPEN_ASSESSMENT_CRITERIA, points, strict=True)
    ]
    return {
        "feedback": "Clear argument.",
        "rubric": {"content_hash": random_hex(rng, 40)},
        "scored_at": time_text,
        "scorer_id": random_hex(rng),
        "score_type": score_type,
        "parts": parts,
        "submission_uuid": random_hex(rng),
        "$set": {
            "score.points_earned": sum(points),
            "score.points_possible": sum(possible for _, possible in OPEN_ASSESSMENT_CRITERIA),
        },
    }


def problem_check_details(
    problem: Block, answer: object, answer_text: str, correct: bool, attempts: int
) -> Event:
    """The event of a server problem_check, shaped like edX's documented sample."""
    input_id = f"{problem.block_id}_2_1"
    input_type, response_type = PROBLEM_KINDS[problem.problem_kind]
    correctness = "correct" if correct else "incorrect"
    submission = {
        "input_type": input_type,
        "question": f"{problem.display_name}: pick or type your answer",
        "response_type": response_type,
        "answer": answer_text,
        "variant": "",
        "correct": correct,
    }
    correct_map = {
        "hint": "",
        "hintmode": None,
        "correctness": correctness,
        "npoints": None,
        "answervariable": None,
        "msg": "",
        "queuestate": None,
    }
    return {
        "submission": {input_id: submission},
        "success": correctness,
        "grade": int(correct),
        "correct_map": {input_id: correct_map},
        "state": {
            "student_answers": {},
            "seed": 1,
            "done": None,
            "correct_map": {},
            "input_state": {input_id: {}},
        },
        "answers": {input_id: answer},
        "attempts": attempts,
        "max_grade": 1,
        "problem_id": problem.key,
    }
