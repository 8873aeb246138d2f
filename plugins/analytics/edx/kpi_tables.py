"""What the course KPIs read of a course's ingested tables (users, profiles, enrollments, certificates).

:class:`CourseTables` answers by indexed ``$in`` look-ups, a batch of learners at a time, and
holds nothing between calls; contact details are read only when the run asks for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from analytics.edx.kpi_collections import CERTIFICATES, ENROLLMENT, USER, USERPROFILE


class CourseTables:
    """What the KPIs read of the ingested tables: staff flags, and per batch of learners their enrollment,
    certificate and (only when asked) contact details; indexed lookups by ``$in``, nothing held."""

    def __init__(self, database: Any, include_contact_info: bool) -> None:
        self.database = database
        self.include_contact_info = include_contact_info

    def users_with_flags(self) -> Iterator[Mapping[str, Any]]:
        """Every user's username and staff flags (the detector keeps only the flagged ones)."""
        yield from self.database[USER].find({}, {"username": 1, "is_staff": 1, "is_superuser": 1})

    def users_by_username(self, usernames: list[str]) -> dict[str, Mapping[str, Any]]:
        return self._users({"username": {"$in": usernames}})

    def users_by_id(self, ids: list[Any]) -> dict[str, Mapping[str, Any]]:
        return self._users({"_id": {"$in": ids}})

    def _users(self, selection: dict[str, Any]) -> dict[str, Mapping[str, Any]]:
        projection = {"username": 1, **({"email": 1} if self.include_contact_info else {})}
        return {user["username"]: user for user in self.database[USER].find(selection, projection)}

    def joined(self, users: Iterable[Mapping[str, Any]]) -> dict[Any, dict[str, Any]]:
        """user id -> {enrollment, certificate, contact} for these users."""
        users = list(users)
        ids = [user["_id"] for user in users]
        found: dict[Any, dict[str, Any]] = {
            user["_id"]: {"enrollment": None, "certificate": None, "contact": {"email": user.get("email")}}
            for user in users
        }
        if not ids:
            return found
        tables = [
            (ENROLLMENT, "enrollment", {"mode": 1, "created": 1, "is_active": 1}),
            (CERTIFICATES, "certificate", {"status": 1, "modified_date": 1}),
        ]
        for collection, name, projection in tables:
            rows = self.database[collection].find({"user_id": {"$in": ids}}, {"user_id": 1, **projection})
            for row in sorted(rows, key=_latest_first):  # a user with two rows: the latest one
                entry = found.get(row["user_id"])
                if entry is not None and entry[name] is None:
                    entry[name] = row
        if self.include_contact_info:
            for profile in self.database[USERPROFILE].find(
                {"user_id": {"$in": ids}}, {"user_id": 1, "name": 1}
            ):
                entry = found.get(profile["user_id"])
                if entry is not None:
                    entry["contact"]["name"] = profile.get("name")
        return found

    def enrolled_user_ids(self, batch_size: int) -> Iterator[list[Any]]:
        """The ``user_id`` of every enrollment, in batches."""
        batch: list[Any] = []
        for row in self.database[ENROLLMENT].find({}, {"user_id": 1}, batch_size=batch_size):
            batch.append(row.get("user_id"))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def _latest_first(row: Mapping[str, Any]) -> tuple[float, str]:
    """Sort key: the latest row first (``modified_date``, else ``created``; naive datetimes are UTC), then by ``_id``."""
    when = row.get("modified_date") or row.get("created")
    if not isinstance(when, datetime):
        return (0.0, str(row.get("_id")))
    return (-(when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp(), str(row.get("_id")))
