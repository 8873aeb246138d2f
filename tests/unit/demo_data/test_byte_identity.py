"""The generator's output is byte-identical to what it was before it became the scripts/demo_data
package: tests/fixtures/demo_data_digests.json holds the sha256 of every file the old
scripts/generate_demo_data.py wrote for three sets of arguments, and of the rows the old
scripts/generate_engagement_data.py sent to each table of prod for three plans (captured from
the old scripts, never computed with the package)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import pytest

from scripts.demo_data import cli
from scripts.demo_data.engagement_rows import GenerationPlan, build_reference_data, table_rows

from .conftest import ROOT

DIGESTS = json.loads((ROOT / "tests" / "fixtures" / "demo_data_digests.json").read_text())


def file_digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under folder, by path relative to it."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def field_text(value: object) -> str:
    """A field as the fixture wrote it: \\N for None, datetimes in isoformat, anything else str."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def rows_digest(rows: Iterable[tuple]) -> dict[str, object]:
    """The row count and the sha256 of the rows, one tab-separated line each."""
    digest, count = hashlib.sha256(), 0
    for row in rows:
        digest.update(("\t".join(map(field_text, row)) + "\n").encode())
        count += 1
    return {"rows": count, "sha256": digest.hexdigest()}


def assert_same_files(written: dict[str, str], expected: dict[str, str]) -> None:
    assert sorted(written) == sorted(expected), "not the same files"
    assert [name for name in expected if written[name] != expected[name]] == [], "files that differ"


@pytest.mark.parametrize("run", sorted(DIGESTS["edx"]))
def test_edx_files_are_those_of_the_generator_before_the_move(run: str, tmp_path: Path) -> None:
    expected = DIGESTS["edx"][run]
    assert cli.main(["edx", *expected["arguments"], "--out", str(tmp_path)]) == 0
    assert_same_files(file_digests(tmp_path), expected["files"])


def test_python_dash_m_writes_the_same_files(tmp_path: Path) -> None:
    """The command the Makefile and the DAG tests run, in a fresh interpreter."""
    expected = DIGESTS["edx"]["dag_test_helper"]
    command = [
        sys.executable,
        "-m",
        "scripts.demo_data",
        "edx",
        *expected["arguments"],
        "--out",
        str(tmp_path),
    ]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, timeout=120)
    assert_same_files(file_digests(tmp_path), expected["files"])


@pytest.mark.parametrize("plan_name", sorted(DIGESTS["engagement"]))
def test_engagement_rows_are_those_of_the_generator_before_the_move(plan_name: str) -> None:
    expected = DIGESTS["engagement"][plan_name]
    arguments = expected["plan"]
    plan = GenerationPlan(**{**arguments, "start_monday": date.fromisoformat(arguments["start_monday"])})
    stats: Counter = Counter()
    tables = table_rows(plan, build_reference_data(plan), stats)
    assert {table: rows_digest(rows) for table, rows in tables.items()} == expected["tables"]
    assert list(tables) == list(expected["tables"]), "tables in another order"
    assert dict(sorted(stats.items())) == expected["event_stats"]
