"""The ``edx`` source of the demo data: from the options it builds the world (courses, learners,
enrollments, forum posts, the schedule of events that must match package rows), then writes under
``--out`` each course's research data package (``package/``) and course-extraction config
(``courses/``), one gzip tracking log per day (``tracking/``) and ``manifest.json``. The formats
copy the real edX samples in ``../shared/edx-samples``; the same arguments always give
byte-identical files, since every random choice comes from a stream seeded from ``--seed``."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from .course_configs import write_course_config
from .edx_package import write_course_package
from .manifest import Entry, course_entry, enrolled_users, write_manifest
from .progress import Progress
from .tracking_logs import TrackingLogs, write_tracking_logs
from .world import build_world
from .world_model import Course, DemoWorld, GeneratorOptions

OUTPUT_FOLDERS = ("package", "tracking", "courses")


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def options(arguments: argparse.Namespace) -> GeneratorOptions:
    """The options, or ValueError for arguments out of range."""
    if (
        arguments.courses < 1
        or arguments.days < 1
        or arguments.events_per_day < 0
        or arguments.users_per_course < 2
    ):
        raise ValueError("--courses and --days must be >= 1, --events-per-day >= 0, --users-per-course >= 2")
    if not arguments.org.isalnum():
        raise ValueError("--org must be letters and digits")
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


def run(options: GeneratorOptions) -> int:
    for folder in OUTPUT_FOLDERS:
        (options.out / folder).mkdir(parents=True, exist_ok=True)
    progress = Progress(options.out)
    world = build_world(options)
    course_entries = {
        course.course_id: write_course_files(world, course, progress) for course in world.courses
    }
    logs = write_tracking_logs(world, progress)
    write_manifest(world, course_entries, logs)
    print_summary(world, logs, progress)
    return 0


def write_course_files(world: DemoWorld, course: Course, progress: Progress) -> Entry:
    """A course's package and config; returns the course's manifest entry."""
    package_entry = write_course_package(world, course, progress)
    config_path = write_course_config(world, course)
    progress.wrote(config_path, course.course_id)
    return course_entry(world, course, config_path, package_entry)


def print_summary(world: DemoWorld, logs: TrackingLogs, progress: Progress) -> None:
    options = world.options
    print(
        f"demo_data edx: done: {options.courses} courses, {len(enrolled_users(world))} users, "
        f"{len(world.enrollments)} enrollments, {options.days} days, {logs.events} events "
        f"({sum(logs.broken_lines.values())} broken lines) in {progress.elapsed():.1f} s, "
        f"{logs.events / max(logs.seconds, 1e-9):,.0f} events/s, into {options.out}",
        file=sys.stderr,
    )
