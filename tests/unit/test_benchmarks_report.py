"""The one report of ``make bench`` (scripts/benchmarks/report.py, machine.py, run_all.py): the
parts assembled with the run (what was met, missed, or failed), report.md's tables, the tracking
plots written with one point per size, the machine read from /proc, and the driver's commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.benchmarks.figures import TRACKING_SERIES
from scripts.benchmarks.machine import cpu_model, memory_total_mb, mongo_version_text
from scripts.benchmarks.records import Figure, Target, part_record, write_part
from scripts.benchmarks.report import (
    MEMORY_PLOT,
    THROUGHPUT_PLOT,
    assemble,
    format_value,
    memory_plot,
    render_markdown,
    throughput_plot,
    write_plots,
    write_report,
)
from scripts.benchmarks.run_all import BENCHMARKS, SMALL_ARGUMENTS, commands, parse_arguments

POINTS = [
    {
        "events": 100_000,
        "seconds": 52.0,
        "events_per_second": 1923.1,
        "peak_rss_mb": 143.5,
        "peak_rss_mb_before_load": 136.0,
    },
    {
        "events": 200_000,
        "seconds": 107.4,
        "events_per_second": 1862.2,
        "peak_rss_mb": 143.8,
        "peak_rss_mb_before_load": 136.1,
    },
    {
        "events": 400_000,
        "seconds": 233.2,
        "events_per_second": 1715.3,
        "peak_rss_mb": 143.9,
        "peak_rss_mb_before_load": 136.2,
    },
]


def tracking_part() -> dict:
    return part_record(
        "tracking",
        "Tracking-log master load (issue 7)",
        [
            Figure(
                "own work",
                46_777,
                "events/s",
                "gunzip + orjson",
                117_983,
                Target(">=", 0.6),
                given_ratio=0.396,
            ),
            Figure(
                "full load", 1_861, "events/s", "insert_many", 1_995, Target(">=", 0.8), given_ratio=0.933
            ),
            Figure("peak RSS", 143.9, "MB", target=Target("<", 300.0, on="value")),
        ],
        parameters={"database_events": 200_000},
        series={TRACKING_SERIES: POINTS},
    )


def edx_part() -> dict:
    return part_record(
        "edx", "edX course ingestion (issue 6)", [Figure("ingest", 1_780, "rows/s", "insert_many", 1_740)]
    )


def run(*scripts: tuple[str, int]) -> dict:
    return {
        "command": "make bench",
        "sizes": "full",
        "started": "2026-12-02T05:00:00+00:00",
        "finished": "2026-12-02T06:00:00+00:00",
        "seconds": 3600.0,
        "machine": {
            "cpu_model": "Example CPU @ 2.0GHz",
            "cores": 2,
            "cores_usable": 2,
            "memory_mb": 8192.0,
            "python": "3.11.7",
            "platform": "Linux",
            "servers": {"postgresql": "PostgreSQL 15.18", "mongodb": "7.0.0 (nx)"},
        },
        "load_average": {"start": [1.1, 1.0, 0.9], "end": [1.7, 1.2, 1.0]},
        "scripts": [
            {
                "benchmark": name,
                "command": f"python scripts/bench_{name}.py",
                "exit_code": code,
                "seconds": 1.0,
            }
            for name, code in scripts
        ],
    }


def test_the_summary_counts_targets_met_and_missed_in_the_benchmarks_order() -> None:
    report = assemble([tracking_part(), edx_part()], run(("edx", 0), ("tracking", 0)))
    assert [part["benchmark"] for part in report["benchmarks"]] == ["edx", "tracking"]
    summary = report["summary"]
    assert (summary["figures"], summary["targets"], summary["met"]) == (4, 3, 2)
    assert summary["missed"] == ["tracking: own work"]
    assert summary["errors"] == [] and summary["ok"] is False


def test_a_run_with_every_target_met_is_ok() -> None:
    part = tracking_part()
    part["figures"] = part["figures"][1:]
    assert assemble([part], run(("tracking", 0)))["summary"]["ok"] is True


def test_a_script_that_wrote_nothing_or_failed_with_no_miss_is_an_error() -> None:
    part = tracking_part()
    part["figures"] = part["figures"][1:]  # every target met
    report = assemble([part, edx_part()], run(("engagement", 1), ("tracking", 1), ("edx", 0)))
    assert report["summary"]["errors"] == [
        "engagement: `python scripts/bench_engagement.py` exited 1 and wrote no figures",
        "tracking: `python scripts/bench_tracking.py` exited 1 with no target missed",
    ]
    assert report["summary"]["ok"] is False
    # Exiting 1 because a target was missed is the miss, not an error besides it.
    assert assemble([tracking_part()], run(("tracking", 1)))["summary"]["errors"] == []


def test_an_error_note_of_a_part_is_an_error() -> None:
    part = tracking_part()
    part["notes"] = ["extraction: ERROR KeyError: 'x'"]
    assert assemble([part], run(("tracking", 0)))["summary"]["errors"] == [
        "tracking: extraction: ERROR KeyError: 'x'"
    ]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1861.41, "events/s", "1,861"),
        (3.4911, "s", "3.49"),
        (143.86, "MB", "143.9"),
        (7000, "messages", "7,000"),
        (None, "s", "—"),
    ],
)
def test_values_are_formatted_by_unit(value, unit, text) -> None:
    assert format_value(value, unit) == text


def test_the_markdown_shows_the_machine_and_each_figure_beside_its_anchor() -> None:
    report = assemble([tracking_part(), edx_part()], run(("edx", 0), ("tracking", 0)))
    report["plots"] = [{"title": "Throughput", "link": "plots/tracking_load_throughput.png", "points": 3}]
    text = render_markdown(report)
    assert "| CPU | Example CPU @ 2.0GHz: 2 cores (2 usable) |" in text
    assert "| memory | 8.0 GB |" in text
    assert "| PostgreSQL | PostgreSQL 15.18 |" in text
    assert "| load average (1, 5, 15 min) | 1.1 1 0.9 at start, 1.7 1.2 1 at end |" in text
    assert (
        "| own work | 46,777 events/s | gunzip + orjson | 117,983 | 0.396 | ratio >= 0.6 | **MISSED** |"
        in text
    )
    assert "| full load | 1,861 events/s | insert_many | 1,995 | 0.933 | ratio >= 0.8 | met |" in text
    assert "| peak RSS | 143.9 MB | — | — | — | value < 300 MB | met |" in text
    assert "| ingest | 1,780 rows/s | insert_many | 1,740 | 1.023 | — |  |" in text
    assert "| Tracking-log master load (issue 7) | 3 | 2 of 3 | 1 | 0 | 1.0 |" in text
    assert "- missed: tracking: own work" in text
    assert "![Throughput](plots/tracking_load_throughput.png)" in text
    assert "do not quote" not in text
    report["run"]["sizes"] = "small"
    assert "do not quote these figures" in render_markdown(report)


def test_the_plots_have_one_point_per_size() -> None:
    throughput = throughput_plot(POINTS)
    cost, rate = throughput.axes
    assert list(cost.lines[0].get_xdata()) == [100_000, 200_000, 400_000]
    assert list(cost.lines[0].get_ydata()) == [52.0, 107.4, 233.2]
    assert list(cost.lines[1].get_ydata()) == [
        0,
        pytest.approx(233.2),
    ]  # the proportional line ends at the largest
    assert list(rate.lines[0].get_ydata()) == [1923.1, 1862.2, 1715.3]
    memory = memory_plot(POINTS, 300.0).axes[0]
    assert [len(line.get_xdata()) for line in memory.lines[:2]] == [3, 3]
    assert list(memory.lines[0].get_ydata()) == [143.5, 143.8, 143.9]
    assert memory.lines[2].get_ydata()[0] == 300.0  # the limit


def test_the_plots_are_written_as_png(tmp_path: Path) -> None:
    written = write_plots(POINTS, tmp_path / "plots", 300.0)
    assert [Path(plot["path"]).name for plot in written] == [THROUGHPUT_PLOT, MEMORY_PLOT]
    for plot in written:
        assert Path(plot["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert plot["points"] == 3


def test_write_report_from_the_parts_folder(tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    write_part(tracking_part(), parts)
    write_part(edx_part(), parts)
    (parts / "broken.json").write_text("{")
    report = write_report(run(("edx", 0), ("tracking", 0)), parts, tmp_path)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["summary"] == report["summary"]
    assert saved["summary"]["errors"] == [
        "part broken.json: not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    ]
    assert [plot["link"] for plot in saved["plots"]] == [f"plots/{THROUGHPUT_PLOT}", f"plots/{MEMORY_PLOT}"]
    assert all(plot["points"] == 3 for plot in saved["plots"])
    assert (tmp_path / "plots" / THROUGHPUT_PLOT).exists() and (tmp_path / "plots" / MEMORY_PLOT).exists()
    assert (tmp_path / "report.md").read_text() == render_markdown(report)


def test_no_tracking_part_no_plots(tmp_path: Path) -> None:
    write_part(edx_part(), tmp_path / "parts")
    report = write_report(run(("edx", 0)), tmp_path / "parts", tmp_path)
    assert report["plots"] == [] and not (tmp_path / "plots").exists()
    assert report["summary"]["ok"] is True


def test_the_machine_is_read_from_proc() -> None:
    cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: other\n"
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert cpu_model("processor\t: 0\nFeatures\t: fp asimd\n") is None
    assert memory_total_mb("MemFree:         1000 kB\nMemTotal:        8167848 kB\n") == 7976.4
    assert memory_total_mb("") is None


def test_the_mongodb_version_or_its_wire_versions() -> None:
    hello = {"minWireVersion": 17, "maxWireVersion": 25}
    assert mongo_version_text({"version": "7.0.4"}, hello) == "7.0.4 (wire versions 17 to 25)"
    assert (
        mongo_version_text({"ok": 1, "result": []}, hello)
        == "no version in buildInfo (wire versions 17 to 25)"
    )


def test_the_driver_runs_every_benchmark_and_small_sizes_only_when_asked() -> None:
    full = commands(list(BENCHMARKS), small=False)
    assert [name for name, _ in full] == ["engagement", "edx", "tracking", "kpis", "bi", "messages"]
    assert all(command[1:] == [BENCHMARKS[name]] for name, command in full)
    small = dict(commands(["tracking"], small=True))
    assert small["tracking"][1:] == ["scripts/bench_tracking.py", *SMALL_ARGUMENTS["tracking"]]
    assert parse_arguments(["--only", "bi,edx"]).only == ["bi", "edx"]
    with pytest.raises(SystemExit):
        parse_arguments(["--only", "nope"])
