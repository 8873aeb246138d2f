"""The MongoDB DAGs' data checks: :class:`~analytics.operators.mongo_checks.MongoCheckOperator`s scoped to the run.

Each operator here takes the XComs of the tasks it follows (the files loaded, the collections and
periods written) and builds its checks from them in :meth:`checks_for`, so it asserts this run's
data only: other files, months or courses never make it fail, and running it again gives the
same answer. The builders are plain functions of those summaries, tested without Airflow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from analytics.operators.mongo_checks import MongoCheck, MongoCheckOperator


def _summaries(*groups: Any) -> list[dict[str, Any]]:
    """XCom summaries: a summary, a mapped task's list of them, or None (a skipped task), flattened."""
    flat: list[dict[str, Any]] = []
    for group in groups:
        if group is None:
            continue
        if isinstance(group, Mapping):
            flat.append(dict(group))
        else:
            flat.extend(dict(item) for item in group[:] if item)
    return flat


def duplicates_check(name: str, collection: str, scope: Mapping[str, Any], keys: Sequence[str]) -> MongoCheck:
    """No two documents of ``scope`` share ``keys`` (e.g. a period and its institution and form)."""
    return MongoCheck(
        name=name,
        collection=collection,
        pipeline=[
            {"$match": dict(scope)},
            # One string key: nx-27017 groups a compound _id ({"a": "$a", ...}) as a constant.
            {"$project": {"key": {"$concat": _joined([{"$toString": f"${key}"} for key in keys])}}},
            {"$group": {"_id": "$key", "documents": {"$sum": 1}}},
            {"$match": {"documents": {"$gt": 1}}},
            {"$count": "value"},
        ],
        equal_to=0,
        description=f"key groups ({', '.join(keys)}) held by more than one document",
    )


def _joined(parts: list[Any]) -> list[Any]:
    """``parts`` with ``"|"`` between them, for ``$concat``."""
    joined: list[Any] = []
    for part in parts:
        joined += ["|", part] if joined else [part]
    return joined


# ---------------------------------------------------------------- tracking_logs_master_load


def master_load_checks(loads: Iterable[Mapping[str, Any]]) -> list[MongoCheck]:
    """The files this run loaded completely: recorded complete, read = loaded + rejected, and the
    master holds one event per line kept (lines read less lines discarded)."""
    from analytics.edx.tracking_load import IMPORTED_COLLECTION, MASTER_COLLECTION

    complete = [load for load in loads if load.get("status") == "complete"]
    names = [load["name"] for load in complete]
    if not names:
        return []
    checks = [
        MongoCheck(
            name="import records complete",
            collection=IMPORTED_COLLECTION,
            filter={"_id": {"$in": names}, "status": "complete"},
            equal_to=len(names),
        ),
        MongoCheck(
            name="read = loaded + rejected",
            collection=IMPORTED_COLLECTION,
            pipeline=[
                {"$match": {"_id": {"$in": names}}},
                {
                    "$project": {
                        "unbalanced": {
                            "$ne": ["$read", {"$add": ["$loaded", "$already_loaded", "$discarded"]}]
                        }
                    }
                },
                {"$match": {"unbalanced": True}},
                {"$count": "value"},
            ],
            equal_to=0,
            description="import records whose lines read differ from loaded + already loaded + discarded",
        ),
    ]
    for load in complete:
        name = load["name"]
        checks.append(
            MongoCheck(
                name=f"events of {name} = lines read - discarded",
                collection=MASTER_COLLECTION,
                # _id is "<file>:<line>": a range on the primary key, no scan (';' follows ':').
                filter={"_id": {"$gte": f"{name}:", "$lt": f"{name};"}},
                equal_to=load["read"] - load["discarded"],
            )
        )
    return checks


class MasterLoadCheckOperator(MongoCheckOperator):
    """Checks of the files this run loaded (``loads``: the ``load_file`` summaries), in the master database."""

    template_fields: Sequence[str] = ("loads",)

    def __init__(self, *, loads: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loads = loads

    def checks_for(self, context: Any) -> list[tuple[str, MongoCheck]]:
        from analytics.edx.tracking_load import load_tracking_settings

        database = load_tracking_settings().master_database
        return [(database, check) for check in master_load_checks(_summaries(self.loads))]


# ---------------------------------------------------------------- bi_monthly_aggregation


def bi_checks(summaries: Iterable[Mapping[str, Any]]) -> list[MongoCheck]:
    """Each collection and period this run wrote completely: as many documents as rows grouped in
    PostgreSQL, and no two documents for one period and key (a duplicate period)."""
    from analytics.bi.documents import AS_OF_MONTH, COLLECTIONS

    rows: dict[tuple[str, str], int] = defaultdict(int)
    for summary in summaries:
        if summary.get("state") == "complete":
            rows[summary["collection"], summary["period"]] += summary.get("rows", 0)
    checks = []
    for (name, period), expected in sorted(rows.items()):
        spec = COLLECTIONS[name]
        if spec.is_snapshot:  # "as of 2024-03"
            scope = {AS_OF_MONTH: period.removeprefix("as of ")}
            keys: Sequence[str] = spec.key_fields
        else:
            scope = {spec.period_field: period}
            keys = (spec.period_field, *spec.key_fields)
        checks.append(
            MongoCheck(f"{period}: documents = rows from PostgreSQL", name, filter=scope, equal_to=expected)
        )
        checks.append(duplicates_check(f"{period}: no duplicate {', '.join(keys)}", name, scope, keys))
    return checks


class BiCheckOperator(MongoCheckOperator):
    """Checks of the collections and periods this run wrote (``results``: the writing tasks' summaries)."""

    template_fields: Sequence[str] = ("database", "results")

    def __init__(self, *, results: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results

    def checks_for(self, context: Any) -> list[tuple[str, MongoCheck]]:
        from analytics.bi.config import load_bi_config
        from analytics.stores.mongo import mongo_client

        database = self.database or load_bi_config().database
        checks = bi_checks(_summaries(*self.results))
        with mongo_client(self.mongo_conn_id) as client:
            superseded = superseded_snapshots(client[database], checks)
        for check in superseded:
            self.log.info(
                "not checked: %s of %s, replaced by a later month's snapshot", check.name, check.collection
            )
        return [(database, check) for check in checks if check not in superseded]


def superseded_snapshots(database: Any, checks: Sequence[MongoCheck]) -> list[MongoCheck]:
    """The snapshot checks whose month a later run has replaced (a snapshot collection keeps its latest month only).

    In a backfill, March's run may replace February's snapshot before February's check reads it.
    """
    from analytics.bi.documents import AS_OF_MONTH

    superseded = []
    for check in checks:
        month = (check.filter or {}).get(AS_OF_MONTH)
        if month is not None and database[check.collection].count_documents(
            {AS_OF_MONTH: {"$gt": month}}, limit=1
        ):
            superseded.append(check)
    return superseded
