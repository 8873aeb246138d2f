"""Engine of ``s3_log_download``: the tracking logs of an S3 bucket into the landing directory.

A run lists the keys under a prefix (page by page), keeps the tracking logs (the names the
master load reads: ``*.log.gz`` and ``*.log``, not hidden, not ``-errors``) whose date in the name
is on or after ``from_date`` (keys without a date are kept), and compares each with the register
``tracking_logs.s3_downloads`` (one record per object: key, ETag, size, last modification, the
local path with its size and modification time, when and by which run) and with the landing
directory itself: a key is downloaded when it is new, changed in S3 (another ETag or size), or
when its local file is gone or was changed; otherwise it is *already there* and not even asked
for. Each download is :meth:`analytics.stores.s3.S3Store.download` (streamed to a hidden
temporary name beside its final name, checked, renamed), one key at a time: a key that fails is
recorded with its reason and the others go on. The landing directory is flat, so keys land under
their base name; two keys that would land as one file (the same base name, or names the master
load knows as one: ``x.log`` and ``X.log.gz``), and a key whose file holds another key's download,
are refused with the reason, never overwritten.

:func:`plan_downloads` is pure (objects, register records and the landing directory's files in,
the plan out); :func:`plan_s3_download` and :func:`download_planned` do the I/O around it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.core.config import config_path, load_json_config, require
from analytics.core.progress import Progress

# A key's date is read as the master load reads its file's.
from analytics.edx.tracking_files import date_in_name, why_not_input
from analytics.edx.tracking_lines import tracking_file_name
from analytics.stores.s3 import S3Object

if TYPE_CHECKING:
    from pymongo.collection import Collection

    from analytics.stores.s3 import S3Store

log = logging.getLogger(__name__)

CONFIG_FILE = config_path("s3_download.json")
REGISTER_COLLECTION = "s3_downloads"
EXAMPLES_KEPT = 10  # keys named in the plan for each kind of key left alone (the counts are exact)

# Why a key is downloaded (the plan), and what became of it (the summary).
NEW, CHANGED = "new", "changed"
LOCAL_FILE_MISSING, LOCAL_FILE_CHANGED = "local file missing", "local file changed"
RESTORED, ALREADY_THERE, FAILED = "restored", "already there", "failed"
OUTCOME_OF_REASON = {NEW: NEW, CHANGED: CHANGED, LOCAL_FILE_MISSING: RESTORED, LOCAL_FILE_CHANGED: RESTORED}
# How a register record's file came to be: transferred, or found holding the object already.
DOWNLOADED, FOUND_IN_PLACE = "downloaded", "found in place"


@dataclass(frozen=True)
class S3DownloadSettings:
    """Where the logs are (bucket, prefix), how far back ``from_date`` goes by default, how often progress is logged."""

    bucket: str = "edx-tracking-logs"
    prefix: str = ""
    lookback_days: int = 2
    progress_every_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ValueError("bucket must not be empty")
        if self.lookback_days < 0:
            raise ValueError(f"lookback_days must be 0 or more, not {self.lookback_days}")


def load_s3_download_settings(path: Path = CONFIG_FILE, **overrides: Any) -> S3DownloadSettings:
    """``include/config/s3_download.json``, with ``overrides`` (DAG params) that are not None or empty."""
    raw = load_json_config(path)
    defaults = S3DownloadSettings()
    values: dict[str, Any] = {
        "bucket": require(raw, "bucket", str, path, defaults.bucket),
        "prefix": require(raw, "prefix", str, path, defaults.prefix),
        "lookback_days": require(raw, "lookback_days", int, path, defaults.lookback_days),
        "progress_every_seconds": require(
            raw, "progress_every_seconds", (int, float), path, defaults.progress_every_seconds
        ),
    }
    values.update({key: value for key, value in overrides.items() if value not in (None, "")})
    try:
        return S3DownloadSettings(**values)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


# ---------------------------------------------------------------- pure rules


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def landing_name(key: str) -> str:
    """The name a key lands under in the flat landing directory: its base name."""
    return key.rsplit("/", 1)[-1]


def resolve_from_date(from_date: Any, data_interval_start: datetime | None, lookback_days: int) -> date:
    """``from_date`` (``YYYY-MM-DD``) when given, else the data interval's start (UTC day) minus ``lookback_days``.

    A run without a data interval (triggered without a logical date) must give ``from_date``.
    """
    if from_date not in (None, "", "None"):
        text = str(from_date)
        if not ISO_DATE.fullmatch(text):
            raise ValueError(f"from_date must be a date as YYYY-MM-DD, not {text!r}")
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"from_date must be a date as YYYY-MM-DD, not {text!r}") from None
    if data_interval_start is None:
        raise ValueError(
            "this run has no data interval (triggered without a logical date): give from_date (YYYY-MM-DD)"
        )
    return data_interval_start.astimezone(UTC).date() - timedelta(days=lookback_days)


@dataclass(frozen=True)
class LocalFile:
    """A file of the landing directory as the plan sees it: its size and modification time."""

    size: int
    mtime_ns: int


@dataclass
class DownloadPlan:
    """What a run downloads (``to_download``: key, name, reason, size, ETag) and what it leaves alone, counted."""

    bucket: str
    prefix: str
    landing_dir: str
    from_date: str
    listed: int = 0
    not_tracking_logs: int = 0
    before_from_date: int = 0
    kept: int = 0
    to_download: list[dict[str, Any]] = field(default_factory=list)
    already_there: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)  # key, reason
    examples: dict[str, list[str]] = field(default_factory=dict)  # kind of key left alone -> a few keys

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _example(self, kind: str, key: str) -> None:
        keys = self.examples.setdefault(kind, [])
        if len(keys) < EXAMPLES_KEPT:
            keys.append(key)


def plan_downloads(
    objects: Iterable[S3Object],
    register: Iterable[Mapping[str, Any]],
    local_files: Mapping[str, LocalFile],
    *,
    bucket: str,
    prefix: str,
    landing: Path,
    from_date: date,
) -> DownloadPlan:
    """Sort the listed objects into downloads (new, changed, local file missing or changed),
    already there, refused, and left alone (not a tracking log, dated before ``from_date``).

    ``register`` holds the register's records for this bucket and this landing directory;
    ``local_files`` the landing directory's files by name.
    """
    plan = DownloadPlan(
        bucket=bucket, prefix=prefix, landing_dir=str(landing), from_date=from_date.isoformat()
    )
    records = list(register)
    by_key = {record["key"]: record for record in records if record.get("bucket") == bucket}
    by_path = {record["path"]: record for record in records}
    kept: list[S3Object] = []
    for listed in objects:
        plan.listed += 1
        name = landing_name(listed.key)
        if why_not_input(name) is not None:
            plan.not_tracking_logs += 1
            plan._example("not a tracking log", listed.key)
            continue
        day = date_in_name(name)
        if day is not None and day < from_date:
            plan.before_from_date += 1
            continue
        kept.append(listed)
    plan.kept = len(kept)

    by_loader_name: dict[str, list[S3Object]] = {}
    for listed in kept:
        by_loader_name.setdefault(tracking_file_name(listed.key), []).append(listed)
    for listed in kept:
        name = landing_name(listed.key)
        path = str(landing / name)
        peers = [other.key for other in by_loader_name[tracking_file_name(listed.key)] if other is not listed]
        owner = by_path.get(path)
        local = local_files.get(name)
        if peers:
            plan.refused.append({"key": listed.key, "reason": _collision(listed.key, peers)})
        elif local is not None and owner is not None and _owner_key(owner) != (bucket, listed.key):
            plan.refused.append({"key": listed.key, "reason": _held_by(name, owner)})
        elif (reason := _reason_to_download(listed, by_key.get(listed.key), path, local)) is None:
            plan.already_there += 1
        else:
            plan.to_download.append(
                {"key": listed.key, "name": name, "reason": reason, "size": listed.size, "etag": listed.etag}
            )
    return plan


def _reason_to_download(
    listed: S3Object, record: Mapping[str, Any] | None, path: str, local: LocalFile | None
) -> str | None:
    """Why ``listed`` is downloaded, or None when the register and the local file both say it is there."""
    if record is None:
        return NEW
    if record.get("etag") != listed.etag or record.get("size") != listed.size:
        return CHANGED
    if local is None:
        return LOCAL_FILE_MISSING
    if (
        record.get("path") != path
        or record.get("local_size") != local.size
        or record.get("local_mtime_ns") != local.mtime_ns
    ):
        return LOCAL_FILE_CHANGED
    return None


def _collision(key: str, peers: list[str]) -> str:
    name = landing_name(key)
    same = [peer for peer in peers if landing_name(peer) == name]
    if same:
        return f"would overwrite {', '.join(same)} in the landing directory (both land as {name}): none is downloaded"
    return (
        f"lands as a file the master load knows by the same name ({tracking_file_name(key)}) as "
        f"{', '.join(peers)}: none is downloaded"
    )


def _owner_key(record: Mapping[str, Any]) -> tuple[str | None, str]:
    return record.get("bucket"), record["key"]


def _held_by(name: str, owner: Mapping[str, Any]) -> str:
    when = owner.get("downloaded_at")
    registered = f"{when:%Y-%m-%d %H:%M} UTC" if isinstance(when, datetime) else "earlier"
    return (
        f"{name} in the landing directory holds s3://{owner.get('bucket')}/{owner['key']} "
        f"(registered {registered}): not overwritten"
    )


# ---------------------------------------------------------------- I/O


def register_collection(client: Any, database_name: str) -> Collection:
    """The register (``<master database>.s3_downloads``), with its indexes."""
    register = client[database_name][REGISTER_COLLECTION]
    register.create_index("bucket")
    register.create_index("landing_dir")
    return register


def register_records(register: Collection, bucket: str, landing: Path) -> list[dict[str, Any]]:
    """The records of ``bucket`` and those of files in ``landing`` (another bucket's downloads there)."""
    found: dict[str, dict[str, Any]] = {}
    for query in ({"bucket": bucket}, {"landing_dir": str(landing)}):
        for record in register.find(query):
            found[record["_id"]] = record
    return list(found.values())


def local_files(landing: Path) -> dict[str, LocalFile]:
    """The files of the landing directory, by name (hidden and errors files too: names are what collide)."""
    files = {}
    for path in landing.iterdir():
        if path.is_file():
            stat = path.stat()
            files[path.name] = LocalFile(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    return files


def landing_directory(landing: Path) -> Path:
    """The landing directory, absolute; FileNotFoundError when it does not exist (a missing mount is not created)."""
    landing = landing.expanduser().absolute()
    if not landing.is_dir():
        raise FileNotFoundError(f"landing directory {landing} does not exist")
    return landing


def plan_s3_download(
    store: S3Store,
    register: Collection,
    *,
    bucket: str,
    prefix: str,
    landing: Path,
    from_date: date,
    progress_every_seconds: float = 10.0,
) -> DownloadPlan:
    """List the bucket (page by page, progress logged) and plan the run against the register and the landing directory."""
    landing = landing_directory(landing)
    progress = Progress(
        f"s3://{bucket}/{prefix}", unit="keys", every_seconds=progress_every_seconds, logger=log
    )

    def listing() -> Iterator[S3Object]:
        for listed in store.list_objects(bucket, prefix):
            progress.advance()
            yield listed

    plan = plan_downloads(
        listing(),
        register_records(register, bucket, landing),
        local_files(landing),
        bucket=bucket,
        prefix=prefix,
        landing=landing,
        from_date=from_date,
    )
    progress.finish(f"{plan.kept} kept, {len(plan.to_download)} to download")
    return plan


@dataclass
class KeyDownload:
    """What became of one planned key: its outcome (new, changed, restored, already there, failed)."""

    key: str
    name: str
    reason: str
    outcome: str
    size: int = 0
    seconds: float = 0.0
    failure: str | None = None


def download_key(
    store: S3Store,
    register: Collection,
    *,
    bucket: str,
    key: str,
    landing: Path,
    reason: str,
    run_id: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),  # now-ok: downloaded_at is bookkeeping
) -> KeyDownload:
    """Download one key into the landing directory (atomically, see S3Store.download) and register it.

    When the local file already holds the object, nothing is transferred: *already there*,
    unless an earlier attempt of this same run downloaded it (then it counts as downloaded).
    """
    from analytics.stores.mongo import replace_document

    started = time.monotonic()
    name = landing_name(key)
    path = landing / name
    url = f"s3://{bucket}/{key}"
    previous = register.find_one({"_id": url}) or {}
    result = store.download(bucket, key, path)
    stat = path.stat()
    if result.downloaded:
        how, outcome, downloaded_at = DOWNLOADED, OUTCOME_OF_REASON[reason], clock()
    elif (
        previous.get("run_id") == run_id
        and previous.get("how") == DOWNLOADED
        and previous.get("etag") == result.object.etag
    ):
        how, outcome, downloaded_at = DOWNLOADED, OUTCOME_OF_REASON[reason], previous.get("downloaded_at")
    else:
        how, outcome, downloaded_at = FOUND_IN_PLACE, ALREADY_THERE, clock()
    replace_document(
        register,
        {
            "_id": url,
            "bucket": bucket,
            "key": key,
            "etag": result.object.etag,
            "size": result.object.size,
            "last_modified": result.object.last_modified,
            "landing_dir": str(landing),
            "name": name,
            "path": str(path),
            "local_size": stat.st_size,
            "local_mtime_ns": stat.st_mtime_ns,
            "how": how,
            "downloaded_at": downloaded_at,
            "run_id": run_id,
        },
    )
    return KeyDownload(key, name, reason, outcome, result.object.size, time.monotonic() - started)


@dataclass
class DownloadSummary:
    """A run's counts (listed, kept, new, changed, restored, already there, failed, refused) and its failures."""

    bucket: str
    prefix: str
    landing_dir: str
    from_date: str
    listed: int = 0
    not_tracking_logs: int = 0
    before_from_date: int = 0
    kept: int = 0
    new: int = 0
    changed: int = 0
    restored: int = 0
    already_there: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)  # key, reason
    refused: list[dict[str, str]] = field(default_factory=list)  # key, reason
    downloaded: list[str] = field(default_factory=list)  # the names now in the landing directory
    bytes_downloaded: int = 0
    seconds: float = 0.0

    @property
    def downloaded_count(self) -> int:
        return self.new + self.changed + self.restored

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, result: KeyDownload) -> None:
        if result.outcome == FAILED:
            self.failed.append({"key": result.key, "reason": result.failure or "unknown"})
            return
        if result.outcome == ALREADY_THERE:
            self.already_there += 1
            return
        setattr(self, result.outcome, getattr(self, result.outcome) + 1)
        self.downloaded.append(result.name)
        self.bytes_downloaded += result.size


def summary_line(summary: Mapping[str, Any]) -> str:
    """``s3://b/p -> /landing (from 2024-03-04): 7 listed, 5 kept, 2 new, ... 0 failed, 0 refused``."""
    return (
        f"s3://{summary['bucket']}/{summary['prefix']} -> {summary['landing_dir']} (from {summary['from_date']}): "
        f"{summary['listed']} listed, {summary['kept']} kept ({summary['before_from_date']} before from_date, "
        f"{summary['not_tracking_logs']} not tracking logs), {summary['new']} new, {summary['changed']} changed, "
        f"{summary['restored']} restored, {summary['already_there']} already there, "
        f"{len(summary['failed'])} failed, {len(summary['refused'])} refused"
    )


def download_planned(
    store: S3Store,
    register: Collection,
    plan: Mapping[str, Any],
    *,
    run_id: str,
    progress_every_seconds: float = 10.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),  # now-ok: downloaded_at is bookkeeping
) -> DownloadSummary:
    """Download the plan's keys one after the other; a key that fails is recorded with its reason and the rest go on."""
    landing = landing_directory(Path(plan["landing_dir"]))
    summary = DownloadSummary(
        bucket=plan["bucket"],
        prefix=plan["prefix"],
        landing_dir=str(landing),
        from_date=plan["from_date"],
        listed=plan["listed"],
        not_tracking_logs=plan["not_tracking_logs"],
        before_from_date=plan["before_from_date"],
        kept=plan["kept"],
        already_there=plan["already_there"],
        refused=list(plan["refused"]),
    )
    planned = plan["to_download"]
    progress = Progress(
        f"downloads to {landing}",
        total=len(planned),
        unit="files",
        every_seconds=progress_every_seconds,
        logger=log,
        extra=lambda: f"{summary.downloaded_count} downloaded, {len(summary.failed)} failed",
    )
    for entry in planned:
        try:
            result = download_key(
                store,
                register,
                bucket=plan["bucket"],
                key=entry["key"],
                landing=landing,
                reason=entry["reason"],
                run_id=run_id,
                clock=clock,
            )
        except Exception as error:  # one key fails alone; the next ones go on
            failure = f"{type(error).__name__}: {error}"
            log.error("s3://%s/%s (%s): failed: %s", plan["bucket"], entry["key"], entry["reason"], failure)
            result = KeyDownload(entry["key"], entry["name"], entry["reason"], FAILED, failure=failure)
        else:
            log.info("s3://%s/%s (%s): %s", plan["bucket"], entry["key"], entry["reason"], result.outcome)
        summary.add(result)
        progress.advance()
    summary.seconds = progress.finish(summary_line(summary.as_dict()))
    return summary
