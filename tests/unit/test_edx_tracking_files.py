"""Which tracking files a master-load run takes: new, unfinished, reloads; oldest first, at most N."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics.edx.tracking_files import (
    NEW,
    RELOAD,
    TrackingFile,
    day_of,
    is_errors_file_name,
    plan_files,
    why_not_input,
)


def tracking_file(name: str, day: date, size: int = 100, mtime_ns: int = 1) -> TrackingFile:
    return TrackingFile(Path(f"/in/{name}"), name.lower().removesuffix(".gz"), size, mtime_ns, day)


FILES = [
    tracking_file("x-edx-events-2024-03-01.log.gz", date(2024, 3, 1)),
    tracking_file("x-edx-events-2024-03-02.log.gz", date(2024, 3, 2)),
    tracking_file("x-edx-events-2024-03-03.log.gz", date(2024, 3, 3)),
]


def record(status: str = "complete", size: int = 100, mtime_ns: int = 1) -> dict:
    return {"status": status, "size": size, "mtime_ns": mtime_ns, "sha256": "abc"}


def test_new_and_unfinished_files_are_loaded_oldest_first_and_complete_ones_left():
    imported = {
        "x-edx-events-2024-03-01.log": record(),
        "x-edx-events-2024-03-02.log": record("running"),
    }
    plan = plan_files(FILES, imported)
    assert [(f.name, reason) for f, reason in plan.to_load] == [
        ("x-edx-events-2024-03-02.log", "not complete (running)"),
        ("x-edx-events-2024-03-03.log", NEW),
    ]
    assert plan.complete == ["x-edx-events-2024-03-01.log"]


@pytest.mark.parametrize("status", ["partial", "failed", "running"])
def test_every_state_but_complete_is_loaded_again(status):
    plan = plan_files(FILES[:1], {FILES[0].name: record(status)})
    assert [f.name for f, _ in plan.to_load] == [FILES[0].name]


def test_at_most_max_files_and_the_rest_deferred():
    plan = plan_files(FILES, {}, max_files=2)
    assert [f.name for f, _ in plan.to_load] == [FILES[0].name, FILES[1].name]
    assert plan.deferred == [FILES[2].name]
    with pytest.raises(ValueError, match="at least 1"):
        plan_files(FILES, {}, max_files=0)


def test_reload_files_are_taken_by_any_spelling_and_unknown_names_refused():
    imported = {f.name: record() for f in FILES}
    plan = plan_files(FILES, imported, reload_files=["X-EDX-EVENTS-2024-03-02.LOG.GZ"])
    assert [(f.name, reason) for f, reason in plan.to_load] == [(FILES[1].name, RELOAD)]
    with pytest.raises(ValueError, match="names no file of the landing directory: nope.log"):
        plan_files(FILES, imported, reload_files=["nope.log"])


def test_a_complete_file_whose_size_or_time_changed_is_checked_not_loaded():
    imported = {FILES[0].name: record(size=99), FILES[1].name: record(mtime_ns=2), FILES[2].name: record()}
    plan = plan_files(FILES, imported)
    assert [f.name for f in plan.to_check] == [FILES[0].name, FILES[1].name]
    assert plan.to_load == [] and plan.complete == [FILES[2].name]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DemoOrgX-edx-events-2024-03-04.log.gz", date(2024, 3, 4)),
        ("tracking.log-20240304-1709510400.gz", date(2024, 3, 4)),
        ("tracking.log", date(1970, 1, 1)),  # no date in the name: the modification day
        ("x-2024-13-45.log", date(1970, 1, 1)),  # not a date
    ],
)
def test_the_day_of_a_file(name, expected):
    assert day_of(name, 0) == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a.log.gz", None),
        ("A.LOG", None),
        ("a.log-errors", "an errors file"),
        ("a-errors.log", "an errors file"),
        (".a.log.gz", "a hidden file (a download still in progress?)"),
        ("a.json", "not a tracking log (*.log, *.log.gz)"),
    ],
)
def test_what_is_input(name, reason):
    assert why_not_input(name) == reason
    assert is_errors_file_name(name) == (reason == "an errors file")
