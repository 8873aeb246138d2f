"""The event table the ELT moves: its columns, the interval a run handles, the load's count check.

Pure, no Airflow: operators build an :class:`EventInterval` from their data interval (aware
datetimes, or the ISO strings a template renders) and the stores move the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# The columns production and analytics share, in COPY order.
EVENT_COLUMNS = (
    "id",
    "date_evenement",
    "categorie",
    "action",
    "nom",
    "id_utilisateur",
    "type_utilisateur",
    "structure",
    "code",
)
# The columns enrich_events adds in analytics.
ENRICHMENT_COLUMNS = ("week", "day", "agence", "department", "region")
# PostgreSQL truncates longer identifiers, so two tables could end up sharing an index name.
MAX_IDENTIFIER_BYTES = 63


def event_index_names(event_table: str) -> dict[str, str]:
    """The names of the analytics event table's indexes, derived from the table's name.

    ``date_index`` (on ``date_evenement``, for the load's delete and the enrichment) and
    ``day_index`` (on ``day``, for the weekly views): another event table gets its own indexes.
    """
    names = {
        "date_index": f"{event_table}_date_evenement_idx",
        "day_index": f"{event_table}_day_idx",
    }
    for name in names.values():
        if len(name.encode()) > MAX_IDENTIFIER_BYTES:
            raise ValueError(
                f"index name {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes: choose a shorter event_table "
                f"(include/config/engagement.json)"
            )
    return names


class LoadCountMismatch(RuntimeError):
    """The rows loaded for an interval are not the rows the source holds for it."""


def as_utc(value: datetime | str, what: str = "instant") -> datetime:
    """An aware instant (a datetime, pendulum included, or an ISO 8601 string) as a stdlib UTC datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise ValueError(f"{what} is not an ISO 8601 date-time: {value!r}") from error
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime or an ISO 8601 string, not {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must carry a time zone, not {value!r}")
    utc = value.astimezone(UTC)
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )


@dataclass(frozen=True)
class EventInterval:
    """The half-open interval ``[start, end)`` of ``date_evenement`` one run handles."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start, "interval start"))
        object.__setattr__(self, "end", as_utc(self.end, "interval end"))
        if self.start >= self.end:
            raise ValueError(
                f"empty data interval [{self.start.isoformat()}, {self.end.isoformat()}): the DAG needs a "
                f"timetable with data intervals (e.g. CronDataIntervalTimetable), or pass interval_start/interval_end"
            )

    def as_params(self) -> dict[str, datetime]:
        """The named SQL parameters ``%(start)s`` and ``%(end)s``."""
        return {"start": self.start, "end": self.end}

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def check_loaded_count(loaded: int, source_count: int, interval: EventInterval) -> None:
    """Raise :class:`LoadCountMismatch` unless the load inserted exactly the source's rows for the interval."""
    if loaded != source_count:
        raise LoadCountMismatch(
            f"loaded {loaded} events for {interval} but the source holds {source_count}: the load was rolled back"
        )
