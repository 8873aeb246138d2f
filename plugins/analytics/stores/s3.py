"""The one S3 adapter, on the amazon provider's ``S3Hook``: list the objects under a prefix, download
one object to a local path, upload a local file.

The hook interprets the Airflow connection (``aws_default`` by default: keys, region, the
``endpoint_url`` extra that points it at MinIO or moto) and its transfer settings. A download is
streamed by boto3's managed transfer straight into a hidden temporary file beside the final path
(``.<name>.<random>.partial``), checked against the object's size, fsynced and renamed over the
final name, so a reader never sees a partial file under that name, whatever interrupts the
transfer, and the previous local copy stays whole until the new one is. When the local file
already holds the object (same size, and the same MD5, or the same multipart ETag computed from
the object's part size) nothing is downloaded, so a rerun is idempotent; an object whose ETag is
not an MD5 (SSE-KMS) is downloaded again each time. Partial files left by a killed process are
removed by the next download to the same path; a running download holds a lock on its own.
Uploads go through the hook's ``load_file`` (boto3 multipart upload, read from disk part by
part). boto3 and the hook are imported on first use, so importing this module, as DAG files do
through the operators, loads neither.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.connections import AWS_DEFAULT
from analytics.core.files import PARTIAL_SUFFIX, fsync_directory, naming_path

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 1000  # keys per ListObjectsV2 request, the most S3 returns
HASH_BLOCK_BYTES = 8 * 1024 * 1024


class S3DownloadError(RuntimeError):
    """A download did not produce the object: no file was written under the final name."""


@dataclass(frozen=True)
class S3Object:
    """One object as S3 lists it: its key, size in bytes, ETag (without quotes) and last modification (UTC)."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Download:
    """Where an object was downloaded; ``downloaded`` is False when the local file already held it."""

    object: S3Object
    path: Path
    downloaded: bool


def _etag(value: str) -> str:
    return value.strip('"')


class S3Store:
    """S3 through ``S3Hook`` for one Airflow connection; the hook and its client are made on first use.

    ``page_size`` is the number of keys per listing request; ``transfer_config_args`` go to the
    hook (boto3's ``TransferConfig``: multipart threshold and part size, concurrency). Use it as
    a context manager to close the client's connections on exit.
    """

    def __init__(
        self,
        conn_id: str = AWS_DEFAULT,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        transfer_config_args: dict[str, Any] | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.page_size = page_size
        self.transfer_config_args = dict(transfer_config_args or {})

    @cached_property
    def hook(self) -> S3Hook:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.conn_id, transfer_config_args=dict(self.transfer_config_args))

    def __enter__(self) -> S3Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connections, if a client was made."""
        if "hook" in self.__dict__ and "conn" in self.hook.__dict__:
            self.hook.get_conn().close()

    # ------------------------------------------------------------ reading

    def list_objects(self, bucket: str, prefix: str = "") -> Iterator[S3Object]:
        """The objects whose key starts with ``prefix``, in key order, one listing page at a time."""
        entries = self.hook.iter_file_metadata(prefix=prefix, bucket_name=bucket, page_size=self.page_size)
        for entry in entries:
            yield S3Object(
                bucket=bucket,
                key=entry["Key"],
                size=int(entry["Size"]),
                etag=_etag(entry["ETag"]),
                last_modified=entry["LastModified"].astimezone(UTC),
            )

    def head(self, bucket: str, key: str) -> S3Object | None:
        """The object at ``key``, or None when there is none."""
        response = self.hook.head_object(key=key, bucket_name=bucket)
        if response is None:
            return None
        return S3Object(
            bucket=bucket,
            key=key,
            size=int(response["ContentLength"]),
            etag=_etag(response["ETag"]),
            last_modified=response["LastModified"].astimezone(UTC),
        )

    def download(self, bucket: str, key: str, path: str | os.PathLike[str]) -> Download:
        """Download ``key`` to ``path`` atomically, or leave ``path`` alone when it already holds the object.

        Raises FileNotFoundError when there is no such object, and :class:`S3DownloadError` when
        the bytes received are not the object's size or the object changed during the download.
        """
        path = Path(path)
        remote = self.head(bucket, key)
        if remote is None:
            raise FileNotFoundError(f"s3://{bucket}/{key} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(path)
        if self._holds(path, remote):
            log.info("%s: %s already holds it (%d bytes), not downloaded", remote.url, path, remote.size)
            return Download(remote, path, downloaded=False)
        descriptor, temporary_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX
        )
        temporary = Path(temporary_name)
        try:
            with open(descriptor, "wb") as file:
                fcntl.flock(file, fcntl.LOCK_EX)  # a live download: not stale for _remove_stale_partials
                self.hook.get_conn().download_fileobj(bucket, key, file, Config=self.hook.transfer_config)
                file.flush()
                os.fsync(file.fileno())
                received = os.fstat(file.fileno()).st_size
                if received != remote.size:
                    raise S3DownloadError(f"{remote.url}: received {received} bytes of {remote.size}")
                after = self.head(bucket, key)
                if after is None or after.etag != remote.etag:
                    raise S3DownloadError(f"{remote.url} changed during the download: run it again")
                if not self._holds(temporary, remote):  # the MD5 (or multipart ETag) of the bytes received
                    raise S3DownloadError(
                        f"{remote.url}: the bytes received do not match its ETag {remote.etag}"
                    )
                os.replace(temporary, path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise naming_path(error, path, f"{remote.url} not downloaded") from error
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        fsync_directory(path.parent)
        log.info("%s: downloaded to %s (%d bytes)", remote.url, path, remote.size)
        return Download(remote, path, downloaded=True)

    def _holds(self, path: Path, remote: S3Object) -> bool:
        """True when the local file has the object's size and content (as far as its ETag tells)."""
        try:
            if path.stat().st_size != remote.size:
                return False
        except FileNotFoundError:
            return False
        digest, _, parts = remote.etag.partition("-")
        if not parts:
            return _md5(path) == digest
        part = self.hook.get_conn().head_object(Bucket=remote.bucket, Key=remote.key, PartNumber=1)
        return _multipart_etag(path, int(part["ContentLength"])) == remote.etag

    # ------------------------------------------------------------ writing

    def upload(
        self, path: str | os.PathLike[str], bucket: str, key: str, *, replace: bool = True
    ) -> S3Object:
        """Upload the local file at ``path`` to ``key`` (multipart above the transfer threshold); return the object.

        With ``replace=False`` an existing object is an error (ValueError) and is left alone.
        """
        path = Path(path)
        size = path.stat().st_size
        self.hook.load_file(filename=path, key=key, bucket_name=bucket, replace=replace)
        uploaded = self.head(bucket, key)
        if uploaded is None or uploaded.size != size:
            raise RuntimeError(f"s3://{bucket}/{key}: uploaded {size} bytes, S3 holds {uploaded}")
        log.info("%s: uploaded from %s (%d bytes)", uploaded.url, path, size)
        return uploaded


# ---------------------------------------------------------------- local files


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while block := file.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _multipart_etag(path: Path, part_size: int) -> str:
    """The ETag S3 gives a multipart upload of this file in parts of ``part_size``: MD5 of the parts' MD5s, dash, count."""
    part_digests = []
    with open(path, "rb") as file:
        while part := file.read(part_size):
            part_digests.append(hashlib.md5(part, usedforsecurity=False).digest())
    combined = hashlib.md5(b"".join(part_digests), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(part_digests)}"


def _remove_stale_partials(path: Path) -> None:
    """Remove the partial files of earlier downloads to ``path`` that no live process holds."""
    for partial in path.parent.glob(f".{path.name}.*{PARTIAL_SUFFIX}"):
        try:
            with open(partial, "rb") as file:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                partial.unlink(missing_ok=True)
        except (FileNotFoundError, BlockingIOError):  # gone already, or held by a download still running
            continue
