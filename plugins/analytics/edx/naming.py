"""Course identity: parse every form of edX course id into one ``CourseKey``, and name its database.

edX writes the same course as ``course-v1:edX+DemoX+Demo_Course``, as the old slash id
``edX/DemoX/Demo_Course``, inside CCX ids (``ccx-v1:...+ccx@3``) and block keys
(``block-v1:...+type@...+block@...``), and as ``edX-DemoX-Demo_Course`` in data-package file names.
``parse_course_key`` reduces all of them to ``CourseKey(org, course, run)``, and
``course_database_name`` is the one place that turns a course into a MongoDB database name;
``check_distinct_database_names`` refuses a set of courses two of which would share a database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Characters edX allows in an org, course number or run (opaque-keys allows [\w\-~.:], old ids also %).
_KEY_PART = re.compile(r"[\w.~:%-]+")
# Prefixes of the "+"-separated key forms whose first three parts are org, course and run.
_PLUS_KEY_PREFIXES = ("course-v1:", "ccx-v1:", "block-v1:")

# MongoDB database names may not contain these characters (nor NUL), and must be under 64 bytes.
_FORBIDDEN_DATABASE_CHARACTERS = re.compile(r'[/\\. "$*<>:|?\x00]')
MAX_DATABASE_NAME_BYTES = 63
_HASH_LENGTH = 10


@dataclass(frozen=True)
class CourseKey:
    """The org, course number and run that identify one course run."""

    org: str
    course: str
    run: str

    @property
    def course_id(self) -> str:
        """The modern course id, e.g. ``course-v1:edX+DemoX+Demo_Course``."""
        return f"course-v1:{self.org}+{self.course}+{self.run}"

    @property
    def package_key(self) -> str:
        """The prefix of this course's data-package file names, e.g. ``edX-DemoX-Demo_Course``."""
        return f"{self.org}-{self.course}-{self.run}"

    def __str__(self) -> str:
        return self.course_id


def parse_course_key(text: str) -> CourseKey:
    """The course of a course id, CCX id, block key or old slash id; ValueError when it is none of them."""
    stripped = text.strip()
    prefix = next((prefix for prefix in _PLUS_KEY_PREFIXES if stripped.startswith(prefix)), None)
    if prefix is not None:
        parts = stripped[len(prefix) :].split("+")
        identity, qualifiers = parts[:3], parts[3:]
        if any("@" not in qualifier for qualifier in qualifiers):
            raise ValueError(f"not a course key: {text!r} (unexpected part after org+course+run)")
    elif "/" in stripped:
        identity = stripped.split("/")
    else:
        raise ValueError(
            f"not a course key: {text!r} (expected course-v1:ORG+COURSE+RUN, ccx-v1:..., block-v1:... "
            "or ORG/COURSE/RUN)"
        )
    if len(identity) != 3 or not all(_KEY_PART.fullmatch(part) for part in identity):
        raise ValueError(f"not a course key: {text!r} (org, course and run must be three non-empty ids)")
    org, course, run = identity
    return CourseKey(org=org, course=course, run=run)


def course_database_name(course: CourseKey | str) -> str:
    """The MongoDB database that holds one course's data, e.g. ``edX_DemoX_Demo_Course``.

    The rule: join org, course and run with ``_``, then replace every character MongoDB forbids
    in a database name (``/\\. "$*<>:|?`` and NUL) with ``_``. If the result is 64 bytes or more
    in UTF-8, keep its first 52 bytes (never splitting a character) and append ``_`` and the first
    10 hex digits of the SHA-256 of the full ``course-v1:`` id, so that two long ids that share a
    prefix still get different names. Any id form of the same course gives the same name, and
    the name is the same on every run and machine. Two ids that differ only where this rule
    writes ``_`` (for example ``6.002x`` and ``6_002x``) would share a name; edX course ids
    practically never do, readability is worth that, and ``check_distinct_database_names``
    stops a package in which they do.
    """
    key = parse_course_key(course) if isinstance(course, str) else course
    readable = _FORBIDDEN_DATABASE_CHARACTERS.sub("_", f"{key.org}_{key.course}_{key.run}")
    if len(readable.encode("utf-8")) <= MAX_DATABASE_NAME_BYTES:
        return readable
    digest = hashlib.sha256(key.course_id.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    prefix_bytes = MAX_DATABASE_NAME_BYTES - len(digest) - 1
    prefix = readable.encode("utf-8")[:prefix_bytes].decode("utf-8", errors="ignore")
    return f"{prefix}_{digest}"


def check_distinct_database_names(courses: Iterable[CourseKey]) -> None:
    """Raise ValueError naming every pair of courses whose database names are equal under casefold.

    MongoDB refuses two database names that differ only in case, and ``course_database_name``
    gives ids that differ only in a forbidden character (``6.002x``, ``6_002x``) the same name:
    loading both would mix two courses in one database, or fail halfway.
    """
    first_course_of: dict[str, CourseKey] = {}
    clashes: list[str] = []
    for course in sorted(set(courses), key=lambda key: key.course_id):
        name = course_database_name(course)
        first = first_course_of.setdefault(name.casefold(), course)
        if first != course:
            clashes.append(
                f"{first.course_id} ({course_database_name(first)!r}) and {course.course_id} ({name!r})"
            )
    if clashes:
        raise ValueError(
            "courses whose MongoDB database names collide (MongoDB compares names ignoring case): "
            + "; ".join(clashes)
            + ". Ingest them from separate packages, or rename one in course_database_name."
        )
