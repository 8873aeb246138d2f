"""The tracking-log master load against the real MongoDB wire server: every line accounted for, once."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.core.accounting import COMPLETE, FAILED, PARTIAL, RUNNING
from analytics.edx.tracking_files import find_tracking_files, plan_files
from analytics.edx.tracking_lines import BAD_JSON, NOT_UTF8
from analytics.edx.tracking_load import (
    IMPORTED_COLLECTION,
    MASTER_COLLECTION,
    TrackingSettings,
    ensure_master_indexes,
    file_sha256,
    imported_records,
    load_tracking_file,
)
from tests.tracking_logs import COURSES, now, write_log

REPO = Path(__file__).resolve().parents[2]
SETTINGS = TrackingSettings(batch_size=50, progress_every_seconds=0.5)


def load(database, path: Path, **kwargs):
    (found,) = [f for f in find_tracking_files(path.parent)[0] if f.path == path]
    return load_tracking_file(database, found, settings=SETTINGS, clock=now, **kwargs)


def master_state(database) -> list[dict]:
    return list(database[MASTER_COLLECTION].find({}).sort("_id", 1))


def test_a_file_loads_with_every_line_accounted_for(tmp_path, mongo_database):
    path = tmp_path / "testx-edx-events-2024-03-04.log.gz"
    write_log(path, 120, bad_lines={10: b'{"username": "cut', 50: b'{"username": "\xff"}\n', 51: b"\n"})
    ensure_master_indexes(mongo_database)
    result = load(mongo_database, path, errors_dir=tmp_path / "errors")
    assert result.status == COMPLETE
    assert (result.read, result.loaded, result.already_loaded, result.discarded) == (122, 119, 0, 3)
    assert result.discarded_by_reason == {BAD_JSON: 1, NOT_UTF8: 1, "blank line": 1}
    assert mongo_database[MASTER_COLLECTION].count_documents({}) == 119
    # The cut line has no newline: event 11 is glued to it, and both are line 12, one bad line.
    errors = [
        json.loads(line) for line in (tmp_path / "errors" / f"{result.name}-errors").read_text().splitlines()
    ]
    assert [(error["line"], error["reason"]) for error in errors] == [
        (12, BAD_JSON),
        (52, NOT_UTF8),
        (54, "blank line"),
    ]
    assert errors[1]["raw"] == '{"username": "\\xff"}'
    record = mongo_database[IMPORTED_COLLECTION].find_one({"_id": result.name})
    assert record["status"] == COMPLETE
    assert record["sha256"] == file_sha256(path)
    assert record["size"] == path.stat().st_size
    assert record["read"] == record["loaded"] + record["already_loaded"] + record["discarded"]
    by_course = {entry["course_id"]: entry["events"] for entry in record["events_by_course"]}
    assert sum(by_course.values()) + record["events_without_course"] == 119
    assert set(by_course) == set(COURSES)
    stored = mongo_database[MASTER_COLLECTION].find_one({"_id": f"{result.name}:1"})
    assert stored["load_line"] == 1 and stored["course_id"] in COURSES
    assert stored["event"]["n"] == 0  # the event string became a sub-document
    peer = mongo_database[MASTER_COLLECTION].find_one({"_id": f"{result.name}:4"})
    assert peer["event"]["parts"][0]["option"]["points%2Epossible"] == 3  # loads instead of failing


def test_a_reload_counts_already_loaded_and_changes_nothing(tmp_path, mongo_database):
    path = tmp_path / "a.log"
    write_log(path, 80)
    first = load(mongo_database, path)
    before = master_state(mongo_database)
    second = load(mongo_database, path)
    assert (first.loaded, first.already_loaded) == (80, 0)
    assert (second.loaded, second.already_loaded, second.status) == (0, 80, COMPLETE)
    assert master_state(mongo_database) == before


def test_a_truncated_gzip_loads_what_is_readable_and_is_partial(tmp_path, mongo_database):
    whole = tmp_path / "whole.log.gz"
    write_log(whole, 2000)
    path = tmp_path / "cut.log.gz"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    other = tmp_path / "other.log"
    write_log(other, 10)
    result = load(mongo_database, path)
    assert result.status == PARTIAL
    assert "truncated stream" in result.failure
    assert 0 < result.loaded < 2000
    assert result.balanced
    record = mongo_database[IMPORTED_COLLECTION].find_one({"_id": "cut.log"})
    assert record["status"] == PARTIAL and "truncated" in record["failure"]
    assert load(mongo_database, other).status == COMPLETE  # other files go on
    # The next plan takes the partial file again.
    files, _ = find_tracking_files(tmp_path)
    plan = plan_files(files, imported_records(mongo_database))
    assert "cut.log" in [found.name for found, _ in plan.to_load]
    assert "other.log" in plan.complete


def test_a_file_that_is_not_gzip_fails_with_its_reason(tmp_path, mongo_database):
    path = tmp_path / "broken.log.gz"
    path.write_bytes(b"this is not gzip data\n" * 10)
    result = load(mongo_database, path)
    assert result.status == FAILED
    assert result.read == 0 and "Not a gzipped file" in result.failure


def test_a_changed_file_is_detected_and_a_reload_replaces_its_events(tmp_path, mongo_database):
    path = tmp_path / "c.log"
    write_log(path, 60)
    load(mongo_database, path)
    write_log(path, 40, day="2024-03-05")  # the same name, other content, shorter
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    files, _ = find_tracking_files(tmp_path)
    plan = plan_files(files, imported_records(mongo_database))
    assert [found.name for found in plan.to_check] == ["c.log"]  # hashed again by the operator
    assert file_sha256(path) != imported_records(mongo_database)["c.log"]["sha256"]
    result = load(mongo_database, path, reload=True)
    assert result.mode == "upsert"
    assert (result.loaded, result.already_loaded, result.removed_beyond_end) == (0, 40, 20)
    stored = master_state(mongo_database)
    assert len(stored) == 40
    assert {document["time"].date().isoformat() for document in stored} == {"2024-03-05"}


def test_a_reload_removes_the_events_of_lines_now_discarded(tmp_path, mongo_database):
    """A line that was an event and is now bad: the reload discards it and its old event goes too."""
    path = tmp_path / "d.log"
    write_log(path, 30)
    assert load(mongo_database, path).loaded == 30
    write_log(path, 28, bad_lines={4: b"not json\n", 19: b"\n"})  # lines 6 and 22 are bad now
    result = load(mongo_database, path, reload=True)
    assert (result.read, result.already_loaded, result.discarded) == (30, 28, 2)
    assert (result.removed_discarded, result.removed_beyond_end) == (2, 0)
    stored = master_state(mongo_database)
    assert len(stored) == result.read - result.discarded
    assert {document["load_line"] for document in stored} == set(range(1, 31)) - {6, 22}


def test_a_load_killed_halfway_is_finished_by_the_next_with_each_event_once(tmp_path, mongo_database):
    """SIGKILL the loader process in the middle of a file, load again: every line stored exactly once."""
    path = tmp_path / "big.log.gz"
    written = write_log(path, 6000)
    code = f"""
import sys, time
sys.path[:0] = [{str(REPO / "plugins")!r}, {str(REPO)!r}]
from pymongo import MongoClient
from analytics.edx.tracking_files import find_tracking_files
from analytics.edx.tracking_load import TrackingSettings, load_tracking_file
import analytics.stores.mongo as store
original = store.MongoBatchWriter.flush
def slow_flush(self):
    original(self)
    time.sleep(0.05)  # leaves time to be killed between batches
store.MongoBatchWriter.flush = slow_flush
database = MongoClient({os.environ["AIRFLOW_CONN_MONGO_DEFAULT"].replace("mongo://", "mongodb://", 1)!r})[{mongo_database.name!r}]
(found,) = find_tracking_files(__import__("pathlib").Path({str(tmp_path)!r}))[0]
load_tracking_file(database, found, settings=TrackingSettings(batch_size=100))
"""
    process = subprocess.Popen([sys.executable, "-c", code])
    master = mongo_database[MASTER_COLLECTION]
    deadline = time.monotonic() + 120
    while master.count_documents({}) < 1500:
        assert process.poll() is None, "the loader ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored_before = master.count_documents({})
    assert 0 < stored_before < written["events"]
    record = mongo_database[IMPORTED_COLLECTION].find_one({"_id": "big.log"})
    assert record["status"] == RUNNING  # not complete: the next run takes it
    files, _ = find_tracking_files(tmp_path)
    assert [found.name for found, _ in plan_files(files, imported_records(mongo_database)).to_load] == [
        "big.log"
    ]

    result = load(mongo_database, path)
    assert result.status == COMPLETE
    assert result.already_loaded == stored_before
    assert result.loaded + result.already_loaded == written["events"]
    ids = [document["_id"] for document in master.find({}, {"_id": 1})]
    assert len(ids) == len(set(ids)) == written["events"]
    assert sorted(int(i.rsplit(":", 1)[1]) for i in ids) == list(range(1, written["events"] + 1))


def test_the_master_has_its_indexes(mongo_database):
    ensure_master_indexes(mongo_database)
    keys = [tuple(index["key"].items()) for index in mongo_database[MASTER_COLLECTION].list_indexes()]
    for expected in [
        (("course_id", 1), ("time", 1)),
        (("time", 1),),
        (("event_type", 1),),
        (("username", 1),),
        (("loaded_at", 1),),
    ]:
        assert expected in keys


@pytest.mark.parametrize("name", ["x.log-errors", ".x.log.gz", "x-errors.log", "notes.txt"])
def test_errors_hidden_and_other_files_are_never_input(tmp_path, name):
    (tmp_path / name).write_bytes(b"{}\n")
    write_log(tmp_path / "real.log", 1)
    files, ignored = find_tracking_files(tmp_path)
    assert [found.name for found in files] == ["real.log"]
    assert [entry[0] for entry in ignored] == [name]


def test_two_files_known_by_one_name_are_both_left_out(tmp_path):
    write_log(tmp_path / "d.log", 1)
    with gzip.open(tmp_path / "d.log.gz", "wb") as handle:
        handle.write(b"{}\n")
    files, ignored = find_tracking_files(tmp_path)
    assert files == []
    assert sorted(entry[0] for entry in ignored) == ["d.log", "d.log.gz"]
    assert "both known as d.log" in ignored[0][1]


def test_the_run_plan_hashes_complete_files_whose_version_changed(tmp_path, mongo_database):
    """Same bytes with a new modification time: still complete (its record updated). Other bytes:
    reported as changed with both digests, and not loaded."""
    from analytics.edx.tracking_load import plan_master_load

    touched, changed = tmp_path / "t.log", tmp_path / "c.log"
    write_log(touched, 5)
    write_log(changed, 5)
    load(mongo_database, touched)
    load(mongo_database, changed)
    loaded_sha = imported_records(mongo_database)["c.log"]["sha256"]
    later = time.time_ns() + 5_000_000_000
    os.utime(touched, ns=(later, later))
    write_log(changed, 6)
    os.utime(changed, ns=(later, later))

    plan = plan_master_load(mongo_database, tmp_path)
    assert plan.to_load == []
    assert plan.touched == ["t.log"] and plan.complete == 1
    assert plan.changed == [
        {"name": "c.log", "path": str(changed), "sha256": file_sha256(changed), "loaded_sha256": loaded_sha}
    ]
    assert imported_records(mongo_database)["t.log"]["mtime_ns"] == later
    again = plan_master_load(mongo_database, tmp_path)
    assert again.touched == [] and again.complete == 1 and [c["name"] for c in again.changed] == ["c.log"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plan_master_load(mongo_database, tmp_path / "missing")
