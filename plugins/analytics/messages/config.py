"""The message export's configuration (``include/config/messages.json``), read through :mod:`analytics.core.config`.

It names the connections, the source database, the time zone of every range
(:data:`MESSAGES_TIMEZONE`, which the DAG's timetable needs at parse time; the file's must match),
the apps exported when a run names none, the S3 bucket and key prefix, an optional local directory,
the four table files (their extension chooses CSV or TSV) and the batch size of the new-user check.
Light imports only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analytics.core.config import ConfigError, config_path, load_json_config, require
from analytics.messages.formats import TABLES, table_format

CONFIG_PATH = config_path("messages.json")
MESSAGES_TIMEZONE = "UTC"


@dataclass(frozen=True)
class MessagesConfig:
    """The export's settings; checked when built (also by ``dataclasses.replace``)."""

    mongo_connection_id: str = "mongo_default"
    aws_connection_id: str = "aws_default"
    database: str = "messages"
    timezone: str = MESSAGES_TIMEZONE
    app_ids: tuple[str, ...] = ()
    bucket: str = "analytics-exports"
    key_prefix: str = "messages"
    local_dir: str = ""
    files: dict[str, str] = field(default_factory=lambda: {name: f"{name}.csv" for name in TABLES})
    user_batch_size: int = 500

    def __post_init__(self) -> None:
        if not self.database or any(character in self.database for character in '/\\. "$'):
            raise ValueError(f"database {self.database!r} is not a valid MongoDB database name")
        if sorted(self.files) != sorted(TABLES):
            raise ValueError(f"files must name exactly {', '.join(TABLES)}, not {sorted(self.files)}")
        for table, name in self.files.items():
            table_format(name, f"files.{table}")
        if self.user_batch_size < 1:
            raise ValueError(f"user_batch_size must be at least 1, not {self.user_batch_size}")


def load_messages_config(path: Path | str = CONFIG_PATH) -> MessagesConfig:
    """Read and check the file; ConfigError (a ValueError) names the file and the key."""
    raw = load_json_config(path)
    timezone = require(raw, "timezone", str, path, default=MESSAGES_TIMEZONE)
    if timezone != MESSAGES_TIMEZONE:
        raise ConfigError(
            path,
            f"timezone {timezone!r} differs from MESSAGES_TIMEZONE ({MESSAGES_TIMEZONE!r}, "
            "plugins/analytics/messages/config.py), which the DAG's timetable uses: change both together",
            "timezone",
        )
    app_ids = require(raw, "app_ids", list, path, default=[])
    if not all(isinstance(app_id, str) and app_id for app_id in app_ids):
        raise ConfigError(path, f"expected a list of non-empty strings, got {app_ids!r}", "app_ids")
    defaults = MessagesConfig()
    try:
        return MessagesConfig(
            mongo_connection_id=require(raw, "mongo_connection_id", str, path),
            aws_connection_id=require(raw, "aws_connection_id", str, path),
            database=require(raw, "database", str, path),
            timezone=timezone,
            app_ids=tuple(app_ids),
            bucket=require(raw, "bucket", str, path),
            key_prefix=require(raw, "key_prefix", str, path, default=defaults.key_prefix),
            local_dir=require(raw, "local_dir", str, path, default=""),
            files={name: require(raw, f"files.{name}", str, path, defaults.files[name]) for name in TABLES},
            user_batch_size=require(raw, "user_batch_size", int, path, default=defaults.user_batch_size),
        )
    except ValueError as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(path, str(error)) from None
