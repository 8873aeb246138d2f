"""The tracking loader's own work, without the database: ``iter_lines`` + ``parse_tracking_line``
over the generated file, timed against its anchor, a bare gunzip + ``orjson.loads`` pass over the
same file (alternating, median of a few runs, wall clock and CPU time); and, when a target is
missed, where that time goes (a cProfile, and the share of the exact key check)."""

from __future__ import annotations

import cProfile
import gzip
import io
import pstats
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from analytics.edx import tracking_lines
from analytics.edx.tracking_files import TrackingFile
from analytics.edx.tracking_lines import parse_tracking_line
from analytics.edx.tracking_load import file_sha256, iter_lines
from scripts.benchmarks.common import Stopwatch, alternating_runs, logger, median, per_second

PROFILE_TOP = 18
KEY_CHECK_REPEATS = 3

log = logger("bench-tracking", elapsed=True)


@dataclass
class PassTiming:
    seconds: float
    events: int  # lines that became documents (or parsed as JSON, for the bare pass)
    other_lines: int  # rejected lines
    cpu_seconds: float = 0.0  # this process's CPU time: less disturbed by other work on the machine

    @property
    def events_per_second(self) -> float:
        return per_second(self.events, self.seconds)


def own_work_pass(found: TrackingFile, limit: int | None = None) -> PassTiming:
    """The loader's work without the database: iter_lines + parse_tracking_line over the file."""
    loaded_at = datetime.now(UTC)  # now-ok: a stamp, as the loader takes one
    events = rejected = 0
    watch = Stopwatch()
    with found.path.open("rb") as handle:
        for number, raw in enumerate(iter_lines(found.path, handle), start=1):
            document = parse_tracking_line(raw, found.name, number, loaded_at)
            if type(document) is dict:
                events += 1
            else:
                rejected += 1
            if number == limit:
                break
    return PassTiming(watch.seconds, events, rejected, watch.cpu_seconds)


def bare_pass(path: Path, limit: int | None = None) -> PassTiming:
    """The physical limit: gunzip and orjson.loads of every line, nothing else."""
    events = broken = 0
    loads, error = orjson.loads, orjson.JSONDecodeError
    watch = Stopwatch()
    with gzip.open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                loads(raw)
            except error:
                broken += 1
            else:
                events += 1
            if number == limit:
                break
    return PassTiming(watch.seconds, events, broken, watch.cpu_seconds)


def median_timing(timings: list[PassTiming]) -> PassTiming:
    return PassTiming(
        median(timing.seconds for timing in timings),
        timings[0].events,
        timings[0].other_lines,
        median(timing.cpu_seconds for timing in timings),
    )


def measure_own_work(found: TrackingFile, repeats: int) -> dict[str, Any]:
    """The own work against the bare pass, ``repeats`` times each, alternating: the results' ``own_work``."""

    def after_each(run: int, name: str, timing: PassTiming) -> None:
        log(f"run {run + 1}: {name:<4} {timing.events:,} events in {timing.seconds:.2f}s")

    runs = alternating_runs(
        {"own": lambda: own_work_pass(found), "bare": lambda: bare_pass(found.path)}, repeats, after_each
    )
    own_runs, bare_runs = runs["own"], runs["bare"]
    if own_runs[0].events != bare_runs[0].events:
        raise SystemExit(
            f"own work made {own_runs[0].events} documents, the bare pass parsed {bare_runs[0].events}"
        )
    own, bare = median_timing(own_runs), median_timing(bare_runs)
    sha_watch = Stopwatch()
    file_sha256(found.path)
    return {
        "events": own.events,
        "rejected_lines": own.other_lines,
        "runs_seconds": [round(timing.seconds, 2) for timing in own_runs],
        "seconds": round(own.seconds, 2),
        "events_per_second": round(own.events_per_second),
        "bare_runs_seconds": [round(timing.seconds, 2) for timing in bare_runs],
        "bare_seconds": round(bare.seconds, 2),
        "bare_events_per_second": round(bare.events_per_second),
        "ratio": round(own.events_per_second / bare.events_per_second, 3),
        "cpu_seconds": round(own.cpu_seconds, 2),
        "bare_cpu_seconds": round(bare.cpu_seconds, 2),
        "cpu_ratio": round(bare.cpu_seconds / own.cpu_seconds, 3),
        "sha256_of_the_file_seconds": round(sha_watch.seconds, 2),
    }


def profile_own_work(found: TrackingFile, events: int) -> list[str]:
    """cProfile of the own-work pass over the first ``events`` lines: the functions that take the time."""
    profiler = cProfile.Profile()
    profiler.enable()
    own_work_pass(found, limit=events)
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    total = stats.total_tt  # type: ignore[attr-defined]
    lines = [
        f"cProfile of the own work over {events:,} lines ({total:.2f}s under the profiler), by own time:"
    ]
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    for (filename, line, name), (_, calls, own, cumulative, _) in rows[:PROFILE_TOP]:
        where = f"{Path(filename).name}:{line}" if line else filename
        lines.append(
            f"  {own:7.2f}s {own / total:6.1%} own  {cumulative:7.2f}s cumulative  {calls:>10,} calls  {name} ({where})"
        )
    return lines


def key_check_share(found: TrackingFile, events: int) -> list[str]:
    """The own work over the first ``events`` lines with and without its key check (has_unsafe_keys, as
    tracking_lines calls it, replaced by "no unsafe key": a measurement only), beside the bare pass; CPU
    time, median of 3, alternating. Without the profiler's overhead, which inflates small functions."""
    runs: dict[str, list[float]] = {"bare": [], "own": [], "without": []}
    checker = tracking_lines.has_unsafe_keys
    for _ in range(KEY_CHECK_REPEATS):
        runs["bare"].append(bare_pass(found.path, limit=events).cpu_seconds)
        runs["own"].append(own_work_pass(found, limit=events).cpu_seconds)
        tracking_lines.has_unsafe_keys = lambda value: False
        try:
            runs["without"].append(own_work_pass(found, limit=events).cpu_seconds)
        finally:
            tracking_lines.has_unsafe_keys = checker
    bare, own, without = (median(runs[name]) for name in ("bare", "own", "without"))
    per_line = 1e6 / events
    return [
        f"Key check (has_unsafe_keys) over the first {events:,} lines, CPU time, median of 3:",
        f"  bare {bare * per_line:.1f} us/line, own work {own * per_line:.1f} us/line, own work without "
        f"the key check {without * per_line:.1f} us/line",
        f"  the key check is {(own - without) / own:.0%} of the own work; without it the ratio would be "
        f"{bare / without:.2f} (with it {bare / own:.2f})",
    ]
