"""The tables of the edX research data package: their columns (the real packages' headers), MySQL's
TSV escaping with ``NULL`` literals, and the rows of each table for one course: users, profiles
(with tabs, newlines and backslashes to escape), enrollments, certificates, learners' per-block
state as Django stores it (JSON, with a JSON answer nested inside), and a wiki table the
ingestion does not read, as real packages carry many such tables."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from .clock import day_start, iso_seconds, sql_datetime, video_clock
from .courses import problem_answer
from .randomness import derived_random, random_hex, random_time_between
from .world_model import BASE_URL, Block, Course, DemoWorld, Enrollment, User

Row = dict[str, object]

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


def mysql_escape(value: object) -> str:
    """One TSV field as MySQL writes it: NULL for None, backslash escapes inside text."""
    if value is None:
        return "NULL"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text or "\0" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        text = text.replace("\r", "\\r").replace("\0", "\\0")
    return text


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


def course_tables(world: DemoWorld, course: Course) -> dict[str, list[Row]]:
    """Every table of one course's package, by table name, in the order they are drawn."""
    rng = derived_random(world.options.seed, "package", course.code)
    enrollments = world.enrollments_in(course)
    users = [enrollment.user for enrollment in enrollments]
    return {
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
