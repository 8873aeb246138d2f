"""The seven BI collections and how a grouped SQL row becomes one of their documents. Pure.

Each collection is described once (:data:`COLLECTIONS`): its SQL file in ``include/sql/bi/``, the
fields its deterministic ``_id`` is made of, its period field (``month`` ``"YYYY-MM"``, ``quarter``
``"YYYY-Qn"``) or none for a snapshot, and the indexes dashboards filter on (period and
institution keys). A document is the row's columns as they come from PostgreSQL (the SQL aliases
are the field names), plus ``_id`` (the key fields joined with ``|``, e.g. ``2024-03|4|17``) and
the period; a snapshot's documents carry ``as_of_month`` (the run's last month) and ``as_of`` (the
instant after it, UTC). Numbers stay numbers (a ``Decimal`` becomes a float), times stay
``datetime`` (stored as UTC), NULL stays ``None``. ``security_risk_clients`` rows carry one boolean
column per flag: the document lists the flags that are true in ``flags``, in :data:`RISK_FLAGS`
order, and counts them in ``risk_score``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

MONTH, QUARTER = "month", "quarter"
AS_OF_MONTH, AS_OF = "as_of_month", "as_of"
RISK_FLAGS = ("no_two_factor", "no_sso", "weak_password_policy", "long_session_timeout", "many_global_users")
ID_SEPARATOR = "|"

Index = str | list[tuple[str, int]]


@dataclass(frozen=True)
class CollectionSpec:
    """One BI collection: its SQL file, key fields, period field (None: a snapshot) and indexes."""

    name: str
    key_fields: tuple[str, ...]
    period_field: str | None
    indexes: tuple[Index, ...]

    @property
    def sql_file(self) -> str:
        return f"{self.name}.sql"

    @property
    def is_snapshot(self) -> bool:
        return self.period_field is None


def _by_period(period: str, second: str) -> list[tuple[str, int]]:
    return [(period, 1), (second, 1)]


MONTHLY_SUBMISSIONS = CollectionSpec(
    "monthly_submissions",
    ("institution_id", "form_id"),
    MONTH,
    (_by_period(MONTH, "institution_id"), _by_period(MONTH, "form_id"), "institution_id"),
)
MONTHLY_SESSIONS = CollectionSpec(
    "monthly_sessions",
    ("institution_id", "form_id"),
    MONTH,
    (_by_period(MONTH, "institution_id"), _by_period(MONTH, "form_id"), "institution_id"),
)
QUARTERLY_FORM_CHURN = CollectionSpec(
    "quarterly_form_churn",
    ("institution_id",),
    QUARTER,
    (_by_period(QUARTER, "institution_id"), "institution_id"),
)
INSTITUTIONS = CollectionSpec("institutions", ("institution_id",), None, ("institution_id", "group_id"))
SECURITY_RISK_CLIENTS = CollectionSpec(
    "security_risk_clients", ("institution_id",), None, ("institution_id", "risk_score")
)
FORMS = CollectionSpec("forms", ("form_id",), None, ("form_id", "institution_id"))
TOP_USERS = CollectionSpec(
    "top_users", ("institution_id", "rank"), None, (_by_period("institution_id", "rank"),)
)

COLLECTIONS: dict[str, CollectionSpec] = {
    spec.name: spec
    for spec in (
        MONTHLY_SUBMISSIONS,
        MONTHLY_SESSIONS,
        QUARTERLY_FORM_CHURN,
        INSTITUTIONS,
        SECURITY_RISK_CLIENTS,
        FORMS,
        TOP_USERS,
    )
}
SNAPSHOTS = tuple(name for name, spec in COLLECTIONS.items() if spec.is_snapshot)


def document_id(spec: CollectionSpec, row: Mapping[str, Any], period: str | None) -> str:
    """``<period>|<key>|<key>`` (a snapshot's: its keys only): the same row always gets the same ``_id``."""
    parts = [period] if spec.period_field else []
    for name in spec.key_fields:
        if row.get(name) is None:
            raise ValueError(f"{spec.name}: a row without {name} cannot be keyed: {dict(row)!r}")
        parts.append(str(row[name]))
    return ID_SEPARATOR.join(parts)


def _value(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def risk_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """``flags`` (the true flag columns, in RISK_FLAGS order) and ``risk_score`` (how many)."""
    flags = [name for name in RISK_FLAGS if row.get(name)]
    return {"flags": flags, "risk_score": len(flags)}


def to_document(
    spec: CollectionSpec,
    row: Mapping[str, Any],
    *,
    period: str | None = None,
    as_of_month: str | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The document of one SQL row: ``period`` for a monthly or quarterly collection, ``as_of_month``
    and ``as_of`` for a snapshot."""
    if spec.is_snapshot == (period is not None):
        raise ValueError(f"{spec.name}: a period is {'not ' if spec.is_snapshot else ''}expected")
    document: dict[str, Any] = {"_id": document_id(spec, row, period)}
    if spec.period_field:
        document[spec.period_field] = period
    columns = {name: _value(value) for name, value in row.items()}
    if spec is SECURITY_RISK_CLIENTS:
        document.update({name: value for name, value in columns.items() if name not in RISK_FLAGS})
        document.update(risk_fields(columns))
    else:
        document.update(columns)
    if spec.is_snapshot:
        document[AS_OF_MONTH] = as_of_month
        document[AS_OF] = as_of
    return document
