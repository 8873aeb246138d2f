"""``make bench``: every benchmark the DAG issues asked for, one after another, then one report.

Each benchmark script runs in its own process and writes its figures as a part
(``.local/bench/parts/<benchmark>.json``); a benchmark that misses a target, or fails, does not
stop the next one. At the end the parts, the machine (CPU, cores, memory, Python, the servers'
versions, the load average at the start and the end) and each script's exit status and time become
``.local/bench/report.md``, ``report.json`` and the plots (``report.py``). The exit status is 1 if
any target was missed or any benchmark failed.

``--small`` runs every benchmark on reduced inputs (a minute or two in all) into
``.local/bench-small/``, to try the machinery without touching a full run's results; ``--only``
picks benchmarks by name."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Nothing of common.py is imported here before --small has set the results folder it reads.
REPO = Path(__file__).resolve().parents[2]

# The benchmarks in the report's order: name, script (run from the repository's root).
BENCHMARKS = {
    "engagement": "scripts/bench.py",
    "edx": "scripts/bench_edx.py",
    "tracking": "scripts/bench_tracking.py",
    "kpis": "scripts/bench_kpis.py",
    "bi": "scripts/bench_bi.py",
    "messages": "scripts/bench_messages.py",
}
# --small: each script's size options at a few thousand rows (the full sizes are their defaults).
SMALL_ARGUMENTS = {
    "engagement": ["--events", "20000", "--users", "500", "--repeats", "1"],
    "edx": ["--rows", "2000"],
    "tracking": ["--events", "8000", "--database-events", "2000", "--naive-events", "500", "--repeats", "1"],
    "kpis": ["--events", "5000", "--learners", "100"],
    "bi": ["--submissions", "20000", "--repeats", "1"],
    "messages": ["--messages", "5000", "--repeats", "1"],
}
SMALL_RESULTS_DIR = ".local/bench-small"
BENCH_DIR_VARIABLE = "ANALYTICS_BENCH_DIR"


def log(message: str) -> None:
    print(f"[bench-all] {message}", flush=True)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")  # now-ok: when the run happened, for the report


def commands(names: list[str], small: bool) -> list[tuple[str, list[str]]]:
    """Each benchmark's command line (the interpreter running this one)."""
    return [
        (name, [sys.executable, BENCHMARKS[name], *(SMALL_ARGUMENTS[name] if small else [])])
        for name in names
    ]


def run_benchmark(name: str, command: list[str]) -> dict[str, Any]:
    """One benchmark script, its output shown as it goes; its exit status and seconds."""
    shown = " ".join(["python", *command[1:]])
    log(f"{name}: {shown}")
    started = time.perf_counter()
    code = subprocess.run(command, cwd=REPO, check=False).returncode
    seconds = round(time.perf_counter() - started, 1)
    log(f"{name}: exit {code} after {seconds} s")
    return {"benchmark": name, "command": shown, "exit_code": code, "seconds": seconds}


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help=f"reduced inputs, results in {SMALL_RESULTS_DIR}/"
    )
    parser.add_argument(
        "--only", type=lambda text: text.split(","), default=list(BENCHMARKS), help="comma-separated names"
    )
    arguments = parser.parse_args(argv)
    unknown = sorted(set(arguments.only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}: expected some of {list(BENCHMARKS)}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.small:
        os.environ.setdefault(BENCH_DIR_VARIABLE, SMALL_RESULTS_DIR)
    # The results folder is read when common.py is imported: after the variable is set (the
    # children inherit it).
    from scripts.benchmarks.common import PARTS_DIR, RESULTS_DIR
    from scripts.benchmarks.machine import describe_machine
    from scripts.benchmarks.report import RUN_FILE, write_report

    shutil.rmtree(PARTS_DIR, ignore_errors=True)  # a part is this run's or none
    machine = describe_machine()
    run: dict[str, Any] = {
        "command": "make bench" + (" BENCH_ARGS=--small" if arguments.small else ""),
        "sizes": "small" if arguments.small else "full",
        "started": now(),
        "machine": machine,
        "load_average": {"start": machine["load_average"]},
        "scripts": [],
    }
    started = time.perf_counter()
    for name, command in commands(arguments.only, arguments.small):
        run["scripts"].append(run_benchmark(name, command))
    run.update(finished=now(), seconds=round(time.perf_counter() - started, 1))
    run["load_average"]["end"] = [round(value, 2) for value in os.getloadavg()]
    RUN_FILE.parent.mkdir(parents=True, exist_ok=True)
    RUN_FILE.write_text(json.dumps(run, indent=2) + "\n")
    report = write_report(run)
    summary = report["summary"]
    print()
    log(
        f"{summary['targets']} targets: {summary['met']} met, {len(summary['missed'])} missed; "
        f"{len(summary['errors'])} errors; in {run['seconds']} s"
    )
    for line in [
        *(f"missed: {name}" for name in summary["missed"]),
        *(f"error: {e}" for e in summary["errors"]),
    ]:
        log(line)
    log(
        f"report: {(RESULTS_DIR / 'report.md').relative_to(REPO)}, {(RESULTS_DIR / 'report.json').relative_to(REPO)}"
    )
    for plot in report["plots"]:
        log(f"plot: {plot['path']} ({plot['points']} sizes)")
    return 0 if summary["ok"] else 1
