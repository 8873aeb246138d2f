"""Course KPIs' settings (``include/config/course_kpis.json`` and the params laid over it) and ranges.

Pure: which days a run covers (:class:`KpiRange`: the range, the whole ISO weeks that hold it, the
window read around it) and how it is configured (:class:`KpiSettings`); no I/O beyond reading
the configuration file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from analytics.core.config import CONFIG_DIR, config_path, load_json_config, require
from analytics.core.progress import DEFAULT_EVERY_SECONDS
from analytics.edx.course_configs import CourseConfig
from analytics.edx.kpis.staff import StaffRule
from analytics.edx.kpis.weekly import iso_week_start
from analytics.stores.mongo import (
    DEFAULT_BATCH_SIZE,
)

CONFIG_FILE = config_path("course_kpis.json")
PROJECT_DIR = CONFIG_DIR.parents[
    1
]  # a relative report_dir is under the project (the ./data volume in compose)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# ------------------------------------------------------------------ settings


@dataclass(frozen=True)
class KpiSettings:
    """How the KPIs are computed and where the report goes (``include/config/course_kpis.json``)."""

    session_timeout_minutes: float = 30.0
    staff_rule: StaffRule = field(default_factory=StaffRule)
    studio_events_from_master: bool = True  # Studio events name no course: look for them in the master
    report_dir: str = "data/reports/course_kpis"
    s3_bucket: str = ""  # empty: the report is not uploaded
    s3_prefix: str = "course_kpis/"
    batch_size: int = DEFAULT_BATCH_SIZE
    progress_every_seconds: float = DEFAULT_EVERY_SECONDS

    def __post_init__(self) -> None:
        if not self.session_timeout_minutes > 0:
            raise ValueError(f"session_timeout_minutes must be positive, not {self.session_timeout_minutes}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")

    @property
    def session_timeout(self) -> timedelta:
        return timedelta(minutes=self.session_timeout_minutes)

    def report_directory(self, override: str = "") -> Path:
        """``override`` when given, else the configured directory (a relative one is under the project)."""
        directory = Path(override or self.report_dir).expanduser()
        return directory if directory.is_absolute() else PROJECT_DIR / directory


def load_kpi_settings(
    path: Path = CONFIG_FILE, *, staff_rule: Mapping[str, Any] | None = None, **overrides: Any
) -> KpiSettings:
    """The configuration with ``overrides`` (DAG params) that are not None or empty; ``staff_rule``
    options are laid over the configured rule's. A bad value raises ValueError naming the file."""
    raw = load_json_config(path)
    defaults = KpiSettings()
    rule_options = dict(require(raw, "staff_rule", dict, path, {}))
    rule_options.update(staff_rule or {})
    values: dict[str, Any] = {
        "session_timeout_minutes": require(
            raw, "session_timeout_minutes", (int, float), path, defaults.session_timeout_minutes
        ),
        "studio_events_from_master": require(
            raw, "studio_events_from_master", bool, path, defaults.studio_events_from_master
        ),
        "report_dir": require(raw, "report_dir", str, path, defaults.report_dir),
        "s3_bucket": require(raw, "s3_bucket", str, path, defaults.s3_bucket),
        "s3_prefix": require(raw, "s3_prefix", str, path, defaults.s3_prefix),
        "batch_size": require(raw, "batch_size", int, path, defaults.batch_size),
        "progress_every_seconds": require(
            raw, "progress_every_seconds", (int, float), path, defaults.progress_every_seconds
        ),
    }
    values.update({key: value for key, value in overrides.items() if value not in (None, "")})
    try:
        return KpiSettings(staff_rule=StaffRule.from_mapping(rule_options), **values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None


# ------------------------------------------------------------------ ranges


@dataclass(frozen=True)
class KpiRange:
    """The days a computation covers (both included) and the windows each collection reads."""

    from_date: date
    to_date: date
    whole_course: bool = False

    def __post_init__(self) -> None:
        if self.to_date < self.from_date:
            raise ValueError(f"to_date {self.to_date} is before from_date {self.from_date}")

    @property
    def key(self) -> str:
        """``<from>|<to>``, the range's part of every ``_id``."""
        return f"{self.from_date.isoformat()}|{self.to_date.isoformat()}"

    @property
    def first_week(self) -> date:
        return iso_week_start(self.from_date)

    @property
    def last_week(self) -> date:
        return iso_week_start(self.to_date)

    def days(self) -> tuple[datetime, datetime]:
        """``[from_date 00:00 UTC, the day after to_date 00:00 UTC)``."""
        return _midnight(self.from_date), _midnight(self.to_date + timedelta(days=1))

    def weeks(self) -> tuple[datetime, datetime]:
        """The range widened to whole ISO weeks: ``[Monday on/before from_date, Monday after to_date's week)``."""
        return _midnight(self.first_week), _midnight(self.last_week + timedelta(days=7))

    def sessions(self, timeout: timedelta) -> tuple[datetime, datetime]:
        """The days widened by the session timeout on both sides (sessions across a boundary are seen whole)."""
        start, end = self.days()
        return start - timeout, end + timeout

    def read_window(self, timeout: timedelta) -> tuple[datetime, datetime]:
        """What the engine reads: every window above."""
        windows = (self.days(), self.weeks(), self.sessions(timeout))
        return min(start for start, _ in windows), max(end for _, end in windows)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def parse_day(value: date | str | None, name: str) -> date | None:
    """A ``YYYY-MM-DD`` param as a date; None when empty; ValueError naming the param otherwise."""
    if isinstance(value, date):
        return value
    if value in (None, "", "None"):
        return None
    text = str(value).strip()
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}: expected a date YYYY-MM-DD, got {value!r}") from None


def resolve_range(config: CourseConfig, from_date: date | str | None, to_date: date | str | None) -> KpiRange:
    """The range of a run: each date given, or the course's enrollment / completion day when empty."""
    start = parse_day(from_date, "from_date")
    end = parse_day(to_date, "to_date")
    return KpiRange(
        from_date=start or config.date_of_course_enrollment,
        to_date=end or config.date_of_course_completion,
        whole_course=start is None and end is None,
    )
