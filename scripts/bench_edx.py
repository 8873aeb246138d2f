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
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO))

from analytics.edx.discovery import discover_package  # noqa: E402
from analytics.edx.ingestion import IngestionSettings, ingest_course_package  # noqa: E402
from analytics.edx.naming import course_database_name  # noqa: E402
from analytics.edx.readers import iter_table_documents  # noqa: E402
from analytics.edx.tables import SourceDocument  # noqa: E402
from analytics.stores.mongo import DEFAULT_BATCH_SIZE, mongo_client  # noqa: E402

RESULTS_PATH = REPO / ".local" / "bench" / "edx.json"
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
    return round(rows / seconds, 1) if seconds else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder, mongo_client("mongo_default") as client:
        package = Path(folder)
        path = write_table(package, args.rows)
        (course,) = discover_package(package).courses
        database = client[course_database_name(course.course)]
        settings = IngestionSettings(progress_every_seconds=1e9)

        started = time.monotonic()
        parsed = sum(1 for record in iter_table_documents(path, TABLE) if isinstance(record, SourceDocument))
        parse_seconds = time.monotonic() - started

        client.drop_database(database.name)
        started = time.monotonic()
        batch: list[dict] = []
        for record in iter_table_documents(path, TABLE):
            batch.append(record.document)
            if len(batch) >= DEFAULT_BATCH_SIZE:
                database[TABLE].insert_many(batch, ordered=False)
                batch = []
        if batch:
            database[TABLE].insert_many(batch, ordered=False)
        anchor_seconds = time.monotonic() - started

        client.drop_database(database.name)
        started = time.monotonic()
        first = ingest_course_package(course, client, settings)
        first_seconds = time.monotonic() - started
        started = time.monotonic()
        again = ingest_course_package(course, client, settings)
        again_seconds = time.monotonic() - started
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
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n")
    print(f"edX ingestion, {args.rows:,} rows of {TABLE}:")
    for name in ("parse_only", "anchor_insert_many", "ingest_empty", "ingest_over_previous"):
        figure = results[name]
        print(f"  {name:<22} {figure['seconds']:>7.2f} s  {figure['rows_per_second']:>10,.0f} rows/s")
    print(
        f"  ratio to the anchor: {results['ratio_empty_to_anchor']} (empty), "
        f"{results['ratio_over_previous_to_anchor']} (over previous contents)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
