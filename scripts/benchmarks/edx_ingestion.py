"""Benchmark of the edX course ingestion (``make bench``, against the test stack's MongoDB server).

One generated ``courseware_studentmodule`` export (the largest table of a data package; 50,000
rows by default) is ingested into a fresh course database by ``ingest_course_package``, first
into an empty database, then again over its own previous contents (the safe replacement: every
document written over its old version, then the old run's leftovers removed). The anchor,
measured in the same run on the same rows: the documents parsed once and written with plain
``insert_many`` batches into an empty collection, which is what the loader did before it kept
old contents readable (drop, then insert). Parsing alone is timed too. Results are printed and
written to ``.local/bench/edx.json``.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from analytics.edx.discovery import discover_package
from analytics.edx.ingestion import IngestionSettings, ingest_course_package
from analytics.edx.naming import course_database_name
from analytics.edx.readers import iter_table_documents
from analytics.edx.tables import SourceDocument
from analytics.stores.mongo import DEFAULT_BATCH_SIZE, mongo_client
from scripts.benchmarks.common import (
    MONGO_CONN_ID,
    RESULTS_DIR,
    Stopwatch,
    connection_uri,
    fresh_mongo_database,
    load_average,
    per_second,
    write_results,
)
from scripts.benchmarks.figures import emit_part

RESULTS_PATH = RESULTS_DIR / "edx.json"
PREFIX = "BenchX-INGEST-2024_T1"
TABLE = "courseware_studentmodule"
HEADER = (
    "id\tmodule_type\tmodule_id\tstudent_id\tstate\tgrade\tcreated\tmodified\tmax_grade\tdone\tcourse_id\n"
)


def write_table(directory: Path, rows: int) -> Path:
    path = directory / f"{PREFIX}-{TABLE}-prod.sql"
    with open(path, "w") as handle:
        handle.write(HEADER)
        for row in range(1, rows + 1):
            handle.write(
                f"{row}\tproblem\tblock-v1:BenchX+INGEST+2024_T1+type@problem+block@p{row % 40}\t{row % 2000}"
                f'\t{{"attempts": {row % 4}, "correct_map": {{"q{row % 3}": {{"correctness": "correct"}}}}}}'
                "\t1.0\t2024-01-01 00:00:00\t2024-01-02 00:00:00\t1.0\tna\tcourse-v1:BenchX+INGEST+2024_T1\n"
            )
    return path


def rate(rows: int, seconds: float) -> float:
    return round(per_second(rows, seconds), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args(argv)
    connection_uri(MONGO_CONN_ID)
    started, load_before = datetime.now(UTC), load_average()  # now-ok: when it ran, for the report
    with tempfile.TemporaryDirectory() as folder, mongo_client(MONGO_CONN_ID) as client:
        package = Path(folder)
        path = write_table(package, args.rows)
        (course,) = discover_package(package).courses
        database = client[course_database_name(course.course)]
        settings = IngestionSettings(progress_every_seconds=1e9)

        watch = Stopwatch()
        parsed = sum(1 for record in iter_table_documents(path, TABLE) if isinstance(record, SourceDocument))
        parse_seconds = watch.seconds

        fresh_mongo_database(client, database.name)
        watch = Stopwatch()
        batch: list[dict] = []
        for record in iter_table_documents(path, TABLE):
            batch.append(record.document)
            if len(batch) >= DEFAULT_BATCH_SIZE:
                database[TABLE].insert_many(batch, ordered=False)
                batch = []
        if batch:
            database[TABLE].insert_many(batch, ordered=False)
        anchor_seconds = watch.seconds

        fresh_mongo_database(client, database.name)
        watch = Stopwatch()
        first = ingest_course_package(course, client, settings)
        first_seconds = watch.seconds
        watch = Stopwatch()
        again = ingest_course_package(course, client, settings)
        again_seconds = watch.seconds
        assert first.loaded == again.loaded == {TABLE: args.rows}, (first.loaded, again.loaded)
        assert database[TABLE].count_documents({}) == parsed == args.rows
        client.drop_database(database.name)

    results = {
        "rows": args.rows,
        "parse_only": {"seconds": round(parse_seconds, 2), "rows_per_second": rate(args.rows, parse_seconds)},
        "anchor_insert_many": {
            "seconds": round(anchor_seconds, 2),
            "rows_per_second": rate(args.rows, anchor_seconds),
        },
        "ingest_empty": {
            "seconds": round(first_seconds, 2),
            "rows_per_second": rate(args.rows, first_seconds),
        },
        "ingest_over_previous": {
            "seconds": round(again_seconds, 2),
            "rows_per_second": rate(args.rows, again_seconds),
        },
    }
    results["ratio_empty_to_anchor"] = round(anchor_seconds / first_seconds, 3)
    results["ratio_over_previous_to_anchor"] = round(anchor_seconds / again_seconds, 3)
    write_results(RESULTS_PATH, results)
    emit_part("edx", results, vars(args), started, load_before, RESULTS_PATH)
    print(f"edX ingestion, {args.rows:,} rows of {TABLE}:")
    for name in ("parse_only", "anchor_insert_many", "ingest_empty", "ingest_over_previous"):
        figure = results[name]
        print(f"  {name:<22} {figure['seconds']:>7.2f} s  {figure['rows_per_second']:>10,.0f} rows/s")
    print(
        f"  ratio to the anchor: {results['ratio_empty_to_anchor']} (empty), "
        f"{results['ratio_over_previous_to_anchor']} (over previous contents)"
    )
    return 0
