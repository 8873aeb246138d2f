"""The course KPI report's HTML: escaping of authors' strings, empty courses, the least-watched order, no external URL, the chart maths."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace

import plotly.offline
import pytest

from analytics.edx.kpi_report import (
    MAXIMUM_VIDEO_LINES,
    CourseReportData,
    DropoffPoint,
    clock,
    dropoff_curve,
    learner_minutes,
    least_watched_videos,
    minute_histogram,
    render_course_report,
    seconds_by_category,
    weekly_series,
)

FIGURE_ISLAND = re.compile(
    r'<script type="application/json" class="figure" data-chart="([^"]+)">(.*?)</script>', re.S
)
HOSTILE_NAME = '</script><script>alert(1)</script><b>&"Intro"'  # under 60 characters: not shortened


def video(video_id: str, viewers: int, viewed_seconds: float, **fields: object) -> dict:
    return {
        "_id": f"run-1:{video_id}",  # rows read back from MongoDB carry fields the report ignores
        "run_id": "manual__2024-04-01",
        "video_id": video_id,
        "block_id": f"block-v1:Demo+DX101+2024+type@video+block@{video_id}",
        "display_name": f"Video {video_id}",
        "duration": 60.0,
        "duration_source": "events",
        "segment_length": 5,
        "users_at_start": viewers,
        "users_at_end": viewers // 2,
        "total_viewed_seconds": viewed_seconds,
        "unique_viewers": viewers,
        "viewings": viewers,
        "mean_share": 0.5 if viewers else None,
        "share_histogram": [0] * 10,
        **fields,
    }


def segment(video_id: str, number: int, views: int, users: int | None = None) -> dict:
    return {"_id": f"{video_id}:{number}", "video_id": video_id, "block_id": None, "segment": number,
            "num_users": views if users is None else users, "num_views": views}  # fmt: skip


def course(**fields: object) -> CourseReportData:
    data = {
        "edx_id": "course-v1:Demo+DX101+2024",
        "course_name": "Demo course",
        "database": "demo_dx101",
        "from_date": "2024-03-04",
        "to_date": "2024-03-17",
        "learners_counted": 3,
        "staff_excluded": 1,
        "weekly_activity": [
            {"_id": 1, "interval_start": "2024-03-04", "label": "ACTIVE", "count": 3},
            {"_id": 2, "interval_start": "2024-03-04", "label": "PLAYED_VIDEO", "count": 2},
        ],
        "videos": [video("a", 2, 60.0)],
        "video_segments": [segment("a", 0, 2), segment("a", 1, 1)],
        "time_on_task": [
            {
                "_id": 3,
                "username": "ada",
                "day": "2024-03-05",
                "seconds": 600.0,
                "seconds_by_category": {
                    "video": 400.0,
                    "problem": 200.0,
                    "forum": 0.0,
                    "courseware": 0.0,
                    "other": 0.0,
                },
                "sessions": 1,
                "events": 9,
            },
        ],  # fmt: skip
        "learners": [
            {"_id": 4, "username": "ada", "time_on_task_seconds": 600.0, "videos_watched": 1},
            {"_id": 5, "username": "bob", "time_on_task_seconds": 0.0, "videos_watched": 0},
        ],
        "generated_for": "2024-03-18",
    }
    data.update(fields)
    return CourseReportData(**data)


def figures(page: str) -> dict[str, dict]:
    return {chart_id: json.loads(text) for chart_id, text in FIGURE_ISLAND.findall(page)}


def without_plotly_bundle(page: str) -> str:
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle) == 1, "plotly.js is embedded exactly once"
    return page.replace(bundle, "")


# --- the page ------------------------------------------------------------------------------------


def test_the_header_names_the_course_its_period_and_who_was_counted():
    page = render_course_report(course())
    header = page[page.index("<header>") : page.index("</header>")]
    for expected in (
        "Demo course",
        "course-v1:Demo+DX101+2024",
        "demo_dx101",
        "2024-03-04 to 2024-03-17 (14 days)",
    ):
        assert expected in header
    assert "<dt>Learners counted</dt><dd>3</dd>" in header
    assert "<dt>Staff excluded</dt><dd>1</dd>" in header
    assert "Computed for 2024-03-18." in page


def test_every_chart_gets_a_figure_with_a_title_axis_titles_and_hover_text():
    charts = figures(render_course_report(course()))
    assert list(charts) == [
        "chart-weekly-activity",
        "chart-video-dropoff",
        "chart-time-on-task",
        "chart-time-by-category",
    ]
    for chart_id, figure in charts.items():
        layout = figure["layout"]
        assert layout["title"]["text"], chart_id
        assert layout["xaxis"]["title"]["text"], chart_id
        assert all(trace["hovertemplate"] for trace in figure["data"]), chart_id


def test_an_authors_markup_is_escaped_in_the_page_and_in_the_chart_texts():
    page = render_course_report(
        course(course_name="<b>Bold</b> course", videos=[video("a", 2, 60.0, display_name=HOSTILE_NAME)])
    )
    assert "<b>Bold</b>" not in page
    assert "<title>Course KPIs: &lt;b&gt;Bold&lt;/b&gt; course</title>" in page
    assert "<script>alert(1)" not in page and "<b>&" not in page
    table = page[page.index('<table class="least-watched">') :]
    assert html.escape(HOSTILE_NAME) in table
    # plotly reads its texts as a little HTML (and decodes entities): the name is given escaped, shown as written.
    dropoff = figures(page)["chart-video-dropoff"]
    assert dropoff["data"][0]["name"] == html.escape(HOSTILE_NAME, quote=False)


def test_a_closing_script_tag_in_a_name_cannot_end_the_figures_json():
    page = render_course_report(course(videos=[video("a", 2, 60.0, display_name=HOSTILE_NAME)]))
    island = FIGURE_ISLAND.search(page[page.index('data-chart="chart-video-dropoff"') - 60 :])
    assert island is not None
    assert "<" not in island.group(2) and ">" not in island.group(2)
    assert json.loads(island.group(2))["data"][0]["name"] == html.escape(
        HOSTILE_NAME, quote=False
    )  # the JSON is whole
    # One opening tag per closing tag: nothing from the data opened or closed a script element.
    assert page.count("<script") == page.count("</script>") == 1 + 4 + 1  # plotly.js, 4 figures, the drawing


def test_the_page_loads_nothing_from_elsewhere():
    page = without_plotly_bundle(render_course_report(course()))
    assert not re.search(r"https?://", page)
    assert not re.search(r"<script[^>]*\bsrc=", page) and "<link" not in page and "@import" not in page


def test_a_course_without_any_data_renders_a_note_per_chart_and_no_chart():
    empty = course(
        learners_counted=0,
        staff_excluded=0,
        weekly_activity=[],
        videos=[],
        video_segments=[],
        time_on_task=[],
        learners=[],
    )
    page = render_course_report(empty)
    assert figures(page) == {}
    assert 'class="chart"' not in page
    assert page.count('<p class="no-data">No data:') == 5  # four charts and the table
    assert "<dt>Learners counted</dt><dd>0</dd>" in page


def test_weekly_rows_that_count_nobody_are_no_data():
    page = render_course_report(
        course(weekly_activity=[{"interval_start": "2024-03-04", "label": "ACTIVE", "count": 0}])
    )
    assert "chart-weekly-activity" not in figures(page)
    assert "No data: no learner activity in this period." in page


def test_a_video_with_events_but_no_viewing_is_in_the_table_not_in_the_drop_off_chart():
    page = render_course_report(course(videos=[video("a", 0, 0.0)], video_segments=[]))
    assert "chart-video-dropoff" not in figures(page)
    assert "No data: no video was watched in this period." in page
    assert "<code>a</code>" in page[page.index('<table class="least-watched">') :]


def test_a_long_video_name_is_shortened_in_the_chart_and_whole_in_the_table():
    name = ("Week 3, lecture 2: " + "a rather long title " * 5).strip()
    page = render_course_report(course(videos=[video("a", 2, 60.0, display_name=name)]))
    assert figures(page)["chart-video-dropoff"]["data"][0]["name"] == name[:59] + "…"
    assert f"<td>{name}<br>" in page


def test_rendering_the_same_rows_twice_gives_the_same_bytes():
    assert render_course_report(course()) == render_course_report(course())


# --- the least-watched table ---------------------------------------------------------------------


def test_least_watched_are_fewest_unique_viewers_then_fewest_viewed_seconds():
    videos = [video("busy", 9, 900.0), video("short", 1, 50.0), video("long", 1, 300.0),
              video("none-b", 0, 0.0), video("none-a", 0, 0.0), video("mid", 4, 10.0)]  # fmt: skip
    order = [row["video_id"] for row in least_watched_videos(videos, 4)]
    assert order == ["none-a", "none-b", "short", "long"]


def test_the_table_shows_the_least_watched_first_with_share_in_percent_and_duration_as_a_clock():
    videos = [
        video("busy", 9, 900.0, mean_share=0.456, duration=3725.0),
        video("rare", 1, 5.0, duration=None),
    ]
    page = render_course_report(course(videos=videos, least_watched_count=2))
    table = page[page.index('<table class="least-watched">') :]
    rows = re.findall(r"<tr><td>(.*?)</tr>", table)
    assert [re.search(r"<code>(.*?)</code>", row).group(1) for row in rows] == ["rare", "busy"]
    assert '<td class="number">46%</td>' in rows[1] and ">1:02:05</span></td>" in rows[1]
    assert '<td class="number">50%</td>' in rows[0] and '<td class="number">unknown</td>' in rows[0]
    no_share = render_course_report(course(videos=[video("zero", 0, 0.0)]))
    assert '<td class="number">–</td>' in no_share  # mean_share None: nobody watched it


def test_clock_formats_minutes_and_hours():
    assert [clock(0), clock(59.6), clock(61), clock(3725)] == ["0:00", "1:00", "1:01", "1:02:05"]


# --- the chart maths -----------------------------------------------------------------------------


def test_weekly_series_spans_the_period_and_counts_weeks_without_rows_as_zero():
    rows = [
        {"interval_start": "2024-03-04", "label": "PLAYED_VIDEO", "count": 2},
        {"interval_start": "2024-03-04", "label": "ACTIVE", "count": 5},
        {"interval_start": "2024-03-25", "label": "ACTIVE", "count": 1},
        {"interval_start": "2024-03-25", "label": "A_NEW_LABEL", "count": 7},
    ]
    weeks, series = weekly_series(rows, from_date="2024-03-01", to_date="2024-03-26")  # a Friday, a Tuesday
    assert weeks == ["2024-02-26", "2024-03-04", "2024-03-11", "2024-03-18", "2024-03-25"]
    assert list(series) == [
        "ACTIVE",
        "PLAYED_VIDEO",
        "A_NEW_LABEL",
    ]  # known labels in their order, then others
    assert series["ACTIVE"] == [0, 5, 0, 0, 1]
    assert series["PLAYED_VIDEO"] == [0, 2, 0, 0, 0]
    assert series["A_NEW_LABEL"] == [0, 0, 0, 0, 7]
    assert weekly_series([], "2024-03-01", "2024-03-26") == ([], {})


def test_drop_off_x_is_segment_times_its_length_and_unviewed_segments_count_zero_up_to_the_duration():
    rows = [segment("a", 0, 4, users=3), segment("a", 1, 3, users=2), segment("a", 3, 1, users=1)]
    assert dropoff_curve(rows, segment_length=5, duration=22.0) == [
        DropoffPoint(seconds=0, views=4, users=3),
        DropoffPoint(seconds=5, views=3, users=2),
        DropoffPoint(seconds=10, views=0, users=0),
        DropoffPoint(seconds=15, views=1, users=1),
        DropoffPoint(seconds=20, views=0, users=0),  # 20-22 s: the video's last segment, nobody got there
    ]
    longer_than_said = dropoff_curve([segment("a", 6, 1)], segment_length=10, duration=20.0)
    assert [point.seconds for point in longer_than_said] == [0, 10, 20, 30, 40, 50, 60]
    assert dropoff_curve([], segment_length=5, duration=60.0) == []


def test_drop_off_lines_are_most_viewed_first_and_past_eight_videos_a_dropdown_shows_one_at_a_time():
    viewers = [3, 12, 7, 12, 1, 5, 9, 2, 4, 6]
    videos = [video(f"v{index}", count, count * 10.0 + index) for index, count in enumerate(viewers)]
    segments = [segment(f"v{index}", 0, count) for index, count in enumerate(viewers)]
    dropoff = figures(render_course_report(course(videos=videos, video_segments=segments)))[
        "chart-video-dropoff"
    ]
    names = [trace["name"] for trace in dropoff["data"]]
    assert names == [
        f"Video v{index}" for index in (3, 1, 6, 2, 9, 5, 8, 0, 7, 4)
    ]  # v3 before v1: more seconds
    assert [trace.get("visible", True) for trace in dropoff["data"]] == [True] + [False] * 9
    buttons = dropoff["layout"]["updatemenus"][0]["buttons"]
    assert [button["label"] for button in buttons] == names
    assert buttons[2]["args"][0]["visible"] == [index == 2 for index in range(10)]
    few = figures(render_course_report(course(videos=videos[:3], video_segments=segments[:3])))[
        "chart-video-dropoff"
    ]
    assert len(few["data"]) == 3 <= MAXIMUM_VIDEO_LINES
    assert all(trace.get("visible", True) for trace in few["data"]) and "updatemenus" not in few["layout"]
    assert few["data"][0]["x"] == [5 * number for number in range(12)]  # 60 s: segments 0..11, zeros filled


def test_learner_minutes_come_from_the_learners_rows_else_from_time_on_task_summed_per_learner():
    learners = [
        {"username": "ada", "time_on_task_seconds": 90.0},
        {"username": "bob", "time_on_task_seconds": 0},
    ]
    days = [
        {"username": "ada", "seconds": 60.0},
        {"username": "ada", "seconds": 120.0},
        {"username": "cy", "seconds": 30.0},
    ]
    assert learner_minutes(learners, days) == [1.5, 0.0]
    assert sorted(learner_minutes([], days)) == [0.5, 3.0]
    assert learner_minutes([], []) == []


@pytest.mark.parametrize(
    ("minutes", "bin_minutes", "counts"),
    [
        ([0.0, 3.5, 24.99], 1, [1, 0, 0, 1] + [0] * 20 + [1]),  # 25 one-minute bins are allowed
        ([25.0], 2, [0] * 12 + [1]),  # 25 min exactly is in a 26th one-minute bin: two-minute bins
        ([0.0, 4.9, 5.0, 130.0], 10, [3] + [0] * 12 + [1]),  # 5-minute bins would be 27: 10-minute bins
        ([0.0, 0.0], 1, [2]),  # nobody spent any time: one bin
        ([-3.0], 1, [1]),  # a hand-edited negative time counts as none
        ([10_000.0], 480, [0] * 20 + [1]),
    ],
)
def test_minute_histogram_uses_the_smallest_round_bin_that_keeps_25_bins_at_most(
    minutes, bin_minutes, counts
):
    histogram = minute_histogram(minutes)
    assert (histogram.bin_minutes, histogram.counts) == (bin_minutes, counts)


def test_the_time_on_task_chart_draws_those_bins_and_marks_the_median():
    learners = [
        {"username": f"u{index}", "time_on_task_seconds": seconds}
        for index, seconds in enumerate([0, 60, 400])
    ]
    chart = figures(render_course_report(course(learners=learners)))["chart-time-on-task"]
    (bars,) = chart["data"]
    assert bars["y"] == [1, 1, 0, 0, 0, 0, 1] and bars["x"][:2] == [0.5, 1.5] and bars["width"] == 1
    assert bars["customdata"][0] == "0–1 min"
    (median_line,) = chart["layout"]["shapes"]
    assert median_line["x0"] == 1.0 and chart["layout"]["annotations"][0]["text"] == "median 1 min"


def test_time_by_category_sums_every_day_and_unknown_categories_are_kept():
    rows = [
        {"seconds_by_category": {"video": 60.0, "problem": 30.0}},
        {"seconds_by_category": {"video": 15.0, "forum": 5.0, "new": 1.0}},
        {"seconds_by_category": None},
    ]
    assert seconds_by_category(rows) == {
        "video": 75.0,
        "problem": 30.0,
        "forum": 5.0,
        "courseware": 0.0,
        "other": 0.0,
        "new": 1.0,
    }
    chart = figures(render_course_report(course(time_on_task=rows)))["chart-time-by-category"]
    assert (
        chart["data"][0]["x"][:3] == [1.25, 0.5, 5.0 / 60]
        and chart["layout"]["xaxis"]["title"]["text"] == "Time (minutes)"
    )


def test_time_by_category_switches_to_hours_from_two_hours_on():
    rows = [{"seconds_by_category": {"video": 7200.0, "problem": 1800.0}}]
    chart = figures(render_course_report(course(time_on_task=rows)))["chart-time-by-category"]
    assert (
        chart["data"][0]["x"][:2] == [2.0, 0.5]
        and chart["layout"]["xaxis"]["title"]["text"] == "Time (hours)"
    )


def test_the_report_data_keeps_the_agreed_fields_in_order():
    data = course()
    assert list(data.__dataclass_fields__)[:13] == [
        "edx_id", "course_name", "database", "from_date", "to_date", "learners_counted", "staff_excluded",
        "weekly_activity", "videos", "video_segments", "time_on_task", "learners", "generated_for",
    ]  # fmt: skip
    assert replace(data, generated_for="").generated_for == ""
