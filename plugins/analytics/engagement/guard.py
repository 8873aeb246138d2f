"""The safety checks before the ELT writes to a database (pure, no Airflow, no I/O).

Copying production into analytics starts with ``pg_restore --clean`` (it drops the tables it
restores), and the event load deletes an interval of events: pointed at the production database
by a wrong connection, either would destroy production data. :func:`check_copy_target` refuses
a target that is the source itself or whose database name is on the configured deny-list.
"""

from __future__ import annotations

from collections.abc import Iterable

from analytics.database_target import DatabaseTarget


class UnsafeCopyTarget(ValueError):
    """The ELT refused to write to a database that may be production."""


def check_writable_target(target: DatabaseTarget, production_names: Iterable[str]) -> None:
    """Raise :class:`UnsafeCopyTarget` when the target database name is on the deny-list (case-insensitive)."""
    denied = {name.casefold() for name in production_names}
    if target.database.casefold() in denied:
        raise UnsafeCopyTarget(
            f"refusing to write to {target}: database {target.database!r} is on the production deny-list "
            f"(production_database_names in include/config/engagement.json); point the target connection "
            f"at the analytics database"
        )


def check_copy_target(
    source: DatabaseTarget, target: DatabaseTarget, production_names: Iterable[str]
) -> None:
    """Raise :class:`UnsafeCopyTarget` when copying ``source`` into ``target`` could overwrite production.

    Refused: the target is the source (same host, port and database, with ``localhost``,
    ``127.0.0.1`` and Unix sockets taken as the same host and 5432 as the default port), or
    the target's database name is on the deny-list. Host names are compared as written: two
    different names for one server are not detected, which the deny-list covers.
    """
    if source.normalised() == target.normalised():
        raise UnsafeCopyTarget(
            f"refusing to copy {source} into {target}: that is the source itself (the source and target "
            f"connections point at the same database)"
        )
    check_writable_target(target, production_names)


def table_names(tables: Iterable[str]) -> set[str]:
    """The bare table names of ``tables`` as configured (``schema.table``, quoted or not)."""
    return {name.split(".")[-1].strip('"') for name in tables}


def check_tables_not_copied(tables_not_copied: Iterable[str], event_table: str) -> None:
    """Raise ValueError unless the event table is among the tables the production copy leaves out.

    The restore drops and recreates every table it copies: were the event table copied, it would
    replace the analytics event table (and its enrichment columns) with production's.
    """
    names = table_names(tables_not_copied)
    if event_table not in names:
        raise ValueError(
            f"tables_not_copied must include the event table {event_table!r} (include/config/engagement.json), "
            f"got {sorted(names)}"
        )
