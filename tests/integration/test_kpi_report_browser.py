"""The course KPI report in a real browser: Debian's headless Chromium opens the page with no network, the charts draw.

A report is rendered from hand-made rows and written to a temporary directory; ``chromium
--headless=new`` opens it through a proxy that answers nothing (``127.0.0.1:9``, loopback
included), so any fetch from elsewhere would fail, and Chromium's own network log is read to
show that the page asked for nothing. ``--dump-dom`` gives the page once plotly.js has run: each
chart's container must hold plotly's rendered ``svg.main-svg`` with the expected traces and
marks; the console must be free of errors. ``--screenshot`` keeps a picture of the page as a
test artefact (``$ANALYTICS_LOCAL_DIR/artifacts/kpi-report.png``), checked here to be the size
asked for and to show the charts' colours. Chromium comes from ``make setup``: a missing
browser fails the test, it is not skipped. A page that loads plotly.js from a CDN shows that
these checks catch a page needing the network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from analytics.edx.kpi_report import CourseReportData, plotly_bundle, render_course_report

WINDOW_WIDTH, WINDOW_HEIGHT = 1280, 3000
DEAD_PROXY = "127.0.0.1:9"  # the discard port: nothing listens, every request through it fails
AUTHOR_NAME = '</script><b>Intro</b> & "welcome"'  # shown as written, never as markup
LEARNER_SECONDS = [(index * 431) % 6000 for index in range(48)]  # under 100 min: 5-minute bins (21 of them)
EXPECTED_TRACES = {
    "chart-weekly-activity": 4,  # one per label
    "chart-video-dropoff": 3,  # the three videos somebody watched
    "chart-time-on-task": 1,
    "chart-time-by-category": 1,
}
EXPECTED_MARKS = {
    "chart-weekly-activity": 3 * 4,  # three weeks with activity, four labels; 2024-03-18's bars are flat
    "chart-video-dropoff": 3,
    "chart-time-on-task": len({seconds // 300 for seconds in LEARNER_SECONDS}),  # the bins somebody is in
    "chart-time-by-category": 5,
}
ACTIVE_BLUE, HISTOGRAM_CYAN, CATEGORY_BROWN = (0x1F, 0x77, 0xB4), (0x17, 0xBE, 0xCF), (0x8C, 0x56, 0x4B)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- hand-made rows --------------------------------------------------------------------------------


def video_row(video_id: str, name: str, duration: float, viewers: int) -> dict:
    return {
        "_id": f"run-7:{video_id}",
        "video_id": video_id,
        "block_id": f"block-v1:Demo+DX101+2024+type@video+block@{video_id}",
        "display_name": name,
        "duration": duration,
        "duration_source": "events",
        "segment_length": 5,
        "users_at_start": viewers,
        "users_at_end": viewers // 3,
        "total_viewed_seconds": viewers * duration * 0.6,
        "unique_viewers": viewers,
        "viewings": viewers + 3,
        "mean_share": 0.6 if viewers else None,
        "share_histogram": [0] * 10,
    }


def segment_rows(video_id: str, duration: float, viewers: int) -> list[dict]:
    """A falling curve, with one segment nobody watched (segment 4 is absent, as the KPIs leave it)."""
    segments = range(int(duration // 5) + 1)
    return [
        {"video_id": video_id, "block_id": None, "segment": number, "num_users": max(viewers - number // 3, 1),
         "num_views": max(viewers - number // 3, 1) + 2}
        for number in segments
        if number != 4
    ]  # fmt: skip


def course_data() -> CourseReportData:
    weeks = [("2024-03-04", 48), ("2024-03-11", 41), ("2024-03-25", 23)]  # 2024-03-18: nobody
    labels = [("ACTIVE", 1.0), ("ATTEMPTED_PROBLEM", 0.5), ("PLAYED_VIDEO", 0.35), ("POSTED_FORUM", 0.1)]
    videos = [
        video_row("intro", AUTHOR_NAME, 75.0, 40),
        video_row("lecture1", "Lecture 1: forces", 300.0, 25),
        video_row("lab", "Lab walk-through", 140.0, 4),
        video_row("extra", "Optional extra", 90.0, 0),
    ]
    segments = [row for video in videos if video["unique_viewers"] for row in
                segment_rows(video["video_id"], video["duration"], video["unique_viewers"])]  # fmt: skip
    categories = {"video": 1500.0, "problem": 1100.0, "forum": 120.0, "courseware": 700.0, "other": 90.0}
    return CourseReportData(
        edx_id="course-v1:Demo+DX101+2024",
        course_name="Demo <Physics> 101",
        database="demo_dx101",
        from_date="2024-03-04",
        to_date="2024-03-31",
        learners_counted=48,
        staff_excluded=2,
        weekly_activity=[
            {"_id": f"{week}:{label}", "interval_start": week, "label": label, "count": round(base * share)}
            for week, base in weeks
            for label, share in labels
        ],
        videos=videos,
        video_segments=segments,
        time_on_task=[
            {
                "username": f"learner{index}",
                "day": "2024-03-05",
                "seconds": sum(categories.values()),
                "seconds_by_category": categories,
                "sessions": 2,
                "events": 40,
            }
            for index in range(3)
        ],  # fmt: skip
        learners=[
            {"username": f"learner{index}", "time_on_task_seconds": seconds}
            for index, seconds in enumerate(LEARNER_SECONDS)
        ],
        generated_for="2024-04-01",
    )


def empty_course_data() -> CourseReportData:
    return CourseReportData(
        edx_id="course-v1:Demo+EMPTY+2024", course_name="A course nobody opened", database="demo_empty",
        from_date="2024-03-04", to_date="2024-03-10", learners_counted=0, staff_excluded=0,
        weekly_activity=[], videos=[], video_segments=[], time_on_task=[], learners=[],
    )  # fmt: skip


# --- the browser -----------------------------------------------------------------------------------


@dataclass
class BrowserRun:
    stdout: str
    console: list[str]  # the page's console messages
    page_requests: list[str]  # URLs the page asked the network for (Chromium's own traffic left out)


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("Debian's chromium is not installed: `make setup` installs it (apt-get install chromium)")
    return binary


def open_in_chromium(binary: str, page: Path, work_dir: Path, *options: str) -> BrowserRun:
    """Run headless Chromium on ``page`` with no usable network; its output, console and the page's requests."""
    net_log = work_dir / f"net-log-{page.stem}.json"
    command = [
        binary,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        f"--user-data-dir={work_dir / 'chromium-profile'}",
        f"--proxy-server={DEAD_PROXY}",
        "--proxy-bypass-list=<-loopback>",  # loopback through the dead proxy too
        f"--log-net-log={net_log}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        *options,
        page.as_uri(),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    console = [line for line in finished.stderr.splitlines() if ":CONSOLE" in line]
    return BrowserRun(stdout=finished.stdout, console=console, page_requests=requests_of_the_page(net_log))


def requests_of_the_page(net_log: Path) -> list[str]:
    """URLs of the network requests made for a ``file://`` page (Chromium's update and account checks have no such key)."""
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start_job
        and "url" in event.get("params", {})
        and "file://" in str(event["params"].get("network_isolation_key", ""))
    ]


@dataclass
class DrawnChart:
    main_svgs: int = 0
    traces: int = 0
    marks: int = 0  # bars with an area, lines of more than one point
    legend: list[str] = field(default_factory=list)


def is_drawn_mark(classes: list[str], shape: str, in_bar: bool) -> bool:
    """A line's path with more than one point, or a bar's rectangle with an area (a 0 bar is a flat one)."""
    if "js-line" in classes:
        return len(re.findall(r"[LHV]", shape)) >= 1
    return in_bar and len(set(re.findall(r"-?\d+(?:\.\d+)?", shape))) > 3  # 4 corners: x0, x1, y0, y1


class RenderedPage(HTMLParser):
    """What a dumped DOM shows: every plotly container (by id) and what was drawn in it, and the no-data notes."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.charts: dict[str, DrawnChart] = {}
        self.no_data_notes: list[str] = []
        self._chart: DrawnChart | None = None
        self._div_depth = 0  # divs open inside the current chart
        self._in_bar = False  # inside a bar's <g class="point">
        self._text_target: list[str] | None = None
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "p" and "no-data" in classes:
            self._collect_text(self.no_data_notes)
        if tag == "div" and self._chart is not None:
            self._div_depth += 1
        elif tag == "div" and "js-plotly-plot" in classes:
            self._chart = self.charts[attributes.get("id") or f"unnamed-{len(self.charts)}"] = DrawnChart()
            self._div_depth = 1
        chart = self._chart
        if chart is None:
            return
        if tag == "svg" and "main-svg" in classes:
            chart.main_svgs += 1
        elif tag == "g" and classes[:1] == ["trace"]:
            chart.traces += 1
        elif tag == "g":
            self._in_bar = classes == ["point"]
        elif tag == "path" and is_drawn_mark(classes, attributes.get("d") or "", self._in_bar):
            chart.marks += 1
        elif tag == "text" and "legendtext" in classes:
            self._collect_text(chart.legend)

    def _collect_text(self, texts: list[str]) -> None:
        texts.append("")
        self._text_target = texts

    def handle_endtag(self, tag: str) -> None:
        if tag in ("text", "p"):
            self._text_target = None
        if tag == "g":
            self._in_bar = False
        if tag == "div" and self._chart is not None:
            self._div_depth -= 1
            if self._div_depth == 0:
                self._chart = None

    def handle_data(self, data: str) -> None:
        if self._text_target is not None:
            self._text_target[-1] += data


# --- the screenshot --------------------------------------------------------------------------------


def png_pixels(data: bytes) -> np.ndarray:
    """The pixels of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) as a ``(height, width, 3)`` array."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    chunks, position = {}, 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks.setdefault(kind, []).append(data[position + 8 : position + 8 + length])
        position += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type, interlace)
    channels = 3 if colour_type == 2 else 4
    lines = np.frombuffer(zlib.decompress(b"".join(chunks[b"IDAT"])), np.uint8).reshape(
        height, width * channels + 1
    )
    pixels = np.zeros((height, width * channels), np.uint8)
    above = np.zeros(width * channels, np.uint8)
    for row in range(height):
        pixels[row] = above = unfilter(int(lines[row, 0]), lines[row, 1:], above, channels)
    return pixels.reshape(height, width, channels)[:, :, :3]


def unfilter(kind: int, line: np.ndarray, above: np.ndarray, channels: int) -> np.ndarray:
    """Undo one scanline's PNG filter (0 none, 1 sub, 2 up, 3 average, 4 Paeth)."""
    if kind == 0:
        return line
    if kind == 1:
        return line.reshape(-1, channels).cumsum(axis=0, dtype=np.uint8).reshape(-1)
    if kind == 2:
        return line + above
    current, previous = [0] * len(line), above.tolist()
    for index, value in enumerate(line.tolist()):
        left = current[index - channels] if index >= channels else 0
        if kind == 3:
            current[index] = (value + (left + previous[index]) // 2) & 0xFF
            continue
        upper_left = previous[index - channels] if index >= channels else 0
        estimate = left + previous[index] - upper_left
        distances = (abs(estimate - left), abs(estimate - previous[index]), abs(estimate - upper_left))
        nearest = (left, previous[index], upper_left)[distances.index(min(distances))]
        current[index] = (value + nearest) & 0xFF
    return np.array(current, np.uint8)


def pixels_of_colour(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(pixels == np.array(colour, np.uint8), axis=2).sum())


# --- the tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("kpi-report") / "course-v1_Demo_DX101_2024.html"
    page.write_text(render_course_report(course_data()), encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def screenshot_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    local = os.environ.get("ANALYTICS_LOCAL_DIR")
    directory = Path(local) / "artifacts" if local else tmp_path_factory.mktemp("artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    screenshot = directory / "kpi-report.png"
    screenshot.unlink(missing_ok=True)
    return screenshot


@pytest.fixture(scope="module")
def report_in_chromium(
    chromium: str, report_page: Path, screenshot_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> BrowserRun:
    """One run of the browser on the report: its DOM once drawn, and the screenshot (kept with the page beside it)."""
    run = open_in_chromium(
        chromium,
        report_page,
        tmp_path_factory.mktemp("chromium"),
        "--dump-dom",
        f"--screenshot={screenshot_path}",
        f"--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}",
        "--hide-scrollbars",
    )
    shutil.copyfile(report_page, screenshot_path.with_suffix(".html"))
    print(
        f"\nKPI report screenshot: {screenshot_path} (the page beside it: {screenshot_path.with_suffix('.html')})"
    )
    return run


def test_the_report_asks_the_network_for_nothing_and_logs_no_error(report_in_chromium: BrowserRun):
    assert report_in_chromium.page_requests == []
    assert report_in_chromium.console == []


def test_every_chart_draws_its_traces_and_marks(report_in_chromium: BrowserRun):
    page = RenderedPage(report_in_chromium.stdout)
    assert set(page.charts) == set(EXPECTED_TRACES)
    for chart_id, chart in page.charts.items():
        assert chart.main_svgs >= 1, f"{chart_id}: plotly drew nothing"
        assert chart.traces == EXPECTED_TRACES[chart_id], chart_id
        assert chart.marks == EXPECTED_MARKS[chart_id], f"{chart_id}: {chart.marks} bars or lines drawn"
    assert page.charts["chart-weekly-activity"].legend == [
        "Active",
        "Attempted a problem",
        "Played a video",
        "Posted in the forum",
    ]
    # Most viewed first, and the author's markup shown as written (not bold, not a closed script).
    assert page.charts["chart-video-dropoff"].legend == [AUTHOR_NAME, "Lecture 1: forces", "Lab walk-through"]
    assert page.no_data_notes == []


def test_the_screenshot_shows_the_charts(report_in_chromium: BrowserRun, screenshot_path: Path):
    pixels = png_pixels(screenshot_path.read_bytes())
    assert pixels.shape == (WINDOW_HEIGHT, WINDOW_WIDTH, 3)
    assert screenshot_path.stat().st_size > 50_000
    not_white = np.any(pixels < 245, axis=2).mean()
    assert not_white > 0.05, f"only {not_white:.1%} of the page is not white"
    for name, colour in [
        ("weekly bars", ACTIVE_BLUE),
        ("histogram", HISTOGRAM_CYAN),
        ("category bars", CATEGORY_BROWN),
    ]:
        assert pixels_of_colour(pixels, colour) > 2_000, f"the {name} are not in the screenshot"


def test_a_course_without_data_opens_as_a_readable_page_of_notes(chromium: str, tmp_path: Path):
    page_file = tmp_path / "empty.html"
    page_file.write_text(render_course_report(empty_course_data()), encoding="utf-8")
    run = open_in_chromium(chromium, page_file, tmp_path, "--dump-dom")
    page = RenderedPage(run.stdout)
    assert run.console == [] and run.page_requests == []
    assert page.charts == {}
    assert len(page.no_data_notes) == 5 and all(note.startswith("No data: ") for note in page.no_data_notes)
    assert "<h1>A course nobody opened</h1>" in run.stdout


def test_a_page_that_needs_the_network_is_caught(chromium: str, report_page: Path, tmp_path: Path):
    """The guard of the tests above: plotly.js from a CDN instead of embedded is seen asking, and draws nothing."""
    cdn_script = "https://cdn.example.invalid/plotly.min.js"
    page_file = tmp_path / "from-a-cdn.html"
    embedded, report = f"<script>{plotly_bundle()}</script>", report_page.read_text(encoding="utf-8")
    assert report.count(embedded) == 1
    page_file.write_text(report.replace(embedded, f'<script src="{cdn_script}"></script>'), encoding="utf-8")
    run = open_in_chromium(chromium, page_file, tmp_path, "--dump-dom")
    assert run.page_requests == [cdn_script]
    assert RenderedPage(run.stdout).charts == {}
    assert any("Plotly is not defined" in line for line in run.console)
