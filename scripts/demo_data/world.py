"""Building the edX demo world from the options: the courses' outlines, a pool of learners smaller
than the courses' seats (so some take several courses), their enrollments, the forum posts, and
the schedule that places enrollment changes and forum posts in slots of the generated days, so
that each one's tracking event matches its row in the research data package to the second."""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

from .clock import day_start, slot_offset_microseconds
from .courses import build_courses
from .randomness import derived_random, object_id, random_hex, random_time_between
from .world_model import (
    ENROLLMENT_OPENS_DAYS_BEFORE_START,
    MOBILE_APPS,
    Course,
    DemoWorld,
    Enrollment,
    ForumPost,
    GeneratorOptions,
    ScheduledEvent,
    User,
)

SCHEDULED_SHARE_OF_DAY = 4  # at most 1/4 of a day's events are enrollments and forum posts
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
ACCEPT_LANGUAGES = (
    "en-US,en;q=0.9",
    "fr-FR,fr;q=0.9,en;q=0.8",
    "pt-BR,pt;q=0.9",
    "de-DE,de;q=0.9,en;q=0.7",
    "es-MX,es;q=0.9",
)
EDUCATION_LEVELS = ("p", "m", "b", "a", "hs", "jhs", "el", "none", "other")
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


def ascii_name(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(str.maketrans("łŁøØı", "lLoOi")))
    return "".join(char for char in folded if char.isascii() and char.isalnum()).lower()


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
        self.enrollments = world.enrollments_in(course)
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
    """The world for the options: courses, a pool of learners (three quarters of the seats, so
    some take several courses), enrollments, forum posts, and the schedule of their events."""
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
