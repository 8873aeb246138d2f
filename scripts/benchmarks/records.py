"""The structured record every benchmark of ``make bench`` emits, and the one report assembles.

A benchmark's part (``.local/bench/parts/<benchmark>.json``) is its figures, each a
:class:`Figure`: what was measured, its value and unit, the anchor measured beside it in the same
run (the bare driver or tool doing the same work), their ratio (value / anchor) and, where an
issue set one, the :class:`Target` and whether it was met. Pure: no clock, no servers; the parts
are written and read as JSON here, everything else is in ``report.py``."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
RATIO_DIGITS = 3
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
SUBJECTS = ("ratio", "value")
PART_KEYS = ("schema", "benchmark", "title", "figures")


@dataclass(frozen=True)
class Target:
    """What must hold of a figure: its ratio to the anchor (``on="ratio"``) or its value, compared
    with ``bound`` by ``comparison`` (one of :data:`COMPARISONS`)."""

    comparison: str
    bound: float
    on: str = "ratio"

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"unknown comparison {self.comparison!r}: expected one of {list(COMPARISONS)}")
        if self.on not in SUBJECTS:
            raise ValueError(f"a target is on the ratio or the value, not {self.on!r}")

    def holds(self, subject: float | None) -> bool:
        """Whether the target holds of ``subject``; a figure with nothing to judge misses it."""
        return subject is not None and COMPARISONS[self.comparison](subject, self.bound)

    def describe(self, unit: str = "") -> str:
        """``ratio >= 0.8``, ``value < 300 MB``."""
        suffix = f" {unit}" if self.on == "value" and unit else ""
        return f"{self.on} {self.comparison} {self.bound:g}{suffix}"

    def as_dict(self) -> dict[str, Any]:
        return {"comparison": self.comparison, "bound": self.bound, "on": self.on}


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its anchor. ``ratio`` is value / anchor value unless the benchmark
    gives it (computed from its unrounded timings, so that the verdict is the script's own)."""

    name: str
    value: float | None
    unit: str
    anchor: str | None = None
    anchor_value: float | None = None
    target: Target | None = None
    given_ratio: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.given_ratio is not None:
            return self.given_ratio
        if self.value is None or not self.anchor_value:
            return None
        return self.value / self.anchor_value

    @property
    def met(self) -> bool | None:
        """None without a target; else whether it holds (missed when there is nothing to judge)."""
        if self.target is None:
            return None
        return self.target.holds(self.ratio if self.target.on == "ratio" else self.value)

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "anchor": self.anchor,
            "anchor_value": self.anchor_value,
            "ratio": None if ratio is None else round(ratio, RATIO_DIGITS),
            "target": None if self.target is None else self.target.as_dict(),
            "met": self.met,
            "note": self.note,
        }


def figure_from_dict(raw: dict[str, Any]) -> Figure:
    """The figure of :meth:`Figure.as_dict` (its ratio as given, so that a round trip keeps it)."""
    target = raw.get("target")
    return Figure(
        name=raw["name"],
        value=raw["value"],
        unit=raw["unit"],
        anchor=raw.get("anchor"),
        anchor_value=raw.get("anchor_value"),
        target=None if target is None else Target(target["comparison"], target["bound"], target["on"]),
        given_ratio=raw.get("ratio"),
        note=raw.get("note", ""),
    )


def part_record(
    benchmark: str,
    title: str,
    figures: Iterable[Figure],
    *,
    parameters: dict[str, Any] | None = None,
    started: str | None = None,
    finished: str | None = None,
    load_average: dict[str, list[float]] | None = None,
    results_file: str | None = None,
    series: dict[str, list[dict[str, Any]]] | None = None,
    notes: Iterable[str] = (),
) -> dict[str, Any]:
    """A benchmark's part of the report, as JSON-ready data. ``series`` holds figures measured at
    several input sizes (one point per size), for the plots."""
    figures = list(figures)
    names = [figure.name for figure in figures]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{benchmark}: figures named twice: {duplicates}")
    return {
        "schema": SCHEMA_VERSION,
        "benchmark": benchmark,
        "title": title,
        "parameters": parameters or {},
        "started": started,
        "finished": finished,
        "load_average": load_average or {},
        "results_file": results_file,
        "figures": [figure.as_dict() for figure in figures],
        "series": series or {},
        "notes": list(notes),
    }


def check_part(record: Any) -> list[str]:
    """What is wrong with a part read back (empty when it is well formed)."""
    if not isinstance(record, dict):
        return ["a part is a JSON object"]
    problems = [f"no {key!r}" for key in PART_KEYS if key not in record]
    if problems:
        return problems
    if record["schema"] != SCHEMA_VERSION:
        problems.append(f"schema {record['schema']}, expected {SCHEMA_VERSION}")
    for index, raw in enumerate(record["figures"]):
        try:
            figure_from_dict(raw)
        except (KeyError, TypeError, ValueError) as error:
            problems.append(f"figure {index}: {type(error).__name__}: {error}")
    return problems


def write_part(record: dict[str, Any], directory: Path) -> Path:
    """The part as indented JSON, ``<directory>/<benchmark>.json``."""
    problems = check_part(record)
    if problems:
        raise ValueError(f"part {record.get('benchmark')!r}: {'; '.join(problems)}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record['benchmark']}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read_part(path: Path) -> dict[str, Any]:
    """A part written by :func:`write_part`; a malformed one raises ValueError naming the file."""
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path.name}: not JSON ({error})") from error
    problems = check_part(record)
    if problems:
        raise ValueError(f"{path.name}: {'; '.join(problems)}")
    return record
