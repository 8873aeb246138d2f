"""Generate a deterministic, realistic edX demo data set for the analytics DAGs.

Under ``--out`` it writes an edX research data package per course (``package/``: MySQL-escaped
TSV tables with ``NULL`` literals, course_structure JSON, a mongoexport forum dump), one gzip
tracking log per day (``tracking/``: browser, server and mobile events plus a few deliberately
broken lines), one course-extraction config per course (``courses/``) and ``manifest.json``,
which counts every row, block, event and broken line written so that tests and the demo summary
can check that everything is accounted for. The formats copy the real edX samples in
``../shared/edx-samples``. The same arguments always give byte-identical files (every random
choice comes from ``random.Random`` seeded from ``--seed``), and events are streamed into the
gzip as they are generated, so memory stays bounded whatever ``--events-per-day`` is.

Usage: python scripts/generate_demo_data.py --seed 7 --courses 3 --days 7 --events-per-day 20000 --out DIR
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import queue
import random
import sys
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast
from urllib.parse import quote

import orjson

SITE = "prod"
HOST = "courses.example.org"
BASE_URL = f"https://{HOST}"
DAY_MICROSECONDS = 86_400_000_000
DIURNAL_AMPLITUDE = 0.6  # events are 4x denser around 12:00 UTC than around midnight
BROKEN_LINE_RATE = 1 / 500
BROKEN_LINE_KINDS = ("truncated_json", "invalid_utf8")
INVALID_UTF8_BYTES = b"\xff\xfe"
MINIMUM_EVENTS_FOR_EVERY_BROKEN_KIND = 20
ENROLLMENT_OPENS_DAYS_BEFORE_START = 28
SCHEDULED_SHARE_OF_DAY = 4  # at most 1/4 of a day's events are enrollments and forum posts
WRITE_BATCH_LINES = 2048
GZIP_LEVEL = 6  # zlib's default: 9 costs twice the time for 2% smaller files
SESSION_END_PROBABILITY = 1 / 40
SECONDS_BETWEEN_EVENTS_OF_A_SESSION = 30
MINIMUM_CONCURRENT_SESSIONS = 8
MAXIMUM_CONCURRENT_SESSIONS = 2000

TRACKING_ENCODER = json.JSONEncoder(separators=(", ", ": "))  # as edX's Python logger writes them
SERVER_EMPTY_REQUEST = '{"POST": {}, "GET": {}}'

TABLE_HEADERS: dict[str, tuple[str, ...]] = {
    "auth_user": (
        "id", "username", "first_name", "last_name", "email", "password", "is_staff", "is_active",
        "is_superuser", "last_login", "date_joined", "status", "email_key", "avatar_type", "country",
        "show_country", "date_of_birth", "interesting_tags", "ignored_tags", "email_tag_filter_strategy",
        "display_tag_filter_strategy", "consecutive_days_visit_count",
    ),
    "auth_userprofile": (
        "id", "user_id", "name", "language", "location", "meta", "courseware", "gender", "mailing_address",
        "year_of_birth", "level_of_education", "goals", "country", "city", "bio", "profile_image_uploaded_at",
    ),
    "certificates_generatedcertificate": (
        "id", "user_id", "download_url", "grade", "course_id", "key", "distinction", "status", "verify_uuid",
        "download_uuid", "name", "created_date", "modified_date", "error_reason", "mode",
    ),
    "courseware_studentmodule": (
        "id", "module_type", "module_id", "student_id", "state", "grade", "created", "modified", "max_grade",
        "done", "course_id",
    ),
    "student_courseenrollment": ("id", "user_id", "course_id", "created", "is_active", "mode"),
    "user_id_map": ("hash_id", "id", "username"),
    # Not used by the ingestion; present because real packages carry many such tables.
    "wiki_article": (
        "id", "current_revision_id", "created", "modified", "owner_id", "group_id", "group_read",
        "group_write", "other_read", "other_write",
    ),
}  # fmt: skip

COURSE_TITLES = (
    "Introduction to Data Analysis", "Data Visualization with Python", "Statistics for Data Science",
    "Machine Learning Foundations", "Databases and SQL", "Data Ethics and Privacy", "Time Series Analysis",
    "Big Data Engineering",
)  # fmt: skip
TOPICS = (
    "Getting Started", "Describing Data", "Probability", "Sampling", "Regression", "Classification",
    "Clustering", "Visual Encoding", "Working with Tables", "Experiments", "Networks", "Final Project",
)  # fmt: skip
FIRST_NAMES = (
    "Amara", "Bruno", "Chen", "Dana", "Elif", "Fatima", "Gustavo", "Hana", "Igor", "Jamal", "Kaori", "Lena",
    "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Vikram", "Wen", "Ximena",
    "Yusuf", "Zoë", "José", "Łukasz", "Søren", "Aïcha",
)  # fmt: skip
LAST_NAMES = (
    "Okafor", "Silva", "Wang", "Kowalski", "Yılmaz", "Haddad", "Pérez", "Tanaka", "Petrov", "Johnson",
    "Sato", "Müller", "García", "Rahman", "Dubois", "Nakamura", "Ivanova", "Nguyen", "Ali", "Schmidt",
    "O'Brien", "Singh", "Costa", "Andersson", "Kim",
)  # fmt: skip
PLACES = (
    ("US", "Boston", "English"), ("IN", "Pune", "Hindi"), ("BR", "Recife", "Portuguese"),
    ("FR", "Lyon", "French"), ("DE", "Köln", "German"), ("NG", "Lagos", "English"), ("CN", "Chengdu", "Chinese"),
    ("MX", "Puebla", "Spanish"), ("CA", "Montréal", "French"), ("PL", "Kraków", "Polish"),
    ("TR", "İzmir", "Turkish"), ("JP", "Sapporo", "Japanese"), ("EG", "Cairo", "Arabic"),
)  # fmt: skip
BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 Edg/121.0.2277.128",
)
MOBILE_APPS = (
    ("edx.mobileapp.android", "4.0.2", "Android", "13", "samsung", "SM-S911B",
     "edX/org.edx.mobile (4.0.2; OS Version 13 (Build TP1A.220624.014); Model SM-S911B)"),
    ("edx.mobileapp.iOS", "4.1.0", "iOS", "17.3", "Apple", "iPhone14,5", "edX/4.1.0 CFNetwork/1492.0.1 Darwin/23.3.0"),
)  # fmt: skip
ACCEPT_LANGUAGES = (
    "en-US,en;q=0.9",
    "fr-FR,fr;q=0.9,en;q=0.8",
    "pt-BR,pt;q=0.9",
    "de-DE,de;q=0.9,en;q=0.7",
    "es-MX,es;q=0.9",
)
EDUCATION_LEVELS = ("p", "m", "b", "a", "hs", "jhs", "el", "none", "other")
TEXT_ANSWERS = ('the "median"', "écart-type", "σ / √n", "C:\\data\\run1.csv", "mean\tmedian", "n − 1", "数据")
FORUM_TITLES = (
    "Question about the week 2 quiz", "Can't load the video in Lesson 3", "Study group (UTC+1)?",
    "Why divide by n − 1?", 'Typo in "Sampling" notes', "Share your final project ideas",
)  # fmt: skip
FORUM_BODIES = (
    "Hi all,\n\nI get a different answer for problem 3 — is the key right?\nThanks!",
    'The grader says "incorrect" but my value was 3.14; rounding issue?',
    "Merci pour le cours ! J'ai une question sur l'écart-type.",
    "Here is my code:\n\n    df.groupby('region').mean()\n\nIt prints NaN for one column.",
    "Anyone else in São Paulo? 🙂 Let's meet online on Thursday.",
    "Path on Windows is C:\\Users\\me\\data.csv and it still fails.",
)  # fmt: skip
OPEN_ASSESSMENT_CRITERIA = (("Ideas", 3), ("Organization", 2), ("Evidence", 3))
VIDEO_EVENT_NAMES_ON_MOBILE = {
    "load_video": "edx.video.loaded",
    "play_video": "edx.video.played",
    "pause_video": "edx.video.paused",
    "seek_video": "edx.video.position.changed",
    "stop_video": "edx.video.stopped",
}
PROBLEM_KINDS = {  # kind: (input_type, response_type)
    "multiple_choice": ("choicegroup", "multiplechoiceresponse"),
    "checkboxes": ("checkboxgroup", "choiceresponse"),
    "numerical": ("formulaequationinput", "numericalresponse"),
    "text": ("textline", "stringresponse"),
    "javascript": ("jsinput", "customresponse"),
}


# ----------------------------------------------------------------------------------------------
# Options and model
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Small helpers: randomness, ids, times, escaping
# ----------------------------------------------------------------------------------------------


def derived_random(seed: int, *labels: object) -> random.Random:
    """An independent, reproducible generator for one part of the output (string seeds are hashed
    with SHA-512 by `random`, so they do not depend on PYTHONHASHSEED)."""
    return random.Random("/".join([str(seed), *map(str, labels)]))


def random_hex(rng: random.Random, digits: int = 32) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def youtube_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(11))


def object_id(rng: random.Random, created: datetime) -> str:
    """A MongoDB ObjectId: 4 bytes of creation time, then 8 random bytes."""
    return f"{int(created.timestamp()):08x}{random_hex(rng, 16)}"


def ascii_name(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(str.maketrans("łŁøØı", "lLoOi")))
    return "".join(char for char in folded if char.isascii() and char.isalnum()).lower()


def day_start(start_date: date, day: int) -> datetime:
    return datetime(start_date.year, start_date.month, start_date.day, tzinfo=UTC) + timedelta(days=day)


def random_time_between(rng: random.Random, earliest: datetime, latest: datetime) -> datetime:
    span = max(int((latest - earliest).total_seconds() * 1_000_000), 1)
    return earliest + timedelta(microseconds=rng.randrange(span))


def slot_offset_microseconds(slot: int, slot_count: int, jitter: float) -> int:
    """Time of a day's event slot, in microseconds after midnight UTC.

    Slot i falls in [i, i+1) / slot_count before a monotonic warp that makes noon busier than
    midnight, so slots are in time order and inside the day whatever the jitter in [0, 1).
    """
    fraction = (slot + jitter) / slot_count
    warped = fraction - DIURNAL_AMPLITUDE * math.sin(2 * math.pi * fraction) / (2 * math.pi)
    return min(int(warped * DAY_MICROSECONDS), DAY_MICROSECONDS - 1)


def event_time_text(day_prefix: str, microseconds: int) -> str:
    """'2024-03-04T13:43:34.967980+00:00' from '2024-03-04T' and microseconds after midnight."""
    seconds, micro = divmod(microseconds, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{day_prefix}{hour:02d}:{minute:02d}:{second:02d}.{micro:06d}+00:00"


def sql_datetime(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def mongo_date(moment: datetime) -> dict[str, str]:
    return {"$date": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}


def iso_seconds(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def mysql_escape(value: object) -> str:
    """One TSV field as MySQL writes it: NULL for None, backslash escapes inside text."""
    if value is None:
        return "NULL"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text or "\0" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        text = text.replace("\r", "\\r").replace("\0", "\\0")
    return text


def compact_json(value: object) -> str:
    """JSON as a browser's JSON.stringify writes it (no spaces)."""
    return orjson.dumps(value).decode()


def video_position(seconds: float) -> float | int:
    """A player position as browsers report it: milliseconds at most, whole seconds as integers."""
    rounded = round(float(seconds), 3)
    return int(rounded) if rounded.is_integer() else rounded


def video_clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


# ----------------------------------------------------------------------------------------------
# Building the world: courses, users, enrollments, forum posts and the event schedule
# ----------------------------------------------------------------------------------------------


def course_run(start_date: date) -> str:
    """'2024_T1' for a course starting between January and April 2024 (T2: May-August, T3: later)."""
    return f"{start_date.year}_T{(start_date.month - 1) // 4 + 1}"


def new_block(
    rng: random.Random, course_prefix: str, category: str, display_name: str, **metadata: object
) -> Block:
    block_id = random_hex(rng)
    key = f"block-v1:{course_prefix}+type@{category}+block@{block_id}"
    return Block(key, category, block_id, display_name, {"display_name": display_name, **metadata})


def new_leaf(rng: random.Random, course_prefix: str, category: str, number: int) -> Block:
    if category == "video":
        block = new_block(rng, course_prefix, "video", f"Video {number}", youtube_id_1_0=youtube_id(rng))
        block.youtube_id = str(block.metadata["youtube_id_1_0"])
        block.duration_seconds = rng.randrange(90, 900)
        return block
    if category == "problem":
        kind = rng.choice(list(PROBLEM_KINDS))
        block = new_block(
            rng, course_prefix, "problem", f"Check your understanding {number}", weight=1.0, max_attempts=3
        )
        block.problem_kind = kind
        return block
    return new_block(rng, course_prefix, "html", f"Reading {number}")


def build_outline(rng: random.Random, org: str, code: str, run: str, title: str, start: datetime) -> Course:
    """course -> chapter -> sequential -> vertical -> leaves, plus a conditional, a wrapper, an
    open assessment and inline discussions below some verticals."""
    course_prefix = f"{org}+{code}+{run}"
    metadata = {"display_name": title, "start": iso_seconds(start), "org": org, "course": code}
    root = Block(f"block-v1:{course_prefix}+type@course+block@course", "course", "course", title, metadata)
    pages: list[CoursewarePage] = []
    leaf_numbers = itertools.count(1)
    for chapter_number in range(1, rng.randint(3, 5) + 1):
        topic = TOPICS[(chapter_number + rng.randrange(len(TOPICS))) % len(TOPICS)]
        chapter_name = f"Week {chapter_number}: {topic}"
        chapter = new_block(rng, course_prefix, "chapter", chapter_name, start=iso_seconds(start))
        root.children.append(chapter)
        for sequential_number in range(1, rng.randint(2, 3) + 1):
            graded = sequential_number == 2
            sequential = new_block(
                rng,
                course_prefix,
                "sequential",
                f"Lesson {chapter_number}.{sequential_number}",
                graded=graded,
                format="Homework" if graded else None,
            )
            chapter.children.append(sequential)
            pages += build_units(rng, course_prefix, chapter, sequential, leaf_numbers)
    add_special_blocks(rng, course_prefix, pages)
    for page in pages:
        page.leaves = leaves_below(page.vertical)
    return Course(org, code, run, title, root, pages)


def build_units(
    rng: random.Random, course_prefix: str, chapter: Block, sequential: Block, leaf_numbers: Iterator[int]
) -> list[CoursewarePage]:
    """The verticals of a sequential, each with an html leaf and usually a video and a problem."""
    course_id = f"course-v1:{course_prefix}"
    vertical_count = rng.randint(2, 4)
    pages = []
    for position in range(1, vertical_count + 1):
        vertical = new_block(rng, course_prefix, "vertical", f"Unit {position}")
        sequential.children.append(vertical)
        for category in ("video", "problem", "html"):
            if category == "html" or rng.random() < 0.7:
                vertical.children.append(new_leaf(rng, course_prefix, category, next(leaf_numbers)))
        pages.append(CoursewarePage(course_id, chapter, sequential, vertical, position, vertical_count, []))
    return pages


def add_special_blocks(rng: random.Random, course_prefix: str, pages: list[CoursewarePage]) -> None:
    """A conditional and a wrapper (each with children), an open assessment and discussions."""
    conditional_page, wrapper_page, assessment_page = rng.sample(pages, 3)
    gate = new_leaf(rng, course_prefix, "problem", 900)
    gate.problem_kind = "multiple_choice"
    conditional = new_block(
        rng,
        course_prefix,
        "conditional",
        "Bonus material",
        sources_list=[gate.key],
        conditional_attr="attempted",
        conditional_value="True",
    )
    conditional.children = [
        new_leaf(rng, course_prefix, "html", 901),
        new_leaf(rng, course_prefix, "problem", 902),
    ]
    conditional_page.vertical.children.extend([gate, conditional])
    wrapper = new_block(rng, course_prefix, "wrapper", "Worked example")
    wrapper.children = [new_leaf(rng, course_prefix, "video", 903), new_leaf(rng, course_prefix, "html", 904)]
    wrapper_page.vertical.children.append(wrapper)
    assessment_page.vertical.children.append(
        new_block(rng, course_prefix, "openassessment", "Peer-reviewed essay", allow_latex=False)
    )
    for page in rng.sample(pages, max(1, len(pages) // 4)):
        discussion_id = random_hex(rng, 40)
        page.vertical.children.append(
            new_block(
                rng,
                course_prefix,
                "discussion",
                "Discuss this unit",
                discussion_id=discussion_id,
                discussion_category=page.chapter.display_name,
                discussion_target=page.sequential.display_name,
            )
        )


def leaves_below(block: Block) -> list[Block]:
    """Leaf blocks shown on a vertical, looking inside conditionals and wrappers."""
    leaves: list[Block] = []
    for child in block.children:
        leaves.extend(leaves_below(child) if child.children else [child])
    return leaves


def build_courses(options: GeneratorOptions) -> list[Course]:
    run = course_run(options.start_date)
    start = day_start(options.start_date, 0)
    courses = []
    for index in range(options.courses):
        code = f"DATA{101 + index}x"
        title = COURSE_TITLES[index % len(COURSE_TITLES)]
        if index >= len(COURSE_TITLES):
            title = f"{title} {index // len(COURSE_TITLES) + 1}"
        rng = derived_random(options.seed, "outline", code)
        courses.append(build_outline(rng, options.org, code, run, title, start))
    return courses


def build_users(options: GeneratorOptions, count: int, enrollment_opens: datetime) -> list[User]:
    rng = derived_random(options.seed, "users")
    users: list[User] = []
    taken: set[str] = set()
    for user_id in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = f"{ascii_name(first)}_{ascii_name(last)}{rng.randrange(10, 100)}"
        if username in taken:
            username = f"{username}_{user_id}"
        taken.add(username)
        country, city, language = rng.choice(PLACES)
        joined = random_time_between(rng, enrollment_opens - timedelta(days=700), enrollment_opens)
        users.append(
            User(
                user_id=user_id,
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@example.{rng.choice(('com', 'org', 'net'))}",
                hash_id=random_hex(rng),
                date_joined=joined,
                last_login=None if rng.random() < 0.1 else random_time_between(rng, joined, enrollment_opens),
                country=country,
                city=city,
                language=language,
                gender=rng.choice(("m", "f", "o", None)),
                year_of_birth=None if rng.random() < 0.2 else rng.randrange(1955, 2008),
                level_of_education=None if rng.random() < 0.2 else rng.choice(EDUCATION_LEVELS),
                ip=f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                agent=rng.choice(BROWSER_AGENTS),
                accept_language=rng.choice(ACCEPT_LANGUAGES),
                mobile_app=rng.randrange(len(MOBILE_APPS)),
            )
        )
    return users


def build_enrollments(
    options: GeneratorOptions, courses: list[Course], users: list[User]
) -> list[Enrollment]:
    """Each course enrolls users_per_course users from a pool smaller than courses x users_per_course,
    so some users are enrolled in several courses."""
    rng = derived_random(options.seed, "enrollments")
    enrollments: list[Enrollment] = []
    for course in courses:
        learners = sorted(
            rng.sample(users, min(options.users_per_course, len(users))), key=lambda user: user.user_id
        )
        for user in learners:
            mode = rng.choices(("audit", "verified", "honor"), weights=(6, 3, 1))[0]
            enrollments.append(Enrollment(len(enrollments) + 1, user, course, mode))
    return enrollments


class DayCapacity:
    """How many scheduled events each day may still take, and which, in planning order."""

    def __init__(self, days: int, events_per_day: int) -> None:
        self.limit = events_per_day // SCHEDULED_SHARE_OF_DAY
        self.planned: dict[int, list[ScheduledEvent]] = {day: [] for day in range(days)}

    def take(self, day: int, scheduled: ScheduledEvent) -> bool:
        if len(self.planned[day]) >= self.limit:
            return False
        self.planned[day].append(scheduled)
        return True


def plan_enrollment_changes(
    rng: random.Random, world: DemoWorld, capacity: DayCapacity, enrollments: list[Enrollment]
) -> None:
    """About 30% of enrollments happen during the generated days (with an activation event), the
    rest before; about 10% are deactivated, during the days when there is room. The first learner
    of each course enrolled before the period and stays, so each course is active on every day."""
    days = world.options.days
    first_of_course = {enrollment.course.code: enrollment for enrollment in reversed(enrollments)}
    always_active = [enrollment.enrollment_id for enrollment in first_of_course.values()]
    for enrollment in enrollments:
        anchor = enrollment.enrollment_id in always_active  # every course has a learner active on every day
        enrolls_during_period = not anchor and rng.random() < 0.3
        if enrolls_during_period:
            day = rng.randrange(days)
            if capacity.take(day, ScheduledEvent("enrollment_activated", enrollment=enrollment)):
                enrollment.activation_day = day
        if enrollment.activation_day is None:
            earliest = max(world.enrollment_opens, enrollment.user.date_joined)
            enrollment.created = random_time_between(rng, earliest, world.period_start - timedelta(days=1))
        if not anchor and rng.random() < 0.1:
            day = rng.randrange(enrollment.activation_day or 0, days)
            if capacity.take(day, ScheduledEvent("enrollment_deactivated", enrollment=enrollment)):
                enrollment.deactivation_day = day


class ForumPlanner:
    """Plans a course's forum: threads, responses (replies to threads) and comments (replies to
    responses). About 70% are written during the generated days, each with a tracking event; the
    others before. A reply never precedes what it replies to, and its author is enrolled by then."""

    def __init__(self, rng: random.Random, world: DemoWorld, capacity: DayCapacity, course: Course) -> None:
        self.rng = rng
        self.world = world
        self.capacity = capacity
        self.course = course
        self.enrollments = [enrollment for enrollment in world.enrollments if enrollment.course is course]
        self.discussions = course.leaves("discussion")

    def plan(self) -> list[ForumPost]:
        learners = self.world.options.users_per_course
        threads = self.planned(self.thread() for _ in range(max(2, learners // 4)))
        responses = self.planned(
            self.reply(self.rng.choice(threads)) for _ in range(learners // 3 if threads else 0)
        )
        comments = self.planned(
            self.reply(self.rng.choice(responses)) for _ in range(learners // 4 if responses else 0)
        )
        return threads + responses + comments

    @staticmethod
    def planned(posts: Iterable[ForumPost | None]) -> list[ForumPost]:
        return [post for post in posts if post is not None]

    def thread(self) -> ForumPost | None:
        discussion = self.rng.choice(self.discussions) if self.rng.random() < 0.6 else None
        post = ForumPost("", "thread", self.course, self.enrollments[0].user, self.rng.choice(FORUM_BODIES))
        post.title, post.discussion = self.rng.choice(FORUM_TITLES), discussion
        return self.dated(post, parent=None)

    def reply(self, parent: ForumPost) -> ForumPost | None:
        """A response to a thread, or a comment on a response."""
        body = self.rng.choice(FORUM_BODIES)
        if parent.kind == "thread":
            post = ForumPost("", "response", self.course, parent.author, body, thread=parent)
        else:
            post = ForumPost(
                "", "comment", self.course, parent.author, body, thread=parent.thread, parent=parent
            )
        dated = self.dated(post, parent)
        if dated is not None:
            parent.replies += 1
            if post.thread is not parent and post.thread is not None:
                post.thread.replies += 1
        return dated

    def dated(self, post: ForumPost, parent: ForumPost | None) -> ForumPost | None:
        """Give the post an author and a day (its time comes with its slot) or a time before the
        period; None when the chosen day has no room left."""
        if (parent is not None and parent.day is not None) or self.rng.random() < 0.7:
            day = self.rng.randrange(
                parent.day if parent and parent.day is not None else 0, self.world.options.days
            )
            authors = [enrollment for enrollment in self.enrollments if enrollment.is_active_on(day)]
            if not authors or not self.capacity.take(day, ScheduledEvent("forum_post", post=post)):
                return None
            post.author, post.day = self.rng.choice(authors).user, day
            return post
        author = self.rng.choice(
            [enrollment for enrollment in self.enrollments if enrollment.created is not None]
        )
        assert author.created is not None
        earliest = max(author.created, parent.created if parent and parent.created else author.created)
        post.author, post.created = (
            author.user,
            random_time_between(self.rng, earliest, self.world.period_start),
        )
        post.object_id = object_id(self.rng, post.created)
        return post


def assign_slots(rng: random.Random, world: DemoWorld, capacity: DayCapacity) -> None:
    """Give each scheduled event a slot of its day, in planning order, and date its package row
    (edX keeps no deactivation time, so deactivations only get their slot)."""
    events_per_day = world.options.events_per_day
    for day, planned in capacity.planned.items():
        if not planned:
            continue
        slots = sorted(rng.sample(range(events_per_day), len(planned)))
        world.schedule[day] = dict(zip(slots, planned, strict=True))
        for slot, scheduled in zip(slots, planned, strict=True):
            moment = day_start(world.options.start_date, day) + timedelta(
                microseconds=slot_offset_microseconds(slot, events_per_day, 0.5)
            )
            if scheduled.kind == "enrollment_activated" and scheduled.enrollment:
                scheduled.enrollment.created = moment
            elif scheduled.post:
                scheduled.post.created = moment
                scheduled.post.object_id = object_id(rng, moment)


def build_world(options: GeneratorOptions) -> DemoWorld:
    courses = build_courses(options)
    pool_size = max(options.users_per_course, math.ceil(options.users_per_course * options.courses * 0.75))
    opens = day_start(options.start_date, -ENROLLMENT_OPENS_DAYS_BEFORE_START)
    users = build_users(options, pool_size, opens)
    enrollments = build_enrollments(options, courses, users)
    world = DemoWorld(options, courses, users, enrollments, [], {})
    capacity = DayCapacity(options.days, options.events_per_day)
    rng = derived_random(options.seed, "schedule")
    plan_enrollment_changes(rng, world, capacity, enrollments)
    for course in courses:
        world.forum_posts.extend(ForumPlanner(rng, world, capacity, course).plan())
    assign_slots(rng, world, capacity)
    return world


# ----------------------------------------------------------------------------------------------
# The research data package
# ----------------------------------------------------------------------------------------------


Row = dict[str, object]


def write_tsv(path: Path, table: str, rows: list[Row]) -> int:
    """A table as edX's research packages hold it: a header line, then MySQL-escaped rows."""
    header = TABLE_HEADERS[table]
    lines = ["\t".join(header)]
    for row in rows:
        if tuple(row) != header:
            raise ValueError(f"{table}: row columns {list(row)} differ from the header")
        lines.append("\t".join(mysql_escape(value) for value in row.values()))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(rows)


def auth_user_row(user: User) -> Row:
    return {
        "id": user.user_id,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "password": "!",
        "is_staff": 0,
        "is_active": 1,
        "is_superuser": 0,
        "last_login": sql_datetime(user.last_login),
        "date_joined": sql_datetime(user.date_joined),
        "status": "",
        "email_key": None,
        "avatar_type": "",
        "country": user.country,
        "show_country": 0,
        "date_of_birth": None,
        "interesting_tags": "",
        "ignored_tags": "",
        "email_tag_filter_strategy": 0,
        "display_tag_filter_strategy": 0,
        "consecutive_days_visit_count": 0,
    }


def auth_userprofile_row(rng: random.Random, user: User) -> Row:
    """A profile; optional fields are NULL, some hold tabs, newlines or backslashes to escape."""
    old_emails = {"old_emails": [[f"{user.username}@old.example.com", "2023-01-05T10:00:00Z"]]}
    return {
        "id": user.user_id,
        "user_id": user.user_id,
        "name": user.full_name,
        "language": user.language,
        "location": f"{user.city}, {user.country}",
        "meta": json.dumps(old_emails) if rng.random() < 0.2 else "",
        "courseware": "course.xml",
        "gender": user.gender,
        "mailing_address": f"{rng.randrange(1, 200)} Main Street\nApt {rng.randrange(1, 30)}"
        if rng.random() < 0.3
        else None,
        "year_of_birth": user.year_of_birth,
        "level_of_education": user.level_of_education,
        "goals": "Learn data skills\tfor work" if rng.random() < 0.3 else None,
        "country": user.country,
        "city": user.city,
        "bio": "Analyst \\ part-time student" if rng.random() < 0.2 else None,
        "profile_image_uploaded_at": None,
    }


def enrollment_row(enrollment: Enrollment) -> Row:
    return {
        "id": enrollment.enrollment_id,
        "user_id": enrollment.user.user_id,
        "course_id": enrollment.course.course_id,
        "created": sql_datetime(enrollment.created),
        "is_active": enrollment.is_active,
        "mode": enrollment.mode,
    }


def certificate_rows(rng: random.Random, world: DemoWorld, enrollments: list[Enrollment]) -> list[Row]:
    """Certificates issued on the last generated day, for most verified/honor and some audit learners."""
    issued = day_start(world.options.start_date, world.options.days - 1) + timedelta(hours=22)
    rows: list[Row] = []
    for enrollment in enrollments:
        if enrollment.mode == "audit" and rng.random() < 0.7:
            continue
        grade = round(rng.random(), 2)
        passing = grade >= 0.5
        status = "downloadable" if passing else "notpassing"
        if enrollment.mode == "audit":
            status = "audit_passing" if passing else "audit_notpassing"
        verify_uuid = random_hex(rng)
        rows.append(
            {
                "id": len(rows) + 1,
                "user_id": enrollment.user.user_id,
                "download_url": f"{BASE_URL}/certificates/{verify_uuid}" if status == "downloadable" else "",
                "grade": grade,
                "course_id": enrollment.course.course_id,
                "key": random_hex(rng) if passing else "",
                "distinction": 0,
                "status": status,
                "verify_uuid": verify_uuid,
                "download_uuid": random_hex(rng) if status == "downloadable" else "",
                "name": enrollment.user.full_name,
                "created_date": sql_datetime(issued),
                "modified_date": sql_datetime(issued + timedelta(minutes=rng.randrange(60))),
                "error_reason": "",
                "mode": enrollment.mode,
            }
        )
    return rows


def problem_answer(rng: random.Random, problem: Block) -> tuple[object, str]:
    """A learner's answer to a problem, and its text as shown in a problem_check submission."""
    if problem.problem_kind == "multiple_choice":
        choice = rng.randrange(4)
        return f"choice_{choice}", f"Option {'ABCD'[choice]}"
    if problem.problem_kind == "checkboxes":
        choices = sorted(rng.sample(range(4), rng.randint(1, 3)))
        labels = ", ".join(f"Option {'ABCD'[choice]}" for choice in choices)
        return [f"choice_{choice}" for choice in choices], labels
    if problem.problem_kind == "numerical":
        value = f"{rng.uniform(0, 10):.2f}"
        return value, value
    if problem.problem_kind == "javascript":  # JSON answer holding JSON state, as in edX's sample
        inner_state = json.dumps({"selected": rng.sample(range(6), 2), "note": "line 1\nline 2"})
        answer = json.dumps({"answer": "OC(O)C(Cl)(Cl)Cl", "state": inner_state}, separators=(",", ":"))
        return answer, answer
    text = rng.choice(TEXT_ANSWERS)
    return text, text


def problem_state(rng: random.Random, problem: Block, created: datetime) -> tuple[str, float]:
    """The JSON state edX keeps for a learner's problem, and its grade."""
    input_id = f"{problem.block_id}_2_1"
    answer, _ = problem_answer(rng, problem)
    correctness = "correct" if rng.random() < 0.6 else "incorrect"
    state = {
        "correct_map": {
            input_id: {"correctness": correctness, "npoints": None, "msg": "", "hint": "", "hintmode": None}
        },
        "input_state": {input_id: {}},
        "last_submission_time": iso_seconds(created),
        "attempts": rng.randint(1, 3),
        "seed": 1,
        "done": True,
        "student_answers": {input_id: answer},
        "score": {"raw_earned": int(correctness == "correct"), "raw_possible": 1},
    }
    return json.dumps(state), float(correctness == "correct")


def studentmodule_state(rng: random.Random, block: Block, created: datetime) -> tuple[str, float | None]:
    """The JSON state edX keeps for a learner and block (Django writes it with json.dumps), and
    the grade for problems."""
    if block.category == "problem":
        return problem_state(rng, block, created)
    if block.category == "video":
        position = video_clock(rng.uniform(0, block.duration_seconds))
        return json.dumps({"saved_video_position": position, "speed": rng.choice((1.0, 1.25, 1.5))}), None
    return json.dumps({"position": rng.randint(1, max(1, len(block.children)))}), None


def studentmodule_rows(
    rng: random.Random, world: DemoWorld, course: Course, enrollments: list[Enrollment]
) -> list[Row]:
    """For each learner: the chapter, sequential, problems and videos of one page they visited."""
    rows: list[Row] = []
    period_end = day_start(world.options.start_date, world.options.days)
    for enrollment in enrollments:
        assert enrollment.created is not None
        page = rng.choice(course.pages)
        visited = [leaf for leaf in page.leaves if leaf.category in ("problem", "video")]
        for block in [page.chapter, page.sequential, *visited]:
            created = random_time_between(rng, enrollment.created, period_end)
            state, grade = studentmodule_state(rng, block, created)
            rows.append(
                {
                    "id": len(rows) + 1,
                    "module_type": block.category,
                    "module_id": block.key,
                    "student_id": enrollment.user.user_id,
                    "state": state,
                    "grade": grade,
                    "created": sql_datetime(created),
                    "modified": sql_datetime(created + timedelta(seconds=rng.randrange(3600))),
                    "max_grade": 1.0 if block.category == "problem" else None,
                    "done": "na",
                    "course_id": course.course_id,
                }
            )
    return rows


def wiki_article_rows(rng: random.Random, world: DemoWorld, users: list[User]) -> list[Row]:
    """A few wiki articles: a table the ingestion does not read, as real packages have many."""
    rows: list[Row] = []
    for article in range(1, rng.randint(2, 4) + 1):
        created = random_time_between(
            rng, world.enrollment_opens - timedelta(days=60), world.enrollment_opens
        )
        rows.append(
            {
                "id": article,
                "current_revision_id": article,
                "created": sql_datetime(created),
                "modified": sql_datetime(created + timedelta(days=rng.randrange(30))),
                "owner_id": rng.choice(users).user_id if rng.random() < 0.7 else None,
                "group_id": None,
                "group_read": 1,
                "group_write": 1,
                "other_read": 1,
                "other_write": 1,
            }
        )
    return rows


def write_course_structure(path: Path, course: Course) -> Counter[str]:
    """edX's course_structure file: block key -> category, children keys and metadata."""
    structure: dict[str, dict[str, object]] = {}
    categories: Counter[str] = Counter()

    def add(block: Block) -> None:
        structure[block.key] = {
            "category": block.category,
            "children": [child.key for child in block.children],
            "metadata": {name: value for name, value in block.metadata.items() if value is not None},
        }
        categories[block.category] += 1
        for child in block.children:
            add(child)

    add(course.root)
    path.write_text(json.dumps(structure, indent=2) + "\n", encoding="utf-8")
    return categories


def forum_document(post: ForumPost, last_activity: dict[str, datetime]) -> dict[str, object]:
    """A post as mongoexport writes it (extended JSON: $oid ids, $date dates)."""
    assert post.created is not None
    document: dict[str, object] = {
        "_id": {"$oid": post.object_id},
        "_type": "CommentThread" if post.kind == "thread" else "Comment",
        "abuse_flaggers": [],
        "anonymous": False,
        "anonymous_to_peers": False,
        "at_position_list": [],
        "author_id": str(post.author.user_id),
        "author_username": post.author.username,
        "body": post.body,
        "course_id": post.course.course_id,
        "created_at": mongo_date(post.created),
        "historical_abuse_flaggers": [],
        "updated_at": mongo_date(post.created),
        "visible": True,
        "votes": {"count": 0, "down": [], "down_count": 0, "point": 0, "up": [], "up_count": 0},
    }
    if post.kind == "thread":
        document.update(
            closed=False,
            comment_count=post.replies,
            commentable_id=commentable_id(post),
            context="course",
            last_activity_at=mongo_date(last_activity[post.object_id]),
            pinned=False,
            thread_type="discussion",
            title=post.title,
        )
    else:
        assert post.thread is not None
        document.update(comment_thread_id={"$oid": post.thread.object_id}, endorsed=False)
        if post.parent is not None:
            document.update(
                parent_id={"$oid": post.parent.object_id}, parent_ids=[{"$oid": post.parent.object_id}]
            )
            document["sk"] = f"{post.parent.object_id}-{post.object_id}"
        else:
            document.update(parent_ids=[], sk=post.object_id)
    return document


def commentable_id(post: ForumPost) -> str:
    thread = post if post.kind == "thread" else post.thread
    if thread is None or thread.discussion is None:
        return "course"
    return str(thread.discussion[0].metadata["discussion_id"])


def write_forum_dump(path: Path, posts: list[ForumPost]) -> Counter[str]:
    """The course's forum as a mongoexport dump, oldest post first."""
    dated = [(post.created, post) for post in posts if post.created is not None]
    last_activity: dict[str, datetime] = {}
    for created, post in dated:
        thread = post if post.thread is None else post.thread
        last_activity[thread.object_id] = max(created, last_activity.get(thread.object_id, created))
    with path.open("wb") as dump:
        for _, post in sorted(dated, key=lambda pair: (pair[0], pair[1].object_id)):
            dump.write(orjson.dumps(forum_document(post, last_activity), option=orjson.OPT_SORT_KEYS) + b"\n")
    return Counter(post.kind for post in posts)


def write_course_config(path: Path, world: DemoWorld, course: Course) -> None:
    """The course-extraction config, shaped like McGillX's edx_data_research configs."""
    config = {
        "edx_id": course.edx_id,
        "edx_course_name": course.title,
        "course_ids": [course.course_id],
        "date_of_course_enrollment": world.enrollment_opens.date().isoformat(),
        "date_of_course_completion": world.last_day.isoformat(),
    }
    path.write_text(json.dumps(config, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")


def write_course_package(world: DemoWorld, course: Course, progress: Progress) -> dict[str, object]:
    """All package files of one course; returns the course's manifest entry."""
    out = world.options.out
    package = out / "package"
    rng = derived_random(world.options.seed, "package", course.code)
    enrollments = [enrollment for enrollment in world.enrollments if enrollment.course is course]
    users = [enrollment.user for enrollment in enrollments]
    tables: dict[str, list[Row]] = {
        "auth_user": [auth_user_row(user) for user in users],
        "auth_userprofile": [auth_userprofile_row(rng, user) for user in users],
        "certificates_generatedcertificate": certificate_rows(rng, world, enrollments),
        "courseware_studentmodule": studentmodule_rows(rng, world, course, enrollments),
        "student_courseenrollment": [enrollment_row(enrollment) for enrollment in enrollments],
        "user_id_map": [
            {"hash_id": user.hash_id, "id": user.user_id, "username": user.username} for user in users
        ],
        "wiki_article": wiki_article_rows(rng, world, users),
    }
    table_entries = {}
    for table, rows in tables.items():
        path = package / f"{course.file_prefix}-{table}-{SITE}-analytics.sql"
        table_entries[table] = {"file": relative(path, out), "rows": write_tsv(path, table, rows)}
        progress.wrote(path, f"{len(rows)} rows")
    structure_path = package / f"{course.file_prefix}-course_structure-{SITE}-analytics.json"
    categories = write_course_structure(structure_path, course)
    progress.wrote(structure_path, f"{sum(categories.values())} blocks")
    forum_path = package / f"{course.file_prefix}-{SITE}.mongo"
    posts = [post for post in world.forum_posts if post.course is course]
    kinds = write_forum_dump(forum_path, posts)
    progress.wrote(forum_path, f"{len(posts)} documents")
    config_path = out / "courses" / f"{course.code}.json"
    write_course_config(config_path, world, course)
    progress.wrote(config_path, course.course_id)
    return {
        "course": course.code,
        "run": course.run,
        "edx_id": course.edx_id,
        "config": relative(config_path, out),
        "tables": table_entries,
        "course_structure": {
            "file": relative(structure_path, out),
            "blocks": sum(categories.values()),
            "blocks_by_category": dict(sorted(categories.items())),
        },
        "forum": {
            "file": relative(forum_path, out),
            "documents": len(posts),
            "threads": kinds["thread"],
            "responses": kinds["response"],
            "comments": kinds["comment"],
            "posts_with_tracking_event": sum(1 for post in posts if post.day is not None),
        },
        "enrollments_with_activation_event": sum(
            1 for enrollment in enrollments if enrollment.activation_day is not None
        ),
        "enrollments_with_deactivation_event": sum(
            1 for enrollment in enrollments if enrollment.deactivation_day is not None
        ),
    }


# ----------------------------------------------------------------------------------------------
# Tracking events
# ----------------------------------------------------------------------------------------------


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


@dataclass
class DaySummary:
    """What one tracking file holds; becomes the day's manifest entry."""

    events: int = 0
    broken_lines: Counter[str] = field(default_factory=Counter)
    events_by_kind: Counter[str] = field(default_factory=Counter)
    events_by_course: Counter[str] = field(default_factory=Counter)
    events_without_course: int = 0
    events_with_course_only_in_url: int = 0


def open_assessment_submission(rng: random.Random, time_text: str) -> dict[str, object]:
    """The event of openassessmentblock.create_submission (with a dotted key)."""
    return {
        "answer": {"parts": [{"text": rng.choice(FORUM_BODIES)}], "file.names": ["essay.v2.pdf"]},
        "attempt_number": 1,
        "created_at": time_text,
        "submitted_at": time_text,
        "submission_uuid": random_hex(rng),
    }


def open_assessment_grade(rng: random.Random, time_text: str, score_type: str) -> dict[str, object]:
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
) -> dict[str, object]:
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


class EventFactory:
    """Builds one tracking event at a time, in the shapes of edX's browser, server and mobile events."""

    def __init__(self, world: DemoWorld, rng: random.Random, day: int) -> None:
        self.world = world
        self.rng = rng
        self.org = world.options.org
        self.day_prefix = (world.options.start_date + timedelta(days=day)).isoformat() + "T"

    # -- envelopes ---------------------------------------------------------------------------

    def browser_event(
        self,
        session: Session,
        event_type: str,
        event: str,
        time_text: str,
        name: str | None = None,
        course_known: bool = True,
    ) -> dict[str, object]:
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
                "org_id": self.org if course_known else "",
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
        self,
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
    ) -> dict[str, object]:
        """A server event; a course of None gives the empty org_id and course_id of non-course pages."""
        context: dict[str, object] = {"course_user_tags": {}, "user_id": user.user_id}
        context.update(
            org_id=self.org if course else "", course_id=course.course_id if course else "", path=path
        )
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
        self, session: Session, event_type: str, event: dict[str, object], time_text: str
    ) -> dict[str, object]:
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
                "org_id": self.org,
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

    # -- learner activity --------------------------------------------------------------------

    def activity_event(
        self, session: Session, microseconds: int, time_text: str
    ) -> tuple[str, dict[str, object]]:
        """The session's next event and its kind (for the manifest)."""
        if session.source == "mobile":
            return self.video_event(session, microseconds, time_text)
        if session.pending_problem is not None:
            return "server:problem_check", self.problem_check_server(session, time_text)
        draw = self.rng.random()
        if draw < 0.20:
            return self.page_view(session, time_text)
        if draw < 0.32:
            return self.sequence_navigation(session, time_text)
        if draw < 0.75:
            return self.video_event(session, microseconds, time_text)
        if draw < 0.87:
            return self.problem_check_browser(session, time_text)
        if draw < 0.91:
            return self.open_assessment(session, time_text)
        if draw < 0.97:
            return self.event_with_course_only_in_url(session, time_text)
        return "server:page_view_without_course", self.dashboard_view(session, time_text)

    def page_view(self, session: Session, time_text: str) -> tuple[str, dict[str, object]]:
        referer = session.page.url
        course = session.enrollment.course
        draw = self.rng.random()
        if draw < 0.75:
            session.go_to(self.rng.choice(course.pages))
            path = session.page.path
        else:
            path = f"/courses/{course.course_id}/{'progress' if draw < 0.85 else 'course/'}"
        event = self.server_event(
            session.enrollment.user, course, path, SERVER_EMPTY_REQUEST, time_text, path, referer
        )
        return "server:page_view", event

    def sequence_navigation(self, session: Session, time_text: str) -> tuple[str, dict[str, object]]:
        page = session.page
        siblings = session.enrollment.course.pages_of(page.sequential)
        if page.position < page.tab_count and self.rng.random() < 0.6:
            event_type, name, target = "seq_next", "edx.ui.lms.sequence.next_selected", page.position + 1
        elif page.position > 1 and self.rng.random() < 0.5:
            event_type, name, target = "seq_prev", "edx.ui.lms.sequence.previous_selected", page.position - 1
        else:
            event_type, name, target = (
                "seq_goto",
                "edx.ui.lms.sequence.tab_selected",
                self.rng.randint(1, page.tab_count),
            )
        details = {
            "widget_placement": "top",
            "tab_count": page.tab_count,
            "current_tab": page.position,
            "target_tab": target,
            "new": target,
            "old": page.position,
            "id": page.sequential.key,
        }
        event = self.browser_event(session, event_type, compact_json(details), time_text, name)
        session.go_to(siblings[target - 1])
        return f"browser:{event_type}", event

    def video_event(
        self, session: Session, microseconds: int, time_text: str
    ) -> tuple[str, dict[str, object]]:
        """The next step of the video state machine: load, play, pause, seek, stop."""
        video = session.video
        if video is None or video.status == "stopped":
            videos = [leaf for leaf in session.page.leaves if leaf.category == "video"]
            if not videos:
                session.go_to(self.rng.choice(session.enrollment.course.leaves("video"))[1])
                videos = [leaf for leaf in session.page.leaves if leaf.category == "video"]
            session.video = video = VideoState(self.rng.choice(videos), updated_at=microseconds)
            return self.video_record(session, "load_video", {}, time_text)
        if video.status == "playing":
            video.position = min(
                video.position + (microseconds - video.updated_at) / 1_000_000, video.block.duration_seconds
            )
        video.updated_at = microseconds
        if video.status == "playing" and video.position >= video.block.duration_seconds:
            video.status = "stopped"
            return self.video_record(
                session, "stop_video", {"currentTime": video.block.duration_seconds}, time_text
            )
        draw = self.rng.random()
        if draw < 0.06 and session.source == "browser":
            return "server:save_user_state", self.save_video_position(session, time_text)
        if draw < 0.3:
            old_time = video_position(video.position)
            video.position = video_position(self.rng.uniform(0, video.block.duration_seconds * 0.95))
            seek = {"old_time": old_time, "new_time": video.position, "type": "onSlideSeek"}
            return self.video_record(session, "seek_video", seek, time_text)
        if video.status == "playing":
            video.status = "paused"
            return self.video_record(
                session, "pause_video", {"currentTime": video_position(video.position)}, time_text
            )
        video.status = "playing"
        return self.video_record(
            session, "play_video", {"currentTime": video_position(video.position)}, time_text
        )

    def video_record(
        self, session: Session, event_type: str, positions: dict[str, object], time_text: str
    ) -> tuple[str, dict[str, object]]:
        assert session.video is not None
        block = session.video.block
        if session.source == "mobile":
            details: dict[str, object] = {"code": "mobile", "id": block.key, **positions}
            return f"mobile:{event_type}", self.mobile_event(session, event_type, details, time_text)
        details = {
            "id": block.block_id,
            **positions,
            "code": block.youtube_id,
            "duration": block.duration_seconds,
        }
        return f"browser:{event_type}", self.browser_event(
            session, event_type, compact_json(details), time_text
        )

    def save_video_position(self, session: Session, time_text: str) -> dict[str, object]:
        assert session.video is not None
        course = session.enrollment.course
        path = f"/courses/{course.course_id}/xblock/{session.video.block.key}/handler/xmodule_handler/save_user_state"
        request = json.dumps(
            {"POST": {"saved_video_position": [video_clock(session.video.position)]}, "GET": {}}
        )
        return self.server_event(
            session.enrollment.user, course, path, request, time_text, path, session.page.url
        )

    def problem_check_browser(self, session: Session, time_text: str) -> tuple[str, dict[str, object]]:
        problems = [leaf for leaf in session.page.leaves if leaf.category == "problem"]
        if not problems:
            session.go_to(self.rng.choice(session.enrollment.course.leaves("problem"))[1])
            problems = [leaf for leaf in session.page.leaves if leaf.category == "problem"]
        problem = self.rng.choice(problems)
        answer, answer_text = problem_answer(self.rng, problem)
        input_name = f"input_{problem.block_id}_2_1"
        values = answer if isinstance(answer, list) else [answer]
        suffix = "%5B%5D" if isinstance(answer, list) else ""
        query = "&".join(f"{input_name}{suffix}={quote(str(value), safe='')}" for value in values)
        session.pending_problem = (problem, answer, answer_text)
        return "browser:problem_check", self.browser_event(
            session, "problem_check", json.dumps(query), time_text
        )

    def problem_check_server(self, session: Session, time_text: str) -> dict[str, object]:
        assert session.pending_problem is not None
        problem, answer, answer_text = session.pending_problem
        session.pending_problem = None
        course = session.enrollment.course
        details = problem_check_details(
            problem, answer, answer_text, self.rng.random() < 0.6, self.rng.randint(1, 3)
        )
        path = f"/courses/{course.course_id}/xblock/{problem.key}/handler/xmodule_handler/problem_check"
        module = {"usage_key": problem.key, "display_name": problem.display_name}
        return self.server_event(
            session.enrollment.user,
            course,
            "problem_check",
            details,
            time_text,
            path,
            session.page.url,
            more_context={"asides": {}, "module": module},
            page="x_module",
        )

    def open_assessment(self, session: Session, time_text: str) -> tuple[str, dict[str, object]]:
        """openassessmentblock.* events; their nested keys contain dots and begin with '$'."""
        course = session.enrollment.course
        block, page = course.leaves("openassessment")[0]
        if session.page is not page:
            session.go_to(page)
        draw = self.rng.random()
        if draw < 0.4:
            event_type, handler = "openassessmentblock.create_submission", "submit"
            details = open_assessment_submission(self.rng, time_text)
        else:
            handler = "peer_assess" if draw < 0.8 else "self_assess"
            event_type = f"openassessmentblock.{handler}"
            details = open_assessment_grade(self.rng, time_text, "PE" if handler == "peer_assess" else "SE")
        path = f"/courses/{course.course_id}/xblock/{block.key}/handler/{handler}"
        module = {"usage_key": block.key, "display_name": block.display_name}
        event = self.server_event(
            session.enrollment.user,
            course,
            event_type,
            details,
            time_text,
            path,
            page.url,
            more_context={"module": module},
            page="x_module",
            session=session.session_key,
            name=event_type,
        )
        return f"server:{event_type}", event

    def event_with_course_only_in_url(
        self, session: Session, time_text: str
    ) -> tuple[str, dict[str, object]]:
        """Events whose context has an empty course_id; the course shows only in page/referer."""
        if self.rng.random() < 0.5:
            return "browser:page_close", self.browser_event(
                session, "page_close", "", time_text, course_known=False
            )
        details = {
            "list_type": "all_courses",
            "bookmarks_count": self.rng.randint(0, 12),
            "page_size": 10,
            "page_number": 1,
        }
        event = self.server_event(
            session.enrollment.user,
            None,
            "edx.bookmark.listed",
            details,
            time_text,
            "/api/bookmarks/v1/bookmarks/",
            session.page.url,
            session=session.session_key,
            name="edx.bookmark.listed",
        )
        return "server:edx.bookmark.listed", event

    def dashboard_view(self, session: Session, time_text: str) -> dict[str, object]:
        user = session.enrollment.user
        return self.server_event(
            user, None, "/dashboard", SERVER_EMPTY_REQUEST, time_text, "/dashboard", f"{BASE_URL}/"
        )

    # -- scheduled events --------------------------------------------------------------------

    def scheduled_event(self, scheduled: ScheduledEvent, time_text: str) -> tuple[str, dict[str, object]]:
        if scheduled.enrollment is not None:
            return self.enrollment_event(scheduled, time_text)
        assert scheduled.post is not None
        return self.forum_event(scheduled.post, time_text)

    def enrollment_event(self, scheduled: ScheduledEvent, time_text: str) -> tuple[str, dict[str, object]]:
        enrollment = scheduled.enrollment
        assert enrollment is not None
        course, user = enrollment.course, enrollment.user
        event_type = f"edx.course.enrollment.{'activated' if scheduled.kind == 'enrollment_activated' else 'deactivated'}"
        details = {"course_id": course.course_id, "user_id": user.user_id, "mode": enrollment.mode}
        event = self.server_event(
            user,
            course,
            event_type,
            details,
            time_text,
            "/change_enrollment",
            course.about_url,
            session=random_hex(self.rng),
            name=event_type,
        )
        return f"server:{event_type}", event

    def forum_event(self, post: ForumPost, time_text: str) -> tuple[str, dict[str, object]]:
        course = post.course
        thread = post if post.kind == "thread" else post.thread
        assert thread is not None
        thread_url = f"{BASE_URL}/courses/{course.course_id}/discussion/forum/{commentable_id(post)}/threads/{thread.object_id}"
        details: dict[str, object] = {
            "body": post.body,
            "truncated": False,
            "url": thread_url,
            "options": {"followed": post.kind == "thread"},
            "user_course_roles": [],
            "user_forums_roles": ["Student"],
            "id": post.object_id,
            "commentable_id": commentable_id(post),
            "category_id": commentable_id(post),
            "category_name": self.category_name(thread),
        }
        if post.kind == "thread":
            path = f"/courses/{course.course_id}/discussion/{commentable_id(post)}/threads/create"
            details.update(
                title=post.title,
                thread_type="discussion",
                anonymous=False,
                anonymous_to_peers=False,
                group_id=None,
            )
        elif post.kind == "response":
            path = f"/courses/{course.course_id}/discussion/threads/{thread.object_id}/reply"
            details["discussion"] = {"id": thread.object_id}
        else:
            assert post.parent is not None
            path = f"/courses/{course.course_id}/discussion/comments/{post.parent.object_id}/reply"
            details.update(discussion={"id": thread.object_id}, response={"id": post.parent.object_id})
        event_type = f"edx.forum.{post.kind}.created"
        event = self.server_event(
            post.author,
            course,
            event_type,
            details,
            time_text,
            path,
            thread_url,
            session=random_hex(self.rng),
            name=event_type,
        )
        return f"server:{event_type}", event

    @staticmethod
    def category_name(thread: ForumPost) -> str:
        if thread.discussion is None:
            return "General"
        return f"{thread.discussion[1].chapter.display_name} / {thread.discussion[1].sequential.display_name}"


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


class BrokenLinePlan:
    """Where broken lines go: after about one event in 500 (geometric gaps), plus one of each kind
    at a fixed slot when the day has enough events, so every file exercises every kind."""

    def __init__(self, rng: random.Random, events_per_day: int) -> None:
        self.rng = rng
        self.next_random_slot = self.gap()
        self.forced_slots: dict[int, str] = {}
        if events_per_day >= MINIMUM_EVENTS_FOR_EVERY_BROKEN_KIND:
            slots = rng.sample(range(events_per_day), len(BROKEN_LINE_KINDS))
            self.forced_slots = dict(zip(slots, BROKEN_LINE_KINDS, strict=True))

    def gap(self) -> int:
        return int(math.log(1.0 - self.rng.random()) / math.log(1.0 - BROKEN_LINE_RATE))

    def kinds_after(self, slot: int, written: Counter[str]) -> list[str]:
        kinds = []
        if slot == self.next_random_slot:
            kinds.append(self.rng.choice(BROKEN_LINE_KINDS))
            self.next_random_slot += 1 + self.gap()
        forced = self.forced_slots.get(slot)
        if forced is not None and written[forced] == 0 and forced not in kinds:
            kinds.append(forced)
        return kinds


def break_line(rng: random.Random, line: bytes, kind: str) -> bytes:
    """A corrupted copy of an event line: cut short (at a character boundary) or with bytes that
    are not UTF-8 inside the username."""
    if kind == "invalid_utf8":
        prefix = b'{"username": "'
        return prefix + INVALID_UTF8_BYTES + line[len(prefix) :]
    cut = rng.randrange(len(line) // 4, len(line) - 2)
    while 0x80 <= line[cut] <= 0xBF:
        cut -= 1
    return line[:cut] + b"\n"


class BackgroundGzipWriter:
    """Writes chunks to a reproducible gzip file (mtime 0, no file name) from a second thread.

    zlib releases the GIL while it compresses, so compression overlaps with generating the next
    events; the bounded queue keeps memory bounded when generation is faster than compression.
    """

    def __init__(self, path: Path) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(
            target=self.compress_chunks, args=(path,), name="gzip-writer", daemon=True
        )
        self.thread.start()

    def compress_chunks(self, path: Path) -> None:
        try:
            with (
                path.open("wb") as raw,
                gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
                ) as compressed,
            ):
                while (chunk := self.chunks.get()) is not None:
                    compressed.write(chunk)
        except BaseException as error:  # handed to the generating thread in close()
            self.failure = error
            while self.chunks.get() is not None:  # keep draining so write() never blocks forever
                pass

    def write(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def close(self) -> None:
        self.chunks.put(None)
        self.thread.join()
        if self.failure is not None:
            raise self.failure

    def __enter__(self) -> BackgroundGzipWriter:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()


def write_tracking_day(world: DemoWorld, day: int, path: Path) -> DaySummary:
    """Stream one day of events into a gzip file, in time order, and count what was written."""
    options = world.options
    rng = derived_random(options.seed, "tracking", day)
    factory = EventFactory(world, rng, day)
    sessions = SessionPool(world, rng, day)
    broken_plan = BrokenLinePlan(rng, options.events_per_day)
    scheduled = world.schedule.get(day, {})
    summary = DaySummary()
    encode = TRACKING_ENCODER.encode
    batch: list[bytes] = []
    with BackgroundGzipWriter(path) as compressed:
        for slot in range(options.events_per_day):
            planned = scheduled.get(slot)
            microseconds = slot_offset_microseconds(
                slot, options.events_per_day, 0.5 if planned else rng.random()
            )
            time_text = event_time_text(factory.day_prefix, microseconds)
            if planned is not None:
                kind, event = factory.scheduled_event(planned, time_text)
            else:
                kind, event = factory.activity_event(sessions.pick(), microseconds, time_text)
            line = (encode(event) + "\n").encode()
            batch.append(line)
            count_event(summary, kind, event)
            for broken_kind in broken_plan.kinds_after(slot, summary.broken_lines):
                _, lost_event = factory.activity_event(sessions.pick(), microseconds, time_text)
                batch.append(break_line(rng, (encode(lost_event) + "\n").encode(), broken_kind))
                summary.broken_lines[broken_kind] += 1
            if len(batch) >= WRITE_BATCH_LINES:
                compressed.write(b"".join(batch))
                batch.clear()
        compressed.write(b"".join(batch))
    return summary


def count_event(summary: DaySummary, kind: str, event: dict[str, object]) -> None:
    summary.events += 1
    summary.events_by_kind[kind] += 1
    course_id = cast(dict[str, str], event["context"])["course_id"]
    if course_id:
        summary.events_by_course[course_id] += 1
        return
    url = event["page"] or event["referer"]
    if isinstance(url, str) and "/courses/course-v1:" in url:
        summary.events_by_course[url.split("/courses/", 1)[1].split("/", 1)[0]] += 1
        summary.events_with_course_only_in_url += 1
    else:
        summary.events_without_course += 1


def day_manifest_entry(path: Path, out: Path, summary: DaySummary) -> dict[str, object]:
    broken = {kind: summary.broken_lines[kind] for kind in BROKEN_LINE_KINDS}
    return {
        "file": relative(path, out),
        "lines": summary.events + sum(broken.values()),
        "events": summary.events,
        "broken_lines": broken,
        "events_by_source": source_counts(summary.events_by_kind),
        "events_by_kind": dict(sorted(summary.events_by_kind.items())),
        "events_by_course": dict(sorted(summary.events_by_course.items())),
        "events_with_course_only_in_url": summary.events_with_course_only_in_url,
        "events_without_course": summary.events_without_course,
    }


def source_counts(events_by_kind: Counter[str]) -> dict[str, int]:
    sources: Counter[str] = Counter()
    for kind, count in events_by_kind.items():
        sources[kind.split(":")[0]] += count
    return dict(sorted(sources.items()))


# ----------------------------------------------------------------------------------------------
# Command line, progress and manifest
# ----------------------------------------------------------------------------------------------


def relative(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


class Progress:
    """One line per written file on stderr."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.started = time.perf_counter()

    def wrote(self, path: Path, detail: str) -> None:
        print(f"generate_demo_data: wrote {relative(path, self.out)} ({detail})", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def parse_arguments(argv: list[str] | None) -> GeneratorOptions:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seed", type=int, required=True, help="same seed and arguments: byte-identical output"
    )
    parser.add_argument(
        "--courses", type=int, required=True, help="number of courses (DATA101x, DATA102x, ...)"
    )
    parser.add_argument("--days", type=int, required=True, help="number of daily tracking logs")
    parser.add_argument("--events-per-day", type=int, required=True, help="valid events in each daily log")
    parser.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    parser.add_argument(
        "--start-date", type=date.fromisoformat, default=date(2024, 3, 4), help="first day, YYYY-MM-DD"
    )
    parser.add_argument("--org", default="DemoOrgX", help="edX organisation of the courses")
    parser.add_argument("--users-per-course", type=int, default=40, help="learners enrolled in each course")
    arguments = parser.parse_args(argv)
    if (
        arguments.courses < 1
        or arguments.days < 1
        or arguments.events_per_day < 0
        or arguments.users_per_course < 2
    ):
        parser.error("--courses and --days must be >= 1, --events-per-day >= 0, --users-per-course >= 2")
    if not arguments.org.isalnum():
        parser.error("--org must be letters and digits")
    return GeneratorOptions(
        seed=arguments.seed,
        courses=arguments.courses,
        days=arguments.days,
        events_per_day=arguments.events_per_day,
        out=arguments.out,
        start_date=arguments.start_date,
        org=arguments.org,
        users_per_course=arguments.users_per_course,
    )


@dataclass
class TrackingLogs:
    """What the daily tracking logs hold, for the manifest and the summary line."""

    days: dict[str, dict[str, object]] = field(default_factory=dict)
    events: int = 0
    broken_lines: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def write_tracking_logs(world: DemoWorld, progress: Progress) -> TrackingLogs:
    options = world.options
    logs = TrackingLogs()
    for day in range(options.days):
        day_date = (options.start_date + timedelta(days=day)).isoformat()
        path = options.out / "tracking" / f"{options.org}-edx-events-{day_date}.log.gz"
        started = time.perf_counter()
        summary = write_tracking_day(world, day, path)
        seconds = time.perf_counter() - started
        logs.days[day_date] = day_manifest_entry(path, options.out, summary)
        logs.events += summary.events
        logs.broken_lines.update(summary.broken_lines)
        logs.seconds += seconds
        rate = summary.events / max(seconds, 1e-9)
        broken = sum(summary.broken_lines.values())
        progress.wrote(path, f"{summary.events} events, {broken} broken lines, {rate:,.0f} events/s")
    return logs


def write_manifest(
    world: DemoWorld, course_entries: dict[str, dict[str, object]], logs: TrackingLogs
) -> None:
    """manifest.json: the arguments, and counts per course and per day (no timings, so that it
    stays byte-identical between runs)."""
    options = world.options
    manifest = {
        "generator": "scripts/generate_demo_data.py",
        "arguments": {
            "seed": options.seed,
            "courses": options.courses,
            "days": options.days,
            "events_per_day": options.events_per_day,
            "start_date": options.start_date.isoformat(),
            "org": options.org,
            "users_per_course": options.users_per_course,
        },
        "totals": {
            "courses": len(world.courses),
            "users": len(enrolled_users(world)),
            "users_in_several_courses": sum(1 for count in enrolled_users(world).values() if count > 1),
            "enrollments": len(world.enrollments),
            "forum_documents": len(world.forum_posts),
            "events": logs.events,
            "broken_lines": {kind: logs.broken_lines[kind] for kind in BROKEN_LINE_KINDS},
        },
        "courses": course_entries,
        "days": logs.days,
    }
    (options.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def enrolled_users(world: DemoWorld) -> Counter[int]:
    """Number of courses of each enrolled user."""
    return Counter(enrollment.user.user_id for enrollment in world.enrollments)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["engagement"]:
        return engagement_mode(argv[1:])
    options = parse_arguments(argv)
    for folder in ("package", "tracking", "courses"):
        (options.out / folder).mkdir(parents=True, exist_ok=True)
    progress = Progress(options.out)
    world = build_world(options)
    course_entries = {
        course.course_id: write_course_package(world, course, progress) for course in world.courses
    }
    logs = write_tracking_logs(world, progress)
    write_manifest(world, course_entries, logs)
    print(
        f"generate_demo_data: done: {options.courses} courses, {len(enrolled_users(world))} users, "
        f"{len(world.enrollments)} enrollments, {options.days} days, {logs.events} events "
        f"({sum(logs.broken_lines.values())} broken lines) in {progress.elapsed():.1f} s, "
        f"{logs.events / max(logs.seconds, 1e-9):,.0f} events/s, into {options.out}",
        file=sys.stderr,
    )
    return 0


def engagement_mode(argv: list[str]) -> int:
    """`generate_demo_data.py engagement ...`: fill the production database of the engagement ELT.

    The engagement data lives in PostgreSQL, not in files, so its generator is its own script
    (scripts/generate_engagement_data.py); this mode runs it with the same arguments.
    """
    import importlib.util

    path = Path(__file__).resolve().parent / "generate_engagement_data.py"
    spec = importlib.util.spec_from_file_location("generate_engagement_data", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.main(argv)


if __name__ == "__main__":
    sys.exit(main())
