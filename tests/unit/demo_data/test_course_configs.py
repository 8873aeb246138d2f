"""The course-extraction configs (scripts/demo_data/course_configs.py): McGillX's keys, and
dates and course ids that match the package."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from .conftest import COURSE_CODES, COURSE_IDS, DAYS, MISSING_SAMPLES, SAMPLES, package_file, read_tsv


def test_course_configs_match_the_package(demo: Path, manifest: dict) -> None:
    sample_keys = [
        "edx_id",
        "edx_course_name",
        "course_ids",
        "date_of_course_enrollment",
        "date_of_course_completion",
    ]
    for code, course_id in zip(COURSE_CODES, COURSE_IDS, strict=True):
        config = json.loads((demo / "courses" / f"{code}.json").read_text())
        assert list(config) == sample_keys
        assert config["edx_id"] == code.lower()
        assert config["course_ids"] == [course_id]
        assert manifest["courses"][course_id]["config"] == f"courses/{code}.json"
        opens = date.fromisoformat(config["date_of_course_enrollment"])
        completes = date.fromisoformat(config["date_of_course_completion"])
        assert opens <= date.fromisoformat(DAYS[0]) and completes == date.fromisoformat(DAYS[-1])
        header, rows = read_tsv(package_file(demo, code, "student_courseenrollment"))
        assert {row[header.index("course_id")] for row in rows} == {course_id}
        created = [datetime.fromisoformat(row[header.index("created")]).date() for row in rows]
        assert opens <= min(created) and max(created) <= completes


def test_config_keys_match_the_mcgillx_samples(demo: Path) -> None:
    samples = sorted((SAMPLES / "mcgillx").glob("*_config.json"))
    if not samples:
        pytest.fail(MISSING_SAMPLES)
    ours = json.loads((demo / "courses" / "DATA101x.json").read_text())
    assert all(set(json.loads(sample.read_text())) == set(ours) for sample in samples)
