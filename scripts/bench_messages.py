"""The message export benchmark (``make bench``): ``python scripts/bench_messages.py [--help]``.

It generates the demo platform with one app and 1 M messages (``python -m scripts.demo_data
messages --apps 1 --messages 1000000``, 30 days of March 2024, seed 7) into a fresh
``bench_messages`` database of the test stack's MongoDB, then over the last 7 days (24..30 March):
times the analytics (``compute_counts``: every metric of the analytics table) beside the same
aggregations written out here with plain pymongo (alternated, median of ``--repeats``), and streams
the range's message dump (``message_dump`` into a file) in a child process for its messages/s and
peak RSS, beside the RSS of the same child before the dump. Results: ``.local/bench/messages.json``
and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    per_second,
    resident_memory_mb,
    write_results,
)
from scripts.benchmarks.figures import emit_part  # noqa: E402

BENCH_DATABASE = "bench_messages"
APP = "demo-app-1"
RANGE_END = "2024-03-31T00:00:00+00:00"
RESULTS_FILE = RESULTS_DIR / "messages.json"
log = logger("bench_messages", elapsed=True)


def mongo_uri() -> str:
    return "mongodb://" + connection_uri("mongo_default").split("://", 1)[1]


def bench_range() -> Any:
    import pendulum

    from analytics.messages.ranges import resolve_range

    end = pendulum.parse(RANGE_END)
    return resolve_range("7D", "", "", end, end, "UTC")


def generate(messages: int, seed: int) -> float:
    watch = Stopwatch()
    command = [sys.executable, "-m", "scripts.demo_data", "messages", "--apps", "1", "--seed", str(seed)]
    command += ["--messages", str(messages), "--database", BENCH_DATABASE, "--mongo-uri", mongo_uri()]
    subprocess.run(command, check=True, cwd=REPO)
    return watch.seconds


def plain_pymongo_counts(database: Any, start: Any, end: Any) -> dict[str, int]:
    """The analytics' aggregations, written out with pymongo alone (the anchor)."""

    def match(*more: dict) -> dict:
        return {"$and": [{"project": APP}, {"timestamp": {"$gte": start, "$lt": end}}, *more]}

    def group(filter_: dict, key: str, count: bool = True) -> list[dict]:
        stage = {"_id": f"${key}", "n": {"$sum": 1}} if count else {"_id": f"${key}"}
        return list(database.messages.aggregate([{"$match": filter_}, {"$group": stage}]))

    users = [row["_id"] for row in group(match(), "userId", count=False)]
    before = set()
    for offset in range(0, len(users), 500):
        batch = {
            "$and": [
                {"project": APP},
                {"userId": {"$in": users[offset : offset + 500]}},
                {"timestamp": {"$lt": start}},
            ]
        }
        before |= {
            row["_id"]
            for row in database.messages.aggregate([{"$match": batch}, {"$group": {"_id": "$userId"}}])
        }
    counts = {row["_id"]: row["n"] for row in group(match(), "type")}
    counts |= {f"content {row['_id']}": row["n"] for row in group(match({"type": "request"}), "content.type")}
    counts["active"] = len(group(match({"type": "request"}), "userId", count=False))
    counts["engaged"] = len(group(match({"type": "notification"}), "userId", count=False))
    counts["new"] = len(set(users) - before)
    tasks = {"$and": [{"appId": APP}, {"creationTs": {"$gte": start, "$lt": end}}]}
    counts["questions"] = database.tasks.count_documents(tasks)
    pipeline = [
        {"$match": {"appId": APP}},
        {"$unwind": "$transactions"},
        {"$match": {"$and": [{"transactions.creationTs": {"$gte": start, "$lt": end}}]}},
        {"$group": {"_id": "$transactions.label", "n": {"$sum": 1}}},
    ]
    counts |= {row["_id"]: row["n"] for row in database.tasks.aggregate(pipeline)}
    return counts


def dump_child() -> int:
    """In a child process: the range's message dump into a scratch file; prints its figures as JSON."""
    from pymongo import MongoClient

    from analytics.messages.engine import ensure_indexes, message_dump, write_atomically

    with MongoClient(mongo_uri()) as client:
        database = client[BENCH_DATABASE]
        ensure_indexes(database)
        rss_before = resident_memory_mb()[1]
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "messages.jsonl"
            watch = Stopwatch()
            size = write_atomically(path, message_dump(database, APP, bench_range()))
            seconds = watch.seconds
            with open(path, "rb") as file:
                lines = sum(1 for _ in file)
    peak = resident_memory_mb()[0]
    print(
        json.dumps(
            {
                "messages": lines,
                "bytes": size,
                "seconds": seconds,
                "rss_before_mb": rss_before,
                "peak_rss_mb": peak,
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep-data", action="store_true", help="reuse bench_messages (no generation)")
    parser.add_argument("--dump-child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.dump_child:
        return dump_child()
    started, load_before = datetime.now(UTC), load_average()  # now-ok: when it ran, for the report

    from pymongo import MongoClient

    from analytics.messages.engine import compute_counts, ensure_indexes

    generation_seconds = None
    if not arguments.keep_data:
        log(f"generating {arguments.messages:,} messages into {BENCH_DATABASE}")
        generation_seconds = generate(arguments.messages, arguments.seed)
        log(f"generated in {generation_seconds:.1f}s")
    time_range = bench_range()
    start, end = time_range.utc_bounds()
    with MongoClient(mongo_uri()) as client:
        database = client[BENCH_DATABASE]
        ensure_indexes(database)
        in_range = database.messages.count_documents(
            {"$and": [{"project": APP}, {"timestamp": {"$gte": start, "$lt": end}}]}
        )

        def timed(function: Any) -> Any:
            def run() -> float:
                watch = Stopwatch()
                function()
                return watch.seconds

            return run

        outcomes = alternating_runs(
            {
                "engine": timed(lambda: compute_counts(database, APP, time_range)),
                "pymongo": timed(lambda: plain_pymongo_counts(database, start, end)),
            },
            arguments.repeats,
            lambda run, method, seconds: log(f"analytics run {run + 1}: {method} {seconds:.2f}s"),
        )
        counts = compute_counts(database, APP, time_range)
    log("dumping the range's messages in a child process")
    child = subprocess.run(
        [sys.executable, __file__, "--dump-child"], check=True, capture_output=True, text=True, cwd=REPO
    )
    dump = json.loads(child.stdout.strip().splitlines()[-1])
    engine_seconds, pymongo_seconds = median(outcomes["engine"]), median(outcomes["pymongo"])
    ratio = round(engine_seconds / pymongo_seconds, 2) if pymongo_seconds else None
    rate = per_second(dump["messages"], dump["seconds"])
    print(
        f"\nMessage export, {APP} {time_range.start} .. {time_range.end}: {in_range:,} of {arguments.messages:,} messages"
    )
    print(f"  analytics (compute_counts)      {engine_seconds:8.2f} s   (median of {arguments.repeats})")
    print(f"  the same with plain pymongo     {pymongo_seconds:8.2f} s   ratio {ratio}x")
    print(
        f"  dump messages.jsonl             {dump['seconds']:8.2f} s   {rate:,.0f} messages/s, {dump['bytes']:,} bytes"
    )
    print(
        f"  dump peak RSS                   {dump['peak_rss_mb']:8.1f} MB  ({dump['rss_before_mb']:.1f} MB before the dump)"
    )
    summary = {
        "benchmark": "message_analytics_export",
        "app": APP,
        "range": [time_range.start.isoformat(), time_range.end.isoformat()],
        "messages": arguments.messages,
        "messages_in_range": in_range,
        "seed": arguments.seed,
        "generation_seconds": generation_seconds,
        "analytics": {
            "engine_seconds": round(engine_seconds, 3),
            "pymongo_seconds": round(pymongo_seconds, 3),
            "ratio": ratio,
            "runs": {name: [round(value, 3) for value in values] for name, values in outcomes.items()},
            "counts": counts,
        },
        "dump": {**dump, "messages_per_second": round(rate, 1)},
        "machine": machine(),
        "load_average": load_average(),
    }
    write_results(RESULTS_FILE, summary)
    parameters = {key: value for key, value in vars(arguments).items() if key != "dump_child"}
    emit_part("messages", summary, parameters, started, load_before, RESULTS_FILE)
    print(f"results: {RESULTS_FILE.relative_to(REPO)}")
    return 0 if dump["messages"] == counts["total_messages"] == in_range else 1


if __name__ == "__main__":
    sys.exit(main())
