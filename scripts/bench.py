"""Benchmarks of the engagement ELT on generated data (``make bench``, against the test stack).

In one run: generate 1 M events (27 weeks) into a fresh ``bench_prod`` database, copy the
reference tables into a fresh ``bench_analytics`` with copy_production, then time
``load_events`` over the whole range against the plain-PostgreSQL baseline
``psql -c "\\copy (SELECT ...) TO STDOUT" | psql -c "\\copy evenement_engagement FROM STDIN"``
of the same rows into the same (emptied) table, a few times each, alternating, and report the
median rows/s of both and their ratio (target: load_events >= 0.8 of psql). Then it loads and
enriches the whole range once and runs the weekly-view benchmarks (the hook below): one week
(the last) of all four views over its 26 weeks of history, and of each view alone; the 27 weeks
computed one after another, as a ``last_year`` recompute does; and EXPLAIN ANALYZE of each
view's INSERT, written to ``.local/bench/explain/``.
Results are printed and written to ``.local/bench/results.json``; the bench databases are
dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from analytics.engagement.config import SQL_DIR, EngagementConfig, load_engagement_config  # noqa: E402
from analytics.engagement.elt import (  # noqa: E402
    copy_production,
    enrich_events,
    ensure_event_table,
    load_events,
)
from analytics.engagement.events import EVENT_COLUMNS, EventInterval  # noqa: E402
from analytics.engagement.weekly_views import (  # noqa: E402
    WEEKLY_VIEWS,
    compute_week,
    ensure_schema,
    view_sql,
    view_sql_path,
    week_parameters,
)
from analytics.engagement.weeks import day_bounds_in_zone, weeks_between  # noqa: E402
from analytics.stores import postgres  # noqa: E402
from scripts.demo_data.engagement import write_dataset  # noqa: E402
from scripts.demo_data.engagement_rows import GenerationPlan  # noqa: E402

RESULTS_PATH = REPO / ".local" / "bench" / "results.json"
EXPLAIN_DIR = RESULTS_PATH.parent / "explain"
# Each bench connection id is also the name of its database.
SOURCE_CONN_ID, TARGET_CONN_ID = "bench_prod", "bench_analytics"
BENCH_DATABASES = (SOURCE_CONN_ID, TARGET_CONN_ID)
TARGET_RATIO = 0.8  # load_events should reach at least this share of psql | psql's rows/s
DEFAULT_EVENTS = 1_000_000
DEFAULT_WEEKS = 27  # one week to compute and the 26 weeks of history before it
DEFAULT_USERS = 20_000
START_MONDAY = date(2024, 1, 1)
HISTORY_WEEKS = 26
WEEKLY_VIEW_REPEATS = 3  # timed runs of one week (median), of all views and of each view alone
LONGEST_WINDOW_DAYS = 62  # the engagement views' 2-month window is at most 62 days


@dataclass(frozen=True)
class BenchContext:
    """What a weekly-view benchmark gets: the analytics database, loaded and enriched, and its weeks."""

    analytics_conn_id: str  # an Airflow connection id (AIRFLOW_CONN_BENCH_ANALYTICS is set)
    config: EngagementConfig
    week: date  # the last full week of data: the one to compute
    history_weeks: list[date]  # the HISTORY_WEEKS weeks before it, oldest first


# ============================================================================================
# Weekly-view benchmarks. Each takes a BenchContext (the bench analytics database holds the
# reference tables and every event, loaded and enriched) and returns a dict with at least
# {"name": str, "seconds": float}. Results go under "weekly_views" in .local/bench/results.json.


def timed_compute_week(
    conn: psycopg.Connection, context: BenchContext, week: date, views: tuple[str, ...] = WEEKLY_VIEWS
) -> tuple[float, dict[str, int]]:
    """Seconds to compute_week one week of ``views`` on an open connection, and the rows written."""
    started = time.perf_counter()
    rows = compute_week(conn, week, context.config.active_user_rule, views)
    return time.perf_counter() - started, rows


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
    medians = {name: statistics.median(runs) for name, runs in by_view.items()}
    sum_of_views = sum(medians.values())
    return {
        "name": "one_week_all_views",
        "week": context.week.isoformat(),
        "history_weeks": len(context.history_weeks),
        "active_user_rule": {
            "measure": context.config.active_user_rule.measure,
            "minimum": context.config.active_user_rule.minimum,
        },
        "seconds": round(statistics.median(all_views), 3),
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
            "median": round(statistics.median(seconds), 3),
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
    started = time.perf_counter()
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
        "seconds": round(time.perf_counter() - started, 3),
        "plans": plans,
    }


WEEKLY_VIEW_BENCHMARKS: list[Callable[[BenchContext], dict[str, Any]]] = [
    one_week_of_views,
    weeks_in_turn,
    explain_views,
]
# ============================================================================================


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def base_url() -> str:
    url = os.environ.get("AIRFLOW_CONN_POSTGRES_PROD")
    if not url:
        raise SystemExit("AIRFLOW_CONN_POSTGRES_PROD is not set: run `make bench` (it starts the test stack)")
    return url


def database_url(database: str) -> str:
    """The stack's server URI, on another database."""
    parameters = conninfo_to_dict(base_url().replace("postgres://", "postgresql://", 1))
    parameters["dbname"] = database
    return make_conninfo(**parameters)


def database_uri(database: str) -> str:
    """An Airflow connection URI (postgres://user:password@host:port/database) for the stack's server."""
    prefix, _, _ = base_url().partition("?")[0].rpartition("/")
    return f"{prefix}/{database}"


def drop_databases() -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        for database in BENCH_DATABASES:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def recreate_databases() -> None:
    drop_databases()
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        for database in BENCH_DATABASES:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def empty_event_table(config: EngagementConfig) -> None:
    with psycopg.connect(database_url(TARGET_CONN_ID), autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(config.event_table)))
        conn.execute("CHECKPOINT")


def target_count(config: EngagementConfig) -> int:
    with psycopg.connect(database_url(TARGET_CONN_ID)) as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(config.event_table))
        ).fetchone()[0]


def time_load_events(interval: EventInterval, config: EngagementConfig) -> tuple[float, int]:
    empty_event_table(config)
    started = time.perf_counter()
    with postgres.connect(SOURCE_CONN_ID) as source, postgres.connect(TARGET_CONN_ID) as target:
        result = load_events(source, target, interval.start, interval.end, config)
    return time.perf_counter() - started, result.loaded


def time_streamer(interval: EventInterval, config: EngagementConfig, binary: bool) -> tuple[float, int]:
    """copy_query_to_table alone (no delete, no count check), in binary or text format."""
    empty_event_table(config)
    query = postgres.read_sql_file(
        SQL_DIR / "source_events.sql", {"event_table": config.event_table, "columns": EVENT_COLUMNS}
    )
    started = time.perf_counter()
    with postgres.connect(SOURCE_CONN_ID) as source, postgres.connect(TARGET_CONN_ID) as target:
        rows = postgres.copy_query_to_table(
            source, query, interval.as_params(), target, config.event_table, EVENT_COLUMNS, binary=binary
        )
    return time.perf_counter() - started, rows


def time_psql_pipe(interval: EventInterval, config: EngagementConfig) -> tuple[float, int]:
    """psql \\copy (SELECT ...) TO STDOUT | psql \\copy table FROM STDIN, the same rows, text format."""
    empty_event_table(config)
    psql = postgres.postgres_client("psql")
    columns = ", ".join(EVENT_COLUMNS)
    select = (
        f"SELECT {columns} FROM {config.event_table} "
        f"WHERE date_evenement >= '{interval.start.isoformat()}' AND date_evenement < '{interval.end.isoformat()}'"
    )
    export = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database_url(SOURCE_CONN_ID)]
    load = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database_url(TARGET_CONN_ID)]
    started = time.perf_counter()
    source = subprocess.Popen([*export, "-c", f"\\copy ({select}) TO STDOUT"], stdout=subprocess.PIPE)
    target = subprocess.Popen(
        [*load, "-c", f"\\copy {config.event_table} ({columns}) FROM STDIN"], stdin=source.stdout
    )
    assert source.stdout is not None
    source.stdout.close()
    target_code, source_code = target.wait(), source.wait()
    seconds = time.perf_counter() - started
    if source_code or target_code:
        raise SystemExit(f"psql pipe failed: export exit {source_code}, load exit {target_code}")
    return seconds, target_count(config)


def summarise(timings: list[tuple[float, int]]) -> dict[str, Any]:
    seconds = [s for s, _ in timings]
    rows = timings[0][1]
    median = statistics.median(seconds)
    return {
        "rows": rows,
        "seconds": [round(s, 3) for s in seconds],
        "median_seconds": round(median, 3),
        "rows_per_second": round(rows / median),
    }


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--weeks", type=int, default=DEFAULT_WEEKS)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each load method")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases afterwards")
    args = parser.parse_args(argv)

    for database in BENCH_DATABASES:
        os.environ[f"AIRFLOW_CONN_{database.upper()}"] = database_uri(database)
    config = replace(
        load_engagement_config(), source_connection_id=SOURCE_CONN_ID, target_connection_id=TARGET_CONN_ID
    )
    plan = GenerationPlan(
        seed=args.seed,
        weeks=args.weeks,
        users=args.users,
        events=args.events,
        start_monday=START_MONDAY,
        timezone=config.timezone,
    )
    interval = EventInterval(
        day_bounds_in_zone(plan.start_monday, config.timezone)[0],
        day_bounds_in_zone(plan.end_monday, config.timezone)[0],
    )
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "plan": {
            "seed": plan.seed,
            "weeks": plan.weeks,
            "users": plan.users,
            "events": plan.events,
            "start_monday": plan.start_monday.isoformat(),
            "timezone": plan.timezone,
        },
    }
    recreate_databases()
    try:
        log(f"generating {plan.events} events over {plan.weeks} weeks into {SOURCE_CONN_ID}")
        started = time.perf_counter()
        with psycopg.connect(database_url(SOURCE_CONN_ID)) as conn:
            counts, _ = write_dataset(conn, plan)
        results["generate_seconds"] = round(time.perf_counter() - started, 2)
        results["generated_rows"] = counts
        log(f"generated in {results['generate_seconds']}s: {counts}")

        copied = copy_production(SOURCE_CONN_ID, TARGET_CONN_ID, config)
        results["copy_production"] = {"seconds": copied.seconds, "tables": copied.tables}
        log(f"copy_production: {copied.tables} in {copied.seconds}s")

        with postgres.connect(TARGET_CONN_ID) as target, target.transaction():
            ensure_event_table(target, config)
        rss_before = peak_rss_mb()
        load_timings, psql_timings = [], []
        for run in range(args.repeats):
            pair = [("load_events", time_load_events), ("psql", time_psql_pipe)]
            for name, timer in pair if run % 2 == 0 else reversed(pair):
                seconds, rows = timer(interval, config)
                if rows != plan.events:
                    raise SystemExit(f"{name} copied {rows} rows, expected {plan.events}")
                (load_timings if name == "load_events" else psql_timings).append((seconds, rows))
                log(f"run {run + 1}: {name:<11} {rows} rows in {seconds:.2f}s ({rows / seconds:,.0f} rows/s)")
        streamer = {
            "binary": summarise([time_streamer(interval, config, binary=True) for _ in range(args.repeats)]),
            "text": summarise([time_streamer(interval, config, binary=False) for _ in range(args.repeats)]),
        }
        load = summarise(load_timings)
        baseline = summarise(psql_timings)
        ratio = round(load["rows_per_second"] / baseline["rows_per_second"], 3)
        results["load_events"] = load
        results["psql_pipe"] = baseline
        results["ratio_load_events_to_psql"] = ratio
        results["target_ratio"] = TARGET_RATIO
        results["copy_query_to_table_format"] = streamer
        # The loads stream block by block: the process's peak memory does not grow with the rows.
        results["peak_rss_mb"] = {
            "before_loads": round(rss_before, 1),
            "after_loads": round(peak_rss_mb(), 1),
        }

        log("final load and enrichment of the whole range")
        with postgres.connect(SOURCE_CONN_ID) as source, postgres.connect(TARGET_CONN_ID) as target:
            empty_event_table(config)
            load_events(source, target, interval.start, interval.end, config)
            enriched = enrich_events(target, interval.start, interval.end, config)
        # The enrichment rewrote every event: vacuum now, so that autovacuum does not run during the
        # weekly-view timings (daily runs rewrite one day, which autovacuum absorbs as it goes).
        started = time.perf_counter()
        with postgres.connect(TARGET_CONN_ID, autocommit=True) as target:
            target.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(config.event_table)))
            target.execute("ANALYZE")
        vacuum_seconds = time.perf_counter() - started
        results["enrich_events"] = {
            "rows": enriched.events,
            "seconds": enriched.seconds,
            "rows_per_second": round(enriched.events / enriched.seconds) if enriched.seconds else None,
            "by_geography_status": enriched.by_geography_status,
            "vacuum_analyze_seconds": round(vacuum_seconds, 3),
        }

        weeks = weeks_between(plan.start_monday, plan.end_monday - timedelta(weeks=1))
        context = BenchContext(
            analytics_conn_id=TARGET_CONN_ID,
            config=config,
            week=weeks[-1],
            history_weeks=weeks[-1 - HISTORY_WEEKS : -1],
        )
        results["weekly_views"] = []
        # Other work on the machine (2 cores here) shows in the timings: note the load around them.
        load_before = os.getloadavg()
        for benchmark in WEEKLY_VIEW_BENCHMARKS:
            outcome = benchmark(context)
            results["weekly_views"].append(outcome)
            log(f"weekly views: {outcome['name']} in {outcome['seconds']}s")
        results["weekly_views_load_average"] = {
            "before": [round(value, 2) for value in load_before],
            "after": [round(value, 2) for value in os.getloadavg()],
        }
    finally:
        if not args.keep:
            drop_databases()

    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(
        f"load_events  {load['rows_per_second']:>12,} rows/s  (median of {args.repeats}: {load['median_seconds']}s)"
    )
    print(
        f"psql | psql  {baseline['rows_per_second']:>12,} rows/s  (median of {args.repeats}: {baseline['median_seconds']}s)"
    )
    print(f"ratio        {ratio:>12}  (target >= {TARGET_RATIO})")
    print(
        f"streamer     binary {streamer['binary']['rows_per_second']:,} rows/s, "
        f"text {streamer['text']['rows_per_second']:,} rows/s"
    )
    print(f"enrich       {results['enrich_events']['rows_per_second']:,} rows/s")
    for line in weekly_view_table(results["weekly_views"]):
        print(line)
    print(f"results in {RESULTS_PATH.relative_to(REPO)}")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
