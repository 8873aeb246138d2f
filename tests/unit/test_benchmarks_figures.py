"""Each benchmark's figures for the one report (scripts/benchmarks/figures.py), from results of the
shape the benchmark scripts write: every figure beside its anchor, the issues' targets judged as
the scripts judge them, and the tracking load's points for the plots."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scripts.benchmarks.figures import (
    TRACKING_SERIES,
    benchmark_part,
    bi_figures,
    edx_figures,
    engagement_figures,
    kpis_figures,
    messages_figures,
    tracking_figures,
    tracking_load_series,
)
from scripts.benchmarks.tracking_report import targets_met


def load(events: int, seconds: float, peak: float) -> dict[str, Any]:
    return {
        "events": events,
        "seconds": seconds,
        "events_per_second": events / seconds,
        "peak_rss_mb": peak,
        "peak_rss_mb_before_load": 136.0,
    }


def tracking_results() -> dict[str, Any]:
    """Three sizes, N = 200,000 (its keys as the script writes them: text, numeric order)."""
    return {
        "own_work": {
            "events": 1_000_000,
            "runs_seconds": [21.0, 21.4, 22.0],
            "events_per_second": 46_777,
            "bare_events_per_second": 117_983,
            "ratio": 0.396,
            "cpu_seconds": 20.5,
            "bare_cpu_seconds": 8.4,
            "cpu_ratio": 0.41,
        },
        "anchor_insert_many": {"events": 200_000, "seconds": 100.2, "events_per_second": 1_995},
        "full_load": {
            "100000": load(100_000, 52.0, 143.5),
            "200000": load(200_000, 107.4, 143.8),
            "400000": load(400_000, 233.2, 143.9),
        },
        "full_load_ratio": 0.933,
        "naive": {"lines": 20_000, "events_per_second": 582},
        "speedup_over_naive": 3.2,
        "anchor_over_naive": 3.43,
        "extraction": {
            "available": True,
            "master_events": 400_000,
            "selected": 36_885,
            "enriched": 35_356,
            "events_per_second": 615.0,
        },
    }


def by_name(figures: list) -> dict:
    return {figure.name: figure for figure in figures}


def test_the_tracking_series_is_in_numeric_order_of_size() -> None:
    points = tracking_load_series(tracking_results())
    assert [point["events"] for point in points] == [
        100_000,
        200_000,
        400_000,
    ]  # not "100000" < "200000" < "400000" by luck
    results = tracking_results()
    results["full_load"]["50000"] = load(50_000, 26.0, 143.0)  # "50000" > "400000" as text
    assert [point["events"] for point in tracking_load_series(results)] == [50_000, 100_000, 200_000, 400_000]


@pytest.mark.parametrize(
    "change",
    [
        lambda r: None,
        lambda r: r["own_work"].update(ratio=0.61),
        lambda r: r.update(full_load_ratio=0.79),
        lambda r: r.update(speedup_over_naive=5.0),
        lambda r: r["full_load"]["400000"].update(peak_rss_mb=300.0),
        lambda r: r["full_load"]["400000"].update(peak_rss_mb=143.8 * 1.11),
    ],
)
def test_the_tracking_verdicts_are_the_scripts_own(change) -> None:
    results = tracking_results()
    change(results)
    figures = tracking_figures(results)
    expected = targets_met(results, 200_000, 400_000)
    judged = [figure for figure in figures if figure.met is not None]
    named = by_name(figures)
    assert named["own work: iter_lines + parse_tracking_line"].met is expected["own_work"]
    assert named["load_tracking_file of 200,000 events (N)"].met is expected["full_load"]
    assert named["load_tracking_file of N against the naive way (20,000 lines)"].met is expected["naive"]
    assert named["peak RSS, 400,000 events against 200,000 (flat)"].met is expected["flat_rss"]
    rss = [figure for figure in judged if figure.name.startswith("peak RSS of the load")]
    assert len(rss) == 3 and all(figure.met for figure in rss) is expected["peak_rss"]


def test_the_tracking_full_load_stands_beside_its_anchor() -> None:
    named = by_name(tracking_figures(tracking_results()))
    full = named["load_tracking_file of 200,000 events (N)"]
    assert (full.value, full.anchor_value, full.ratio) == (1_862, 1_995, 0.933)
    assert "load_tracking_file of 100,000 events" in named and "load_tracking_file of 400,000 events" in named
    assert named["extract_course of one course from a master of 400,000 events"].value == 615


def test_a_failed_extraction_is_a_note_not_a_figure() -> None:
    results = tracking_results()
    results["extraction"] = {"available": True, "error": "KeyError: 'x'"}
    part = benchmark_part(
        "tracking",
        results,
        {},
        started=None,
        finished=None,
        load_before=None,
        load_after=None,
        results_file=None,
    )
    assert part["notes"] == ["extraction: ERROR KeyError: 'x'"]
    assert not any(raw["name"].startswith("extract_course") for raw in part["figures"])
    assert len(part["series"][TRACKING_SERIES]) == 3


def engagement_results() -> dict[str, Any]:
    return {
        "load_events": {"seconds": [2.0, 1.9, 2.1], "rows_per_second": 507_985},
        "psql_pipe": {"rows_per_second": 535_856},
        "ratio_load_events_to_psql": 0.948,
        "target_ratio": 0.8,
        "copy_query_to_table_format": {
            "binary": {"rows_per_second": 612_295},
            "text": {"rows_per_second": 533_553},
        },
        "enrich_events": {"rows": 1_000_000, "rows_per_second": 136_724},
        "weekly_views": [
            {
                "name": "one_week_all_views",
                "week": "2024-07-01",
                "history_weeks": 26,
                "seconds": 1.18,
                "sum_of_view_medians_seconds": 1.31,
                "views": {"analytics_engagement": {"median_seconds": 0.55, "rows": 150}},
            },
            {
                "name": "weeks_in_turn",
                "weeks": 27,
                "from_week": "2024-01-01",
                "to_week": "2024-07-01",
                "seconds": 24.9,
                "per_week_seconds": {"mean": 0.92},
            },
            {"name": "explain_analyze"},
        ],
    }


def test_the_engagement_load_is_judged_against_the_psql_pipe() -> None:
    named = by_name(engagement_figures(engagement_results()))
    load_events = named["load_events"]
    assert (load_events.anchor_value, load_events.ratio, load_events.met) == (535_856, 0.948, True)
    missed = engagement_results() | {"ratio_load_events_to_psql": 0.79}
    assert by_name(engagement_figures(missed))["load_events"].met is False
    assert named["compute_week, all four views"].value == 1.18
    assert named["27 weeks one after another, per week (mean)"].value == 0.92
    assert named["copy_query_to_table (binary)"].ratio == pytest.approx(612_295 / 535_856)


def test_the_bi_tasks_are_each_within_their_bound() -> None:
    results = {
        "target_ratio": 1.5,
        "tasks": {
            "forms": {"queries": 1, "engine_seconds": 0.41, "psql_seconds": 0.31, "ratio": 1.3},
            "security_risk_clients": {
                "queries": 1,
                "engine_seconds": 0.08,
                "psql_seconds": 0.03,
                "ratio": 2.46,
            },
        },
    }
    named = by_name(bi_figures(results))
    assert named["forms"].met is True
    assert named["security_risk_clients"].met is False
    assert named["forms"].anchor_value == 0.31


def test_the_messages_dump_must_hold_every_message_of_the_range() -> None:
    results = {
        "messages_in_range": 7_000,
        "analytics": {"engine_seconds": 14.07, "pymongo_seconds": 15.68, "ratio": 0.9},
        "dump": {
            "messages": 7_000,
            "messages_per_second": 8_261.8,
            "peak_rss_mb": 109.1,
            "rss_before_mb": 97.7,
        },
    }
    named = by_name(messages_figures(results))
    assert named["messages dumped against the range's count"].met is True
    assert named["compute_counts (every metric of the analytics table)"].ratio == 0.9
    short = copy.deepcopy(results)
    short["dump"]["messages"] = 6_999
    assert by_name(messages_figures(short))["messages dumped against the range's count"].met is False


def test_edx_and_kpis_figures_stand_beside_their_anchors_without_targets() -> None:
    edx = edx_figures(
        {
            "parse_only": {"rows_per_second": 14_208},
            "anchor_insert_many": {"rows_per_second": 1_740},
            "ingest_empty": {"rows_per_second": 1_780},
            "ingest_over_previous": {"rows_per_second": 1_076},
            "ratio_empty_to_anchor": 1.02,
            "ratio_over_previous_to_anchor": 0.62,
        }
    )
    assert [figure.ratio for figure in edx] == [None, 1.02, 0.62]
    kpis = kpis_figures(
        {
            "bare_read": {"events_per_second": 3_608, "peak_rss_mb": 139.7},
            "engine": {
                "events": 999_996,
                "events_per_second": 2_666,
                "peak_rss_mb": 148.0,
                "learners_counted": 4_980,
            },
        }
    )
    assert kpis[0].ratio == pytest.approx(2_666 / 3_608)
    assert kpis[1].anchor_value == 139.7
    assert all(figure.met is None for figure in edx + kpis)
