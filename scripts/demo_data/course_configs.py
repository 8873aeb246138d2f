"""The course-extraction configs of the edX demo data (``courses/<code>.json``), one per course,
shaped like McGillX's edx_data_research configs: which course ids make up the course and the
period whose tracking events belong to it (from enrollment opening to the last generated day)."""

from __future__ import annotations

import json
from pathlib import Path

from .world_model import Course, DemoWorld


def write_course_config(world: DemoWorld, course: Course) -> Path:
    """Write the course's config; returns its path."""
    config = {
        "edx_id": course.edx_id,
        "edx_course_name": course.title,
        "course_ids": [course.course_id],
        "date_of_course_enrollment": world.enrollment_opens.date().isoformat(),
        "date_of_course_completion": world.last_day.isoformat(),
    }
    path = world.options.out / "courses" / f"{course.code}.json"
    path.write_text(json.dumps(config, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
