"""Benchmark of the tracking-log master load (``make bench``, against the test stack's MongoDB server).

It writes a day of generated edX tracking events (1,000,000 by default; seed 11; browser video
events whose ``event`` is a JSON string, server page views, problem checks in both halves, open
assessments with dotted and ``$`` keys, mobile video, enrolments, login pages, events whose
course shows only in the URL, about one broken line in 500) to a gzip file, streamed, and times,
each beside its anchor: (1) the loader's own work, ``iter_lines`` + ``parse_tracking_line`` over
the file, against a bare gunzip + ``orjson.loads`` pass (target >= 0.6 of it); (2)
``load_tracking_file`` into an empty master with its indexes, in a child process (peak RSS under
300 MB, flat between N and 2N events; N/2 is loaded too, for the report's plots of time and memory
against the input size), against ``insert_many(ordered=False)`` of the same
documents, built beforehand, into an empty collection with the same indexes (target >= 0.8);
(3) the original scripts' way, ``json.loads`` and one ``insert_one`` per line (target: the full
load >= 5x faster); (4) ``extract_course`` of one course from the loaded master. The database
figures use the first N and 2N events (the local server writes a few thousand documents per
second). Results are printed and written to ``.local/bench/tracking.json``; the scratch
databases are dropped at the end. A missed target prints FAIL (MISSED) and a cProfile of the
loader's own work, and does not change the exit code; errors do.

The parts: ``tracking_events.py`` (the generated file), ``tracking_own_work.py`` (1),
``tracking_database.py`` (2 to 4), ``tracking_report.py`` (the targets and the summary).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.edx.tracking_files import TrackingFile
from analytics.stores.mongo import mongo_client
from scripts.benchmarks.common import (
    MONGO_CONN_ID,
    RESULTS_DIR,
    Stopwatch,
    connection_uri,
    load_average,
    logger,
    machine,
    write_results,
)
from scripts.benchmarks.figures import emit_part
from scripts.benchmarks.tracking_database import drop_scratch_databases, measure_database
from scripts.benchmarks.tracking_events import write_tracking_files
from scripts.benchmarks.tracking_own_work import key_check_share, measure_own_work, profile_own_work
from scripts.benchmarks.tracking_report import report, targets_met

RESULTS_PATH = RESULTS_DIR / "tracking.json"
DEFAULT_EVENTS = 1_000_000
DEFAULT_DATABASE_EVENTS = 200_000  # N; the flat-memory check also loads 2N
DEFAULT_NAIVE_EVENTS = 20_000
DEFAULT_SEED = 11
DEFAULT_REPEATS = 3  # timed passes of the own-work pair (median)
PROFILE_EVENTS = 100_000

log = logger("bench-tracking", elapsed=True)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events of the own-work file")
    parser.add_argument(
        "--database-events",
        "--db-events",
        type=int,
        default=DEFAULT_DATABASE_EVENTS,
        help="N (2N also loaded)",
    )
    parser.add_argument("--naive-events", type=int, default=DEFAULT_NAIVE_EVENTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="passes of the own-work pair")
    parser.add_argument(
        "--profile", action="store_true", help="profile the own work even when its target is met"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    connection_uri(MONGO_CONN_ID)
    small, large = args.database_events, 2 * args.database_events
    half = small // 2  # a third size for the plots: N/2, N, 2N
    if not args.naive_events <= small <= large <= args.events or half < 1:
        raise SystemExit(
            "expected 2 <= --database-events, --naive-events <= --database-events <= 2 x --database-events <= --events"
        )

    started_at = datetime.now(UTC)  # now-ok: when the benchmark ran, for the report
    results: dict[str, Any] = {
        "when": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_average(),
        "seed": args.seed,
    }
    errors: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-tracking-") as folder,
        mongo_client(MONGO_CONN_ID) as client,
    ):
        directory = Path(folder)
        try:
            sizes = sorted({half, small, large, args.events})
            log(
                f"writing {args.events:,} events (files of {', '.join(f'{size:,}' for size in sizes)}) to {folder}"
            )
            watch = Stopwatch()
            files, kinds = write_tracking_files(directory, sizes, args.seed)
            results["generate_seconds"] = round(watch.seconds, 1)
            results["files"] = [file.as_dict() for file in files]
            results["events_by_kind"] = dict(kinds.most_common())
            found = {file.events: TrackingFile.at(file.path) for file in files}
            log(f"generated in {results['generate_seconds']}s: {results['files'][-1]}")

            results["own_work"] = measure_own_work(found[args.events], args.repeats)
            database_results, errors = measure_database(
                client,
                {size: found[size] for size in (half, small, large)},
                small,
                args.naive_events,
                args.seed,
                directory,
            )
            results.update(database_results)
        finally:
            drop_scratch_databases(client)

        results["load_average_after"] = load_average()
        targets = targets_met(results, small, large)
        results["targets_met"] = targets
        profile_lines: list[str] = []
        if not all(targets.values()) or args.profile:
            log("profiling the own work")
            profile_lines = profile_own_work(found[args.events], min(PROFILE_EVENTS, args.events))
            profile_lines += [""] + key_check_share(found[args.events], min(PROFILE_EVENTS, args.events))
            results["own_work_profile"] = profile_lines

    write_results(RESULTS_PATH, results)
    emit_part("tracking", results, vars(args), started_at, results["load_average_before"], RESULTS_PATH)
    for line in report(results, small, large, targets, profile_lines, RESULTS_PATH):
        print(line)
    for error in errors:
        print(f"ERROR {error}")
    return 1 if errors else 0
