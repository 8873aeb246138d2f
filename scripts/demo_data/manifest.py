"""``manifest.json`` of the edX demo data: the arguments it was generated with, totals, and for each
course and each day what was written (files, rows, blocks, forum documents, events by kind,
source and course, broken lines), so that tests and the demo's summary can check that every
row, block, event and broken line is accounted for. It holds no timings, so the same arguments
always give the same bytes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .progress import relative
from .tracking_logs import BROKEN_LINE_KINDS, DaySummary, TrackingLogs
from .world_model import Course, DemoWorld

# The name recorded since the first manifest; kept so that the output stays byte-identical
# (the generator now runs as `python -m scripts.demo_data edx`).
GENERATOR_NAME = "scripts/generate_demo_data.py"

Entry = dict[str, object]


def course_entry(world: DemoWorld, course: Course, config_path: Path, package_entry: Entry) -> Entry:
    """A course's entry: its names, its config file and what its package holds."""
    return {
        "course": course.code,
        "run": course.run,
        "edx_id": course.edx_id,
        "config": relative(config_path, world.options.out),
        **package_entry,
    }


def day_entry(summary: DaySummary, out: Path) -> Entry:
    """A day's entry: its tracking file, its lines, events and broken lines."""
    broken = {kind: summary.broken_lines[kind] for kind in BROKEN_LINE_KINDS}
    return {
        "file": relative(summary.path, out),
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
    """Events by source (browser, mobile, server) from events by kind ('source:event_type')."""
    sources: Counter[str] = Counter()
    for kind, count in events_by_kind.items():
        sources[kind.split(":")[0]] += count
    return dict(sorted(sources.items()))


def enrolled_users(world: DemoWorld) -> Counter[int]:
    """Number of courses of each enrolled user."""
    return Counter(enrollment.user.user_id for enrollment in world.enrollments)


def write_manifest(world: DemoWorld, course_entries: dict[str, Entry], logs: TrackingLogs) -> Path:
    """Write manifest.json under --out; returns its path."""
    options = world.options
    manifest = {
        "generator": GENERATOR_NAME,
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
        "days": {day: day_entry(summary, options.out) for day, summary in logs.days.items()},
    }
    path = options.out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path
