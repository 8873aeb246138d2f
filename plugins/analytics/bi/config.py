"""The BI aggregation's configuration (``include/config/bi.json``) and its gate.

One loader for one file, through the shared :mod:`analytics.core.config` (errors name the file
and the key): the connection ids, the MongoDB database (``bi``; the ``bi_database`` Variable
overrides it for a deployment or a test), the defaults of the DAG's params (``forms_per_chunk``,
``top_users_per_institution``), the windows of the snapshots (``institution_recent_days``,
``top_users_window_days``), the risk thresholds, the limits of a run and the batch sizes. The time
zone of months is :data:`BI_TIMEZONE`, set here because the DAG's timetable needs it when the file
is parsed, without I/O; the file's ``timezone`` must name the same zone (it is checked, so the
schedule and the months can never disagree). The gate (:func:`gate_decision`) reads the
``bi_aggregate`` Variable's text as the original read its ``BI_AGGREGATE`` environment variable:
``true``, ``1``, ``yes`` or ``on`` (any case) open it, anything else (unset included) keeps it shut.
Light imports only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analytics.core.config import ConfigError, config_path, load_json_config, require
from analytics.stores.mongo import DEFAULT_BATCH_SIZE

CONFIG_PATH = config_path("bi.json")
# The aggregates' SQL files (one per collection, and the application's schema), read at run time.
SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql" / "bi"
APP_SCHEMA_SQL = SQL_DIR / "app_schema.sql"
# The zone of months and quarters: the DAG's timetable and every period bound use it.
BI_TIMEZONE = "UTC"
GATE_VARIABLE = "bi_aggregate"  # AIRFLOW_VAR_BI_AGGREGATE: the original BI_AGGREGATE, renamed
DATABASE_VARIABLE = "bi_database"
GATE_OPEN_VALUES = frozenset({"true", "1", "yes", "on"})
# Airflow refuses more mapped tasks than [core] max_map_length (1024 by default).
MAX_MAPPED_TASKS = 1024


@dataclass(frozen=True)
class RiskThresholds:
    """When an institution's settings count as a security risk (``risk_thresholds`` in the file)."""

    minimum_password_length: int = 12  # under it: weak_password_policy
    maximum_session_timeout_minutes: int = 60  # over it: long_session_timeout
    maximum_global_user_share: float = 0.1  # over it: many_global_users

    def __post_init__(self) -> None:
        if self.minimum_password_length < 1:
            raise ValueError("risk_thresholds.minimum_password_length must be at least 1")
        if self.maximum_session_timeout_minutes < 1:
            raise ValueError("risk_thresholds.maximum_session_timeout_minutes must be at least 1")
        if not 0 <= self.maximum_global_user_share < 1:
            raise ValueError("risk_thresholds.maximum_global_user_share must be in [0, 1)")

    def sql_parameters(self) -> dict[str, int | float]:
        """The parameters of ``security_risk_clients.sql``."""
        return {
            "minimum_password_length": self.minimum_password_length,
            "maximum_session_timeout_minutes": self.maximum_session_timeout_minutes,
            "maximum_global_user_share": float(self.maximum_global_user_share),
        }


@dataclass(frozen=True)
class BiConfig:
    """The aggregation's settings; checked when built (also by ``dataclasses.replace``)."""

    source_connection_id: str = "postgres_app"
    mongo_connection_id: str = "mongo_default"
    database: str = "bi"
    timezone: str = BI_TIMEZONE
    forms_per_chunk: int = 10
    top_users_per_institution: int = 10
    top_users_window_days: int = 90
    institution_recent_days: int = 30
    max_months_per_run: int = 60
    fetch_size: int = 2000  # rows per fetch from the server-side cursor
    batch_size: int = DEFAULT_BATCH_SIZE  # documents per MongoDB write
    risk_thresholds: RiskThresholds = field(default_factory=RiskThresholds)

    def __post_init__(self) -> None:
        if not self.database or any(character in self.database for character in '/\\. "$'):
            raise ValueError(f"database {self.database!r} is not a valid MongoDB database name")
        for name in (
            "forms_per_chunk",
            "top_users_per_institution",
            "top_users_window_days",
            "institution_recent_days",
            "max_months_per_run",
            "fetch_size",
            "batch_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")


INTEGER_KEYS = (
    "forms_per_chunk",
    "top_users_per_institution",
    "top_users_window_days",
    "institution_recent_days",
    "max_months_per_run",
    "fetch_size",
    "batch_size",
)


def load_bi_config(path: Path | str = CONFIG_PATH) -> BiConfig:
    """Read and check the configuration file; ConfigError (a ValueError) names the file and the key."""
    raw = load_json_config(path)
    timezone = require(raw, "timezone", str, path, default=BI_TIMEZONE)
    if timezone != BI_TIMEZONE:
        raise ConfigError(
            path,
            f"timezone {timezone!r} differs from BI_TIMEZONE ({BI_TIMEZONE!r}, plugins/analytics/bi/config.py), "
            "which the DAG's timetable uses: change both together",
            "timezone",
        )
    defaults = BiConfig()
    thresholds = RiskThresholds()
    try:
        return BiConfig(
            source_connection_id=require(raw, "source_connection_id", str, path),
            mongo_connection_id=require(raw, "mongo_connection_id", str, path),
            database=require(raw, "database", str, path),
            timezone=timezone,
            **{name: require(raw, name, int, path, default=getattr(defaults, name)) for name in INTEGER_KEYS},
            risk_thresholds=RiskThresholds(
                minimum_password_length=require(
                    raw,
                    "risk_thresholds.minimum_password_length",
                    int,
                    path,
                    thresholds.minimum_password_length,
                ),
                maximum_session_timeout_minutes=require(
                    raw,
                    "risk_thresholds.maximum_session_timeout_minutes",
                    int,
                    path,
                    thresholds.maximum_session_timeout_minutes,
                ),
                maximum_global_user_share=require(
                    raw,
                    "risk_thresholds.maximum_global_user_share",
                    (int, float),
                    path,
                    thresholds.maximum_global_user_share,
                ),
            ),
        )
    except ConfigError:
        raise
    except ValueError as error:
        raise ConfigError(path, str(error)) from None


def gate_decision(value: str | None) -> tuple[bool, str]:
    """Whether the ``bi_aggregate`` Variable's text opens the gate, and the sentence the log says why."""
    text = (value or "").strip()
    if text.lower() in GATE_OPEN_VALUES:
        return True, f"the {GATE_VARIABLE} Variable is {text!r}: aggregating"
    shown = repr(text) if text else "not set"
    return False, (
        f"the {GATE_VARIABLE} Variable is {shown} (true, 1, yes or on open the gate): nothing is "
        f"aggregated and every task is skipped; set AIRFLOW_VAR_BI_AGGREGATE=true (or the Variable) to aggregate"
    )
