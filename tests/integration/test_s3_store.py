"""The S3 store against the test stack's moto server (``AIRFLOW_CONN_AWS_DEFAULT``), no mocking.

Each test gets a fresh bucket. Objects the expectations depend on are written with a plain boto3
client from the same hook, not with the store under test, and their ETags are computed here
from the bytes. Failures in the middle of a transfer are made by wrapping the body of the real
GetObject responses (a botocore event handler on the store's own client), or by killing a
process that is downloading.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from analytics.stores.s3 import PARTIAL_SUFFIX, S3DownloadError, S3Store

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
PART_SIZE = 5 * MIB  # the smallest part S3 accepts
MULTIPART = {"multipart_threshold": PART_SIZE, "multipart_chunksize": PART_SIZE}


@pytest.fixture(scope="module", autouse=True)
def aws_connection() -> None:
    if not os.environ.get("AIRFLOW_CONN_AWS_DEFAULT"):
        pytest.fail("AIRFLOW_CONN_AWS_DEFAULT is not set: start the test stack with `make stack-test`")


@pytest.fixture
def client():
    """A boto3 client on the same connection, for setting up and looking at objects."""
    with S3Store() as admin:
        yield admin.hook.get_conn()


@pytest.fixture
def bucket(client) -> str:
    name = f"test-s3-store-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for entry in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=entry["Key"])
    client.delete_bucket(Bucket=name)


@pytest.fixture
def store() -> S3Store:
    with S3Store(transfer_config_args=MULTIPART) as store:
        yield store


def _requests(store: S3Store) -> list[str]:
    """The names of the S3 operations the store's client sends from now on."""
    sent: list[str] = []
    store.hook.get_conn().meta.events.register("before-call.s3", lambda model, **_: sent.append(model.name))
    return sent


class StreamBroken(Exception):
    """A failure in the middle of a body; not a network error, so boto3 does not retry it."""


class CutBody:
    """A GetObject body that passes its first ``passed`` bytes on, then fails or ends early."""

    def __init__(self, body, passed: int, ending: str) -> None:
        self.body, self.passed, self.ending, self.sent = body, passed, ending, 0

    def read(self, amount: int | None = None) -> bytes:
        if self.sent >= self.passed:
            if self.ending == "fail":
                raise StreamBroken(f"the stream broke after {self.sent} bytes")
            return b""
        left = self.passed - self.sent
        data = self.body.read(left if amount is None or amount < 0 else min(amount, left))
        self.sent += len(data)
        return data

    def __getattr__(self, name: str):
        return getattr(self.body, name)


def _cut_downloads(store: S3Store, passed: int, ending: str) -> list[CutBody]:
    bodies: list[CutBody] = []

    def cut(parsed, **_) -> None:
        bodies.append(CutBody(parsed["Body"], passed, ending))
        parsed["Body"] = bodies[-1]

    store.hook.get_conn().meta.events.register("after-call.s3.GetObject", cut)
    return bodies


def _leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(PARTIAL_SUFFIX))


def _upload_in_parts(client, bucket: str, key: str, path: Path) -> str:
    from boto3.s3.transfer import TransferConfig

    client.upload_file(str(path), bucket, key, Config=TransferConfig(**MULTIPART))
    return client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')


def test_importing_the_store_loads_neither_boto3_nor_the_hook() -> None:
    heavy = ("boto3", "botocore", "airflow.providers.amazon.aws.hooks.s3")
    code = (
        f"import sys; sys.path[:0] = [{str(REPO / 'plugins')!r}]; import analytics.stores.s3; "
        f"print(sorted(name for name in {heavy!r} if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- listing


def test_listing_pages_through_every_key_under_the_prefix(client, bucket: str) -> None:
    contents = {f"tracking/2024-03-{day:02d}.log.gz": f"day {day}\n".encode() * day for day in range(1, 24)}
    for key, body in {**contents, "tracking-old/2023.log.gz": b"x", "exports/a.csv": b"y"}.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)

    with S3Store(page_size=5) as store:
        sent = _requests(store)
        listed = list(store.list_objects(bucket, "tracking/"))
        pages = sent.count("ListObjectsV2")
        assert list(store.list_objects(bucket, "nothing/")) == []

    assert [(o.key, o.size, o.etag) for o in listed] == [
        (key, len(body), hashlib.md5(body).hexdigest()) for key, body in sorted(contents.items())
    ]
    assert pages == 5  # 23 keys, 5 a page
    assert all(isinstance(o.last_modified, datetime) and o.last_modified.tzinfo for o in listed)


# ---------------------------------------------------------------- downloads


def test_a_download_writes_the_object_and_a_rerun_downloads_nothing(
    client, bucket: str, store: S3Store, tmp_path: Path
) -> None:
    body = os.urandom(300_000)
    client.put_object(Bucket=bucket, Key="logs/a.log.gz", Body=body)
    target = tmp_path / "landing" / "a.log.gz"

    first = store.download(bucket, "logs/a.log.gz", target)
    assert first.downloaded and target.read_bytes() == body
    assert (first.object.size, first.object.etag) == (len(body), hashlib.md5(body).hexdigest())
    before = target.stat()

    sent = _requests(store)
    again = store.download(bucket, "logs/a.log.gz", target)
    assert not again.downloaded
    assert "GetObject" not in sent
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(path.name for path in target.parent.iterdir()) == ["a.log.gz"]


def test_a_local_file_of_the_same_size_but_other_content_is_downloaded_again(
    client, bucket: str, store: S3Store, tmp_path: Path
) -> None:
    body = b"the object's bytes\n" * 1000
    client.put_object(Bucket=bucket, Key="logs/a.log", Body=body)
    target = tmp_path / "a.log"
    target.write_bytes(body.replace(b"bytes", b"BYTES"))

    assert store.download(bucket, "logs/a.log", target).downloaded
    assert target.read_bytes() == body


def test_a_multipart_object_is_recognised_by_its_multipart_etag(
    client, bucket: str, store: S3Store, tmp_path: Path
) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(2 * PART_SIZE + 12345))
    etag = _upload_in_parts(client, bucket, "logs/big.bin", source)
    assert etag.endswith("-3")
    target = tmp_path / "landing" / "big.bin"

    assert store.download(bucket, "logs/big.bin", target).downloaded
    assert target.read_bytes() == source.read_bytes()
    sent = _requests(store)
    assert not store.download(bucket, "logs/big.bin", target).downloaded
    assert "GetObject" not in sent

    with open(target, "r+b") as file:  # one byte of the second part changes, the size does not
        file.seek(PART_SIZE + 10)
        file.write(bytes([source.read_bytes()[PART_SIZE + 10] ^ 0xFF]))
    assert store.download(bucket, "logs/big.bin", target).downloaded
    assert target.read_bytes() == source.read_bytes()


def test_a_missing_object_is_an_error_and_writes_nothing(bucket: str, store: S3Store, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        store.download(bucket, "logs/none.log", tmp_path / "none.log")
    assert list(tmp_path.iterdir()) == []


def test_a_stream_broken_halfway_keeps_the_previous_file_and_leaves_no_partial(
    client, bucket: str, store: S3Store, tmp_path: Path
) -> None:
    body = os.urandom(2 * MIB)
    client.put_object(Bucket=bucket, Key="logs/a.log.gz", Body=body)
    target = tmp_path / "a.log.gz"
    target.write_bytes(b"yesterday's copy")
    bodies = _cut_downloads(store, passed=MIB, ending="fail")

    with pytest.raises(StreamBroken):
        store.download(bucket, "logs/a.log.gz", target)

    assert [cut.sent for cut in bodies] == [MIB]  # it did break halfway through
    assert target.read_bytes() == b"yesterday's copy"
    assert _leftovers(tmp_path) == []


def test_a_short_body_is_refused_by_its_size(client, bucket: str, store: S3Store, tmp_path: Path) -> None:
    body = os.urandom(MIB)
    client.put_object(Bucket=bucket, Key="logs/a.log.gz", Body=body)
    _cut_downloads(store, passed=MIB // 2, ending="end")

    with pytest.raises(S3DownloadError, match=f"received {MIB // 2} bytes of {MIB}"):
        store.download(bucket, "logs/a.log.gz", tmp_path / "a.log.gz")
    assert list(tmp_path.iterdir()) == []


def test_an_object_replaced_during_the_download_is_refused(
    client, bucket: str, store: S3Store, tmp_path: Path
) -> None:
    client.put_object(Bucket=bucket, Key="logs/a.log.gz", Body=b"version 1\n" * 1000)

    def replace_it(**_) -> None:
        client.put_object(Bucket=bucket, Key="logs/a.log.gz", Body=b"version 2\n" * 1000)

    store.hook.get_conn().meta.events.register("after-call.s3.GetObject", replace_it)
    with pytest.raises(S3DownloadError, match="changed during the download"):
        store.download(bucket, "logs/a.log.gz", tmp_path / "a.log.gz")
    assert list(tmp_path.iterdir()) == []


KILLED_DOWNLOAD = """
import sys, time
from pathlib import Path
sys.path[:0] = [{plugins!r}]
from analytics.stores.s3 import S3Store

bucket, key, target, marker, passed = sys.argv[1:6]

class StallingBody:
    def __init__(self, body):
        self.body, self.sent = body, 0
    def read(self, amount=None):
        if self.sent >= int(passed):
            Path(marker).write_text(str(self.sent))
            time.sleep(120)
        data = self.body.read(min(amount or int(passed), int(passed) - self.sent))
        self.sent += len(data)
        return data
    def __getattr__(self, name):
        return getattr(self.body, name)

def stall(parsed, **_):
    parsed["Body"] = StallingBody(parsed["Body"])

store = S3Store()
store.hook.get_conn().meta.events.register("after-call.s3.GetObject", stall)
store.download(bucket, key, target)
"""


def test_a_killed_download_leaves_nothing_under_the_final_name_and_the_next_one_cleans_up(
    client, bucket: str, store: S3Store, tmp_path: Path
) -> None:
    body = os.urandom(2 * MIB)
    client.put_object(Bucket=bucket, Key="logs/a.log.gz", Body=body)
    landing, marker = tmp_path / "landing", tmp_path / "stalled"
    target = landing / "a.log.gz"
    script = textwrap.dedent(KILLED_DOWNLOAD).format(plugins=str(REPO / "plugins"))
    process = subprocess.Popen(
        [sys.executable, "-c", script, bucket, "logs/a.log.gz", str(target), str(marker), str(MIB)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), process.stderr.read().decode()[-2000:] if process.poll() is not None else ""
        # Halfway through: nothing under the final name, the data in one hidden partial file.
        assert not target.exists()
        partials = _leftovers(landing)
        assert len(partials) == 1 and partials[0].startswith(".a.log.gz.")  # hidden from *.log.gz globs
        assert (landing / partials[0]).stat().st_size == MIB
        # A second download meanwhile completes and leaves the running one's partial file alone.
        assert store.download(bucket, "logs/a.log.gz", target).downloaded
        assert target.read_bytes() == body
        assert _leftovers(landing) == partials
        process.send_signal(signal.SIGKILL)  # no cleanup can run
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()

    assert target.read_bytes() == body and _leftovers(landing) == partials
    assert not store.download(bucket, "logs/a.log.gz", target).downloaded  # nothing to fetch...
    assert _leftovers(landing) == []  # ...and the dead process's partial file is gone


def test_a_running_download_keeps_its_partial_file(
    client, bucket: str, store: S3Store, tmp_path: Path
) -> None:
    """Another download to the same path removes only partial files no live process holds."""
    import fcntl

    client.put_object(Bucket=bucket, Key="logs/a.log.gz", Body=b"abc")
    live = tmp_path / f".a.log.gz.running{PARTIAL_SUFFIX}"
    with open(live, "wb") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        assert store.download(bucket, "logs/a.log.gz", tmp_path / "a.log.gz").downloaded
        assert live.exists()


# ---------------------------------------------------------------- uploads


def test_an_upload_goes_in_parts_and_comes_back_identical(
    client, bucket: str, store: S3Store, tmp_path: Path
) -> None:
    source = tmp_path / "export.tsv"
    with open(source, "wb") as file:
        for row in range(260_000):
            file.write(f"{row}\tcourse-v1:DemoOrgX+DATA101x+2024_T1\t{row * 7 % 1000}\n".encode())
    sent = _requests(store)

    uploaded = store.upload(source, bucket, "exports/2024-03/export.tsv")

    assert "CreateMultipartUpload" in sent and sent.count("UploadPart") == 3
    assert uploaded.size == source.stat().st_size and uploaded.etag.endswith("-3")
    assert (
        client.head_object(Bucket=bucket, Key="exports/2024-03/export.tsv")["ContentLength"] == uploaded.size
    )
    copy = tmp_path / "back" / "export.tsv"
    assert store.download(bucket, "exports/2024-03/export.tsv", copy).downloaded
    assert copy.read_bytes() == source.read_bytes()
    assert [o.key for o in store.list_objects(bucket, "exports/")] == ["exports/2024-03/export.tsv"]


def test_an_upload_replaces_unless_told_not_to(client, bucket: str, store: S3Store, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("a,b\n1,2\n")
    store.upload(source, bucket, "exports/export.csv")
    source.write_text("a,b\n3,4\n")
    store.upload(source, bucket, "exports/export.csv")
    assert client.get_object(Bucket=bucket, Key="exports/export.csv")["Body"].read() == b"a,b\n3,4\n"

    source.write_text("a,b\n5,6\n")
    with pytest.raises(ValueError, match="already exists"):
        store.upload(source, bucket, "exports/export.csv", replace=False)
    assert client.get_object(Bucket=bucket, Key="exports/export.csv")["Body"].read() == b"a,b\n3,4\n"
