"""Data checks on MongoDB collections, as tasks of their own: :class:`MongoCheckOperator`.

A check is named, counts documents (``count_documents(filter)``) or runs an aggregation whose
first document's ``value`` is the measure (no document: 0), and compares the measure with an
expected condition (``equal_to``, ``at_least``, ``at_most``). The operator runs every check,
logs one line per check, and fails its task when any check fails, naming the collection, the
check, what was expected and what was found; it never writes. A DAG places it after the task
that loads or computes, so the load stays ``success`` and the check's failure shows on its own
in the grid. Checks are scoped to the run (its files, months, courses), built by
:meth:`MongoCheckOperator.checks_for` from templated arguments or the upstream XComs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import BaseOperator

CONDITIONS = ("equal_to", "at_least", "at_most")


@dataclass(frozen=True)
class MongoCheck:
    """One named check on one collection: a count (``filter``) or an aggregation (``pipeline``).

    An aggregation's measure is the ``value`` field of its first document, 0 when it returns
    none (``{"$count": "value"}`` over nothing). Exactly one of the conditions is set.
    """

    name: str
    collection: str
    filter: Mapping[str, Any] | None = None
    pipeline: Sequence[Mapping[str, Any]] | None = None
    equal_to: float | None = None
    at_least: float | None = None
    at_most: float | None = None
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if (self.filter is None) == (self.pipeline is None):
            raise ValueError(f"check {self.name!r}: give exactly one of filter and pipeline")
        if sum(getattr(self, name) is not None for name in CONDITIONS) != 1:
            raise ValueError(f"check {self.name!r}: give exactly one of {', '.join(CONDITIONS)}")

    @property
    def expected(self) -> str:
        for name in CONDITIONS:
            value = getattr(self, name)
            if value is not None:
                return f"{name.replace('_', ' ')} {_number(value)}"
        raise AssertionError("unreachable: __post_init__ requires a condition")

    def holds(self, actual: float) -> bool:
        if self.equal_to is not None:
            return actual == self.equal_to
        if self.at_least is not None:
            return actual >= self.at_least
        return self.at_most is not None and actual <= self.at_most

    def measure(self, database: Any) -> float:
        """The check's measure in ``database`` (a pymongo ``Database``)."""
        collection = database[self.collection]
        if self.filter is not None:
            return collection.count_documents(dict(self.filter))
        first = next(iter(collection.aggregate(list(self.pipeline or []))), None)
        return (first or {}).get("value", 0)


@dataclass(frozen=True)
class CheckOutcome:
    """A check and the measure found."""

    check: MongoCheck
    database: str
    actual: float

    @property
    def passed(self) -> bool:
        return self.check.holds(self.actual)

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"{verdict}: {self.database}.{self.check.collection}: {self.check.name}: "
            f"expected {self.check.expected}, actual {_number(self.actual)}"
            + (f" ({self.check.description})" if self.check.description else "")
        )

    def as_summary(self) -> dict[str, Any]:
        return {
            "check": self.check.name,
            "collection": f"{self.database}.{self.check.collection}",
            "expected": self.check.expected,
            "actual": self.actual,
            "passed": self.passed,
        }


def failure_message(outcomes: Sequence[CheckOutcome]) -> str | None:
    """One line per failed check, or None when every check passed."""
    failed = [outcome.line() for outcome in outcomes if not outcome.passed]
    if not failed:
        return None
    return f"{len(failed)} of {len(outcomes)} data check(s) failed:\n" + "\n".join(failed)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class MongoCheckOperator(BaseOperator):
    """Run named checks on a MongoDB database; fail the task (no retry) when one does not hold.

    ``checks`` are :class:`MongoCheck` objects (or their fields as dicts); subclasses build
    them from the run instead by overriding :meth:`checks_for`. Read-only: the data is never
    touched, so a failed check leaves the load as it is.
    """

    template_fields: Sequence[str] = ("database", "checks")
    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        database: str = "",
        checks: Sequence[MongoCheck | Mapping[str, Any]] = (),
        mongo_conn_id: str = "mongo_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.database = database
        self.checks = checks
        self.mongo_conn_id = mongo_conn_id

    def checks_for(self, context: Any) -> list[tuple[str, MongoCheck]]:
        """The (database, check) pairs this run asserts."""
        return [
            (self.database, check if isinstance(check, MongoCheck) else MongoCheck(**check))
            for check in self.checks
        ]

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow.sdk.exceptions import AirflowFailException

        from analytics.stores.mongo import mongo_client

        checks = self.checks_for(context)
        outcomes = []
        with mongo_client(self.mongo_conn_id) as client:
            for database, check in checks:
                if not database:
                    raise AirflowFailException(f"check {check.name!r}: no database given")
                outcome = CheckOutcome(check, database, check.measure(client[database]))
                (self.log.info if outcome.passed else self.log.error)("%s", outcome.line())
                outcomes.append(outcome)
        if not outcomes:
            self.log.info("nothing to check in this run")
        message = failure_message(outcomes)
        if message:
            # A data problem, not a passing fault: retrying would find the same documents.
            raise AirflowFailException(message)
        return [outcome.as_summary() for outcome in outcomes]
