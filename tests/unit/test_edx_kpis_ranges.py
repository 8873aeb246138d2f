"""The course KPIs engine's pure parts: ranges and their windows, dates of params, settings, the run's totals."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.edx.course_configs import CourseConfig
from analytics.edx.kpi_collections import KPI_COLLECTIONS, status_id
from analytics.edx.kpi_run import kpi_run_totals, report_file_name
from analytics.edx.kpi_settings import KpiRange, KpiSettings, load_kpi_settings, parse_day, resolve_range
from analytics.edx.kpis.staff import StaffRule
from analytics.stores.mongo import SafeReplacement

CONFIG = CourseConfig(
    path=Path("x.json"),
    edx_id="x",
    edx_course_name="X",
    course_ids=("course-v1:O+C+R",),
    date_of_course_enrollment=date(2024, 3, 6),  # a Wednesday
    date_of_course_completion=date(2024, 3, 20),  # a Wednesday
)


def utc(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def test_empty_dates_are_the_whole_course_and_each_date_alone_keeps_the_other_end():
    whole = resolve_range(CONFIG, "", None)
    assert (whole.from_date, whole.to_date, whole.whole_course) == (date(2024, 3, 6), date(2024, 3, 20), True)
    start_only = resolve_range(CONFIG, "2024-03-10", "")
    assert (start_only.from_date, start_only.to_date, start_only.whole_course) == (
        date(2024, 3, 10),
        date(2024, 3, 20),
        False,
    )
    assert resolve_range(CONFIG, None, date(2024, 3, 8)).to_date == date(2024, 3, 8)


def test_windows_of_a_range():
    kpi_range = KpiRange(date(2024, 3, 6), date(2024, 3, 13))  # Wednesday to Wednesday
    assert kpi_range.days() == (utc(6), utc(14))  # the last day whole
    # whole ISO weeks: Monday 4 March to the Monday after Sunday 17 March
    assert kpi_range.weeks() == (utc(4), utc(18))
    assert (kpi_range.first_week, kpi_range.last_week) == (date(2024, 3, 4), date(2024, 3, 11))
    assert kpi_range.sessions(timedelta(minutes=30)) == (utc(5, 23, 30), utc(14, 0, 30))
    assert kpi_range.read_window(timedelta(minutes=30)) == (utc(4), utc(18))
    monday = KpiRange(date(2024, 3, 4), date(2024, 3, 10))  # a week exactly: the sessions' margin reaches out
    assert monday.read_window(timedelta(minutes=30)) == (utc(3, 23, 30), utc(11, 0, 30))


def test_a_range_must_not_end_before_it_starts_and_dates_must_be_iso():
    with pytest.raises(ValueError, match="before from_date"):
        KpiRange(date(2024, 3, 6), date(2024, 3, 5))
    assert KpiRange(date(2024, 3, 6), date(2024, 3, 6)).days() == (utc(6), utc(7))
    for bad in ("2024-3-6", "06/03/2024", "2024-02-30", "yesterday"):
        with pytest.raises(ValueError, match="to_date: expected a date YYYY-MM-DD"):
            parse_day(bad, "to_date")
    assert parse_day(" 2024-03-06 ", "from_date") == date(2024, 3, 6)
    assert parse_day("None", "from_date") is None  # an empty param rendered by a template


def test_ids_and_report_names_never_start_with_a_date():
    kpi_range = KpiRange(date(2024, 3, 6), date(2024, 3, 13))
    assert status_id("x", kpi_range) == "x|2024-03-06|2024-03-13"
    assert report_file_name("x", kpi_range) == "x_2024-03-06_2024-03-13.html"
    assert report_file_name("x", KpiRange(date(2024, 3, 6), date(2024, 3, 13), whole_course=True)) == "x.html"


def test_the_delete_filter_keeps_the_scope_beside_the_stamp():
    replacement = SafeReplacement(None, "s", scope={"day": {"$gte": "a"}})
    stale = replacement.stale_filter()
    assert stale["$and"][0] == {"day": {"$gte": "a"}}
    assert stale["$and"][1]["$or"][1] == {"_ingestion_run": {"$ne": "s"}}


def test_settings_from_the_file_and_the_params(tmp_path):
    path = tmp_path / "course_kpis.json"
    path.write_text(
        json.dumps({"session_timeout_minutes": 20, "staff_rule": {"studio": False, "never_exclude": ["ta"]}}),
        encoding="utf-8",
    )
    settings = load_kpi_settings(path, staff_rule={"always_exclude": ["boss"]}, report_dir="", s3_bucket=None)
    assert settings.session_timeout == timedelta(minutes=20)
    assert settings.staff_rule == StaffRule(studio=False, never_exclude=("ta",), always_exclude=("boss",))
    assert settings.report_dir == KpiSettings().report_dir  # an empty override keeps the configured value
    assert load_kpi_settings(path, session_timeout_minutes=45.0).session_timeout_minutes == 45
    path.write_text(json.dumps({"session_timeout_minutes": 0}), encoding="utf-8")
    with pytest.raises(ValueError, match="course_kpis.json: session_timeout_minutes must be positive"):
        load_kpi_settings(path)
    path.write_text(json.dumps({"staff_rule": {"studio": "no"}}), encoding="utf-8")
    with pytest.raises(ValueError, match="staff rule option studio must be true or false"):
        load_kpi_settings(path)


def test_the_shipped_configuration_loads():
    settings = load_kpi_settings()
    assert settings.session_timeout_minutes == 30 and settings.staff_rule == StaffRule()
    assert settings.report_directory("/elsewhere") == Path("/elsewhere")
    assert settings.report_directory().is_absolute()


def test_the_run_totals_add_the_courses():
    rows = dict.fromkeys(KPI_COLLECTIONS, 2)
    summaries = [
        {"edx_id": "a", "learners_counted": 3, "staff_excluded": 1, "rows": rows, "report_path": "a.html"},
        {"edx_id": "b", "learners_counted": 4, "staff_excluded": 0, "rows": rows, "report_path": "b.html"},
    ]
    totals = kpi_run_totals(summaries, 3)
    assert (totals["configs"], totals["courses"], totals["learners_counted"], totals["staff_excluded"]) == (
        3,
        2,
        7,
        1,
    )
    assert totals["rows"] == dict.fromkeys(KPI_COLLECTIONS, 4)
    assert totals["reports"] == {"a": "a.html", "b": "b.html"}
