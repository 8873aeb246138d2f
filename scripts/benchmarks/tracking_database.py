"""The tracking benchmark's figures on the MongoDB server, each beside its anchor: the documents of
N events, built beforehand, written with bare ``insert_many(ordered=False)`` into an empty
collection with the master's indexes; ``load_tracking_file`` of N and of 2N into an empty master,
each in a child process (``python -m scripts.benchmarks.tracking_database``) so that its peak RSS
is the load's alone; the original scripts' way, ``json.loads`` and one ``insert_one`` per line; and
``extract_course`` of one course from the master the 2N load leaves. All in scratch databases,
dropped at the end."""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.edx.naming import course_database_name
from analytics.edx.tables import COURSE_STRUCTURE_COLLECTION
from analytics.edx.tracking_files import TrackingFile
from analytics.edx.tracking_lines import parse_tracking_line
from analytics.edx.tracking_load import (
    MASTER_COLLECTION,
    MASTER_INDEXES,
    TrackingSettings,
    ensure_master_indexes,
    iter_lines,
    load_tracking_file,
)
from analytics.stores.mongo import mongo_client
from scripts.benchmarks.common import (
    MONGO_CONN_ID,
    REPO,
    Stopwatch,
    fresh_mongo_database,
    logger,
    resident_memory_mb,
)
from scripts.benchmarks.tracking_events import EXTRACTED_COURSE, EventGenerator
from scripts.benchmarks.tracking_own_work import PassTiming

# Scratch databases, all dropped at the end; the extraction also writes its course's database.
MASTER_DATABASE = "bench_tracking_logs"
ANCHOR_DATABASE = "bench_tracking_anchor"
NAIVE_DATABASE = "bench_tracking_naive"
SCRATCH_DATABASES = (MASTER_DATABASE, ANCHOR_DATABASE, NAIVE_DATABASE, course_database_name(EXTRACTED_COURSE))
PROGRESS_EVERY_SECONDS = 30.0

log = logger("bench-tracking", elapsed=True)


def measure_database(
    client: Any, files: dict[int, TrackingFile], small: int, naive_lines: int, seed: int, folder: Path
) -> tuple[dict[str, Any], list[str]]:
    """The database figures on the files of each size (``{N/2: file, N: file, 2N: file}``, N =
    ``small``): the results' ``anchor_insert_many`` .. ``extraction``, and the errors to report.

    In the order anchor, full load of N, naive, then the full loads of the other sizes, smallest
    first: the runs compared sit next to each other (the server's speed drifts with the machine's
    other work), and the master the largest load leaves is the extraction's."""
    log(f"building the {small:,} documents of the anchor")
    batch_size = TrackingSettings().batch_size
    batches = prebuilt_batches(files[small], batch_size)
    log(f"anchor: insert_many of {sum(map(len, batches)):,} documents in batches of {batch_size}")
    anchor = anchor_insert_many(client, batches)
    del batches
    client.drop_database(ANCHOR_DATABASE)
    log(f"anchor: {anchor.events:,} documents in {anchor.seconds:.1f}s")
    loads = {small: full_load(files[small])}
    log(f"naive: json.loads + insert_one of the first {naive_lines:,} lines")
    naive = naive_load(client, files[small].path, naive_lines)
    client.drop_database(NAIVE_DATABASE)
    log(f"naive: {naive.events:,} events in {naive.seconds:.1f}s")
    for size in sorted(files):
        if size != small:
            loads[size] = full_load(files[size])
    results: dict[str, Any] = {
        "anchor_insert_many": {
            "events": anchor.events,
            "seconds": round(anchor.seconds, 2),
            "events_per_second": round(anchor.events_per_second),
        },
        "full_load": {str(size): loads[size] for size in sorted(loads)},
        "full_load_ratio": round(loads[small]["events_per_second"] / anchor.events_per_second, 3),
        "naive": {
            "lines": naive_lines,
            "events": naive.events,
            "skipped_lines": naive.other_lines,
            "seconds": round(naive.seconds, 2),
            "events_per_second": round(naive.events_per_second),
        },
        "speedup_over_naive": round(loads[small]["events_per_second"] / naive.events_per_second, 2),
        # What batching alone gives on this server: the most any loader could reach here.
        "anchor_over_naive": round(anchor.events_per_second / naive.events_per_second, 2),
    }
    errors = []
    log("extraction of one course from the master")
    try:
        results["extraction"] = time_extraction(client, seed, folder)
    except Exception as error:  # another engineer's module, in progress: report, go on
        results["extraction"] = {"available": True, "error": f"{type(error).__name__}: {error}"}
        errors.append(f"extraction: {type(error).__name__}: {error}")
    return results, errors


def drop_scratch_databases(client: Any) -> None:
    for name in SCRATCH_DATABASES:
        client.drop_database(name)


# -- the full load, in a child process ---------------------------------------------------------


def child_load(path: Path, master_database: str) -> dict[str, Any]:
    """In the child process: load_tracking_file of ``path`` into an empty master; timing and peak RSS."""
    logging.basicConfig(level=logging.INFO, format="[bench-tracking child] %(message)s", stream=sys.stderr)
    logging.getLogger("analytics.edx.tracking_load").addFilter(
        lambda record: not record.getMessage().startswith("discarded")  # the first 20 rejections
    )
    settings = TrackingSettings(
        master_database=master_database, progress_every_seconds=PROGRESS_EVERY_SECONDS
    )
    with tempfile.TemporaryDirectory() as errors_dir, mongo_client(MONGO_CONN_ID) as client:
        database = fresh_mongo_database(client, master_database)
        ensure_master_indexes(database)
        rss_before, _ = resident_memory_mb()
        found = TrackingFile.at(path)
        watch = Stopwatch()
        result = load_tracking_file(
            database, found, errors_dir=Path(errors_dir), run_id="bench", settings=settings
        )
        seconds = watch.seconds
        # count_documents reads every document on the local server (about 30 s per 200,000).
        stored = database[MASTER_COLLECTION].estimated_document_count()
    peak, current = resident_memory_mb()
    return {
        "events": result.loaded,
        "read": result.read,
        "discarded": result.discarded,
        "status": result.status,
        "stored": stored,
        "seconds": seconds,
        "events_per_second": result.loaded / seconds,
        "peak_rss_mb": round(peak, 1),
        "rss_mb_at_end": round(current, 1),
        "peak_rss_mb_before_load": round(rss_before, 1),  # imports (Airflow's MongoHook) and the client
    }


def run_child_load(path: Path) -> dict[str, Any]:
    """The full load in a fresh interpreter, so that its peak RSS is the load's alone; its log shows as it goes."""
    result_path = path.with_name(path.name + ".result.json")
    subprocess.run(
        [
            sys.executable,
            "-m",
            __name__,  # this module, as its main() below
            str(path),
            "--master-database",
            MASTER_DATABASE,
            "--result",
            str(result_path),
        ],
        check=True,
        cwd=REPO,
    )
    outcome = json.loads(result_path.read_text())
    if outcome["status"] != "complete" or outcome["stored"] != outcome["events"]:
        raise SystemExit(f"the full load of {path.name} did not complete: {outcome}")
    return outcome


def full_load(found: TrackingFile) -> dict[str, Any]:
    log(f"full load of {found.path.name} (child process)")
    outcome = run_child_load(found.path)
    log(
        f"full load: {outcome['events']:,} events in {outcome['seconds']:.1f}s, "
        f"peak RSS {outcome['peak_rss_mb']} MB"
    )
    return outcome


# -- the anchors -------------------------------------------------------------------------------


def prebuilt_batches(found: TrackingFile, batch_size: int) -> list[list[dict]]:
    """The master documents of the file as the loader builds them, in batches of its size (not timed)."""
    loaded_at = datetime.now(UTC)  # now-ok: a stamp, as the loader takes one
    batches: list[list[dict]] = [[]]
    with found.path.open("rb") as handle:
        for number, raw in enumerate(iter_lines(found.path, handle), start=1):
            document = parse_tracking_line(raw, found.name, number, loaded_at)
            if type(document) is dict:
                if len(batches[-1]) >= batch_size:
                    batches.append([])
                batches[-1].append(document)
    return batches


def anchor_insert_many(client: Any, batches: list[list[dict]]) -> PassTiming:
    """insert_many(ordered=False) of the pre-built batches into an empty collection with the master's indexes."""
    database = fresh_mongo_database(client, ANCHOR_DATABASE)
    ensure_master_indexes(database)
    collection = database[MASTER_COLLECTION]
    watch = Stopwatch()
    for batch in batches:
        collection.insert_many(batch, ordered=False)
    seconds = watch.seconds
    stored = collection.estimated_document_count()
    expected = sum(len(batch) for batch in batches)
    if stored != expected:
        raise SystemExit(f"the anchor stored {stored} documents, expected {expected}")
    return PassTiming(seconds, stored, 0)


def naive_load(client: Any, path: Path, lines: int) -> PassTiming:
    """The original scripts' way: json.loads each line, one insert_one each (same indexes, empty collection)."""
    collection = fresh_mongo_database(client, NAIVE_DATABASE)[MASTER_COLLECTION]
    for keys in MASTER_INDEXES:
        collection.create_index(keys)
    inserted = skipped = 0
    watch = Stopwatch()
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                document = json.loads(line)
            except ValueError:
                skipped += 1
            else:
                collection.insert_one(document)
                inserted += 1
            if number >= lines:
                break
    return PassTiming(watch.seconds, inserted, skipped)


# -- the extraction ----------------------------------------------------------------------------
# Runs when analytics/edx/extraction.py provides extract_course and analytics/edx/course_configs.py
# parse_course_config; else it reports "not available". To run it by hand:
# `python scripts/bench_tracking.py --events 1000 --database-events 500 --naive-events 100 --repeats 1`
# (small, fast) prints the extraction line at the end.


def time_extraction(client: Any, generator_seed: int, folder: Path) -> dict[str, Any]:
    """extract_course of EXTRACTED_COURSE from the bench master (as the last full load left it)."""
    try:
        from analytics.edx.course_configs import parse_course_config
        from analytics.edx.extraction import extract_course
    except ImportError as error:
        return {"available": False, "reason": f"{error}"}
    config_path = folder / "bench_trk103.json"
    config_path.write_text(
        json.dumps(
            {
                "edx_id": "bench_trk103",
                "edx_course_name": "Tracking benchmark course",
                "course_ids": [EXTRACTED_COURSE],
                "date_of_course_enrollment": "2024-01-01",
                "date_of_course_completion": "2024-06-30",
            }
        )
    )
    config = parse_course_config(config_path)
    course = next(
        shape for shape in EventGenerator(generator_seed).courses if shape.course_id == EXTRACTED_COURSE
    )
    database = fresh_mongo_database(client, config.database_name)
    database[COURSE_STRUCTURE_COLLECTION].insert_many(course.structure)
    in_master = client[MASTER_DATABASE][MASTER_COLLECTION].estimated_document_count()
    watch = Stopwatch()
    summary = extract_course(
        client, config, master_database=MASTER_DATABASE, progress_every_seconds=PROGRESS_EVERY_SECONDS
    )
    seconds = watch.seconds
    stored = database["tracking"].estimated_document_count()
    client.drop_database(config.database_name)
    return {
        "available": True,
        "database": config.database_name,
        "master_events": in_master,
        "selected": summary.selected,
        "written": summary.written,
        "enriched": summary.enriched,
        "not_enriched": summary.not_enriched,
        "stored": stored,
        "mode": summary.mode,
        "seconds": seconds,
        "events_per_second": summary.selected / seconds if seconds else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """The child process of :func:`run_child_load`: one full load, its outcome written as JSON."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("path", type=Path, help="the tracking file to load")
    parser.add_argument("--master-database", required=True)
    parser.add_argument("--result", type=Path, required=True, help="where to write the outcome (JSON)")
    args = parser.parse_args(argv)
    args.result.write_text(json.dumps(child_load(args.path, args.master_database)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
