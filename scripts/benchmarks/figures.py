"""Each benchmark's figures for the one report, from the results it already writes
(``.local/bench/<name>.json``): every figure beside its anchor from the same run, with the targets
the DAG issues set (issue 3: the engagement load; 7: the tracking master load; 9: the BI tasks).
Pure functions of the results; :func:`emit_part` writes the benchmark's part."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts.benchmarks.common import PARTS_DIR, REPO, load_average
from scripts.benchmarks.records import Figure, Target, part_record, write_part
from scripts.benchmarks.tracking_report import (
    FLAT_RSS_GROWTH,
    FULL_LOAD_TARGET,
    NAIVE_SPEEDUP_TARGET,
    OWN_WORK_TARGET,
    PEAK_RSS_LIMIT_MB,
)

ENGAGEMENT_LOAD_TARGET = 0.8  # issue 3: load_events >= 0.8 of psql | psql (engagement.TARGET_RATIO)
BI_TASK_TARGET = 1.5  # issue 9: each task within 1.5x its bare query (bench_bi.TARGET_RATIO)
TRACKING_SERIES = "tracking_load"

PSQL_PIPE = "psql \\copy ... TO STDOUT | psql \\copy ... FROM STDIN, same rows"


# -- issue 3: the engagement ELT (scripts/bench.py) ---------------------------------------------


def engagement_figures(results: dict[str, Any]) -> list[Figure]:
    psql = results["psql_pipe"]["rows_per_second"]
    figures = [
        Figure(
            "load_events",
            results["load_events"]["rows_per_second"],
            "rows/s",
            PSQL_PIPE,
            psql,
            Target(">=", results.get("target_ratio", ENGAGEMENT_LOAD_TARGET)),
            given_ratio=results["ratio_load_events_to_psql"],
            note=f"median of {len(results['load_events']['seconds'])}, alternating",
        )
    ]
    for format_name, streamer in results["copy_query_to_table_format"].items():
        figures.append(
            Figure(
                f"copy_query_to_table ({format_name})",
                streamer["rows_per_second"],
                "rows/s",
                PSQL_PIPE,
                psql,
                note="the COPY streamer alone: no delete, no count check, no load log",
            )
        )
    enrich = results["enrich_events"]
    figures.append(
        Figure("enrich_events", enrich["rows_per_second"], "rows/s", note=f"{enrich['rows']:,} rows")
    )
    for outcome in results["weekly_views"]:
        if outcome["name"] == "one_week_all_views":
            figures.append(
                Figure(
                    "compute_week, all four views",
                    outcome["seconds"],
                    "s",
                    "the four views computed alone, summed",
                    outcome["sum_of_view_medians_seconds"],
                    note=f"week {outcome['week']} over {outcome['history_weeks']} weeks of history",
                )
            )
            for name, view in outcome["views"].items():
                figures.append(
                    Figure(
                        f"compute_week, {name} alone",
                        view["median_seconds"],
                        "s",
                        note=f"{view['rows']:,} rows",
                    )
                )
        elif outcome["name"] == "weeks_in_turn":
            figures.append(
                Figure(
                    f"{outcome['weeks']} weeks one after another, per week (mean)",
                    outcome["per_week_seconds"]["mean"],
                    "s",
                    note=f"{outcome['from_week']} .. {outcome['to_week']}, {outcome['seconds']:.1f} s in all",
                )
            )
    return figures


# -- issue 6: the edX course ingestion (scripts/bench_edx.py) -----------------------------------


def edx_figures(results: dict[str, Any]) -> list[Figure]:
    anchor = results["anchor_insert_many"]["rows_per_second"]
    bare = "the parsed documents, plain insert_many into an empty collection"
    return [
        Figure("parsing alone (iter_table_documents)", results["parse_only"]["rows_per_second"], "rows/s"),
        Figure(
            "ingest_course_package into an empty database",
            results["ingest_empty"]["rows_per_second"],
            "rows/s",
            bare,
            anchor,
            given_ratio=results["ratio_empty_to_anchor"],
        ),
        Figure(
            "ingest_course_package over its previous contents",
            results["ingest_over_previous"]["rows_per_second"],
            "rows/s",
            bare,
            anchor,
            given_ratio=results["ratio_over_previous_to_anchor"],
        ),
    ]


# -- issue 7: the tracking-log master load (scripts/bench_tracking.py) --------------------------


def tracking_load_series(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The full load at each size, smallest first: the points of the plots."""
    return [
        {
            "events": outcome["events"],
            "seconds": round(outcome["seconds"], 2),
            "events_per_second": round(outcome["events_per_second"], 1),
            "peak_rss_mb": outcome["peak_rss_mb"],
            "peak_rss_mb_before_load": outcome["peak_rss_mb_before_load"],
        }
        for _, outcome in sorted(results["full_load"].items(), key=lambda item: int(item[0]))
    ]


def tracking_figures(results: dict[str, Any]) -> list[Figure]:
    own = results["own_work"]
    anchor = results["anchor_insert_many"]
    loads = {int(size): outcome for size, outcome in results["full_load"].items()}
    small, large = anchor["events"], max(loads)  # N, the size the anchor wrote, and 2N
    naive = results["naive"]
    figures = [
        Figure(
            "own work: iter_lines + parse_tracking_line",
            own["events_per_second"],
            "events/s",
            "gunzip + orjson.loads of the same file",
            own["bare_events_per_second"],
            Target(">=", OWN_WORK_TARGET),
            given_ratio=own["ratio"],
            note=f"{own['events']:,} events, median of {len(own['runs_seconds'])}",
        ),
        Figure(
            "own work in CPU time",
            round(own["events"] / own["cpu_seconds"]) if own["cpu_seconds"] else None,
            "events/CPU s",
            "gunzip + orjson.loads, CPU time",
            round(own["events"] / own["bare_cpu_seconds"]) if own["bare_cpu_seconds"] else None,
            given_ratio=own["cpu_ratio"],
        ),
        Figure(
            f"load_tracking_file of {small:,} events (N)",
            round(loads[small]["events_per_second"]),
            "events/s",
            "the same documents pre-built, insert_many(ordered=False), same indexes",
            anchor["events_per_second"],
            Target(">=", FULL_LOAD_TARGET),
            given_ratio=results["full_load_ratio"],
        ),
        Figure(
            f"load_tracking_file of N against the naive way ({naive['lines']:,} lines)",
            round(loads[small]["events_per_second"]),
            "events/s",
            "json.loads and one insert_one per line",
            naive["events_per_second"],
            Target(">=", NAIVE_SPEEDUP_TARGET),
            given_ratio=results["speedup_over_naive"],
        ),
        Figure(
            "bare insert_many against the naive way",
            anchor["events_per_second"],
            "events/s",
            "json.loads and one insert_one per line",
            naive["events_per_second"],
            given_ratio=results["anchor_over_naive"],
            note="what batching alone gives on this server: the ceiling of any loader here",
        ),
    ]
    for size in sorted(loads):
        if size != small:
            figures.append(
                Figure(
                    f"load_tracking_file of {size:,} events",
                    round(loads[size]["events_per_second"]),
                    "events/s",
                )
            )
    for size in sorted(loads):
        figures.append(
            Figure(
                f"peak RSS of the load of {size:,} events",
                loads[size]["peak_rss_mb"],
                "MB",
                "the same process before the load (imports, client)",
                loads[size]["peak_rss_mb_before_load"],
                Target("<", PEAK_RSS_LIMIT_MB, on="value"),
            )
        )
    figures.append(
        Figure(
            f"peak RSS, {large:,} events against {small:,} (flat)",
            loads[large]["peak_rss_mb"],
            "MB",
            f"peak RSS of the load of {small:,} events",
            loads[small]["peak_rss_mb"],
            Target("<=", round(1 + FLAT_RSS_GROWTH, 6)),
        )
    )
    extraction = results.get("extraction") or {}
    if extraction.get("available") and "error" not in extraction:
        figures.append(
            Figure(
                f"extract_course of one course from a master of {extraction['master_events']:,} events",
                round(extraction["events_per_second"]),
                "events/s",
                note=f"{extraction['selected']:,} selected, {extraction['enriched']:,} enriched",
            )
        )
    return figures


def tracking_notes(results: dict[str, Any]) -> list[str]:
    extraction = results.get("extraction") or {}
    if "error" in extraction:
        return [f"extraction: ERROR {extraction['error']}"]
    if not extraction.get("available", True):
        return [f"extraction: not available ({extraction.get('reason')})"]
    return []


# -- issue 8: the course KPIs (scripts/bench_kpis.py) -------------------------------------------


def kpis_figures(results: dict[str, Any]) -> list[Figure]:
    read, engine = results["bare_read"], results["engine"]
    bare = "bare read, same filter, sort, projection and batch size"
    return [
        Figure(
            "compute_course_kpis",
            engine["events_per_second"],
            "events/s",
            bare,
            read["events_per_second"],
            note=f"{engine['events']:,} events, {engine['learners_counted']:,} learners",
        ),
        Figure(
            "peak RSS of compute_course_kpis",
            engine["peak_rss_mb"],
            "MB",
            f"{bare} (its peak RSS)",
            read["peak_rss_mb"],
        ),
    ]


# -- issue 9: the BI aggregation (scripts/bench_bi.py) ------------------------------------------


def bi_figures(results: dict[str, Any]) -> list[Figure]:
    bound = results.get("target_ratio", BI_TASK_TARGET)
    return [
        Figure(
            name,
            task["engine_seconds"],
            "s",
            "psql running the same bound SQL",
            task["psql_seconds"],
            Target("<=", bound),
            given_ratio=task["ratio"],
            note=f"{task['queries']} {'query' if task['queries'] == 1 else 'queries'}",
        )
        for name, task in results["tasks"].items()
    ]


# -- issue 10: the message analytics and export (scripts/bench_messages.py) ---------------------


def messages_figures(results: dict[str, Any]) -> list[Figure]:
    analytics, dump = results["analytics"], results["dump"]
    return [
        Figure(
            "compute_counts (every metric of the analytics table)",
            analytics["engine_seconds"],
            "s",
            "the same aggregations with plain pymongo",
            analytics["pymongo_seconds"],
            given_ratio=analytics["ratio"],
        ),
        Figure("message dump (message_dump into a file)", dump["messages_per_second"], "messages/s"),
        Figure(
            "peak RSS of the dump",
            round(dump["peak_rss_mb"], 1),
            "MB",
            "the same process before the dump",
            round(dump["rss_before_mb"], 1),
        ),
        Figure(
            "messages dumped against the range's count",
            dump["messages"],
            "messages",
            "count_documents over the range",
            results["messages_in_range"],
            Target("==", 1.0),
        ),
    ]


# -- the parts --------------------------------------------------------------------------------

BUILDERS: dict[str, tuple[str, Callable[[dict[str, Any]], list[Figure]]]] = {
    "engagement": ("Engagement ELT (issue 3)", engagement_figures),
    "edx": ("edX course ingestion (issue 6)", edx_figures),
    "tracking": ("Tracking-log master load (issue 7)", tracking_figures),
    "kpis": ("Course KPIs (issue 8)", kpis_figures),
    "bi": ("Monthly BI aggregation (issue 9)", bi_figures),
    "messages": ("Message analytics and export (issue 10)", messages_figures),
}


def benchmark_part(
    benchmark: str,
    results: dict[str, Any],
    parameters: dict[str, Any],
    *,
    started: str | None,
    finished: str | None,
    load_before: list[float] | None,
    load_after: list[float] | None,
    results_file: Path | None,
) -> dict[str, Any]:
    """The benchmark's part of the report, from its results."""
    title, build = BUILDERS[benchmark]
    series = {TRACKING_SERIES: tracking_load_series(results)} if benchmark == "tracking" else {}
    notes = tracking_notes(results) if benchmark == "tracking" else []
    return part_record(
        benchmark,
        title,
        build(results),
        parameters=parameters,
        started=started,
        finished=finished,
        load_average={"start": load_before or [], "end": load_after or []},
        results_file=None if results_file is None else str(results_file.relative_to(REPO)),
        series=series,
        notes=notes,
    )


def json_safe(value: Any) -> Any:
    """A parameter as JSON can hold it (paths and the like as text)."""
    return value if isinstance(value, bool | int | float | str | list) else str(value)


def emit_part(
    benchmark: str,
    results: dict[str, Any],
    parameters: dict[str, Any],
    started: datetime,
    load_before: list[float] | None,
    results_file: Path,
) -> Path:
    """Write the benchmark's part (``.local/bench/parts/<benchmark>.json``) at its end."""
    finished = datetime.now(UTC)  # now-ok: when the benchmark ended, for the report
    part = benchmark_part(
        benchmark,
        results,
        {key: json_safe(value) for key, value in parameters.items() if value is not None},
        started=started.isoformat(timespec="seconds"),
        finished=finished.isoformat(timespec="seconds"),
        load_before=load_before,
        load_after=load_average(),
        results_file=results_file,
    )
    return write_part(part, PARTS_DIR)
