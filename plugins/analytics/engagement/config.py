"""The engagement ELT's configuration, read from ``include/config/engagement.json``.

One loader for one file: the time zone for weeks and days, the tables the production copy
leaves out, the database names the copy refuses to write to, and the rule that says when a
user counts as active in a week.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CONFIG_PATH = Path(__file__).resolve().parents[3] / "include" / "config" / "engagement.json"
# The ELT's SQL files (one per step or view), read at run time.
SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql" / "engagement"
ACTIVE_MEASURES = ("events", "distinct_days")


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
    timezone: str
    source_connection_id: str
    target_connection_id: str
    event_table: str
    tables_not_copied: tuple[str, ...]
    production_database_names: tuple[str, ...]
    active_user_rule: ActiveUserRule
    history_weeks_for_last_year: int = 52


def load_engagement_config(path: Path = CONFIG_PATH) -> EngagementConfig:
    raw = json.loads(Path(path).read_text())
    return EngagementConfig(
        timezone=raw["timezone"],
        source_connection_id=raw["source_connection_id"],
        target_connection_id=raw["target_connection_id"],
        event_table=raw["event_table"],
        tables_not_copied=tuple(raw["tables_not_copied"]),
        production_database_names=tuple(raw["production_database_names"]),
        active_user_rule=ActiveUserRule(**raw["active_user_rule"]),
        history_weeks_for_last_year=int(raw.get("history_weeks_for_last_year", 52)),
    )
