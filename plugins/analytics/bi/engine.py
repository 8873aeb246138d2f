"""The BI aggregation's engines: one SQL file of ``include/sql/bi/`` run in PostgreSQL, its grouped rows
streamed into one MongoDB collection. Plain functions, no Airflow.

**Reading.** Every aggregate is computed by PostgreSQL (GROUP BY in its SQL file), with the
parameters of :func:`query_parameters` (the period's bounds, the chunk's forms, the snapshot's
windows and thresholds), in a read-only REPEATABLE READ transaction through ``postgres_app``'s
``PostgresHook``; the rows are streamed ``fetch_size`` at a time (libpq's chunked rows, not a
server-side cursor, which PostgreSQL plans for its first rows and never runs in parallel), so no
result is held whole in memory and the plan is the bare query's. Raw rows never reach Python.

**Monthly and quarterly collections replace exactly their period** (``month``, ``quarter``): each
document has a deterministic ``_id`` (``2024-03|<institution>|<form>``) and is written stamped with
this attempt (``RUN_FIELD``) over its previous version or beside the others; only then are the
period's documents that this attempt did not write deleted (``SafeReplacement`` with the
period as its ``scope``, on ``not_written_by``). A rerun or a backfill therefore never double-counts, and dashboards never see
fewer documents than they had mid-run; an attempt that dies halfway deletes nothing, and the next
converges to what one clean run writes. ``monthly_submissions`` is written per chunk of forms: a
chunk's scope is its month **and its forms** (``form_id`` in the chunk), so a chunk rerun alone
rewrites its forms only and can never delete another chunk's documents;
:func:`remove_unplanned_forms`, once per month after the chunks, deletes the month's documents of
forms the plan no longer holds (a form deleted from the application). Chunks may run in any order,
in parallel, or again.

**Snapshots** (``institutions``, ``security_risk_clients``, ``forms``, ``top_users``) are resynced
whole through ``SafeReplacement``: the new set is written stamped beside the old one, then the old
documents are removed, so readers never see the collection empty or half written (the local
MongoDB server cannot rename collections, so no swap). A snapshot is as of the end of a month; one
already as of a **later** month is kept (a backfill of an old month does not take dashboards back
in time, whatever order its runs finish in); the same month is resynced.

Indexes (period and institution keys, and the stamp) are created before every write.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.bi.config import SQL_DIR, BiConfig
from analytics.bi.documents import (
    AS_OF,
    AS_OF_MONTH,
    COLLECTIONS,
    INSTITUTIONS,
    MONTHLY_SESSIONS,
    MONTHLY_SUBMISSIONS,
    QUARTERLY_FORM_CHURN,
    SECURITY_RISK_CLIENTS,
    TOP_USERS,
    CollectionSpec,
    to_document,
)
from analytics.bi.periods import Month
from analytics.core.progress import Progress
from analytics.stores import postgres
from analytics.stores.mongo import RUN_FIELD, SafeReplacement, mongo_client, replace_document

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

COMPLETE, KEPT = "complete", "kept"
FORM_IDS_SQL = "form_ids.sql"


@dataclass
class WriteResult:
    """What one engine call did to one collection and period (an XCom-sized summary)."""

    collection: str
    period: str  # "2024-03", "2024-Q1", or a snapshot's "as of 2024-03"
    rows: int = 0  # grouped rows read from PostgreSQL
    written: int = 0  # documents written (new or over their previous version)
    removed: int = 0  # documents of the period (or snapshot) that this attempt did not write
    seconds: float = 0.0
    state: str = COMPLETE
    note: str = ""

    def as_summary(self) -> dict[str, Any]:
        return asdict(self)

    def log_line(self) -> str:
        text = (
            f"{self.collection} {self.period}: {self.state}, {self.rows} rows -> {self.written} documents "
            f"written, {self.removed} removed in {self.seconds:.1f}s"
        )
        return text + (f" ({self.note})" if self.note else "")


def new_stamp(run_id: str | None = None) -> str:
    """A stamp unique to one attempt (``RUN_FIELD``), prefixed with the Airflow run for who-wrote-what."""
    return f"{run_id or 'run'}#{uuid.uuid4().hex[:16]}"


# ------------------------------------------------------------------ parameters


def _plain(moment: datetime) -> datetime:
    """A pendulum DateTime as a standard ``datetime`` with the same instant and offset (for the drivers)."""
    return datetime.fromisoformat(moment.isoformat())


def period_bounds(spec: CollectionSpec, month: Month, timezone: str) -> tuple[str, datetime, datetime]:
    """The period label and bounds a monthly (the month) or quarterly (the month's quarter) collection writes."""
    if spec.period_field == "quarter":
        if not month.closes_quarter:
            raise ValueError(
                f"{month} does not close a quarter: {spec.name} is computed in Mar, Jun, Sep, Dec"
            )
        quarter = month.quarter
        return quarter.label, _plain(quarter.start(timezone)), _plain(quarter.end(timezone))
    return month.label, _plain(month.start(timezone)), _plain(month.end(timezone))


def query_parameters(
    spec: CollectionSpec, month: Month, config: BiConfig, form_ids: Sequence[int] | None = None
) -> dict[str, Any]:
    """The parameters of ``spec``'s SQL file for ``month`` (a snapshot: as of its end)."""
    zone = config.timezone
    if spec.is_snapshot:
        as_of = month.end(zone)
        parameters: dict[str, Any] = {"as_of": _plain(as_of)}
        if spec is INSTITUTIONS:
            parameters["recent_start"] = _plain(as_of.subtract(days=config.institution_recent_days))
            parameters["recent_days"] = config.institution_recent_days
        elif spec is SECURITY_RISK_CLIENTS:
            parameters.update(config.risk_thresholds.sql_parameters())
        elif spec is TOP_USERS:
            parameters["window_start"] = _plain(as_of.subtract(days=config.top_users_window_days))
            parameters["window_days"] = config.top_users_window_days
            parameters["top_users"] = config.top_users_per_institution
        return parameters
    _, start, end = period_bounds(spec, month, zone)
    parameters = {"period_start": start, "period_end": end}
    if spec is QUARTERLY_FORM_CHURN:
        parameters["previous_start"] = _plain(month.quarter.previous().start(zone))
    if spec is MONTHLY_SUBMISSIONS:
        if form_ids is None:
            raise ValueError("monthly_submissions is computed for a chunk of forms: pass form_ids")
        parameters["form_ids"] = list(form_ids)
    return parameters


def sql_path(spec: CollectionSpec) -> Path:
    return SQL_DIR / spec.sql_file


# ------------------------------------------------------------------ reading


def stream_rows(
    conn: psycopg.Connection, path: Path, parameters: Mapping[str, Any], fetch_size: int
) -> Iterator[dict[str, Any]]:
    """The rows of one SQL file as dicts, streamed ``fetch_size`` at a time (libpq's chunked rows), in one
    read-only REPEATABLE READ transaction.

    Not a server-side cursor: PostgreSQL plans a cursor for its first rows and never runs it in
    parallel, which made the grouped queries two to four times slower than the same query run
    plainly (measured by scripts/bench_bi.py). Streamed rows keep the plain query's plan, parallel
    workers included, and memory holds one chunk.
    """
    from psycopg.rows import dict_row

    with postgres.read_snapshot(conn):
        with conn.cursor(row_factory=dict_row) as cursor:
            yield from cursor.stream(postgres.read_sql_file(path), dict(parameters), size=fetch_size)


def form_ids(config: BiConfig) -> list[int]:
    """The application's form ids, in order (the plan chunks them)."""
    with postgres.connect(config.source_connection_id) as conn:
        rows = stream_rows(conn, SQL_DIR / FORM_IDS_SQL, {}, config.fetch_size)
        return [row["form_id"] for row in rows]


# ------------------------------------------------------------------ writing


def ensure_indexes(collection: Any, spec: CollectionSpec) -> None:
    """The dashboards' indexes of ``spec`` and the stamp's (the replacements' deletes filter on it)."""
    for keys in (*spec.indexes, RUN_FIELD):
        collection.create_index(keys)


def _write_documents(
    conn: psycopg.Connection,
    writer: Any,
    spec: CollectionSpec,
    parameters: Mapping[str, Any],
    config: BiConfig,
    label: str,
    shape: Any,
) -> int:
    """Stream ``spec``'s rows into ``writer`` as documents (``shape(row)``); returns the rows read."""
    progress = Progress(label=f"{spec.name} {label}", unit="rows", logger=log)
    for row in stream_rows(conn, sql_path(spec), parameters, config.fetch_size):
        writer.add(shape(row))
        progress.advance()
    progress.finish()
    return progress.done


def _replace_period(
    spec: CollectionSpec,
    month: Month,
    config: BiConfig,
    scope_extra: Mapping[str, Any],
    run_id: str | None,
    form_ids: Sequence[int] | None = None,
) -> WriteResult:
    """Write ``spec``'s documents of the month's period (and ``scope_extra``), then delete the scope's others."""
    label, _, _ = period_bounds(spec, month, config.timezone)
    parameters = query_parameters(spec, month, config, form_ids)
    progress = Progress(label=f"{spec.name} {label}", logger=log)
    scope = {spec.period_field: label, **scope_extra}
    with mongo_client(config.mongo_connection_id) as client:
        collection = client[config.database][spec.name]
        ensure_indexes(collection, spec)
        with SafeReplacement(
            collection, new_stamp(run_id), batch_size=config.batch_size, scope=scope
        ) as replacement:
            with postgres.connect(config.source_connection_id) as conn:
                rows = _write_documents(
                    conn,
                    replacement,
                    spec,
                    parameters,
                    config,
                    label,
                    lambda row: to_document(spec, row, period=label),
                )
            removed = replacement.commit()
    return WriteResult(spec.name, label, rows, replacement.written, removed, progress.elapsed)


def write_monthly_submissions(
    month: Month, form_ids: Sequence[int], config: BiConfig, run_id: str | None = None
) -> WriteResult:
    """``monthly_submissions`` of one month for one chunk of forms: replaces exactly (month, those forms)."""
    if not form_ids:
        raise ValueError("a chunk holds at least one form")
    result = _replace_period(
        MONTHLY_SUBMISSIONS, month, config, {"form_id": {"$in": list(form_ids)}}, run_id, form_ids
    )
    result.note = f"forms {min(form_ids)}..{max(form_ids)} ({len(form_ids)})"
    return result


def remove_unplanned_forms(month: Month, form_ids: Sequence[int], config: BiConfig) -> WriteResult:
    """Delete the month's ``monthly_submissions`` documents of forms not in ``form_ids`` (the plan's)."""
    progress = Progress(label=f"monthly_submissions {month} cleanup", logger=log)
    with mongo_client(config.mongo_connection_id) as client:
        collection = client[config.database][MONTHLY_SUBMISSIONS.name]
        ensure_indexes(collection, MONTHLY_SUBMISSIONS)
        stale = {MONTHLY_SUBMISSIONS.period_field: month.label, "form_id": {"$nin": list(form_ids)}}
        removed = collection.delete_many(stale).deleted_count
    return WriteResult(
        MONTHLY_SUBMISSIONS.name,
        month.label,
        removed=removed,
        seconds=progress.elapsed,
        note=f"documents of forms no longer in the application ({len(form_ids)} planned)",
    )


def write_monthly_sessions(month: Month, config: BiConfig, run_id: str | None = None) -> WriteResult:
    """``monthly_sessions`` of one month: replaces exactly that month."""
    return _replace_period(MONTHLY_SESSIONS, month, config, {}, run_id)


def write_quarterly_form_churn(month: Month, config: BiConfig, run_id: str | None = None) -> WriteResult:
    """``quarterly_form_churn`` of the quarter ``month`` closes: replaces exactly that quarter."""
    return _replace_period(QUARTERLY_FORM_CHURN, month, config, {}, run_id)


# One document per snapshot collection, ``_id`` its name: the month it was last resynced as of. A
# snapshot as of a month with no rows (no top users yet) leaves no document to say its month.
SNAPSHOT_MONTHS = "snapshot_months"


def later_snapshot_month(collection: Any, month: Month | str) -> str | None:
    """The month later than ``month`` that the snapshot ``collection`` is as of, if it is.

    Read from :data:`SNAPSHOT_MONTHS`, else from the documents (a collection resynced before
    that record existed).
    """
    label = month if isinstance(month, str) else month.label
    record = collection.database[SNAPSHOT_MONTHS].find_one({"_id": collection.name})
    if record and record.get(AS_OF_MONTH, "") > label:
        return record[AS_OF_MONTH]
    found = collection.find_one({AS_OF_MONTH: {"$gt": label}}, {AS_OF_MONTH: 1})
    return found[AS_OF_MONTH] if found else None


def resync_snapshot(name: str, month: Month, config: BiConfig, run_id: str | None = None) -> WriteResult:
    """Resync the snapshot collection ``name`` as of the end of ``month`` (kept when it is as of a later one)."""
    spec = COLLECTIONS[name]
    if not spec.is_snapshot:
        raise ValueError(f"{name} is not a snapshot collection")
    label = f"as of {month}"
    as_of = _plain(month.end(config.timezone))
    progress = Progress(label=f"{name} {label}", logger=log)
    with mongo_client(config.mongo_connection_id) as client:
        collection = client[config.database][name]
        ensure_indexes(collection, spec)
        later = later_snapshot_month(collection, month)
        if later:
            note = f"the collection is as of {later}, later than {month}: kept (an older month does not replace it)"
            return WriteResult(name, label, state=KEPT, seconds=progress.elapsed, note=note)
        with SafeReplacement(collection, new_stamp(run_id), batch_size=config.batch_size) as replacement:
            with postgres.connect(config.source_connection_id) as conn:
                rows = _write_documents(
                    conn,
                    replacement,
                    spec,
                    query_parameters(spec, month, config),
                    config,
                    label,
                    lambda row: to_document(spec, row, as_of_month=month.label, as_of=as_of),
                )
            removed = replacement.commit()
        replace_document(
            client[config.database][SNAPSHOT_MONTHS], {"_id": name, AS_OF_MONTH: month.label, AS_OF: as_of}
        )
    return WriteResult(name, label, rows, replacement.written, removed, progress.elapsed)
