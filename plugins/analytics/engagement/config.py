"""The engagement ELT's configuration, read from ``include/config/engagement.json``.

One loader for one file, through the shared :mod:`analytics.core.config` (errors name the file
and the key): the tables the production copy leaves out, the database names the copy refuses
to write to, the rule that says when a user counts as active in a week, how many days before
its own a daily run reloads, and the limits of a run. Two settings are not in the file because
the DAGs need them when they are parsed, without I/O: the time zone of days and weeks,
:data:`ENGAGEMENT_TIMEZONE` (both timetables and every step use it, so the schedule and the
data can never disagree), and the ELT's first day, :data:`ENGAGEMENT_START_DATE` (the daily
DAG's ``start_date``, from which ``catchup`` loads every day). Light imports only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from analytics.core.config import ConfigError, config_path, load_json_config, require

CONFIG_PATH = config_path("engagement.json")
# The ELT's SQL files (one per step or view), read at run time.
SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql" / "engagement"
ACTIVE_MEASURES = ("events", "distinct_days")

# The zone of local days and weeks: the daily and weekly timetables and the enrichment use it.
ENGAGEMENT_TIMEZONE = "Europe/Paris"
# The first local day the ELT loads: the daily DAG's start_date. With catchup, the scheduler
# creates a run for every day from it (days missed while the scheduler was down or the DAG
# paused included), and the daily runs' lookback never reaches before it. Set it to the first
# day production holds events for before deploying; moving it back makes catchup load the
# days in between.
ENGAGEMENT_START_DATE = date(2024, 1, 1)
# Airflow's execution_timeout of the long tasks. copy_timeout_seconds must stay below
# COPY_EXECUTION_TIMEOUT, so that the copy's own timeout (which stops pg_dump and pg_restore and
# says so) fires before Airflow kills the task; lock_timeout_seconds below
# COMPUTE_WEEK_EXECUTION_TIMEOUT, so that a week waiting for a lock fails with its own message.
COPY_EXECUTION_TIMEOUT = timedelta(hours=2)
LOAD_EXECUTION_TIMEOUT = timedelta(hours=1)
COMPUTE_WEEK_EXECUTION_TIMEOUT = timedelta(minutes=30)
# How long a run of the weekly views waits for its weeks' days to be loaded and enriched, and
# how often it looks (the sensor gives its worker slot back in between).
WEEK_LOADED_TIMEOUT = timedelta(hours=6)
WEEK_LOADED_POKE_INTERVAL = timedelta(minutes=5)
# A daily run reloads at most this many days before its own (each is a delete + COPY of a day).
MAX_LOOKBACK_DAYS = 31


@dataclass(frozen=True)
class ActiveUserRule:
    """A user is active in a week when ``measure`` (events, or distinct days with an event) >= ``minimum``."""

    measure: str = "distinct_days"
    minimum: int = 2

    def __post_init__(self) -> None:
        if self.measure not in ACTIVE_MEASURES:
            raise ValueError(
                f"active_user_rule.measure must be one of {ACTIVE_MEASURES}, not {self.measure!r}"
            )
        if self.minimum < 1:
            raise ValueError("active_user_rule.minimum must be at least 1")


@dataclass(frozen=True)
class EngagementConfig:
    """The ELT's settings; checked when built (also by ``dataclasses.replace``)."""

    source_connection_id: str
    target_connection_id: str
    event_table: str
    tables_not_copied: tuple[str, ...]
    production_database_names: tuple[str, ...]
    active_user_rule: ActiveUserRule
    history_weeks_for_last_year: int = 52
    max_weeks_per_run: int = 260
    copy_timeout_seconds: int = 3600
    lookback_days: int = 1
    lock_timeout_seconds: int = 600
    timezone: str = ENGAGEMENT_TIMEZONE

    def __post_init__(self) -> None:
        if self.max_weeks_per_run < 1:
            raise ValueError(f"max_weeks_per_run must be at least 1, not {self.max_weeks_per_run}")
        if not 1 <= self.history_weeks_for_last_year <= self.max_weeks_per_run:
            raise ValueError(
                f"history_weeks_for_last_year must be between 1 and max_weeks_per_run "
                f"({self.max_weeks_per_run}), not {self.history_weeks_for_last_year}"
            )
        _check_below("copy_timeout_seconds", self.copy_timeout_seconds, COPY_EXECUTION_TIMEOUT, "copy")
        _check_below(
            "lock_timeout_seconds", self.lock_timeout_seconds, COMPUTE_WEEK_EXECUTION_TIMEOUT, "compute_week"
        )
        if not 0 <= self.lookback_days <= MAX_LOOKBACK_DAYS:
            raise ValueError(
                f"lookback_days must be between 0 and {MAX_LOOKBACK_DAYS}, not {self.lookback_days}"
            )


def _check_below(name: str, seconds: int, execution_timeout: timedelta, task: str) -> None:
    limit = int(execution_timeout.total_seconds())
    if not 0 < seconds < limit:
        raise ValueError(
            f"{name} must be between 1 and {limit - 1} (below the {task} task's execution_timeout), not {seconds}"
        )


# Keys of include/config/engagement.json that may be left out (EngagementConfig's defaults apply).
OPTIONAL_INTEGER_KEYS = (
    "history_weeks_for_last_year",
    "max_weeks_per_run",
    "copy_timeout_seconds",
    "lookback_days",
    "lock_timeout_seconds",
)


def load_engagement_config(path: Path | str = CONFIG_PATH) -> EngagementConfig:
    """Read and check the configuration file; ConfigError (a ValueError) names the file and the key.

    A ``timezone`` other than ENGAGEMENT_TIMEZONE is refused: the zone is set in the code only.
    """
    raw = load_json_config(path)
    timezone = require(raw, "timezone", str, path, default=ENGAGEMENT_TIMEZONE)
    if timezone != ENGAGEMENT_TIMEZONE:
        raise ConfigError(
            path,
            f"timezone {timezone!r} differs from ENGAGEMENT_TIMEZONE ({ENGAGEMENT_TIMEZONE!r}, "
            f"plugins/analytics/engagement/config.py), which the DAGs' timetables use; the zone is set "
            f"there only: remove the key from the file",
            "timezone",
        )
    defaults = EngagementConfig.__dataclass_fields__
    optional = {
        name: require(raw, name, int, path, default=defaults[name].default) for name in OPTIONAL_INTEGER_KEYS
    }
    try:
        return EngagementConfig(
            source_connection_id=require(raw, "source_connection_id", str, path),
            target_connection_id=require(raw, "target_connection_id", str, path),
            event_table=require(raw, "event_table", str, path),
            tables_not_copied=tuple(_strings(raw, "tables_not_copied", path)),
            production_database_names=tuple(_strings(raw, "production_database_names", path)),
            active_user_rule=ActiveUserRule(
                measure=require(raw, "active_user_rule.measure", str, path),
                minimum=require(raw, "active_user_rule.minimum", int, path),
            ),
            **optional,
        )
    except ConfigError:
        raise
    except ValueError as error:
        raise ConfigError(path, str(error)) from None


def _strings(raw: dict, key: str, path: Path | str) -> list[str]:
    values = require(raw, key, list, path)
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a list of strings, got {value!r} at position {index}", key)
    return values
