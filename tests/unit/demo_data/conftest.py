"""Shared set-up of the demo-data generator's tests (scripts/demo_data): one small edX data set
generated once for the session, its manifest, tracking lines and events, and readers written
independently of the generator (MySQL unescaping, line classification)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from scripts.demo_data import cli

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT.parent / "shared" / "edx-samples"
# The real samples are part of the set-up (../shared beside the repo): missing, a test fails, never skips.
MISSING_SAMPLES = f"real edX samples missing under {SAMPLES} (../shared/edx-samples from the repo root)"
PIPELINE_SAMPLES = SAMPLES / "edx-analytics-pipeline"
ORG = "DemoOrgX"
COURSE_CODES = ("DATA101x", "DATA102x")
COURSE_IDS = tuple(f"course-v1:{ORG}+{code}+2024_T1" for code in COURSE_CODES)
DAYS = ("2024-03-04", "2024-03-05")
EVENTS_PER_DAY = 1500
PACKAGE_TABLES = (
    "auth_user",
    "auth_userprofile",
    "certificates_generatedcertificate",
    "courseware_studentmodule",
    "student_courseenrollment",
    "user_id_map",
    "wiki_article",
)
VIDEO_EVENT_TYPES = ("load_video", "play_video", "pause_video", "seek_video", "stop_video")


def generate(out: Path, seed: int = 7, events_per_day: int = EVENTS_PER_DAY, days: int = 2) -> Path:
    arguments = ["edx", "--seed", str(seed), "--courses", "2", "--days", str(days)]
    arguments += ["--events-per-day", str(events_per_day), "--out", str(out)]
    assert cli.main(arguments) == 0
    return out


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def manifest(demo: Path) -> dict:
    return json.loads((demo / "manifest.json").read_text())


@pytest.fixture(scope="session")
def tracking_lines(demo: Path) -> dict[str, list[bytes]]:
    """The raw lines of each day's tracking file, by day."""
    lines = {}
    for day in DAYS:
        with gzip.open(demo / "tracking" / f"{ORG}-edx-events-{day}.log.gz", "rb") as log:
            lines[day] = log.read().splitlines(keepends=True)
    return lines


@pytest.fixture(scope="session")
def events(tracking_lines: dict[str, list[bytes]]) -> list[dict]:
    """Every valid event of every day, in file order."""
    return [
        event
        for lines in tracking_lines.values()
        for kind, event in map(classify_line, lines)
        if kind == "event"
    ]


def classify_line(line: bytes) -> tuple[str, dict | None]:
    """'event' with the parsed event, or the kind of intended broken line; fails on anything else."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        assert b"\xff\xfe" in line, line[:80]
        return "invalid_utf8", None
    try:
        event = json.loads(text)
    except json.JSONDecodeError:
        assert text.startswith('{"username": "') and not text.rstrip("\n").endswith("}"), text[:80]
        return "truncated_json", None
    assert {"event_type", "time", "context", "event_source", "username"} <= event.keys()
    return "event", event


def mysql_unescape(field: str) -> str | None:
    """The value MySQL meant by one TSV field (written independently of the generator)."""
    if field == "NULL":
        return None
    replacements = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", "0": "\0"}
    result, index = [], 0
    while index < len(field):
        if field[index] == "\\" and index + 1 < len(field):
            result.append(replacements.get(field[index + 1], field[index + 1]))
            index += 2
        else:
            result.append(field[index])
            index += 1
    return "".join(result)


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "a .sql file ends with a newline"
    header, *rows = (line.split("\t") for line in lines[:-1])
    return header, rows


def package_file(demo: Path, code: str, table: str) -> Path:
    return demo / "package" / f"{ORG}-{code}-2024_T1-{table}-prod-analytics.sql"


def walk_keys(value: object) -> list[str]:
    if isinstance(value, dict):
        return [key for key, inner in value.items() for key in [key, *walk_keys(inner)]]
    if isinstance(value, list):
        return [key for inner in value for key in walk_keys(inner)]
    return []


def files_by_name(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
