"""The records the edX demo data is generated from: the command's options, the courses with their
outline of blocks and the pages learners see, the learners with their browser and phone, their
enrollments, the forum posts, and the events that must match a row of the research data package.
Everything here is plain data; ``world.py`` builds it, the package, config and tracking-log
writers read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from .clock import day_start

SITE = "prod"
HOST = "courses.example.org"
BASE_URL = f"https://{HOST}"
ENROLLMENT_OPENS_DAYS_BEFORE_START = 28
# (application, version, OS, OS version, manufacturer, model, user agent); User.mobile_app indexes it.
MOBILE_APPS = (
    ("edx.mobileapp.android", "4.0.2", "Android", "13", "samsung", "SM-S911B",
     "edX/org.edx.mobile (4.0.2; OS Version 13 (Build TP1A.220624.014); Model SM-S911B)"),
    ("edx.mobileapp.iOS", "4.1.0", "iOS", "17.3", "Apple", "iPhone14,5", "edX/4.1.0 CFNetwork/1492.0.1 Darwin/23.3.0"),
)  # fmt: skip


@dataclass(frozen=True)
class GeneratorOptions:
    """What to generate, from the command line."""

    seed: int
    courses: int
    days: int
    events_per_day: int
    out: Path
    start_date: date
    org: str
    users_per_course: int


@dataclass
class Block:
    """One course_structure block; leaves also carry what events need (video length, problem kind)."""

    key: str
    category: str
    block_id: str
    display_name: str
    metadata: dict[str, object] = field(default_factory=dict)
    children: list[Block] = field(default_factory=list)
    youtube_id: str = ""
    duration_seconds: int = 0
    problem_kind: str = ""


@dataclass
class CoursewarePage:
    """A vertical as a learner sees it: its URL and the leaves shown on it."""

    course_id: str
    chapter: Block
    sequential: Block
    vertical: Block
    position: int
    tab_count: int
    leaves: list[Block]
    path: str = field(init=False)
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.path = (
            f"/courses/{self.course_id}/courseware/{self.chapter.block_id}/{self.sequential.block_id}/"
        )
        self.url = (
            f"{BASE_URL}{self.path}{self.position}?activate_block_id={quote(self.vertical.key, safe='')}"
        )


@dataclass
class Course:
    """A course run and its outline."""

    org: str
    code: str
    run: str
    title: str
    root: Block
    pages: list[CoursewarePage]
    leaves_by_category: dict[str, list[tuple[Block, CoursewarePage]]] = field(default_factory=dict)

    @property
    def course_id(self) -> str:
        return f"course-v1:{self.org}+{self.code}+{self.run}"

    @property
    def edx_id(self) -> str:
        return self.code.lower()

    @property
    def file_prefix(self) -> str:
        return f"{self.org}-{self.code}-{self.run}"

    @property
    def about_url(self) -> str:
        return f"{BASE_URL}/courses/{self.course_id}/about"

    def leaves(self, category: str) -> list[tuple[Block, CoursewarePage]]:
        """Leaves of a category with their page (computed once per category)."""
        if category not in self.leaves_by_category:
            found = [(leaf, page) for page in self.pages for leaf in page.leaves if leaf.category == category]
            self.leaves_by_category[category] = found
        return self.leaves_by_category[category]

    def pages_of(self, sequential: Block) -> list[CoursewarePage]:
        """The pages of a sequential, in position order."""
        return [page for page in self.pages if page.sequential is sequential]


@dataclass
class User:
    """A learner, with the browser and network they use."""

    user_id: int
    username: str
    first_name: str
    last_name: str
    email: str
    hash_id: str
    date_joined: datetime
    last_login: datetime | None
    country: str
    city: str
    language: str
    gender: str | None
    year_of_birth: int | None
    level_of_education: str | None
    ip: str
    agent: str
    accept_language: str
    mobile_app: int

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Enrollment:
    """A user's enrollment in a course; activation and deactivation days index the generated days."""

    enrollment_id: int
    user: User
    course: Course
    mode: str
    created: datetime | None = None
    activation_day: int | None = None  # None: enrolled before the first generated day
    deactivation_day: int | None = None

    @property
    def is_active(self) -> int:
        return 0 if self.deactivation_day is not None else 1

    def is_active_on(self, day: int) -> bool:
        activated_before = self.activation_day is None or self.activation_day < day
        deactivated = self.deactivation_day is not None and self.deactivation_day <= day
        return activated_before and not deactivated


@dataclass
class ForumPost:
    """A forum thread, response (reply to a thread) or comment (reply to a response)."""

    object_id: str
    kind: str
    course: Course
    author: User
    body: str
    thread: ForumPost | None = None
    parent: ForumPost | None = None
    title: str = ""
    discussion: tuple[Block, CoursewarePage] | None = None
    created: datetime | None = None
    day: int | None = None
    replies: int = 0

    @property
    def commentable_id(self) -> str:
        """The discussion its thread belongs to: an inline discussion's id, or "course"."""
        thread = self if self.kind == "thread" else self.thread
        if thread is None or thread.discussion is None:
            return "course"
        return str(thread.discussion[0].metadata["discussion_id"])


@dataclass
class ScheduledEvent:
    """An event that must match a row of the package (enrollment change or forum post)."""

    kind: str  # enrollment_activated | enrollment_deactivated | forum_post
    enrollment: Enrollment | None = None
    post: ForumPost | None = None


@dataclass
class DemoWorld:
    """Everything the package, configs and tracking logs are generated from."""

    options: GeneratorOptions
    courses: list[Course]
    users: list[User]
    enrollments: list[Enrollment]
    forum_posts: list[ForumPost]
    schedule: dict[int, dict[int, ScheduledEvent]]  # day -> event slot -> event

    @property
    def period_start(self) -> datetime:
        return day_start(self.options.start_date, 0)

    @property
    def enrollment_opens(self) -> datetime:
        return self.period_start - timedelta(days=ENROLLMENT_OPENS_DAYS_BEFORE_START)

    @property
    def last_day(self) -> date:
        return self.options.start_date + timedelta(days=self.options.days - 1)

    def enrollments_in(self, course: Course) -> list[Enrollment]:
        """The course's enrollments, in enrollment order."""
        return [enrollment for enrollment in self.enrollments if enrollment.course is course]
