"""The benchmarks' shared helpers (scripts/benchmarks/common.py): rates, medians, the order of
alternating runs, the process's memory from /proc, and the results file."""

from __future__ import annotations

import json
import math

import pytest

from scripts.benchmarks.common import (
    alternating_runs,
    connection_uri,
    median,
    per_second,
    resident_memory_mb,
    write_results,
)


def test_per_second_divides_and_gives_zero_for_no_time() -> None:
    assert per_second(1_000, 4.0) == 250.0
    assert per_second(1_000, 0.0) == 0.0


def test_median_of_odd_and_even_counts() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median(iter([4.0, 1.0, 3.0, 2.0])) == 2.5


def test_alternating_runs_reverse_the_order_on_every_other_run() -> None:
    calls: list[str] = []
    seen: list[tuple[int, str, str]] = []
    outcomes = alternating_runs(
        {"a": lambda: calls.append("a") or "A", "b": lambda: calls.append("b") or "B"},
        3,
        lambda run, name, outcome: seen.append((run, name, outcome)),
    )
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert outcomes == {"a": ["A", "A", "A"], "b": ["B", "B", "B"]}
    assert seen == [(0, "a", "A"), (0, "b", "B"), (1, "b", "B"), (1, "a", "A"), (2, "a", "A"), (2, "b", "B")]


def test_an_error_in_after_each_stops_the_runs() -> None:
    calls: list[str] = []

    def refuse(run: int, name: str, outcome: None) -> None:
        raise SystemExit(f"{name} copied the wrong rows")

    with pytest.raises(SystemExit, match="a copied"):
        alternating_runs({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 2, refuse)
    assert calls == ["a"]


def test_resident_memory_is_read_from_proc_and_the_peak_is_at_least_the_current() -> None:
    peak, current = resident_memory_mb()
    assert not math.isnan(peak) and not math.isnan(current)
    # The current set is read after the peak, so it may have grown by a page since.
    assert 1.0 < current <= peak + 1.0


def test_connection_uri_comes_from_the_environment_or_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BENCH_SOMEWHERE", "mongo://127.0.0.1:1/")
    assert connection_uri("bench_somewhere") == "mongo://127.0.0.1:1/"
    monkeypatch.delenv("AIRFLOW_CONN_BENCH_SOMEWHERE")
    with pytest.raises(SystemExit, match="AIRFLOW_CONN_BENCH_SOMEWHERE is not set: run `make bench`"):
        connection_uri("bench_somewhere")


def test_write_results_makes_the_folder_and_writes_indented_json(tmp_path) -> None:
    path = tmp_path / "bench" / "tracking.json"
    write_results(path, {"when": "2026-12-02T02:00:00+00:00", "ratio": 0.5})
    assert path.read_text() == '{\n  "when": "2026-12-02T02:00:00+00:00",\n  "ratio": 0.5\n}\n'
    assert json.loads(path.read_text())["ratio"] == 0.5
