"""The one MongoDB writer: batched inserts and upserts over pymongo, built from an Airflow connection.

Every DAG that writes to MongoDB goes through :class:`MongoBatchWriter`, so batching, duplicate
handling and counting are done once. The code keeps to the portable core of the MongoDB API
(``insert_many(ordered=False)``, ``bulk_write`` of upserts, ``create_index``, ``drop``) so the
same calls work against MongoDB 7 in production and the local wire-protocol server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pymongo is imported where it is used, so DAG files that import operators parse fast
    from pymongo.collection import Collection

log = logging.getLogger(__name__)

DUPLICATE_KEY_ERROR = 11000
DEFAULT_BATCH_SIZE = 1000

# Called once per document whose _id was already taken: the document and the origin it was added with.
DuplicateHandler = Callable[[dict, Any], None]


@dataclass
class WriteCounts:
    """What a writer did: documents inserted, upserted or replaced, and duplicates left alone."""

    inserted: int = 0
    upserted: int = 0
    replaced: int = 0
    duplicates: int = 0


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
    A caller for whom a duplicate means something (a repeated key in its input, say) passes
    ``on_duplicate``: it is called with each duplicate document and the ``origin`` it was added
    with (any value, such as its file and line). ``mode="upsert"`` replaces each document by its
    ``_id`` (inserting it when missing), so it has no duplicates.

    Use it as a context manager: leaving the block flushes the last partial batch, also when
    the block raises. Writing what was added before a failure is safe because every load is
    idempotent (deterministic ids, or a collection that the next run replaces whole), and it keeps
    records such as rejections that were collected before the failure; a flush that fails then
    is logged and the original exception goes on.
    """

    def __init__(
        self,
        collection: Collection,
        mode: str = "insert",
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_duplicate: DuplicateHandler | None = None,
    ) -> None:
        if mode not in ("insert", "upsert"):
            raise ValueError(f"mode must be 'insert' or 'upsert', not {mode!r}")
        self.collection = collection
        self.mode = mode
        self.batch_size = batch_size
        self.on_duplicate = on_duplicate
        self.counts = WriteCounts()
        self._batch: list[dict] = []
        self._origins: list[Any] = []

    def __enter__(self) -> MongoBatchWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            self.flush()
        except Exception:
            if exc_type is None:
                raise
            log.exception(
                "could not write the last batch to %s while handling %s",
                self.collection.name,
                exc_type.__name__,
            )

    def add(self, document: dict, origin: Any = None) -> None:
        """Buffer one document; ``origin`` is handed back to ``on_duplicate`` if it is a duplicate."""
        self._batch.append(document)
        self._origins.append(origin)
        if len(self._batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        batch, origins = self._batch, self._origins
        self._batch, self._origins = [], []
        if self.mode == "insert":
            self._insert(batch, origins)
        else:
            self._upsert(batch)

    def _insert(self, batch: list[dict], origins: list[Any]) -> None:
        from pymongo.errors import BulkWriteError

        try:
            result = self.collection.insert_many(batch, ordered=False)
            self.counts.inserted += len(result.inserted_ids)
        except BulkWriteError as error:
            details = error.details
            write_errors = details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY_ERROR for e in write_errors):
                raise
            self.counts.duplicates += len(write_errors)
            self.counts.inserted += details.get("nInserted", len(batch) - len(write_errors))
            if self.on_duplicate is not None:
                for write_error in write_errors:  # "index" is the document's position in the batch
                    self.on_duplicate(batch[write_error["index"]], origins[write_error["index"]])

    def _upsert(self, batch: list[dict]) -> None:
        from pymongo import ReplaceOne

        requests = [ReplaceOne({"_id": document["_id"]}, document, upsert=True) for document in batch]
        result = self.collection.bulk_write(requests, ordered=False)
        self.counts.upserted += result.upserted_count
        self.counts.replaced += result.matched_count


@contextmanager
def collection_replacement(
    collection: Collection,
    indexes: Iterable[str | list[tuple[str, int]]] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_duplicate: DuplicateHandler | None = None,
) -> Iterator[MongoBatchWriter]:
    """Drop a collection and yield an insert writer into it; on a clean exit, create ``indexes``.

    Running it twice with the same documents leaves the same collection: the idempotent write
    for data that is owned whole by one task (a course's tables, for instance).
    """
    collection.drop()
    with MongoBatchWriter(
        collection, mode="insert", batch_size=batch_size, on_duplicate=on_duplicate
    ) as writer:
        yield writer
    for keys in indexes:
        collection.create_index(keys)


def replace_document(collection: Collection, document: dict) -> None:
    """Insert ``document``, or replace the one with its ``_id``."""
    with MongoBatchWriter(collection, mode="upsert", batch_size=1) as writer:
        writer.add(document)
