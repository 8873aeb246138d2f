"""The learners' visits during one generated day of tracking logs: a pool of sessions in progress
(sized by the day's events, each on one device: browser or phone), each session on a page of its
course, perhaps watching a video or between the browser and server halves of a problem check.
Every activity event continues one session; sessions end now and then and a new one begins."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .randomness import random_hex
from .world_model import Block, CoursewarePage, DemoWorld, Enrollment

SESSION_END_PROBABILITY = 1 / 40
SECONDS_BETWEEN_EVENTS_OF_A_SESSION = 30
MINIMUM_CONCURRENT_SESSIONS = 8
MAXIMUM_CONCURRENT_SESSIONS = 2000


@dataclass
class VideoState:
    """Where a learner is in a video; the position advances with time while it plays."""

    block: Block
    position: float = 0.0
    status: str = "loaded"  # loaded | playing | paused | stopped
    updated_at: int = 0  # microseconds after midnight


@dataclass
class Session:
    """A learner's visit: one enrollment, one device, moving through pages of the course."""

    enrollment: Enrollment
    session_key: str
    source: str  # browser | mobile
    page: CoursewarePage
    video: VideoState | None = None
    pending_problem: tuple[Block, object, str] | None = None  # browser problem_check sent, server one next

    def go_to(self, page: CoursewarePage) -> None:
        """Open another page; a video playing on the previous one is left behind."""
        self.page = page
        self.video = None


class SessionPool:
    """The visits in progress during a day; each event continues one of them."""

    def __init__(self, world: DemoWorld, rng: random.Random, day: int) -> None:
        self.rng = rng
        # Never empty: the first learner of each course is active on every day.
        self.enrollments = [enrollment for enrollment in world.enrollments if enrollment.is_active_on(day)]
        size = world.options.events_per_day * SECONDS_BETWEEN_EVENTS_OF_A_SESSION // 86_400
        self.sessions = [
            self.new_session()
            for _ in range(max(MINIMUM_CONCURRENT_SESSIONS, min(MAXIMUM_CONCURRENT_SESSIONS, size)))
        ]

    def new_session(self) -> Session:
        enrollment = self.rng.choice(self.enrollments)
        source = "mobile" if self.rng.random() < 0.12 else "browser"
        return Session(enrollment, random_hex(self.rng), source, self.rng.choice(enrollment.course.pages))

    def pick(self) -> Session:
        index = self.rng.randrange(len(self.sessions))
        session = self.sessions[index]
        if self.rng.random() < SESSION_END_PROBABILITY and session.pending_problem is None:
            self.sessions[index] = self.new_session()
        return session
