"""The course KPIs engine against the real local MongoDB server (and moto S3): a hand-written course with
hand-computed expectations, staff exclusion, ranges, reruns, a crash halfway, bounded memory, contact
details, and the real ``video_timeline.log`` through the master load, the extraction and the KPIs.

The hand-written course is in :mod:`tests.course_kpis_data` (its docstring says who does what);
each test has its own course database and master database, dropped afterwards.
"""

from __future__ import annotations

import json
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics.core.accounting import COMPLETE, FAILED
from analytics.edx.course_configs import parse_course_config
from analytics.edx.course_kpis import CourseKpiSummary, compute_course_kpis
from analytics.edx.kpi_collections import (
    KPI_COLLECTIONS,
    LEARNERS,
    STATUS_COLLECTION,
    TIME_ON_TASK,
    VIDEO_SEGMENTS,
    VIDEOS,
    WEEKLY_ACTIVITY,
    status_id,
)
from analytics.edx.kpi_run import ReportTarget, run_course_kpis
from analytics.edx.kpi_settings import KpiSettings, load_kpi_settings, resolve_range
from analytics.edx.kpis.staff import INSTRUCTOR_PAGES, IS_STAFF, STUDIO, StaffRule
from analytics.stores.mongo import RUN_FIELD, MongoBatchWriter, SafeReplacement
from tests.course_kpis_data import (
    EMAILS,
    EXPECTED_LEARNERS,
    EXPECTED_SEGMENTS,
    EXPECTED_TIME_ON_TASK,
    EXPECTED_WEEKLY,
    NAMES,
    Events,
    KpiCourse,
    at,
    new_course,
    write_course,
)
from tests.samples import edx_sample

QUIET = KpiSettings(progress_every_seconds=3600)


@pytest.fixture
def course(mongo_client, mongo_database, tmp_path) -> Iterator[KpiCourse]:
    """A fresh hand-written course; ``mongo_database`` is its master (for the Studio event)."""
    course = new_course(mongo_client, tmp_path, mongo_database.name)
    write_course(course)
    yield course
    mongo_client.drop_database(course.database.name)


def compute(client, course: KpiCourse, settings: KpiSettings = QUIET, **options: Any) -> CourseKpiSummary:
    return compute_course_kpis(
        client, course.config, settings=settings, master_database=course.master.database.name, **options
    )


def documents(course: KpiCourse, name: str) -> dict[str, dict]:
    """A collection's documents by _id, without the run stamp."""
    return {
        document["_id"]: {key: value for key, value in document.items() if key != RUN_FIELD}
        for document in course.database[name].find({})
    }


def stamps(course: KpiCourse, name: str) -> dict[str, str]:
    return {document["_id"]: document[RUN_FIELD] for document in course.database[name].find({})}


def everything(course: KpiCourse) -> dict[str, dict[str, dict]]:
    return {name: documents(course, name) for name in KPI_COLLECTIONS}


def time_on_task(course: KpiCourse) -> dict[tuple[str, str], tuple]:
    return {
        (row["username"], row["day"]): (
            row["seconds"],
            row["seconds_by_category"],
            row["sessions"],
            row["events"],
        )
        for row in course.database[TIME_ON_TASK].find({})
    }


def weekly(course: KpiCourse) -> dict[tuple[str, str], int]:
    return {
        (row["interval_start"], row["label"]): row["count"]
        for row in course.database[WEEKLY_ACTIVITY].find({})
    }


def in_range(course: KpiCourse, name: str, from_date: str, to_date: str) -> list[dict]:
    return list(course.database[name].find({"from_date": from_date, "to_date": to_date}))


def learner_values(rows: list[dict]) -> dict[str, tuple]:
    return {
        row["username"]: (
            row["enrollment_mode"],
            row["enrollment_date"],
            row["days_active"],
            row["events"],
            row["videos_watched"],
            row["problems_attempted"],
            row["forum_posts"],
            row["time_on_task_seconds"],
            row["certificate_status"],
        )
        for row in rows
    }


WHOLE = ("2024-03-04", "2024-03-17")


def whole_course_status(course: KpiCourse) -> dict:
    return course.database[STATUS_COLLECTION].find_one(
        {"_id": status_id(course.config.edx_id, resolve_range(course.config, "", ""))}
    )


# --- the hand-written course ------------------------------------------------------------------------


def test_the_hand_written_course_gives_the_hand_computed_kpis(mongo_client, course) -> None:
    summary = compute(mongo_client, course)

    assert time_on_task(course) == EXPECTED_TIME_ON_TASK
    assert weekly(course) == EXPECTED_WEEKLY
    (video,) = in_range(course, VIDEOS, *WHOLE)
    # duration 60 from ada's play; users at start: segment 0 (ada, bob); at end: segment
    # floor(max(30, 57) / 5) = 11 (ada); (2 + 3 + 3 + 2 + 1 + 4 x 1) x 5 = 75 s viewed;
    # covered 38, 12 and 10 s of 60: mean 1/3, tenths 6, 2 and 1
    assert {
        key: video[key] for key in ("video_id", "block_id", "display_name", "duration", "duration_source")
    } == {
        "video_id": "v1",
        "block_id": "v1",
        "display_name": "Video 1",
        "duration": 60.0,
        "duration_source": "events",
    }
    assert (video["users_at_start"], video["users_at_end"], video["total_viewed_seconds"]) == (2, 1, 75)
    assert (video["unique_viewers"], video["viewings"]) == (3, 4)
    assert video["mean_share"] == pytest.approx(1 / 3)
    assert video["share_histogram"] == [0, 1, 1, 0, 0, 0, 1, 0, 0, 0]
    segments = {
        row["segment"]: (row["num_users"], row["num_views"])
        for row in in_range(course, VIDEO_SEGMENTS, *WHOLE)
    }
    assert segments == EXPECTED_SEGMENTS
    learners = in_range(course, LEARNERS, *WHOLE)
    assert learner_values(learners) == EXPECTED_LEARNERS
    ada = next(row for row in learners if row["username"] == "ada")
    assert (ada["first_event"], ada["last_event"]) == (datetime(2024, 3, 4, 10), datetime(2024, 3, 13, 0, 10))
    assert all(row["edx_id"] == course.config.edx_id for row in learners)

    # root by auth_user, prof by the instructor dashboard, designer by Studio (in the master only);
    # admin is a superuser but neither enrolled nor seen: not one of the course's learners
    assert (summary.staff_excluded, summary.learners_counted, summary.learners_with_events) == (3, 4, 3)
    assert {reason: count for reason, count in summary.staff_by_reason.items() if count} == {
        IS_STAFF: 1,
        INSTRUCTOR_PAGES: 1,
        STUDIO: 1,
    }
    assert summary.anonymous_events == 2 and summary.events_read == 28 and summary.staff_events == 8
    status = whole_course_status(course)
    assert status["state"] == COMPLETE and status["whole_course"] is True
    assert status["loaded"] == {
        TIME_ON_TASK: 5,
        WEEKLY_ACTIVITY: 8,
        VIDEOS: 1,
        VIDEO_SEGMENTS: 9,
        LEARNERS: 4,
    }
    assert status["staff_excluded"] == 3 and status["anonymous_events"] == 2
    assert status["session_timeout_minutes"] == 30
    assert status["video_drops"] == {"event ignored: pause, stop or seek outside a viewing": 1}


def test_staff_exclusion_is_configurable_and_without_it_staff_are_counted(mongo_client, course) -> None:
    nobody = StaffRule(staff_flags=False, instructor_pages=False, studio=False, course_roles=())
    summary = compute(mongo_client, course, KpiSettings(progress_every_seconds=3600, staff_rule=nobody))

    assert summary.staff_excluded == 0
    # root, prof and designer are learners now: week 1 has five active learners, and v1 three more viewers
    assert weekly(course)[("2024-03-04", "ACTIVE")] == 5
    assert sorted(row["username"] for row in in_range(course, LEARNERS, *WHOLE)) == [
        "ada",
        "bob",
        "carol",
        "designer",
        "dora",
        "prof",
        "root",
    ]
    (video,) = in_range(course, VIDEOS, *WHOLE)
    assert video["unique_viewers"] == 6

    only_listed = StaffRule(staff_flags=False, instructor_pages=False, studio=False, always_exclude=("ada",))
    summary = compute(mongo_client, course, KpiSettings(progress_every_seconds=3600, staff_rule=only_listed))
    assert summary.staff_excluded == 1 and summary.staff_by_reason["listed"] == 1
    assert "ada" not in {row["username"] for row in in_range(course, LEARNERS, *WHOLE)}
    assert not any(username == "ada" for username, _ in time_on_task(course))  # her rows are replaced away


def test_the_session_timeout_comes_from_the_settings(mongo_client, course, tmp_path) -> None:
    config = tmp_path / "course_kpis.json"
    config.write_text(json.dumps({"session_timeout_minutes": 10}), encoding="utf-8")
    settings = load_kpi_settings(config, progress_every_seconds=3600)
    assert settings.session_timeout == timedelta(minutes=10)
    assert load_kpi_settings(config, session_timeout_minutes=45).session_timeout_minutes == 45

    summary = compute(mongo_client, course, settings)

    rows = time_on_task(course)
    # ada's 20-minute gap across midnight is a session break at 10 minutes: nothing for the 12th,
    # and the 13th opens its own session
    assert rows[("ada", "2024-03-12")][0] == 0 and rows[("ada", "2024-03-13")][2] == 1
    # bob's 588 s after the pause is under 10 minutes: his day is unchanged
    assert rows[("bob", "2024-03-05")][0] == 720
    assert summary.session_timeout_minutes == 10


# --- reruns, ranges, crashes -------------------------------------------------------------------------


def test_a_rerun_gives_the_same_documents(mongo_client, course) -> None:
    compute(mongo_client, course)
    first = everything(course)
    first_stamps = stamps(course, LEARNERS)

    second = compute(mongo_client, course)

    assert everything(course) == first
    assert set(stamps(course, LEARNERS).values()) != set(first_stamps.values())  # rewritten, not skipped
    assert second.removed == dict.fromkeys(KPI_COLLECTIONS, 0)


def test_a_range_recompute_replaces_exactly_its_days_weeks_and_range_documents(mongo_client, course) -> None:
    compute(mongo_client, course)
    before = everything(course)
    before_stamps = {name: stamps(course, name) for name in KPI_COLLECTIONS}
    # the data changes: bob works on 12 March (10 minutes of courseware), dora's events of 11 March go
    more = Events(course)
    more.page("bob", at(12, 10), "courseware/week2/lesson1/")
    more.page("bob", at(12, 10, 10), "courseware/week2/lesson1/")
    more.page("eve", at(15, 10), "courseware/week2/lesson1/")  # in the week, not in the range
    for number, document in enumerate(more.documents):
        document["_id"] = f"later.log:{number}"
    course.database["tracking"].insert_many(more.documents)
    course.database["tracking"].delete_many({"username": "dora"})

    summary = compute(mongo_client, course, from_date="2024-03-12", to_date="2024-03-13")

    assert (summary.kpi_range.from_date.isoformat(), summary.kpi_range.whole_course) == ("2024-03-12", False)
    # time_on_task: the days 12 and 13 are rewritten (bob's new row); every other day is untouched,
    # dora's 11 March too (outside the range) though her events are gone
    rows = time_on_task(course)
    assert rows[("bob", "2024-03-12")][0] == 600
    assert rows[("ada", "2024-03-12")] == EXPECTED_TIME_ON_TASK[("ada", "2024-03-12")]
    assert (
        rows[("ada", "2024-03-13")] == EXPECTED_TIME_ON_TASK[("ada", "2024-03-13")]
    )  # 0 sessions: seen whole
    stamps_now = stamps(course, TIME_ON_TASK)
    for (username, day), _ in EXPECTED_TIME_ON_TASK.items():
        key = f"{course.config.edx_id}|{username}|{day}"
        changed = stamps_now[key] != before_stamps[TIME_ON_TASK][key]
        assert changed is (day in ("2024-03-12", "2024-03-13")), key
    # weekly_activity: the week of 11 March (the range widened to whole weeks) is recomputed
    counts = weekly(course)
    assert {label: counts[("2024-03-11", label)] for label in ("ACTIVE", "PLAYED_VIDEO", "POSTED_FORUM")} == {
        "ACTIVE": 3,  # ada, bob and eve (on the Friday: the week is whole); dora's events are gone
        "PLAYED_VIDEO": 0,
        "POSTED_FORUM": 0,
    }
    week_one = {key for key in before[WEEKLY_ACTIVITY] if "|2024-03-04|" in key}
    assert {key: stamps(course, WEEKLY_ACTIVITY)[key] for key in week_one} == {
        key: before_stamps[WEEKLY_ACTIVITY][key] for key in week_one
    }
    # the whole course's range documents are untouched; the range's are beside them
    for name in (VIDEOS, VIDEO_SEGMENTS, LEARNERS):
        whole = {
            key: document
            for key, document in documents(course, name).items()
            if document["from_date"] == WHOLE[0]
        }
        assert whole == before[name]
        assert {key: stamps(course, name)[key] for key in whole} == before_stamps[name]
    learners = learner_values(in_range(course, LEARNERS, "2024-03-12", "2024-03-13"))
    assert learners["ada"][2:4] == (2, 2) and learners["bob"][2:4] == (1, 2)
    # staff are decided from the range's events: prof's instructor pages are on 6 March, so in this
    # range he is a learner (enrolled, no event); root is excluded by his flag (README: known limit)
    assert sorted(learners) == ["ada", "bob", "carol", "prof"]  # not eve: no event in the range
    assert in_range(course, VIDEOS, "2024-03-12", "2024-03-13") == []  # no video in the range

    # the same range again replaces its own documents: nothing more, nothing less
    range_documents = {name: len(in_range(course, name, "2024-03-12", "2024-03-13")) for name in (LEARNERS,)}
    again = compute(mongo_client, course, from_date="2024-03-12", to_date="2024-03-13")
    assert {
        name: len(in_range(course, name, "2024-03-12", "2024-03-13")) for name in (LEARNERS,)
    } == range_documents
    assert again.removed[LEARNERS] == 0


def test_a_range_day_is_what_the_whole_course_gives_it(mongo_client, course) -> None:
    """Sessions across the range's edges are read whole: the day after a midnight session has 0 sessions,
    the day before gets the gap that crosses midnight."""
    for day in ("2024-03-12", "2024-03-13"):
        compute(mongo_client, course, from_date=day, to_date=day)
        key = ("ada", day)
        assert time_on_task(course)[key] == EXPECTED_TIME_ON_TASK[key]


class Crash(RuntimeError):
    pass


def test_a_crash_halfway_keeps_every_document_and_a_rerun_converges(
    mongo_client, course, monkeypatch
) -> None:
    settings = KpiSettings(progress_every_seconds=3600, batch_size=2)
    compute(mongo_client, course, settings)
    before = everything(course)
    course.database["tracking"].delete_many({"username": "dora"})  # so that the new state differs

    real = MongoBatchWriter._stamped_upsert
    calls = {"n": 0}

    def crashing(self, batch, origins):
        calls["n"] += 1
        if calls["n"] > 4:
            raise Crash("killed halfway")
        return real(self, batch, origins)

    monkeypatch.setattr(MongoBatchWriter, "_stamped_upsert", crashing)
    with pytest.raises(Crash):
        compute(mongo_client, course, settings)
    monkeypatch.setattr(MongoBatchWriter, "_stamped_upsert", real)

    after_crash = everything(course)
    for name in KPI_COLLECTIONS:  # nothing the readers had is gone (some documents are new versions)
        assert set(before[name]) <= set(after_crash[name]), name
    assert any(stamp for stamp in stamps(course, TIME_ON_TASK).values())
    status = whole_course_status(course)
    assert status["state"] == FAILED and "killed halfway" in status["error"]

    compute(mongo_client, course, settings)
    converged = everything(course)
    assert not any("dora" in key for key in converged[TIME_ON_TASK])
    compute(mongo_client, course, settings)  # a clean run over the same data
    assert everything(course) == converged


# --- memory -----------------------------------------------------------------------------------------


def generated_events(course: KpiCourse, learners: int, events_per_learner: int) -> Iterator[dict]:
    start = datetime(2024, 3, 4, 8, tzinfo=UTC)
    for learner in range(learners):
        for number in range(events_per_learner):
            when = start + timedelta(seconds=97 * number + learner)
            kind = number % 4
            payload: dict[str, Any] = {"id": f"v{number % 7}", "currentTime": (number % 50) * 3}
            yield {
                "_id": f"gen:{learner}:{number}",
                "username": f"learner{learner:04d}",
                "time": when,
                "event_type": ("play_video", "pause_video", "problem_check", "seq_goto")[kind],
                "event_source": "server" if kind == 2 else "browser",
                "event": payload if kind < 2 else {"problem_id": f"p{number % 11}", "padding": "x" * 200},
                "context": {"course_id": course.course_id, "path": "/event"},
                "page": f"https://courses.example.org/courses/{course.course_id}/courseware/c/s/1",
                "course_id": course.course_id,
            }


def test_memory_is_bounded_by_one_learner_not_by_the_course(mongo_client, mongo_database, tmp_path) -> None:
    course = new_course(mongo_client, tmp_path, mongo_database.name)
    try:
        learners, per_learner = 100, 500  # 50,000 events
        tracking = course.database["tracking"]
        batch: list[dict] = []
        for document in generated_events(course, learners, per_learner):
            batch.append(document)
            if len(batch) == 10_000:
                tracking.insert_many(batch)
                batch = []
        if batch:
            tracking.insert_many(batch)
        read = KpiSettings(progress_every_seconds=3600, studio_events_from_master=False)

        tracemalloc.start()
        everything_held = list(tracking.find({}, sort=[("username", 1), ("time", 1)]))
        held_bytes = tracemalloc.get_traced_memory()[0]
        largest_learner = [event for event in everything_held if event["username"] == "learner0000"]
        del everything_held
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        summary = compute_course_kpis(
            mongo_client, course.config, settings=read, master_database=mongo_database.name
        )
        peak = tracemalloc.get_traced_memory()[1] - baseline
        tracemalloc.stop()

        assert summary.events_read == learners * per_learner and summary.learners_counted == learners
        learner_bytes = held_bytes / learners  # one learner's events, held
        print(f"peak {peak:,} B; every event held {held_bytes:,} B; one learner {learner_bytes:,.0f} B")
        # the engine holds one learner and one cursor batch (1000 events, 2 learners' worth) and the
        # counters: far below the whole course, a few learners' worth at most
        assert peak < held_bytes / 8, (peak, held_bytes)
        assert peak < 10 * learner_bytes, (peak, learner_bytes)
        assert len(largest_learner) == per_learner
    finally:
        mongo_client.drop_database(course.database.name)


# --- contact details ---------------------------------------------------------------------------------


def every_stored_text(course: KpiCourse) -> str:
    names = (*KPI_COLLECTIONS, STATUS_COLLECTION)
    return json.dumps([list(course.database[name].find({})) for name in names], default=str)


def keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_anywhere(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_anywhere(item)}
    return set()


def test_contact_details_only_when_asked(mongo_client, course) -> None:
    compute(mongo_client, course)

    stored = [
        document
        for name in (*KPI_COLLECTIONS, STATUS_COLLECTION)
        for document in course.database[name].find({})
    ]
    assert not {"email", "name"} & keys_anywhere(stored)
    text = every_stored_text(course)
    assert not any(value in text for value in (*EMAILS, *NAMES))

    compute(mongo_client, course, include_contact_info=True)

    contacts = {row["username"]: (row["email"], row["name"]) for row in in_range(course, LEARNERS, *WHOLE)}
    assert contacts == {
        "ada": (EMAILS[0], NAMES[0]),
        "bob": (EMAILS[1], NAMES[1]),
        "carol": (EMAILS[2], NAMES[2]),
        "dora": (None, None),  # no user row
    }

    compute(mongo_client, course)  # and a run without them takes them away again
    assert not any(value in every_stored_text(course) for value in (*EMAILS, *NAMES))


# --- ranges ------------------------------------------------------------------------------------------


def test_ranges_default_to_the_course_and_bad_dates_name_the_param(course) -> None:
    whole = resolve_range(course.config, "", None)
    assert (whole.from_date.isoformat(), whole.to_date.isoformat(), whole.whole_course) == (*WHOLE, True)
    part = resolve_range(course.config, "2024-03-13", "")
    assert (part.from_date.isoformat(), part.to_date.isoformat(), part.whole_course) == (
        "2024-03-13",
        WHOLE[1],
        False,
    )
    # weeks: Wednesday 13 March -> Monday 11 to Sunday 17
    assert (part.first_week.isoformat(), part.last_week.isoformat()) == ("2024-03-11", "2024-03-11")
    with pytest.raises(ValueError, match="from_date: expected a date YYYY-MM-DD"):
        resolve_range(course.config, "13/03/2024", "")
    with pytest.raises(ValueError, match="before from_date"):
        resolve_range(course.config, "2024-03-13", "2024-03-12")


# --- the real log, through the whole chain -----------------------------------------------------------

TIMELINE_LOG = "edx-analytics-pipeline/tracking_logs/video_timeline.log"
DEMO_COURSE = "edX/DemoX/Demo_Course"
FIRST_VIDEO = "i4x-edX-DemoX-video-3cb54a11efae4ccc8a0aade24d14b255"
SECOND_VIDEO = "i4x-edX-DemoX-video-8c0028eb2a724f48a074bc184cd8635f"


def write_config(tmp_path, edx_id: str, course_id: str):
    path = tmp_path / f"{edx_id}.json"
    raw = {
        "edx_id": edx_id,
        "edx_course_name": edx_id,
        "course_ids": [course_id],
        "date_of_course_enrollment": "2014-05-01",
        "date_of_course_completion": "2014-05-31",
    }
    path.write_text(json.dumps(raw), encoding="utf-8")
    return parse_course_config(path)


def views(client, config, video: str) -> list[int]:
    found = {
        row["segment"]: row["num_views"]
        for row in client[config.database_name][VIDEO_SEGMENTS].find(
            {"video_id": video, "from_date": "2014-05-01"}
        )
    }
    return [found.get(segment, 0) for segment in range(5)]


def test_the_real_video_timeline_log_through_the_master_load_the_extraction_and_the_kpis(
    mongo_client, mongo_database, tmp_path
) -> None:
    from analytics.edx.extraction import extract_course
    from analytics.edx.tracking_files import TrackingFile
    from analytics.edx.tracking_load import TrackingSettings, load_tracking_file

    configs = {
        "demo": write_config(tmp_path, "demo", DEMO_COURSE),
        "test2014": write_config(tmp_path, "test2014", "course-v1:edX+DemoX+Test_2014"),
        "test2015": write_config(tmp_path, "test2015", "course-v1:edX+DemoX+Test_2015"),
    }
    for config in configs.values():
        mongo_client.drop_database(config.database_name)
    try:
        loaded = load_tracking_file(
            mongo_database,
            TrackingFile.at(edx_sample(TIMELINE_LOG)),
            errors_dir=tmp_path / "errors",
            settings=TrackingSettings(master_database=mongo_database.name),
        )
        assert (loaded.loaded, loaded.discarded_by_reason) == (18, {"comment line": 7, "blank line": 4})
        for config in configs.values():
            extract_course(
                mongo_client, config, master_database=mongo_database.name, progress_every_seconds=3600
            )

        def kpis(name: str, *excluded: str) -> CourseKpiSummary:
            rule = StaffRule(always_exclude=excluded)
            settings = KpiSettings(progress_every_seconds=3600, staff_rule=rule)
            return compute_course_kpis(
                mongo_client, configs[name], settings=settings, master_database=mongo_database.name
            )

        demo = configs["demo"]
        # "Seek backwards, seek forwards, pause in middle, pause at end. Expect to see five segments: 1,2,2,1,2"
        kpis("demo", "dummy_username_2", "dummy_username_3")
        assert views(mongo_client, demo, FIRST_VIDEO) == [1, 2, 2, 1, 2]
        # "Add a second user: (1,1,0,0,0)"
        kpis("demo", "dummy_username_3")
        assert views(mongo_client, demo, FIRST_VIDEO) == [2, 3, 2, 1, 2]
        # "Add a third user: (0,0,0,1,1)"
        summary = kpis("demo")
        assert views(mongo_client, demo, FIRST_VIDEO) == [2, 3, 2, 2, 3]
        assert summary.learners_counted == 3 and summary.staff_excluded == 0
        (first,) = mongo_client[demo.database_name][VIDEOS].find({"video_id": FIRST_VIDEO})
        assert (first["unique_viewers"], first["viewings"], first["total_viewed_seconds"]) == (3, 6, 60)
        # "Same course, but different module.": play 10 -> pause 20, segments 2..4
        assert views(mongo_client, demo, SECOND_VIDEO) == [0, 0, 1, 1, 1]
        # "Different course.": its video is not in this course, but in its own
        assert mongo_client[demo.database_name][VIDEOS].count_documents({}) == 2
        other = configs["test2014"]
        kpis("test2014")
        assert views(mongo_client, other, "0b9e39477cf34507a7a48f74be381fdd") == [1, 0, 0, 0, 0]
        # "events for video duration": the events say 444 seconds
        kpis("test2015")
        (timed,) = mongo_client[configs["test2015"].database_name][VIDEOS].find({})
        assert (timed["duration"], timed["duration_source"]) == (444.0, "events")
        assert (timed["users_at_start"], timed["users_at_end"]) == (1, 0)
        for name in configs:  # every viewing of the log is a clean one
            status = mongo_client[configs[name].database_name][STATUS_COLLECTION].find_one({})
            assert status["video_drops"] == {} and status["state"] == COMPLETE
    finally:
        for config in configs.values():
            mongo_client.drop_database(config.database_name)


# --- the report ----------------------------------------------------------------------------------------


@pytest.fixture
def bucket() -> Iterator[tuple[Any, str]]:
    """A fresh bucket on the test stack's moto server, and a plain boto3 client to look at it."""
    from analytics.stores.s3 import S3Store

    name = f"test-course-kpis-{uuid.uuid4().hex[:12]}"
    with S3Store() as admin:
        client = admin.hook.get_conn()
        client.create_bucket(Bucket=name)
        yield client, name
        for entry in client.list_objects_v2(Bucket=name).get("Contents", []):
            client.delete_object(Bucket=name, Key=entry["Key"])
        client.delete_bucket(Bucket=name)


def test_the_report_is_written_atomically_and_uploaded(mongo_client, course, tmp_path, bucket) -> None:
    s3, bucket_name = bucket
    reports = tmp_path / "reports"
    target = ReportTarget(reports, s3_bucket=bucket_name, s3_prefix="course_kpis/")

    summary = run_course_kpis(
        mongo_client,
        course.config,
        target,
        settings=QUIET,
        run_id="manual__test",
        master_database=course.master.database.name,
    )

    path = reports / f"{course.config.edx_id}.html"
    assert summary.report_path == str(path) and summary.report_s3_key == f"course_kpis/{path.name}"
    assert sorted(item.name for item in reports.iterdir()) == [path.name]  # no temporary file left
    page = path.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and "KPI course" in page
    assert not any(value in page for value in (*EMAILS, *NAMES))
    uploaded = s3.get_object(Bucket=bucket_name, Key=summary.report_s3_key)["Body"].read()
    assert uploaded == path.read_bytes()
    status = whole_course_status(course)
    assert (status["report_path"], status["report_s3_key"], status["report_error"]) == (
        str(path),
        summary.report_s3_key,
        None,
    )

    part = run_course_kpis(
        mongo_client,
        course.config,
        target,
        settings=QUIET,
        from_date="2024-03-11",
        to_date="2024-03-17",
        master_database=course.master.database.name,
    )
    assert part.report_path == str(reports / f"{course.config.edx_id}_2024-03-11_2024-03-17.html")
    assert path.read_text(encoding="utf-8") == page  # the whole course's report is left as it was


def test_a_scoped_replacement_deletes_only_its_scope(mongo_database) -> None:
    """Pins the delete's ``$and`` form: with the scope and ``not_written_by``'s ``$or`` side by side in one
    filter, the local server's ``delete_many`` ignores the scope and deletes every other range too."""
    collection = mongo_database["videos"]
    for keys in ([("edx_id", 1), ("from_date", 1), ("to_date", 1)], RUN_FIELD):
        collection.create_index(keys)
    collection.insert_many(
        [
            {"_id": "x|a|1", "edx_id": "x", "from_date": "a", "to_date": "b", RUN_FIELD: "old"},
            {"_id": "x|a|2", "edx_id": "x", "from_date": "a", "to_date": "b"},  # no stamp at all
            {"_id": "x|c|1", "edx_id": "x", "from_date": "c", "to_date": "d", RUN_FIELD: "old"},
            {"_id": "y|a|1", "edx_id": "y", "from_date": "a", "to_date": "b", RUN_FIELD: "old"},
        ]
    )
    replacement = SafeReplacement(
        collection, "new", batch_size=10, scope={"edx_id": "x", "from_date": "a", "to_date": "b"}
    )
    replacement.add({"_id": "x|a|1", "edx_id": "x", "from_date": "a", "to_date": "b", "v": 1})

    assert replacement.commit() == 1  # x|a|2, of an earlier run and not written again
    assert sorted(document["_id"] for document in collection.find({})) == ["x|a|1", "x|c|1", "y|a|1"]
    assert collection.count_documents({RUN_FIELD: "new"}) == 1
