"""Tests of scripts/generate_demo_data.py: determinism, edX file names and formats, and that
manifest.json accounts for every row, block, event and broken line written."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from scripts import generate_demo_data

ROOT = Path(__file__).resolve().parents[2]
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
    arguments = ["--seed", str(seed), "--courses", "2", "--days", str(days)]
    arguments += ["--events-per-day", str(events_per_day), "--out", str(out)]
    assert generate_demo_data.main(arguments) == 0
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def manifest(demo: Path) -> dict:
    return json.loads((demo / "manifest.json").read_text())


@pytest.fixture(scope="module")
def tracking_lines(demo: Path) -> dict[str, list[bytes]]:
    """The raw lines of each day's tracking file, by day."""
    lines = {}
    for day in DAYS:
        with gzip.open(demo / "tracking" / f"{ORG}-edx-events-{day}.log.gz", "rb") as log:
            lines[day] = log.read().splitlines(keepends=True)
    return lines


@pytest.fixture(scope="module")
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


# -- determinism -----------------------------------------------------------------------------


def files_by_name(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_same_seed_gives_byte_identical_files(demo: Path, tmp_path: Path) -> None:
    again = files_by_name(generate(tmp_path / "again"))
    first = files_by_name(demo)
    assert sorted(again) == sorted(first)
    assert [name for name in first if first[name] != again[name]] == []


def test_another_seed_gives_other_files(demo: Path, tmp_path: Path) -> None:
    other = files_by_name(generate(tmp_path / "other", seed=8))
    first = files_by_name(demo)
    assert sorted(other) == sorted(first)
    different = [name for name in first if first[name] != other[name]]
    assert all(
        name in different
        for name in first
        if name.endswith((".gz", ".mongo", "auth_user-prod-analytics.sql"))
    )


def test_gzip_header_has_no_time_and_no_file_name(demo: Path) -> None:
    header = (demo / "tracking" / f"{ORG}-edx-events-{DAYS[0]}.log.gz").read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] & 0x08 == 0, "FNAME flag set"
    assert header[4:8] == b"\0\0\0\0", "mtime is not 0"


# -- layout ----------------------------------------------------------------------------------


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


# -- research data package -------------------------------------------------------------------


@pytest.mark.parametrize("code", COURSE_CODES)
@pytest.mark.parametrize("table", PACKAGE_TABLES)
def test_sql_tables_have_header_consistent_fields_and_manifest_counts(
    demo: Path, manifest: dict, code: str, table: str
) -> None:
    header, rows = read_tsv(package_file(demo, code, table))
    assert header == list(generate_demo_data.TABLE_HEADERS[table])
    assert rows, "no rows"
    assert {len(row) for row in rows} == {len(header)}
    course_id = f"course-v1:{ORG}+{code}+2024_T1"
    assert manifest["courses"][course_id]["tables"][table]["rows"] == len(rows)


@pytest.mark.parametrize("table", [table for table in PACKAGE_TABLES if table != "user_id_map"])
def test_sql_headers_are_the_real_edx_headers(demo: Path, table: str) -> None:
    sample = PIPELINE_SAMPLES / "obfuscation_state" / f"edX-DemoX-Demo_Course-{table}-acceptance.sql"
    if not sample.exists():
        pytest.fail(MISSING_SAMPLES)
    assert read_tsv(package_file(demo, "DATA101x", table))[0] == sample.read_text().splitlines()[0].split(
        "\t"
    )


def test_user_id_map_header(demo: Path) -> None:
    assert read_tsv(package_file(demo, "DATA101x", "user_id_map"))[0] == ["hash_id", "id", "username"]


@pytest.mark.parametrize(
    "table", ["auth_user", "auth_userprofile", "courseware_studentmodule", "wiki_article"]
)
def test_sql_tables_hold_null_literals(demo: Path, table: str) -> None:
    _, rows = read_tsv(package_file(demo, "DATA101x", table))
    assert any("NULL" in row for row in rows)


def test_sql_values_are_mysql_escaped(demo: Path) -> None:
    header, rows = read_tsv(package_file(demo, "DATA101x", "auth_userprofile"))
    values = [mysql_unescape(field) for row in rows for field in row]
    assert any(value and "\n" in value for value in values), "no escaped newline"
    assert any(value and "\t" in value for value in values), "no escaped tab"
    assert any(value and "\\" in value for value in values), "no escaped backslash"
    names = [mysql_unescape(row[header.index("name")]) for row in rows]
    assert any(name and not name.isascii() for name in names), "names should include non-ASCII letters"


def test_studentmodule_state_is_json_after_unescaping(demo: Path) -> None:
    for code in COURSE_CODES:
        header, rows = read_tsv(package_file(demo, code, "courseware_studentmodule"))
        states = [json.loads(mysql_unescape(row[header.index("state")]) or "") for row in rows]
        assert all(isinstance(state, dict) for state in states)
        answers = [answer for state in states for answer in state.get("student_answers", {}).values()]
        nested = [
            json.loads(answer) for answer in answers if isinstance(answer, str) and answer.startswith("{")
        ]
        assert nested and all("state" in answer for answer in nested), "no JSON answer nested in state"
        assert {row[header.index("module_type")] for row in rows} >= {
            "problem",
            "video",
            "sequential",
            "chapter",
        }


def test_unescaping_reads_the_real_studentmodule_sample(demo: Path) -> None:
    sample = (
        PIPELINE_SAMPLES
        / "obfuscation_state"
        / "edX-DemoX-Demo_Course-courseware_studentmodule-acceptance.sql"
    )
    if not sample.exists():
        pytest.fail(MISSING_SAMPLES)
    header, rows = read_tsv(sample)
    assert all(isinstance(json.loads(mysql_unescape(row[header.index("state")]) or ""), dict) for row in rows)


def test_some_users_are_enrolled_in_several_courses(demo: Path, manifest: dict) -> None:
    users = [
        {row[1] for row in read_tsv(package_file(demo, code, "user_id_map"))[1]} for code in COURSE_CODES
    ]
    assert users[0] & users[1]
    assert manifest["totals"]["users_in_several_courses"] == len(users[0] & users[1])


def test_course_structure_has_the_edx_hierarchy(demo: Path, manifest: dict) -> None:
    for code, course_id in zip(COURSE_CODES, COURSE_IDS, strict=True):
        path = demo / "package" / f"{ORG}-{code}-2024_T1-course_structure-prod-analytics.json"
        structure = json.loads(path.read_text())
        key_pattern = re.compile(rf"^block-v1:{ORG}\+{code}\+2024_T1\+type@[a-z_]+\+block@[0-9a-z]+$")
        assert all(key_pattern.match(key) for key in structure)
        for key, block in structure.items():
            assert set(block) == {"category", "children", "metadata"}
            assert "display_name" in block["metadata"]
            assert f"type@{block['category']}+" in key
            assert all(child in structure for child in block["children"])
        categories = Counter(block["category"] for block in structure.values())
        assert categories["course"] == 1
        for special in ("conditional", "wrapper"):
            blocks = [block for block in structure.values() if block["category"] == special]
            assert blocks and all(block["children"] for block in blocks)
        assert has_chain(structure, ["course", "chapter", "sequential", "vertical", "problem"])
        assert has_chain(structure, ["course", "chapter", "sequential", "vertical", "video"])
        assert has_chain(structure, ["course", "chapter", "sequential", "vertical", "html"])
        parents = {child: block["category"] for block in structure.values() for child in block["children"]}
        assert {
            parents[key]
            for key, block in structure.items()
            if block["category"] in ("conditional", "wrapper")
        } <= {
            "vertical",
            "sequential",
        }
        entry = manifest["courses"][course_id]["course_structure"]
        assert entry["blocks"] == len(structure)
        assert entry["blocks_by_category"] == dict(sorted(categories.items()))


def has_chain(structure: dict, categories: list[str]) -> bool:
    """Whether blocks of these categories are each a direct child of the one before."""
    level = [key for key, block in structure.items() if block["category"] == categories[0]]
    for category in categories[1:]:
        level = [
            child
            for key in level
            for child in structure[key]["children"]
            if structure[child]["category"] == category
        ]
    return bool(level)


def test_forum_dump_is_mongoexport_extended_json(demo: Path, manifest: dict) -> None:
    for code, course_id in zip(COURSE_CODES, COURSE_IDS, strict=True):
        lines = (
            (demo / "package" / f"{ORG}-{code}-2024_T1-prod.mongo").read_text(encoding="utf-8").splitlines()
        )
        documents = [json.loads(line) for line in lines]
        threads = {doc["_id"]["$oid"] for doc in documents if doc["_type"] == "CommentThread"}
        comments = [doc for doc in documents if doc["_type"] == "Comment"]
        assert threads and comments
        for document in documents:
            assert re.fullmatch(r"[0-9a-f]{24}", document["_id"]["$oid"])
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document["created_at"]["$date"])
            assert document["course_id"] == course_id
            assert {"author_id", "author_username", "body", "votes", "updated_at"} <= document.keys()
        assert all(comment["comment_thread_id"]["$oid"] in threads for comment in comments)
        forum = manifest["courses"][course_id]["forum"]
        assert forum["documents"] == len(documents)
        assert forum["threads"] == len(threads)
        assert forum["responses"] + forum["comments"] == len(comments)


def test_forum_dump_keys_match_the_real_sample(demo: Path) -> None:
    sample = PIPELINE_SAMPLES / "obfuscation_state" / "edX-DemoX-Demo_Course-acceptance.mongo"
    if not sample.exists():
        pytest.fail(MISSING_SAMPLES)
    real = [json.loads(line) for line in sample.read_text().splitlines()]
    ours = [
        json.loads(line)
        for line in (demo / "package" / f"{ORG}-DATA101x-2024_T1-prod.mongo").read_text().splitlines()
    ]
    real_reply, ours_reply = (
        next(doc for doc in docs if "parent_id" in doc and doc["_type"] == "Comment") for docs in (real, ours)
    )
    assert set(real_reply) <= set(ours_reply)


# -- course configs --------------------------------------------------------------------------


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


# -- tracking logs ---------------------------------------------------------------------------


def test_every_tracking_line_is_an_event_or_an_intended_broken_line(
    tracking_lines: dict[str, list[bytes]], manifest: dict
) -> None:
    for day, lines in tracking_lines.items():
        kinds = Counter(kind for kind, _ in map(classify_line, lines))
        entry = manifest["days"][day]
        assert kinds["event"] == entry["events"] == EVENTS_PER_DAY
        assert kinds["truncated_json"] == entry["broken_lines"]["truncated_json"] >= 1
        assert kinds["invalid_utf8"] == entry["broken_lines"]["invalid_utf8"] >= 1
        assert len(lines) == entry["lines"]
        assert all(line.endswith(b"\n") for line in lines)


def test_events_are_in_time_order_inside_their_day(tracking_lines: dict[str, list[bytes]]) -> None:
    for day, lines in tracking_lines.items():
        times = [event["time"] for kind, event in map(classify_line, lines) if kind == "event"]
        assert all(time.endswith("+00:00") for time in times)
        moments = [datetime.fromisoformat(time) for time in times]
        assert moments == sorted(moments)
        start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
        assert start <= moments[0] and moments[-1] < start + timedelta(days=1)


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


def test_events_cover_the_expected_types(events: list[dict]) -> None:
    types = Counter(event["event_type"] for event in events)
    expected = {*VIDEO_EVENT_TYPES, "seq_goto", "seq_next", "problem_check", "edx.forum.thread.created"}
    expected |= {
        "edx.forum.comment.created",
        "edx.course.enrollment.activated",
        "edx.course.enrollment.deactivated",
    }
    assert expected <= set(types)
    assert any(event_type.startswith("/courses/course-v1:") for event_type in types), "no page views"
    assert any(event["event_source"] == "server" and isinstance(event["event"], dict) for event in events)
    server_checks = [
        event
        for event in events
        if event["event_type"] == "problem_check" and event["event_source"] == "server"
    ]
    assert server_checks and all(isinstance(event["event"], dict) for event in server_checks)


def test_browser_video_events_carry_positions_in_a_json_string(events: list[dict]) -> None:
    videos = [
        event
        for event in events
        if event["event_source"] == "browser" and event["event_type"] in VIDEO_EVENT_TYPES
    ]
    seen = set()
    for event in videos:
        assert isinstance(event["event"], str)
        details = json.loads(event["event"])
        seen.add(event["event_type"])
        if event["event_type"] == "seek_video":
            assert details["old_time"] >= 0 and details["new_time"] >= 0
        elif event["event_type"] != "load_video":
            assert 0 <= details["currentTime"] <= details["duration"]
        assert event["context"]["course_id"] in COURSE_IDS
    assert seen == set(VIDEO_EVENT_TYPES)


def test_some_events_have_the_course_only_in_the_page_url(events: list[dict], manifest: dict) -> None:
    url_pattern = re.compile(r"https://courses\.example\.org/courses/(course-v1:[^/]+)/courseware/")
    courseless = [event for event in events if event["context"].get("course_id") == ""]
    in_url = [
        event for event in courseless if url_pattern.search(event["page"] or event.get("referer") or "")
    ]
    assert in_url
    assert {url_pattern.search(event["page"] or event["referer"]).group(1) for event in in_url} <= set(
        COURSE_IDS
    )
    assert len(in_url) == sum(day["events_with_course_only_in_url"] for day in manifest["days"].values())


def test_open_assessment_events_have_dotted_and_dollar_keys(events: list[dict]) -> None:
    assessments = [event for event in events if event["event_type"].startswith("openassessmentblock.")]
    keys = [key for event in assessments for key in walk_keys(event["event"])]
    assert any("." in key for key in keys)
    assert any(key.startswith("$") for key in keys)


def test_scheduled_events_match_package_rows(demo: Path, events: list[dict]) -> None:
    """Enrollment activations in the logs are the package's enrollments, to the second, and forum
    creation events carry the ids of documents in the mongo dump."""
    enrollments = {}
    documents = {}
    for code in COURSE_CODES:
        header, rows = read_tsv(package_file(demo, code, "student_courseenrollment"))
        for row in rows:
            enrollments[(row[header.index("user_id")], row[header.index("course_id")])] = row[
                header.index("created")
            ]
        for line in (demo / "package" / f"{ORG}-{code}-2024_T1-prod.mongo").read_text().splitlines():
            document = json.loads(line)
            documents[document["_id"]["$oid"]] = document
    activations = [event for event in events if event["event_type"] == "edx.course.enrollment.activated"]
    for event in activations:
        created = enrollments[(str(event["event"]["user_id"]), event["event"]["course_id"])]
        assert event["time"][:19].replace("T", " ") == created
    forum = [event for event in events if event["event_type"].startswith("edx.forum.")]
    assert forum
    for event in forum:
        document = documents[event["event"]["id"]]
        assert document["author_username"] == event["username"]
        assert document["created_at"]["$date"][:23] == event["time"][:23]


def test_event_key_sets_include_those_of_real_edx_events(events: list[dict]) -> None:
    """Each of our events has at least the top-level and context keys of a real event of its type."""
    real_logs = [
        PIPELINE_SAMPLES / "tracking_logs" / "module_engagement_acceptance_tracking_20150413.log",
        PIPELINE_SAMPLES / "tracking_logs" / "obfuscation_tracking.log",
        PIPELINE_SAMPLES / "tracking_logs" / "student_forum_activity.log",
        SAMPLES / "edx-documentation" / "sample_event_problem_check.log",
    ]
    if not all(path.exists() for path in real_logs):
        pytest.fail(MISSING_SAMPLES)
    real_events = [
        json.loads(line)
        for path in real_logs
        for line in path.read_text().splitlines()
        if line.startswith("{")
    ]

    def signature(event: dict) -> tuple[str, str]:
        is_page_view = event["event_type"].startswith("/courses/")
        return event["event_source"], "page_view" if is_page_view else event["event_type"]

    ours_by_signature: dict[tuple[str, str], list[dict]] = {}
    for event in events:
        ours_by_signature.setdefault(signature(event), []).append(event)
    compared = set()
    for real in real_events:
        ours = ours_by_signature.get(signature(real))
        if not ours or (signature(real)[1] == "page_view" and not real["context"].get("course_id")):
            continue
        compared.add(signature(real))
        assert all(set(real) <= set(event) for event in ours), (signature(real), set(real) - set(ours[0]))
        assert all(set(real["context"]) <= set(event["context"]) for event in ours), signature(real)
        if isinstance(real["event"], dict):
            assert set(real["event"]) - {"group_id"} <= set(ours[0]["event"]), signature(real)
    assert {
        ("server", "page_view"),
        ("browser", "play_video"),
        ("browser", "pause_video"),
        ("browser", "load_video"),
        ("server", "problem_check"),
        ("server", "edx.forum.thread.created"),
        ("server", "edx.forum.comment.created"),
    } <= compared


# -- edge cases ------------------------------------------------------------------------------


def test_tiny_and_empty_days_are_accounted_for(tmp_path: Path) -> None:
    for events_per_day in (0, 5):
        out = generate(tmp_path / str(events_per_day), events_per_day=events_per_day, days=1)
        manifest = json.loads((out / "manifest.json").read_text())
        with gzip.open(out / "tracking" / f"{ORG}-edx-events-{DAYS[0]}.log.gz", "rb") as log:
            kinds = Counter(kind for kind, _ in map(classify_line, log.read().splitlines(keepends=True)))
        entry = manifest["days"][DAYS[0]]
        assert kinds["event"] == entry["events"] == events_per_day
        assert sum(kinds.values()) == entry["lines"]


@pytest.mark.parametrize(
    "arguments",
    [
        ["--courses", "0"],
        ["--days", "0"],
        ["--events-per-day", "-1"],
        ["--start-date", "2024-13-01"],
        ["--org", "a+b"],
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, arguments: list[str]) -> None:
    base = {"--seed": "1", "--courses": "1", "--days": "1", "--events-per-day": "10", "--out": str(tmp_path)}
    base.update(dict(zip(arguments[::2], arguments[1::2], strict=True)))
    with pytest.raises(SystemExit):
        generate_demo_data.main([item for pair in base.items() for item in pair])
