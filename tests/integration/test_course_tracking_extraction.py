"""The per-course extraction engine against the real local MongoDB server: selection, increments, reruns, crashes.

The master events are built by hand in the shape ``tracking_logs_master_load`` stores them
(``_id`` "<file>:<line>", ``time`` and ``loaded_at`` UTC datetimes, ``course_id`` as written in the
event), in a fresh master database per test; each test's course has its own id, hence its own
database, dropped afterwards.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.core.accounting import COMPLETE, FAILED
from analytics.edx.course_configs import CourseConfig, parse_course_config
from analytics.edx.course_structure import flatten_course_structure
from analytics.edx.extraction import (
    STATUS_COLLECTION,
    STATUS_ID,
    TRACKING_COLLECTION,
    ExtractionSummary,
    extract_course,
)
from analytics.stores.mongo import RUN_FIELD, MongoBatchWriter

ORG = "TrackX"
RUN = "2024_T1"
ENROLLMENT, COMPLETION = "2024-03-01", "2024-03-05"
LOADED = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)  # when the loader stamped the first files


class Course:
    """One test course: its ids in both styles, its block keys, its database."""

    def __init__(self, mongo_client: Any) -> None:
        self.code = f"T{uuid.uuid4().hex[:8]}"
        self.course_id = f"course-v1:{ORG}+{self.code}+{RUN}"
        self.old_id = f"{ORG}/{self.code}/{RUN}"
        self.database = mongo_client[f"{ORG}_{self.code}_{RUN}"]

    def key(self, category: str, block_id: str) -> str:
        return f"block-v1:{ORG}+{self.code}+{RUN}+type@{category}+block@{block_id}"

    def courseware(self, path: str) -> str:
        return f"https://courses.example.org/courses/{self.course_id}/courseware/{path}"


@pytest.fixture
def course(mongo_client) -> Iterator[Course]:
    course = Course(mongo_client)
    mongo_client.drop_database(course.database.name)
    yield course
    mongo_client.drop_database(course.database.name)


@pytest.fixture
def master(mongo_database):
    """A fresh master collection with the loader's indexes."""
    collection = mongo_database["tracking"]
    for keys in ([("course_id", 1), ("time", 1)], "time", "event_type", "username", "loaded_at"):
        collection.create_index(keys)
    return collection


def write_structure(course: Course) -> None:
    """course > chapter week1 > sequential lesson1 > [unit1 > problem1, unit2 > video1]."""

    def block(category: str, children: list[str] = (), name: str | None = None) -> dict:
        return {
            "category": category,
            "children": list(children),
            "metadata": {"display_name": name or category},
        }

    key = course.key
    structure = {
        key("course", "course"): block("course", [key("chapter", "week1")], "Tracking course"),
        key("chapter", "week1"): block("chapter", [key("sequential", "lesson1")], "Week 1"),
        key("sequential", "lesson1"): block(
            "sequential", [key("vertical", "unit1"), key("vertical", "unit2")], "Lesson 1"
        ),
        key("vertical", "unit1"): block("vertical", [key("problem", "problem1")], "Unit 1"),
        key("vertical", "unit2"): block("vertical", [key("video", "video1")], "Unit 2"),
        key("problem", "problem1"): block("problem", [], "Problem 1"),
        key("video", "video1"): block("video", [], "Video 1"),
    }
    course.database["course_structure"].insert_many(
        flatten_course_structure(structure, "structure.json").blocks
    )


def write_config(tmp_path: Path, course: Course, **changes: Any) -> CourseConfig:
    raw = {
        "edx_id": course.code.lower(),
        "edx_course_name": "Tracking course",
        "course_ids": [course.course_id],
        "date_of_course_enrollment": ENROLLMENT,
        "date_of_course_completion": COMPLETION,
        **changes,
    }
    path = tmp_path / f"{course.code}-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return parse_course_config(path)


def event(
    line: int,
    course_id: str | None,
    time: datetime,
    loaded_at: datetime = LOADED,
    *,
    file: str = "tracking.log-20240306.gz",
    **fields: Any,
) -> dict[str, Any]:
    """One master document, as the loader stores it."""
    document = {
        "_id": f"{file}:{line}",
        "username": f"user{line % 5}",
        "event_type": "page_close",
        "event_source": "browser",
        "page": None,
        "referer": None,
        "context": {"course_id": course_id or "", "user_id": line % 5, "path": "/event"},
        "event": {},
        "time": time,
        "time_raw": time.isoformat(),
        "course_id": course_id,
        "course_id_source": "context" if course_id else None,
        "load_file": file,
        "load_line": line,
        "loaded_at": loaded_at,
    }
    document.update(fields)
    return document


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, millisecond: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, millisecond * 1000, tzinfo=UTC)


def extract(mongo_client, master, config: CourseConfig, **options: Any) -> ExtractionSummary:
    options = {"batch_size": 3, "progress_every_seconds": 0, **options}
    return extract_course(mongo_client, config, master_database=master.database.name, **options)


def course_events(course: Course) -> dict[str, dict]:
    """The course's extracted events by _id, without the replacement's run stamp."""
    return {
        document["_id"]: {name: value for name, value in document.items() if name != RUN_FIELD}
        for document in course.database[TRACKING_COLLECTION].find({})
    }


def status(course: Course) -> dict:
    return course.database[STATUS_COLLECTION].find_one({"_id": STATUS_ID})


def as_stored(document: dict) -> dict:
    """A document as MongoDB gives it back: datetimes naive UTC, to the millisecond."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            value = value.astimezone(UTC).replace(tzinfo=None)
            return value.replace(microsecond=value.microsecond // 1000 * 1000)
        if isinstance(value, dict):
            return {name: convert(item) for name, item in value.items()}
        return value

    return convert(document)


# --- selection -------------------------------------------------------------------------------------


def test_the_window_holds_the_completion_day_whole_and_both_id_styles(
    tmp_path, mongo_client, master, course
) -> None:
    config = write_config(tmp_path, course)
    master.insert_many(
        [
            event(1, course.course_id, at(1, 0, 0, 0)),  # the first instant of enrollment day
            event(2, course.old_id, at(3)),  # old style id
            event(3, course.course_id, at(5, 23, 59, 59, 999)),  # the last millisecond of completion day
            event(4, course.course_id, at(6, 0, 0, 0)),  # the day after: out
            event(
                5, course.course_id, datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)
            ),  # the day before
            event(6, f"course-v1:{ORG}+{course.code}+2023_T1", at(3)),  # another run, not listed
            event(7, f"ccx-v1:{ORG}+{course.code}+{RUN}+ccx@3", at(3)),  # a CCX of the course: its own run
            event(8, None, at(3)),  # no course id
            event(9, f"course-v1:{ORG}+OTHER+{RUN}", at(3)),
        ]
    )

    summary = extract(mongo_client, master, config)

    assert sorted(course_events(course)) == [f"tracking.log-20240306.gz:{line}" for line in (1, 2, 3)]
    assert summary.selected == summary.written == 3 and summary.state == COMPLETE
    assert summary.mode == "incremental" and summary.since is None  # no success before: every event


def test_several_course_ids_in_both_styles_are_selected(tmp_path, mongo_client, master, course) -> None:
    rerun = f"{ORG}/{course.code}/2024_T2"
    config = write_config(tmp_path, course, course_ids=[course.course_id, rerun])
    master.insert_many(
        [
            event(1, course.old_id, at(2)),
            event(2, f"course-v1:{ORG}+{course.code}+2024_T2", at(2)),  # the second id, in the other style
            event(3, rerun, at(2)),
            event(4, f"course-v1:{ORG}+{course.code}+2024_T3", at(2)),
        ]
    )

    extract(mongo_client, master, config)

    assert sorted(course_events(course)) == [f"tracking.log-20240306.gz:{line}" for line in (1, 2, 3)]


# --- enrichment ------------------------------------------------------------------------------------


def test_events_are_enriched_with_their_block_and_the_others_kept_unchanged(
    tmp_path, mongo_client, master, course
) -> None:
    write_structure(course)
    config = write_config(tmp_path, course)
    problem = course.key("problem", "problem1")
    documents = [
        event(
            1,
            course.course_id,
            at(2),
            context={"course_id": course.course_id, "module": {"usage_key": problem}},
        ),
        event(2, course.course_id, at(2), event_type="play_video", event={"id": "video1", "currentTime": 3}),
        event(3, course.old_id, at(2), page=course.courseware("week1/lesson1/1")),  # the unit at position 1
        event(4, course.course_id, at(2), event_type=f"/courses/{course.course_id}/courseware/week1/"),
        event(5, course.course_id, at(2), event_type="edx.course.enrollment.activated"),
        event(6, course.course_id, at(2), event_type="play_video", event="not JSON {"),
    ]
    master.insert_many(documents)

    summary = extract(mongo_client, master, config)

    extracted = course_events(course)
    assert summary.enriched == 4 and summary.not_enriched == 2 and summary.blocks == 7
    first = extracted["tracking.log-20240306.gz:1"]
    assert first["block"] == {
        "id": problem,
        "block_id": "problem1",
        "category": "problem",
        "display_name": "Problem 1",
    }
    assert first["parent_data"] == {
        "chapter_id": "week1",
        "chapter_display_name": "Week 1",
        "chapter_position": 0,
        "sequential_id": "lesson1",
        "sequential_display_name": "Lesson 1",
        "sequential_position": 0,
        "vertical_id": "unit1",
        "vertical_display_name": "Unit 1",
        "vertical_position": 0,
    }
    assert {name: first[name] for name in first if name not in ("block", "parent_data")} == as_stored(
        documents[0]
    )
    assert extracted["tracking.log-20240306.gz:2"]["block"]["id"] == course.key("video", "video1")
    assert extracted["tracking.log-20240306.gz:3"]["block"]["id"] == course.key("vertical", "unit1")
    assert extracted["tracking.log-20240306.gz:4"]["block"]["id"] == course.key("chapter", "week1")
    assert extracted["tracking.log-20240306.gz:5"] == as_stored(documents[4])  # unchanged, no block
    assert extracted["tracking.log-20240306.gz:6"] == as_stored(documents[5])
    assert status(course)["counts"] == {
        "selected": 6,
        "written": 6,
        "enriched": 4,
        "not_enriched": 2,
        "removed": 0,
    }


def test_without_a_course_structure_events_are_extracted_unenriched_with_a_warning(
    tmp_path, mongo_client, master, course, caplog
) -> None:
    config = write_config(tmp_path, course)
    master.insert_many([event(1, course.course_id, at(2), event={"id": "video1"})])
    caplog.set_level(logging.WARNING, logger="analytics.edx.extraction")

    summary = extract(mongo_client, master, config)

    assert summary.written == 1 and summary.enriched == 0 and summary.not_enriched == 1
    assert "block" not in course_events(course)["tracking.log-20240306.gz:1"]
    assert any("course_structure is empty" in record.getMessage() for record in caplog.records)


def test_the_indexes_of_the_course_tracking_collection(tmp_path, mongo_client, master, course) -> None:
    config = write_config(tmp_path, course)
    master.insert_many([event(1, course.course_id, at(2))])

    extract(mongo_client, master, config)

    keys = [info["key"] for info in course.database[TRACKING_COLLECTION].index_information().values()]
    for expected in (
        [("time", 1)],
        [("username", 1), ("time", 1)],
        [("event_type", 1)],
        [("block.block_id", 1)],
    ):
        assert expected in keys


# --- increments and reruns -------------------------------------------------------------------------


def test_incremental_runs_take_the_events_loaded_since_the_mark_minus_the_overlap(
    tmp_path, mongo_client, master, course
) -> None:
    config = write_config(tmp_path, course)
    loaded = {line: LOADED + timedelta(minutes=20 * line) for line in range(1, 6)}  # 20, 40, ... 100 minutes
    master.insert_many([event(line, course.course_id, at(2), loaded[line]) for line in range(1, 6)])
    first = extract(mongo_client, master, config)
    mark = loaded[5]
    assert first.mark == mark and status(course)["mark"] == mark.replace(tzinfo=None)

    master.insert_many(
        [
            # Stamped 30 minutes before the mark by a load that wrote it after the first extraction read.
            event(6, course.course_id, at(3), mark - timedelta(minutes=30)),
            event(7, course.course_id, at(3), mark + timedelta(hours=2)),  # a later load
            event(
                8, course.course_id, datetime(2024, 3, 7, tzinfo=UTC), mark + timedelta(hours=2)
            ),  # out of window
        ]
    )
    second = extract(mongo_client, master, config)

    assert second.since == mark - timedelta(hours=1) and second.mode == "incremental"
    # Read again: 2 to 5 (loaded in the hour before the mark, 2 exactly at its start), and the new 6 and 7; not 1.
    assert second.selected == 6
    assert sorted(course_events(course)) == [f"tracking.log-20240306.gz:{line}" for line in range(1, 8)]
    assert second.mark == mark + timedelta(hours=2) and status(course)["mark"] == second.mark.replace(
        tzinfo=None
    )

    # Beyond the overlap: an event stamped more than an hour before the mark is not read again
    # (that is what a full refresh is for).
    master.insert_many([event(9, course.course_id, at(4), LOADED + timedelta(minutes=10))])
    third = extract(mongo_client, master, config)
    assert (
        third.since == second.mark - timedelta(hours=1) and third.selected == 1
    )  # 7 (8 is out of the window)
    assert "tracking.log-20240306.gz:9" not in course_events(course)
    assert third.mark == second.mark  # nothing newer: the mark stays


def test_a_run_that_selects_nothing_keeps_the_mark(tmp_path, mongo_client, master, course) -> None:
    config = write_config(tmp_path, course)
    master.insert_many([event(1, course.course_id, at(2), LOADED)])
    extract(mongo_client, master, config)

    second = extract(mongo_client, master, config, overlap=timedelta(0))
    master.delete_many({})
    third = extract(mongo_client, master, config)

    assert second.selected == 1  # the event at the mark itself is read again (>=): harmless, an upsert
    assert (
        third.selected == 0 and third.mark == LOADED and status(course)["mark"] == LOADED.replace(tzinfo=None)
    )


def test_a_rerun_leaves_the_same_state(tmp_path, mongo_client, master, course) -> None:
    write_structure(course)
    config = write_config(tmp_path, course)
    master.insert_many(
        [
            event(line, course.course_id, at(2, line), event={"id": "video1"} if line % 2 else {})
            for line in range(1, 11)
        ]
    )
    first = extract(mongo_client, master, config)
    before, status_before = course_events(course), status(course)

    second = extract(mongo_client, master, config)

    assert course_events(course) == before and len(before) == 10
    assert course.database[TRACKING_COLLECTION].count_documents({}) == 10
    after = status(course)
    for name in ("state", "mark", "counts", "selection", "course_ids", "config_path"):
        assert after[name] == status_before[name], name
    assert (first.enriched, first.not_enriched) == (second.enriched, second.not_enriched) == (5, 5)


def test_a_full_refresh_removes_events_no_longer_selected_and_readers_never_see_fewer(
    tmp_path, mongo_client, master, course, monkeypatch
) -> None:
    write_structure(course)
    master.insert_many([event(line, course.course_id, at(1 + line % 5, line)) for line in range(1, 21)])
    extract(mongo_client, master, write_config(tmp_path, course))
    before = course_events(course)
    assert len(before) == 20

    seen: list[int] = []
    real_flush = MongoBatchWriter.flush

    def flush_and_count(self: MongoBatchWriter) -> None:
        writes = bool(self._batch) and self.collection.name == TRACKING_COLLECTION
        real_flush(self)
        if writes:  # what a reader sees after each batch written
            seen.append(course.database[TRACKING_COLLECTION].count_documents({}))

    monkeypatch.setattr(MongoBatchWriter, "flush", flush_and_count)
    shrunk = write_config(tmp_path, course, date_of_course_completion="2024-03-03")  # days 4 and 5 go
    summary = extract(mongo_client, master, shrunk, full_refresh=True)

    kept = sorted(key for key, document in before.items() if document["time"] < datetime(2024, 3, 4))
    assert sorted(course_events(course)) == kept and len(kept) == 12
    assert summary.mode == "full" and summary.removed == 8 and summary.written == 12
    assert len(seen) == 4 and all(count >= 20 for count in seen)  # every batch: nothing was missing yet
    assert all(RUN_FIELD in document for document in course.database[TRACKING_COLLECTION].find({}))


def test_a_changed_window_forces_a_full_refresh(tmp_path, mongo_client, master, course) -> None:
    master.insert_many([event(line, course.course_id, at(line)) for line in range(1, 6)])
    extract(mongo_client, master, write_config(tmp_path, course))

    summary = extract(
        mongo_client, master, write_config(tmp_path, course, date_of_course_enrollment="2024-03-02")
    )

    assert summary.mode == "full" and "changed" in summary.mode_reason
    assert sorted(course_events(course)) == [f"tracking.log-20240306.gz:{line}" for line in range(2, 6)]
    assert extract(
        mongo_client, master, write_config(tmp_path, course, date_of_course_enrollment="2024-03-02")
    ).mode == ("incremental")


def test_a_widened_window_takes_the_older_events_too(tmp_path, mongo_client, master, course) -> None:
    master.insert_many(
        [event(line, course.course_id, datetime(2024, 2, 20 + line, tzinfo=UTC)) for line in range(1, 6)]
    )
    extract(mongo_client, master, write_config(tmp_path, course))
    assert course_events(course) == {}

    summary = extract(
        mongo_client, master, write_config(tmp_path, course, date_of_course_enrollment="2024-02-01")
    )

    assert summary.mode == "full" and len(course_events(course)) == 5


# --- crashes ---------------------------------------------------------------------------------------


def crash_on_batch(monkeypatch, batch: int) -> None:
    """Make the course tracking writer's ``batch``-th flush fail, after the earlier ones were written."""
    real_flush = MongoBatchWriter.flush
    flushes = 0

    def failing_flush(self: MongoBatchWriter) -> None:
        nonlocal flushes
        if self.collection.name == TRACKING_COLLECTION and self._batch:
            flushes += 1
            if flushes == batch:
                self._batch, self._origins = [], []
                raise RuntimeError("worker lost")
        real_flush(self)

    monkeypatch.setattr(MongoBatchWriter, "flush", failing_flush)


def test_a_crash_halfway_then_a_rerun_gives_the_same_state_as_a_clean_run(
    tmp_path, mongo_client, master, course, monkeypatch
) -> None:
    write_structure(course)
    config = write_config(tmp_path, course)
    master.insert_many(
        [event(line, course.course_id, at(2, line), LOADED, event={"id": "video1"}) for line in (1, 2, 3)]
    )
    extract(mongo_client, master, config)
    mark = status(course)["mark"]
    later = LOADED + timedelta(hours=3)
    master.insert_many([event(line, course.course_id, at(3, line % 24), later) for line in range(4, 16)])

    # The clean run, for reference; then back to the state before it.
    clean = extract(mongo_client, master, config)
    expected, expected_status = course_events(course), status(course)
    course.database[TRACKING_COLLECTION].delete_many({"load_line": {"$gte": 4}})
    course.database[STATUS_COLLECTION].replace_one({"_id": STATUS_ID}, {**expected_status, "mark": mark})

    crash_on_batch(monkeypatch, 3)
    with pytest.raises(RuntimeError, match="worker lost"):
        extract(mongo_client, master, config)

    halfway = status(course)
    assert halfway["state"] == FAILED and "worker lost" in halfway["error"]
    assert halfway["mark"] == mark  # not advanced: the rerun selects the same events
    assert halfway["counts"]["written"] == 6  # two batches of 3 before the third failed
    assert 3 < course.database[TRACKING_COLLECTION].count_documents({}) < 15

    monkeypatch.undo()
    rerun = extract(mongo_client, master, config)

    assert course_events(course) == expected and len(expected) == 15
    final = status(course)
    assert final["state"] == COMPLETE and final["mark"] == expected_status["mark"] == later.replace(
        tzinfo=None
    )
    assert final["counts"] == expected_status["counts"] and rerun.as_dict()["written"] == clean.written


def test_a_crash_during_a_full_refresh_removes_nothing_and_the_next_run_finishes_it(
    tmp_path, mongo_client, master, course, monkeypatch
) -> None:
    master.insert_many([event(line, course.course_id, at(1 + line % 5, line)) for line in range(1, 16)])
    extract(mongo_client, master, write_config(tmp_path, course))
    before = course_events(course)

    crash_on_batch(monkeypatch, 2)
    with pytest.raises(RuntimeError, match="worker lost"):
        extract(mongo_client, master, write_config(tmp_path, course), full_refresh=True)
    assert sorted(course_events(course)) == sorted(before)  # nothing removed
    assert status(course)["state"] == FAILED

    monkeypatch.undo()
    shrunk = write_config(tmp_path, course, date_of_course_completion="2024-03-02")
    summary = extract(mongo_client, master, shrunk)  # not asked: the unfinished full refresh is resumed

    assert summary.mode == "full" and summary.removed == 9
    assert sorted(course_events(course)) == sorted(
        key for key, document in before.items() if document["time"] < datetime(2024, 3, 3)
    )


def test_the_run_after_a_failed_full_refresh_is_a_full_refresh_again(
    tmp_path, mongo_client, master, course, monkeypatch
) -> None:
    """A full refresh asked for to re-enrich every event (a new course structure) is finished by the next run."""
    config = write_config(tmp_path, course)
    master.insert_many(
        [
            event(line, course.course_id, at(2, line), LOADED + timedelta(hours=line), event={"id": "video1"})
            for line in range(1, 16)
        ]
    )
    assert extract(mongo_client, master, config).enriched == 0  # no course structure yet
    write_structure(course)

    crash_on_batch(monkeypatch, 2)
    with pytest.raises(RuntimeError, match="worker lost"):
        extract(mongo_client, master, config, full_refresh=True)
    monkeypatch.undo()
    summary = extract(mongo_client, master, config)  # a plain run, as the next schedule's would be

    assert summary.mode == "full" and summary.mode_reason == "the last full refresh did not complete"
    assert summary.enriched == 15 and all("block" in document for document in course_events(course).values())
    assert extract(mongo_client, master, config).mode == "incremental"


def test_real_tracking_logs_through_the_master_load_then_extracted_and_enriched(
    tmp_path, samples_dir, mongo_client, mongo_database
) -> None:
    """The real sample logs, loaded by ``load_tracking_file``, extracted with the real DemoX structure.

    The course number is made unique (``DemoX`` -> ``DemoX<hex>`` everywhere in the copies) so
    that the test has a database of its own; nothing else in the files changes.
    """
    from collections import Counter

    from analytics.edx.tracking_files import TrackingFile
    from analytics.edx.tracking_load import ensure_master_indexes, load_tracking_file

    code = f"DemoX{uuid.uuid4().hex[:6]}"
    pipeline = samples_dir / "edx-analytics-pipeline"
    logs = ["module_engagement_acceptance_tracking_20150413.log", "video_timeline.log"]
    for name in logs:
        (tmp_path / name).write_text(
            (pipeline / "tracking_logs" / name).read_text("utf-8").replace("DemoX", code)
        )
    ensure_master_indexes(mongo_database)
    for name in logs:
        assert (
            load_tracking_file(mongo_database, TrackingFile.at(tmp_path / name), errors_dir=tmp_path).status
            == COMPLETE
        )
    structure = json.loads(
        (pipeline / "course_blocks" / "demo_course_blocks.json").read_text("utf-8").replace("DemoX", code)
    )
    database = mongo_client[f"edX_{code}_Demo_Course"]
    try:
        database["course_structure"].insert_many(
            flatten_course_structure(structure, "demo_course_blocks.json").blocks
        )
        config = CourseConfig(
            path=tmp_path / "demo.json",
            edx_id="demo",
            edx_course_name="Demo",
            course_ids=(f"edX/{code}/Demo_Course",),
            date_of_course_enrollment=datetime(2014, 5, 2).date(),  # video_timeline.log's day
            date_of_course_completion=datetime(2015, 4, 13).date(),  # the engagement log's day
        )

        summary = extract_course(mongo_client, config, master_database=mongo_database.name)

        in_the_files = sum(
            (tmp_path / name).read_text("utf-8").count(f'"course_id": "edX/{code}/Demo_Course"')
            for name in logs
        )
        assert (
            summary.selected == summary.written == in_the_files == 39
        )  # 25 + 14; not Demo_Course_2 or _2015
        blocks = Counter(
            document.get("block", {}).get("block_id") for document in database["tracking"].find({})
        )
        # jump_to and courseware/.../1: the unit; the other courseware pages and the video events on
        # them: the sequential; handler URLs of videos the structure lacks, the other pages: none.
        assert blocks == {"vertical_0270f6de40fc": 2, "edx_introduction": 15, None: 22}
        assert (summary.enriched, summary.not_enriched) == (17, 22)
    finally:
        mongo_client.drop_database(database.name)


# --- the status document and the summary -----------------------------------------------------------


def test_the_status_document_says_what_the_last_extraction_did(
    tmp_path, mongo_client, master, course
) -> None:
    config = write_config(tmp_path, course)
    master.insert_many(
        [event(1, course.course_id, at(2)), event(2, course.old_id, at(3), LOADED + timedelta(seconds=1))]
    )

    summary = extract(mongo_client, master, config)

    document = status(course)
    assert document["state"] == COMPLETE and document["error"] is None
    assert document["config_path"] == str(config.path) and document["course_ids"] == [course.course_id]
    assert document["mark"] == (LOADED + timedelta(seconds=1)).replace(tzinfo=None)
    assert document["started_at"] <= document["finished_at"] == document["last_success_at"]
    assert document["loaded"] == {"tracking": 2}
    assert summary.as_dict() == {
        "edx_id": course.code.lower(),
        "database": course.database.name,
        "course_ids": [course.course_id],
        "course_id_forms": [course.course_id, course.old_id],
        "window": ["2024-03-01T00:00:00+00:00", "2024-03-06T00:00:00+00:00"],
        "mode": "incremental",
        "mode_reason": "no successful extraction before: every event",
        "selected": 2,
        "written": 2,
        "enriched": 0,
        "not_enriched": 2,
        "removed": 0,
        "blocks": 0,
        "since": None,
        "mark": "2024-03-10T12:00:01+00:00",
        "state": "complete",
    }
    json.dumps(summary.as_dict())  # an XCom
