"""What every benchmark needs around its measures: the test stack's connection URIs (from the
environment ``make bench`` sets), a fresh scratch MongoDB database, timing (wall clock and CPU),
timed runs alternated between the methods compared and their medians, the process's resident
memory, the machine and its load, progress lines, and the JSON results under ``.local/bench/``."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
# Where the results go: .local/bench, or ANALYTICS_BENCH_DIR (a folder of the repository, e.g. a
# reduced-size trial's .local/bench-small, which leaves the full run's files alone).
RESULTS_DIR = REPO / (os.environ.get("ANALYTICS_BENCH_DIR") or ".local/bench")
PARTS_DIR = RESULTS_DIR / "parts"  # each benchmark's figures for the one report (records.py)
MONGO_CONN_ID = "mongo_default"
T = TypeVar("T")
_STARTED = time.monotonic()


def logger(name: str, *, elapsed: bool = False) -> Callable[[str], None]:
    """A progress printer: ``[name] message``, or ``[name   12s] message`` with the seconds since start."""

    def log(message: str) -> None:
        prefix = f"{name} {time.monotonic() - _STARTED:6.0f}s" if elapsed else name
        print(f"[{prefix}] {message}", flush=True)

    return log


def connection_uri(conn_id: str) -> str:
    """The Airflow connection URI of ``conn_id`` from ``AIRFLOW_CONN_<ID>``, which the test stack's env sets."""
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    uri = os.environ.get(variable)
    if not uri:
        raise SystemExit(f"{variable} is not set: run `make bench` (it starts the test stack)")
    return uri


def fresh_mongo_database(client: Any, name: str) -> Any:
    """The database ``name`` of a pymongo client, dropped first so that it starts empty."""
    client.drop_database(name)
    return client[name]


class Stopwatch:
    """Wall-clock seconds (``perf_counter``) and this process's CPU seconds since it was made."""

    def __init__(self) -> None:
        self.started, self.cpu_started = time.perf_counter(), time.process_time()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def cpu_seconds(self) -> float:
        return time.process_time() - self.cpu_started


def per_second(count: float, seconds: float) -> float:
    """A rate, 0.0 for no time at all."""
    return count / seconds if seconds else 0.0


def median(values: Iterable[float]) -> float:
    return statistics.median(values)


def alternating_runs(
    methods: dict[str, Callable[[], T]], repeats: int, after_each: Callable[[int, str, T], None]
) -> dict[str, list[T]]:
    """Each method ``repeats`` times, the order reversed on every other run so that drift on a shared
    machine spreads evenly over them; ``after_each(run, name, outcome)`` sees every outcome."""
    outcomes: dict[str, list[T]] = {name: [] for name in methods}
    order = list(methods.items())
    for run in range(repeats):
        for name, method in order if run % 2 == 0 else reversed(order):
            outcome = method()
            outcomes[name].append(outcome)
            after_each(run, name, outcome)
    return outcomes


def resident_memory_mb() -> tuple[float, float]:
    """This process's (peak, current) resident memory in MB, from /proc (NaN where it is not there)."""
    values = {"VmHWM:": float("nan"), "VmRSS:": float("nan")}
    for line in Path("/proc/self/status").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in values:
            values[fields[0]] = int(fields[1]) / 1024
    return values["VmHWM:"], values["VmRSS:"]


def load_average() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages (other work on a shared machine shows in timings)."""
    return [round(value, 2) for value in os.getloadavg()]


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write_results(path: Path, results: dict[str, Any]) -> None:
    """The results as indented JSON (``.local/bench/<name>.json``), the folder made if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
