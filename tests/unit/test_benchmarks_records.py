"""The benchmark report's record (scripts/benchmarks/records.py): a figure's ratio to its anchor,
whether its target is met, and a part's schema written and read back."""

from __future__ import annotations

import json

import pytest

from scripts.benchmarks.records import (
    SCHEMA_VERSION,
    Figure,
    Target,
    check_part,
    figure_from_dict,
    part_record,
    read_part,
    write_part,
)


def test_the_ratio_is_the_value_over_the_anchor() -> None:
    assert Figure("load", 1_800.0, "events/s", "insert_many", 2_000.0).ratio == pytest.approx(0.9)


def test_no_ratio_without_an_anchor_value_or_with_a_zero_one() -> None:
    assert Figure("parse", 10.0, "rows/s").ratio is None
    assert Figure("load", 10.0, "rows/s", "bare", 0.0).ratio is None
    assert Figure("load", None, "rows/s", "bare", 5.0).ratio is None


def test_a_ratio_the_benchmark_gives_wins_over_the_rounded_figures() -> None:
    figure = Figure("task", 0.08, "s", "psql", 0.03, Target("<=", 1.5), given_ratio=2.46)
    assert figure.ratio == 2.46
    assert figure.met is False


@pytest.mark.parametrize(
    ("comparison", "bound", "value", "anchor", "met"),
    [
        (">=", 0.8, 80.0, 100.0, True),  # at the bound
        (">=", 0.8, 79.9, 100.0, False),
        ("<=", 1.5, 150.0, 100.0, True),
        ("<=", 1.5, 151.0, 100.0, False),
        ("==", 1.0, 7_000, 7_000, True),
        ("==", 1.0, 6_999, 7_000, False),
    ],
)
def test_a_target_on_the_ratio(comparison: str, bound: float, value: float, anchor: float, met: bool) -> None:
    assert Figure("f", value, "u", "a", anchor, Target(comparison, bound)).met is met


def test_a_target_on_the_value_ignores_the_anchor() -> None:
    limit = Target("<", 300.0, on="value")
    assert Figure("rss", 299.9, "MB", "before", 1.0, limit).met is True
    assert Figure("rss", 300.0, "MB", "before", 1.0, limit).met is False


def test_no_target_is_neither_met_nor_missed_and_nothing_to_judge_is_missed() -> None:
    assert Figure("parse", 10.0, "rows/s").met is None
    assert Figure("load", 10.0, "rows/s", target=Target(">=", 0.8)).met is False  # no anchor: no ratio


def test_a_target_refuses_an_unknown_comparison_or_subject() -> None:
    with pytest.raises(ValueError, match="comparison"):
        Target("=>", 1.0)
    with pytest.raises(ValueError, match="ratio or the value"):
        Target(">=", 1.0, on="anchor")


def test_a_target_describes_itself() -> None:
    assert Target(">=", 0.8).describe("events/s") == "ratio >= 0.8"
    assert Target("<", 300.0, on="value").describe("MB") == "value < 300 MB"


def test_a_figure_survives_its_json_form() -> None:
    figure = Figure("load", 1_861, "events/s", "bare", 1_995, Target(">=", 0.8), given_ratio=0.933, note="N")
    raw = json.loads(json.dumps(figure.as_dict()))
    assert raw["ratio"] == 0.933 and raw["met"] is True
    again = figure_from_dict(raw)
    assert (again.ratio, again.met, again.target, again.note) == (0.933, True, Target(">=", 0.8), "N")


def test_the_ratio_is_rounded_in_the_record() -> None:
    assert Figure("f", 2.0, "u", "a", 3.0).as_dict()["ratio"] == 0.667


def part() -> dict:
    return part_record(
        "tracking",
        "Tracking",
        [Figure("load", 1_800, "events/s", "bare", 2_000, Target(">=", 0.8)), Figure("parse", 5, "events/s")],
        parameters={"events": 1000},
        series={"tracking_load": [{"events": 10}]},
    )


def test_a_part_is_written_and_read_back(tmp_path) -> None:
    path = write_part(part(), tmp_path / "parts")
    assert path == tmp_path / "parts" / "tracking.json"
    again = read_part(path)
    assert again["schema"] == SCHEMA_VERSION
    assert [raw["name"] for raw in again["figures"]] == ["load", "parse"]
    assert again["figures"][0]["met"] is True and again["figures"][1]["met"] is None
    assert again["series"] == {"tracking_load": [{"events": 10}]}


def test_a_part_refuses_two_figures_of_one_name() -> None:
    with pytest.raises(ValueError, match="named twice"):
        part_record("bi", "BI", [Figure("forms", 1, "s"), Figure("forms", 2, "s")])


def test_check_part_names_what_is_wrong() -> None:
    assert check_part(part()) == []
    assert check_part([]) == ["a part is a JSON object"]
    assert check_part({"schema": 1, "benchmark": "x", "title": "x"}) == ["no 'figures'"]
    wrong = part() | {"schema": SCHEMA_VERSION + 1}
    assert check_part(wrong) == [f"schema {SCHEMA_VERSION + 1}, expected {SCHEMA_VERSION}"]
    bad_figure = part()
    bad_figure["figures"][0]["target"] = {"comparison": "=>", "bound": 1, "on": "ratio"}
    assert check_part(bad_figure)[0].startswith("figure 0: ValueError")


def test_reading_a_malformed_part_names_the_file(tmp_path) -> None:
    (tmp_path / "edx.json").write_text("{not json")
    with pytest.raises(ValueError, match="edx.json: not JSON"):
        read_part(tmp_path / "edx.json")
    (tmp_path / "bi.json").write_text(json.dumps({"schema": 1}))
    with pytest.raises(ValueError, match="bi.json: no 'benchmark'"):
        read_part(tmp_path / "bi.json")
