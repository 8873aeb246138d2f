"""The command line (scripts/demo_data/cli.py): the same seed gives byte-identical files and
another seed other files, tiny and empty days are accounted for, bad arguments are refused,
and each source in SOURCES is a sub-command."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from scripts.demo_data import cli

from .conftest import DAYS, ORG, classify_line, files_by_name, generate


def test_same_seed_gives_byte_identical_files(demo: Path, tmp_path: Path) -> None:
    again = files_by_name(generate(tmp_path / "again"))
    first = files_by_name(demo)
    assert sorted(again) == sorted(first)
    assert [name for name in first if first[name] != again[name]] == []


def test_another_seed_gives_other_files(demo: Path, tmp_path: Path) -> None:
    other = files_by_name(generate(tmp_path / "other", seed=8))
    first = files_by_name(demo)
    assert sorted(other) == sorted(first)
    different = [name for name in first if first[name] != other[name]]
    assert all(
        name in different
        for name in first
        if name.endswith((".gz", ".mongo", "auth_user-prod-analytics.sql"))
    )


def test_tiny_and_empty_days_are_accounted_for(tmp_path: Path) -> None:
    for events_per_day in (0, 5):
        out = generate(tmp_path / str(events_per_day), events_per_day=events_per_day, days=1)
        manifest = json.loads((out / "manifest.json").read_text())
        with gzip.open(out / "tracking" / f"{ORG}-edx-events-{DAYS[0]}.log.gz", "rb") as log:
            kinds = Counter(kind for kind, _ in map(classify_line, log.read().splitlines(keepends=True)))
        entry = manifest["days"][DAYS[0]]
        assert kinds["event"] == entry["events"] == events_per_day
        assert sum(kinds.values()) == entry["lines"]


@pytest.mark.parametrize(
    "arguments",
    [
        ["--courses", "0"],
        ["--days", "0"],
        ["--events-per-day", "-1"],
        ["--start-date", "2024-13-01"],
        ["--org", "a+b"],
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, arguments: list[str]) -> None:
    base = {"--seed": "1", "--courses": "1", "--days": "1", "--events-per-day": "10", "--out": str(tmp_path)}
    base.update(dict(zip(arguments[::2], arguments[1::2], strict=True)))
    with pytest.raises(SystemExit) as refused:
        cli.main(["edx", *(item for pair in base.items() for item in pair)])
    assert refused.value.code == 2
    assert not (tmp_path / "manifest.json").exists()


def test_a_source_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        cli.main([])
    assert refused.value.code == 2
    usage = capsys.readouterr().err
    assert all(source.name in usage for source in cli.SOURCES)


def test_every_source_is_a_sub_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert [source.name for source in cli.SOURCES] == ["edx", "engagement", "bi", "messages"]
    for source in cli.SOURCES:
        with pytest.raises(SystemExit) as shown:
            cli.main([source.name, "--help"])
        assert shown.value.code == 0
        assert source.help in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--weeks", "11", "--database-url", "postgresql://127.0.0.1/none"], "at least 12"),
        (["--start-monday", "2024-03-05", "--database-url", "postgresql://127.0.0.1/none"], "Monday"),
        ([], "no database"),
    ],
)
def test_engagement_refuses_bad_arguments_before_connecting(
    arguments: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_POSTGRES_PROD", raising=False)
    with pytest.raises(SystemExit) as refused:
        cli.main(["engagement", *arguments])
    assert refused.value.code == 2
    assert message in capsys.readouterr().err
