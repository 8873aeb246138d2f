"""Benchmarks of the engagement ELT on generated data (``make bench``, against the test stack).

In one run: generate 1 M events (27 weeks) into a fresh ``bench_prod`` database, copy the
reference tables into a fresh ``bench_analytics`` with copy_production, then time
``load_events`` over the whole range against the plain-PostgreSQL baseline
``psql -c "\\copy (SELECT ...) TO STDOUT" | psql -c "\\copy evenement_engagement FROM STDIN"``
of the same rows into the same (emptied) table, a few times each, alternating, and report the
median rows/s of both and their ratio (target: load_events >= 0.8 of psql). Then it loads and
enriches the whole range once and runs the weekly-view benchmarks (``engagement_weekly_views.py``):
one week (the last) of all four views over its 26 weeks of history, and of each view alone; the
27 weeks computed one after another, as a ``last_year`` recompute does; and EXPLAIN ANALYZE of
each view's INSERT, written to ``.local/bench/explain/``.
Results are printed and written to ``.local/bench/results.json``; the bench databases are
dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from analytics.engagement.config import SQL_DIR, EngagementConfig, load_engagement_config
from analytics.engagement.elt import (
    copy_production,
    enrich_events,
    ensure_event_table,
    load_events,
)
from analytics.engagement.events import EVENT_COLUMNS, EventInterval
from analytics.engagement.weeks import day_bounds_in_zone, weeks_between
from analytics.stores import postgres
from scripts.benchmarks.common import (
    REPO,
    RESULTS_DIR,
    Stopwatch,
    alternating_runs,
    connection_uri,
    load_average,
    logger,
    machine,
    median,
    per_second,
    resident_memory_mb,
    write_results,
)
from scripts.benchmarks.engagement_weekly_views import (
    HISTORY_WEEKS,
    WEEKLY_VIEW_BENCHMARKS,
    BenchContext,
    weekly_view_table,
)
from scripts.benchmarks.figures import emit_part
from scripts.demo_data.engagement import write_dataset
from scripts.demo_data.engagement_rows import GenerationPlan

RESULTS_PATH = RESULTS_DIR / "results.json"
# Each bench connection id is also the name of its database.
SOURCE_CONN_ID, TARGET_CONN_ID = "bench_prod", "bench_analytics"
BENCH_DATABASES = (SOURCE_CONN_ID, TARGET_CONN_ID)
TARGET_RATIO = 0.8  # load_events should reach at least this share of psql | psql's rows/s
DEFAULT_EVENTS = 1_000_000
DEFAULT_WEEKS = 27  # one week to compute and the 26 weeks of history before it
DEFAULT_USERS = 20_000
START_MONDAY = date(2024, 1, 1)

log = logger("bench")


def base_url() -> str:
    """The test stack's PostgreSQL (its ``postgres_prod`` connection): the server the bench databases go on."""
    return connection_uri("postgres_prod")


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
    watch = Stopwatch()
    with postgres.connect(SOURCE_CONN_ID) as source, postgres.connect(TARGET_CONN_ID) as target:
        result = load_events(source, target, interval.start, interval.end, config)
    return watch.seconds, result.loaded


def time_streamer(interval: EventInterval, config: EngagementConfig, binary: bool) -> tuple[float, int]:
    """copy_query_to_table alone (no delete, no count check), in binary or text format."""
    empty_event_table(config)
    query = postgres.read_sql_file(
        SQL_DIR / "source_events.sql", {"event_table": config.event_table, "columns": EVENT_COLUMNS}
    )
    watch = Stopwatch()
    with postgres.connect(SOURCE_CONN_ID) as source, postgres.connect(TARGET_CONN_ID) as target:
        rows = postgres.copy_query_to_table(
            source, query, interval.as_params(), target, config.event_table, EVENT_COLUMNS, binary=binary
        )
    return watch.seconds, rows


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
    watch = Stopwatch()
    source = subprocess.Popen([*export, "-c", f"\\copy ({select}) TO STDOUT"], stdout=subprocess.PIPE)
    target = subprocess.Popen(
        [*load, "-c", f"\\copy {config.event_table} ({columns}) FROM STDIN"], stdin=source.stdout
    )
    assert source.stdout is not None
    source.stdout.close()
    target_code, source_code = target.wait(), source.wait()
    seconds = watch.seconds
    if source_code or target_code:
        raise SystemExit(f"psql pipe failed: export exit {source_code}, load exit {target_code}")
    return seconds, target_count(config)


def summarise(timings: list[tuple[float, int]]) -> dict[str, Any]:
    seconds = [s for s, _ in timings]
    rows = timings[0][1]
    median_seconds = median(seconds)
    return {
        "rows": rows,
        "seconds": [round(s, 3) for s in seconds],
        "median_seconds": round(median_seconds, 3),
        "rows_per_second": round(per_second(rows, median_seconds)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--weeks", type=int, default=DEFAULT_WEEKS)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each load method")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases afterwards")
    args = parser.parse_args(argv)
    started, load_before = datetime.now(UTC), load_average()  # now-ok: when it ran, for the report

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
        "machine": machine(),
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
        watch = Stopwatch()
        with psycopg.connect(database_url(SOURCE_CONN_ID)) as conn:
            counts, _ = write_dataset(conn, plan)
        results["generate_seconds"] = round(watch.seconds, 2)
        results["generated_rows"] = counts
        log(f"generated in {results['generate_seconds']}s: {counts}")

        copied = copy_production(SOURCE_CONN_ID, TARGET_CONN_ID, config)
        results["copy_production"] = {"seconds": copied.seconds, "tables": copied.tables}
        log(f"copy_production: {copied.tables} in {copied.seconds}s")

        with postgres.connect(TARGET_CONN_ID) as target, target.transaction():
            ensure_event_table(target, config)
        rss_before, _ = resident_memory_mb()

        def after_each(run: int, name: str, timing: tuple[float, int]) -> None:
            seconds, rows = timing
            if rows != plan.events:
                raise SystemExit(f"{name} copied {rows} rows, expected {plan.events}")
            log(f"run {run + 1}: {name:<11} {rows} rows in {seconds:.2f}s ({rows / seconds:,.0f} rows/s)")

        runs = alternating_runs(
            {
                "load_events": lambda: time_load_events(interval, config),
                "psql": lambda: time_psql_pipe(interval, config),
            },
            args.repeats,
            after_each,
        )
        load_timings, psql_timings = runs["load_events"], runs["psql"]
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
            "after_loads": round(resident_memory_mb()[0], 1),
        }

        log("final load and enrichment of the whole range")
        with postgres.connect(SOURCE_CONN_ID) as source, postgres.connect(TARGET_CONN_ID) as target:
            empty_event_table(config)
            load_events(source, target, interval.start, interval.end, config)
            enriched = enrich_events(target, interval.start, interval.end, config)
        # The enrichment rewrote every event: vacuum now, so that autovacuum does not run during the
        # weekly-view timings (daily runs rewrite one day, which autovacuum absorbs as it goes).
        watch = Stopwatch()
        with postgres.connect(TARGET_CONN_ID, autocommit=True) as target:
            target.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(config.event_table)))
            target.execute("ANALYZE")
        vacuum_seconds = watch.seconds
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
        load_before = load_average()
        for benchmark in WEEKLY_VIEW_BENCHMARKS:
            outcome = benchmark(context)
            results["weekly_views"].append(outcome)
            log(f"weekly views: {outcome['name']} in {outcome['seconds']}s")
        results["weekly_views_load_average"] = {
            "before": load_before,
            "after": load_average(),
        }
    finally:
        if not args.keep:
            drop_databases()

    write_results(RESULTS_PATH, results)
    emit_part("engagement", results, vars(args), started, load_before, RESULTS_PATH)
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
