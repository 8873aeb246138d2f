"""The one MongoDB writer: batched inserts, upserts and safe replacements over pymongo, on MongoHook.

Every DAG that writes to MongoDB goes through :class:`MongoBatchWriter`, so batching, duplicate
handling and counting are done once; :class:`SafeReplacement` replaces a collection's contents
without readers ever seeing less than they had. The code keeps to the portable core of the
MongoDB API (``insert_many(ordered=False)``, ``bulk_write`` by ``_id``, ``find`` with ``$in``,
``delete_many``, ``create_index``) so the same calls work against MongoDB 7 in production and
the local wire-protocol server. pymongo is imported where it is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pymongo is imported where it is used, so DAG files that import operators parse fast
    from pymongo.collection import Collection

log = logging.getLogger(__name__)

DUPLICATE_KEY_ERROR = 11000
DEFAULT_BATCH_SIZE = 1000
MODES = ("insert", "upsert", "stamped", "stamped_insert")

# Called once per document whose _id was already taken: the document and the origin it was added with.
DuplicateHandler = Callable[[dict, Any], None]


@dataclass
class WriteCounts:
    """What a writer did: documents inserted, upserted or replaced, and duplicates left alone."""

    inserted: int = 0
    upserted: int = 0
    replaced: int = 0
    duplicates: int = 0


class MongoUnavailableError(RuntimeError):
    """The MongoDB server of an Airflow connection could not be reached, or went away mid-task.

    Raised from pymongo's ``ConnectionFailure`` (chained), with the connection id and host:port,
    so the task's log says which store to look at; Airflow retries the task like any failure.
    """


@contextmanager
def mongo_client(conn_id: str) -> Iterator[Any]:
    """A pymongo client for an Airflow connection (``mongo://`` URI), closed on exit.

    A connection failure inside the block (server down, stopped mid-write) leaves it as a
    :class:`MongoUnavailableError` naming ``conn_id`` and the server's host:port.
    """
    from airflow.providers.mongo.hooks.mongo import MongoHook
    from pymongo.errors import ConnectionFailure

    with MongoHook(mongo_conn_id=conn_id) as hook:
        try:
            yield hook.get_conn()
        except ConnectionFailure as error:
            connection = hook.connection
            address = f"{connection.host}:{connection.port}" if connection.port else connection.host
            raise MongoUnavailableError(
                f"MongoDB connection {conn_id!r} ({address}) failed: {str(error)[:300]}"
            ) from error


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
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.collection = collection
        self.mode = mode
        self.batch_size = batch_size
        self.on_duplicate = on_duplicate
        self.counts = WriteCounts()
        self.stamp: str | None = None  # mode "stamped": the run written into RUN_FIELD (SafeReplacement)
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
        elif self.mode == "stamped":
            self._stamped_upsert(batch, origins)
        elif self.mode == "stamped_insert":
            before = self.counts.inserted
            self._insert([{**document, RUN_FIELD: self.stamp} for document in batch], origins)
            self.counts.upserted += self.counts.inserted - before
            self.counts.inserted = before
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

    def _stamped_upsert(self, batch: list[dict], origins: list[Any]) -> None:
        """Write the batch stamped with ``self.stamp``: new ids inserted, older versions replaced by ``_id``.

        One indexed lookup tells which ids exist and who wrote them; an id already written with this
        stamp, or twice in the batch, is a duplicate. Filters stay on ``_id`` alone, which both
        MongoDB and the local server answer from the primary index.
        """
        from pymongo import ReplaceOne

        stamp = self.stamp
        ids = [document["_id"] for document in batch]
        written_by = {
            found["_id"]: found.get(RUN_FIELD)
            for found in self.collection.find({"_id": {"$in": ids}}, {RUN_FIELD: 1})
        }
        new: list[dict] = []
        new_origins: list[Any] = []
        replacements = []
        seen: set[Any] = set()
        for document, origin in zip(batch, origins, strict=True):
            key = document["_id"]
            if key in seen or (key in written_by and written_by[key] == stamp):
                self._duplicate(document, origin)
                continue
            seen.add(key)
            stamped = {**document, RUN_FIELD: stamp}
            if key in written_by:
                replacements.append(ReplaceOne({"_id": key}, stamped))
            else:
                new.append(stamped)
                new_origins.append(origin)
        if replacements:
            result = self.collection.bulk_write(replacements, ordered=False)
            self.counts.replaced += result.matched_count
        if new:
            before = self.counts.inserted
            self._insert(new, new_origins)
            self.counts.upserted += self.counts.inserted - before
            self.counts.inserted = before

    def _duplicate(self, document: dict, origin: Any) -> None:
        self.counts.duplicates += 1
        if self.on_duplicate is not None:
            self.on_duplicate(document, origin)

    def _upsert(self, batch: list[dict]) -> None:
        from pymongo import ReplaceOne

        requests = [ReplaceOne({"_id": document["_id"]}, document, upsert=True) for document in batch]
        result = self.collection.bulk_write(requests, ordered=False)
        self.counts.upserted += result.upserted_count
        self.counts.replaced += result.matched_count


RUN_FIELD = "_ingestion_run"  # which run wrote a document; see SafeReplacement


def not_written_by(run: str) -> dict:
    """A filter for documents not stamped by ``run``, those without a stamp included.

    ``{RUN_FIELD: {"$ne": run}}`` alone means the same on MongoDB, but the local server's updates
    and deletes do not match documents that lack the field with ``$ne`` (README, compatibility).
    """
    return {"$or": [{RUN_FIELD: {"$exists": False}}, {RUN_FIELD: {"$ne": run}}]}


class SafeReplacement:
    """Replace a collection's contents without readers ever seeing less than they had.

    The local MongoDB server cannot rename collections, so nothing is written elsewhere and
    swapped in: each new document is written over the old one with the same ``_id`` (or added),
    stamped ``RUN_FIELD = run``, and only :meth:`commit`, called once the source was read to the
    end and accepted, deletes the documents of earlier runs that the new set does not hold.
    Until then readers see every previous document (in its old or new version). A run that
    stops before :meth:`commit` (a crash, a file rejected whole) deletes nothing; the next run,
    with its own ``run``, writes the full set again. ``run`` must be unique per attempt.

    A second document with an ``_id`` already written in this run is a duplicate, not an
    overwrite: the filter ``{_id, not written by run}`` does not match it, so the upsert's
    insert fails with a duplicate key and ``on_duplicate`` is called, as with ``insert_many``.

    With ``scope`` (a filter: a course's range, a month, a month's chunk of forms), only that
    part of the collection is replaced: :meth:`commit` deletes the scope's documents of other
    runs, and nothing outside it. The scope must hold every document the run writes.
    """

    def __init__(
        self,
        collection: Collection,
        run: str,
        indexes: Iterable[str | list[tuple[str, int]]] = (),
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_duplicate: DuplicateHandler | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        if not run:
            raise ValueError("a replacement needs a non-empty run stamp")
        self.collection = collection
        self.run = run
        self.scope = dict(scope) if scope else None
        self.indexes = list(indexes)
        self.writer = MongoBatchWriter(
            collection, mode="stamped", batch_size=batch_size, on_duplicate=on_duplicate
        )
        self.writer.stamp = run
        self.removed = 0
        self.committed = False

    def __enter__(self) -> SafeReplacement:
        if self.collection.find_one({}, {"_id": 1}) is None:
            # Nothing to write over: plain inserts (duplicates still fail on _id), no lookups.
            self.writer.mode = "stamped_insert"
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.writer.__exit__(exc_type, exc, traceback)

    def add(self, document: dict, origin: Any = None) -> None:
        self.writer.add(document, origin)

    @property
    def written(self) -> int:
        """Documents written in this run (new or over an old version), duplicates excluded."""
        return self.writer.counts.upserted + self.writer.counts.replaced

    def commit(self) -> int:
        """Flush, delete the documents of earlier runs, create the indexes; returns the documents removed."""
        self.writer.flush()
        self.collection.create_index(RUN_FIELD)  # built once, after the writes, for the delete
        self.removed = self.collection.delete_many(self.stale_filter()).deleted_count
        for keys in self.indexes:
            self.collection.create_index(keys)
        self.committed = True
        return self.removed

    def stale_filter(self) -> dict:
        """The documents :meth:`commit` deletes: those of the scope (else all) that this run did not write.

        A scope is joined with ``$and``, never merged beside ``not_written_by``'s ``$or``: the local
        server's ``find`` and ``delete_many`` ignore the other conditions of a filter with a
        top-level ``$or`` (README, compatibility notes), and would delete outside the scope.
        """
        if self.scope is None:
            return not_written_by(self.run)
        return {"$and": [self.scope, not_written_by(self.run)]}


def replace_document(collection: Collection, document: dict) -> None:
    """Insert ``document``, or replace the one with its ``_id``."""
    with MongoBatchWriter(collection, mode="upsert", batch_size=1) as writer:
        writer.add(document)
