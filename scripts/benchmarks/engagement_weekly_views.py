"""The weekly-view benchmarks of ``scripts/bench.py``, run once the bench analytics database holds
the reference tables and every event, loaded and enriched: one week (the last) of all four views
over its 26 weeks of history, and of each view alone (median of a few runs, alternating); the 27
weeks computed one after another, as a ``last_year`` recompute does; and EXPLAIN ANALYZE of each
view's INSERT, written to ``.local/bench/explain/``. Each benchmark takes a :class:`BenchContext`
and returns a dict with at least ``{"name": str, "seconds": float}``; the results go under
``weekly_views`` in ``.local/bench/results.json``, and :func:`weekly_view_table` prints them."""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg

from analytics.engagement.config import EngagementConfig
from analytics.engagement.weekly_views import (
    WEEKLY_VIEWS,
    compute_week,
    ensure_schema,
    view_sql,
    view_sql_path,
    week_parameters,
)
from analytics.stores import postgres
from scripts.benchmarks.common import REPO, RESULTS_DIR, Stopwatch, logger, median

EXPLAIN_DIR = RESULTS_DIR / "explain"
HISTORY_WEEKS = 26
WEEKLY_VIEW_REPEATS = 3  # timed runs of one week (median), of all views and of each view alone
LONGEST_WINDOW_DAYS = 62  # the engagement views' 2-month window is at most 62 days

log = logger("bench")


@dataclass(frozen=True)
class BenchContext:
    """What a weekly-view benchmark gets: the analytics database, loaded and enriched, and its weeks."""

    analytics_conn_id: str  # an Airflow connection id (AIRFLOW_CONN_BENCH_ANALYTICS is set)
    config: EngagementConfig
    week: date  # the last full week of data: the one to compute
    history_weeks: list[date]  # the HISTORY_WEEKS weeks before it, oldest first


def timed_compute_week(
    conn: psycopg.Connection, context: BenchContext, week: date, views: tuple[str, ...] = WEEKLY_VIEWS
) -> tuple[float, dict[str, int]]:
    """Seconds to compute_week one week of ``views`` on an open connection, and the rows written."""
    watch = Stopwatch()
    rows = compute_week(conn, week, context.config.active_user_rule, views)
    return watch.seconds, rows


def one_week_of_views(context: BenchContext) -> dict[str, Any]:
    """One week (context.week) of the four views, then of each view alone: median of a few runs each.

    Runs alternate (all four, then each view) so drift spreads evenly. A view's share is its
    median over the sum of the single-view medians.
    """
    all_views: list[float] = []
    by_view: dict[str, list[float]] = {name: [] for name in WEEKLY_VIEWS}
    rows: dict[str, int] = {}
    with postgres.connect(context.analytics_conn_id) as conn:
        ensure_schema(conn)
        for run in range(WEEKLY_VIEW_REPEATS):
            seconds, rows = timed_compute_week(conn, context, context.week)
            all_views.append(seconds)
            log(f"one week, run {run + 1}: all four views in {seconds:.2f}s")
            for name in WEEKLY_VIEWS:
                seconds, _ = timed_compute_week(conn, context, context.week, (name,))
                by_view[name].append(seconds)
                log(f"one week, run {run + 1}: {name} in {seconds:.2f}s")
    medians = {name: median(runs) for name, runs in by_view.items()}
    sum_of_views = sum(medians.values())
    return {
        "name": "one_week_all_views",
        "week": context.week.isoformat(),
        "history_weeks": len(context.history_weeks),
        "active_user_rule": {
            "measure": context.config.active_user_rule.measure,
            "minimum": context.config.active_user_rule.minimum,
        },
        "seconds": round(median(all_views), 3),
        "runs": [round(s, 3) for s in all_views],
        "rows": rows,
        "sum_of_view_medians_seconds": round(sum_of_views, 3),
        "views": {
            name: {
                "median_seconds": round(medians[name], 3),
                "runs": [round(s, 3) for s in by_view[name]],
                "share": round(medians[name] / sum_of_views, 3) if sum_of_views else None,
                "rows": rows.get(name),
            }
            for name in WEEKLY_VIEWS
        },
    }


def weeks_in_turn(context: BenchContext) -> dict[str, Any]:
    """The history weeks then context.week computed one after another, as a ``last_year`` recompute does."""
    weeks = [*context.history_weeks, context.week]
    by_week: list[dict[str, Any]] = []
    with postgres.connect(context.analytics_conn_id) as conn:
        for number, week in enumerate(weeks, start=1):
            seconds, rows = timed_compute_week(conn, context, week)
            by_week.append(
                {"week": week.isoformat(), "seconds": round(seconds, 3), "rows": sum(rows.values())}
            )
            log(f"weeks in turn: {number}/{len(weeks)} {week} in {seconds:.2f}s")
    seconds = [entry["seconds"] for entry in by_week]
    total = sum(seconds)
    # The first weeks' 2-month windows reach back before the data: they read fewer events.
    full_window = [
        entry["seconds"]
        for entry in by_week
        if date.fromisoformat(entry["week"]) + timedelta(days=7 - LONGEST_WINDOW_DAYS) >= weeks[0]
    ]
    return {
        "name": "weeks_in_turn",
        "weeks": len(weeks),
        "from_week": weeks[0].isoformat(),
        "to_week": weeks[-1].isoformat(),
        "seconds": round(total, 3),
        "per_week_seconds": {
            "mean": round(total / len(weeks), 3),
            "median": round(median(seconds), 3),
            "min": min(seconds),
            "max": max(seconds),
            "weeks_with_full_window": len(full_window),
            "mean_with_full_window": round(statistics.mean(full_window), 3) if full_window else None,
        },
        "by_week": by_week,
    }


def explain_view_insert(
    conn: psycopg.Connection, name: str, parameters: dict[str, object], event_table: str
) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of a view's INSERT, after its lock and delete, all rolled back."""
    sql_text = view_sql(name, event_table).as_string(conn)
    insert_at = re.search(r"^INSERT INTO", sql_text, re.MULTILINE)
    if insert_at is None:
        raise SystemExit(f"no INSERT statement in {view_sql_path(name)}")
    prelude, insert = sql_text[: insert_at.start()], sql_text[insert_at.start() :].rstrip().rstrip(";")
    with conn.transaction(), psycopg.ClientCursor(conn) as cursor:
        cursor.execute(prelude, parameters)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + insert, parameters)
        plan = [line for (line,) in cursor.fetchall()]
        raise psycopg.Rollback()
    return plan


def explain_views(context: BenchContext) -> dict[str, Any]:
    """EXPLAIN ANALYZE of each view's INSERT for context.week, into .local/bench/explain/<view>.txt."""
    parameters = week_parameters(context.week, context.config.active_user_rule)
    EXPLAIN_DIR.mkdir(parents=True, exist_ok=True)
    plans: dict[str, Any] = {}
    watch = Stopwatch()
    with postgres.connect(context.analytics_conn_id) as conn:
        work_mem = conn.execute("SHOW work_mem").fetchone()[0]
        for name in WEEKLY_VIEWS:
            plan = explain_view_insert(conn, name, parameters, context.config.event_table)
            path = EXPLAIN_DIR / f"{name}.txt"
            path.write_text("\n".join(plan) + "\n")
            execution = re.search(r"Execution Time: ([\d.]+) ms", "\n".join(plan))
            # The top node's buffers include its children's: temporary files of the whole statement.
            top_buffers = next((line for line in plan if "Buffers:" in line), "")
            temp_written = re.search(r"temp (?:read=\d+ )?written=(\d+)", top_buffers)
            plans[name] = {
                "path": str(path.relative_to(REPO)),
                "execution_ms": float(execution.group(1)) if execution else None,
                "temp_blocks_written": int(temp_written.group(1)) if temp_written else 0,
                # Sorts and hashes that did not fit in work_mem and went to temporary files.
                "spills_to_disk": sum(
                    "Disk:" in line or ("Batches: " in line and "Batches: 1 " not in line) for line in plan
                ),
            }
            log(f"explain: {name} {plans[name]['execution_ms']} ms, plan in {plans[name]['path']}")
    return {
        "name": "explain_analyze",
        "week": context.week.isoformat(),
        "work_mem": work_mem,
        "seconds": round(watch.seconds, 3),
        "plans": plans,
    }


WEEKLY_VIEW_BENCHMARKS: list[Callable[[BenchContext], dict[str, Any]]] = [
    one_week_of_views,
    weeks_in_turn,
    explain_views,
]


def weekly_view_table(outcomes: list[dict[str, Any]]) -> list[str]:
    """The weekly-view results as lines of a table, for the terminal."""
    lines: list[str] = []
    for outcome in outcomes:
        if outcome["name"] == "one_week_all_views":
            lines += [
                "",
                f"weekly views, week {outcome['week']} over {outcome['history_weeks']} weeks of history "
                f"(median of {len(outcome['runs'])})",
                f"  {'all four views':<40} {outcome['seconds']:>8.2f}s",
            ]
            for name, view in outcome["views"].items():
                lines.append(
                    f"  {name:<40} {view['median_seconds']:>8.2f}s  {view['share']:>6.1%}  {view['rows']:>7,} rows"
                )
            lines.append(f"  {'sum of the four alone':<40} {outcome['sum_of_view_medians_seconds']:>8.2f}s")
        elif outcome["name"] == "weeks_in_turn":
            per_week = outcome["per_week_seconds"]
            lines += [
                "",
                f"{outcome['weeks']} weeks one after another ({outcome['from_week']} .. {outcome['to_week']}): "
                f"{outcome['seconds']:.1f}s",
                f"  per week: mean {per_week['mean']:.2f}s, median {per_week['median']:.2f}s, "
                f"min {per_week['min']:.2f}s, max {per_week['max']:.2f}s",
            ]
            if per_week["mean_with_full_window"] is not None:
                lines.append(
                    f"  per week, the {per_week['weeks_with_full_window']} weeks whose 2-month window is "
                    f"all in the data: mean {per_week['mean_with_full_window']:.2f}s"
                )
        elif outcome["name"] == "explain_analyze":
            lines += [
                "",
                f"EXPLAIN ANALYZE of each INSERT, week {outcome['week']} (work_mem {outcome['work_mem']})",
            ]
            for name, plan in outcome["plans"].items():
                execution = "?" if plan["execution_ms"] is None else f"{plan['execution_ms'] / 1000:.2f}"
                lines.append(
                    f"  {name:<40} {execution:>8}s  {plan['spills_to_disk']} sorts/hashes on disk, "
                    f"{plan['temp_blocks_written'] * 8 // 1024} MB of temporary files  {plan['path']}"
                )
        else:
            lines.append(f"{outcome['name']}: {outcome['seconds']}s")
    return lines
