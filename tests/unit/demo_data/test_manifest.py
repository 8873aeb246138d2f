"""manifest.json and the output's layout (scripts/demo_data/manifest.py): edX's file names, every
file written listed, and event counts by kind, source and course that match the logs."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from .conftest import COURSE_CODES, COURSE_IDS, DAYS, ORG, PACKAGE_TABLES, classify_line


def test_file_names_follow_edx_forms(demo: Path) -> None:
    package = sorted(path.name for path in (demo / "package").iterdir())
    expected = []
    for code in COURSE_CODES:
        expected += [f"{ORG}-{code}-2024_T1-{table}-prod-analytics.sql" for table in PACKAGE_TABLES]
        expected += [
            f"{ORG}-{code}-2024_T1-course_structure-prod-analytics.json",
            f"{ORG}-{code}-2024_T1-prod.mongo",
        ]
    assert package == sorted(expected)
    assert sorted(path.name for path in (demo / "tracking").iterdir()) == [
        f"{ORG}-edx-events-{day}.log.gz" for day in DAYS
    ]
    assert sorted(path.name for path in (demo / "courses").iterdir()) == [
        f"{code}.json" for code in COURSE_CODES
    ]
    pattern = re.compile(r"^[A-Za-z0-9]+-[A-Za-z0-9]+-\d{4}_T\d-[a-z_]+-prod-analytics\.(sql|json)$")
    assert all(pattern.match(name) for name in package if not name.endswith(".mongo"))


def test_manifest_lists_every_file_written(demo: Path, manifest: dict) -> None:
    listed = {manifest["days"][day]["file"] for day in manifest["days"]}
    for course in manifest["courses"].values():
        listed |= {table["file"] for table in course["tables"].values()}
        listed |= {course["course_structure"]["file"], course["forum"]["file"], course["config"]}
    written = {path.relative_to(demo).as_posix() for path in demo.rglob("*") if path.is_file()}
    assert written - {"manifest.json"} == listed
    assert sorted(manifest["courses"]) == list(COURSE_IDS)
    assert list(manifest["days"]) == list(DAYS)


def test_manifest_counts_events_by_kind_source_and_course(
    tracking_lines: dict[str, list[bytes]], manifest: dict
) -> None:
    for day, lines in tracking_lines.items():
        day_events = [event for kind, event in map(classify_line, lines) if kind == "event"]
        entry = manifest["days"][day]
        assert entry["events_by_source"] == dict(
            sorted(Counter(event["event_source"] for event in day_events).items())
        )
        assert sum(entry["events_by_kind"].values()) == entry["events"]
        assert sum(entry["events_by_course"].values()) + entry["events_without_course"] == entry["events"]
        assert set(entry["events_by_source"]) == {"browser", "server", "mobile"}
        assert set(entry["events_by_course"]) <= set(COURSE_IDS)
    totals = manifest["totals"]
    assert totals["events"] == sum(day["events"] for day in manifest["days"].values())
