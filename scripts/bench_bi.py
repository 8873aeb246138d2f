"""The BI aggregation benchmark (``make bench``): ``python scripts/bench_bi.py [--help]``.

It generates the demo's application with 1 M submissions (``python -m scripts.demo_data bi
--submissions 1000000``: 12 months of 2024, seed 7) into a fresh ``bench_app`` database of the test
stack, then for each of the seven tasks of ``bi_monthly_aggregation`` (December 2024, which closes
Q4; snapshots as of its end) times the task's engine function (PostgreSQL query through
``PostgresHook``, rows streamed, documents written to a fresh ``bench_bi`` MongoDB database)
beside the bare SQL of the same file with the same parameters (bound by psycopg's client-side
``mogrify``) run by ``psql`` into ``/dev/null``. ``monthly_submissions`` is its 20 chunk tasks and
the month's cleanup, beside ``psql`` once per chunk. Runs alternate (engine, psql; then psql,
engine) ``--repeats`` times; medians are compared (target: each task at most 1.5x its bare query).
Results: ``.local/bench/bi.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, Python puts scripts/ on sys.path; the benchmarks import as scripts.benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

from scripts.benchmarks.common import (  # noqa: E402
    REPO,
    RESULTS_DIR,
    Stopwatch,
    alternating_runs,
    connection_uri,
    load_average,
    logger,
    machine,
    median,
    write_results,
)
from scripts.benchmarks.figures import emit_part  # noqa: E402

BENCH_DATABASE = "bench_app"
BENCH_CONN_ID = "bench_app"
BENCH_MONGO_DATABASE = "bench_bi"
MONTH = "2024-12"
TARGET_RATIO = 1.5
RESULTS_FILE = RESULTS_DIR / "bi.json"
SQL_OUT = RESULTS_DIR / "bi_sql"
log = logger("bench_bi", elapsed=True)


def server_uri(database: str) -> str:
    """A libpq URI of ``database`` on the test stack's PostgreSQL (the server of ``postgres_app``)."""
    base = connection_uri("postgres_app").split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql://{base}/{database}"


def fresh_database(name: str) -> None:
    import psycopg

    with psycopg.connect(server_uri("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def generate(submissions: int, seed: int) -> float:
    """The demo generator into the bench database; returns its seconds."""
    watch = Stopwatch()
    command = [sys.executable, "-m", "scripts.demo_data", "bi", "--seed", str(seed)]
    command += ["--submissions", str(submissions), "--database-url", server_uri(BENCH_DATABASE)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"the generator failed:\n{result.stdout}\n{result.stderr}")
    log(result.stdout.splitlines()[0])
    return watch.seconds


def bare_sql(spec: Any, month: Any, config: Any, form_ids: list[int] | None = None) -> str:
    """The task's SQL file with its parameters bound client-side, as psql will run it."""
    from psycopg import ClientCursor

    from analytics.bi.engine import query_parameters, sql_path
    from analytics.stores import postgres

    with postgres.connect(config.source_connection_id) as conn:
        cursor = ClientCursor(conn)
        return cursor.mogrify(
            postgres.read_sql_file(sql_path(spec)), query_parameters(spec, month, config, form_ids)
        )


def psql_runner(files: list[Path]) -> Callable[[], float]:
    """Run each SQL file with psql (one process each, output discarded); returns the seconds of all."""
    from analytics.stores.postgres import postgres_client

    psql = postgres_client("psql")

    def run() -> float:
        watch = Stopwatch()
        for path in files:
            subprocess.run(
                [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", server_uri(BENCH_DATABASE),
                 "-o", os.devnull, "-f", str(path)],
                check=True,
            )  # fmt: skip
        return watch.seconds

    return run


def timed(function: Callable[[], Any]) -> Callable[[], float]:
    def run() -> float:
        watch = Stopwatch()
        function()
        return watch.seconds

    return run


def tasks(config: Any) -> dict[str, tuple[Callable[[], float], Callable[[], float], int]]:
    """Per task: the engine run, the psql run, and how many queries each makes."""
    from analytics.bi import engine
    from analytics.bi.documents import (
        COLLECTIONS,
        MONTHLY_SESSIONS,
        MONTHLY_SUBMISSIONS,
        QUARTERLY_FORM_CHURN,
        SNAPSHOTS,
    )
    from analytics.bi.periods import Month
    from analytics.bi.plan import chunked

    month = Month.parse(MONTH)
    SQL_OUT.mkdir(parents=True, exist_ok=True)
    forms = engine.form_ids(config)
    chunks = chunked(forms, config.forms_per_chunk)

    def files(name: str, texts: list[str]) -> list[Path]:
        paths = []
        for index, text in enumerate(texts):
            path = SQL_OUT / f"{name}_{index}.sql"
            path.write_text(text + ";\n")
            paths.append(path)
        return paths

    def submissions() -> None:
        for chunk in chunks:
            engine.write_monthly_submissions(month, chunk, config)
        engine.remove_unplanned_forms(month, forms, config)

    plan = {
        MONTHLY_SUBMISSIONS.name: (
            timed(submissions),
            psql_runner(
                files(
                    "monthly_submissions", [bare_sql(MONTHLY_SUBMISSIONS, month, config, c) for c in chunks]
                )
            ),
            len(chunks),
        ),
        MONTHLY_SESSIONS.name: (
            timed(lambda: engine.write_monthly_sessions(month, config)),
            psql_runner(files("monthly_sessions", [bare_sql(MONTHLY_SESSIONS, month, config)])),
            1,
        ),
        QUARTERLY_FORM_CHURN.name: (
            timed(lambda: engine.write_quarterly_form_churn(month, config)),
            psql_runner(files("quarterly_form_churn", [bare_sql(QUARTERLY_FORM_CHURN, month, config)])),
            1,
        ),
    }
    for name in SNAPSHOTS:
        plan[name] = (
            timed(lambda name=name: engine.resync_snapshot(name, month, config)),
            psql_runner(files(name, [bare_sql(COLLECTIONS[name], month, config)])),
            1,
        )
    return plan


def documents_written(config: Any) -> dict[str, int]:
    from analytics.stores.mongo import mongo_client

    with mongo_client(config.mongo_connection_id) as client:
        database = client[config.database]
        return {name: database[name].count_documents({}) for name in sorted(database.list_collection_names())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--keep-data", action="store_true", help="reuse bench_app if it exists (no generation)"
    )
    arguments = parser.parse_args(argv)
    started, load_before = datetime.now(UTC), load_average()  # now-ok: when it ran, for the report

    from analytics.bi.config import load_bi_config
    from analytics.stores.mongo import mongo_client

    os.environ[f"AIRFLOW_CONN_{BENCH_CONN_ID.upper()}"] = server_uri(BENCH_DATABASE).replace(
        "postgresql://", "postgres://"
    )
    config = dataclasses.replace(
        load_bi_config(), source_connection_id=BENCH_CONN_ID, database=BENCH_MONGO_DATABASE
    )
    generation_seconds = None
    if not arguments.keep_data:
        fresh_database(BENCH_DATABASE)
        log(f"generating {arguments.submissions:,} submissions into {BENCH_DATABASE}")
        generation_seconds = generate(arguments.submissions, arguments.seed)
        log(f"generated in {generation_seconds:.1f}s")
    with mongo_client(config.mongo_connection_id) as client:
        client.drop_database(BENCH_MONGO_DATABASE)

    results: dict[str, Any] = {}
    for name, (engine_run, psql_run, queries) in tasks(config).items():
        outcomes = alternating_runs(
            {"engine": engine_run, "psql": psql_run},
            arguments.repeats,
            lambda run, method, seconds, name=name: log(f"{name} run {run + 1}: {method} {seconds:.2f}s"),
        )
        engine_seconds, psql_seconds = median(outcomes["engine"]), median(outcomes["psql"])
        results[name] = {
            "queries": queries,
            "engine_seconds": round(engine_seconds, 3),
            "psql_seconds": round(psql_seconds, 3),
            "ratio": round(engine_seconds / psql_seconds, 2) if psql_seconds else None,
            "runs": {method: [round(value, 3) for value in values] for method, values in outcomes.items()},
        }
    written = documents_written(config)

    print(
        f"\nBI aggregation, {MONTH} over {arguments.submissions:,} submissions (median of {arguments.repeats}):"
    )
    print(
        f"{'task':<24}{'queries':>8}{'engine s':>10}{'psql s':>9}{'ratio':>7}  {'documents':>9}  target <= {TARGET_RATIO}x"
    )
    missed = []
    for name, figures in results.items():
        ok = figures["ratio"] is not None and figures["ratio"] <= TARGET_RATIO
        missed += [] if ok else [name]
        print(
            f"{name:<24}{figures['queries']:>8}{figures['engine_seconds']:>10.2f}{figures['psql_seconds']:>9.2f}"
            f"{figures['ratio']:>6.2f}x  {written.get(name, 0):>9}  {'ok' if ok else 'MISSED'}"
        )
    summary = {
        "benchmark": "bi_monthly_aggregation",
        "month": MONTH,
        "submissions": arguments.submissions,
        "seed": arguments.seed,
        "generation_seconds": generation_seconds,
        "target_ratio": TARGET_RATIO,
        "tasks": results,
        "documents": written,
        "machine": machine(),
        "load_average": load_average(),
    }
    write_results(RESULTS_FILE, summary)
    emit_part("bi", summary, vars(arguments), started, load_before, RESULTS_FILE)
    print(f"results: {RESULTS_FILE.relative_to(REPO)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
