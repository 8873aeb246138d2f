"""The S3 download engine against the test stack's moto server and MongoDB wire server, no mocking.

Each test gets a fresh bucket, landing directory and register database. Objects are written with a
plain boto3 client, and expectations come from the bytes put there, never from the code under test.
Failures are made by wrapping the body of the real GetObject responses of one object (a botocore
event handler on the store's own client) or by deleting an object between the plan and the download.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import date
from pathlib import Path

import pytest

from analytics.edx.s3_download import (
    CHANGED,
    FOUND_IN_PLACE,
    LOCAL_FILE_CHANGED,
    LOCAL_FILE_MISSING,
    NEW,
    REGISTER_COLLECTION,
    download_planned,
    plan_s3_download,
    register_collection,
)
from analytics.stores.s3 import PARTIAL_SUFFIX, S3Store

FROM = date(2024, 3, 4)
LOGS = {
    "tracking/DemoOrgX-edx-events-2024-03-04.log.gz": os.urandom(20_000),
    "tracking/DemoOrgX-edx-events-2024-03-05.log.gz": os.urandom(30_000),
    "tracking/older/edx.log": b'{"event_type": "x"}\n' * 100,  # no date in the name: kept
}
LEFT_ALONE = {
    "tracking/DemoOrgX-edx-events-2024-03-01.log.gz": b"before from_date",
    "tracking/exports/report.csv": b"a,b\n",
}


@pytest.fixture(scope="module", autouse=True)
def aws_connection() -> None:
    if not os.environ.get("AIRFLOW_CONN_AWS_DEFAULT"):
        pytest.fail("AIRFLOW_CONN_AWS_DEFAULT is not set: start the test stack with `make stack-test`")


@pytest.fixture
def client():
    with S3Store() as admin:
        yield admin.hook.get_conn()


@pytest.fixture
def bucket(client) -> str:
    name = f"test-s3-log-download-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=name, Delete={"Objects": keys})
    client.delete_bucket(Bucket=name)


@pytest.fixture
def store() -> S3Store:
    with S3Store() as store:
        yield store


@pytest.fixture
def register(mongo_client, mongo_database):
    return register_collection(mongo_client, mongo_database.name)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    directory = tmp_path / "landing"
    directory.mkdir()
    return directory


def put(client, bucket: str, objects: dict[str, bytes]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:  # boto3 clients are thread-safe; 1,000 puts in a few seconds
        list(
            pool.map(
                lambda item: client.put_object(Bucket=bucket, Key=item[0], Body=item[1]), objects.items()
            )
        )


def run(store, register, bucket: str, landing: Path, *, run_id: str = "run_1", prefix: str = "tracking/"):
    """One run: the plan, then the downloads (as the DAG's two tasks do); returns both."""
    plan = plan_s3_download(store, register, bucket=bucket, prefix=prefix, landing=landing, from_date=FROM)
    return plan, download_planned(store, register, plan.as_dict(), run_id=run_id)


def requests_sent(store: S3Store) -> list[str]:
    """The names of the S3 operations the store's client sends from now on."""
    sent: list[str] = []
    store.hook.get_conn().meta.events.register("before-call.s3", lambda model, **_: sent.append(model.name))
    return sent


def landed(landing: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(landing.iterdir())}


def leftovers(landing: Path) -> list[str]:
    return sorted(path.name for path in landing.iterdir() if path.name.startswith("."))


def base(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def counts(summary) -> tuple[int, int, int, int, int]:
    return summary.new, summary.changed, summary.restored, summary.already_there, len(summary.failed)


# ---------------------------------------------------------------- first run, second run


def test_the_first_run_downloads_every_kept_key_and_the_second_none(client, bucket, store, register, landing):
    put(client, bucket, {**LOGS, **LEFT_ALONE})

    plan, first = run(store, register, bucket, landing)

    assert (first.listed, first.kept, first.before_from_date, first.not_tracking_logs) == (5, 3, 1, 1)
    assert counts(first) == (3, 0, 0, 0, 0)
    assert landed(landing) == {base(key): body for key, body in LOGS.items()}
    assert first.bytes_downloaded == sum(len(body) for body in LOGS.values())
    records = {record["key"]: record for record in register.find({})}
    assert sorted(records) == sorted(LOGS)
    for key, body in LOGS.items():
        record = records[key]
        assert record["_id"] == f"s3://{bucket}/{key}"
        assert (record["etag"], record["size"]) == (hashlib.md5(body).hexdigest(), len(body))
        assert record["path"] == str(landing / base(key)) and record["local_size"] == len(body)
        assert record["run_id"] == "run_1" and record["downloaded_at"] and record["last_modified"]
    before = {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in landing.iterdir()}

    sent = requests_sent(store)
    _, second = run(store, register, bucket, landing, run_id="run_2")

    assert counts(second) == (0, 0, 0, 3, 0) and second.downloaded == []
    assert sent == ["ListObjectsV2"]  # the register and the landing directory answered: no HEAD, no GET
    assert {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in landing.iterdir()} == before
    assert {record["run_id"] for record in register.find({})} == {"run_1"}


def test_a_changed_object_is_downloaded_again_and_only_it(client, bucket, store, register, landing):
    put(client, bucket, LOGS)
    run(store, register, bucket, landing)
    changed_key = "tracking/DemoOrgX-edx-events-2024-03-05.log.gz"
    put(client, bucket, {changed_key: b"a new version, rewritten late\n" * 50})

    plan, second = run(store, register, bucket, landing, run_id="run_2")

    assert [(entry["key"], entry["reason"]) for entry in plan.to_download] == [(changed_key, CHANGED)]
    assert counts(second) == (0, 1, 0, 2, 0) and second.downloaded == [base(changed_key)]
    assert (landing / base(changed_key)).read_bytes() == b"a new version, rewritten late\n" * 50
    record = register.find_one({"key": changed_key})
    assert record["run_id"] == "run_2" and record["size"] == 30 * 50


def test_more_than_a_thousand_keys_are_listed_page_by_page(client, bucket, store, register, landing):
    """1,000 old files fill the first listing page; the new ones are on the second."""
    old = {
        f"tracking/a-old/edx-events-2023-{1 + n // 28:02d}-{1 + n % 28:02d}-{n}.log": b"old"
        for n in range(336)
    }
    old |= {f"tracking/a-old/other-{n:04d}.csv": b"x" for n in range(664)}
    new = {f"tracking/z-new/edx-events-2024-03-{day:02d}.log": f"day {day}\n".encode() for day in range(4, 9)}
    assert len(old) == 1000
    put(client, bucket, {**old, **new})

    sent = requests_sent(store)
    plan, summary = run(store, register, bucket, landing)

    assert sent.count("ListObjectsV2") == 2
    assert (summary.listed, summary.before_from_date, summary.not_tracking_logs, summary.kept) == (
        1005,
        336,
        664,
        5,
    )
    assert counts(summary) == (5, 0, 0, 0, 0)
    assert landed(landing) == {base(key): body for key, body in new.items()}


# ---------------------------------------------------------------- the local file


def test_already_there_means_the_register_and_the_file_agree(client, bucket, store, register, landing):
    """The "skip if it exists" check: skipped only when the register names this version of the
    object and its file is in the landing directory as it was left; otherwise fetched again."""
    put(client, bucket, LOGS)
    run(store, register, bucket, landing)
    keys = list(LOGS)
    (landing / base(keys[0])).write_bytes(LOGS[keys[0]][:1000])  # truncated by someone
    (landing / base(keys[1])).unlink()  # deleted by someone

    plan, second = run(store, register, bucket, landing, run_id="run_2")

    assert {entry["key"]: entry["reason"] for entry in plan.to_download} == {
        keys[0]: LOCAL_FILE_CHANGED,
        keys[1]: LOCAL_FILE_MISSING,
    }
    assert counts(second) == (0, 0, 2, 1, 0)
    assert landed(landing) == {base(key): body for key, body in LOGS.items()}

    # Touched but identical: S3Store compares the bytes with the ETag and transfers nothing.
    path = landing / base(keys[2])
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    sent = requests_sent(store)
    _, third = run(store, register, bucket, landing, run_id="run_3")
    assert counts(third) == (0, 0, 0, 3, 0) and "GetObject" not in sent
    assert register.find_one({"key": keys[2]})["how"] == FOUND_IN_PLACE
    sent.clear()
    _, fourth = run(store, register, bucket, landing, run_id="run_4")  # and the register knows it now
    assert counts(fourth) == (0, 0, 0, 3, 0) and sent == ["ListObjectsV2"]


def test_a_deleted_local_file_comes_back(client, bucket, store, register, landing):
    put(client, bucket, LOGS)
    run(store, register, bucket, landing)
    gone = landing / "DemoOrgX-edx-events-2024-03-04.log.gz"
    gone.unlink()

    _, second = run(store, register, bucket, landing, run_id="run_2")

    assert counts(second) == (0, 0, 1, 2, 0) and second.downloaded == [gone.name]
    assert gone.read_bytes() == LOGS["tracking/DemoOrgX-edx-events-2024-03-04.log.gz"]


def test_a_lost_register_finds_the_files_in_place_without_fetching_them(
    client, bucket, store, register, landing
):
    put(client, bucket, LOGS)
    run(store, register, bucket, landing)
    register.delete_many({})

    sent = requests_sent(store)
    plan, second = run(store, register, bucket, landing, run_id="run_2")

    assert {entry["reason"] for entry in plan.to_download} == {NEW}
    assert counts(second) == (0, 0, 0, 3, 0) and "GetObject" not in sent
    assert {record["how"] for record in register.find({})} == {FOUND_IN_PLACE}


def test_a_retried_download_counts_what_its_earlier_attempt_downloaded(
    client, bucket, store, register, landing
):
    """The same plan run twice by one run (a retry after a crash) still reports the files as downloaded,
    so the run publishes its Asset event; another run finding them reports them as already there."""
    put(client, bucket, LOGS)
    plan = plan_s3_download(
        store, register, bucket=bucket, prefix="tracking/", landing=landing, from_date=FROM
    )
    download_planned(store, register, plan.as_dict(), run_id="run_1")

    again = download_planned(store, register, plan.as_dict(), run_id="run_1")
    other = download_planned(store, register, plan.as_dict(), run_id="run_2")

    assert counts(again) == (3, 0, 0, 0, 0) and sorted(again.downloaded) == sorted(map(base, LOGS))
    assert counts(other) == (0, 0, 0, 3, 0)


# ---------------------------------------------------------------- failures


def _cut_body_of(store: S3Store, body: bytes) -> list[int]:
    """Make the GetObject responses of the object holding ``body`` end halfway (a short read)."""
    cuts: list[int] = []
    etag = f'"{hashlib.md5(body).hexdigest()}"'

    class Short:
        def __init__(self, wrapped) -> None:
            self.wrapped, self.left = wrapped, len(body) // 2

        def read(self, amount=None):
            data = self.wrapped.read(min(self.left, amount if amount and amount > 0 else self.left))
            self.left -= len(data)
            return data

        def __getattr__(self, name):
            return getattr(self.wrapped, name)

    def cut(parsed, **_) -> None:
        if parsed.get("ETag") == etag:
            cuts.append(len(body))
            parsed["Body"] = Short(parsed["Body"])

    store.hook.get_conn().meta.events.register("after-call.s3.GetObject", cut)
    return cuts


def test_a_failed_key_fails_alone_and_leaves_nothing_under_its_name(client, bucket, store, register, landing):
    put(client, bucket, LOGS)
    failing = "tracking/DemoOrgX-edx-events-2024-03-04.log.gz"
    cuts = _cut_body_of(store, LOGS[failing])

    _, first = run(store, register, bucket, landing)

    assert cuts  # the failure did happen
    assert counts(first) == (2, 0, 0, 0, 1)
    assert first.failed[0]["key"] == failing
    assert (
        "S3DownloadError" in first.failed[0]["reason"]
        and "received 10000 bytes of 20000" in first.failed[0]["reason"]
    )
    assert sorted(landed(landing)) == sorted(base(key) for key in LOGS if key != failing)
    assert leftovers(landing) == []
    assert register.find_one({"key": failing}) is None  # the next run tries it again

    with S3Store() as healthy:
        _, second = run(healthy, register, bucket, landing, run_id="run_2")
    assert counts(second) == (1, 0, 0, 2, 0)
    assert (landing / base(failing)).read_bytes() == LOGS[failing]


def test_a_failed_new_version_keeps_the_previous_file_whole(client, bucket, store, register, landing):
    put(client, bucket, LOGS)
    run(store, register, bucket, landing)
    key = "tracking/DemoOrgX-edx-events-2024-03-05.log.gz"
    newer = os.urandom(40_000)
    put(client, bucket, {key: newer})
    _cut_body_of(store, newer)

    _, second = run(store, register, bucket, landing, run_id="run_2")

    assert counts(second) == (0, 0, 0, 2, 1)
    assert (landing / base(key)).read_bytes() == LOGS[key]  # yesterday's copy, whole
    assert leftovers(landing) == []
    assert register.find_one({"key": key})["etag"] == hashlib.md5(LOGS[key]).hexdigest()


def test_a_key_deleted_after_the_plan_fails_alone(client, bucket, store, register, landing):
    put(client, bucket, LOGS)
    plan = plan_s3_download(
        store, register, bucket=bucket, prefix="tracking/", landing=landing, from_date=FROM
    )
    gone = "tracking/DemoOrgX-edx-events-2024-03-04.log.gz"
    client.delete_object(Bucket=bucket, Key=gone)

    summary = download_planned(store, register, plan.as_dict(), run_id="run_1")

    assert counts(summary) == (2, 0, 0, 0, 1)
    assert summary.failed == [
        {"key": gone, "reason": f"FileNotFoundError: s3://{bucket}/{gone} does not exist"}
    ]
    assert not (landing / base(gone)).exists()


def test_keys_that_would_land_as_one_file_are_refused_and_the_others_downloaded(
    client, bucket, store, register, landing
):
    put(client, bucket, LOGS)
    put(client, bucket, {"tracking/copy/edx.log": b"another edx.log"})

    _, summary = run(store, register, bucket, landing)

    assert sorted(entry["key"] for entry in summary.refused) == [
        "tracking/copy/edx.log",
        "tracking/older/edx.log",
    ]
    assert counts(summary) == (2, 0, 0, 0, 0)
    assert "edx.log" not in landed(landing)


def test_the_landing_directory_must_exist(bucket, store, register, tmp_path):
    with pytest.raises(FileNotFoundError, match="landing directory .* does not exist"):
        plan_s3_download(store, register, bucket=bucket, prefix="", landing=tmp_path / "no", from_date=FROM)
    assert not (tmp_path / "no").exists()


def test_the_register_lives_in_its_collection(mongo_client, mongo_database):
    register = register_collection(mongo_client, mongo_database.name)
    assert register.full_name == f"{mongo_database.name}.{REGISTER_COLLECTION}"


def test_bytes_corrupted_in_transit_are_not_renamed_into_place(client, bucket, store, register, landing):
    body = os.urandom(50_000)
    put(client, bucket, {"tracking/edx-events-2024-03-04.log": body})

    class Flipped:
        def __init__(self, wrapped) -> None:
            self.wrapped, self.first = wrapped, True

        def read(self, amount=None):
            data = self.wrapped.read(amount)
            if data and self.first:
                self.first, data = False, bytes([data[0] ^ 0xFF]) + data[1:]
            return data

        def __getattr__(self, name):
            return getattr(self.wrapped, name)

    def flip(parsed, **_) -> None:
        parsed["Body"] = Flipped(parsed["Body"])

    store.hook.get_conn().meta.events.register("after-call.s3.GetObject", flip)
    _, summary = run(store, register, bucket, landing)

    assert len(summary.failed) == 1
    assert not (landing / "edx-events-2024-03-04.log").exists()
    assert [name for name in leftovers(landing) if name.endswith(PARTIAL_SUFFIX)] == []
