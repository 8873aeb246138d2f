"""The tracking benchmark's data: one generated day of edX tracking events (seed 11 by default)
of several kinds (browser video events whose ``event`` is a JSON string, server page views,
problem checks in both halves, open assessments with dotted and ``$`` keys, mobile video,
enrolments, login pages, events whose course shows only in the URL), with about one broken line
in 500, streamed to gzip files that are each the first N events of the same stream. The server
envelope, the problem_check payload, the encoders and the time format are the demo data's
(``scripts/demo_data/tracking_formats.py``); the courses, learners and mix of kinds are this
benchmark's own, so that the same seed gives the same bytes as before."""

from __future__ import annotations

import bisect
import gzip
import itertools
import json
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from analytics.edx.naming import parse_course_key
from scripts.benchmarks.common import logger
from scripts.demo_data.clock import event_time_text
from scripts.demo_data.tracking_formats import (
    OPEN_ASSESSMENT_CRITERIA,
    SERVER_EMPTY_REQUEST,
    compact_json,
    problem_check_details,
    server_event,
)
from scripts.demo_data.tracking_logs import BROKEN_LINE_RATE, GZIP_LEVEL, TRACKING_ENCODER

DAY = date(2024, 3, 4)
DAY_MICROSECONDS = 86_400_000_000
# The N and 2N files, for the database figures, whose time is the server's: 3x faster to write here.
# The largest (the own-work file) is compressed at GZIP_LEVEL, zlib's default, as edX's files are.
DATABASE_FILE_GZIP_LEVEL = 1
WRITE_BATCH_LINES = 2048
WRITE_QUEUE = 8  # batches waiting for the gzip writer thread
PROGRESS_EVERY_EVENTS = 200_000

HOST = "courses.bench.example.org"
BASE_URL = f"https://{HOST}"
# The course extract_course copies: a tenth of the events (about 40,000 of the 2N master's).
EXTRACTED_COURSE = "course-v1:BenchX+TRK103+2024_T2"
# Course id, share of the events; the old slash id is as edX wrote ids before 2015.
COURSES = (
    ("course-v1:BenchX+TRK101+2024_T1", 0.35),
    ("course-v1:BenchX+TRK102+2024_T1", 0.25),
    ("BenchX/OLD201/2013_T3", 0.15),
    (EXTRACTED_COURSE, 0.10),
    ("course-v1:OtherU+DATA1+2024", 0.15),
)
USERS = 20_000
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36",
)
LANGUAGES = ("en-US,en;q=0.9", "fr-FR,fr;q=0.9,en;q=0.8", "es-ES,es;q=0.9", "en-GB,en;q=0.8")
# The shares of the kinds of events, in the order they are drawn: what a day of edX logs holds.
KIND_SHARES = {
    "browser_video": 0.38,
    "server_page_view": 0.18,
    "browser_sequence": 0.08,
    "browser_problem_check": 0.06,
    "server_problem_check": 0.06,
    "server_open_assessment": 0.04,
    "browser_page_close": 0.05,
    "mobile_video": 0.03,
    "server_enrollment": 0.02,
    "server_login_next": 0.02,
    "server_dashboard": 0.04,
    "server_bookmarks": 0.04,
}

log = logger("bench-tracking", elapsed=True)


@dataclass(frozen=True)
class Block:
    key: str
    block_id: str
    category: str
    display_name: str
    chapter: str
    sequential: str
    position: int  # the vertical's 1-based position in its sequential
    problem_kind: str = "multiple_choice"  # for problems: what problem_check_details reads


@dataclass(frozen=True)
class CourseShape:
    course_id: str
    org: str
    videos: list[Block]
    problems: list[Block]
    assessment: Block
    structure: list[dict[str, Any]]  # its course_structure documents (for the extraction)


@dataclass(frozen=True)
class Learner:
    """A learner; it has the attributes of the demo data's ``User`` that ``server_event`` reads."""

    username: str
    user_id: int
    ip: str
    agent: str
    accept_language: str
    session: str


def block_key(course_id: str, category: str, block_id: str) -> str:
    key = parse_course_key(course_id)
    if course_id.startswith("course-v1:"):
        return f"block-v1:{key.org}+{key.course}+{key.run}+type@{category}+block@{block_id}"
    return f"i4x://{key.org}/{key.course}/{category}/{block_id}"


def build_course(rng: random.Random, course_id: str) -> CourseShape:
    """4 chapters of 3 sequentials of 3 units, each unit a video and a problem; one open assessment."""
    videos, problems, structure = [], [], []
    for chapter_number in range(4):
        chapter = rng.randbytes(16).hex()
        sequentials = []
        for sequential_number in range(3):
            sequential = rng.randbytes(16).hex()
            units = []
            for position in range(1, 4):
                unit = rng.randbytes(16).hex()
                leaves = []
                for category, shelf in (("video", videos), ("problem", problems)):
                    block_id = rng.randbytes(16).hex()
                    leaf = Block(
                        block_key(course_id, category, block_id),
                        block_id,
                        category,
                        f"{category.title()} {chapter_number}.{sequential_number}.{position}",
                        chapter,
                        sequential,
                        position,
                    )
                    shelf.append(leaf)
                    leaves.append(leaf)
                parent_data = {
                    "chapter_id": chapter,
                    "chapter_display_name": f"Chapter {chapter_number}",
                    "chapter_position": chapter_number,
                    "sequential_id": sequential,
                    "sequential_display_name": f"Sequence {chapter_number}.{sequential_number}",
                    "sequential_position": sequential_number,
                    "vertical_id": unit,
                    "vertical_display_name": f"Unit {position}",
                    "vertical_position": position - 1,
                }
                for leaf in leaves:
                    structure.append(
                        structure_document(leaf.key, leaf.category, leaf.display_name, [], parent_data)
                    )
                unit_key = block_key(course_id, "vertical", unit)
                structure.append(
                    structure_document(
                        unit_key, "vertical", f"Unit {position}", [leaf.key for leaf in leaves], {}
                    )
                )
                units.append(unit_key)
            sequential_key = block_key(course_id, "sequential", sequential)
            structure.append(structure_document(sequential_key, "sequential", "Sequence", units, {}))
            sequentials.append(sequential_key)
        chapter_key = block_key(course_id, "chapter", chapter)
        structure.append(
            structure_document(chapter_key, "chapter", f"Chapter {chapter_number}", sequentials, {})
        )
    assessment_id = rng.randbytes(16).hex()
    first = videos[0]
    assessment = Block(
        block_key(course_id, "openassessment", assessment_id),
        assessment_id,
        "openassessment",
        "Essay",
        first.chapter,
        first.sequential,
        first.position,
    )
    structure.append(structure_document(assessment.key, "openassessment", "Essay", [], {}))
    return CourseShape(course_id, parse_course_key(course_id).org, videos, problems, assessment, structure)


def structure_document(
    key: str, category: str, name: str, children: list[str], parent_data: dict[str, Any]
) -> dict[str, Any]:
    short_id = key.rsplit("@", 1)[-1].rsplit("/", 1)[-1]
    return {
        "_id": key,
        "block_id": short_id,
        "category": category,
        "display_name": name,
        "children": children,
        "parent_data": parent_data,
    }


class EventGenerator:
    """Builds one tracking line at a time (:meth:`line`), in the shapes of edX's events."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.courses = [build_course(rng, course_id) for course_id, _ in COURSES]
        self.course_cumulative = list(itertools.accumulate(share for _, share in COURSES))
        self.learners = [
            Learner(
                username=f"learner_{number:05d}",
                user_id=100_000 + number,
                ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                agent=rng.choice(AGENTS),
                accept_language=rng.choice(LANGUAGES),
                session=rng.randbytes(16).hex(),
            )
            for number in range(USERS)
        ]
        self.kinds = [getattr(self, name) for name in KIND_SHARES]
        self.kind_cumulative = list(itertools.accumulate(KIND_SHARES.values()))
        self.kind_counts: Counter[str] = Counter()
        self.day_prefix = f"{DAY.isoformat()}T"

    def line(self, microseconds: int) -> bytes:
        """One event at ``microseconds`` after midnight (UTC), as a line of a tracking file."""
        rng = self.rng
        learner = self.learners[int(rng.random() * USERS)]
        course = self.courses[min(bisect.bisect(self.course_cumulative, rng.random()), len(self.courses) - 1)]
        time_text = event_time_text(self.day_prefix, microseconds)
        kind = self.kinds[min(bisect.bisect(self.kind_cumulative, rng.random()), len(self.kinds) - 1)]
        self.kind_counts[kind.__name__] += 1
        return (TRACKING_ENCODER.encode(kind(learner, course, time_text)) + "\n").encode()

    # -- envelopes -----------------------------------------------------------------------------

    def browser(
        self, learner: Learner, course: CourseShape, event_type: str, event: str, time_text: str, page: str
    ) -> dict[str, Any]:
        """A browser event without the demo data's Segment fields (``label``, ``nonInteraction``)."""
        return {
            "username": learner.username,
            "event_type": event_type,
            "ip": learner.ip,
            "agent": learner.agent,
            "host": HOST,
            "referer": page,
            "accept_language": learner.accept_language,
            "event": event,
            "event_source": "browser",
            "context": {
                "user_id": learner.user_id,
                "org_id": course.org,
                "course_id": course.course_id,
                "path": "/event",
            },
            "time": time_text,
            "page": page,
            "session": learner.session,
            "name": event_type,
        }

    def server(
        self,
        learner: Learner,
        course: CourseShape | None,
        event_type: str,
        event: object,
        time_text: str,
        path: str,
        referer: str,
        module: Block | None = None,
        **optional_fields: str,
    ) -> dict[str, Any]:
        """The demo data's server envelope (``session``, ``name`` in ``optional_fields``) on this
        benchmark's host."""
        more_context = None
        if module is not None:
            more_context = {"module": {"usage_key": module.key, "display_name": module.display_name}}
        envelope = server_event(
            course.org if course else "",
            learner,  # type: ignore[arg-type]  # the User attributes it reads
            course,  # type: ignore[arg-type]  # only its course_id is read
            event_type,
            event,
            time_text,
            path,
            referer,
            more_context=more_context,
            page="x_module" if module is not None else None,
            **optional_fields,
        )
        envelope["host"] = HOST  # in place: the keys keep their order
        return envelope

    def courseware_url(self, course: CourseShape, block: Block) -> str:
        return f"{BASE_URL}/courses/{course.course_id}/courseware/{block.chapter}/{block.sequential}/{block.position}"

    # -- kinds ---------------------------------------------------------------------------------

    def browser_video(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        rng = self.rng
        video = rng.choice(course.videos)
        event_type = rng.choice(
            ("play_video", "pause_video", "play_video", "seek_video", "load_video", "stop_video")
        )
        details: dict[str, Any] = {"id": video.block_id, "code": video.block_id[:11], "duration": 312.4}
        if event_type == "seek_video":
            details.update(old_time=round(rng.uniform(0, 300), 3), new_time=round(rng.uniform(0, 300), 3))
            details["type"] = "onSlideSeek"
        elif event_type != "load_video":
            details["currentTime"] = round(rng.uniform(0, 312), 3)
        page = self.courseware_url(course, video)
        return self.browser(learner, course, event_type, compact_json(details), time_text, page)

    def server_page_view(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        block = self.rng.choice(course.videos)
        path = f"/courses/{course.course_id}/courseware/{block.chapter}/{block.sequential}/"
        referer = f"{BASE_URL}/courses/{course.course_id}/course/"
        return self.server(learner, course, path, SERVER_EMPTY_REQUEST, time_text, path, referer)

    def browser_sequence(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        rng = self.rng
        block = rng.choice(course.videos)
        old, new = block.position, rng.randint(1, 3)
        event_type = "seq_next" if new > old else "seq_prev" if new < old else "seq_goto"
        details = {
            "widget_placement": "top",
            "tab_count": 3,
            "current_tab": old,
            "target_tab": new,
            "new": new,
            "old": old,
            "id": block_key(course.course_id, "sequential", block.sequential),
        }
        page = self.courseware_url(course, block)
        return self.browser(learner, course, event_type, compact_json(details), time_text, page)

    def browser_problem_check(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        problem = self.rng.choice(course.problems)
        query = f"input_{problem.block_id}_2_1=choice_{self.rng.randrange(4)}"
        page = self.courseware_url(course, problem)
        # The browser half logs the form data as a quoted JSON string: not an object, kept as it is.
        return self.browser(learner, course, "problem_check", json.dumps(query), time_text, page)

    def server_problem_check(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        rng = self.rng
        problem = rng.choice(course.problems)
        correct = rng.random() < 0.6
        answer = f"choice_{rng.randrange(4)}"
        details = problem_check_details(problem, answer, answer, correct, rng.randint(1, 3))  # type: ignore[arg-type]
        # This benchmark's file predates two details of the demo data's sample: kept, for the same bytes.
        input_id = f"{problem.block_id}_2_1"
        details["submission"][input_id]["question"] = f"{problem.display_name}: pick your answer"  # type: ignore[index]
        del details["correct_map"][input_id]["answervariable"]  # type: ignore[index]
        path = f"/courses/{course.course_id}/xblock/{problem.key}/handler/xmodule_handler/problem_check"
        referer = self.courseware_url(course, problem)
        return self.server(learner, course, "problem_check", details, time_text, path, referer, problem)

    def server_open_assessment(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        rng = self.rng
        block = course.assessment
        points = [rng.randint(0, possible) for _, possible in OPEN_ASSESSMENT_CRITERIA]
        details = {
            "feedback": "Clear argument.",
            "rubric": {"content_hash": rng.randbytes(20).hex()},
            "scored_at": time_text,
            "scorer_id": rng.randbytes(16).hex(),
            "score_type": "PE",
            "parts": [
                {
                    "option": {"name": f"{earned} points", "points": earned, "points.possible": possible},
                    "criterion": {"name": name, "points_possible": possible},
                    "feedback": "",
                }
                for (name, possible), earned in zip(OPEN_ASSESSMENT_CRITERIA, points, strict=True)
            ],
            "submission_uuid": rng.randbytes(16).hex(),
            "$set": {"score.points_earned": sum(points), "score.points_possible": 8},
        }
        path = f"/courses/{course.course_id}/xblock/{block.key}/handler/peer_assess"
        referer = self.courseware_url(course, block)
        return self.server(
            learner,
            course,
            "openassessmentblock.peer_assess",
            details,
            time_text,
            path,
            referer,
            block,
            session=learner.session,
        )

    def browser_page_close(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        page = self.courseware_url(course, self.rng.choice(course.videos))
        event = self.browser(learner, course, "page_close", "", time_text, page)
        event["context"].update(org_id="", course_id="")  # the course shows only in the page URL
        return event

    def mobile_video(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        """A mobile video event with one phone (the demo data's come from its users' own apps)."""
        video = self.rng.choice(course.videos)
        return {
            "username": learner.username,
            "event_type": "edx.video.played",
            "ip": learner.ip,
            "agent": "edX/org.edx.mobile (3.1.4; OS Version 14 (Build UP1A))",
            "host": HOST,
            "referer": "",
            "accept_language": learner.accept_language,
            "event": {"code": "mobile", "id": video.key, "currentTime": round(self.rng.uniform(0, 312), 3)},
            "event_source": "mobile",
            "context": {
                "received_at": time_text,
                "course_id": course.course_id,
                "user_id": learner.user_id,
                "org_id": course.org,
                "path": "/segmentio/event",
                "application": {"name": "edx.mobileapp.android", "version": "3.1.4"},
                "client": {
                    "device": {"manufacturer": "Google", "model": "Pixel 8"},
                    "os": {"name": "Android"},
                },
                "component": "videoplayer",
                "open_in_browser_url": f"{BASE_URL}/courses/{course.course_id}/jump_to/{video.key}",
            },
            "time": time_text,
            "page": None,
            "session": "",
            "name": "edx.video.played",
        }

    def server_enrollment(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        details = {"course_id": course.course_id, "user_id": learner.user_id, "mode": "audit"}
        event_type = "edx.course.enrollment.activated"
        referer = f"{BASE_URL}/courses/{course.course_id}/about"
        return self.server(
            learner, course, event_type, details, time_text, "/change_enrollment", referer, name=event_type
        )

    def server_login_next(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        target = f"/courses/{course.course_id}/courseware"
        request = json.dumps({"POST": {}, "GET": {"next": [target]}})
        return self.server(learner, None, "/login", request, time_text, "/login", f"{BASE_URL}{target}")

    def server_dashboard(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        return self.server(
            learner, None, "/dashboard", SERVER_EMPTY_REQUEST, time_text, "/dashboard", f"{BASE_URL}/"
        )

    def server_bookmarks(self, learner: Learner, course: CourseShape, time_text: str) -> dict[str, Any]:
        details = {"list_type": "all_courses", "bookmarks_count": self.rng.randint(0, 12), "page_size": 10}
        path, referer = "/api/bookmarks/v1/bookmarks/", self.courseware_url(course, course.videos[0])
        return self.server(
            learner,
            None,
            "edx.bookmark.listed",
            details,
            time_text,
            path,
            referer,
            name="edx.bookmark.listed",
        )

    def broken_line(self, line: bytes) -> tuple[str, bytes]:
        """A line edX's pipeline could leave: cut short, with bytes that are not UTF-8, or blank."""
        draw = self.rng.random()
        if draw < 0.5:
            return "truncated_json", line[: len(line) // 2] + b"\n"
        if draw < 0.9:
            return "invalid_utf8", line[:40] + b"\xff\xfe" + line[40:]
        return "blank", b"\n"


@dataclass
class GeneratedFile:
    path: Path
    events: int
    lines: int = 0
    broken: Counter[str] = field(default_factory=Counter)
    bytes_uncompressed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path.name,
            "events": self.events,
            "lines": self.lines,
            "broken_lines": dict(self.broken),
            "bytes_uncompressed": self.bytes_uncompressed,
            "bytes_gzip": self.path.stat().st_size,
        }


class CompressingWriter:
    """Writes (file, data) pairs to gzip files in a thread, so that generating and compressing overlap
    (zlib lets go of the GIL); at most ``WRITE_QUEUE`` batches wait, so memory stays bounded. Each
    file's gzip header names it (the demo data's writer leaves the name out), as it always has here."""

    def __init__(self, paths: list[Path], levels: list[int]) -> None:
        self.handles = [
            gzip.GzipFile(path, "wb", compresslevel=level, mtime=0)
            for path, level in zip(paths, levels, strict=True)
        ]
        self.queue: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=WRITE_QUEUE)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="gzip-writer", daemon=True)
        self.thread.start()

    def write(self, index: int, data: bytes) -> None:
        if self.error is not None:
            raise RuntimeError("the gzip writer failed") from self.error
        self.queue.put((index, data))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        for handle in self.handles:
            handle.close()
        if self.error is not None:
            raise RuntimeError("the gzip writer failed") from self.error

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is None:  # after a failure, keep draining so that write() never blocks
                try:
                    self.handles[item[0]].write(item[1])
                except BaseException as error:
                    self.error = error


def write_tracking_files(
    directory: Path, sizes: list[int], seed: int
) -> tuple[list[GeneratedFile], Counter[str]]:
    """One stream of events written to one gzip file per size, each file the first ``size`` events
    of the stream (with the broken lines among them); never more than a few batches of lines in
    memory. ``sizes`` are ascending; the events are spread evenly over the day. The largest file is
    compressed at GZIP_LEVEL, the others at DATABASE_FILE_GZIP_LEVEL."""
    if sizes != sorted(sizes):
        raise ValueError(f"sizes must be ascending, not {sizes}")
    generator = EventGenerator(seed)
    largest = sizes[-1]
    step = DAY_MICROSECONDS // largest
    files = [
        GeneratedFile(directory / f"benchx-edx-events-{DAY.isoformat()}-{size}.log.gz", size)
        for size in sizes
    ]
    levels = [DATABASE_FILE_GZIP_LEVEL] * (len(files) - 1) + [GZIP_LEVEL]
    writer = CompressingWriter([file.path for file in files], levels)
    pending: list[list[bytes]] = [[] for _ in files]
    started = time.monotonic()
    try:
        for number in range(largest):
            line = generator.line(number * step)
            written = [line]
            kind = None
            if generator.rng.random() < BROKEN_LINE_RATE:
                kind, broken = generator.broken_line(line)
                written.append(broken)
            for file, batch in zip(files, pending, strict=True):
                if number < file.events:
                    batch.extend(written)
                    file.lines += len(written)
                    if kind is not None:
                        file.broken[kind] += 1
            if len(pending[-1]) >= WRITE_BATCH_LINES or number == largest - 1:
                for index, (file, batch) in enumerate(zip(files, pending, strict=True)):
                    if batch:
                        data = b"".join(batch)
                        file.bytes_uncompressed += len(data)
                        writer.write(index, data)
                        batch.clear()
            if (number + 1) % PROGRESS_EVERY_EVENTS == 0:
                log(f"generated {number + 1:,} of {largest:,} events ({time.monotonic() - started:.0f}s)")
    finally:
        writer.close()
    return files, generator.kind_counts
