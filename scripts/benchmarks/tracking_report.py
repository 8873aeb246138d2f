"""The tracking benchmark's targets and its printed summary: each figure beside its anchor, a
verdict per target (a missed target prints FAIL and does not change the exit code)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from scripts.benchmarks.common import REPO
from scripts.benchmarks.tracking_events import EXTRACTED_COURSE

OWN_WORK_TARGET = 0.6  # own work >= 0.6 of the bare gunzip + orjson pass
FULL_LOAD_TARGET = 0.8  # load_tracking_file >= 0.8 of the bare insert_many
PEAK_RSS_LIMIT_MB = 300.0
FLAT_RSS_GROWTH = 0.10  # the 2N load's peak RSS at most 10 % above the N load's
NAIVE_SPEEDUP_TARGET = 5.0


def targets_met(results: dict[str, Any], small: int, large: int) -> dict[str, bool]:
    """Each target of the benchmark, met or not, from its results (N = ``small``, 2N = ``large``)."""
    loads = results["full_load"]
    load_small, load_large = loads[str(small)], loads[str(large)]
    return {
        "own_work": results["own_work"]["ratio"] >= OWN_WORK_TARGET,
        "full_load": results["full_load_ratio"] >= FULL_LOAD_TARGET,
        "peak_rss": max(outcome["peak_rss_mb"] for outcome in loads.values()) < PEAK_RSS_LIMIT_MB,
        "flat_rss": load_large["peak_rss_mb"] <= load_small["peak_rss_mb"] * (1 + FLAT_RSS_GROWTH),
        "naive": results["speedup_over_naive"] >= NAIVE_SPEEDUP_TARGET,
    }


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL (target MISSED)"


def report(
    results: dict[str, Any],
    small: int,
    large: int,
    targets: dict[str, bool],
    profile_lines: list[str],
    results_path: Path,
) -> Iterator[str]:
    """The printed summary: each figure beside its anchor, a verdict per target."""
    big = results["files"][-1]
    own = results["own_work"]
    anchor = results["anchor_insert_many"]
    load_small, load_large = results["full_load"][str(small)], results["full_load"][str(large)]
    naive = results["naive"]
    when = datetime.fromisoformat(results["when"]).strftime("%Y-%m-%d %H:%M UTC")
    yield ""
    yield (
        f"Tracking-log master load, measured {when}, {results['machine']['cpus']} cores, Python "
        f"{results['machine']['python']}, load average {results['load_average_before'][0]} before, "
        f"{results['load_average_after'][0]} after"
    )
    yield (
        f"  file: {big['events']:,} events + {sum(big['broken_lines'].values()):,} broken lines "
        f"({', '.join(f'{n} {kind}' for kind, n in sorted(big['broken_lines'].items()))}), "
        f"{big['bytes_uncompressed'] / 1e6:,.0f} MB, {big['bytes_gzip'] / 1e6:,.0f} MB gzip; generated in "
        f"{results['generate_seconds']}s"
    )
    yield (
        f"  database figures on the first {small:,} (N) and {large:,} (2N) events: the local server "
        "(nx-27017) writes a few thousand documents/s"
    )
    yield ""
    yield f"1. Own work over {own['events']:,} events (median of {len(own['runs_seconds'])}, alternating)"
    yield f"   bare gunzip + orjson.loads            {own['bare_seconds']:>8.2f}s {own['bare_events_per_second']:>10,} events/s"
    yield f"   iter_lines + parse_tracking_line      {own['seconds']:>8.2f}s {own['events_per_second']:>10,} events/s"
    yield (f"   ratio {own['ratio']:.3f} (target >= {OWN_WORK_TARGET})  {verdict(targets['own_work'])}")
    yield (
        f"   in CPU time: {own['bare_cpu_seconds']:.2f}s against {own['cpu_seconds']:.2f}s, ratio "
        f"{own['cpu_ratio']:.3f}; sha256 of the file (in the full load, not here): "
        f"{own['sha256_of_the_file_seconds']}s"
    )
    yield ""
    yield f"2. Full master load of {small:,} events into an empty master with its indexes"
    yield f"   bare insert_many(ordered=False)       {anchor['seconds']:>8.2f}s {anchor['events_per_second']:>10,} events/s"
    yield (
        f"   load_tracking_file                    {load_small['seconds']:>8.2f}s "
        f"{round(load_small['events_per_second']):>10,} events/s"
    )
    yield f"   ratio {results['full_load_ratio']:.3f} (target >= {FULL_LOAD_TARGET})  {verdict(targets['full_load'])}"
    yield (
        f"   peak RSS of the load's process: {load_small['peak_rss_mb']} MB for N, {load_large['peak_rss_mb']} MB "
        f"for 2N ({load_large['events']:,} events in {load_large['seconds']:.1f}s, "
        f"{round(load_large['events_per_second']):,} events/s); {load_small['peak_rss_mb_before_load']} MB "
        "before the load (imports, client)"
    )
    yield "   every size: " + "; ".join(
        f"{int(size):,} events {outcome['seconds']:.1f}s, {round(outcome['events_per_second']):,} events/s, "
        f"peak RSS {outcome['peak_rss_mb']} MB"
        for size, outcome in sorted(results["full_load"].items(), key=lambda item: int(item[0]))
    )
    yield f"   peak RSS < {PEAK_RSS_LIMIT_MB:.0f} MB  {verdict(targets['peak_rss'])}"
    yield f"   flat (2N <= N + {FLAT_RSS_GROWTH:.0%})  {verdict(targets['flat_rss'])}"
    yield ""
    yield f"3. Naive way (json.loads, one insert_one per line) over the first {naive['lines']:,} lines"
    yield f"   naive                                 {naive['seconds']:>8.2f}s {naive['events_per_second']:>10,} events/s"
    yield (
        f"   full load / naive {results['speedup_over_naive']:.1f}x (target >= {NAIVE_SPEEDUP_TARGET:.0f}x)  "
        f"{verdict(targets['naive'])}"
    )
    yield (
        f"   [bare insert_many / naive {results['anchor_over_naive']:.1f}x: what batching alone gives "
        "on this server, the ceiling of any loader here]"
    )
    yield ""
    yield from extraction_lines(results.get("extraction") or {})
    if profile_lines:
        yield ""
        yield from profile_lines
    yield ""
    missed = [name for name, met in targets.items() if not met]
    yield f"targets: {len(targets) - len(missed)} of {len(targets)} met" + (
        f"; MISSED: {', '.join(missed)}" if missed else ""
    )
    yield f"results in {results_path.relative_to(REPO)}"


def extraction_lines(extraction: dict[str, Any]) -> Iterator[str]:
    if not extraction.get("available"):
        yield f"4. Extraction: not available ({extraction.get('reason', 'not run')})"
    elif "error" in extraction:
        yield f"4. Extraction: ERROR {extraction['error']}"
    else:
        yield (
            f"4. Extraction of {EXTRACTED_COURSE} from a master of {extraction['master_events']:,} events "
            f"(extract_course, {extraction['mode']})"
        )
        yield (
            f"   extract_course                        {extraction['seconds']:>8.2f}s "
            f"{round(extraction['events_per_second']):>10,} events/s  ({extraction['selected']:,} selected, "
            f"{extraction['enriched']:,} enriched, {extraction['not_enriched']:,} not enriched)"
        )
