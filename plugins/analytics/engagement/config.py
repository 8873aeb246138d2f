"""The engagement ELT's configuration, read from ``include/config/engagement.json``.

One loader for one file: the tables the production copy leaves out, the database names the
copy refuses to write to, the rule that says when a user counts as active in a week, and the
limits of a run. The time zone of days and weeks is not in the file: it is
:data:`ENGAGEMENT_TIMEZONE`, the one constant both DAGs' timetables and every step use, so the
schedule and the data can never disagree. Light imports only: the DAG files import this module
at parse time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

CONFIG_PATH = Path(__file__).resolve().parents[3] / "include" / "config" / "engagement.json"
# The ELT's SQL files (one per step or view), read at run time.
SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql" / "engagement"
ACTIVE_MEASURES = ("events", "distinct_days")

# The zone of local days and weeks: the daily and weekly timetables and the enrichment use it.
ENGAGEMENT_TIMEZONE = "Europe/Paris"
# Airflow's execution_timeout of the copy and load tasks. copy_timeout_seconds must stay below
# COPY_EXECUTION_TIMEOUT, so that the copy's own timeout (which stops pg_dump and pg_restore and
# says so) fires before Airflow kills the task.
COPY_EXECUTION_TIMEOUT = timedelta(hours=2)
LOAD_EXECUTION_TIMEOUT = timedelta(hours=1)
# How long the Monday run waits for the week's seven days to be loaded and enriched, and how
# often it looks (the sensor gives its worker slot back in between).
WEEK_LOADED_TIMEOUT = timedelta(hours=6)
WEEK_LOADED_POKE_INTERVAL = timedelta(minutes=5)


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
    timezone: str = ENGAGEMENT_TIMEZONE

    def __post_init__(self) -> None:
        if self.max_weeks_per_run < 1:
            raise ValueError(f"max_weeks_per_run must be at least 1, not {self.max_weeks_per_run}")
        if not 1 <= self.history_weeks_for_last_year <= self.max_weeks_per_run:
            raise ValueError(
                f"history_weeks_for_last_year must be between 1 and max_weeks_per_run "
                f"({self.max_weeks_per_run}), not {self.history_weeks_for_last_year}"
            )
        limit = int(COPY_EXECUTION_TIMEOUT.total_seconds())
        if not 0 < self.copy_timeout_seconds < limit:
            raise ValueError(
                f"copy_timeout_seconds must be between 1 and {limit - 1} (below the copy task's "
                f"execution_timeout, COPY_EXECUTION_TIMEOUT), not {self.copy_timeout_seconds}"
            )


# Keys of include/config/engagement.json that may be left out (EngagementConfig's defaults apply).
OPTIONAL_INTEGER_KEYS = ("history_weeks_for_last_year", "max_weeks_per_run", "copy_timeout_seconds")


def load_engagement_config(path: Path = CONFIG_PATH) -> EngagementConfig:
    """Read and check the configuration file; a ``timezone`` other than ENGAGEMENT_TIMEZONE is refused."""
    raw = json.loads(Path(path).read_text())
    if raw.get("timezone", ENGAGEMENT_TIMEZONE) != ENGAGEMENT_TIMEZONE:
        raise ValueError(
            f"{path}: timezone {raw['timezone']!r} differs from ENGAGEMENT_TIMEZONE "
            f"({ENGAGEMENT_TIMEZONE!r}, plugins/analytics/engagement/config.py), which the DAGs' timetables use; "
            f"the zone is set there only: remove the key from the file"
        )
    optional = {name: int(raw[name]) for name in OPTIONAL_INTEGER_KEYS if name in raw}
    return EngagementConfig(
        source_connection_id=raw["source_connection_id"],
        target_connection_id=raw["target_connection_id"],
        event_table=raw["event_table"],
        tables_not_copied=tuple(raw["tables_not_copied"]),
        production_database_names=tuple(raw["production_database_names"]),
        active_user_rule=ActiveUserRule(**raw["active_user_rule"]),
        **optional,
    )
