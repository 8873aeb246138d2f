"""The progress logger (with a fake clock) and the configuration loader."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from analytics.core.config import ConfigError, load_json_config, require
from analytics.core.progress import Progress, format_duration, rate


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_every_few_seconds_with_rate_and_eta(caplog) -> None:
    caplog.set_level(logging.INFO, logger="test.progress")
    clock = FakeClock()
    progress = Progress(
        "file.log",
        total=1000,
        unit="lines",
        every_seconds=5,
        clock=clock,
        logger=logging.getLogger("test.progress"),
    )
    clock.now += 2
    progress.advance(100)  # 2 s: too early for a line
    clock.now += 3
    progress.advance(150)  # 5 s: a line
    clock.now += 1
    progress.advance(50)  # 6 s, 1 s after the last line: none
    clock.now += 4
    progress.advance(200)  # 10 s: a line
    assert [record.getMessage() for record in caplog.records] == [
        "file.log: 250 of 1,000 lines (25.0 %), 50.0 lines/s, 5s elapsed, ETA 15s",
        "file.log: 500 of 1,000 lines (50.0 %), 50.0 lines/s, 10s elapsed, ETA 10s",
    ]
    assert progress.finish("3 rejected") == 10
    assert caplog.records[-1].getMessage() == "file.log: done, 500 lines in 10s (50.0 lines/s); 3 rejected"


def test_progress_without_a_total_has_no_eta() -> None:
    clock = FakeClock()
    progress = Progress("x", clock=clock)
    clock.now += 65
    progress.done = 130
    assert progress.line() == "x: 130 records, 2.0 records/s, 1m05s elapsed"
    assert progress.eta_seconds() is None


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59.4, "59s"), (60, "1m00s"), (3725, "1h02m")])
def test_durations_are_short(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_rate_is_zero_before_any_time_passed() -> None:
    assert rate(10, 0) == 0.0 and rate(10, 4) == 2.5


def test_a_config_error_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"rule": {"minimum": "two"}, "flag": true}')
    raw = load_json_config(path)
    with pytest.raises(ConfigError, match=r"x.json: key 'rule.minimum': expected int, got 'two'"):
        require(raw, "rule.minimum", int, path)
    with pytest.raises(ConfigError, match=r"x.json: key 'missing': missing"):
        require(raw, "missing", int, path)
    with pytest.raises(ConfigError, match=r"key 'flag': expected int, got True"):
        require(raw, "flag", int, path)
    assert require(raw, "absent", int, path, default=3) == 3
    assert require(raw, "flag", bool, path) is True


@pytest.mark.parametrize(("text", "message"), [("{", "not valid JSON"), ("[1]", "expected a JSON object")])
def test_a_config_file_that_is_not_an_object_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_json_config(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_json_config(tmp_path / "none.json")
