"""A full disk under the landing and export directories: a clear error naming the file, no partial file, the old files whole.

Each test mounts a real 64 KiB tmpfs (``mount -t tmpfs``, as root or through ``sudo -n``) and
fills it, so the kernel itself answers ``ENOSPC``; nothing is simulated. The writers are the
ones the DAGs use: ``core.files.write_atomically`` (the message export's files, the KPI report)
and ``S3Store.download`` (the tracking logs' landing directory).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from analytics.core.files import PARTIAL_SUFFIX, write_atomically, write_text_atomically
from analytics.messages.config import load_messages_config
from analytics.messages.engine import export_app
from analytics.messages.ranges import resolve_range
from analytics.stores.s3 import S3Store
from tests.messages_data import APP, load_platform

SIZE = "64k"


def _as_root(*command: str) -> list[str]:
    return list(command) if os.geteuid() == 0 else ["sudo", "-n", *command]


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A 64 KiB tmpfs mounted at a fresh directory, unmounted afterwards."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        _as_root("mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0777", "tmpfs", str(mount_point)),
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.fail(f"these tests mount a tmpfs and need root or passwordless sudo: {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(_as_root("umount", str(mount_point)), check=True)


def fill(directory: Path) -> None:
    """Write a filler file until the file system is full."""
    with open(directory / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC


def partials(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.name.endswith((PARTIAL_SUFFIX, ".tmp"))]


def test_a_write_on_a_full_disk_names_the_file_and_leaves_the_old_one_whole(small_disk):
    report = small_disk / "reports" / "course.html"
    write_text_atomically(report, "<p>last week's report</p>")
    fill(small_disk)
    with pytest.raises(OSError, match="No space left on device") as raised:
        write_atomically(report, [b"x" * 20_000, b"y" * 20_000])
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(report)
    assert str(report) in str(raised.value)
    assert report.read_text() == "<p>last week's report</p>"
    assert partials(small_disk) == []


def test_a_full_export_directory_fails_the_export_and_keeps_the_last_files(small_disk, mongo_database):
    load_platform(mongo_database)
    config = dataclasses.replace(load_messages_config(), local_dir=str(small_disk / "exports"))
    time_range = resolve_range("", "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z", None, None, "UTC")
    first = export_app(mongo_database, None, APP, time_range, config, personal=True)
    directory = Path(first.local_dir)
    before = {path.name: path.read_bytes() for path in directory.iterdir()}
    assert len(before) == 6
    fill(small_disk)
    with pytest.raises(OSError, match="No space left on device") as raised:
        export_app(mongo_database, None, APP, time_range, config, personal=True)
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(directory / "analytics.csv")  # the first file of the run
    assert {path.name: path.read_bytes() for path in directory.iterdir()} == before
    assert partials(small_disk) == []


@pytest.fixture
def s3_object():
    with S3Store() as store:
        client = store.hook.get_conn()
        bucket = f"test-disk-full-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="logs/tracking.log-20240301.gz", Body=os.urandom(200_000))
        yield store, bucket, "logs/tracking.log-20240301.gz"
        client.delete_object(Bucket=bucket, Key="logs/tracking.log-20240301.gz")
        client.delete_bucket(Bucket=bucket)


def test_a_download_into_a_full_landing_directory_names_the_object_and_the_path(small_disk, s3_object):
    store, bucket, key = s3_object
    landing = small_disk / "landing"
    target = landing / "tracking.log-20240301.gz"
    with pytest.raises(OSError, match="No space left on device") as raised:
        store.download(bucket, key, target)  # 200 kB into 64 KiB
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(target)
    assert f"s3://{bucket}/{key} not downloaded" in str(raised.value)
    assert not target.exists() and partials(small_disk) == []
