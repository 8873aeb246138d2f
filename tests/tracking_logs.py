"""Tracking logs written by the tests themselves: a few event kinds, bad lines where asked."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

COURSES = ("course-v1:TestX+TRK101+2024_T1", "TestX/TRK102/2024_T1")


def event_line(number: int, day: str = "2024-03-04", course_id: str | None = None) -> bytes:
    """One event, different for each ``number``; every fifth has its course only in the page URL."""
    course = course_id or COURSES[number % len(COURSES)]
    when = datetime.fromisoformat(f"{day}T00:00:00+00:00") + timedelta(seconds=number)
    in_context = number % 5 != 0
    event = {
        "username": f"learner{number % 17}",
        "event_type": ("play_video", "problem_check", "seq_goto", "openassessmentblock.peer_assess")[
            number % 4
        ],
        "event_source": "browser",
        "context": {"course_id": course if in_context else "", "user_id": number % 17, "path": "/event"},
        "time": when.isoformat(),
        "page": f"https://courses.example.org/courses/{course}/courseware/ch/seq/1",
        "event": json.dumps(
            {"id": f"block-v1:TestX+TRK101+2024_T1+type@video+block@v{number % 3}", "n": number}
        ),
    }
    if number % 4 == 3:
        event["event"] = {"parts": [{"option": {"points.possible": 3, "name": f"p{number}"}}]}
    return (json.dumps(event) + "\n").encode()


def write_log(
    path: Path,
    events: int,
    *,
    bad_lines: dict[int, bytes] | None = None,
    day: str = "2024-03-04",
) -> dict[str, int]:
    """Write ``events`` events (gzip when the name ends in .gz), with ``bad_lines`` inserted after
    the given event numbers; returns the line counts written."""
    bad_lines = bad_lines or {}
    lines: list[bytes] = []
    for number in range(events):
        lines.append(event_line(number, day))
        if number in bad_lines:
            lines.append(bad_lines[number])
    data = b"".join(lines)
    if path.name.endswith(".gz"):
        with gzip.GzipFile(path, "wb", mtime=0) as compressed:
            compressed.write(data)
    else:
        path.write_bytes(data)
    return {"lines": len(lines), "events": events, "bad": len(bad_lines)}


def now() -> datetime:
    """The loader's clock in tests: fixed, so two loads of the same file are comparable."""
    return datetime(2024, 3, 5, 3, 0, tzinfo=UTC)
