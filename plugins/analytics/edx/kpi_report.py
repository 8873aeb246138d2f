"""The course KPI report: one self-contained HTML page per course for course staff, rendered from the KPI rows.

:func:`render_course_report` turns a :class:`CourseReportData` (the rows of ``weekly_activity``,
``videos``, ``video_segments``, ``time_on_task`` and ``learners`` as :mod:`analytics.edx.kpis`
computes them, or as they are read back from MongoDB, extra fields ignored) into one HTML
document: a header (course, id, period, learners counted, staff excluded), four plotly charts
(learners per week and label; views per 5-second segment of each video; learners' total time
on task in minutes, with its median; time by category of activity) and a table of the
least-watched videos. plotly.js is embedded once, so the page opens offline (no CDN, no
external script or stylesheet); each figure is a JSON island drawn by a few lines of inline
script, and a chart with no data is replaced by a sentence saying so. Every string that comes
from the data (course and video names are written by course authors) is HTML-escaped, in
the markup and in the chart texts (plotly reads those as a little HTML), and ``<``, ``>``,
``&`` are escaped inside the JSON, so a ``</script>`` in a name cannot end its script. The
output depends only on the data (no clock, fixed element ids): the same rows give the same
bytes. Pure: no I/O, no Airflow.
"""

from __future__ import annotations

import functools
import html
import json
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import plotly.io
import plotly.offline

from analytics.edx.kpi_charts import (
    DropoffPoint,
    as_count,
    as_day,
    as_number,
    as_text,
    dropoff_curve,
    learner_minutes,
    least_watched_videos,
    minute_histogram,
    seconds_by_category,
    video_popularity_key,
    weekly_series,
)
from analytics.edx.kpis.videos import SEGMENT_LENGTH
from analytics.edx.kpis.weekly import (
    ACTIVE,
    ATTEMPTED_PROBLEM,
    PLAYED_VIDEO,
    POSTED_FORUM,
)

LABEL_NAMES = {
    ACTIVE: "Active",
    ATTEMPTED_PROBLEM: "Attempted a problem",
    PLAYED_VIDEO: "Played a video",
    POSTED_FORUM: "Posted in the forum",
}
LABEL_COLOURS = {
    ACTIVE: "#1f77b4",
    ATTEMPTED_PROBLEM: "#ff7f0e",
    PLAYED_VIDEO: "#2ca02c",
    POSTED_FORUM: "#9467bd",
}
CATEGORY_NAMES = {
    "video": "Videos",
    "problem": "Problems",
    "forum": "Forum",
    "courseware": "Courseware pages",
    "other": "Other pages",
}
MAXIMUM_VIDEO_LINES = 8  # more videos than this: a dropdown shows one at a time
MAXIMUM_VIDEOS_CHARTED = 60  # the most viewed; the table lists the least watched of all
LEAST_WATCHED_COUNT = 10
CHART_HEIGHT = 420
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
PLOTLY_TEMPLATE = "none"


@dataclass(frozen=True)
class CourseReportData:
    """What one course's report shows; the row lists as the KPI modules give them (unknown fields ignored)."""

    edx_id: str  # the course config's edx_id
    course_name: str  # edx_course_name
    database: str  # the course database name
    from_date: str  # "YYYY-MM-DD", first day covered
    to_date: str  # "YYYY-MM-DD", last day covered (inclusive)
    learners_counted: int  # learners whose events count (staff excluded)
    staff_excluded: int  # how many users were excluded as staff
    weekly_activity: list[dict]  # {interval_start, label, count}
    videos: list[dict]  # VideoViewings.video_rows()
    video_segments: list[dict]  # {video_id, block_id, segment, num_users, num_views}
    time_on_task: list[dict]  # {username, day, seconds, seconds_by_category, sessions, events}
    learners: list[dict]  # learner_row()
    generated_for: str = ""  # what the run was keyed on (e.g. the logical date), shown in the footer
    least_watched_count: int = LEAST_WATCHED_COUNT  # rows of the least-watched table


# --- formatting ----------------------------------------------------------------------------------


def clock(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on (a video position or length)."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _plotly_text(value: str) -> str:
    """A data string for a plotly text (trace name, title, button): plotly reads those as HTML, so escape it.

    Only ``&``, ``<`` and ``>``: plotly decodes ``&amp;``, ``&lt;``, ``&gt;`` and numeric entities but
    shows ``&quot;`` as written, and without ``<`` no tag (nor its quoted attributes) can form.
    """
    return html.escape(value, quote=False)


def video_label(video: Mapping[str, Any]) -> str:
    """A video's name for people: its display name, else its id."""
    return as_text(video.get("display_name")).strip() or as_text(video.get("video_id"))


def _shorten(text: str, length: int = 60) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


@functools.cache
def plotly_bundle() -> str:
    """plotly.js (minified), as the plotly package ships it: read once, embedded in every page."""
    return plotly.offline.get_plotlyjs()


def figure_json_for_html(figure: go.Figure) -> str:
    """The figure as JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` as ``\\u`` escapes."""
    text = plotly.io.to_json(figure, validate=False, engine="json")
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


# --- the figures ---------------------------------------------------------------------------------


def _figure(
    traces: Sequence[go.Bar | go.Scatter], title: str, x_title: str, y_title: str, **layout: Any
) -> go.Figure:
    """One figure with the report's common layout, built in one pass (plotly's updates are slow)."""
    xaxis, yaxis = layout.pop("xaxis", {}), layout.pop("yaxis", {})
    return go.Figure(
        data=list(traces),
        layout={
            "template": PLOTLY_TEMPLATE,
            "title": {"text": title},
            "height": CHART_HEIGHT,
            "margin": {"l": 60, "r": 20, "t": 70, "b": 60},
            "legend": {"orientation": "h", "y": -0.2},
            "xaxis": {"title": {"text": x_title}, "automargin": True, **xaxis},
            "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "automargin": True, **yaxis},
            **layout,
        },
    )


def weekly_activity_figure(data: CourseReportData) -> go.Figure | None:
    """Grouped bars: distinct learners per week, one colour per label."""
    weeks, series = weekly_series(data.weekly_activity, data.from_date, data.to_date)
    if not weeks or not any(any(counts) for counts in series.values()):
        return None
    traces = [
        go.Bar(
            x=weeks,
            y=counts,
            name=_plotly_text(LABEL_NAMES.get(label, label)),
            marker={"color": LABEL_COLOURS.get(label)},
            hovertemplate="%{fullData.name}<br>Week of %{x}: %{y} learners<extra></extra>",
        )
        for label, counts in series.items()
    ]
    return _figure(
        traces,
        "Learners per week, by activity",
        "Week (starting Monday, UTC)",
        "Learners",
        barmode="group",
        xaxis={"type": "category"},
    )


def _videos_to_chart(data: CourseReportData) -> list[tuple[str, list[DropoffPoint]]]:
    """(label, curve) of the viewed videos, most viewed first, at most :data:`MAXIMUM_VIDEOS_CHARTED`."""
    segments_by_video: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in data.video_segments:
        segments_by_video[as_text(row.get("video_id"))].append(row)
    videos = {as_text(video.get("video_id")): video for video in data.videos}
    for video_id, rows in segments_by_video.items():  # segments of a video missing from `videos`
        if video_id not in videos:
            videos[video_id] = {
                "video_id": video_id,
                "total_viewed_seconds": sum(as_count(r.get("num_views")) for r in rows),
            }
    charted = []
    for video in sorted(videos.values(), key=video_popularity_key):
        video_id = as_text(video.get("video_id"))
        length = as_number(video.get("segment_length"), SEGMENT_LENGTH) or SEGMENT_LENGTH
        duration = as_number(video.get("duration"), 0.0) or None
        curve = dropoff_curve(segments_by_video.get(video_id, []), length, duration)
        if curve:
            charted.append((video_label(video), curve))
    return _distinct_labels(charted)[:MAXIMUM_VIDEOS_CHARTED]


def _distinct_labels(charted: list[tuple[str, list[DropoffPoint]]]) -> list[tuple[str, list[DropoffPoint]]]:
    """Number the second and later videos of one name (two ids of one video are two rows), so each line is told apart."""
    seen: dict[str, int] = defaultdict(int)
    named = []
    for label, curve in charted:
        seen[label] += 1
        named.append((label if seen[label] == 1 else f"{label} ({seen[label]})", curve))
    return named


def video_dropoff_figure(data: CourseReportData) -> go.Figure | None:
    """Views per segment, one step line per video; past :data:`MAXIMUM_VIDEO_LINES` videos, a dropdown picks one."""
    charted = _videos_to_chart(data)
    if not charted:
        return None
    one_at_a_time = len(charted) > MAXIMUM_VIDEO_LINES
    traces = [
        go.Scatter(
            x=[point.seconds for point in curve],
            y=[point.views for point in curve],
            customdata=[[point.users, clock(point.seconds)] for point in curve],
            name=_plotly_text(_shorten(label)),
            mode="lines",
            line={"shape": "hv"},
            visible=index == 0 or not one_at_a_time,
            hovertemplate="%{fullData.name}<br>from %{customdata[1]}: %{y} views by %{customdata[0]} learners"
            "<extra></extra>",
        )
        for index, (label, curve) in enumerate(charted)
    ]
    dropdown = {"updatemenus": [_video_dropdown([label for label, _ in charted])], "showlegend": False}
    return _figure(
        traces,
        "Video drop-off: views per 5-second segment",
        "Seconds into the video",
        "Views",
        **(dropdown if one_at_a_time else {}),
    )


def _video_dropdown(labels: list[str]) -> dict[str, Any]:
    buttons = [
        {
            "label": _plotly_text(_shorten(label)),
            "method": "restyle",
            "args": [{"visible": [other == index for other in range(len(labels))]}],
        }
        for index, label in enumerate(labels)
    ]
    return {"type": "dropdown", "buttons": buttons, "active": 0, "x": 1.0, "xanchor": "right", "y": 1.15}


def time_on_task_figure(data: CourseReportData) -> go.Figure | None:
    """Bars of learners by total time on task in minutes, with a dashed line at the median."""
    minutes = learner_minutes(data.learners, data.time_on_task)
    if not minutes:
        return None
    histogram = minute_histogram(minutes)
    width, bins = histogram.bin_minutes, range(len(histogram.counts))
    bars = go.Bar(
        x=[index * width + width / 2 for index in bins],
        y=histogram.counts,
        width=width,
        customdata=[f"{index * width}–{(index + 1) * width} min" for index in bins],
        marker={"color": "#17becf", "line": {"color": "#ffffff", "width": 1}},
        name="Learners",
        hovertemplate="%{customdata}: %{y} learners<extra></extra>",
    )
    median = statistics.median(minutes)
    return _figure(
        [bars],
        f"Time on task per learner ({len(minutes)} learners, {width}-minute bins)",
        "Total time on task (minutes)",
        "Learners",
        shapes=[_median_line(median)],
        annotations=[_median_label(median)],
    )


def _median_line(median: float) -> dict[str, Any]:
    return {"type": "line", "xref": "x", "yref": "paper", "x0": median, "x1": median, "y0": 0, "y1": 1,
            "line": {"dash": "dash", "color": "#444444"}}  # fmt: skip


def _median_label(median: float) -> dict[str, Any]:
    return {"xref": "x", "yref": "paper", "x": median, "y": 1, "xanchor": "left", "yanchor": "bottom",
            "showarrow": False, "text": f"median {median:.0f} min"}  # fmt: skip


def time_by_category_figure(data: CourseReportData) -> go.Figure | None:
    """Horizontal bars: the course's time on task per category, in hours (minutes when under two hours)."""
    totals = seconds_by_category(data.time_on_task)
    if not any(totals.values()):
        return None
    unit, seconds_per_unit = ("hours", 3600) if max(totals.values()) >= 7200 else ("minutes", 60)
    grand_total = sum(totals.values())
    bars = go.Bar(
        x=[seconds / seconds_per_unit for seconds in totals.values()],
        y=[_plotly_text(CATEGORY_NAMES.get(category, category)) for category in totals],
        orientation="h",
        customdata=[f"{seconds / grand_total:.0%}" for seconds in totals.values()],
        marker={"color": "#8c564b"},
        name="Time on task",
        hovertemplate=f"%{{y}}: %{{x:.1f}} {unit} (%{{customdata}})<extra></extra>",
    )
    return _figure(
        [bars],
        "Time on task by activity (all learners)",
        f"Time ({unit})",
        "",
        yaxis={"autorange": "reversed", "rangemode": "normal"},
    )


# --- the page ------------------------------------------------------------------------------------


def _escape(value: object) -> str:
    return html.escape(as_text(value), quote=True)


def _chart_section(chart_id: str, heading: str, intro: str, figure: go.Figure | None, no_data: str) -> str:
    if figure is None:
        body = f'<p class="no-data">No data: {_escape(no_data)}</p>'
    else:
        body = (
            f'<div class="chart" id="{chart_id}"></div>\n'
            f'<script type="application/json" class="figure" data-chart="{chart_id}">'
            f"{figure_json_for_html(figure)}</script>"
        )
    return (
        f'<section>\n<h2>{_escape(heading)}</h2>\n<p class="intro">{_escape(intro)}</p>\n{body}\n</section>'
    )


def _share(value: object) -> str:
    share = as_number(value, -1.0)
    return f"{share:.0%}" if share >= 0 else "–"


def _duration_cell(video: Mapping[str, Any]) -> str:
    duration = as_number(video.get("duration"), 0.0)
    if not duration:
        return "unknown"
    source = as_text(video.get("duration_source")).replace("_", " ")
    return f'<span title="from {_escape(source)}">{clock(duration)}</span>' if source else clock(duration)


def least_watched_table(data: CourseReportData) -> str:
    """The least-watched videos as an HTML table, or a no-data note."""
    videos = least_watched_videos(data.videos, data.least_watched_count)
    if not videos:
        return '<p class="no-data">No data: no video event in this period.</p>'
    rows = "\n".join(
        "<tr>"
        f"<td>{_escape(video_label(video))}<br><code>{_escape(video.get('video_id'))}</code></td>"
        f'<td class="number">{as_count(video.get("unique_viewers"))}</td>'
        f'<td class="number">{as_count(video.get("viewings"))}</td>'
        f'<td class="number">{as_count(video.get("users_at_start"))}</td>'
        f'<td class="number">{as_count(video.get("users_at_end"))}</td>'
        f'<td class="number">{_share(video.get("mean_share"))}</td>'
        f'<td class="number">{_duration_cell(video)}</td>'
        "</tr>"
        for video in videos
    )
    return (
        '<table class="least-watched">\n<thead><tr><th>Video</th><th>Unique viewers</th><th>Viewings</th>'
        "<th>Viewers at the start</th><th>Viewers at the end</th><th>Mean share watched</th>"
        f"<th>Duration</th></tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    )


def _period(data: CourseReportData) -> str:
    first, last = as_day(data.from_date), as_day(data.to_date)
    days = f" ({(last - first).days + 1} days)" if first and last and last >= first else ""
    return f"{_escape(data.from_date)} to {_escape(data.to_date)}{days}"


def _header(data: CourseReportData) -> str:
    facts = [
        ("Course id", f"<code>{_escape(data.edx_id)}</code>"),
        ("Database", f"<code>{_escape(data.database)}</code>"),
        ("Period (UTC, inclusive)", _period(data)),
        ("Learners counted", str(data.learners_counted)),
        ("Staff excluded", str(data.staff_excluded)),
        ("Videos with events", str(len(data.videos))),
    ]
    items = "\n".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    return f'<header>\n<h1>{_escape(data.course_name or data.edx_id)}</h1>\n<dl class="facts">\n{items}\n</dl>\n</header>'


def _sections(data: CourseReportData) -> list[str]:
    return [
        _chart_section(
            "chart-weekly-activity",
            "Weekly activity",
            "Distinct learners per ISO week who did anything in the course, attempted a problem, "
            "played a video or posted in the forum (a learner counts once per week and activity).",
            weekly_activity_figure(data),
            "no learner activity in this period.",
        ),
        _chart_section(
            "chart-video-dropoff",
            "Video drop-off",
            "How many times each 5-second segment of a video was watched: where the curve falls, "
            "viewers stopped or skipped. Most-viewed videos first.",
            video_dropoff_figure(data),
            "no video was watched in this period.",
        ),
        _chart_section(
            "chart-time-on-task",
            "Time on task",
            "Each learner's total time on task over the period (time between consecutive events, "
            "sessions end after 30 idle minutes, so this is a lower bound).",
            time_on_task_figure(data),
            "no learner and no time on task in this period.",
        ),
        _chart_section(
            "chart-time-by-category",
            "Time by activity",
            "Where the time went: videos, problems, forum, course pages, other pages.",
            time_by_category_figure(data),
            "no time on task in this period.",
        ),
        '<section>\n<h2>Least-watched videos</h2>\n<p class="intro">'
        f"The {data.least_watched_count} videos with the fewest unique viewers (then the fewest seconds "
        "watched). A video no learner opened in this period has no events, and is not listed.</p>\n"
        f"{least_watched_table(data)}\n</section>",
    ]


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #222;
       margin: 0 auto; padding: 1.5rem; max-width: 1200px; line-height: 1.4; }
h1 { margin: 0 0 .75rem; font-size: 1.7rem; }
h2 { margin: 2rem 0 .25rem; font-size: 1.25rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.facts { display: flex; flex-wrap: wrap; gap: .5rem 2rem; margin: 0; }
.facts dt { font-size: .8rem; color: #666; }
.facts dd { margin: 0; font-size: 1.05rem; font-weight: 600; }
.intro { color: #555; margin: .25rem 0 .5rem; }
.chart { width: 100%; min-height: 420px; }
.no-data { padding: 1rem; background: #f6f6f6; border: 1px dashed #bbb; color: #555; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid #e3e3e3; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
td.number, th:not(:first-child) { text-align: right; }
code { font-size: .8rem; color: #555; word-break: break-all; }
footer { margin-top: 2rem; font-size: .8rem; color: #777; }
@media print {
  body { padding: 0; max-width: none; }
  section { break-inside: avoid; }
  .modebar-container { display: none !important; }
}
"""

DRAW_CHARTS = """
document.querySelectorAll("script.figure").forEach(function (island) {
  var figure = JSON.parse(island.textContent);
  Plotly.newPlot(island.dataset.chart, figure.data, figure.layout, %s);
});
"""


def render_course_report(data: CourseReportData) -> str:
    """The whole HTML document of one course's report (plotly.js embedded; no clock read, no I/O)."""
    title = f"Course KPIs: {data.course_name or data.edx_id}"
    footer = f"Computed for {_escape(data.generated_for)}. " if data.generated_for else ""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_escape(title)}</title>",
            f"<style>{STYLE}</style>",
            f"<script>{plotly_bundle()}</script>",
            "</head>",
            "<body>",
            _header(data),
            '<noscript><p class="note">The charts need JavaScript; the table works without.</p></noscript>',
            *_sections(data),
            f"<footer>{footer}Times are UTC. Staff are excluded from every figure. "
            "Charts drawn by plotly.js, embedded in this page (it works offline).</footer>",
            f"<script>{DRAW_CHARTS % json.dumps(PLOTLY_CONFIG)}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
