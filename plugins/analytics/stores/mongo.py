"""The one MongoDB writer: batched inserts and upserts over pymongo, built from an Airflow connection.

Every DAG that writes to MongoDB goes through :class:`MongoBatchWriter`, so batching, duplicate
handling and counting are done once. The code keeps to the portable core of the MongoDB API
(``insert_many(ordered=False)``, ``bulk_write`` of upserts, ``create_index``, ``drop``) so the
same calls work against MongoDB 7 in production and the local wire-protocol server.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pymongo is imported where it is used, so DAG files that import operators parse fast
    from pymongo.collection import Collection

DUPLICATE_KEY_ERROR = 11000
DEFAULT_BATCH_SIZE = 1000


@dataclass
class WriteCounts:
    """What a writer did: documents inserted, upserted or replaced, and duplicates left alone."""

    inserted: int = 0
    upserted: int = 0
    replaced: int = 0
    duplicates: int = 0

    @property
    def written(self) -> int:
        return self.inserted + self.upserted + self.replaced


@contextmanager
def mongo_client(conn_id: str) -> Iterator[Any]:
    """A pymongo client for an Airflow connection (``mongo://`` URI), closed on exit."""
    from airflow.providers.mongo.hooks.mongo import MongoHook

    with MongoHook(mongo_conn_id=conn_id) as hook:
        yield hook.get_conn()


class MongoBatchWriter:
    """Buffers documents and writes them in batches to one collection.

    ``mode="insert"`` inserts with ``ordered=False``; documents whose ``_id`` already exists are
    counted as duplicates, not errors, which makes loads keyed on deterministic ids idempotent.
    ``mode="upsert"`` replaces each document by its ``_id`` (inserting it when missing).
    Use it as a context manager so the last partial batch is flushed.
    """

    def __init__(
        self, collection: Collection, mode: str = "insert", batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        if mode not in ("insert", "upsert"):
            raise ValueError(f"mode must be 'insert' or 'upsert', not {mode!r}")
        self.collection = collection
        self.mode = mode
        self.batch_size = batch_size
        self.counts = WriteCounts()
        self._batch: list[dict] = []

    def __enter__(self) -> MongoBatchWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.flush()

    def add(self, document: dict) -> None:
        self._batch.append(document)
        if len(self._batch) >= self.batch_size:
            self.flush()

    def add_all(self, documents: Iterable[dict]) -> WriteCounts:
        for document in documents:
            self.add(document)
        self.flush()
        return self.counts

    def flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        if self.mode == "insert":
            self._insert(batch)
        else:
            self._upsert(batch)

    def _insert(self, batch: list[dict]) -> None:
        from pymongo.errors import BulkWriteError

        try:
            result = self.collection.insert_many(batch, ordered=False)
            self.counts.inserted += len(result.inserted_ids)
        except BulkWriteError as error:
            details = error.details
            other_errors = [e for e in details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY_ERROR]
            if other_errors:
                raise
            duplicates = len(details.get("writeErrors", []))
            self.counts.duplicates += duplicates
            self.counts.inserted += details.get("nInserted", len(batch) - duplicates)

    def _upsert(self, batch: list[dict]) -> None:
        from pymongo import ReplaceOne

        requests = [ReplaceOne({"_id": document["_id"]}, document, upsert=True) for document in batch]
        result = self.collection.bulk_write(requests, ordered=False)
        self.counts.upserted += result.upserted_count
        self.counts.replaced += result.matched_count


def replace_collection(
    collection: Collection,
    documents: Iterable[dict],
    indexes: Iterable[str | list[tuple[str, int]]] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> WriteCounts:
    """Drop a collection, stream ``documents`` into it in batches, then create ``indexes``.

    Running it twice with the same documents leaves the same collection: the idempotent write
    for data that is owned whole by one task (a course's tables, for instance).
    """
    collection.drop()
    with MongoBatchWriter(collection, mode="insert", batch_size=batch_size) as writer:
        writer.add_all(documents)
    for keys in indexes:
        collection.create_index(keys)
    return writer.counts
